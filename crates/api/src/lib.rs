//! Flux-compatible API types: the sources (`GitRepository`,
//! `HelmRepository`, `HelmChart`, `OCIRepository`), the appliers
//! (`Kustomization`, `HelmRelease`), notifications, their CRDs, and the status vocabulary (conditions,
//! artifact, inventory).
//!
//! This is the first stage of the pipeline and the contract between all
//! others: the source crate fills a [`GitRepository`]'s status, the
//! controller reads a [`Kustomization`]'s spec and writes its status and
//! [`inventory`]. Field names, enums, defaults and validation follow Flux's
//! v1 API reference, so objects written for Flux apply unchanged and a
//! cluster Flux managed keeps its status and inventory.
//!
//! It must not do I/O: no network, no files, no cluster, no clock (time is
//! always a parameter, see [`conditions::set_condition`]).
//!
//! Key choices:
//! - The CRDs are generated from the Rust types (kube's derive with
//!   structural-schema rewriting), so the schema cannot drift from the code;
//!   [`crds`] adds the one Flux default the derive cannot express.
//! - Durations stay Flux's text ([`GoDuration`]) and are parsed on use, so a
//!   stored object always deserializes.
//! - Go's `omitempty` strings are `Option<String>` and its omitempty bools
//!   are `bool`s skipped when false, so our objects serialize as Flux's do.
//!
//! | item | what |
//! |---|---|
//! | [`GitRepository`], [`GitRepositorySpec`], [`GitRepositoryStatus`] | `source.toolkit.fluxcd.io/v1` |
//! | [`Kustomization`], [`KustomizationSpec`], [`KustomizationStatus`] | `kustomize.toolkit.fluxcd.io/v1` |
//! | [`HelmRepository`], [`HelmChart`], [`OCIRepository`], [`ExternalArtifact`] | `source.toolkit.fluxcd.io/v1` |
//! | [`ArtifactGenerator`] | `source.extensions.fluxcd.io/v1beta1` |
//! | [`HelmRelease`] ([`helmrelease`]) | `helm.toolkit.fluxcd.io/v2` |
//! | [`ImageRepository`], [`ImagePolicy`], [`ImageUpdateAutomation`] ([`image`]) | `image.toolkit.fluxcd.io/v1` |
//! | [`Provider`], [`Alert`] | `notification.toolkit.fluxcd.io/v1beta3` |
//! | [`Receiver`] | `notification.toolkit.fluxcd.io/v1` |
//! | [`crds`], [`crds_yaml`] | the CRDs, as objects or a YAML stream |
//! | [`conditions`] | condition types, reasons, constructors, merge |
//! | [`inventory`] | `<ns>_<name>_<group>_<kind>` ids |
//! | [`meta`] | artifact, revision, digest, references |
//! | [`annotations`] | Flux's annotation and label keys |
//! | [`FluxObject`], [`managers`] | the status accessors every kind shares; field managers |
//!
//! ```
//! use driftless_api::{GitRepository, Kustomization};
//! let repo: GitRepository = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "source.toolkit.fluxcd.io/v1",
//!     "kind": "GitRepository",
//!     "metadata": {"name": "podinfo", "namespace": "flux-system"},
//!     "spec": {"interval": "5m", "url": "https://github.com/stefanprodan/podinfo",
//!              "ref": {"branch": "master"}}
//! })).unwrap();
//! assert_eq!(repo.spec.reference.unwrap().branch.as_deref(), Some("master"));
//! assert_eq!(driftless_api::crds().len(), 14);
//! let ks = Kustomization::test("apps").suspended();
//! assert!(ks.spec.suspend);
//! ```

mod artifactgenerator;
pub mod conditions;
mod crd;
pub mod duration;
mod externalartifact;
mod gitrepository;
mod helmchart;
pub mod helmrelease;
mod helmrepository;
pub mod image;
pub mod inventory;
mod kustomization;
pub mod kustomize;
pub mod meta;
mod notification;
mod object;
mod ocirepository;
#[cfg(test)]
mod roundtrip_tests;

