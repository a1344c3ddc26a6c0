//! Kustomize building blocks that a Kustomization spec embeds (Flux's
//! `fluxcd/pkg/apis/kustomize`): image overrides, patches with their target
//! selector, and CEL health check expressions.
//!
//! Owns the shapes only. Matching a [`Selector`] against objects and
//! applying a [`Patch`] belong to the render crate.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Replaces an image's name, tag or digest wherever it is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The image name to match, without tag.
    pub name: String,
    /// The name to replace it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// The tag to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// The digest to set; `newTag` is ignored when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Selects objects: all conditions given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// API group of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the objects (a regular expression in Kustomize).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A label selector expression matched against annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// A label selector expression matched against labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// A strategic merge or JSON 6902 patch, inline, with the objects it targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Patch {
    /// The patch document (YAML or JSON).
    pub patch: String,
    /// The objects the patch applies to; for a strategic merge patch the
    /// patch's own apiVersion/kind/name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Health of a custom resource kind judged by CEL expressions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomHealthCheck {
    /// API version of the kind the expressions apply to.
    pub api_version: String,
    /// The kind the expressions apply to.
    pub kind: String,
    /// True when the object reached its desired state.
    pub current: String,
    /// True while the object has not yet reached its desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// True when the object failed to reach its desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}
