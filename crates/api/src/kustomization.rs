//! `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`): which source path to
//! render, how to apply, prune and health-check it, and what was applied.
//!
//! Owns the resource's shape, its CRD metadata (short name `ks`, printer
//! columns) and small pure accessors with Flux's defaults (timeout,
//! retry interval, deletion policy). Must not render, apply or prune: those
//! are the render and apply crates.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::inventory::ResourceInventory;
use crate::kustomize::{CustomHealthCheck, Image, Patch, Selector};
use crate::meta::{
    HistorySnapshot, KubeConfigReference, LocalObjectReference, NamespacedObjectKindReference,
};
use crate::{GoDuration, is_false};

/// Desired state of a Kustomization.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats `type_`; they are separate columns"
)]
#[kube(
    group = "kustomize.toolkit.fluxcd.io",
    version = "v1",
    kind = "Kustomization",
    plural = "kustomizations",
    singular = "kustomization",
    namespaced,
    status = "KustomizationStatus",
    shortname = "ks",
    category = "all",
    category = "fluxcd",
    doc = "Kustomization is the Schema for the kustomizations API.",
    derive = "PartialEq",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// Labels and annotations added to every applied object, overriding
    /// existing keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// Kustomizations that must be ready before this one is reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<DependencyReference>>,
    /// Decryption of encrypted Secrets before apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Decryption>,
    /// How often to reconcile.
    pub interval: GoDuration,
    /// How soon to retry after a failure; `interval` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<GoDuration>,
    /// Apply to a remote cluster instead of this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Directory in the source to build; the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Variable substitution after the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
    /// Deletes objects that were applied before and are no longer built.
    pub prune: bool,
    /// What deleting this Kustomization does to its objects;
    /// `MirrorPrune` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Objects whose health decides `Healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_checks: Option<Vec<NamespacedObjectKindReference>>,
    /// Prefix added to the names of all objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_prefix: Option<String>,
    /// Suffix added to the names of all objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 200))]
    pub name_suffix: Option<String>,
    /// Strategic merge and JSON 6902 patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<Patch>>,
    /// Image name, tag and digest overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<Image>>,
    /// ServiceAccount impersonated for every API call of the reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// The source whose artifact is built.
    pub source_ref: CrossNamespaceSourceReference,
    /// Stops reconciling while true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Namespace set on all namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Timeout of apply and health checks; `interval` minus 30s when unset,
    /// never below 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Recreates objects whose immutable fields changed.
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(extend("default" = false))]
    pub force: bool,
    /// Waits for all applied objects to be healthy (`healthChecks` is then
    /// ignored).
    #[serde(default, skip_serializing_if = "is_false")]
    pub wait: bool,
    /// Paths of Kustomize components, relative to `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// Drops component paths that do not exist instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_components: bool,
    /// CEL health rules for custom kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_exprs: Option<Vec<CustomHealthCheck>>,
    /// Fields left alone by drift detection and apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ignore_rules: Option<Vec<DriftIgnoreRule>>,
}

/// Labels and annotations added to every applied object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommonMetadata {
    /// Annotations to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Another Kustomization that must be ready first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Name of the dependency.
    pub name: String,
    /// Its namespace; this Kustomization's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CEL expression replacing the built-in readiness check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

/// Kind of the source: `OCIRepository`, `GitRepository`, `Bucket` or
/// `ExternalArtifact`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SourceKind {
    /// `source.toolkit.fluxcd.io` OCIRepository.
    OCIRepository,
    /// `source.toolkit.fluxcd.io` GitRepository.
    GitRepository,
    /// `source.toolkit.fluxcd.io` Bucket.
    Bucket,
    /// `source.toolkit.fluxcd.io` ExternalArtifact.
    ExternalArtifact,
}

/// The source of a Kustomization, possibly in another namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the source.
    pub kind: SourceKind,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; the Kustomization's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// What deleting the Kustomization does to the objects it applied:
/// `MirrorPrune` (follow `prune`), `Delete`, `WaitForTermination` or `Orphan`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete when `prune` is true, orphan otherwise.
    #[default]
    MirrorPrune,
    /// Delete them.
    Delete,
    /// Delete them and wait until they are gone.
    WaitForTermination,
    /// Leave them.
    Orphan,
}

/// Decryption settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// The decryption engine.
    pub provider: DecryptionProvider,
    /// ServiceAccount used to reach cloud KMS services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with the private keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// The decryption engine: `sops`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecryptionProvider {
    /// Mozilla SOPS.
    Sops,
}

/// Substitution of `${var}` references after the build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    /// Variables and their values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute: Option<BTreeMap<String, String>>,
    /// ConfigMaps and Secrets whose data keys are variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substitute_from: Option<Vec<SubstituteReference>>,
}

/// Kind of the variables' holder: `Secret` or `ConfigMap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SubstituteKind {
    /// A Secret.
    Secret,
    /// A ConfigMap.
    ConfigMap,
}

