//! `HelmRelease` (`helm.toolkit.fluxcd.io/v2`): a Helm release — which
//! chart, which values, how to install, upgrade, test, roll back and
//! uninstall it — and what the last reconcile did.
//!
//! Owns the resource's shape, its CRD metadata and Flux's derived names and
//! defaults (release name with its 53-character shortening, target and
//! storage namespaces, the name of the HelmChart made for `spec.chart`,
//! timeouts and history). Must not render, install or store releases: the
//! chart, apply and controller crates do that.

mod actions;
mod status;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use actions::{
    CrdsPolicy, Install, InstallRemediation, Remediation, RemediationStrategy, Rollback, Test,
    TestFilter, Uninstall, Upgrade, UpgradeRemediation,
};
pub use status::{HelmReleaseStatus, ReleaseAction, Snapshot, TestHookStatus};

use crate::helmchart::{OciRepositoryVerification, ReconcileStrategy};
use crate::kustomize::{Image, Patch, Selector};
use crate::meta::{KubeConfigReference, NamespacedObjectReference};
use crate::{CommonMetadata, GoDuration, is_false};

/// Helm's limit on a release name's length.
pub const MAX_RELEASE_NAME_LENGTH: usize = 53;

/// Desired state of a HelmRelease.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats `type_`; they are separate columns"
)]
#[kube(
    group = "helm.toolkit.fluxcd.io",
    version = "v2",
    kind = "HelmRelease",
    plural = "helmreleases",
    singular = "helmrelease",
    namespaced,
    status = "HelmReleaseStatus",
    shortname = "hr",
    category = "all",
    category = "fluxcd",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "HelmRelease is the Schema for the helmreleases API.",
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
pub struct HelmReleaseSpec {
    /// Template of the HelmChart made for this release (exclusive with
    /// `chartRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,
    /// A chart source: an OCIRepository, HelmChart or ExternalArtifact
    /// (exclusive with `chart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<ChartSourceReference>,
    /// How often to reconcile the release.
    pub interval: GoDuration,
    /// A remote cluster's kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,
    /// Stops reconciling while true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// The release's name; `[targetNamespace-]name` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,
    /// Namespace the release installs into; this object's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,
    /// Namespace of the release records; this object's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,
    /// HelmReleases (or Kustomizations, by `kind`) that must be ready first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<DependencyReference>>,
    /// Time limit of each Kubernetes operation of an action; 5m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Release revisions kept; 5 when unset, 0 for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,
    /// ServiceAccount to impersonate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Reuse one client for the whole reconcile; true when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,
    /// Whether and how cluster drift from the release is detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,
    /// Install settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
    /// Upgrade settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
    /// Test settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Rollback settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Uninstall settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,
    /// ConfigMaps and Secrets whose values are merged, in order, before
    /// `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_from: Option<Vec<ValuesReference>>,
    /// Values, merged last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json_schema")]
    pub values: Option<serde_json::Value>,
    /// Kustomize patches and images applied to the rendered objects, in
    /// order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_renderers: Option<Vec<PostRenderer>>,
    /// Labels and annotations added to every object of the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
}

/// The HelmChart made for a HelmRelease's `spec.chart`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplate {
    /// Labels and annotations of the HelmChart.
    #[serde(default, rename = "metadata", skip_serializing_if = "Option::is_none")]
    pub object_meta: Option<HelmChartTemplateObjectMeta>,
    /// The HelmChart's spec.
    pub spec: HelmChartTemplateSpec,
}

/// Labels and annotations of a templated HelmChart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HelmChartTemplateObjectMeta {
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The spec of a templated HelmChart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// Chart name in a HelmRepository, or its path in a GitRepository or
    /// Bucket.
    #[schemars(length(min = 1, max = 2048))]
    pub chart: String,
    /// Semver range; `*` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "*"))]
    pub version: Option<String>,
    /// Where the chart is.
    pub source_ref: CrossNamespaceObjectReference,
    /// How often the HelmChart checks its source; the HelmRelease's
    /// interval when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// `ChartVersion` (default) or `Revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ChartVersion"))]
    pub reconcile_strategy: Option<ReconcileStrategy>,
    /// Values files merged into the chart's `values.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_files: Option<Vec<String>>,
    /// Skip missing values files.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_values_files: bool,
    /// Signature verification of OCI charts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<OciRepositoryVerification>,
}

/// The source of a templated HelmChart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket`.
    pub kind: crate::HelmChartSourceKind,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; the HelmRelease's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A chart artifact a HelmRelease uses directly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChartSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `HelmChart` or `ExternalArtifact`.
    pub kind: ChartSourceKind,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; the HelmRelease's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Kinds a `chartRef` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ChartSourceKind {
    /// A chart pushed to a registry.
    OCIRepository,
    /// A HelmChart object.
    HelmChart,
    /// An artifact some other controller produced.
    ExternalArtifact,
}

/// A dependency: a HelmRelease by default, or another kind by `kind`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// API version of the dependency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the dependency; `HelmRelease` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the dependency.
    pub name: String,
    /// Namespace of the dependency; the HelmRelease's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CEL expression replacing the built-in readiness check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

impl From<NamespacedObjectReference> for DependencyReference {
    fn from(reference: NamespacedObjectReference) -> Self {
        DependencyReference {
            name: reference.name,
            namespace: reference.namespace,
            ..DependencyReference::default()
        }
    }
}

