//! Who an applier acts as: the controller's own identity, or a
//! `spec.serviceAccountName` in the object's namespace, impersonated (as
//! Flux does), so RBAC bounds what a Kustomization or HelmRelease may change.
//!
//! Owns the cache of impersonating clients (one per service account, with
//! the shared discovery cache of its applier). Must not decide apply
//! options: each kind passes its own.

use driftless_api::conditions::reasons;
use driftless_apply::{Applier, ApplyOptions};

use crate::Context;
use crate::reconciler::ReconcileError;

/// An applier with `options`, acting as the controller or, with
/// `service_account`, as `system:serviceaccount:<namespace>:<account>`.
pub(crate) fn applier_as(
    context: &Context,
    namespace: &str,
    service_account: Option<&str>,
    options: ApplyOptions,
) -> Result<Applier, ReconcileError> {
    let Some(account) = service_account else {
        return Ok(context.applier.with_options(options));
    };
    let user = format!("system:serviceaccount:{namespace}:{account}");
    let mut cache = context.impersonating.lock().expect("applier cache lock");
    if let Some(applier) = cache.get(&user) {
        return Ok(applier.with_options(options));
    }
    let client = impersonating_client(context, namespace, &user)?;
    let applier = Applier::new(client, ApplyOptions::default());
    cache.insert(user, applier.clone());
    Ok(applier.with_options(options))
}

/// A client acting as `user` (a service account of `namespace`) with its
/// groups, for reads that must respect the same RBAC as the apply.
pub(crate) fn impersonating_client(
    context: &Context,
    namespace: &str,
    user: &str,
) -> Result<kube::Client, ReconcileError> {
    let mut config = context.kube_config.clone();
    config.auth_info.impersonate = Some(user.to_owned());
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
    ]);
    crate::client_metrics::client(config, context.metrics.clone()).map_err(|e| {
        ReconcileError::retryable(
            reasons::RECONCILIATION_FAILED,
            format!("cannot build a client impersonating {user}: {e}"),
        )
    })
}
