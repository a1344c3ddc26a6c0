//! Helm hooks run the way Helm runs them: for one event (`pre-install`,
//! `post-upgrade`, `test`, …) every hook of that event in weight order
//! (then by name), each created fresh (`before-hook-creation`, the default
//! delete policy, removes the previous one first), waited for as Helm
//! waits for hooks, and deleted afterwards as its `hook-succeeded` /
//! `hook-failed` policy says. The first hook that fails stops the rest.
//! Hook objects are not part of the release's inventory.
//!
//! Helm's hook wait is not a health check: a Pod is done when its phase is
//! `Succeeded` (failed when `Failed`), a Job when it is `Complete` (failed
//! when `Failed`), and any other kind as soon as it exists. A running,
//! ready Pod is therefore still waited for — test Pods must finish.
//!
//! Owns the order, the wait, the delete policies and each hook's last run
//! (Helm's `last_run`, which `helm status` shows for tests). Must not
//! render nor write release records.

use std::time::{Duration, Instant};

use driftless_api::conditions::reasons;
use driftless_api::inventory::{ObjectId, ResourceRef};
use driftless_apply::Applier;
use driftless_apply::release::{HookExecution, go_time};
use driftless_chart::Hook;
use driftless_render::yaml::parse_manifests;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::reconciler::ReconcileError;

/// The first and the longest pause between two looks at a hook's objects.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);

/// Helm's default delete policy, written into a hook that names none.
pub(super) const BEFORE_HOOK_CREATION: &str = "before-hook-creation";

/// What running one event's hooks did.
pub(super) struct Ran {
    /// Each hook that ran, by its index in the slice given to [`run`], with
    /// its last run as Helm records it (`Succeeded` or `Failed`).
    pub executions: Vec<(usize, HookExecution)>,
    /// The failure that stopped the run, naming the hook.
    pub failure: Option<ReconcileError>,
}

impl Ran {
    /// `Err` with the failure, when a hook failed.
    pub(super) fn into_result(self) -> Result<(), ReconcileError> {
        self.failure.map_or(Ok(()), Err)
    }
}

/// Runs `event`'s hooks, stopping at the first that fails.
pub(super) async fn run(
    applier: &Applier,
    client: &kube::Client,
    hooks: &[Hook],
    event: &str,
    timeout: Duration,
) -> Ran {
    let mut selected: Vec<(usize, &Hook)> = hooks
        .iter()
        .enumerate()
        .filter(|(_, h)| h.events.iter().any(|e| e == event))
        .collect();
    // Stable: hooks of one weight and name keep the chart's (kind) order.
    selected.sort_by(|(_, a), (_, b)| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
    let mut ran = Ran {
        executions: Vec::new(),
        failure: None,
    };
    let mut succeeded: Vec<(&Hook, Vec<ResourceRef>)> = Vec::new();
    for (index, hook) in selected {
        let label = format!("{event} hook {} ({})", hook.name, hook.source);
        let started_at = go_time(time::OffsetDateTime::now_utc());
        let outcome = run_one(applier, client, hook, &label, timeout).await;
        let phase = if outcome.is_ok() {
            "Succeeded"
        } else {
            "Failed"
        };
        ran.executions.push((
            index,
            HookExecution {
                started_at: Some(started_at),
                completed_at: Some(go_time(time::OffsetDateTime::now_utc())),
                phase: phase.to_owned(),
                ..HookExecution::default()
            },
        ));
        match outcome {
            Ok(created) => succeeded.push((hook, created)),
            Err(error) => {
                ran.failure = Some(error);
                break;
            }
        }
    }
    // As Helm: the hooks that succeeded are cleaned up after the whole
    // event ran (or stopped), so a later hook may still use them.
    for (hook, created) in succeeded.iter().rev() {
        if has_policy(hook, "hook-succeeded") {
            let label = format!("{event} hook {} ({})", hook.name, hook.source);
            if let Err(error) = delete(applier, created, timeout, &label).await {
                ran.failure.get_or_insert(error);
            }
        }
    }
    ran
}

fn has_policy(hook: &Hook, policy: &str) -> bool {
    hook.delete_policies.iter().any(|p| p == policy)
}

/// Creates one hook's objects afresh and waits for them; returns what it
/// created. A failed hook is deleted here when its policy says so.
async fn run_one(
    applier: &Applier,
    client: &kube::Client,
    hook: &Hook,
    label: &str,
    timeout: Duration,
) -> Result<Vec<ResourceRef>, ReconcileError> {
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    let objects: Vec<serde_json::Value> = parse_manifests(&hook.content)
        .map_err(|e| ReconcileError::stalled(reasons::BUILD_FAILED, format!("{label}: {e}")))?
        .iter()
        .map(driftless_render::to_json)
        .filter(|o| !o.is_null())
        .collect();
    if hook.delete_policies.is_empty() || has_policy(hook, BEFORE_HOOK_CREATION) {
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
        delete(applier, &stale, timeout, label).await?;
    }
    let changes = applier
        .apply(objects)
        .await
        .map_err(|e| failed(format!("{label}: {e}")))?;
    let entries = changes.inventory().entries;
    let outcome = wait_done(client, &entries, timeout)
        .await
        .map_err(|why| failed(format!("{label} failed: {why}")));
    if outcome.is_err() && has_policy(hook, "hook-failed") {
        delete(applier, &entries, timeout, label).await?;
    }
    outcome.map(|()| entries)
}

/// How far one hook object is, by Helm's hook rules.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Done,
    Waiting(String),
    Failed(String),
}

