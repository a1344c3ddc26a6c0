//! Discovery and OpenAPI documents: what kubectl and kube-rs read to learn
//! which groups, versions and resources the server has.
//!
//! The OpenAPI v3 documents carry paths and the parameters each verb
//! takes: enough for kubectl to see that the server validates fields
//! itself (`fieldValidation`), so it skips its client-side schema
//! validation. Their component schemas are the built-in kinds' (from
//! [`crate::builtin_schemas`], with the shared `io.k8s.apimachinery…` types
//! they reach) and each served CRD version's `openAPIV3Schema`, named and
//! tagged with its group, version and kind as kube-apiserver publishes
//! them, which is what `kubectl explain` looks for. `/openapi/v2` is served
//! empty (see `server`), so kubectl's v2 fallback validates nothing.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

use crate::builtin_schemas;
use crate::catalog::Catalog;

pub const SERVER_VERSION_MINOR: &str = "32";

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": SERVER_VERSION_MINOR,
        "gitVersion": format!("v1.{SERVER_VERSION_MINOR}.0-driftless-sandbox"),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "none",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

/// Resources that are only created and answered, never stored — the
/// identity and access reviews — as (group, version, plural, kind,
/// namespaced). Discovery lists them, as a real server does, so
/// `kubectl api-resources` shows them and clients find them.
const REVIEWS: &[(&str, &str, &str, &str, bool)] = &[
    (
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        true,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        false,
    ),
    (
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        false,
    ),
];

/// The reviews' (group, version, kind).
#[cfg(test)]
pub fn review_kinds() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    REVIEWS.iter().map(|(g, v, _, k, _)| (*g, *v, *k))
}

/// Whether `group/version/resource` is one of the reviews.
pub fn is_review(group: &str, version: &str, resource: &str) -> bool {
    REVIEWS
        .iter()
        .any(|(g, v, r, _, _)| (*g, *v, *r) == (group, version, resource))
}

/// The catalog's groups, then the reviews' groups.
fn all_groups(catalog: &Catalog) -> Vec<(String, Vec<String>)> {
    let mut groups = catalog.groups();
    for (group, version, ..) in REVIEWS {
        if !groups.iter().any(|(g, _)| g == group) {
            groups.push(((*group).to_string(), vec![(*version).to_string()]));
        }
    }
    groups
}

