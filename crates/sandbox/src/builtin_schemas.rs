//! The built-in kinds' OpenAPI v3 schemas: what `/openapi/v3` documents
//! carry for them (so `kubectl explain deployment.spec` works) and what
//! strict field validation (`fieldValidation=Strict`, kubectl's default)
//! checks a built-in object against.
//!
//! The schemas are data, not code: `openapi/builtin.json.gz`, generated from
//! k8s-openapi's `schemars` derivations by `openapi_gen` (feature
//! `openapi-gen`) and committed; a test behind the same feature fails when
//! the file is stale. Why not derive them at run time with the feature on:
//! measured on 2026-12-05 (dev profile, shared machine), the
//! feature costs every cold build of the workspace ≈10 s more CPU (a
//! scratch crate on k8s-openapi built cold in 29.2 s user with it, 18.9 s
//! without; feature unification turns it on for every crate), and a
//! binary deriving these schemas is 4.1 MB larger (5.8 against 1.7 MB
//! stripped) — for documents that change only with k8s-openapi. The file
//! adds 107 KB (540 KB of JSON, 348 definitions) and flate2, which the
//! workspace already links. Either way the first document costs the same
//! order of work: deriving took 29–136 ms and 6.9 MB of peak RSS, loading
//! the file takes ≈120 ms and 6.7 MB of RSS, both in the dev profile;
//! start-up pays nothing since the file is read on first use.
//!
//! The file is read once, on first use: decompressed, parsed, and for each
//! group/version the definitions its kinds reach through `$ref` collected.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::sync::LazyLock;

use serde_json::{Map, Value};

static DATA: &[u8] = include_bytes!("../openapi/builtin.json.gz");

const REF_PREFIX: &str = "#/components/schemas/";

/// One group/version's share of the definitions.
struct GroupVersion {
    /// Its kinds, as (kind, definition name).
    kinds: Vec<(String, String)>,
    /// Every definition its kinds reach, in name order.
    reached: Vec<String>,
    /// Identifies `reached` and their content, for the document's hash.
    fingerprint: u64,
}

