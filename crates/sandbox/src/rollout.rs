//! Simulated rollouts. The sandbox runs no pods, so this task writes the
//! status a real cluster would show once controllers and kubelets are done:
//! Deployments, StatefulSets, DaemonSets and ReplicaSets become available,
//! Jobs complete, Pods run and PersistentVolumeClaims bind, each after a
//! delay. Health checks (kstatus) then see what they would on a cluster.
//!
//! The annotation [`ROLLOUT_ANNOTATION`] on an object makes its rollout
//! `fail` (Deployments exceed their progress deadline, Jobs fail, Pods fail)
//! or `hang` (the new generation is observed but never becomes ready).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

use crate::api::Api;
use crate::catalog::GroupResource;
use crate::store::{EventType, WatchEvent, resource_version_of};

pub const ROLLOUT_ANNOTATION: &str = "sandbox.driftless.dev/rollout";
const MANAGER: &str = "driftless-sandbox-rollout";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Succeed,
    Fail,
    Hang,
}

fn outcome(object: &Value) -> Outcome {
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
        (
            "apps",
            "deployments" | "statefulsets" | "daemonsets" | "replicasets"
        ) | ("batch", "jobs")
            | ("", "pods" | "persistentvolumeclaims")
    )
}

fn int_at(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// Whether the status already reflects the object, so nothing is to do.
fn settled(gr: &GroupResource, object: &Value) -> bool {
    match gr.resource.as_str() {
        "jobs" => object.pointer("/status/startTime").is_some(),
        "pods" | "persistentvolumeclaims" => object.pointer("/status/phase").is_some(),
        _ => int_at(object, "/status/observedGeneration") == int_at(object, "/metadata/generation"),
    }
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
    let generation = int_at(object, "/metadata/generation").unwrap_or(1);
    let replicas = int_at(object, "/spec/replicas").unwrap_or(1);
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let result = outcome(object);
    let ready = if result == Outcome::Succeed {
        replicas
    } else {
        0
    };
    match gr.resource.as_str() {
        "deployments" => {
            let replica_set = format!("{name}-{generation:x}");
            let progressing = match result {
                Outcome::Succeed => condition(
                    "Progressing",
                    true,
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{replica_set}\" has successfully progressed."),
                    now,
                ),
                Outcome::Fail => condition(
                    "Progressing",
                    false,
                    "ProgressDeadlineExceeded",
                    &format!("ReplicaSet \"{replica_set}\" has timed out progressing."),
                    now,
                ),
                Outcome::Hang => condition(
                    "Progressing",
                    true,
                    "ReplicaSetUpdated",
                    &format!("ReplicaSet \"{replica_set}\" is progressing."),
                    now,
                ),
            };
            let available = if result == Outcome::Succeed {
                condition(
                    "Available",
                    true,
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                )
            } else {
                condition(
                    "Available",
                    false,
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                )
            };
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "conditions": [available, progressing],
            });
            if ready > 0 {
                status["readyReplicas"] = json!(ready);
                status["availableReplicas"] = json!(ready);
            }
            if replicas > ready {
                status["unavailableReplicas"] = json!(replicas - ready);
            }
            status
        }
        "statefulsets" => {
            let revision = format!("{name}-{generation:x}");
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "currentReplicas": replicas,
                "currentRevision": revision,
                "updateRevision": revision,
                "collisionCount": 0,
            });
            if ready > 0 {
                status["readyReplicas"] = json!(ready);
                status["availableReplicas"] = json!(ready);
            }
            status
        }
        "daemonsets" => {
            let ready = i64::from(result == Outcome::Succeed);
            let mut status = json!({
                "observedGeneration": generation,
                "desiredNumberScheduled": 1,
                "currentNumberScheduled": 1,
                "updatedNumberScheduled": 1,
                "numberMisscheduled": 0,
                "numberReady": ready,
            });
            if ready > 0 {
                status["numberAvailable"] = json!(ready);
            } else {
                status["numberUnavailable"] = json!(1);
            }
            status
        }
        "replicasets" => {
            let mut status = json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "fullyLabeledReplicas": replicas,
            });
            if ready > 0 {
                status["readyReplicas"] = json!(ready);
                status["availableReplicas"] = json!(ready);
            }
            status
        }
        "jobs" => match result {
            Outcome::Succeed => json!({
                "startTime": now,
                "completionTime": now,
                "succeeded": int_at(object, "/spec/completions").unwrap_or(1),
                "ready": 0,
                "terminating": 0,
                "conditions": [
                    condition("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods", now),
                    condition("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods", now),
                ],
            }),
            Outcome::Fail => json!({
                "startTime": now,
                "failed": int_at(object, "/spec/backoffLimit").unwrap_or(6) + 1,
                "ready": 0,
                "terminating": 0,
                "conditions": [
                    condition("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now),
                    condition("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now),
                ],
            }),
            Outcome::Hang => json!({"startTime": now, "active": 1, "ready": 0, "terminating": 0}),
        },
        "pods" => {
            let (phase, is_ready) = match result {
                Outcome::Succeed => ("Running", true),
                Outcome::Fail => ("Failed", false),
                Outcome::Hang => ("Pending", false),
            };
            let reason = if is_ready { "" } else { "ContainersNotReady" };
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
    for (gr, object) in existing {
        schedule(&api, &mut pending, gr, &object, delay);
    }
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(event) => handle(&api, &mut pending, &event, delay),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            Some(_) = pending.join_next(), if !pending.is_empty() => {}
        }
    }
}

fn handle(api: &Arc<Api>, pending: &mut JoinSet<()>, event: &WatchEvent, delay: Duration) {
    if event.event_type != EventType::Deleted && simulated(&event.group_resource) {
        schedule(
            api,
            pending,
            event.group_resource.clone(),
            &event.object,
            delay,
        );
    }
}

fn schedule(
    api: &Arc<Api>,
    pending: &mut JoinSet<()>,
    gr: GroupResource,
    object: &Value,
    delay: Duration,
) {
    if settled(&gr, object) || object.pointer("/metadata/deletionTimestamp").is_some() {
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
        if settled(&gr, &live) {
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

    fn deployment(annotation: Option<&str>) -> Value {
        let mut d = json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2}});
        if let Some(a) = annotation {
            d["metadata"]["annotations"] = json!({ROLLOUT_ANNOTATION: a});
        }
        d
    }

    #[test]
    fn successful_deployment_is_available_at_its_generation() {
        let gr = GroupResource::new("apps", "deployments");
        let status = status_for(&gr, &deployment(None), "2026-01-01T00:00:00Z");
        assert_eq!(status["observedGeneration"], 3);
        assert_eq!(status["readyReplicas"], 2);
        assert_eq!(status["conditions"][0]["type"], "Available");
        assert_eq!(status["conditions"][0]["status"], "True");
    }

    #[test]
    fn failing_deployment_exceeds_its_progress_deadline() {
        let gr = GroupResource::new("apps", "deployments");
        let status = status_for(&gr, &deployment(Some("fail")), "2026-01-01T00:00:00Z");
        assert_eq!(
            status["conditions"][1]["reason"],
            "ProgressDeadlineExceeded"
        );
        assert!(status.get("readyReplicas").is_none());
    }

    #[test]
    fn hanging_job_stays_active() {
        let gr = GroupResource::new("batch", "jobs");
        let job = json!({"metadata": {"name": "j", "annotations": {ROLLOUT_ANNOTATION: "hang"}}});
        let status = status_for(&gr, &job, "2026-01-01T00:00:00Z");
        assert_eq!(status["active"], 1);
        assert!(status.get("conditions").is_none());
    }
}
