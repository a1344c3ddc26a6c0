//! dotenv files: `KEY=value` lines (`\n` escapes a newline), `#` comments,
//! the metadata as flattened `sops_…` keys.

use driftless_render::yaml::{Map, Value};

use super::{Body, Loaded};
use crate::error::DecryptError;
use crate::metadata::Metadata;
use crate::tree::Walk;

/// One line of a dotenv file.
pub enum Line {
    /// `#text`.
    Comment(String),
    /// `key=value`.
    Pair(String, Value),
}

const METADATA_PREFIX: &str = "sops_";

pub fn load(text: &str) -> Result<Loaded, DecryptError> {
    let mut lines = Vec::new();
    let mut metadata = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            lines.push(Line::Comment(comment.to_owned()));
            continue;
        }
        let (key, value) = line.split_once('=').ok_or_else(|| DecryptError::Parse {
            format: "dotenv",
            message: format!("a line has no '=' (after {} entries)", lines.len()),
        })?;
        let value = value.replace("\\n", "\n");
        match key.strip_prefix(METADATA_PREFIX) {
            Some(meta) => metadata.push((meta.to_owned(), value)),
            None => lines.push(Line::Pair(key.to_owned(), Value::Str(value))),
        }
    }
    if metadata.is_empty() {
        return Err(DecryptError::NoMetadata);
    }
    let metadata = Metadata::from_flat(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(Loaded {
        body: Body::Dotenv(lines),
        metadata,
    })
}

pub fn decrypt(lines: &mut [Line], walk: &mut Walk<'_>) -> Result<(), DecryptError> {
    for line in lines {
        match line {
            Line::Comment(text) => walk.comment(text, &[]),
            Line::Pair(key, value) => walk.leaf(value, std::slice::from_ref(key))?,
        }
    }
    Ok(())
}

pub fn emit(lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        match line {
            Line::Comment(text) => {
                out.push('#');
                out.push_str(text);
            }
            Line::Pair(key, value) => {
                out.push_str(key);
                out.push('=');
                match value {
                    Value::Str(s) => out.push_str(&s.replace('\n', "\\n")),
                    other => out.push_str(&other.scalar_string().unwrap_or_default()),
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The pairs as one flat mapping (for writing them in another format).
pub fn to_map(lines: Vec<Line>) -> Value {
    Value::Map(
        lines
            .into_iter()
            .filter_map(|line| match line {
                Line::Pair(key, value) => Some((key, value)),
                Line::Comment(_) => None,
            })
            .collect::<Map>(),
    )
}

/// A flat mapping as dotenv lines; nested values cannot be written.
pub fn from_map(map: Map) -> Result<Vec<Line>, DecryptError> {
    map.into_iter()
        .map(|(key, value)| match value {
            Value::Map(_) | Value::Seq(_) => Err(DecryptError::Emit {
                format: "dotenv",
                message: format!("the value of {key:?} is not a scalar"),
            }),
            value => Ok(Line::Pair(key, value)),
        })
        .collect()
}
