//! Health of a live object, by kstatus rules: is it `Current` (reconciled
//! and ready), still `InProgress`, or `Failed` (it will not get better
//! without a change)?
//!
//! Owns the judgement of one object's JSON, nothing else: no client, no
//! waiting (see [`Applier::wait_healthy`](crate::Applier::wait_healthy)).
//! Built-in workloads get kind-specific rules; everything else is judged
//! by the generic rules that well-behaved controllers follow
//! (`observedGeneration`, `Ready`, `Reconciling` and `Stalled` conditions).
//! Objects without a status are `Current`: there is nothing to wait for.
//!
//! ```
//! use driftless_apply::health::{Health, status};
//! let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
//! assert_eq!(status(&cm), Health::Current);
//! ```

use serde_json::Value;

/// What kstatus would say of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    /// Reconciled and ready.
    Current,
    /// Not there yet; the text says what is missing.
    InProgress(String),
    /// Will not become ready without a change; the text says why.
    Failed(String),
}

/// Judges one live object.
pub fn status(obj: &Value) -> Health {
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return Health::InProgress("being deleted".into());
    }
    let generation = int(obj, "/metadata/generation");
    let observed = int(obj, "/status/observedGeneration");
    if let (Some(generation), Some(observed)) = (generation, observed)
        && observed < generation
    {
        return Health::InProgress(format!(
            "generation {generation} not yet observed (observed {observed})"
        ));
    }
    let group = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map(|(group, _)| group)
        .unwrap_or_default();
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let specific = match (group, kind) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("apps", "ReplicaSet") => replica_set(obj),
        ("batch", "Job") => job(obj),
        ("", "Pod") => pod(obj),
        ("", "PersistentVolumeClaim") => pvc(obj),
        ("", "Service") => service(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        _ => None,
    };
    specific.unwrap_or_else(|| generic(obj))
}

fn int(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// A condition of `status.conditions` by type.
fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn condition_is(obj: &Value, kind: &str, status: &str) -> bool {
    condition(obj, kind)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(status)
}

fn text<'a>(cond: &'a Value, field: &str) -> &'a str {
    cond.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// The condition's message, or its reason when it has none.
fn explain(cond: &Value) -> String {
    let message = text(cond, "message");
    if message.is_empty() {
        text(cond, "reason").to_string()
    } else {
        message.to_string()
    }
}

/// The rules every controller following the API conventions is judged by.
fn generic(obj: &Value) -> Health {
    if let Some(stalled) = condition(obj, "Stalled")
        && text(stalled, "status") == "True"
    {
        return Health::Failed(explain(stalled));
    }
    if let Some(reconciling) = condition(obj, "Reconciling")
        && text(reconciling, "status") == "True"
    {
        return Health::InProgress(explain(reconciling));
    }
    if let Some(ready) = condition(obj, "Ready")
        && text(ready, "status") != "True"
    {
        return Health::InProgress(format!("not ready: {}", explain(ready)));
    }
    Health::Current
}

fn deployment(obj: &Value) -> Option<Health> {
    if let Some(progressing) = condition(obj, "Progressing")
        && text(progressing, "reason") == "ProgressDeadlineExceeded"
    {
        return Some(Health::Failed(format!(
            "rollout failed: {}",
            explain(progressing)
        )));
    }
    let replicas = int(obj, "/spec/replicas").unwrap_or(1);
    let status = |field: &str| int(obj, &format!("/status/{field}")).unwrap_or(0);
    let surplus = status("replicas") - replicas;
    let health = if surplus > 0 {
        Health::InProgress(format!("{surplus} old replicas pending termination"))
    } else {
        first_short(
            obj,
            replicas,
            &[
                ("updatedReplicas", "replicas updated"),
                ("availableReplicas", "replicas available"),
                ("readyReplicas", "replicas ready"),
            ],
        )
        .unwrap_or(Health::Current)
    };
    Some(health)
}

/// The first of `counters` (a `status` field and what it counts) below
/// `want`, as "N of want <what>".
fn first_short(obj: &Value, want: i64, counters: &[(&str, &str)]) -> Option<Health> {
    counters.iter().find_map(|(field, what)| {
        let have = int(obj, &format!("/status/{field}")).unwrap_or(0);
        (have < want).then(|| Health::InProgress(format!("{have} of {want} {what}")))
    })
}

fn stateful_set(obj: &Value) -> Option<Health> {
    if obj
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete")
    {
        return Some(Health::Current);
    }
    let replicas = int(obj, "/spec/replicas").unwrap_or(1);
    let short = first_short(
        obj,
        replicas,
        &[
            ("readyReplicas", "replicas ready"),
            ("currentReplicas", "replicas at the current revision"),
        ],
    );
    let health = if let Some(short) = short {
        short
    } else if obj.pointer("/status/updateRevision") != obj.pointer("/status/currentRevision") {
        Health::InProgress("rolling update in progress".into())
    } else {
        Health::Current
    };
    Some(health)
}

