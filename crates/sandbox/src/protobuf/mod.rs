//! Decoding of Kubernetes protobuf request bodies for the few kinds that
//! clients send that way: kubectl's generator commands (`kubectl create
//! namespace`, `configmap`, `secret`, `serviceaccount`, `deployment`,
//! `role`, `clusterrole`, `rolebinding`, `clusterrolebinding`, `token`),
//! `kubectl auth can-i`'s access and rules reviews, and the
//! `DeleteOptions` of client-go's typed clients (Helm's release store
//! deletes its Secrets so). Everything else must come as JSON or YAML; a
//! protobuf body of another kind gets 415.
//!
//! Why by hand: a full protobuf binding of the Kubernetes API is a large
//! generated dependency, while these kinds need a dozen fields. Each message
//! is a table of (field number, JSON name, kind); an unknown field is an
//! error, never silently dropped.

mod messages;

use base64::Engine;
use serde_json::{Map, Value};

use messages::{UNKNOWN, schema_for};

/// The bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, Copy)]
enum Kind {
    String,
    Bytes,
    Bool,
    Int,
    Message(&'static [Field]),
    /// `map<string, V>`, encoded as repeated entries {1: key, 2: value}.
    Map(&'static Kind),
}

#[derive(Clone, Copy)]
struct Field {
    number: u64,
    name: &'static str,
    kind: Kind,
    repeated: bool,
    /// A pointer field in Go: sent only when set, so zero is a value and kept.
    optional: bool,
}

const fn field(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        optional: false,
    }
}

const fn optional(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: false,
        optional: true,
    }
}

const fn repeated(number: u64, name: &'static str, kind: Kind) -> Field {
    Field {
        number,
        name,
        kind,
        repeated: true,
        optional: false,
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.bytes.split_first().ok_or("truncated varint")?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("truncated field".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn length_delimited(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.varint()?).map_err(|_| "length too large")?;
        self.take(len)
    }
}

fn decode_scalar(
    kind: Kind,
    wire_type: u64,
    reader: &mut Reader<'_>,
    field_name: &str,
) -> Result<Value, String> {
    let wrong = || format!("field {field_name} has an unexpected wire type {wire_type}");
    match kind {
        Kind::String => {
            if wire_type != 2 {
                return Err(wrong());
            }
            let bytes = reader.length_delimited()?;
            String::from_utf8(bytes.to_vec())
                .map(Value::String)
                .map_err(|_| format!("field {field_name} is not UTF-8"))
        }
        Kind::Bytes => {
            if wire_type != 2 {
                return Err(wrong());
            }
            let bytes = reader.length_delimited()?;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ))
        }
        Kind::Bool => {
            if wire_type != 0 {
                return Err(wrong());
            }
            Ok(Value::Bool(reader.varint()? != 0))
        }
        Kind::Int => {
            if wire_type != 0 {
                return Err(wrong());
            }
            Ok(Value::from(reader.varint()? as i64))
        }
        Kind::Message(fields) => {
            if wire_type != 2 {
                return Err(wrong());
            }
            decode_message(reader.length_delimited()?, fields)
        }
        Kind::Map(_) => Err(format!("field {field_name}: nested maps are not supported")),
    }
}

