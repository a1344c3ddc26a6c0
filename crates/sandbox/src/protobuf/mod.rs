//! Decoding of Kubernetes protobuf request bodies into the JSON objects the
//! store keeps, for what clients built on client-go send that way: every
//! kind a `kubectl create` generator makes (namespace, configmap, secret,
//! serviceaccount, deployment, job, cronjob, role, rolebinding,
//! clusterrole, clusterrolebinding, service, ingress, poddisruptionbudget,
//! priorityclass, quota, token — the TokenRequest), `kubectl autoscale`'s autoscaling/v2 and v1
//! HorizontalPodAutoscaler, `kubectl auth can-i`'s access and rules reviews, subject access reviews,
//! and the `DeleteOptions` of typed clients (Helm's release store deletes
//! its Secrets so). Anything else must come as JSON or YAML; a protobuf
//! body of another kind gets 415 naming the kind.
//!
//! Why by hand: the generated binding (`k8s-pb`, prost types for every
//! kind) has no JSON side, so each kind would still need a conversion to
//! the objects the store keeps, with Go's JSON names, inline fields,
//! quantities and int-or-strings. A table per message is that conversion
//! and the binding in one. Each message is a table of (field number, JSON
//! name, kind), numbered as the upstream `generated.proto` files number
//! them; an unknown field is an error, never silently dropped. Go's
//! encoder writes every non-pointer field, so the tables list those even
//! where clients leave them empty.

mod cluster;
mod messages;
mod pod;
mod rbac;
mod workloads;

use base64::Engine;
use serde_json::{Map, Value};

use messages::{INT_OR_STRING, QUANTITY, UNKNOWN, schema_for};

/// The bytes every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

