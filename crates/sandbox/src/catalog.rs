//! The catalog of resource types the sandbox serves: the built-in kinds a
//! GitOps engine meets, plus whatever CustomResourceDefinitions add.
//!
//! Owns names, scope, short names, categories, subresources and merge
//! schemas of each type. Knows nothing of stored objects: the store keys
//! objects by [`GroupResource`] and asks the catalog how to treat them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use driftless_merge::MergeSchema;

/// A resource independent of its version: what objects are stored under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    /// Kubernetes' own spelling in messages: `configmaps`, `deployments.apps`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// An extra column shown by `kubectl get` for a custom resource.
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    pub name: String,
    pub column_type: String,
    pub json_path: String,
    /// Above 0, shown only by `kubectl get -o wide`.
    pub priority: i64,
}

/// Everything the server needs to know to serve one resource.
#[derive(Clone, Debug)]
pub struct ResourceType {
    pub group: String,
    /// Served versions, the preferred (storage) one first.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    /// Whether `metadata.generation` counts changes outside metadata and status.
    pub tracks_generation: bool,
    pub merge_schema: Arc<MergeSchema>,
    pub printer_columns: Vec<PrinterColumn>,
    /// A custom resource's structural schema (storage version), applied on
    /// every write by [`crate::schema`]; `None` for built-in kinds.
    pub open_api_schema: Option<Arc<Value>>,
    /// A custom resource's `openAPIV3Schema` per served version, published
    /// in `/openapi/v3` for `kubectl explain`; empty for built-in kinds.
    pub version_schemas: BTreeMap<String, Arc<Value>>,
    /// Built-in kinds accept strategic merge patches; custom resources do not.
    pub builtin: bool,
}

impl ResourceType {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    /// The resource its objects are stored under: its own, or another
    /// group's that serves the same objects (see [`crate::convert`]).
    pub fn storage_resource(&self) -> GroupResource {
        crate::convert::shared_storage(&self.group, &self.plural).map_or_else(
            || self.group_resource(),
            |stored| GroupResource::new(stored.group, stored.resource),
        )
    }

