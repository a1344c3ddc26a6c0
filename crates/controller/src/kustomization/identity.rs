//! Who a Kustomization applies as, and how: the controller's own identity
//! or, with `spec.serviceAccountName`, that account impersonated (as Flux
//! does, so RBAC bounds what it may change); its ownership labels, `force`,
//! drift ignore rules and field manager.

use std::collections::BTreeMap;

use driftless_api::{Kustomization, annotations};
use driftless_apply::{Applier, ApplyOptions, IgnoreRule, IgnoreTarget};
use kube::ResourceExt;

use crate::Context;
use crate::reconciler::ReconcileError;

/// The applier for `ks`: the controller's own identity, or with
/// `spec.serviceAccountName` that service account, impersonated (as Flux
/// does), so RBAC limits what the Kustomization can change.
pub(super) fn applier_for(
    ks: &Kustomization,
    context: &Context,
) -> Result<Applier, ReconcileError> {
    crate::impersonation::applier_as(
        context,
        &ks.namespace().unwrap_or_default(),
        ks.spec.service_account_name.as_deref(),
        apply_options(ks, &context.options.field_manager),
    )
}

/// How a Kustomization's objects are applied: its ownership labels, its
/// `force`, and the field manager.
pub fn apply_options(ks: &Kustomization, field_manager: &str) -> ApplyOptions {
    let owner_labels = BTreeMap::from([
        (annotations::OWNER_NAME_LABEL.to_owned(), ks.name_any()),
        (
            annotations::OWNER_NAMESPACE_LABEL.to_owned(),
            ks.namespace().unwrap_or_default(),
        ),
    ]);
    let ignore_rules = ks
        .spec
        .drift_ignore_rules
        .iter()
        .flatten()
        .map(|rule| IgnoreRule {
            paths: rule.paths.clone(),
            target: rule.target.as_ref().map(|t| IgnoreTarget {
                group: t.group.clone(),
                version: t.version.clone(),
                kind: t.kind.clone(),
                name: t.name.clone(),
                namespace: t.namespace.clone(),
                label_selector: t.label_selector.clone(),
                annotation_selector: t.annotation_selector.clone(),
            }),
        })
        .collect();
    ApplyOptions {
        field_manager: field_manager.to_owned(),
        owner_labels,
        force: ks.spec.force,
        concurrency: 8,
        ignore_rules,
        default_namespace: None,
    }
}