/// Values from a ConfigMap or Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `Secret` or `ConfigMap`.
    pub kind: ValuesKind,
    /// Its name, in the HelmRelease's namespace.
    pub name: String,
    /// The data key; `values.yaml` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[\-._a-zA-Z0-9]+$"))]
    pub values_key: Option<String>,
    /// A dotted path (`a.b[0].c`) the single value is set at; the whole
    /// document is merged at the root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    /// A missing object or key is skipped instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

impl ValuesReference {
    /// The data key, `values.yaml` when unset.
    pub fn values_key(&self) -> &str {
        self.values_key.as_deref().unwrap_or("values.yaml")
    }
}

/// Kinds values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ValuesKind {
    /// A Secret's `data`.
    Secret,
    /// A ConfigMap's `data`.
    ConfigMap,
}

/// A post-renderer: Kustomize patches and images over the rendered objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostRenderer {
    /// The Kustomize settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<PostRendererKustomize>,
}

/// Kustomize settings of a post-renderer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PostRendererKustomize {
    /// Strategic-merge and JSON 6902 patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<Patch>>,
    /// Image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<Image>>,
}

/// Drift detection settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftDetection {
    /// `enabled`, `warn` or `disabled` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriftDetectionMode>,
    /// Changes to leave alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<DriftIgnoreRule>>,
}

/// How drift is handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftDetectionMode {
    /// Detect and correct.
    Enabled,
    /// Detect and warn.
    Warn,
    /// Neither.
    #[default]
    Disabled,
}

/// JSON pointers to leave alone, on the objects a selector picks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftIgnoreRule {
    /// JSON pointers (RFC 6901).
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Any JSON document, kept as written (Flux's `apiextensionsv1.JSON`).
fn any_json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"x-kubernetes-preserve-unknown-fields": true})
}

/// Helm's release name rule (`chartutil.ValidateReleaseName`): dot-separated
/// lowercase DNS labels, at most 53 characters in all.
#[must_use]
pub fn is_valid_release_name(name: &str) -> bool {
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-')
    };
    name.len() <= MAX_RELEASE_NAME_LENGTH && name.split('.').all(label_ok)
}

/// Helm's shortening of long release names: names over 53 characters become their first
/// 40 characters, `-`, and the first 12 hex digits of their SHA-256.
pub fn shorten_release_name(name: &str) -> String {
    if name.len() <= MAX_RELEASE_NAME_LENGTH {
        return name.to_string();
    }
    const HASH_LENGTH: usize = 12;
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    let keep = MAX_RELEASE_NAME_LENGTH - HASH_LENGTH - 1;
    // Release names are DNS labels (ASCII); a non-ASCII name is cut on the
    // nearest character boundary rather than panicking.
    let mut cut = keep;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{}", &name[..cut], &digest[..HASH_LENGTH])
}

impl HelmRelease {
    /// The release name: `spec.releaseName`, else `[targetNamespace-]name`,
    /// shortened as Flux does past 53 characters.
    pub fn release_name(&self) -> String {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        let full = match (&self.spec.release_name, &self.spec.target_namespace) {
            (Some(release_name), _) => release_name.clone(),
            (None, Some(target)) => format!("{target}-{name}"),
            (None, None) => name.to_string(),
        };
        shorten_release_name(&full)
    }

    /// The namespace the release installs into.
    pub fn release_namespace(&self) -> &str {
        self.spec
            .target_namespace
            .as_deref()
            .or(self.metadata.namespace.as_deref())
            .unwrap_or("default")
    }

    /// The namespace of the release records.
    pub fn storage_namespace(&self) -> &str {
        self.spec
            .storage_namespace
            .as_deref()
            .or(self.metadata.namespace.as_deref())
            .unwrap_or("default")
    }

    /// The name of the HelmChart made for `spec.chart`:
    /// `<namespace>-<name>`.
    pub fn helm_chart_name(&self) -> String {
        format!(
            "{}-{}",
            self.metadata.namespace.as_deref().unwrap_or("default"),
            self.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// `spec.timeout`, 5 minutes when unset or unreadable.
    pub fn timeout(&self) -> Duration {
        self.spec
            .timeout
            .as_ref()
            .and_then(|t| t.to_std().ok())
            .unwrap_or(Duration::from_secs(300))
    }

    /// `spec.maxHistory`, 5 when unset.
    pub fn max_history(&self) -> i64 {
        self.spec.max_history.unwrap_or(5)
    }

    /// The drift detection mode, `disabled` when unset.
    pub fn drift_detection_mode(&self) -> DriftDetectionMode {
        self.spec
            .drift_detection
            .as_ref()
            .and_then(|d| d.mode)
            .unwrap_or_default()
    }

    /// The conditions in the status, empty when there are none.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }

    /// The newest release snapshot in the status.
    pub fn latest_snapshot(&self) -> Option<&Snapshot> {
        self.status
            .as_ref()?
            .history
            .as_ref()?
            .iter()
            .max_by_key(|s| s.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_release_names_are_shortened_with_a_hash() {
        assert_eq!(shorten_release_name("podinfo"), "podinfo");
        let exactly = "a".repeat(53);
        assert_eq!(shorten_release_name(&exactly), exactly);
        let long = "some-front-appended-namespace-release-with-a-very-long-name";
        let short = shorten_release_name(long);
        assert_eq!(short.len(), 53);
        assert!(short.starts_with("some-front-appended-namespace-release-wi-"));
        let digest = hex::encode(Sha256::digest(long.as_bytes()));
        assert_eq!(&short[41..], &digest[..12]);
    }
}