/// A Pod is done when it `Succeeded`; `Failed` fails the hook.
fn pod_progress(pod: &Pod) -> Progress {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => Progress::Done,
        Some("Failed") => Progress::Failed("the pod's phase is Failed".into()),
        phase => Progress::Waiting(format!("pod phase {}", phase.unwrap_or("Pending"))),
    }
}

/// A Job is done when `Complete`; `Failed` fails the hook.
fn job_progress(job: &Job) -> Progress {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let holds = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if holds("Complete").is_some() {
        Progress::Done
    } else if let Some(failed) = holds("Failed") {
        Progress::Failed(format!(
            "the job failed: {}",
            failed.message.as_deref().unwrap_or("no message")
        ))
    } else {
        Progress::Waiting("job not complete".into())
    }
}

async fn progress(client: &kube::Client, id: &ObjectId) -> Progress {
    let read_failed = |e: kube::Error| Progress::Waiting(format!("cannot be read: {e}"));
    match (id.group.as_str(), id.kind.as_str()) {
        ("", "Pod") => match Api::<Pod>::namespaced(client.clone(), &id.namespace)
            .get_opt(&id.name)
            .await
        {
            Ok(Some(pod)) => pod_progress(&pod),
            Ok(None) => Progress::Failed("the pod is gone".into()),
            Err(e) => read_failed(e),
        },
        ("batch", "Job") => match Api::<Job>::namespaced(client.clone(), &id.namespace)
            .get_opt(&id.name)
            .await
        {
            Ok(Some(job)) => job_progress(&job),
            Ok(None) => Progress::Failed("the job is gone".into()),
            Err(e) => read_failed(e),
        },
        _ => Progress::Done,
    }
}

/// Waits until every object is done (Helm's `WatchUntilReady`), one
/// fails, or `timeout` passes. The error says which and why.
async fn wait_done(
    client: &kube::Client,
    entries: &[ResourceRef],
    timeout: Duration,
) -> Result<(), String> {
    let start = Instant::now();
    let mut delay = FIRST_POLL;
    let mut pending: Vec<ObjectId> = entries
        .iter()
        .map(ResourceRef::object_id)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("malformed hook object id: {e}"))?;
    loop {
        let mut waiting = Vec::new();
        let mut still = Vec::new();
        for id in pending {
            match progress(client, &id).await {
                Progress::Done => {}
                Progress::Failed(why) => return Err(format!("{}: {why}", describe(&id))),
                Progress::Waiting(why) => {
                    waiting.push(format!("{}: {why}", describe(&id)));
                    still.push(id);
                }
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(format!(
                "timed out after {timeout:?} waiting for {}",
                waiting.join(", ")
            ));
        }
        pending = still;
        tokio::time::sleep(delay.min(timeout - elapsed)).await;
        delay = (delay * 2).min(MAX_POLL);
    }
}

fn describe(id: &ObjectId) -> String {
    format!("{} {}/{}", id.kind, id.namespace, id.name)
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
        .prune_every(refs)
        .await
        .map_err(|e| failed(format!("cannot delete {label}: {e}")))?;
    applier
        .wait_deleted(refs, timeout)
        .await
        .map_err(|e| failed(format!("{label} is not gone: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: Option<&str>) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "t"},
            "status": phase.map(|p| serde_json::json!({"phase": p})),
        }))
        .expect("a pod")
    }

    fn job(conditions: serde_json::Value) -> Job {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j"},
            "status": {"conditions": conditions},
        }))
        .expect("a job")
    }

    #[test]
    fn a_running_pod_is_still_waited_for() {
        assert_eq!(pod_progress(&pod(Some("Succeeded"))), Progress::Done);
        assert!(matches!(
            pod_progress(&pod(Some("Failed"))),
            Progress::Failed(_)
        ));
        assert_eq!(
            pod_progress(&pod(Some("Running"))),
            Progress::Waiting("pod phase Running".into())
        );
        assert_eq!(
            pod_progress(&pod(None)),
            Progress::Waiting("pod phase Pending".into())
        );
    }

    #[test]
    fn a_job_is_done_when_complete_and_failed_when_failed() {
        let complete = job(serde_json::json!([{"type": "Complete", "status": "True"}]));
        assert_eq!(job_progress(&complete), Progress::Done);
        let failed = job(
            serde_json::json!([{"type": "Failed", "status": "True", "message": "backoff limit"}]),
        );
        assert_eq!(
            job_progress(&failed),
            Progress::Failed("the job failed: backoff limit".into())
        );
        let running = job(serde_json::json!([{"type": "Complete", "status": "False"}]));
        assert!(matches!(job_progress(&running), Progress::Waiting(_)));
    }
}
