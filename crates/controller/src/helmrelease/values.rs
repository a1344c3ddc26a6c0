//! A HelmRelease's values, composed as Flux's helm-controller does:
//! `valuesFrom` in order (a whole YAML document merged at the root, or one
//! value set at `targetPath` with Helm's `--set` parser, quoted values as
//! strings), then `spec.values` over them; maps merge recursively, anything
//! else replaces.
//!
//! Owns reading the referenced ConfigMaps and Secrets and the merge, and
//! which releases a watched (labelled) one wakes (see `config_watch`).
//! Must not put values in errors: a message names the object, key and
//! path only.

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::{ValuesKind, ValuesReference};
use driftless_chart::values::{from_json, load_values, merge_maps};
use driftless_render::yaml::{Map, Value};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use sha2::Digest as _;

use crate::config_watch::ConfigKind;
use crate::reconciler::ReconcileError;

/// The HelmReleases whose `valuesFrom` names the `kind` object
/// `namespace/name` (references are in the release's own namespace).
pub(super) fn users(
    store: &kube::runtime::reflector::Store<HelmRelease>,
    kind: ConfigKind,
    namespace: &str,
    name: &str,
) -> Vec<kube::runtime::reflector::ObjectRef<HelmRelease>> {
    store
        .state()
        .into_iter()
        .filter(|hr| {
            hr.namespace().as_deref() == Some(namespace)
                && hr.spec.values_from.iter().flatten().any(|reference| {
                    reference.name == name
                        && match reference.kind {
                            ValuesKind::ConfigMap => kind == ConfigKind::ConfigMap,
                            ValuesKind::Secret => kind == ConfigKind::Secret,
                        }
                })
        })
        .map(|hr| kube::runtime::reflector::ObjectRef::from_obj(&*hr))
        .collect()
}

/// The values for `hr`, read through `client` (the HelmRelease's identity).
pub(super) async fn compose(
    hr: &HelmRelease,
    client: &kube::Client,
) -> Result<Map, ReconcileError> {
    let namespace = hr.namespace().unwrap_or_default();
    let mut result = Map::new();
    for reference in hr.spec.values_from.iter().flatten() {
        let Some(data) = read(client, &namespace, reference).await? else {
            continue;
        };
        result = merge_reference(result, reference, &namespace, &data)?;
    }
    let inline = match &hr.spec.values {
        Some(values @ serde_json::Value::Object(_)) => match from_json(values) {
            Value::Map(map) => map,
            _ => Map::new(),
        },
        Some(serde_json::Value::Null) | None => Map::new(),
        Some(_) => {
            return Err(ReconcileError::stalled(
                reasons::RECONCILIATION_FAILED,
                "spec.values must be a mapping",
            ));
        }
    };
    Ok(merge_maps(result, inline))
}

/// Merges one reference's data into `values`.
fn merge_reference(
    values: Map,
    reference: &ValuesReference,
    namespace: &str,
    data: &str,
) -> Result<Map, ReconcileError> {
    let label = label(reference, namespace);
    let key = reference.values_key();
    match &reference.target_path {
        Some(path) => {
            let mut values = values;
            set_at_path(&mut values, path, data).map_err(|e| {
                ReconcileError::stalled(
                    reasons::RECONCILIATION_FAILED,
                    format!(
                        "cannot set the value of key '{key}' in {label} at targetPath '{path}': {e}"
                    ),
                )
            })?;
            Ok(values)
        }
        None => {
            let read = load_values(data).map_err(|e| {
                ReconcileError::stalled(
                    reasons::RECONCILIATION_FAILED,
                    format!(
                        "cannot read values from key '{key}' in {label}: {}",
                        redact(&e)
                    ),
                )
            })?;
            Ok(merge_maps(values, read))
        }
    }
}

/// Flux's `ReplacePathValue`: `path=value` through Helm's `--set` parser;
/// a value in single or double quotes is set as a string.
fn set_at_path(values: &mut Map, path: &str, value: &str) -> Result<(), String> {
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('"') || quoted('\'') {
        let unquoted = value.trim_matches(|c| c == '"' || c == '\'');
        driftless_chart::strvals::parse_set_string(&format!("{path}={unquoted}"), values)
    } else {
        driftless_chart::strvals::parse_set(&format!("{path}={value}"), values)
    }
    .map_err(|e| redact(&e))
}

/// A parser's message may quote the document; values can be secrets, so
/// only its first clause (position and kind of error) is kept.
fn redact(message: &str) -> String {
    message
        .split(':')
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_string()
}

fn label(reference: &ValuesReference, namespace: &str) -> String {
    let kind = match reference.kind {
        ValuesKind::ConfigMap => "ConfigMap",
        ValuesKind::Secret => "Secret",
    };
    format!("{kind} '{namespace}/{}'", reference.name)
}

