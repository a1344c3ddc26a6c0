//! `toToml` and `fromToml` as Helm has them (BurntSushi/toml v1): the
//! encoder writes a table's plain keys sorted, then its sub-tables as
//! `[a.b]` headers indented two spaces per level, maps inside arrays as
//! inline tables, floats as Go's shortest `%g` with a `.0` when that has
//! neither point nor exponent; a value that is not a table is written as
//! a bare value. The decoder gives int64 integers and float64 floats, and
//! on failure a map with an `Error` key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use driftless_gotemplate::Value;

/// What the encoder refuses at the top: an array of tables has no key to
/// name it.
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";

/// `toToml`: the encoder's text, or its error message (Sprig returns it
/// as the result).
///
/// # Errors
/// A nil value, which makes Go's encoder fail outright (a failed call in
/// Helm, not an error text).
pub fn to_toml(v: &Value) -> Result<String, String> {
    let v = &unnamed(v);
    let text = match v {
        Value::Nil => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Map(m) => {
            let mut out = String::new();
            write_table(&mut out, &[], &m.snapshot()).map(|()| out)
        }
        _ if is_table_array(v) => Err(NO_KEY.to_string()),
        _ => scalar(v).map(Option::unwrap_or_default),
    };
    Ok(text.unwrap_or_else(|e| e))
}

/// `v` with Helm's named maps (`common.Values`) as the plain maps the
/// encoder's reflection sees through them.
fn unnamed(v: &Value) -> Value {
    match &*v.collection() {
        Value::Map(m) if !m.has_string_values() => Value::map(
            m.snapshot()
                .iter()
                .map(|(k, item)| (k.clone(), unnamed(item)))
                .collect(),
        ),
        Value::List(l) if !l.is_nil() => Value::list(l.items().iter().map(unnamed).collect()),
        other => other.clone(),
    }
}

fn quote_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar(v: &Value) -> Result<Option<String>, String> {
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => {
            if f.is_nan() {
                "nan".into()
            } else if f.is_infinite() {
                if *f > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            } else {
                let s = driftless_render::yaml::format_float_go(*f);
                if s.contains('.') || s.contains('e') {
                    s
                } else {
                    format!("{s}.0")
                }
            }
        }
        Value::String(s) => quote(s),
        // The encoder leaves out a nil slice as it does nil.
        Value::List(l) if l.is_nil() => return Ok(None),
        Value::List(l) => {
            let mut parts = Vec::new();
            for item in l.items() {
                match scalar(item)? {
                    Some(s) => parts.push(s),
                    None => return Err("toml: cannot encode array with nil element".into()),
                }
            }
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m) => inline_table(&m.snapshot())?,
        other => other
            .as_str()
            .map(quote)
            .ok_or_else(|| format!("toml: unsupported type: {}", other.type_name()))?,
    }))
}

/// A map inside an array: `{a = 1, b = {c = 2}}`, plain keys sorted before
/// tables and arrays of tables, nil values left out.
fn inline_table(entries: &[(String, Value)]) -> Result<String, String> {
    let mut parts = Vec::new();
    for tables in [false, true] {
        for (k, v) in entries {
            if (is_table(v) || is_table_array(v)) != tables {
                continue;
            }
            if let Some(s) = scalar(v)? {
                parts.push(format!("{} = {s}", quote_key(k)));
            }
        }
    }
    Ok(format!("{{{}}}", parts.join(", ")))
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn is_table_array(v: &Value) -> bool {
    matches!(v, Value::List(l) if !l.is_empty() && l.items().iter().all(is_table))
}

/// The encoder writes a line break before a top-level table's header and
/// before every element of an array of tables (a blank line, or none at
/// the very start), never before a nested table's header.
fn line_break_before(out: &mut String) {
    if !out.is_empty() {
        out.push('\n');
    }
}

fn write_table(
    out: &mut String,
    path: &[String],
    entries: &[(String, Value)],
) -> Result<(), String> {
    let indent = "  ".repeat(path.len());
    for (k, v) in entries {
        if is_table(v) || is_table_array(v) {
            continue;
        }
        if let Some(s) = scalar(v)? {
            let _ = writeln!(out, "{indent}{} = {s}", quote_key(k));
        }
    }
    for (k, v) in entries {
        let mut sub = path.to_vec();
        sub.push(k.clone());
        let header: Vec<String> = sub.iter().map(|p| quote_key(p)).collect();
        let sub_indent = "  ".repeat(sub.len() - 1);
        match v {
            Value::Map(m) => {
                if sub.len() == 1 {
                    line_break_before(out);
                }
                let _ = writeln!(out, "{sub_indent}[{}]", header.join("."));
                write_table(out, &sub, &m.snapshot())?;
            }
            Value::List(l) if is_table_array(v) => {
                for item in l.items() {
                    if let Value::Map(m) = item {
                        line_break_before(out);
                        let _ = writeln!(out, "{sub_indent}[[{}]]", header.join("."));
                        write_table(out, &sub, &m.snapshot())?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `fromToml`: the document as a map, or `{Error: message}`.
#[must_use]
pub fn from_toml(text: &str) -> Value {
    match text.parse::<::toml::Value>() {
        Ok(::toml::Value::Table(t)) => table(&t),
        Ok(_) => error("toml: top level must be a table"),
        Err(e) => error(&format!("toml: {e}")),
    }
}

fn error(message: &str) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::string(message));
    Value::map(m)
}

fn table(t: &::toml::value::Table) -> Value {
    Value::map(t.iter().map(|(k, v)| (k.clone(), convert(v))).collect())
}

fn convert(v: &::toml::Value) -> Value {
    match v {
        ::toml::Value::String(s) => Value::string(s.as_str()),
        ::toml::Value::Integer(i) => Value::Int64(*i),
        ::toml::Value::Float(f) => Value::Float(*f),
        ::toml::Value::Boolean(b) => Value::Bool(*b),
        ::toml::Value::Datetime(d) => Value::string(d.to_string()),
        ::toml::Value::Array(items) => Value::list(items.iter().map(convert).collect()),
        ::toml::Value::Table(t) => table(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = from_toml("a = 1\nb = \"x\"\n[t]\nc = 1.5\n[t.u]\nd = true\n");
        assert_eq!(
            to_toml(&v).unwrap(),
            "a = 1\nb = \"x\"\n\n[t]\n  c = 1.5\n  [t.u]\n    d = true\n"
        );
        let Value::Map(m) = from_toml("a = ") else {
            panic!("a map")
        };
        assert!(m.get("Error").is_some());
    }
}
