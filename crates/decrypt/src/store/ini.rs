//! INI files: `[section]` headers and `key = value` lines, the metadata
//! as flattened keys of a `[sops]` section (newlines escaped as `\n`).
//! Each value's tree path is its section and key.

use driftless_render::yaml::{Map, Value};

use super::{Body, Loaded};
use crate::error::DecryptError;
use crate::metadata::Metadata;

/// The section go-ini puts keys before any header in.
const DEFAULT_SECTION: &str = "DEFAULT";

pub fn load(text: &str) -> Result<Loaded, DecryptError> {
    let mut sections = Map::new();
    let mut current = DEFAULT_SECTION.to_owned();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            sections
                .entry(current.clone())
                .or_insert_with(|| Value::Map(Map::new()));
            continue;
        }
        let at = line.find(['=', ':']).ok_or_else(|| DecryptError::Parse {
            format: "INI",
            message: format!("line {} is neither a section nor a key", number + 1),
        })?;
        let key = line[..at].trim().to_owned();
        let value = unquote(line[at + 1..].trim()).to_owned();
        let section = sections
            .entry(current.clone())
            .or_insert_with(|| Value::Map(Map::new()));
        if let Some(map) = section.as_map_mut() {
            map.insert(key, Value::Str(value));
        }
    }
    let Some(Value::Map(sops)) = sections.shift_remove("sops") else {
        return Err(DecryptError::NoMetadata);
    };
    if matches!(sections.get(DEFAULT_SECTION), Some(Value::Map(m)) if m.is_empty()) {
        sections.shift_remove(DEFAULT_SECTION);
    }
    let entries: Vec<(String, String)> = sops
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.scalar_string().unwrap_or_default().replace("\\n", "\n"),
            )
        })
        .collect();
    let metadata = Metadata::from_flat(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(Loaded {
        body: Body::Ini(sections),
        metadata,
    })
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

pub fn emit(sections: &Map) -> String {
    let mut out = String::new();
    for (name, section) in sections {
        if !out.is_empty() {
            out.push('\n');
        }
        if name != DEFAULT_SECTION {
            out.push('[');
            out.push_str(name);
            out.push_str("]\n");
        }
        if let Some(map) = section.as_map() {
            // go-ini aligns the `=` of a section's keys.
            let width = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
            for (key, value) in map {
                out.push_str(key);
                for _ in key.chars().count()..width {
                    out.push(' ');
                }
                out.push_str(" = ");
                out.push_str(&value.scalar_string().unwrap_or_default());
                out.push('\n');
            }
        }
    }
    out
}