fn daemon_set(obj: &Value) -> Option<Health> {
    let desired = int(obj, "/status/desiredNumberScheduled").unwrap_or(0);
    let counters = [
        ("updatedNumberScheduled", "pods updated"),
        ("numberAvailable", "pods available"),
        ("numberReady", "pods ready"),
    ];
    Some(first_short(obj, desired, &counters).unwrap_or(Health::Current))
}

fn replica_set(obj: &Value) -> Option<Health> {
    if let Some(failure) = condition(obj, "ReplicaFailure")
        && text(failure, "status") == "True"
    {
        return Some(Health::InProgress(format!(
            "replica failure: {}",
            explain(failure)
        )));
    }
    let replicas = int(obj, "/spec/replicas").unwrap_or(1);
    let counters = [
        ("availableReplicas", "replicas available"),
        ("readyReplicas", "replicas ready"),
    ];
    Some(first_short(obj, replicas, &counters).unwrap_or(Health::Current))
}

/// A Job is healthy once it completed: it is applied to get its work done.
fn job(obj: &Value) -> Option<Health> {
    if let Some(failed) = condition(obj, "Failed")
        && text(failed, "status") == "True"
    {
        return Some(Health::Failed(format!("job failed: {}", explain(failed))));
    }
    if condition_is(obj, "Complete", "True") {
        return Some(Health::Current);
    }
    let status = |field: &str| int(obj, &format!("/status/{field}")).unwrap_or(0);
    Some(if obj.pointer("/status/startTime").is_none() {
        Health::InProgress("job not started".into())
    } else {
        Health::InProgress(format!(
            "job in progress: {} succeeded, {} active, {} failed",
            status("succeeded"),
            status("active"),
            status("failed")
        ))
    })
}

fn pod(obj: &Value) -> Option<Health> {
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    Some(match phase {
        "Succeeded" => Health::Current,
        "Failed" => Health::Failed("pod failed".into()),
        "Running" if condition_is(obj, "Ready", "True") => Health::Current,
        "Running" => Health::InProgress("pod running but not ready".into()),
        other => Health::InProgress(format!("pod {}", other.to_lowercase())),
    })
}

fn pvc(obj: &Value) -> Option<Health> {
    let phase = obj.pointer("/status/phase").and_then(Value::as_str);
    Some(match phase {
        Some("Bound") => Health::Current,
        Some(phase) => Health::InProgress(format!("claim is {phase}, not Bound")),
        None => Health::InProgress("claim not yet bound".into()),
    })
}

fn service(obj: &Value) -> Option<Health> {
    if obj.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
        return None;
    }
    let has_ingress = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|i| !i.is_empty());
    Some(if has_ingress {
        Health::Current
    } else {
        Health::InProgress("load balancer has no address yet".into())
    })
}