/// The referenced key's text; `None` for an optional reference whose object
/// is missing. A missing key fails even when optional, as in Flux.
async fn read(
    client: &kube::Client,
    namespace: &str,
    reference: &ValuesReference,
) -> Result<Option<String>, ReconcileError> {
    let label = label(reference, namespace);
    let key = reference.values_key();
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    let data: Option<Option<String>> = match reference.kind {
        ValuesKind::ConfigMap => {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            let found = api
                .get_opt(&reference.name)
                .await
                .map_err(|e| failed(format!("cannot read {label}: {e}")))?;
            found.map(|cm| cm.data.and_then(|mut d| d.remove(key)))
        }
        ValuesKind::Secret => {
            let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let found = api
                .get_opt(&reference.name)
                .await
                .map_err(|e| failed(format!("cannot read {label}: {e}")))?;
            match found {
                None => None,
                Some(secret) => Some(match secret.data.and_then(|mut d| d.remove(key)) {
                    Some(bytes) => Some(String::from_utf8(bytes.0).map_err(|_| {
                        ReconcileError::stalled(
                            reasons::RECONCILIATION_FAILED,
                            format!("key '{key}' in {label} is not UTF-8 text"),
                        )
                    })?),
                    None => None,
                }),
            }
        }
    };
    match data {
        None if reference.optional => Ok(None),
        None => Err(failed(format!(
            "could not find {label}; create it or mark the valuesFrom entry optional"
        ))),
        Some(None) => Err(ReconcileError::stalled(
            reasons::RECONCILIATION_FAILED,
            format!("missing key '{key}' in {label}"),
        )),
        Some(Some(text)) => Ok(Some(text)),
    }
}

/// Values as the JSON object a release record keeps (Helm's `config`,
/// the chart's `values`).
pub(super) fn as_json(values: &Map) -> serde_json::Map<String, serde_json::Value> {
    values
        .iter()
        .map(|(key, value)| (key.clone(), driftless_render::to_json(value)))
        .collect()
}

/// `sha256:` of the values as canonical JSON (keys sorted), so the same
/// values always have the same digest.
pub(super) fn digest(values: &Map) -> String {
    digest_json(&as_json(values))
}

/// [`digest`] of values as a release record's `config` holds them.
pub(super) fn digest_json(values: &serde_json::Map<String, serde_json::Value>) -> String {
    digest_of(&serde_json::Value::Object(values.clone()))
}

fn digest_of(json: &serde_json::Value) -> String {
    let text = serde_json::to_string(&sorted(json)).unwrap_or_default();
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    )
}

fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(target_path: Option<&str>) -> ValuesReference {
        ValuesReference {
            kind: ValuesKind::Secret,
            name: "web".into(),
            values_key: Some("password".into()),
            target_path: target_path.map(str::to_string),
            optional: false,
        }
    }

    fn json(map: &Map) -> serde_json::Value {
        driftless_render::to_json(&Value::Map(map.clone()))
    }

    #[test]
    fn documents_merge_at_the_root_and_target_paths_set_one_value() {
        let base = load_values("image:\n  tag: v1\n  pull: Always\nreplicas: 1\n").expect("yaml");
        let merged =
            merge_reference(base, &reference(None), "apps", "image:\n  tag: v2\n").expect("merge");
        assert_eq!(
            json(&merged),
            // Values read from YAML are Helm's float64 numbers.
            serde_json::json!({"image": {"tag": "v2", "pull": "Always"}, "replicas": 1.0})
        );
        let set = merge_reference(merged, &reference(Some("auth.password")), "apps", "1234")
            .expect("set");
        assert_eq!(
            set.get("auth").and_then(|a| a.get("password")),
            Some(&Value::Int(1234))
        );
        let quoted = merge_reference(set, &reference(Some("auth.password")), "apps", "\"1234\"")
            .expect("set");
        assert_eq!(
            quoted.get("auth").and_then(|a| a.get("password")),
            Some(&Value::Str("1234".into())),
            "a quoted value stays a string"
        );
    }

    #[test]
    fn a_bad_document_names_the_object_but_not_the_values() {
        let error = merge_reference(Map::new(), &reference(None), "apps", "password: [hunter2\n")
            .expect_err("bad YAML");
        assert!(
            error.message.contains("Secret 'apps/web'"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("hunter2"), "{}", error.message);
    }

    #[test]
    fn the_digest_ignores_key_order() {
        let a = load_values("a: 1\nb: {c: 2, d: 3}\n").expect("yaml");
        let b = load_values("b: {d: 3, c: 2}\na: 1\n").expect("yaml");
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&Map::new()));
    }
}