    /// The `apiVersion` its objects are stored in.
    pub fn storage_api_version(&self) -> String {
        crate::convert::shared_storage(&self.group, &self.plural).map_or_else(
            || self.api_version(self.preferred_version()),
            |stored| stored.api_version.to_string(),
        )
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn preferred_version(&self) -> &str {
        &self.versions[0]
    }

    /// Whether the `scale` subresource (`kubectl scale`) is served.
    pub fn has_scale(&self) -> bool {
        self.group == "apps"
            && matches!(
                self.plural.as_str(),
                "deployments" | "statefulsets" | "replicasets"
            )
    }

    /// The `APIResource` entry of discovery documents.
    pub fn discovery_entries(&self) -> Vec<Value> {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        let mut main = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": verbs,
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            main["categories"] = json!(self.categories);
        }
        let mut entries = vec![main];
        if self.status_subresource {
            entries.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if self.has_scale() {
            entries.push(json!({
                "name": format!("{}/scale", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        entries
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    /// Older versions also served, converted by [`crate::convert`].
    older_versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    all_category: bool,
    status: bool,
    generation: bool,
}

const fn builtin(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        older_versions: &[],
        kind,
        plural,
        namespaced,
        short_names,
        all_category: false,
        status: false,
        generation: false,
    }
}

impl Builtin {
    const fn in_all(mut self) -> Self {
        self.all_category = true;
        self
    }
    const fn with_status(mut self) -> Self {
        self.status = true;
        self
    }
    const fn also_serving(mut self, older_versions: &'static [&'static str]) -> Self {
        self.older_versions = older_versions;
        self
    }
    const fn with_generation(mut self) -> Self {
        self.generation = true;
        self
    }
}

/// The built-in kinds, with the scope and short names a real API server gives them.
const BUILTINS: &[Builtin] = &[
    builtin("", "v1", "Namespace", "namespaces", false, &["ns"]).with_status(),
    builtin("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    builtin("", "v1", "Secret", "secrets", true, &[]),
    builtin("", "v1", "Service", "services", true, &["svc"])
        .in_all()
        .with_status(),
    builtin("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    builtin("", "v1", "Event", "events", true, &["ev"]),
    builtin("", "v1", "Pod", "pods", true, &["po"])
        .in_all()
        .with_status(),
    builtin(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        &["pvc"],
    )
    .with_status(),
    builtin(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        false,
        &["pv"],
    )
    .with_status(),
    builtin("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    builtin("", "v1", "Node", "nodes", false, &["no"]).with_status(),
    builtin(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        true,
        &["quota"],
    )
    .with_status(),
    builtin("", "v1", "LimitRange", "limitranges", true, &["limits"]),
    builtin("apps", "v1", "Deployment", "deployments", true, &["deploy"])
        .in_all()
        .with_status()
        .with_generation(),
    builtin("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"])
        .in_all()
        .with_status()
        .with_generation(),
    builtin("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"])
        .in_all()
        .with_status()
        .with_generation(),
    builtin("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"])
        .in_all()
        .with_status()
        .with_generation(),
    builtin(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
    ),
    builtin("batch", "v1", "Job", "jobs", true, &[])
        .in_all()
        .with_status()
        .with_generation(),
    builtin("batch", "v1", "CronJob", "cronjobs", true, &["cj"])
        .in_all()
        .with_status()
        .with_generation(),
    builtin(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    )
    .also_serving(&["v1"])
    .in_all()
    .with_status()
    .with_generation(),
    builtin(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    )
    .with_status()
    .with_generation(),
    builtin(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
    )
    .with_status()
    .with_generation(),
    builtin(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        &[],
    ),
    builtin(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    )
    .with_generation(),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
    ),
    builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    )
    .with_status()
    .with_generation(),
    builtin("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
    // kube-rs's event recorder writes this group; a real server shares storage
    // with core/v1 Events, here each group keeps its own.
    builtin("events.k8s.io", "v1", "Event", "events", true, &["ev"]),
    builtin(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        false,
        &["sc"],
    ),
    builtin(
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
        &["pc"],
    ),
];

/// All served types, keyed by group and plural resource name.
#[derive(Clone)]
pub struct Catalog {
    types: BTreeMap<GroupResource, Arc<ResourceType>>,
}

impl Default for Catalog {
    fn default() -> Self {
        let types = BUILTINS
            .iter()
            .map(|b| {
                let rt = ResourceType {
                    group: b.group.to_string(),
                    versions: std::iter::once(b.version)
                        .chain(b.older_versions.iter().copied())
                        .map(str::to_string)
                        .collect(),
                    kind: b.kind.to_string(),
                    plural: b.plural.to_string(),
                    singular: b.kind.to_lowercase(),
                    namespaced: b.namespaced,
                    short_names: b
                        .short_names
                        .iter()
                        .map(std::string::ToString::to_string)
                        .collect(),
                    categories: if b.all_category {
                        vec!["all".to_string()]
                    } else {
                        Vec::new()
                    },
                    status_subresource: b.status,
                    tracks_generation: b.generation,
                    merge_schema: Arc::new(MergeSchema::builtin(b.group, b.kind)),
                    printer_columns: Vec::new(),
                    open_api_schema: None,
                    version_schemas: BTreeMap::new(),
                    builtin: true,
                };
                (rt.group_resource(), Arc::new(rt))
            })
            .collect();
        Catalog { types }
    }
}

impl Catalog {
    /// The type served at `/{group}/{version}/{resource}`, if that version is served.
    pub fn lookup(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&GroupResource::new(group, resource))
            .filter(|rt| rt.versions.iter().any(|v| v == version))
            .cloned()
    }

    pub fn get(&self, gr: &GroupResource) -> Option<Arc<ResourceType>> {
        self.types.get(gr).cloned()
    }

    /// The type of a kind in a group, as owner references name it.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .values()
            .find(|rt| rt.group == group && rt.kind == kind)
            .cloned()
    }

    pub fn types(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }

    /// Groups in the order discovery lists them: built-in groups in their
    /// fixed order, then custom groups alphabetically.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut add = |group: &str, versions: &[String]| {
            let entry = match groups.iter_mut().find(|(g, _)| g == group) {
                Some(entry) => entry,
                None => {
                    groups.push((group.to_string(), Vec::new()));
                    groups.last_mut().expect("an entry was just pushed")
                }
            };
            for v in versions {
                if !entry.1.contains(v) {
                    entry.1.push(v.clone());
                }
            }
        };
        for b in BUILTINS {
            let versions: Vec<String> = std::iter::once(b.version)
                .chain(b.older_versions.iter().copied())
                .map(str::to_string)
                .collect();
            add(b.group, &versions);
        }
        let mut custom: Vec<&Arc<ResourceType>> =
            self.types.values().filter(|t| !t.builtin).collect();
        custom.sort_by(|a, b| a.group.cmp(&b.group));
        for rt in custom {
            add(&rt.group, &rt.versions);
        }
        groups
    }

