//! Generates `openapi/builtin.json.gz`, the built-in kinds' OpenAPI v3
//! schemas that `builtin_schemas` serves, from k8s-openapi's
//! `schemars` derivations (its Kubernetes 1.33 types, the closest to the
//! sandbox's 1.32). Only built with the `openapi-gen` feature: run
//!
//! ```sh
//! cargo run -p driftless-sandbox --features openapi-gen --example openapi_gen
//! ```
//!
//! after changing the kinds below or upgrading k8s-openapi, and commit the
//! file; `tests/openapi_data.rs` (same feature) fails while it is stale.
//!
//! The file holds every definition once, `$ref`s already pointing at
//! `#/components/schemas/…` (schemars' OpenAPI 3 settings, which also wrap a
//! described `$ref` in `allOf` as kube-apiserver does), and for each
//! group/version the names of its top-level kinds; those carry
//! `x-kubernetes-group-version-kind`, which `kubectl explain` looks for.

use std::collections::BTreeMap;
use std::io::Write;

use k8s_openapi::Resource;
use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, coordination, core, events,
    networking, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::schemars::JsonSchema;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Value, json};

/// Where the generated file lives, relative to the crate's directory.
pub const DATA_PATH: &str = "openapi/builtin.json.gz";

struct Collector {
    generator: SchemaGenerator,
    /// group/version → (definition name, group, version, kind).
    roots: BTreeMap<String, Vec<(String, &'static str, &'static str, &'static str)>>,
}

impl Collector {
    /// A kind served in its own group/version.
    fn kind<T: JsonSchema + Resource>(&mut self) {
        self.kind_in::<T>(&group_version(T::GROUP, T::VERSION));
    }

    /// A kind listed in another group/version's document, as kube-apiserver
    /// lists autoscaling/v1 `Scale` with the workloads that have `/scale`.
    fn kind_in<T: JsonSchema + Resource>(&mut self, group_version: &str) {
        self.generator.subschema_for::<T>();
        self.roots
            .entry(group_version.to_string())
            .or_default()
            .push((T::schema_name().into_owned(), T::GROUP, T::VERSION, T::KIND));
    }
}

/// `v1` for the core group, `group/version` otherwise.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The data file's content: `{"definitions": {name: schema}, "roots":
/// {group/version: [name]}}`, keys sorted so the output is stable.
#[must_use]
pub fn generate() -> Value {
    let mut c = Collector {
        generator: SchemaSettings::openapi3().into_generator(),
        roots: BTreeMap::new(),
    };
    c.kind::<core::v1::Namespace>();
    c.kind::<core::v1::ConfigMap>();
    c.kind::<core::v1::Secret>();
    c.kind::<core::v1::Service>();
    c.kind::<core::v1::ServiceAccount>();
    c.kind::<core::v1::Event>();
    c.kind::<core::v1::Pod>();
    c.kind::<core::v1::PersistentVolumeClaim>();
    c.kind::<core::v1::PersistentVolume>();
    c.kind::<core::v1::Endpoints>();
    c.kind::<core::v1::Node>();
    c.kind::<core::v1::ResourceQuota>();
    c.kind::<core::v1::LimitRange>();
    c.kind::<apps::v1::Deployment>();
    c.kind::<apps::v1::StatefulSet>();
    c.kind::<apps::v1::DaemonSet>();
    c.kind::<apps::v1::ReplicaSet>();
    c.kind::<apps::v1::ControllerRevision>();
    c.kind_in::<autoscaling::v1::Scale>("apps/v1");
    c.kind::<batch::v1::Job>();
    c.kind::<batch::v1::CronJob>();
    c.kind::<autoscaling::v2::HorizontalPodAutoscaler>();
    c.kind::<autoscaling::v1::HorizontalPodAutoscaler>();
    c.kind::<policy::v1::PodDisruptionBudget>();
    c.kind::<networking::v1::Ingress>();
    c.kind::<networking::v1::IngressClass>();
    c.kind::<networking::v1::NetworkPolicy>();
    c.kind::<rbac::v1::Role>();
    c.kind::<rbac::v1::RoleBinding>();
    c.kind::<rbac::v1::ClusterRole>();
    c.kind::<rbac::v1::ClusterRoleBinding>();
    c.kind::<apiextensions::v1::CustomResourceDefinition>();
    c.kind::<coordination::v1::Lease>();
    c.kind::<events::v1::Event>();
    c.kind::<storage::v1::StorageClass>();
    c.kind::<scheduling::v1::PriorityClass>();
    c.kind::<authentication::v1::SelfSubjectReview>();
    c.kind::<authorization::v1::LocalSubjectAccessReview>();
    c.kind::<authorization::v1::SelfSubjectAccessReview>();
    c.kind::<authorization::v1::SelfSubjectRulesReview>();
    c.kind::<authorization::v1::SubjectAccessReview>();

    let mut definitions: BTreeMap<String, Value> =
        c.generator.take_definitions(true).into_iter().collect();
    let mut roots = BTreeMap::new();
    for (gv, kinds) in c.roots {
        let mut names = Vec::new();
        for (name, group, version, kind) in kinds {
            if let Some(Value::Object(schema)) = definitions.get_mut(&name) {
                // k8s-openapi requires `metadata` (its Rust field is not an
                // `Option`); kube-apiserver's schemas do not, nor does explain.
                if let Some(Value::Array(required)) = schema.get_mut("required") {
                    required.retain(|field| field != "metadata");
                    if required.is_empty() {
                        schema.remove("required");
                    }
                }
                schema.insert(
                    "x-kubernetes-group-version-kind".into(),
                    json!([{"group": group, "kind": kind, "version": version}]),
                );
            }
            names.push(name);
        }
        roots.insert(gv, names);
    }
    json!({"definitions": definitions, "roots": roots})
}

/// The file's bytes: compact JSON, gzipped (no timestamp, so stable).
///
/// # Panics
/// Never in practice: it writes to memory.
#[must_use]
pub fn encode(data: &Value) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(data.to_string().as_bytes())
        .expect("writing to memory");
    encoder.finish().expect("writing to memory")
}
