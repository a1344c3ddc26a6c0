//! The image automation kinds (`image.toolkit.fluxcd.io/v1`):
//! [`ImageRepository`] (a registry repository's tags, scanned),
//! [`ImagePolicy`] (the latest tag by a rule) and [`ImageUpdateAutomation`]
//! (new tags committed to git at setter markers).
//!
//! Owns the resources' shape and CRD metadata, as Flux's image-reflector and
//! image-automation controllers define them. Must not scan registries or
//! write to git: the source, image and gitwrite crates do.

mod automation;
mod policy;
mod repository;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use automation::{
    AutomationSourceKind, AutomationSourceReference, ChangeRequestProvider, ChangeRequestSpec,
    CommitUser, GitCheckoutSpec, GitCommitSpec, GitPushSpec, GitSpec, ImageUpdateAutomation,
    ImageUpdateAutomationSpec, ImageUpdateAutomationStatus, SigningKey, SigningKeyType,
    UpdateStrategy, UpdateStrategyName,
};
pub use policy::{
    AlphabeticalPolicy, ImagePolicy, ImagePolicyChoice, ImagePolicySpec, ImagePolicyStatus,
    NumericalPolicy, ReflectionPolicy, SemVerPolicy, SortOrder, TagFilter,
};
pub use repository::{
    DEFAULT_EXCLUSION_LIST, ImageRepository, ImageRepositorySpec, ImageRepositoryStatus, ScanResult,
};

/// An image reference as the policies report it: name, tag, digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImageRef {
    /// The bare image name, e.g. `ghcr.io/org/app`.
    pub name: String,
    /// The tag.
    pub tag: String,
    /// The manifest digest, `sha256:…`, when reflected.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
}

impl std::fmt::Display for ImageRef {
    /// `name:tag`, then `@digest` when there is one (Flux's `ImageRef.String`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)?;
        if !self.digest.is_empty() {
            write!(f, "@{}", self.digest)?;
        }
        Ok(())
    }
}
