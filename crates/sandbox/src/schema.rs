//! What kube-apiserver does to a custom resource with its CRD's structural
//! `openAPIV3Schema` on every write: prune unknown fields, apply defaults,
//! and validate types, required fields, enums, patterns and bounds.
//!
//! Owns only that walk over one object; the caller decides what an unknown
//! field means (`fieldValidation=Strict` turns pruning into a 400). Why it
//! matters: Flux's CRDs rely on defaults (`timeout: 60s`,
//! `status.observedGeneration: -1`) and enums, and a typed client must never
//! read an object a real server would have refused.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// One field the schema rejects: its path (`spec.interval`) and the message.
pub type Cause = (String, String);

/// The outcome of [`apply`]: unknown fields that were pruned, and fields that are invalid.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub pruned: Vec<String>,
    pub invalid: Vec<Cause>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

/// Prunes, defaults and validates `object` in place against `schema`.
/// At the root, `apiVersion`, `kind` and `metadata` belong to the server.
pub fn apply(schema: &Value, object: &mut Value) -> Report {
    let mut report = Report::default();
    if let Some(map) = object.as_object_mut() {
        walk_object(schema, map, "", true, &mut report);
    }
    report
}

fn walk_object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    root: bool,
    report: &mut Report,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    if let Some(properties) = properties {
        for (key, property) in properties {
            if !map.contains_key(key)
                && let Some(default) = property.get("default")
            {
                map.insert(key.clone(), default.clone());
            }
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_path = join(path, &key);
        let child_schema = properties.and_then(|p| p.get(&key)).or(additional);
        match child_schema {
            Some(child_schema) => {
                if let Some(value) = map.get_mut(&key) {
                    walk(child_schema, value, &child_path, report);
                }
            }
            None if preserves_unknown(schema) => {}
            None => {
                map.remove(&key);
                report.pruned.push(child_path);
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                report
                    .invalid
                    .push((join(path, name), "Required value".into()));
            }
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The value as the API server quotes it in messages.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

static PATTERN_CACHE: LazyLock<std::sync::Mutex<std::collections::HashMap<String, Option<Regex>>>> =
    LazyLock::new(Default::default);

fn pattern_matches(pattern: &str, text: &str) -> bool {
    let mut cache = PATTERN_CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let regex = cache
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok());
    // A pattern our regex engine cannot read is not held against the object.
    regex.as_ref().is_none_or(|r| r.is_match(text))
}

fn walk(schema: &Value, value: &mut Value, path: &str, report: &mut Report) {
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true)
            && schema.get("type").is_some()
        {
            report.invalid.push((
                path.to_string(),
                format!(
                    "Invalid value: \"null\": {path} in body must be of type {}: \"null\"",
                    schema["type"].as_str().unwrap_or("object")
                ),
            ));
        }
        return;
    }
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true);
    if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !int_or_string
    {
        let actual = type_name(value);
        let fits = actual == expected || (expected == "number" && actual == "integer");
        if !fits {
            report.invalid.push((
                path.to_string(),
                format!(
                    "Invalid value: {}: {path} in body must be of type {expected}: \"{actual}\"",
                    shown(value)
                ),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let supported: Vec<String> = options.iter().map(shown).collect();
        report.invalid.push((
            path.to_string(),
            format!(
                "Unsupported value: {}: supported values: {}",
                shown(value),
                supported.join(", ")
            ),
        ));
    }
    match value {
        Value::String(text) => {
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                && !pattern_matches(pattern, text)
            {
                report.invalid.push((
                    path.to_string(),
                    format!("Invalid value: {text:?}: {path} in body should match '{pattern}'"),
                ));
            }
            let length = text.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
                && length > max
            {
                report.invalid.push((
                    path.to_string(),
                    format!("Too long: may not be more than {max} bytes"),
                ));
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                && length < min
            {
                report.invalid.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {text:?}: {path} in body should be at least {min} chars long"
                    ),
                ));
            }
        }
        Value::Number(n) => {
            let number = n.as_f64().unwrap_or_default();
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                && number < min
            {
                report.invalid.push((
                    path.to_string(),
                    format!("Invalid value: {n}: {path} in body should be greater than or equal to {min}"),
                ));
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                && number > max
            {
                report.invalid.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {n}: {path} in body should be less than or equal to {max}"
                    ),
                ));
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                report.invalid.push((
                    path.to_string(),
                    format!("Too many: {}: must have at most {max} items", items.len()),
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    walk(item_schema, item, &format!("{path}[{index}]"), report);
                }
            }
        }
        Value::Object(map) => {
            let embedded = schema
                .get("x-kubernetes-embedded-resource")
                .and_then(Value::as_bool)
                == Some(true);
            if schema.get("properties").is_some() || schema.get("additionalProperties").is_some() {
                walk_object(schema, map, path, embedded, report);
            } else if !preserves_unknown(schema)
                && schema.get("type").and_then(Value::as_str) == Some("object")
            {
                // An object schema with no properties keeps nothing.
                let pruned: Vec<String> = map.keys().map(|k| join(path, k)).collect();
                map.clear();
                report.pruned.extend(pruned);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["url", "interval"],
                    "properties": {
                        "url": {"type": "string", "pattern": "^(http|https|ssh)://.*$"},
                        "interval": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"},
                        "timeout": {"type": "string", "default": "60s"},
                        "provider": {"type": "string", "enum": ["generic", "github"]},
                        "replicas": {"type": "integer", "minimum": 0},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                    }
                },
                "status": {"type": "object", "default": {"observedGeneration": -1},
                           "properties": {"observedGeneration": {"type": "integer"}}}
            }
        })
    }

    #[test]
    fn defaults_fill_missing_fields_where_the_parent_exists() {
        let mut object = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "extra": 1},
            "spec": {"url": "https://h", "interval": "1m"}});
        let report = apply(&schema(), &mut object);
        assert_eq!(report, Report::default());
        assert_eq!(object["spec"]["timeout"], "60s");
        assert_eq!(object["status"]["observedGeneration"], -1);
        assert_eq!(
            object["metadata"]["extra"], 1,
            "metadata is the server's, not the schema's"
        );
    }

    #[test]
    fn unknown_fields_are_pruned_except_where_preserved() {
        let mut object = json!({"spec": {"url": "https://h", "interval": "1m", "bogus": true,
            "raw": {"anything": [1]}, "labels": {"a": "b"}, "items": [{"name": "x", "extra": 1}]}});
        let report = apply(&schema(), &mut object);
        assert_eq!(report.pruned, ["spec.bogus", "spec.items[0].extra"]);
        assert!(object["spec"].get("bogus").is_none());
        assert_eq!(object["spec"]["raw"]["anything"], json!([1]));
        assert_eq!(object["spec"]["labels"]["a"], "b");
    }

    #[test]
    fn invalid_fields_are_reported_in_kubernetes_wording() {
        let mut object =
            json!({"spec": {"interval": "5 minutes", "provider": "gitlab", "replicas": "two"}});
        let report = apply(&schema(), &mut object);
        assert_eq!(
            report.invalid,
            vec![
                (
                    "spec.interval".to_string(),
                    "Invalid value: \"5 minutes\": spec.interval in body should match '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'"
                        .to_string()
                ),
                (
                    "spec.provider".to_string(),
                    "Unsupported value: \"gitlab\": supported values: \"generic\", \"github\"".to_string()
                ),
                (
                    "spec.replicas".to_string(),
                    "Invalid value: \"two\": spec.replicas in body must be of type integer: \"string\"".to_string()
                ),
                ("spec.url".to_string(), "Required value".to_string()),
            ]
        );
    }

    #[test]
    fn numbers_respect_their_bounds() {
        let mut object = json!({"spec": {"url": "https://h", "interval": "1m", "replicas": -1}});
        let report = apply(&schema(), &mut object);
        assert_eq!(report.invalid.len(), 1);
        assert!(
            report.invalid[0].1.contains("greater than or equal to 0"),
            "{:?}",
            report.invalid
        );
    }
}
