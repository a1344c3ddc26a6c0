//! Values as Helm combines them: user values (`-f` files merged in order,
//! then `--set-json`, `--set`, `--set-string`, `--set-file`) coalesced over
//! each chart's defaults, subchart defaults under the subchart's name,
//! `global` copied down, `null` deleting a default.
//!
//! Go maps have no order, so neither do these semantics; the `IndexMap`
//! order here is never observable (every printer sorts keys). The walk
//! over a chart tree, with Helm's sharing of global tables, is in
//! [`coalesce`](crate::coalesce).

use driftless_render::yaml::{Map, Value};

use crate::error::ChartError;

pub use crate::coalesce::{coalesce_values, merge_values};

/// The key under which globals travel.
pub const GLOBAL_KEY: &str = "global";

/// Where user values come from, in the order Helm applies them.
#[derive(Debug, Default, Clone)]
pub struct ValueSources {
    /// `-f` files' contents with the name to report on errors.
    pub files: Vec<(String, String)>,
    /// `--set-json` arguments.
    pub json: Vec<String>,
    /// `--set` arguments.
    pub set: Vec<String>,
    /// `--set-string` arguments.
    pub set_string: Vec<String>,
    /// `--set-file` arguments (`key=path`).
    pub set_file: Vec<String>,
    /// `--set-literal` arguments.
    pub set_literal: Vec<String>,
}

impl ValueSources {
    /// Merges every source into one values map as `helm template` does;
    /// `read_file` reads the files `--set-file` names (the caller decides
    /// what may be read, never a chart).
    ///
    /// # Errors
    /// A values file that is not YAML, or a malformed `--set*` argument.
    pub fn merge(
        &self,
        read_file: &mut dyn FnMut(&str) -> Result<String, String>,
    ) -> Result<Map, ChartError> {
        let mut base = Map::new();
        for (name, text) in &self.files {
            let current = load_values(text).map_err(|message| ChartError::Values {
                source_name: format!("failed to parse {name}"),
                message,
            })?;
            base = merge_maps(base, current);
        }
        for arg in &self.json {
            let trimmed = arg.trim();
            if trimmed.starts_with('{') {
                let parsed: serde_json::Value =
                    serde_json::from_str(trimmed).map_err(|e| ChartError::Values {
                        source_name: format!("failed parsing --set-json data JSON: {arg}"),
                        message: e.to_string(),
                    })?;
                match from_json(&parsed) {
                    Value::Map(m) => base = merge_maps(base, m),
                    _ => return Err(set_error("--set-json", arg, "not a JSON object")),
                }
            } else {
                crate::strvals::parse_set_json(arg, &mut base)
                    .map_err(|e| set_error("--set-json", arg, &e))?;
            }
        }
        for arg in &self.set {
            crate::strvals::parse_set(arg, &mut base).map_err(|e| set_error("--set", arg, &e))?;
        }
        for arg in &self.set_string {
            crate::strvals::parse_set_string(arg, &mut base)
                .map_err(|e| set_error("--set-string", arg, &e))?;
        }
        for arg in &self.set_file {
            crate::strvals::parse_set_file(arg, &mut base, read_file)
                .map_err(|e| set_error("--set-file", arg, &e))?;
        }
        for arg in &self.set_literal {
            crate::strvals::parse_set_literal(arg, &mut base)
                .map_err(|e| set_error("--set-literal", arg, &e))?;
        }
        Ok(base)
    }
}

/// Helm's `failed parsing --set data: <why>`, naming the argument after.
fn set_error(flag: &str, arg: &str, message: &str) -> ChartError {
    ChartError::Values {
        source_name: format!("failed parsing {flag} data"),
        message: format!("{message} (in {flag} {arg})"),
    }
}

/// Reads a values file: every YAML document, merged in order (Helm's
/// `LoadValues`).
///
/// # Errors
/// The YAML error, or a document that is not a mapping.
pub fn load_values(text: &str) -> Result<Map, String> {
    let mut values = Map::new();
    // Helm reads values files line by line (apimachinery's YAML reader),
    // which ends the last line with a break if the file did not.
    let text: std::borrow::Cow<'_, str> = if text.is_empty() || text.ends_with('\n') {
        text.into()
    } else {
        format!("{text}\n").into()
    };
    let docs = crate::yaml::parse_stream(&text)
        .map_err(|e| format!("cannot unmarshal yaml document: {e}"))?;
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Map(m) => values = merge_maps(values, m),
            other => {
                return Err(format!(
                    "cannot unmarshal yaml document: {}",
                    crate::json_step::cannot_unmarshal(
                        &other,
                        "Go value of type map[string]interface {}"
                    )
                ));
            }
        }
    }
    Ok(values)
}

