//! The verbs of the Kubernetes API over the store: get, list, watch,
//! create, update, patch, apply, delete and deletecollection, with the
//! object semantics a real API server gives (uid, resourceVersion,
//! generation, managedFields, finalizers, namespace and CRD lifecycles,
//! status subresources, dry runs).
//!
//! Owns: the rules of each verb. Does not touch HTTP (see `server`) nor the
//! merge algorithms (the `driftless-merge` crate), and never holds the store lock across an
//! await: every write is one synchronous transaction.

use std::sync::{Arc, RwLock};

use base64::Engine;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, GroupResource, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Store, StoreError, Subscription, Txn, resource_version_of};
use crate::validation;
use driftless_merge::{self as merge, ApplyError};

/// The state every request shares.
pub struct Api {
    pub store: Store,
    pub catalog: RwLock<Catalog>,
    /// The clock, injectable so tests get fixed timestamps.
    pub now: fn() -> String,
}

pub fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ApiError::internal(message)
    }
}

/// Where a request points: a resource type at one served version, maybe in a namespace.
#[derive(Clone)]
pub struct Scope {
    pub rt: Arc<ResourceType>,
    pub version: String,
    pub namespace: Option<String>,
}

impl Scope {
    /// What the objects are stored under.
    fn gr(&self) -> GroupResource {
        self.rt.storage_resource()
    }

    fn ns_key(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }

    /// The object as the requested version shows it: converted for the
    /// built-in kinds whose versions differ ([`crate::convert`]), the
    /// `apiVersion` alone for every other.
    pub fn present(&self, object: &Value) -> Value {
        self.present_borrowed(object).into_owned()
    }

    /// [`Scope::present`] without a copy when the stored version is the one asked for.
    pub fn present_borrowed<'a>(&self, object: &'a Value) -> std::borrow::Cow<'a, Value> {
        let api_version = self.rt.api_version(&self.version);
        if object.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str()) {
            return std::borrow::Cow::Borrowed(object);
        }
        std::borrow::Cow::Owned(crate::convert::to_version(
            object,
            &self.rt.kind,
            &api_version,
        ))
    }
}

mod defaults;
mod delete;
mod gc;
#[cfg(test)]
mod gc_tests;
mod options;
mod pagination;
mod read;
mod subresources;
mod write;

use defaults::*;
use options::WriteKind;
pub use options::{
    Admission, DeleteOptions, ListOptions, ListResult, PatchType, Propagation, Warnings,
    WatchStart, WriteOptions,
};
use pagination::*;

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:01x}{:01x}{:02x}-{}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0x0f,
        b[7],
        (b[8] & 0x3) | 0x8,
        b[8] >> 4,
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

fn meta(object: &Value) -> &Value {
    &object["metadata"]
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    meta(object).get(field).and_then(Value::as_str)
}

fn name_of(object: &Value) -> &str {
    meta_str(object, "name").unwrap_or_default()
}

fn has_finalizers(object: &Value) -> bool {
    meta(object)
        .get("finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

fn is_terminating(object: &Value) -> bool {
    meta(object)
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// Everything but metadata and status: what `generation` counts.
fn spec_part(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    out
}

/// The object without what changes on every write, to spot no-op writes.
fn comparable(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        map.remove("resourceVersion");
        if let Some(Value::Array(entries)) = map.get_mut("managedFields") {
            for entry in entries {
                if let Some(e) = entry.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    out
}

const SYSTEM_METADATA: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
];

impl Api {
    pub fn new(store: Store) -> Result<Self, ApiError> {
        let mut catalog = Catalog::default();
        let crds = store.txn(|t| {
            t.list(
                &GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions"),
                None,
            )
        });
        for crd in crds {
            catalog.register_crd(&crd).map_err(|e| {
                ApiError::internal(format!("stored CRD {} no longer loads: {e}", name_of(&crd)))
            })?;
        }
        Ok(Api {
            store,
            catalog: RwLock::new(catalog),
            now: rfc3339_now,
        })
    }

    pub fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn catalog_mut(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.catalog
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub(super) fn namespace_resource() -> GroupResource {
    GroupResource::new("", "namespaces")
}

pub(super) fn crd_resource() -> GroupResource {
    GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions")
}

pub(super) fn crd_invalid(crd: &Value, message: &str) -> ApiError {
    let (field, detail) = message.split_once(": ").unwrap_or(("spec", message));
    ApiError::invalid(
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        name_of(crd),
        &[(field.to_string(), detail.to_string())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(image_pull_policy("registry:5000/team/app"), "Always");
        assert_eq!(
            image_pull_policy("registry:5000/team/app:v2"),
            "IfNotPresent"
        );
        assert_eq!(image_pull_policy("app@sha256:abcd"), "IfNotPresent");
    }

    #[test]
    fn workload_defaults_keep_what_is_given() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 3,
            "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        default_workload("Deployment", &mut d);
        default_pod_spec(d.pointer_mut("/spec/template/spec"));
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");

        let mut job = json!({"spec": {"parallelism": 2, "template": {"spec": {}}}});
        default_workload("Job", &mut job);
        default_pod_spec(job.pointer_mut("/spec/template/spec"));
        assert_eq!(job["spec"].get("completions"), None);
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }
}
