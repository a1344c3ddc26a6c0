//! Simulated rollouts. The sandbox runs no containers, so this task writes
//! the status a real cluster's kubelets would once they are done: Pods run
//! (or, with `restartPolicy` `Never`/`OnFailure`, succeed) and
//! PersistentVolumeClaims bind, each after a delay. Workloads
//! (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs) are driven
//! by [`crate::workloads`] from the same events: they own real Pods, and
//! are ready (or complete) when their Pods are. Health checks (kstatus,
//! Helm's wait) then see what they would on a cluster.
//!
//! The annotation [`ROLLOUT_ANNOTATION`] on an object makes its rollout
//! `fail` (Pods fail, so Deployments exceed their progress deadline and
//! Jobs their backoff limit) or `hang` (Pods stay pending, so the new
//! generation is observed but never becomes ready). A workload passes it
//! on to what it owns.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

use crate::api::Api;
use crate::catalog::GroupResource;
use crate::store::{EventType, WatchEvent, resource_version_of};
use crate::workloads;

pub const ROLLOUT_ANNOTATION: &str = "sandbox.driftless.dev/rollout";
/// The field manager of the simulated controllers' writes.
pub const MANAGER: &str = "driftless-sandbox-rollout";
/// The most events one batch of the simulated controllers takes.
const BATCH: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeed,
    Fail,
    Hang,
}

pub fn outcome(object: &Value) -> Outcome {
    match object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ROLLOUT_ANNOTATION))
        .and_then(Value::as_str)
    {
        Some("fail") => Outcome::Fail,
        Some("hang") => Outcome::Hang,
        _ => Outcome::Succeed,
    }
}

fn simulated(gr: &GroupResource) -> bool {
    matches!(
        (gr.group.as_str(), gr.resource.as_str()),
        ("", "pods" | "persistentvolumeclaims")
    )
}

