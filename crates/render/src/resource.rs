//! One object in a build, with the identity history Kustomize keeps for it
//! (original name and namespace, earlier names) so references can follow
//! renames, and the set of objects with Kustomize's id rules.

use crate::yaml::{Map, Value};

/// Kinds that are not namespaced (the built-in ones Kustomize knows).
pub const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "RuntimeClass",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "StorageClass",
    "SubjectAccessReview",
    "TokenReview",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Gvk {
            group,
            version,
            kind: kind.to_string(),
        }
    }
    /// Kustomize's `Gvk.String()`, used for ordering.
    pub fn sort_string(&self) -> String {
        let g = if self.group.is_empty() {
            "~G"
        } else {
            &self.group
        };
        let v = if self.version.is_empty() {
            "~V"
        } else {
            &self.version
        };
        let k = if self.kind.is_empty() {
            "~K"
        } else {
            &self.kind
        };
        format!("{g}_{v}_{k}")
    }
    pub fn is_cluster_scoped(&self) -> bool {
        if self.kind == "Namespace" {
            return self.group.is_empty();
        }
        CLUSTER_SCOPED.contains(&self.kind.as_str())
    }
}

/// A resource as it moves through the build.
#[derive(Debug, Clone)]
pub struct Resource {
    pub obj: Value,
    /// Names this object had before, oldest first (the first is the original).
    pub prev_names: Vec<String>,
    /// Namespaces this object had before, parallel to `prev_names`.
    pub prev_namespaces: Vec<String>,
    /// Kinds this object had before, parallel to `prev_names`.
    pub prev_kinds: Vec<String>,
    /// Whether a content hash must be appended to the name at the end.
    pub needs_hash: bool,
    /// Generator behavior (`create`, `merge`, `replace`) for generated objects.
    pub behavior: Option<String>,
    /// Name prefixes and suffixes applied so far (used to pick referrals).
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// Where the object came from, for `buildMetadata: [originAnnotations]`.
    pub origin: Option<Origin>,
    /// A custom OpenAPI schema (`openapi`) describes this kind.
    pub has_schema: bool,
    /// The vars bound to this object where they were declared.
    pub ref_vars: Vec<String>,
    /// Paths of mapping entries the source wrote with no value (`key:`):
    /// Kustomize's strategic merge drops them (a literal `null` stays).
    pub empty_values: Vec<Vec<String>>,
    /// The transformers that ran over this object, in order, for
    /// `buildMetadata: [transformerAnnotations]`.
    pub transformations: Vec<Transformation>,
}

/// One transformer run, as Kustomize's transformer annotation lists it.
#[derive(Debug, Clone)]
pub struct Transformation {
    /// The file that configured it (a kustomization or a plugin config).
    pub configured_in: std::path::PathBuf,
    /// The built-in transformer's kind, e.g. `PrefixTransformer`.
    pub kind: String,
    /// A plugin config's `metadata.name` and `metadata.namespace`.
    pub name: Option<String>,
    pub namespace: Option<String>,
}

/// The source of an object.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Read from this manifest file.
    File(std::path::PathBuf),
    /// Made by a generator configured in this file.
    Generated {
        configured_in: std::path::PathBuf,
        kind: String,
        name: Option<String>,
    },
}

