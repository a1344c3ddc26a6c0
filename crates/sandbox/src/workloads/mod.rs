//! The Deployment and ReplicaSet controllers, simulated: a Deployment owns
//! one ReplicaSet per pod template (`<deployment>-<pod-template-hash>`), a
//! ReplicaSet owns its Pods, and each writes the status the real
//! kube-controller-manager would, computed from what it owns. Clients that
//! follow the chain — Helm 3's `--wait` looks up the Deployment's new
//! ReplicaSet, `kubectl rollout history` reads its revisions — then see
//! what they see on a cluster. Pods themselves become Running (or fail, or
//! hang) in [`crate::rollout`], after the rollout delay.
//!
//! Owns: creating, scaling and pruning ReplicaSets and Pods, and the status
//! of Deployments and ReplicaSets. Does not touch other workloads (their
//! status is written directly by [`crate::rollout`]) nor deletion: owned
//! objects go with their owner through the API's garbage collection.
//!
//! Simplifications, as nothing runs: a new template's ReplicaSet gets all
//! the replicas at once and the old ones drop to zero at once (no surge or
//! unavailability budget is walked through), and a Pod is available as
//! soon as it is ready (`minReadySeconds` is not waited for).

mod deployment;
mod replicaset;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::{Api, DeleteOptions, Scope, WriteOptions};
use crate::catalog::GroupResource;
use crate::store::{EventType, WatchEvent};

pub use deployment::sync_deployment;
pub use replicaset::sync_replica_set;

/// The field manager of every write made here, as `rollout`'s.
const MANAGER: &str = crate::rollout::MANAGER;

fn deployments() -> GroupResource {
    GroupResource::new("apps", "deployments")
}

fn replica_sets() -> GroupResource {
    GroupResource::new("apps", "replicasets")
}

fn pods() -> GroupResource {
    GroupResource::new("", "pods")
}

/// Reacts to one store event: the changed object's controller and, through
/// owner references, the controllers above it resync.
pub fn handle(api: &Api, event: &WatchEvent) {
    let gr = &event.group_resource;
    let namespace = event.namespace.as_str();
    let deleted = event.event_type == EventType::Deleted;
    if *gr == deployments() && !deleted {
        sync_deployment(api, namespace, name_of(&event.object));
    } else if *gr == replica_sets() {
        if !deleted {
            sync_replica_set(api, namespace, name_of(&event.object));
        }
        sync_owner(api, &event.object, "Deployment");
    } else if *gr == pods() {
        // A Pod's phase changes nothing in its ReplicaSet's spec, but the
        // counts in both statuses (and a Deployment's failure) follow it.
        if let Some(rs_name) = controller_name(&event.object, "ReplicaSet") {
            sync_replica_set(api, namespace, rs_name);
            let owner = api
                .store
                .txn(|t| t.get(&replica_sets(), namespace, rs_name));
            if let Some(rs) = owner {
                sync_owner(api, &rs, "Deployment");
            }
        }
    }
}

/// Resyncs every Deployment and ReplicaSet: at start, and after missed events.
pub fn resync_all(api: &Api) {
    let (all_deployments, all_sets) = api
        .store
        .txn(|t| (t.list(&deployments(), None), t.list(&replica_sets(), None)));
    for rs in &all_sets {
        sync_replica_set(api, namespace_of(rs), name_of(rs));
    }
    for d in &all_deployments {
        sync_deployment(api, namespace_of(d), name_of(d));
    }
}

fn sync_owner(api: &Api, object: &Value, kind: &str) {
    if kind == "Deployment"
        && let Some(owner) = controller_name(object, kind)
    {
        sync_deployment(api, namespace_of(object), owner);
    }
}