/// Whether the status already reflects the object, so nothing is to do.
fn settled(object: &Value) -> bool {
    object.pointer("/status/phase").is_some()
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

/// The status a healthy (or failed, or stuck) cluster would report.
fn status_for(gr: &GroupResource, object: &Value, now: &str) -> Value {
    let result = outcome(object);
    match gr.resource.as_str() {
        "pods" => {
            // A Pod that is not restarted (`Never`, `OnFailure`) runs to
            // completion, as Helm's test and hook Pods do: it ends
            // `Succeeded`, where a serving Pod stays `Running`.
            let completes = matches!(
                object
                    .pointer("/spec/restartPolicy")
                    .and_then(Value::as_str),
                Some("Never" | "OnFailure")
            );
            let (phase, is_ready) = match result {
                Outcome::Succeed if completes => ("Succeeded", false),
                Outcome::Succeed => ("Running", true),
                Outcome::Fail => ("Failed", false),
                Outcome::Hang => ("Pending", false),
            };
            let reason = match (is_ready, phase) {
                (true, _) => "",
                (false, "Succeeded") => "PodCompleted",
                (false, _) => "ContainersNotReady",
            };
            json!({
                "phase": phase,
                "startTime": now,
                "conditions": [
                    condition("PodScheduled", true, "", "", now),
                    condition("Initialized", true, "", "", now),
                    condition("ContainersReady", is_ready, reason, "", now),
                    condition("Ready", is_ready, reason, "", now),
                ],
            })
        }
        "persistentvolumeclaims" => {
            if result == Outcome::Succeed {
                json!({
                    "phase": "Bound",
                    "accessModes": object.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
                    "capacity": object.pointer("/spec/resources/requests").cloned().unwrap_or(json!({})),
                })
            } else {
                json!({"phase": "Pending"})
            }
        }
        _ => Value::Null,
    }
}

/// Runs until the store's event channel closes.
pub async fn run(api: Arc<Api>, delay: Duration) {
    let (mut events, existing) = api.store.txn(|t| {
        let receiver = t.subscribe();
        let existing: Vec<(GroupResource, Arc<Value>)> = api
            .catalog()
            .types()
            .map(|rt| rt.group_resource())
            .filter(simulated)
            .flat_map(|gr| t.list(&gr, None).into_iter().map(move |o| (gr.clone(), o)))
            .collect();
        (receiver, existing)
    });
    // Pending status writes live in this set, so stopping this task (as
    // `Sandbox::shutdown` does) cancels them too.
    let mut pending = JoinSet::new();
    let mut dirty = workloads::Dirty::everything(&api);
    for (gr, object) in existing {
        schedule(&api, &mut pending, gr, &object, delay);
    }
    // Jobs to sync again when their deadline falls; like `pending`, they
    // end with this task.
    let mut wake_ups: JoinSet<(String, String)> = JoinSet::new();
    loop {
        if !dirty.is_empty() {
            for wake_up in workloads::sync(&api, &std::mem::take(&mut dirty)) {
                wake_ups.spawn(async move {
                    tokio::time::sleep(wake_up.after).await;
                    wake_up.job
                });
            }
        }
        tokio::select! {
            received = events.recv() => {
                if !take_batch(&api, &mut events, received, &mut pending, &mut dirty, delay) {
                    return;
                }
            },
            Some(_) = pending.join_next(), if !pending.is_empty() => {}
            Some(Ok(job)) = wake_ups.join_next(), if !wake_ups.is_empty() => dirty.job(job),
        }
    }
}

/// Takes `first` and whatever else is already queued (up to [`BATCH`], so
/// statuses keep flowing under a steady stream) into one batch: simulated
/// statuses are scheduled, workload controllers noted in `dirty`. Returns
/// `false` once the store is gone.
fn take_batch(
    api: &Arc<Api>,
    events: &mut broadcast::Receiver<Arc<WatchEvent>>,
    first: Result<Arc<WatchEvent>, broadcast::error::RecvError>,
    pending: &mut JoinSet<()>,
    dirty: &mut workloads::Dirty,
    delay: Duration,
) -> bool {
    use broadcast::error::{RecvError, TryRecvError};
    let mut received = Some(first);
    for _ in 0..BATCH {
        match received.take() {
            Some(Ok(event)) => {
                dirty.note(api, &event);
                if event.event_type != EventType::Deleted && simulated(&event.group_resource) {
                    let gr = event.group_resource.clone();
                    schedule(api, pending, gr, &event.object, delay);
                }
            }
            // Missed events may have been the workloads' own: recount.
            Some(Err(RecvError::Lagged(_))) => *dirty = workloads::Dirty::everything(api),
            Some(Err(RecvError::Closed)) => return false,
            None => break,
        }
        received = match events.try_recv() {
            Ok(event) => Some(Ok(event)),
            Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
            Err(TryRecvError::Empty) => None,
        };
    }
    true
}

fn schedule(
    api: &Arc<Api>,
    pending: &mut JoinSet<()>,
    gr: GroupResource,
    object: &Value,
    delay: Duration,
) {
    if settled(object) || object.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let api = api.clone();
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    pending.spawn(async move {
        tokio::time::sleep(delay).await;
        let Some(live) = api.store.txn(|t| t.get(&gr, &namespace, &name)) else {
            return;
        };
        if settled(&live) {
            return;
        }
        let status = status_for(&gr, &live, &(api.now)());
        // A newer write re-schedules itself; losing this race is fine.
        if let Err(err) = api.write_status(
            &gr,
            &namespace,
            &name,
            resource_version_of(&live),
            status,
            MANAGER,
        ) {
            tracing::warn!(resource = %gr, %namespace, %name, error = %err, "simulated rollout could not write status");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_that_are_not_restarted_run_to_completion() {
        let gr = GroupResource::new("", "pods");
        let now = "2026-01-01T00:00:00Z";
        let test_pod = json!({"metadata": {"name": "t"}, "spec": {"restartPolicy": "Never"}});
        let status = status_for(&gr, &test_pod, now);
        assert_eq!(status["phase"], "Succeeded");
        assert_eq!(status["conditions"][3]["reason"], "PodCompleted");
        let failing = json!({"metadata": {"name": "t", "annotations": {ROLLOUT_ANNOTATION: "fail"}},
            "spec": {"restartPolicy": "OnFailure"}});
        assert_eq!(status_for(&gr, &failing, now)["phase"], "Failed");
        let serving = json!({"metadata": {"name": "s"}, "spec": {"restartPolicy": "Always"}});
        assert_eq!(status_for(&gr, &serving, now)["phase"], "Running");
        assert_eq!(
            status_for(&gr, &json!({"metadata": {"name": "d"}}), now)["phase"],
            "Running"
        );
    }
}