#[derive(Clone, Copy)]
enum Kind {
    String,
    Bytes,
    Bool,
    Int,
    /// `resource.Quantity`: a message holding one string (field 1), a plain
    /// string in JSON (`"500m"`).
    Quantity,
    /// `intstr.IntOrString`: {1: type (0 int, 1 string), 2: intVal,
    /// 3: strVal}, a number or a string in JSON.
    IntOrString,
    Message(&'static [Field]),
    /// A message whose fields JSON shows in its parent (Go's
    /// `json:",inline"`), such as an Ingress rule's `ingressRuleValue`.
    Inline(&'static [Field]),
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
        Kind::Quantity => {
            if wire_type != 2 {
                return Err(wrong());
            }
            let quantity = decode_message(reader.length_delimited()?, QUANTITY)?;
            Ok(quantity
                .get("string")
                .cloned()
                .unwrap_or_else(|| Value::String(String::new())))
        }
        Kind::IntOrString => {
            if wire_type != 2 {
                return Err(wrong());
            }
            let value = decode_message(reader.length_delimited()?, INT_OR_STRING)?;
            if value.get("type").and_then(Value::as_i64) == Some(1) {
                Ok(value
                    .get("strVal")
                    .cloned()
                    .unwrap_or_else(|| Value::String(String::new())))
            } else {
                Ok(value
                    .get("intVal")
                    .cloned()
                    .unwrap_or_else(|| Value::from(0)))
            }
        }
        Kind::Map(_) | Kind::Inline(_) => Err(format!(
            "field {field_name}: a map or inline message cannot nest here"
        )),
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
            Kind::Inline(inline_fields) => {
                if wire_type != 2 {
                    return Err(format!(
                        "field {} has an unexpected wire type {wire_type}",
                        spec.name
                    ));
                }
                if let Value::Object(inner) =
                    decode_message(reader.length_delimited()?, inline_fields)?
                {
                    out.extend(inner);
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
        format!("the sandbox reads protobuf bodies of the kinds kubectl's generators, access reviews, TokenRequests and DeleteOptions use, not {api_version} {kind}; send JSON or YAML")
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

    // The bodies under testdata/ are what `kubectl create` (1.32 and 1.37
    // send the same bytes) sent the sandbox, captured as they arrived.

    #[test]
    fn decodes_an_ingress_with_inline_rules_and_named_ports() {
        // kubectl create ingress ing -n team --class=nginx --annotation=a=b
        //   --rule=foo.com/bar=svc1:8080,tls=my-cert --rule=/path*=svc2:http
        //   --default-backend=defsvc:80
        let object = decode(include_bytes!("testdata/ingress.pb")).expect("decodes");
        let backend = |name: &str, port: Value| json!({"service": {"name": name, "port": port}});
        assert_eq!(
            object,
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "ing", "namespace": "team", "annotations": {"a": "b"}},
                "spec": {
                    "ingressClassName": "nginx",
                    "defaultBackend": backend("defsvc", json!({"number": 80})),
                    "tls": [{"hosts": ["foo.com"], "secretName": "my-cert"}],
                    "rules": [
                        {"host": "foo.com", "http": {"paths": [{"path": "/bar", "pathType": "Exact",
                            "backend": backend("svc1", json!({"number": 8080}))}]}},
                        {"http": {"paths": [{"path": "/path", "pathType": "Prefix",
                            "backend": backend("svc2", json!({"name": "http"}))}]}},
                    ],
                },
            })
        );
    }

    #[test]
    fn decodes_quantities_and_int_or_strings() {
        // kubectl create quota q -n team --scopes=BestEffort
        //   --hard=cpu=1,memory=1G,pods=2,services.nodeports=0
        let quota = decode(include_bytes!("testdata/quota.pb")).expect("decodes");
        assert_eq!(
            quota["spec"],
            json!({"hard": {"cpu": "1", "memory": "1G", "pods": "2", "services.nodeports": "0"},
                   "scopes": ["BestEffort"]})
        );
        // kubectl create pdb pdb -n team --selector=app=x --min-available=50%
        let pdb = decode(include_bytes!("testdata/pdb.pb")).expect("decodes");
        assert_eq!(
            pdb["spec"],
            json!({"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}})
        );
        assert!(
            pdb.get("status").is_none(),
            "Go's zero counts are left out: {pdb}"
        );
    }

    #[test]
    fn decodes_a_role_binding_keeping_empty_strings_in_lists() {
        // kubectl create rolebinding rb -n team --role=r --user=alice
        //   --group=devs --serviceaccount=team:bot
        let object = decode(include_bytes!("testdata/rolebinding.pb")).expect("decodes");
        assert_eq!(
            object["subjects"],
            json!([
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"},
                {"kind": "ServiceAccount", "name": "bot", "namespace": "team"},
            ])
        );
        assert_eq!(
            object["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"})
        );
    }

    #[test]
    fn an_int_or_string_zero_is_kept_where_the_field_is_a_pointer() {
        let mut int_zero = Vec::new();
        varint(2 << 3, &mut int_zero); // intVal = 0, as Go writes it
        int_zero.push(0);
        let mut spec = Vec::new();
        bytes_field(3, &int_zero, &mut spec); // maxUnavailable
        let mut raw = Vec::new();
        bytes_field(2, &spec, &mut raw);
        let mut type_meta = Vec::new();
        bytes_field(1, b"policy/v1", &mut type_meta);
        bytes_field(2, b"PodDisruptionBudget", &mut type_meta);
        let mut body = MAGIC.to_vec();
        bytes_field(1, &type_meta, &mut body);
        bytes_field(2, &raw, &mut body);
        let object = decode(&body).expect("decodes");
        assert_eq!(object["spec"], json!({"maxUnavailable": 0}));
    }

    #[test]
    fn other_kinds_and_unknown_fields_are_refused() {
        let err = decode(&envelope("Pod", &[])).expect_err("unsupported kind");
        assert!(err.contains("not v1 Pod; send JSON or YAML"), "{err}");
        let mut raw = Vec::new();
        bytes_field(9, b"x", &mut raw);
        let err = decode(&envelope("Namespace", &raw)).expect_err("unknown field");
        assert!(err.contains("field 9"), "{err}");
        assert!(decode(b"{}").is_err());
    }
}
