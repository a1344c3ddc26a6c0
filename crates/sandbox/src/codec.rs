//! Request bodies: JSON, or YAML where Kubernetes accepts it (apply
//! patches, `application/yaml` writes). YAML is read with YAML 1.2 booleans,
//! as the API server does: `on` and `y` stay strings.

use serde_json::Value;

/// Parses a body that may be JSON or YAML into a JSON value.
pub fn parse_yaml_or_json(body: &[u8]) -> Result<Value, String> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Ok(value);
    }
    let options = serde_saphyr::options! { strict_booleans: true };
    serde_saphyr::from_slice_with_options::<Value>(body, options).map_err(|e| e.to_string())
}

/// Parses a write body by its content type.
pub fn parse_body(content_type: &str, body: &[u8]) -> Result<Value, String> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/yaml" => parse_yaml_or_json(body),
        _ => serde_json::from_slice(body).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_keeps_yaml11_words_as_strings() {
        let v = parse_yaml_or_json(b"a: on\nb: true\nc: \"1\"\nd: 2\n").expect("yaml");
        assert_eq!(v, json!({"a": "on", "b": true, "c": "1", "d": 2}));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(parse_body("application/json", b"{\"a\":").is_err());
        assert!(parse_yaml_or_json(b"a: [1, 2").is_err());
    }
}
