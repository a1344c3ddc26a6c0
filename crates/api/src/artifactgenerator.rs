//! `ArtifactGenerator` (`source.extensions.fluxcd.io/v1beta1`, Flux's
//! source-watcher): composes new artifacts from files of other sources'
//! artifacts (`spec.sources`, by alias) and publishes each as an
//! [`ExternalArtifact`](crate::ExternalArtifact) that Kustomizations and
//! HelmReleases consume.
//!
//! Owns the resource's shape, CRD metadata and the label/annotation keys
//! source-watcher puts on what it generates. Must not read or write
//! artifacts: the controller does.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::CommonMetadata;

/// Label on each generated ExternalArtifact: the generator's UID.
pub const GENERATOR_LABEL: &str = "source.extensions.fluxcd.io/generator";
/// Annotation `disabled` (any case) on a generator stops reconciling it.
pub const RECONCILE_ANNOTATION: &str = "source.extensions.fluxcd.io/reconcile";
/// Artifact metadata key holding the origin revision (`originRevision`).
pub const ORIGIN_REVISION_KEY: &str = "org.opencontainers.image.revision";

/// The alias pattern of `spec.sources[].alias` (lower case, `_` and `-`).
const ALIAS_PATTERN: &str = "^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$";
/// `@<alias>`, as `revision` and `originRevision` take it.
const ALIAS_REF_PATTERN: &str = "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$";
/// `@<alias>/<pattern>`, as `from` takes it.
const FROM_PATTERN: &str = "^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)/(.*)$";
/// `@artifact/<path>`, as `to` takes it.
const TO_PATTERN: &str = "^@(artifact)/(.*)$";

/// Desired state of an ArtifactGenerator.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats `type_`; they are separate columns"
)]
#[kube(
    group = "source.extensions.fluxcd.io",
    version = "v1beta1",
    kind = "ArtifactGenerator",
    plural = "artifactgenerators",
    singular = "artifactgenerator",
    namespaced,
    status = "ArtifactGeneratorStatus",
    shortname = "ag",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "ArtifactGenerator is the Schema for the artifactgenerators API.",
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
pub struct ArtifactGeneratorSpec {
    /// Labels and annotations put on every generated ExternalArtifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,
    /// The sources whose artifacts the copy operations read, by alias.
    #[schemars(length(min = 1, max = 1000))]
    pub sources: Vec<SourceReference>,
    /// Directory discovery (`@<alias>/<pattern>` with `{captures}`): one
    /// artifact per matched directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = FROM_PATTERN), length(max = 1024))]
    pub path_pattern: Option<String>,
    /// The artifacts to generate.
    #[serde(rename = "artifacts")]
    #[schemars(length(min = 1, max = 1000))]
    pub output_artifacts: Vec<OutputArtifact>,
}

/// A source whose artifact the generator reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceReference {
    /// The name copy operations use for it (`@alias/...`), unique in the generator.
    #[schemars(regex(pattern = ALIAS_PATTERN), length(max = 63))]
    pub alias: String,
    /// The source's name.
    #[schemars(length(max = 253))]
    pub name: String,
    /// The source's namespace; the generator's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
    /// The source's kind.
    pub kind: GeneratorSourceKind,
}

/// The kinds a generator can read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GeneratorSourceKind {
    /// `source.toolkit.fluxcd.io/v1` Bucket.
    Bucket,
    /// `source.toolkit.fluxcd.io/v1` GitRepository.
    #[default]
    GitRepository,
    /// `source.toolkit.fluxcd.io/v1` OCIRepository.
    OCIRepository,
    /// `source.toolkit.fluxcd.io/v1` HelmChart.
    HelmChart,
    /// `source.toolkit.fluxcd.io/v1` ExternalArtifact.
    ExternalArtifact,
}

impl GeneratorSourceKind {
    /// The kind's name, as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            GeneratorSourceKind::Bucket => "Bucket",
            GeneratorSourceKind::GitRepository => "GitRepository",
            GeneratorSourceKind::OCIRepository => "OCIRepository",
            GeneratorSourceKind::HelmChart => "HelmChart",
            GeneratorSourceKind::ExternalArtifact => "ExternalArtifact",
        }
    }
}