/// A ConfigMap or Secret holding substitution variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubstituteReference {
    /// Secret or ConfigMap.
    pub kind: SubstituteKind,
    /// Its name, in the Kustomization's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Tolerates its absence (as if empty) when true.
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(extend("default" = false))]
    pub optional: bool,
}

/// Paths ignored by drift detection on the selected objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftIgnoreRule {
    /// JSON pointers (RFC 6901) to ignore.
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Observed state of a Kustomization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationStatus {
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready`, `Reconciling`, `Stalled`, `Healthy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Source revision of the last successful apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    /// Origin revision (artifact metadata) of the last successful apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_origin_revision: Option<String>,
    /// Source revision of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// The objects applied by the last successful apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<ResourceInventory>,
    /// Recent reconciles, newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistorySnapshot>>,
}

impl Kustomization {
    /// A Kustomization for tests: namespace `default`, source
    /// `GitRepository/<name>`, path `./`, interval `5m`, prune on. Chain the
    /// builder methods to vary it.
    pub fn test(name: &str) -> Kustomization {
        let mut ks = Kustomization::new(
            name,
            KustomizationSpec {
                common_metadata: None,
                depends_on: None,
                decryption: None,
                interval: GoDuration::from("5m"),
                retry_interval: None,
                kube_config: None,
                path: Some("./".to_string()),
                post_build: None,
                prune: true,
                deletion_policy: None,
                health_checks: None,
                name_prefix: None,
                name_suffix: None,
                patches: None,
                images: None,
                service_account_name: None,
                source_ref: CrossNamespaceSourceReference {
                    api_version: None,
                    kind: SourceKind::GitRepository,
                    name: name.to_string(),
                    namespace: None,
                },
                suspend: false,
                target_namespace: None,
                timeout: None,
                force: false,
                wait: false,
                components: None,
                ignore_missing_components: false,
                health_check_exprs: None,
                drift_ignore_rules: None,
            },
        );
        ks.metadata.namespace = Some("default".to_string());
        ks
    }

    /// Sets the namespace (named so as not to shadow `ResourceExt::namespace`).
    pub fn in_namespace(mut self, namespace: &str) -> Kustomization {
        self.metadata.namespace = Some(namespace.to_string());
        self
    }

    /// Builds this path of the source.
    pub fn path(mut self, path: &str) -> Kustomization {
        self.spec.path = Some(path.to_string());
        self
    }

    /// Takes the artifact of this GitRepository.
    pub fn git_source(mut self, name: &str) -> Kustomization {
        self.spec.source_ref.kind = SourceKind::GitRepository;
        self.spec.source_ref.name = name.to_string();
        self
    }

    /// Depends on another Kustomization in the same namespace.
    pub fn depends_on(mut self, name: &str) -> Kustomization {
        self.spec
            .depends_on
            .get_or_insert_with(Vec::new)
            .push(DependencyReference {
                name: name.to_string(),
                ..Default::default()
            });
        self
    }

    /// Marks it suspended.
    pub fn suspended(mut self) -> Kustomization {
        self.spec.suspend = true;
        self
    }

    /// Turns pruning off.
    pub fn no_prune(mut self) -> Kustomization {
        self.spec.prune = false;
        self
    }

    /// Waits for all objects to be healthy.
    pub fn waiting(mut self) -> Kustomization {
        self.spec.wait = true;
        self
    }

    /// Sets the generation, as the API server would after an edit.
    pub fn at_generation(mut self, generation: i64) -> Kustomization {
        self.metadata.generation = Some(generation);
        self
    }

    /// The conditions in the status, empty when there are none.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }

    /// The deletion policy, `MirrorPrune` when unset.
    pub fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy.unwrap_or_default()
    }

    /// The timeout of apply and health checks as Flux computes it:
    /// `spec.timeout`, else `interval - 30s`, never below 30s.
    pub fn timeout(&self) -> Result<std::time::Duration, crate::DurationError> {
        let floor = std::time::Duration::from_secs(30);
        let timeout = match &self.spec.timeout {
            Some(timeout) => timeout.to_std()?,
            None => self.spec.interval.to_std()?.saturating_sub(floor),
        };
        Ok(timeout.max(floor))
    }

    /// How soon to retry after a failure: `retryInterval`, else `interval`.
    pub fn retry_interval(&self) -> Result<std::time::Duration, crate::DurationError> {
        self.spec
            .retry_interval
            .as_ref()
            .unwrap_or(&self.spec.interval)
            .to_std()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_follows_flux_defaults() {
        let ks = Kustomization::test("a");
        assert_eq!(ks.timeout(), Ok(std::time::Duration::from_secs(270)));
        let mut short = Kustomization::test("b");
        short.spec.interval = GoDuration::from("40s");
        assert_eq!(short.timeout(), Ok(std::time::Duration::from_secs(30)));
        let mut explicit = Kustomization::test("c");
        explicit.spec.timeout = Some(GoDuration::from("2m"));
        assert_eq!(explicit.timeout(), Ok(std::time::Duration::from_secs(120)));
        assert_eq!(ks.retry_interval(), Ok(std::time::Duration::from_secs(300)));
        assert_eq!(ks.deletion_policy(), DeletionPolicy::MirrorPrune);
    }
}