pub use artifactgenerator::{
    ArtifactGenerator, ArtifactGeneratorSpec, ArtifactGeneratorStatus, CopyOperation, CopyStrategy,
    ExternalArtifactReference, GENERATOR_LABEL, GeneratorSourceKind, ORIGIN_REVISION_KEY,
    OutputArtifact, RECONCILE_ANNOTATION as GENERATOR_RECONCILE_ANNOTATION, SourceReference,
};
pub use crd::{CrdError, crds, crds_yaml, root_schema};
pub use duration::{DurationError, GoDuration};
pub use externalartifact::{ExternalArtifact, ExternalArtifactSpec, ExternalArtifactStatus};
pub use gitrepository::{
    GitProvider, GitRepository, GitRepositoryInclude, GitRepositoryRef, GitRepositorySpec,
    GitRepositoryStatus, GitRepositoryVerification, GitVerificationMode, URL_PATTERN,
};
pub use helmchart::{
    HelmChart, HelmChartSourceKind, HelmChartSpec, HelmChartStatus, LocalHelmChartSourceReference,
    OciRepositoryVerification, OidcIdentityMatch, ReconcileStrategy,
};
pub use helmrelease::{HelmRelease, HelmReleaseSpec, HelmReleaseStatus};
pub use helmrepository::{
    HELM_REPOSITORY_URL_PATTERN, HelmRepository, HelmRepositorySpec, HelmRepositoryStatus,
    HelmRepositoryType,
};
pub use image::{
    ImagePolicy, ImagePolicySpec, ImagePolicyStatus, ImageRef, ImageRepository,
    ImageRepositorySpec, ImageRepositoryStatus, ImageUpdateAutomation, ImageUpdateAutomationSpec,
    ImageUpdateAutomationStatus,
};
pub use kustomization::{
    CommonMetadata, CrossNamespaceSourceReference, Decryption, DecryptionProvider, DeletionPolicy,
    DependencyReference, DriftIgnoreRule, Kustomization, KustomizationSpec, KustomizationStatus,
    PostBuild, SourceKind, SubstituteKind, SubstituteReference,
};
pub use notification::{
    Alert, AlertSpec, EventSeverity, EventSource, Provider, ProviderSpec, ProviderType, Receiver,
    ReceiverResource, ReceiverSpec, ReceiverStatus, ReceiverType,
};
pub use object::{FluxObject, managers};
pub use ocirepository::{
    OCI_URL_PATTERN, OCILayerOperation, OCILayerSelector, OCIRepository, OCIRepositoryRef,
    OCIRepositorySpec, OCIRepositoryStatus,
};

/// Annotation and label keys of Flux's API that our objects and the
/// objects we apply carry.
pub mod annotations {
    /// Set (to any new value) to request a reconcile now; echoed in
    /// `status.lastHandledReconcileAt`.
    pub const RECONCILE_REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
    /// `disabled` on an object stops reconciling it.
    pub const RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";
    /// Per-object apply mode: `IfNotPresent`, `Ignore` or `Merge`.
    pub const SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
    /// `disabled` on an object keeps it from being pruned.
    pub const PRUNE: &str = "kustomize.toolkit.fluxcd.io/prune";
    /// `enabled` on an object lets it be recreated on immutable changes.
    pub const FORCE: &str = "kustomize.toolkit.fluxcd.io/force";
    /// `disabled` on an object skips post-build substitution for it.
    pub const SUBSTITUTE: &str = "kustomize.toolkit.fluxcd.io/substitute";
    /// Label: the name of the Kustomization that applied the object.
    pub const OWNER_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
    /// Label: the namespace of the Kustomization that applied the object.
    pub const OWNER_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
    /// The value that turns a feature off.
    pub const DISABLED: &str = "disabled";
    /// The value that turns a feature on.
    pub const ENABLED: &str = "enabled";

    /// The reconcile request an object carries that its status has not yet
    /// handled: the value of [`RECONCILE_REQUESTED_AT`] when it differs from
    /// `last_handled` (the status's `lastHandledReconcileAt`). The
    /// reconciler copies the returned value into the status when done.
    pub fn pending_reconcile_request<'a>(
        metadata: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        last_handled: Option<&str>,
    ) -> Option<&'a str> {
        let requested = metadata.annotations.as_ref()?.get(RECONCILE_REQUESTED_AT)?;
        (Some(requested.as_str()) != last_handled).then_some(requested.as_str())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::GitRepository;

        #[test]
        fn a_request_is_pending_until_handled() {
            let mut repo = GitRepository::test("app");
            assert_eq!(pending_reconcile_request(&repo.metadata, None), None);
            repo.metadata.annotations = Some(
                [(
                    RECONCILE_REQUESTED_AT.to_string(),
                    "2026-03-01T10:00:00Z".to_string(),
                )]
                .into(),
            );
            assert_eq!(
                pending_reconcile_request(&repo.metadata, None),
                Some("2026-03-01T10:00:00Z")
            );
            assert_eq!(
                pending_reconcile_request(&repo.metadata, Some("2026-02-01T10:00:00Z")),
                Some("2026-03-01T10:00:00Z")
            );
            assert_eq!(
                pending_reconcile_request(&repo.metadata, Some("2026-03-01T10:00:00Z")),
                None
            );
        }
    }
}

/// For `skip_serializing_if`: Go's `omitempty` on a bool.
fn is_false(value: &bool) -> bool {
    !*value
}
