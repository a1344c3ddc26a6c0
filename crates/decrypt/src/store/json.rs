//! JSON files (and binary files, which SOPS stores as JSON with the
//! content in `data`): one object, the metadata under `sops`. Written as
//! SOPS writes them: Go's `encoding/json` escaping, tab indentation, a
//! final newline.

use std::fmt::Write as _;

use driftless_render::yaml::{Map, Value, go_json_string};
use serde_json::Value as Json;

use super::{Body, Loaded, take_metadata};
use crate::error::DecryptError;

pub fn load(text: &str) -> Result<Loaded, DecryptError> {
    let json: Json = serde_json::from_str(text).map_err(|e| DecryptError::Parse {
        format: "JSON",
        message: e.to_string(),
    })?;
    if !json.is_object() {
        return Err(DecryptError::Parse {
            format: "JSON",
            message: "the document must be an object".into(),
        });
    }
    let mut documents = vec![from_json(json)];
    let metadata = take_metadata(&mut documents)?;
    Ok(Loaded {
        body: Body::Tree(documents),
        metadata,
    })
}

/// JSON as a tree: integers that fit an int64 stay integers, other
/// numbers are floats (as SOPS's `normalizeJSONNumber`).
pub fn from_json(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i128::from(i)),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s),
        Json::Array(items) => Value::Seq(items.into_iter().map(from_json).collect()),
        Json::Object(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| (k, from_json(v)))
                .collect::<Map>(),
        ),
    }
}

pub fn emit(document: &Value) -> String {
    let mut out = String::new();
    write_value(document, 0, &mut out);
    out.push('\n');
    out
}

fn indent(depth: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..depth {
        out.push('\t');
    }
}

fn write_value(value: &Value, depth: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&go_json_float(*f)),
        Value::Str(s) => go_json_string(s, out),
        Value::Seq(items) if items.is_empty() => out.push_str("[]"),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                write_value(item, depth + 1, out);
            }
            indent(depth, out);
            out.push(']');
        }
        Value::Map(map) if map.is_empty() => out.push_str("{}"),
        Value::Map(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(depth + 1, out);
                go_json_string(key, out);
                out.push_str(": ");
                write_value(item, depth + 1, out);
            }
            indent(depth, out);
            out.push('}');
        }
    }
}

/// Go's `encoding/json` float: plain digits between 1e-6 and 1e21,
/// otherwise an exponent without leading zeros (`1e-07` → `1e-7`).
fn go_json_float(f: f64) -> String {
    let magnitude = f.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        return format!("{f}");
    }
    let formatted = format!("{f:e}");
    match formatted.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            format!("{mantissa}e+{exponent}")
        }
        Some((mantissa, exponent)) => format!("{mantissa}e{exponent}"),
        None => formatted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_like_go_json_indent() {
        let doc = from_json(serde_json::json!({"b": [1, 2.5, "<x>"], "a": {}, "c": true}));
        assert_eq!(
            emit(&doc),
            "{\n\t\"b\": [\n\t\t1,\n\t\t2.5,\n\t\t\"\\u003cx\\u003e\"\n\t],\n\t\"a\": {},\n\t\"c\": true\n}\n"
        );
        assert_eq!(go_json_float(1e21), "1e+21");
        assert_eq!(go_json_float(1e-7), "1e-7");
        assert_eq!(go_json_float(0.5), "0.5");
    }
}
