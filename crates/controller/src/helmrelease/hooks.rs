//! Helm hooks run the way Helm runs them: for one event (`pre-install`,
//! `post-upgrade`, …) every hook of that event in weight order (then by
//! name), each created fresh (`before-hook-creation`, the default delete
//! policy, removes the previous one first), waited for when it is a Job or
//! Pod, and deleted afterwards as its `hook-succeeded` / `hook-failed`
//! policy says. Hook objects are not part of the release's inventory.
//!
//! Owns the order and the delete policies. Must not render.

use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::inventory::ResourceRef;
use driftless_apply::Applier;
use driftless_chart::Hook;
use driftless_render::yaml::parse_manifests;

use crate::reconciler::ReconcileError;

/// Runs `event`'s hooks; a hook that fails stops the rest and fails the
/// action, naming the hook.
pub(super) async fn run(
    applier: &Applier,
    hooks: &[Hook],
    event: &str,
    timeout: Duration,
) -> Result<(), ReconcileError> {
    let mut selected: Vec<&Hook> = hooks
        .iter()
        .filter(|h| h.events.iter().any(|e| e == event))
        .collect();
    selected.sort_by(|a, b| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
    for hook in selected {
        run_one(applier, hook, event, timeout).await?;
    }
    Ok(())
}

async fn run_one(
    applier: &Applier,
    hook: &Hook,
    event: &str,
    timeout: Duration,
) -> Result<(), ReconcileError> {
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    let label = format!("{event} hook {} ({})", hook.name, hook.source);
    let objects: Vec<serde_json::Value> = parse_manifests(&hook.content)
        .map_err(|e| ReconcileError::stalled(reasons::BUILD_FAILED, format!("{label}: {e}")))?
        .iter()
        .map(driftless_render::to_json)
        .filter(|o| !o.is_null())
        .collect();
    let policies = &hook.delete_policies;
    let before_creation =
        policies.is_empty() || policies.iter().any(|p| p == "before-hook-creation");
    if before_creation {
        // The previous run's object, if it is still there, goes first so
        // the hook runs again from scratch.
        let previous = applier
            .diff(objects.clone())
            .await
            .map_err(|e| failed(format!("{label}: {e}")))?;
        let stale: Vec<ResourceRef> = previous
            .iter()
            .filter(|d| d.live.is_some())
            .map(|d| {
                let api_version = d.merged["apiVersion"].as_str().unwrap_or("v1");
                let version = api_version.rsplit('/').next().unwrap_or(api_version);
                ResourceRef::new(&d.id, version)
            })
            .collect();
        delete(applier, &stale, timeout, &label).await?;
    }
    let changes = applier
        .apply(objects)
        .await
        .map_err(|e| failed(format!("{label}: {e}")))?;
    let entries = changes.inventory().entries;
    let outcome = applier
        .wait_healthy(&entries, timeout)
        .await
        .map_err(|e| failed(format!("{label} failed: {e}")));
    let policy = if outcome.is_ok() {
        "hook-succeeded"
    } else {
        "hook-failed"
    };
    if policies.iter().any(|p| p == policy) {
        delete(applier, &entries, timeout, &label).await?;
    }
    outcome
}

async fn delete(
    applier: &Applier,
    refs: &[ResourceRef],
    timeout: Duration,
    label: &str,
) -> Result<(), ReconcileError> {
    if refs.is_empty() {
        return Ok(());
    }
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    applier
        .prune(refs)
        .await
        .map_err(|e| failed(format!("cannot delete {label}: {e}")))?;
    applier
        .wait_deleted(refs, timeout)
        .await
        .map_err(|e| failed(format!("{label} is not gone: {e}")))
}