struct Schemas {
    definitions: Map<String, Value>,
    group_versions: HashMap<String, GroupVersion>,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(load);

fn load() -> Schemas {
    // Compiled in and checked by the tests: a failure here is a build defect.
    let mut text = String::new();
    flate2::read::GzDecoder::new(DATA)
        .read_to_string(&mut text)
        .expect("openapi/builtin.json.gz is gzipped UTF-8");
    let mut data: Value = serde_json::from_str(&text).expect("openapi/builtin.json.gz is JSON");
    let definitions = match data.get_mut("definitions").map(Value::take) {
        Some(Value::Object(definitions)) => definitions,
        _ => Map::new(),
    };
    let mut group_versions = HashMap::new();
    for (gv, names) in data["roots"].as_object().into_iter().flatten() {
        let names: Vec<String> = names
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let kinds = names
            .iter()
            .filter_map(|name| {
                let kind = definitions.get(name)?["x-kubernetes-group-version-kind"][0]["kind"]
                    .as_str()?;
                Some((kind.to_string(), name.clone()))
            })
            .collect();
        let reached = reachable(&definitions, &names);
        let mut hasher = DefaultHasher::new();
        for name in &reached {
            name.hash(&mut hasher);
            definitions[name].to_string().hash(&mut hasher);
        }
        group_versions.insert(
            gv.clone(),
            GroupVersion {
                kinds,
                reached,
                fingerprint: hasher.finish(),
            },
        );
    }
    Schemas {
        definitions,
        group_versions,
    }
}

/// The definitions `roots` name or reach through `$ref`, sorted.
fn reachable(definitions: &Map<String, Value>, roots: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = roots.to_vec();
    while let Some(name) = pending.pop() {
        if let Some(schema) = definitions.get(&name)
            && seen.insert(name)
        {
            collect_refs(schema, &mut pending);
        }
    }
    seen.into_iter().collect()
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                out.push(name.to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn group_version(group: &str, version: &str) -> Option<&'static GroupVersion> {
    let key = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    SCHEMAS.group_versions.get(&key)
}

/// Adds the group/version's built-in schemas to a document's
/// `components.schemas`; returns whether it has any.
pub fn add_to(group: &str, version: &str, schemas: &mut Map<String, Value>) -> bool {
    let Some(gv) = group_version(group, version) else {
        return false;
    };
    for name in &gv.reached {
        schemas.insert(name.clone(), SCHEMAS.definitions[name].clone());
    }
    true
}

/// A value that changes when the group/version's built-in schemas do, so
/// the `/openapi/v3` index need not hash them on every request.
pub fn fingerprint(group: &str, version: &str) -> Option<u64> {
    group_version(group, version).map(|gv| gv.fingerprint)
}

/// Removes the fields of a built-in object its schema does not know, as
/// the API server's decoder drops them, and returns them named as a strict
/// decoding error names them (`spec.template.spec.containers[0].bogus`);
/// `None` when the kind has no built-in schema.
pub fn prune_unknown(
    group: &str,
    version: &str,
    kind: &str,
    object: &mut Value,
) -> Option<Vec<String>> {
    let gv = group_version(group, version)?;
    let (_, name) = gv.kinds.iter().find(|(k, _)| k == kind)?;
    let mut unknown = Vec::new();
    walk(&SCHEMAS.definitions[name], object, "", &mut unknown);
    Some(unknown)
}

/// Follows `$ref` and a single-element `allOf` (a described reference).
fn resolve(mut schema: &Value) -> &Value {
    loop {
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(REF_PREFIX))
            && let Some(target) = SCHEMAS.definitions.get(name)
        {
            schema = target;
        } else if let Some([only]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            && schema.get("properties").is_none()
        {
            schema = only;
        } else {
            return schema;
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(schema: &Value, value: &mut Value, path: &str, unknown: &mut Vec<String>) {
    let schema = resolve(schema);
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                map.retain(|key, child| match properties.get(key) {
                    Some(property) => {
                        walk(property, child, &join(path, key), unknown);
                        true
                    }
                    None => {
                        unknown.push(join(path, key));
                        false
                    }
                });
            } else if let Some(values) =
                schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for (key, child) in map.iter_mut() {
                    walk(values, child, &join(path, key), unknown);
                }
            }
            // An object schema with neither (RawExtension, FieldsV1) takes anything.
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter_mut().enumerate() {
                    walk(item_schema, item, &format!("{path}[{index}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::discovery;
    use serde_json::json;

    #[test]
    fn every_built_in_kind_and_review_has_a_tagged_schema() {
        let catalog = Catalog::default();
        let kinds = catalog
            .types()
            .filter(|rt| rt.builtin)
            .map(|rt| {
                (
                    rt.group.clone(),
                    rt.preferred_version().to_string(),
                    rt.kind.clone(),
                )
            })
            .chain(discovery::review_kinds().map(|(g, v, k)| (g.into(), v.into(), k.into())));
        for (group, version, kind) in kinds {
            let gv = group_version(&group, &version)
                .unwrap_or_else(|| panic!("no schemas for {group}/{version}"));
            let (_, name) = gv
                .kinds
                .iter()
                .find(|(k, _)| *k == kind)
                .unwrap_or_else(|| panic!("no schema for {kind} in {group}/{version}"));
            assert_eq!(
                SCHEMAS.definitions[name]["x-kubernetes-group-version-kind"],
                json!([{"group": group, "kind": kind, "version": version}])
            );
            assert!(gv.reached.contains(name));
        }
    }

    #[test]
    fn documents_carry_the_definitions_their_kinds_reach() {
        let mut schemas = Map::new();
        assert!(add_to("apps", "v1", &mut schemas));
        for name in [
            "io.k8s.api.apps.v1.Deployment",
            "io.k8s.api.core.v1.Container",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        assert!(!schemas.contains_key("io.k8s.api.batch.v1.Job"));
        let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
        );
        assert!(deployment.get("required").is_none(), "metadata is optional");
        assert!(!add_to("example.com", "v1", &mut schemas));
    }

    #[test]
    fn unknown_fields_are_found_at_any_depth_and_dropped() {
        let mut deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "bogus": 1},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "web", "image": "nginx", "resources": {"limits": {"cpu": 1}}},
                        {"name": "side", "image": "busybox", "colour": "red"},
                    ]},
                },
                "extra": true,
            },
            "status": {"replicas": 1},
        });
        let mut expected = deployment.clone();
        assert_eq!(
            prune_unknown("apps", "v1", "Deployment", &mut deployment),
            Some(vec![
                "metadata.bogus".to_string(),
                "spec.template.spec.containers[1].colour".to_string(),
                "spec.extra".to_string(),
            ])
        );
        for pointer in ["/metadata", "/spec/template/spec/containers/1", "/spec"] {
            let parent = expected.pointer_mut(pointer).and_then(Value::as_object_mut);
            let parent = parent.expect("exists");
            parent.retain(|k, _| !matches!(k.as_str(), "bogus" | "colour" | "extra"));
        }
        assert_eq!(deployment, expected, "only the unknown fields are gone");
        let mut config_map = json!({"metadata": {"name": "c"}, "data": {"any-key": "v"}});
        assert_eq!(
            prune_unknown("", "v1", "ConfigMap", &mut config_map),
            Some(vec![])
        );
        assert_eq!(
            prune_unknown("example.com", "v1", "Widget", &mut config_map),
            None
        );
    }
}