    /// The types served in one group/version, in a stable order.
    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.types
            .values()
            .filter(|rt| rt.group == group && rt.versions.iter().any(|v| v == version))
            .cloned()
            .collect()
    }

    /// Registers (or replaces) the types a CustomResourceDefinition defines.
    /// Returns the type, or a message saying which field is wrong.
    pub fn register_crd(&mut self, crd: &Value) -> Result<Arc<ResourceType>, String> {
        let rt = Arc::new(resource_type_from_crd(crd)?);
        let gr = rt.group_resource();
        if let Some(existing) = self.types.get(&gr)
            && existing.builtin
        {
            return Err(format!("spec.names.plural: {gr} is a built-in resource"));
        }
        self.types.insert(gr, rt.clone());
        Ok(rt)
    }

    pub fn unregister(&mut self, gr: &GroupResource) {
        if self.types.get(gr).is_some_and(|rt| !rt.builtin) {
            self.types.remove(gr);
        }
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn strings_at(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads an `apiextensions.k8s.io/v1` CustomResourceDefinition into a type.
pub fn resource_type_from_crd(crd: &Value) -> Result<ResourceType, String> {
    let group = str_at(crd, "/spec/group").ok_or("spec.group: Required value")?;
    let plural = str_at(crd, "/spec/names/plural").ok_or("spec.names.plural: Required value")?;
    let kind = str_at(crd, "/spec/names/kind").ok_or("spec.names.kind: Required value")?;
    let expected_name = format!("{plural}.{group}");
    let name = str_at(crd, "/metadata/name").unwrap_or_default();
    if name != expected_name {
        return Err(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
        ));
    }
    let scope = str_at(crd, "/spec/scope").ok_or("spec.scope: Required value")?;
    let namespaced = match scope {
        "Namespaced" => true,
        "Cluster" => false,
        other => {
            return Err(format!(
                "spec.scope: Unsupported value: \"{other}\": supported values: \"Cluster\", \"Namespaced\""
            ));
        }
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or(
            "spec.versions: Invalid value: must have exactly one version marked as storage version",
        )?;
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .collect();
    let [storage] = storage.as_slice() else {
        return Err(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
                .into(),
        );
    };
    let storage_name = str_at(storage, "/name").ok_or("spec.versions[].name: Required value")?;
    let mut served: Vec<String> = vec![storage_name.to_string()];
    for v in versions {
        let served_flag = v.get("served").and_then(Value::as_bool).unwrap_or(false);
        if let Some(n) = v.get("name").and_then(Value::as_str)
            && served_flag
            && n != storage_name
        {
            served.push(n.to_string());
        }
    }
    if storage.get("served").and_then(Value::as_bool) != Some(true) {
        served.remove(0);
    }
    if served.is_empty() {
        return Err("spec.versions: Invalid value: at least one version must be served".into());
    }
    let version_schemas = versions
        .iter()
        .filter_map(|v| {
            let name = str_at(v, "/name")?;
            let schema = v.pointer("/schema/openAPIV3Schema")?;
            served
                .iter()
                .any(|s| s == name)
                .then(|| (name.to_string(), Arc::new(schema.clone())))
        })
        .collect();
    let status_subresource = storage.pointer("/subresources/status").is_some();
    let schema = storage
        .pointer("/schema/openAPIV3Schema")
        .cloned()
        .unwrap_or(Value::Null);
    let printer_columns = storage
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .filter_map(|c| {
                    Some(PrinterColumn {
                        name: c.get("name")?.as_str()?.to_string(),
                        column_type: c
                            .get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("string")
                            .to_string(),
                        json_path: c.get("jsonPath")?.as_str()?.to_string(),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ResourceType {
        group: group.to_string(),
        versions: served,
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular: str_at(crd, "/spec/names/singular")
            .map_or_else(|| kind.to_lowercase(), str::to_string),
        namespaced,
        short_names: strings_at(crd, "/spec/names/shortNames"),
        categories: strings_at(crd, "/spec/names/categories"),
        status_subresource,
        tracks_generation: true,
        merge_schema: Arc::new(if status_subresource {
            MergeSchema::from_openapi_v3(&schema).with_status_subresource()
        } else {
            MergeSchema::from_openapi_v3(&schema)
        }),
        printer_columns,
        open_api_schema: (!schema.is_null()).then(|| Arc::new(schema)),
        version_schemas,
        builtin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": false},
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}}
                ]
            }
        })
    }

    #[test]
    fn builtins_have_their_true_scope_and_short_names() {
        let catalog = Catalog::default();
        let ns = catalog.lookup("", "v1", "namespaces").expect("namespaces");
        assert!(!ns.namespaced);
        assert_eq!(ns.short_names, ["ns"]);
        let deploy = catalog
            .lookup("apps", "v1", "deployments")
            .expect("deployments");
        assert!(deploy.namespaced && deploy.status_subresource && deploy.tracks_generation);
        assert!(catalog.lookup("apps", "v1beta1", "deployments").is_none());
    }

    #[test]
    fn crd_registers_storage_version_first() {
        let mut catalog = Catalog::default();
        let rt = catalog.register_crd(&crd()).expect("valid crd");
        assert_eq!(rt.versions, ["v1", "v1beta1"]);
        assert!(rt.status_subresource);
        assert!(
            catalog
                .lookup("example.com", "v1beta1", "widgets")
                .is_some()
        );
        let groups = catalog.groups();
        assert_eq!(groups.last().expect("groups").0, "example.com");
        catalog.unregister(&GroupResource::new("example.com", "widgets"));
        assert!(catalog.lookup("example.com", "v1", "widgets").is_none());
    }

    #[test]
    fn crd_name_must_match_plural_and_group() {
        let mut crd = crd();
        crd["metadata"]["name"] = json!("gadgets.example.com");
        let err = resource_type_from_crd(&crd).expect_err("name mismatch");
        assert!(err.starts_with("metadata.name"), "{err}");
    }
}