/// One ExternalArtifact to generate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputArtifact {
    /// The ExternalArtifact's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// `@alias`: take that source's revision; unset: `latest@<digest>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ALIAS_REF_PATTERN), length(max = 64))]
    pub revision: Option<String>,
    /// `@alias`: record that source's origin revision (else its revision)
    /// under `org.opencontainers.image.revision` in the artifact metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = ALIAS_REF_PATTERN), length(max = 64))]
    pub origin_revision: Option<String>,
    /// The copy operations, applied in order (later ones overwrite).
    #[schemars(length(min = 1))]
    pub copy: Vec<CopyOperation>,
}

/// Files copied from a source into the artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyOperation {
    /// `@alias/<glob or path>`.
    #[schemars(regex(pattern = FROM_PATTERN), length(min = 1, max = 1024))]
    pub from: String,
    /// `@artifact/<path>`; a trailing `/` names a directory.
    #[schemars(regex(pattern = TO_PATTERN), length(min = 1, max = 1024))]
    pub to: String,
    /// Globs of files to leave out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub exclude: Vec<String>,
    /// How a file lands on one already there; `Overwrite` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<CopyStrategy>,
}

/// How a copied file meets the destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CopyStrategy {
    /// Replace the destination file.
    #[default]
    Overwrite,
    /// Deep-merge YAML into the destination file (Helm's values merge).
    Merge,
    /// Unpack a `.tar.gz`/`.tgz` into the destination directory.
    Extract,
}

/// Observed state of an ArtifactGenerator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactGeneratorStatus {
    /// The last `reconcile.fluxcd.io/requestedAt` handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Ready, Reconciling, Stalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The ExternalArtifacts generated by the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Vec<ExternalArtifactReference>>,
    /// A digest of every source's artifact (digest, revision, URL) the
    /// last success was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sources_digest: Option<String>,
}

/// A generated ExternalArtifact and its artifact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalArtifactReference {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its artifact's digest.
    pub digest: String,
    /// Its artifact's file name in storage.
    pub filename: String,
}

impl ArtifactGenerator {
    /// The conditions in the status, empty when there are none.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }

    /// The generated ExternalArtifacts, empty when there are none.
    pub fn inventory(&self) -> &[ExternalArtifactReference] {
        self.status
            .as_ref()
            .and_then(|s| s.inventory.as_deref())
            .unwrap_or_default()
    }

    /// Whether [`RECONCILE_ANNOTATION`] is `disabled` (any case).
    pub fn is_disabled(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a: &BTreeMap<String, String>| a.get(RECONCILE_ANNOTATION))
            .is_some_and(|v| v.eq_ignore_ascii_case("disabled"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_source_watchers_example() {
        let generator: ArtifactGenerator = serde_json::from_value(serde_json::json!({
            "apiVersion": "source.extensions.fluxcd.io/v1beta1",
            "kind": "ArtifactGenerator",
            "metadata": {"name": "podinfo", "namespace": "apps",
                         "annotations": {RECONCILE_ANNOTATION: "Disabled"}},
            "spec": {
                "sources": [{"alias": "chart", "kind": "OCIRepository", "name": "podinfo-chart"}],
                "artifacts": [{"name": "podinfo-composite", "originRevision": "@chart",
                    "copy": [{"from": "@chart/", "to": "@artifact/"},
                             {"from": "@chart/values-prod.yaml", "to": "@artifact/podinfo/values.yaml",
                              "strategy": "Merge", "exclude": ["*.md"]}]}]
            }
        }))
        .expect("parses");
        assert!(generator.is_disabled());
        let artifact = &generator.spec.output_artifacts[0];
        assert_eq!(artifact.origin_revision.as_deref(), Some("@chart"));
        assert_eq!(artifact.copy[1].strategy, Some(CopyStrategy::Merge));
        assert_eq!(
            generator.spec.sources[0].kind,
            GeneratorSourceKind::OCIRepository
        );
        let back = serde_json::to_value(&generator.spec).expect("serializes");
        assert_eq!(back["artifacts"][0]["copy"][1]["exclude"][0], "*.md");
        assert!(back["artifacts"][0].get("revision").is_none());
    }
}