fn name_of(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn namespace_of(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn uid_of(object: &Value) -> &str {
    object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn int_at(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn is_terminating(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// The owner reference with `controller: true`.
fn controller_ref(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
}

fn controller_name<'a>(object: &'a Value, kind: &str) -> Option<&'a str> {
    controller_ref(object)
        .filter(|r| r["kind"] == kind)
        .and_then(|r| r["name"].as_str())
}

fn controlled_by(object: &Value, owner_uid: &str) -> bool {
    controller_ref(object).is_some_and(|r| r["uid"] == owner_uid)
}

/// The reference a controller puts on what it creates.
fn owner_reference(api_version: &str, kind: &str, owner: &Value) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// The live objects of `gr` in `namespace` that `owner` controls.
fn owned(api: &Api, gr: &GroupResource, namespace: &str, owner: &Value) -> Vec<Arc<Value>> {
    let uid = uid_of(owner);
    api.store
        .txn(|t| t.list(gr, Some(namespace)))
        .into_iter()
        .filter(|o| controlled_by(o, uid))
        .collect()
}

fn scope(api: &Api, gr: &GroupResource, namespace: &str) -> Option<Scope> {
    let rt = api.catalog().get(gr)?;
    Some(Scope {
        version: rt.preferred_version().to_string(),
        namespace: Some(namespace.to_string()),
        rt,
    })
}

fn write_options() -> WriteOptions {
    WriteOptions {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    }
}

/// Creates an object as the controller; losing a race (the namespace going
/// away, a name taken) is logged and left to the next event.
fn create(api: &Api, gr: &GroupResource, namespace: &str, object: Value) {
    let Some(scope) = scope(api, gr, namespace) else {
        return;
    };
    if let Err(err) = api.create(&scope, object, &write_options()) {
        tracing::debug!(resource = %gr, %namespace, error = %err.message, "simulated controller could not create");
    }
}

/// Replaces an object as read; a conflict means a newer write, which
/// brings its own event.
fn update(api: &Api, gr: &GroupResource, object: Value) {
    let namespace = namespace_of(&object).to_string();
    let name = name_of(&object).to_string();
    let Some(scope) = scope(api, gr, &namespace) else {
        return;
    };
    if let Err(err) = api.update(&scope, &name, object, &write_options()) {
        tracing::debug!(resource = %gr, %namespace, %name, error = %err.message, "simulated controller could not update");
    }
}

fn delete(api: &Api, gr: &GroupResource, object: &Value) {
    let namespace = namespace_of(object);
    let name = name_of(object);
    let Some(scope) = scope(api, gr, namespace) else {
        return;
    };
    let opts = DeleteOptions {
        precondition_uid: Some(uid_of(object).to_string()),
        ..Default::default()
    };
    if let Err(err) = api.delete(&scope, name, &opts) {
        tracing::debug!(resource = %gr, %namespace, %name, error = %err.message, "simulated controller could not delete");
    }
}

/// Writes `status` unless the live one already says the same.
fn write_status(api: &Api, gr: &GroupResource, live: &Value, status: Value) {
    if live.get("status") == Some(&status) {
        return;
    }
    let rv = crate::store::resource_version_of(live);
    if let Err(err) = api.write_status(gr, namespace_of(live), name_of(live), rv, status, MANAGER) {
        tracing::warn!(resource = %gr, name = name_of(live), error = %err.message, "simulated controller could not write status");
    }
}

/// Keeps each condition's timestamps while its status, reason and message
/// stay, as controllers do, so an unchanged status is not rewritten.
fn keep_condition_times(old: Option<&Value>, conditions: &mut [Value]) {
    let old: &[Value] = old
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    for condition in conditions {
        let Some(previous) = old.iter().find(|c| c["type"] == condition["type"]) else {
            continue;
        };
        let same = |key: &str| previous.get(key) == condition.get(key);
        let (same_status, same_text) = (same("status"), same("reason") && same("message"));
        if same_status {
            condition["lastTransitionTime"] = previous["lastTransitionTime"].clone();
            if same_text {
                condition["lastUpdateTime"] = previous["lastUpdateTime"].clone();
            }
        }
    }
}

fn is_pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_times_stay_while_the_condition_does() {
        let old = json!({"conditions": [
            {"type": "Available", "status": "True", "reason": "A", "message": "",
             "lastUpdateTime": "t0", "lastTransitionTime": "t0"},
            {"type": "Progressing", "status": "True", "reason": "A", "message": "",
             "lastUpdateTime": "t0", "lastTransitionTime": "t0"},
        ]});
        let mut new = vec![
            json!({"type": "Available", "status": "True", "reason": "A", "message": "",
                   "lastUpdateTime": "t1", "lastTransitionTime": "t1"}),
            json!({"type": "Progressing", "status": "True", "reason": "B", "message": "",
                   "lastUpdateTime": "t1", "lastTransitionTime": "t1"}),
        ];
        keep_condition_times(Some(&old), &mut new);
        assert_eq!(new[0]["lastUpdateTime"], "t0");
        assert_eq!(new[1]["lastTransitionTime"], "t0");
        assert_eq!(new[1]["lastUpdateTime"], "t1");
    }

    #[test]
    fn only_the_controller_reference_counts() {
        let pod = json!({"metadata": {"ownerReferences": [
            {"kind": "ReplicaSet", "name": "other", "uid": "u0"},
            {"kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": true},
        ]}});
        assert_eq!(controller_name(&pod, "ReplicaSet"), Some("web-1"));
        assert!(controlled_by(&pod, "u1"));
        assert!(!controlled_by(&pod, "u0"));
        assert_eq!(controller_name(&pod, "Deployment"), None);
    }
}