/// Helm's `MergeMaps`: `b` over `a`, maps merged recursively, anything else
/// replaced.
#[must_use]
pub fn merge_maps(mut a: Map, b: Map) -> Map {
    for (k, v) in b {
        match (a.get_mut(&k), v) {
            (Some(Value::Map(existing)), Value::Map(incoming)) => {
                let merged = merge_maps(std::mem::take(existing), incoming);
                *existing = merged;
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

/// A JSON value as Go's `encoding/json` decodes it into `interface{}`:
/// every number a float64.
#[must_use]
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Seq(items.iter().map(from_json).collect()),
        serde_json::Value::Object(m) => {
            Value::Map(m.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// `src` under `dst` (Helm's `coalesceTablesFullKey`): `dst` wins, tables
/// merge, a `null` in `dst` deletes what `src` had unless `merge`.
pub fn coalesce_tables(dst: &mut Map, mut src: Map, merge: bool) {
    let originally_set: Vec<String> = src
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    for (key, value) in dst.iter() {
        if value.is_null() {
            src.insert(key.clone(), Value::Null);
        }
    }
    for (key, value) in src {
        match dst.get_mut(&key) {
            Some(Value::Null) if !merge && originally_set.contains(&key) => {
                dst.shift_remove(&key);
            }
            None => {
                dst.insert(key, value);
            }
            Some(Value::Map(dst_table)) => {
                if let Value::Map(src_table) = value {
                    coalesce_tables(dst_table, src_table, merge);
                }
            }
            Some(_) => {}
        }
    }
}

/// A table at a dotted path (`Values.Table`): `a.b` must name mappings all
/// the way down.
#[must_use]
pub fn table_at<'a>(values: &'a Map, path: &str) -> Option<&'a Map> {
    let mut current = values;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        current = current.get(part)?.as_map()?;
    }
    Some(current)
}

/// A value at a dotted path (`Values.PathValue`): the last element may be
/// anything.
#[must_use]
pub fn path_value<'a>(values: &'a Map, path: &str) -> Option<&'a Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (table_at(values, p)?, l),
        None => (values, path),
    };
    parent.get(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_render::yaml::emit_document;

    fn map(text: &str) -> Map {
        load_values(text).unwrap()
    }

    #[test]
    fn user_values_win_tables_merge_null_deletes() {
        let mut dst = map("a: 1\nb:\n  x: 1\nc: null\n");
        coalesce_tables(&mut dst, map("a: 2\nb:\n  w: 2\nc: 3\nd: 4\n"), false);
        assert_eq!(
            emit_document(&Value::Map(dst)),
            "a: 1\nb:\n  w: 2\n  x: 1\nd: 4\n"
        );
    }

    #[test]
    fn merge_keeps_nulls() {
        let mut dst = map("c: null\n");
        coalesce_tables(&mut dst, map("c: 3\n"), true);
        assert_eq!(dst["c"], Value::Null);
    }

    #[test]
    fn merge_maps_replaces_non_tables() {
        let merged = merge_maps(map("a: {x: 1}\nb: [1]\n"), map("a: {w: 2}\nb: 3\n"));
        assert_eq!(
            emit_document(&Value::Map(merged)),
            "a:\n  w: 2\n  x: 1\nb: 3\n"
        );
    }

    #[test]
    fn multi_document_values_files_merge() {
        assert_eq!(
            emit_document(&Value::Map(map("a: {x: 1}\n---\na: {w: 2}\n"))),
            "a:\n  w: 2\n  x: 1\n"
        );
    }

    #[test]
    fn paths() {
        let m = map("a:\n  b:\n    c: true\n");
        assert_eq!(path_value(&m, "a.b.c"), Some(&Value::Bool(true)));
        assert!(path_value(&m, "a.x.c").is_none());
        assert!(table_at(&m, "a.b").is_some());
    }
}