fn crd(obj: &Value) -> Option<Health> {
    if let Some(names) = condition(obj, "NamesAccepted")
        && text(names, "status") == "False"
    {
        return Some(Health::Failed(format!(
            "names not accepted: {}",
            explain(names)
        )));
    }
    Some(if condition_is(obj, "Established", "True") {
        Health::Current
    } else {
        Health::InProgress("not yet established".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i64, status: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "apps", "generation": 2},
            "spec": {"replicas": replicas},
            "status": status,
        })
    }

    fn cond(kind: &str, status: &str, reason: &str, message: &str) -> Value {
        json!({"type": kind, "status": status, "reason": reason, "message": message})
    }

    #[test]
    fn objects_without_status_are_current() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        assert_eq!(status(&cm), Health::Current);
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}});
        assert_eq!(status(&ns), Health::Current);
    }

    #[test]
    fn terminating_objects_are_in_progress() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(status(&cm), Health::InProgress("being deleted".into()));
    }

    #[test]
    fn deployment_rollout_stages() {
        let fresh = deployment(2, json!({"observedGeneration": 1}));
        assert_eq!(
            status(&fresh),
            Health::InProgress("generation 2 not yet observed (observed 1)".into())
        );
        let unavailable = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2}),
        );
        assert_eq!(
            status(&unavailable),
            Health::InProgress("0 of 2 replicas available".into())
        );
        let surge = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2}),
        );
        assert_eq!(
            status(&surge),
            Health::InProgress("1 old replicas pending termination".into())
        );
        let done = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                   "availableReplicas": 2, "readyReplicas": 2}),
        );
        assert_eq!(status(&done), Health::Current);
        let zero = deployment(0, json!({"observedGeneration": 2}));
        assert_eq!(status(&zero), Health::Current);
    }

    #[test]
    fn deployment_past_its_progress_deadline_failed() {
        let failed = deployment(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                   "conditions": [cond("Progressing", "False", "ProgressDeadlineExceeded",
                                       "ReplicaSet \"web-2\" has timed out progressing.")]}),
        );
        assert_eq!(
            status(&failed),
            Health::Failed(
                "rollout failed: ReplicaSet \"web-2\" has timed out progressing.".into()
            )
        );
    }

    #[test]
    fn stateful_set_waits_for_its_revision() {
        let mut sts = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "generation": 1},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "readyReplicas": 1, "currentReplicas": 1,
                       "currentRevision": "db-1", "updateRevision": "db-2"},
        });
        assert_eq!(
            status(&sts),
            Health::InProgress("rolling update in progress".into())
        );
        sts["status"]["currentRevision"] = json!("db-2");
        assert_eq!(status(&sts), Health::Current);
        sts["status"]["readyReplicas"] = json!(0);
        assert_eq!(
            status(&sts),
            Health::InProgress("0 of 1 replicas ready".into())
        );
    }

    #[test]
    fn daemon_set_counts_scheduled_pods() {
        let mut ds = json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "generation": 1},
            "status": {"observedGeneration": 1, "desiredNumberScheduled": 3,
                       "updatedNumberScheduled": 3, "numberAvailable": 2, "numberReady": 3},
        });
        assert_eq!(
            status(&ds),
            Health::InProgress("2 of 3 pods available".into())
        );
        ds["status"]["numberAvailable"] = json!(3);
        assert_eq!(status(&ds), Health::Current);
    }

    #[test]
    fn jobs_are_healthy_once_complete() {
        let mut job =
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}});
        assert_eq!(status(&job), Health::InProgress("job not started".into()));
        job["status"] = json!({"startTime": "t", "active": 1});
        assert_eq!(
            status(&job),
            Health::InProgress("job in progress: 0 succeeded, 1 active, 0 failed".into())
        );
        job["status"]["conditions"] = json!([cond("Complete", "True", "CompletionsReached", "")]);
        assert_eq!(status(&job), Health::Current);
        job["status"]["conditions"] = json!([cond(
            "Failed",
            "True",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit"
        )]);
        assert_eq!(
            status(&job),
            Health::Failed("job failed: Job has reached the specified backoff limit".into())
        );
    }

    #[test]
    fn pods_and_claims() {
        let pod = |phase: &str, ready: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "status": {"phase": phase, "conditions": [cond("Ready", ready, "", "")]}})
        };
        assert_eq!(status(&pod("Running", "True")), Health::Current);
        assert_eq!(
            status(&pod("Running", "False")),
            Health::InProgress("pod running but not ready".into())
        );
        assert_eq!(
            status(&pod("Failed", "False")),
            Health::Failed("pod failed".into())
        );
        assert_eq!(
            status(&pod("Pending", "False")),
            Health::InProgress("pod pending".into())
        );
        let claim = |phase: &str| {
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
                   "status": {"phase": phase}})
        };
        assert_eq!(status(&claim("Bound")), Health::Current);
        assert_eq!(
            status(&claim("Pending")),
            Health::InProgress("claim is Pending, not Bound".into())
        );
    }

    #[test]
    fn crds_must_be_established() {
        let mut crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                             "metadata": {"name": "widgets.example.com"}, "status": {}});
        assert_eq!(
            status(&crd),
            Health::InProgress("not yet established".into())
        );
        crd["status"]["conditions"] =
            json!([cond("Established", "True", "InitialNamesAccepted", "")]);
        assert_eq!(status(&crd), Health::Current);
    }

    #[test]
    fn generic_conditions() {
        let widget = |conditions: Value| {
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"name": "w", "generation": 3},
                   "status": {"observedGeneration": 3, "conditions": conditions}})
        };
        assert_eq!(status(&widget(json!([]))), Health::Current);
        assert_eq!(
            status(&widget(json!([cond(
                "Ready",
                "False",
                "Waiting",
                "waiting for db"
            )]))),
            Health::InProgress("not ready: waiting for db".into())
        );
        assert_eq!(
            status(&widget(json!([
                cond("Ready", "False", "Broken", ""),
                cond(
                    "Stalled",
                    "True",
                    "InvalidSpec",
                    "spec.size must be positive"
                )
            ]))),
            Health::Failed("spec.size must be positive".into())
        );
        assert_eq!(
            status(&widget(json!([cond(
                "Reconciling",
                "True",
                "Progressing",
                ""
            )]))),
            Health::InProgress("Progressing".into())
        );
        let behind = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                            "metadata": {"name": "w", "generation": 4},
                            "status": {"observedGeneration": 3,
                                       "conditions": [cond("Ready", "True", "", "")]}});
        assert_eq!(
            status(&behind),
            Health::InProgress("generation 4 not yet observed (observed 3)".into())
        );
    }

    #[test]
    fn load_balancers_wait_for_an_address() {
        let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                             "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}});
        assert_eq!(
            status(&svc),
            Health::InProgress("load balancer has no address yet".into())
        );
        svc["status"]["loadBalancer"]["ingress"] = json!([{"ip": "127.0.0.1"}]);
        assert_eq!(status(&svc), Health::Current);
        svc["spec"]["type"] = json!("ClusterIP");
        svc["status"] = json!({});
        assert_eq!(status(&svc), Health::Current);
    }
}
