//! What the JSON step of `sigs.k8s.io/yaml` refuses in YAML that go-yaml
//! itself reads.
//!
//! Helm never uses a YAML value directly: it converts it to JSON first
//! (values files, Chart.yaml, `fromYaml`, the head of every rendered
//! manifest). JSON has no infinity or NaN and only string keys, so a
//! document holding `.inf` or a `~:` key parses as YAML yet fails the
//! render. These are the texts of those failures, in Go's formatting.

use driftless_render::yaml::{Value, format_float_go};

/// The Go name of the float a plain scalar spelled as YAML's infinity or
/// not-a-number reads as (go-yaml v2's spellings), for
/// `json: unsupported value: +Inf`.
pub(crate) fn non_finite(text: &str) -> Option<&'static str> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Some("+Inf"),
        "-.inf" | "-.Inf" | "-.INF" => Some("-Inf"),
        ".nan" | ".NaN" | ".NAN" => Some("NaN"),
        _ => None,
    }
}

/// Whether a plain scalar reads as null (go-yaml v2).
pub(crate) fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// The conversion's refusal of a value that is a non-finite float.
pub(crate) fn unsupported_value(go_name: &str) -> String {
    format!("json: unsupported value: {go_name}")
}

/// The conversion's refusal of a null mapping key, naming its value.
pub(crate) fn null_key(value: &Value) -> String {
    format!(
        "unsupported map key of type: %!s(<nil>), key: <nil>, value: {}",
        go_syntax(value, true)
    )
}

/// go-yaml's refusal of a collection as a mapping key.
pub(crate) fn invalid_key(key: &Value) -> String {
    format!("invalid map key: {}", go_syntax(key, true))
}

/// The JSON type a YAML value converts to, as Go's decoder names it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Map(_) => "object",
        Value::Seq(_) => "array",
        Value::Str(_) => "string",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Int(_) | Value::Float(_) => "number",
    }
}

/// Go's decoding error for a value of the wrong JSON type, `into` naming
/// the target (`Go value of type map[string]interface {}`, `Go struct
/// field .kind of type string`).
pub(crate) fn cannot_unmarshal(value: &Value, into: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into {into}",
        json_type(value)
    )
}

/// Go's `%#v` of the value go-yaml decodes into `interface{}`: a nil at
/// the top prints `<nil>`, inside a collection `interface {}(nil)`.
/// Numbers reached us as float64; Go holds whole ones as `int` and prints
/// them without an exponent.
fn go_syntax(value: &Value, top: bool) -> String {
    match value {
        Value::Null if top => "<nil>".to_string(),
        Value::Null => "interface {}(nil)".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "checked to be whole and in range"
        )]
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => (*f as i64).to_string(),
        Value::Float(f) => format_float_go(*f),
        Value::Str(s) => driftless_gotemplate::fmt::quote_go(s),
        Value::Seq(items) => {
            let items: Vec<String> = items.iter().map(|v| go_syntax(v, false)).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Map(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        driftless_gotemplate::fmt::quote_go(k),
                        go_syntax(v, false)
                    )
                })
                .collect();
            format!(
                "map[interface {{}}]interface {{}}{{{}}}",
                entries.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_render::yaml::Map;

    #[test]
    fn go_prints_the_values_it_refuses_in_its_own_syntax() {
        assert_eq!(
            null_key(&Value::Str("a".into())),
            r#"unsupported map key of type: %!s(<nil>), key: <nil>, value: "a""#
        );
        assert_eq!(
            null_key(&Value::Float(1.0)),
            "unsupported map key of type: %!s(<nil>), key: <nil>, value: 1"
        );
        assert_eq!(
            invalid_key(&Value::Seq(vec![Value::Str("a".into())])),
            r#"invalid map key: []interface {}{"a"}"#
        );
        let mut map = Map::new();
        map.insert("a".into(), Value::Str("b".into()));
        assert_eq!(
            invalid_key(&Value::Map(map)),
            r#"invalid map key: map[interface {}]interface {}{"a":"b"}"#
        );
        assert_eq!(non_finite("-.Inf"), Some("-Inf"));
        assert_eq!(non_finite(".infinity"), None);
    }
}