impl Resource {
    pub fn new(obj: Value) -> Resource {
        Resource {
            obj,
            prev_names: Vec::new(),
            prev_namespaces: Vec::new(),
            prev_kinds: Vec::new(),
            needs_hash: false,
            behavior: None,
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            origin: None,
            has_schema: false,
            ref_vars: Vec::new(),
            transformations: Vec::new(),
            empty_values: Vec::new(),
        }
    }
    pub fn kind(&self) -> &str {
        self.obj.str_at(&["kind"]).unwrap_or("")
    }
    pub fn api_version(&self) -> &str {
        self.obj.str_at(&["apiVersion"]).unwrap_or("")
    }
    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }
    /// The group and version of `apiVersion`, borrowed (as [`Gvk`] has
    /// them, without building one: comparisons run per object).
    pub fn group_version(&self) -> (&str, &str) {
        let api_version = self.api_version();
        api_version.split_once('/').unwrap_or(("", api_version))
    }
    /// Same group, version and kind as `other`.
    pub fn same_gvk(&self, other: &Resource) -> bool {
        self.group_version() == other.group_version() && self.kind() == other.kind()
    }
    pub fn name(&self) -> &str {
        self.obj.str_at(&["metadata", "name"]).unwrap_or("")
    }
    pub fn namespace(&self) -> &str {
        self.obj.str_at(&["metadata", "namespace"]).unwrap_or("")
    }
    /// Every name this object has had, current included.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.prev_names
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.name()))
    }
    pub fn all_namespaces(&self) -> impl Iterator<Item = &str> {
        self.prev_namespaces
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.namespace()))
    }
    /// Every (name, namespace, kind) this object has had, current last.
    pub fn all_ids(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        let kinds = self
            .prev_kinds
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.kind()));
        self.all_names()
            .zip(self.all_namespaces())
            .zip(kinds)
            .map(|((n, ns), k)| (n, ns, k))
    }
    /// The kind this object was read or generated with.
    pub fn orig_kind(&self) -> &str {
        self.prev_kinds
            .first()
            .map_or_else(|| self.kind(), String::as_str)
    }
    fn metadata_mut(&mut self) -> &mut Map {
        let m = self.obj.as_map_mut().expect("resources are mappings");
        let md = m
            .entry("metadata".to_string())
            .or_insert_with(|| Value::Map(Map::new()));
        if !matches!(md, Value::Map(_)) {
            *md = Value::Map(Map::new());
        }
        md.as_map_mut().expect("just made a mapping")
    }
    /// Renames, remembering the old id.
    pub fn set_name(&mut self, name: &str) {
        if name == self.name() {
            return;
        }
        self.remember();
        self.metadata_mut()
            .insert("name".into(), Value::Str(name.to_string()));
    }
    fn remember(&mut self) {
        self.store_previous_id();
    }
    /// Records the current id as an earlier one, as Kustomize does before
    /// a transformer that may rename (the namespace transformer does it
    /// for every object, renamed or not).
    pub fn store_previous_id(&mut self) {
        self.prev_names.push(self.name().to_string());
        self.prev_namespaces.push(self.namespace().to_string());
        self.prev_kinds.push(self.kind().to_string());
    }
    /// Sets the namespace without recording the old id.
    pub fn put_namespace(&mut self, ns: &str) {
        self.metadata_mut()
            .insert("namespace".into(), Value::Str(ns.to_string()));
    }
    /// Sets the name without recording the old id.
    pub fn put_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::Str(name.to_string()));
    }
    /// Kustomize's printed id, e.g. `Deployment.v1.apps/web.[noNs]`.
    pub fn id_string(&self) -> String {
        id_string(&self.gvk(), self.name(), self.namespace())
    }
    /// Same group, version, kind, name and namespace (the Kustomize id).
    pub fn same_id(&self, other: &Resource) -> bool {
        self.same_gvk(other)
            && self.name() == other.name()
            && norm_ns(self.namespace()) == norm_ns(other.namespace())
    }
    pub fn labels(&self) -> Option<&Map> {
        self.obj
            .path(&["metadata", "labels"])
            .and_then(Value::as_map)
    }
    pub fn annotations(&self) -> Option<&Map> {
        self.obj
            .path(&["metadata", "annotations"])
            .and_then(Value::as_map)
    }
}

/// Kustomize's printed id of an object of `g` named `name` in `namespace`.
pub fn id_string(g: &Gvk, name: &str, namespace: &str) -> String {
    let mut s = g.kind.clone();
    if !g.version.is_empty() {
        s.push('.');
        s.push_str(&g.version);
    }
    s.push('.');
    s.push_str(if g.group.is_empty() {
        "[noGrp]"
    } else {
        &g.group
    });
    let ns = if namespace.is_empty() {
        "[noNs]"
    } else {
        namespace
    };
    format!("{s}/{name}.{ns}")
}

pub fn norm_ns(ns: &str) -> &str {
    if ns == "default" { "" } else { ns }
}

/// The legacy sort with custom first and last kinds (`legacySortOptions`).
pub fn sort_with(resources: &mut [Resource], first: &[String], last: &[String]) {
    let order = |kind: &str| -> i64 {
        if let Some(i) = first.iter().position(|k| k == kind) {
            i as i64 - first.len() as i64
        } else if let Some(i) = last.iter().position(|k| k == kind) {
            i as i64 + 1
        } else {
            0
        }
    };
    sort_by_order(resources, &order);
}

fn sort_by_order(resources: &mut [Resource], order: &dyn Fn(&str) -> i64) {
    let key = |r: &Resource| {
        let g = r.gvk();
        let ns = if r.namespace().is_empty() {
            "~X"
        } else {
            r.namespace()
        };
        (
            order(&g.kind),
            g.sort_string(),
            format!("{}|{}", ns, r.name()),
        )
    };
    resources.sort_by_cached_key(key);
}

const LEGACY_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const LEGACY_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Kustomize's priority of a kind in its legacy order: the kinds it puts
/// first are negative, those it puts last positive, any other is 0.
pub fn kind_order(kind: &str) -> i64 {
    if let Some(i) = LEGACY_FIRST.iter().position(|k| *k == kind) {
        i as i64 - LEGACY_FIRST.len() as i64
    } else if let Some(i) = LEGACY_LAST.iter().position(|k| *k == kind) {
        i as i64 + 1
    } else {
        0
    }
}

/// The legacy sort of Kustomize: by kind priority, then id.
pub fn legacy_sort(resources: &mut [Resource]) {
    let order = kind_order;
    let key = |r: &Resource| {
        let g = r.gvk();
        let ns = if r.namespace().is_empty() {
            "~X"
        } else {
            r.namespace()
        };
        (
            order(&g.kind),
            g.sort_string(),
            format!("{}|{}", ns, r.name()),
        )
    };
    resources.sort_by_cached_key(key);
}