fn decode_message(bytes: &[u8], fields: &[Field]) -> Result<Value, String> {
    let mut reader = Reader { bytes };
    let mut out = Map::new();
    while !reader.bytes.is_empty() {
        let tag = reader.varint()?;
        let (number, wire_type) = (tag >> 3, tag & 7);
        let spec = fields
            .iter()
            .find(|f| f.number == number)
            .ok_or_else(|| format!("protobuf field {number} is not supported here"))?;
        match spec.kind {
            Kind::Map(value_kind) => {
                if wire_type != 2 {
                    return Err(format!(
                        "field {} has an unexpected wire type {wire_type}",
                        spec.name
                    ));
                }
                let entry_fields = [
                    field(1, "key", Kind::String),
                    field(2, "value", *value_kind),
                ];
                let entry = decode_message(reader.length_delimited()?, &entry_fields)?;
                let key = entry
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let value = entry.get("value").cloned().unwrap_or(match value_kind {
                    Kind::Bool => Value::Bool(false),
                    _ => Value::String(String::new()),
                });
                if let Value::Object(entries) = out
                    .entry(spec.name)
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    entries.insert(key, value);
                }
            }
            kind => {
                let value = decode_scalar(kind, wire_type, &mut reader, spec.name)?;
                if is_empty_default(&value) && !spec.repeated && !spec.optional {
                    continue;
                }
                if spec.repeated {
                    if let Value::Array(items) = out
                        .entry(spec.name)
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        items.push(value);
                    }
                } else {
                    out.insert(spec.name.to_string(), value);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Go's encoder writes every optional field, even unset ones; JSON leaves
/// those out, and so do we.
fn is_empty_default(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Decodes a protobuf body into the JSON object it stands for. The error
/// says which kind or field is not supported, for a 415 answer.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf prefix")?;
    let unknown = decode_message(envelope, UNKNOWN)?;
    let api_version = unknown
        .pointer("/typeMeta/apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = unknown
        .pointer("/typeMeta/kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let fields = schema_for(api_version, kind).ok_or_else(|| {
        format!("protobuf bodies are accepted for v1 Namespace, ConfigMap, Secret, ServiceAccount and DeleteOptions, apps/v1 Deployment, the RBAC kinds, access reviews and TokenRequest only, not {api_version} {kind}; send JSON or YAML")
    })?;
    let raw = unknown
        .get("raw")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|e| format!("cannot decode the raw object: {e}"))?;
    let mut object = decode_message(&raw, fields).map_err(|e| format!("{kind}: {e}"))?;
    object["apiVersion"] = Value::String(api_version.to_string());
    object["kind"] = Value::String(kind.to_string());
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn map_entry(number: u64, key: &str, value: &str, out: &mut Vec<u8>) {
        let mut entry = Vec::new();
        bytes_field(1, key.as_bytes(), &mut entry);
        bytes_field(2, value.as_bytes(), &mut entry);
        bytes_field(number, &entry, out);
    }

    fn envelope(kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = Vec::new();
        bytes_field(1, b"v1", &mut type_meta);
        bytes_field(2, kind.as_bytes(), &mut type_meta);
        let mut body = MAGIC.to_vec();
        bytes_field(1, &type_meta, &mut body);
        bytes_field(2, raw, &mut body);
        body
    }

    #[test]
    fn decodes_a_config_map_as_kubectl_sends_it() {
        let mut meta = Vec::new();
        bytes_field(1, b"settings", &mut meta);
        map_entry(11, "app", "web", &mut meta);
        let mut raw = Vec::new();
        bytes_field(1, &meta, &mut raw);
        map_entry(2, "mode", "fast", &mut raw);
        map_entry(3, "blob", "\u{1}", &mut raw);
        let object = decode(&envelope("ConfigMap", &raw)).expect("decodes");
        assert_eq!(
            object,
            json!({
                "metadata": {"name": "settings", "labels": {"app": "web"}},
                "data": {"mode": "fast"},
                "binaryData": {"blob": "AQ=="},
                "apiVersion": "v1",
                "kind": "ConfigMap",
            })
        );
    }

    #[test]
    fn decodes_the_empty_delete_options_helm_sends() {
        // Captured from `helm uninstall`: an empty v1 DeleteOptions.
        let body = b"k8s\0\x0a\x13\x0a\x02v1\x12\x0dDeleteOptions\x12\x00\x1a\x00\x22\x00";
        assert_eq!(body.len(), 31);
        let object = decode(body).expect("decodes");
        assert_eq!(object, json!({"apiVersion": "v1", "kind": "DeleteOptions"}));
    }

    #[test]
    fn decodes_delete_options_with_policy_preconditions_and_dry_run() {
        let mut preconditions = Vec::new();
        bytes_field(1, b"uid-1", &mut preconditions);
        let mut raw = Vec::new();
        bytes_field(2, &preconditions, &mut raw);
        bytes_field(4, b"Foreground", &mut raw);
        bytes_field(5, b"All", &mut raw);
        let object = decode(&envelope("DeleteOptions", &raw)).expect("decodes");
        assert_eq!(
            object,
            json!({
                "preconditions": {"uid": "uid-1"},
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
                "apiVersion": "v1",
                "kind": "DeleteOptions",
            })
        );
    }

    #[test]
    fn other_kinds_and_unknown_fields_are_refused() {
        let err = decode(&envelope("Pod", &[])).expect_err("unsupported kind");
        assert!(err.contains("not v1 Pod"), "{err}");
        let mut raw = Vec::new();
        bytes_field(9, b"x", &mut raw);
        let err = decode(&envelope("Namespace", &raw)).expect_err("unknown field");
        assert!(err.contains("field 9"), "{err}");
        assert!(decode(b"{}").is_err());
    }
}
