//! The content hash Kustomize appends to generated ConfigMap and Secret
//! names: SHA-256 of a small JSON encoding, first 10 hex digits, with some
//! digits swapped for letters so the suffix never reads as a number.

use crate::yaml::{Value, go_json_string};

/// The `-xxxxxxxxxx` suffix for a ConfigMap or Secret.
pub fn name_hash(obj: &Value) -> String {
    let kind = obj.str_at(&["kind"]).unwrap_or("");
    // Kustomize v5 leaves the name out of the encoding (it hashes "").
    let name = "";
    let mut fields: Vec<(&str, String)> = Vec::new();
    let string_map = |key: &str| -> String {
        if obj
            .get(key)
            .and_then(Value::as_map)
            .is_none_or(indexmap::IndexMap::is_empty)
        {
            return "\"\"".to_string();
        }
        let mut s = String::from("{");
        if let Some(m) = obj.get(key).and_then(Value::as_map) {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                go_json_string(k, &mut s);
                s.push(':');
                let v = m[k.as_str()].scalar_string().unwrap_or_default();
                go_json_string(&v, &mut s);
            }
        }
        s.push('}');
        s
    };
    if kind == "Secret" {
        fields.push(("data", string_map("data")));
        fields.push(("kind", json_str(kind)));
        fields.push(("name", json_str(name)));
        fields.push(("type", json_str(obj.str_at(&["type"]).unwrap_or(""))));
    } else {
        if obj
            .get("binaryData")
            .and_then(Value::as_map)
            .is_some_and(|m| !m.is_empty())
        {
            fields.push(("binaryData", string_map("binaryData")));
        }
        fields.push(("data", string_map("data")));
        fields.push(("kind", json_str(kind)));
        fields.push(("name", json_str(name)));
    }
    if let Some(Value::Bool(b)) = obj.get("immutable") {
        fields.push(("immutable", b.to_string()));
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut enc = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            enc.push(',');
        }
        go_json_string(k, &mut enc);
        enc.push(':');
        enc.push_str(v);
    }
    enc.push('}');
    use sha2::Digest as _;
    let hex = hex::encode(sha2::Sha256::digest(enc.as_bytes()));
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

fn json_str(s: &str) -> String {
    let mut o = String::new();
    go_json_string(s, &mut o);
    o
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Base64 read as leniently as Kustomize's generators read it: characters
/// outside the alphabet (line breaks, padding) are skipped and incomplete
/// trailing bits dropped.
pub fn base64_lenient(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut cleaned: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .collect();
    // A lone sixth-bit group carries no whole byte.
    if cleaned.len() % 4 == 1 {
        cleaned.pop();
    }
    LENIENT.decode(cleaned).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_skips_what_is_not_base64() {
        assert_eq!(base64_lenient("aGVs\nbG8="), b"hello");
        assert_eq!(base64_lenient("aGVsbG8"), b"hello");
        assert_eq!(
            base64_lenient("aGVsbG8=x").len(),
            6,
            "the stray bits make a sixth byte"
        );
        assert_eq!(base64(b"hello"), "aGVsbG8=");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"apple"), "YXBwbGU=");
        assert_eq!(base64(b"everest"), "ZXZlcmVzdA==");
    }
}
