//! JSON as Go's `encoding/json` writes and reads it, for Sprig's and
//! Helm's JSON functions.
//!
//! Go sorts map keys, escapes `<`, `>` and `&` as `\u003c`... unless HTML
//! escaping is off (`toRawJson`), always escapes U+2028/U+2029, writes
//! floats in `'f'` form between 1e-6 and 1e21 and `'e'` form (`1e-7`,
//! `1e+21`) outside, and reads every number as a float64.

use std::fmt::Write as _;

use crate::value::Value;

/// Which of Go's encoders to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStyle {
    /// `json.Marshal`.
    Compact,
    /// `json.MarshalIndent(v, "", "  ")`.
    Pretty,
    /// An encoder with `SetEscapeHTML(false)`, trailing newline trimmed.
    Raw,
}

/// Encodes `value` as Go would; `Err` carries Go's message for
/// unsupported values (NaN, infinities).
///
/// # Errors
/// `json: unsupported value: NaN` and the like.
pub fn encode(value: &Value, style: JsonStyle) -> Result<String, String> {
    let mut out = String::new();
    write_value(&mut out, value, style, 0)?;
    Ok(out)
}

/// Decodes JSON text the way `json.Unmarshal` into `interface{}` does.
///
/// # Errors
/// The parser's message when the text is not JSON.
pub fn decode(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Err("unexpected end of JSON input".to_owned());
    }
    serde_json::from_str::<serde_json::Value>(text)
        .map(|json| Value::from_json(&json))
        .map_err(|e| e.to_string())
}

/// Go's float layout in JSON.
pub(crate) fn format_json_float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        let shown = crate::fmt::format_float(f, 'g', None);
        return Err(format!("json: unsupported value: {shown}"));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = crate::fmt::format_float(f, 'e', None);
        // Go trims one leading zero of a negative exponent: e-07 -> e-7.
        if let Some(at) = text.find("e-0") {
            return Ok(format!("{}e-{}", &text[..at], &text[at + 3..]));
        }
        return Ok(text);
    }
    Ok(crate::fmt::format_float(f, 'f', None))
}

fn write_string(out: &mut String, text: &str, escape_html: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn newline(out: &mut String, style: JsonStyle, depth: usize) {
    if style == JsonStyle::Pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

fn write_value(
    out: &mut String,
    value: &Value,
    style: JsonStyle,
    depth: usize,
) -> Result<(), String> {
    if depth > crate::fmt::MAX_DEPTH {
        return Err(format!(
            "json: unsupported value: encountered a cycle via {}",
            value.type_name()
        ));
    }
    let escape_html = style != JsonStyle::Raw;
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_json_float(*f)?),
        Value::String(s) => write_string(out, s, escape_html),
        Value::Raw(raw) => write_string(out, raw.runes(), escape_html),
        Value::Bytes(b) => write_string(out, &super::encoding::base64_std(b), escape_html),
        Value::List(list) if list.is_nil() => out.push_str("null"),
        Value::List(list) => {
            if list.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in list.items().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                write_value(out, item, style, depth + 1)?;
            }
            newline(out, style, depth);
            out.push(']');
        }
        Value::Map(map) if map.is_nil() => out.push_str("null"),
        Value::Map(map) => write_fields(out, &map.snapshot(), style, depth)?,
        // A named map or slice marshals as its collection (keeping int64s
        // exact, which a trip through JSON numbers would not).
        Value::Object(object) => match object.as_collection() {
            Some(collection) => write_value(out, &collection, style, depth)?,
            None => write_struct(out, &object.to_json(), style, depth)?,
        },
    }
    Ok(())
}

/// An object's JSON form: a struct marshals its fields (and its struct
/// fields theirs) in declaration order, which `to_json` keeps.
fn write_struct(
    out: &mut String,
    json: &serde_json::Value,
    style: JsonStyle,
    depth: usize,
) -> Result<(), String> {
    match json {
        serde_json::Value::Object(fields) => write_object(
            out,
            fields.iter().map(|(key, field)| (key.as_str(), field)),
            style,
            depth,
            write_struct,
        ),
        other => write_value(out, &Value::from_json(other), style, depth),
    }
}

/// A JSON object of `fields` in the order given.
fn write_fields(
    out: &mut String,
    fields: &[(String, Value)],
    style: JsonStyle,
    depth: usize,
) -> Result<(), String> {
    write_object(
        out,
        fields.iter().map(|(key, item)| (key.as_str(), item)),
        style,
        depth,
        write_value,
    )
}

/// A JSON object of `fields` in the order given, each item written by
/// `write_item`.
fn write_object<'a, T: 'a>(
    out: &mut String,
    fields: impl ExactSizeIterator<Item = (&'a str, &'a T)>,
    style: JsonStyle,
    depth: usize,
    write_item: fn(&mut String, &T, JsonStyle, usize) -> Result<(), String>,
) -> Result<(), String> {
    if fields.len() == 0 {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (i, (key, item)) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, style, depth + 1);
        write_string(out, key, style != JsonStyle::Raw);
        out.push(':');
        if style == JsonStyle::Pretty {
            out.push(' ');
        }
        write_item(out, item, style, depth + 1)?;
    }
    newline(out, style, depth);
    out.push('}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_go() {
        let value =
            Value::from(&serde_json::json!({"b": [1, 2.5, 1e6, 1e21, 1e-7], "a": "<&>\u{2028}"}));
        assert_eq!(
            encode(&value, JsonStyle::Compact).as_deref(),
            Ok(r#"{"a":"\u003c\u0026\u003e\u2028","b":[1,2.5,1000000,1e+21,1e-7]}"#)
        );
        assert_eq!(
            encode(&value, JsonStyle::Raw).as_deref(),
            Ok(r#"{"a":"<&>\u2028","b":[1,2.5,1000000,1e+21,1e-7]}"#)
        );
        let nested = Value::from(&serde_json::json!({"a": {"b": []}, "c": {}}));
        assert_eq!(
            encode(&nested, JsonStyle::Pretty).as_deref(),
            Ok("{\n  \"a\": {\n    \"b\": []\n  },\n  \"c\": {}\n}")
        );
        assert!(encode(&Value::Float(f64::NAN), JsonStyle::Compact).is_err());
    }
}
