//! The ImagePolicies an automation applies: those of its namespace its
//! `policySelector` matches and that have elected an image (Flux skips the
//! others), keyed as the setter markers name them.

use std::collections::BTreeMap;

use driftless_api::conditions::reasons;
use driftless_api::image::ImageRef;
use driftless_api::{ImagePolicy, ImageUpdateAutomation};
use driftless_image::setters::{ImageRef as SetterImage, PolicyRef};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::core::Selector;

use crate::reconciler::ReconcileError;

/// The policies that take part, by name (the key of
/// `status.observedPolicies`).
pub(super) type Observed = BTreeMap<String, ImageRef>;

/// The elected images of the selected policies, by policy name.
pub(super) async fn selected(
    automation: &ImageUpdateAutomation,
    client: &kube::Client,
) -> Result<Observed, ReconcileError> {
    let namespace = automation.namespace().unwrap_or_default();
    let mut params = ListParams::default();
    if let Some(selector) = &automation.spec.policy_selector {
        let selector = Selector::try_from(selector.clone()).map_err(|e| {
            ReconcileError::stalled(
                reasons::INVALID_POLICY_SELECTOR,
                format!("failed to parse policy selector: spec.policySelector: {e}"),
            )
        })?;
        params = params.labels_from(&selector);
    }
    let api: Api<ImagePolicy> = Api::namespaced(client.clone(), &namespace);
    let list = api.list(&params).await.map_err(|e| {
        ReconcileError::retryable(
            reasons::RECONCILIATION_FAILED,
            format!("failed to list the ImagePolicies of namespace '{namespace}': {e}"),
        )
    })?;
    Ok(list
        .items
        .iter()
        .filter_map(|policy| Some((policy.name_any(), policy.latest_ref()?.clone())))
        .collect())
}

/// The policies as the setters address them (`<namespace>:<name>` in a
/// marker), with their images.
pub(super) fn for_setters(
    namespace: &str,
    observed: &Observed,
) -> BTreeMap<PolicyRef, SetterImage> {
    observed
        .iter()
        .map(|(name, image)| {
            let image = SetterImage {
                name: image.name.clone(),
                tag: image.tag.clone(),
                digest: Some(image.digest.clone()).filter(|d| !d.is_empty()),
            };
            (PolicyRef::new(namespace, name), image)
        })
        .collect()
}
