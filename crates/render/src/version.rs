//! Which Kustomize release a build reproduces.
//!
//! `kubectl kustomize` in kubectl 1.32 is Kustomize v5.5.0; Flux's newest
//! kustomize-controller links Kustomize v5.8.1. On everything Kustomize's
//! own v5.5.0 test suite covers the two print the same; they part where
//! v5.8 fixed or added something:
//! - a patch file with no content (empty, blank or only comments) in
//!   `patches`: v5.5.0 refuses it, v5.8.1 ignores it;
//! - a `patches` file whose `$patch: delete` document is followed by
//!   another document: v5.5.0 crashes on it (we refuse it), v5.8.1 applies
//!   both;
//! - `replacements` selectors: v5.8.1 reads `kind`, `name`, `namespace`,
//!   `group` and `version` as anchored regular expressions, v5.5.0 as
//!   exact text;
//! - `buildMetadata: [managedByLabel]` stamps its version:
//!   `kustomize-(devel)` from kubectl 1.32, `kustomize-v5.8.1` from v5.8.1.

/// The Kustomize release whose behaviour a build follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KustomizeVersion {
    /// Kustomize v5.5.0, as `kubectl kustomize` (kubectl 1.32) prints.
    #[default]
    V5_5_0,
    /// Kustomize v5.8.1, as Flux's newest kustomize-controller renders.
    V5_8_1,
}

impl KustomizeVersion {
    /// What Flux's newest kustomize-controller links.
    pub const FLUX: KustomizeVersion = KustomizeVersion::V5_8_1;

    /// The `app.kubernetes.io/managed-by` value for `managedByLabel`.
    pub fn managed_by(self) -> &'static str {
        match self {
            KustomizeVersion::V5_5_0 => "kustomize-(devel)",
            KustomizeVersion::V5_8_1 => "kustomize-v5.8.1",
        }
    }

    /// Whether replacement selectors are regular expressions.
    pub fn regex_replacement_selectors(self) -> bool {
        self == KustomizeVersion::V5_8_1
    }

    /// Whether a patch file without content is skipped (else refused).
    pub fn skips_empty_patches(self) -> bool {
        self == KustomizeVersion::V5_8_1
    }

    /// Whether a `patches` file may go on after a `$patch: delete` document.
    pub fn patches_continue_after_delete(self) -> bool {
        self == KustomizeVersion::V5_8_1
    }

    /// The release's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            KustomizeVersion::V5_5_0 => "Kustomize v5.5.0",
            KustomizeVersion::V5_8_1 => "Kustomize v5.8.1",
        }
    }
}