pub fn group_list(catalog: &Catalog) -> Value {
    let groups: Vec<Value> = all_groups(catalog)
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_entry(&g, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(catalog: &Catalog, name: &str) -> Option<Value> {
    let (_, versions) = all_groups(catalog)
        .into_iter()
        .find(|(g, _)| g == name && !g.is_empty())?;
    let mut entry = group_entry(name, &versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

pub fn resource_list(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    let types = catalog.resources_in(group, version);
    let mut resources: Vec<Value> = types.iter().flat_map(|rt| rt.discovery_entries()).collect();
    for (g, v, plural, kind, namespaced) in REVIEWS {
        if (*g, *v) == (group, version) {
            resources.push(json!({
                "name": plural,
                "singularName": kind.to_lowercase(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per group/version, pointing at its document.
/// The hash covers the paths and CRD schemas and the built-in schemas'
/// fingerprint, so the built-in ones are not serialised on every request.
pub fn openapi_v3_root(catalog: &Catalog) -> Value {
    let mut paths = serde_json::Map::new();
    for (group, versions) in all_groups(catalog) {
        for version in versions {
            if let Some(doc) = document(catalog, &group, &version) {
                let mut hasher = DefaultHasher::new();
                doc.to_string().hash(&mut hasher);
                builtin_schemas::fingerprint(&group, &version).hash(&mut hasher);
                let path = gv_path(&group, &version);
                paths.insert(
                    path.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={:016X}", hasher.finish())}),
                );
            }
        }
    }
    json!({"paths": paths})
}

fn operation(kind: &str, group: &str, version: &str, verb: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": true}}))
        .collect();
    let mut op = json!({
        "operationId": format!("{verb}{kind}"),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    });
    if verb == "patch" {
        op["requestBody"] = json!({"content": {
            "application/json-patch+json": {"schema": {"type": "object"}},
            "application/merge-patch+json": {"schema": {"type": "object"}},
            "application/apply-patch+yaml": {"schema": {"type": "object"}},
        }});
    }
    op
}

/// The component name kube-apiserver gives a custom resource's schema:
/// the group reversed, then version and kind (`io.fluxcd.toolkit.kustomize.v1.Kustomization`).
fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// A CRD version's schema as published: tagged with its group, version and
/// kind (kubectl explain finds a kind's schema by this tag), with the
/// fields every object has described when the CRD leaves them out.
fn published_schema(schema: &Value, group: &str, version: &str, kind: &str) -> Value {
    let mut published = schema.clone();
    let Some(root) = published.as_object_mut() else {
        return published;
    };
    root.entry("type").or_insert_with(|| json!("object"));
    root.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([{"group": group, "version": version, "kind": kind}]),
    );
    let standard = [
        (
            "apiVersion",
            json!({"type": "string", "description": "The versioned schema of this object: group/version."}),
        ),
        (
            "kind",
            json!({"type": "string", "description": "The REST resource this object represents, in CamelCase."}),
        ),
        (
            "metadata",
            json!({"type": "object", "description": "Standard object metadata: name, namespace, labels, annotations and the like."}),
        ),
    ];
    if let Value::Object(properties) = root.entry("properties").or_insert_with(|| json!({})) {
        for (name, field) in standard {
            properties.entry(name).or_insert(field);
        }
    }
    published
}

/// `/openapi/v3/{api|apis/group}/{version}`: paths with their verbs and
/// parameters for every resource of the group/version, the schemas of its
/// built-in kinds and those of its custom resources.
pub fn openapi_v3_group_version(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    let mut doc = document(catalog, group, version)?;
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        builtin_schemas::add_to(group, version, schemas);
    }
    Some(doc)
}

/// The document without the built-in kinds' schemas.
fn document(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    let types = catalog.resources_in(group, version);
    let mut paths = serde_json::Map::new();
    let write_params = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
    let patch_params = [
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "force",
        "pretty",
    ];
    let base = format!("/{}", gv_path(group, version));
    let mut schemas = serde_json::Map::new();
    for rt in &types {
        if let Some(schema) = rt.version_schemas.get(version) {
            schemas.insert(
                definition_name(group, version, &rt.kind),
                published_schema(schema, group, version, &rt.kind),
            );
        }
        let kind = rt.kind.as_str();
        let collection = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("{base}/{}", rt.plural)
        };
        paths.insert(
            collection.clone(),
            json!({
                "get": operation(kind, group, version, "list", &["labelSelector", "fieldSelector", "limit", "continue", "watch", "resourceVersion"]),
                "post": operation(kind, group, version, "post", &write_params),
                "delete": operation(kind, group, version, "deletecollection", &["dryRun", "labelSelector", "fieldSelector"]),
            }),
        );
        let item = json!({
            "get": operation(kind, group, version, "get", &["pretty"]),
            "put": operation(kind, group, version, "put", &write_params),
            "patch": operation(kind, group, version, "patch", &patch_params),
            "delete": operation(kind, group, version, "delete", &["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
        });
        if rt.status_subresource {
            paths.insert(format!("{collection}/{{name}}/status"), item.clone());
        }
        paths.insert(format!("{collection}/{{name}}"), item);
    }
    // The reviews are only created, so they have only a `post`.
    for (g, v, plural, kind, namespaced) in REVIEWS {
        if (*g, *v) == (group, version) {
            let path = if *namespaced {
                format!("{base}/namespaces/{{namespace}}/{plural}")
            } else {
                format!("{base}/{plural}")
            };
            paths.insert(
                path,
                json!({"post": operation(kind, group, version, "post", &["dryRun", "fieldManager", "fieldValidation", "pretty"])}),
            );
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{SERVER_VERSION_MINOR}.0")},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_group_is_not_in_the_group_list() {
        let catalog = Catalog::default();
        let list = group_list(&catalog);
        let names: Vec<&str> = list["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| g["name"].as_str().expect("name"))
            .collect();
        assert!(names.contains(&"apps"));
        assert!(!names.contains(&""));
        assert_eq!(
            group(&catalog, "apps").expect("apps")["preferredVersion"]["version"],
            "v1"
        );
    }

    #[test]
    fn resource_lists_carry_status_subresources() {
        let catalog = Catalog::default();
        let list = resource_list(&catalog, "apps", "v1").expect("apps/v1");
        let names: Vec<&str> = list["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r["name"].as_str().expect("name"))
            .collect();
        assert!(names.contains(&"deployments") && names.contains(&"deployments/status"));
        assert!(resource_list(&catalog, "apps", "v2").is_none());
    }

    #[test]
    fn openapi_publishes_each_served_crd_version_schema_tagged_with_its_kind() {
        let mut catalog = Catalog::default();
        let version = |name: &str, field: &str| {
            json!({"name": name, "served": true, "storage": name == "v1", "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {field: {"type": "string"}}}},
            }}})
        };
        catalog
            .register_crd(&json!({
                "metadata": {"name": "widgets.example.com"},
                "spec": {
                    "group": "example.com",
                    "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [version("v1beta1", "size"), version("v1", "shape")],
                }
            }))
            .expect("a valid CRD");
        let v1 = openapi_v3_group_version(&catalog, "example.com", "v1").expect("v1");
        let schema = &v1["components"]["schemas"]["com.example.v1.Widget"];
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([{"group": "example.com", "version": "v1", "kind": "Widget"}])
        );
        assert_eq!(
            schema["properties"]["spec"]["properties"]["shape"]["type"],
            "string"
        );
        assert_eq!(schema["properties"]["metadata"]["type"], "object");
        let beta = openapi_v3_group_version(&catalog, "example.com", "v1beta1").expect("v1beta1");
        let schema = &beta["components"]["schemas"]["com.example.v1beta1.Widget"];
        assert_eq!(
            schema["properties"]["spec"]["properties"]["size"]["type"],
            "string"
        );
        assert!(
            schema["properties"]["spec"]["properties"]
                .get("shape")
                .is_none()
        );
        let core = openapi_v3_group_version(&catalog, "", "v1").expect("core");
        assert!(
            core["components"]["schemas"]
                .as_object()
                .expect("schemas")
                .keys()
                .all(|name| name.starts_with("io.k8s.")),
            "no custom resource schema in core/v1"
        );
    }

    #[test]
    fn openapi_declares_server_side_field_validation() {
        let catalog = Catalog::default();
        let doc = openapi_v3_group_version(&catalog, "", "v1").expect("core");
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "ConfigMap"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        let root = openapi_v3_root(&catalog);
        assert!(
            root["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .expect("url")
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
    }
}
