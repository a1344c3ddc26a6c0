//! The workload controllers, simulated: a Deployment owns one ReplicaSet
//! per pod template (`<deployment>-<pod-template-hash>`), a ReplicaSet owns
//! its Pods, a StatefulSet owns one Pod per ordinal (see [`statefulset`]),
//! a DaemonSet one Pod per matching Node (see [`daemonset`]; the sandbox
//! registers one Node, see [`node`]), a Job the Pods it runs to completion
//! (see [`job`]), and StatefulSets and DaemonSets keep their template
//! history as ControllerRevisions (see [`history`]). Each writes the status
//! the real kube-controller-manager would, computed from what it owns.
//! Clients that follow the chain — Helm 3's `--wait` looks up the
//! Deployment's new ReplicaSet, `kubectl rollout history` reads its
//! revisions — then see what they see on a cluster. Pods themselves become
//! Running (or fail, or hang, or run to completion) in [`crate::rollout`],
//! after the rollout delay.
//!
//! Owns: creating, scaling and pruning ReplicaSets, Pods and
//! ControllerRevisions, and the status of the workloads above. Does not
//! touch deletion: owned objects go with their owner through the API's
//! garbage collection.
//!
//! Simplifications, as nothing runs: a new template's ReplicaSet gets all
//! the replicas at once and the old ones drop to zero at once (no surge or
//! unavailability budget is walked through), and a Pod is available as
//! soon as it is ready (`minReadySeconds` is not waited for).

mod daemonset;
mod deployment;
mod history;
mod indexed;
mod job;
mod node;
mod replicaset;
mod statefulset;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::api::{Api, DeleteOptions, Propagation, Scope, WriteOptions};
use crate::catalog::GroupResource;
use crate::rollout::ROLLOUT_ANNOTATION;
use crate::store::{EventType, WatchEvent};
use daemonset::sync_daemon_set;
use deployment::sync_deployment;
use job::sync_job;
pub use node::register_node;
use replicaset::sync_replica_set;
use statefulset::sync_stateful_set;

/// The field manager of every write made here, as `rollout`'s.
const MANAGER: &str = crate::rollout::MANAGER;

fn deployments() -> GroupResource {
    GroupResource::new("apps", "deployments")
}

fn replica_sets() -> GroupResource {
    GroupResource::new("apps", "replicasets")
}

fn stateful_sets() -> GroupResource {
    GroupResource::new("apps", "statefulsets")
}

fn daemon_sets() -> GroupResource {
    GroupResource::new("apps", "daemonsets")
}

fn controller_revisions() -> GroupResource {
    GroupResource::new("apps", "controllerrevisions")
}

fn jobs() -> GroupResource {
    GroupResource::new("batch", "jobs")
}

fn pods() -> GroupResource {
    GroupResource::new("", "pods")
}

fn nodes() -> GroupResource {
    GroupResource::new("", "nodes")
}

/// The controllers a batch of store events asks to resync, by namespace
/// and name. A burst of events (a Deployment's Pods all starting) then
/// costs one sync per controller, not one per event.
#[derive(Default)]
pub struct Dirty {
    replica_sets: BTreeSet<(String, String)>,
    deployments: BTreeSet<(String, String)>,
    stateful_sets: BTreeSet<(String, String)>,
    daemon_sets: BTreeSet<(String, String)>,
    jobs: BTreeSet<(String, String)>,
}

impl Dirty {
    /// Every workload: at start, and after missed events.
    pub fn everything(api: &Api) -> Dirty {
        let key = |o: &Arc<Value>| (namespace_of(o).to_string(), name_of(o).to_string());
        api.store.txn(|t| Dirty {
            replica_sets: t.list(&replica_sets(), None).iter().map(key).collect(),
            deployments: t.list(&deployments(), None).iter().map(key).collect(),
            stateful_sets: t.list(&stateful_sets(), None).iter().map(key).collect(),
            daemon_sets: t.list(&daemon_sets(), None).iter().map(key).collect(),
            jobs: t.list(&jobs(), None).iter().map(key).collect(),
        })
    }

    /// Asks for one Job's sync (a [`WakeUp`] come due).
    pub fn job(&mut self, key: (String, String)) {
        self.jobs.insert(key);
    }

    pub fn is_empty(&self) -> bool {
        self.replica_sets.is_empty()
            && self.deployments.is_empty()
            && self.stateful_sets.is_empty()
            && self.daemon_sets.is_empty()
            && self.jobs.is_empty()
    }

    /// Notes whom one event concerns: the changed object's controller and,
    /// through owner references, the controllers above it.
    pub fn note(&mut self, api: &Api, event: &WatchEvent) {
        let gr = &event.group_resource;
        let namespace = event.namespace.as_str();
        let key = |name: &str| (namespace.to_string(), name.to_string());
        let deleted = event.event_type == EventType::Deleted;
        if *gr == deployments() && !deleted {
            self.deployments.insert(key(name_of(&event.object)));
        } else if *gr == replica_sets() {
            if !deleted {
                self.replica_sets.insert(key(name_of(&event.object)));
            }
            if let Some(owner) = controller_name(&event.object, "Deployment") {
                self.deployments.insert(key(owner));
            }
        } else if *gr == stateful_sets() {
            if !deleted {
                self.stateful_sets.insert(key(name_of(&event.object)));
            }
        } else if *gr == daemon_sets() {
            if !deleted {
                self.daemon_sets.insert(key(name_of(&event.object)));
            }
        } else if *gr == jobs() {
            if !deleted {
                self.jobs.insert(key(name_of(&event.object)));
            }
        } else if *gr == nodes() {
            // Any DaemonSet may want a Pod on a new or relabelled Node.
            let every = api.store.txn(|t| t.list(&daemon_sets(), None));
            self.daemon_sets.extend(
                every
                    .iter()
                    .map(|o| (namespace_of(o).to_string(), name_of(o).to_string())),
            );
        } else if *gr == pods()
            && let Some(set) = controller_name(&event.object, "StatefulSet")
        {
            self.stateful_sets.insert(key(set));
        } else if *gr == pods()
            && let Some(set) = controller_name(&event.object, "DaemonSet")
        {
            self.daemon_sets.insert(key(set));
        } else if *gr == pods()
            && let Some(job) = controller_name(&event.object, "Job")
        {
            self.jobs.insert(key(job));
        } else if *gr == pods()
            && let Some(rs_name) = controller_name(&event.object, "ReplicaSet")
        {
            // A Pod's phase changes nothing in its ReplicaSet's spec, but
            // the counts in both statuses (and a Deployment's failure) follow it.
            self.replica_sets.insert(key(rs_name));
            let rs = api
                .store
                .txn(|t| t.get(&replica_sets(), namespace, rs_name));
            if let Some(owner) = rs
                .as_deref()
                .and_then(|rs| controller_name(rs, "Deployment"))
            {
                self.deployments.insert(key(owner));
            }
        }
    }
}

/// A Job to sync again once `after` has passed, though no event comes:
/// its `activeDeadlineSeconds` falls then, or its `ttlSecondsAfterFinished`
/// runs out.
pub struct WakeUp {
    pub after: std::time::Duration,
    pub job: (String, String),
}

/// Resyncs what `dirty` names: ReplicaSets first, so the Deployments count
/// the Pods and statuses they just got. Returns the Jobs to look at again
/// later.
pub fn sync(api: &Api, dirty: &Dirty) -> Vec<WakeUp> {
    let mut owned_pods = Index::new(pods());
    for (namespace, name) in &dirty.replica_sets {
        sync_replica_set(api, &mut owned_pods, namespace, name);
    }
    let mut owned_pods = Index::new(pods());
    let mut owned_revisions = Index::new(controller_revisions());
    for (namespace, name) in &dirty.stateful_sets {
        sync_stateful_set(api, &mut owned_pods, &mut owned_revisions, namespace, name);
    }
    if !dirty.daemon_sets.is_empty() {
        let nodes = api.store.txn(|t| t.list(&nodes(), None));
        let mut owned_pods = Index::new(pods());
        for (namespace, name) in &dirty.daemon_sets {
            sync_daemon_set(
                api,
                &mut owned_pods,
                &mut owned_revisions,
                &nodes,
                namespace,
                name,
            );
        }
    }
    let mut owned_pods = Index::new(pods());
    let mut wake_ups = Vec::new();
    for (namespace, name) in &dirty.jobs {
        if let Some(after) = sync_job(api, &mut owned_pods, namespace, name) {
            wake_ups.push(WakeUp {
                after,
                job: (namespace.clone(), name.clone()),
            });
        }
    }
    let mut owned_pods = Index::new(pods());
    let mut owned_sets = Index::new(replica_sets());
    for (namespace, name) in &dirty.deployments {
        sync_deployment(api, &mut owned_sets, &mut owned_pods, namespace, name);
    }
    wake_ups
}

/// The live objects of one resource, grouped by namespace and by their
/// controller's uid: each namespace is listed once per batch, not once per
/// object synced. Each controller is synced once per batch and changes only
/// what it owns, so what it reads here is not stale for it.
struct Index {
    gr: GroupResource,
    namespaces: HashMap<String, HashMap<String, Vec<Arc<Value>>>>,
}

impl Index {
    fn new(gr: GroupResource) -> Index {
        Index {
            gr,
            namespaces: HashMap::new(),
        }
    }

    /// What `owner` controls, but what is being deleted.
    fn owned_by(&mut self, api: &Api, owner: &Value) -> Vec<Arc<Value>> {
        let namespace = namespace_of(owner);
        let by_owner = self
            .namespaces
            .entry(namespace.to_string())
            .or_insert_with(|| {
                let mut by_owner: HashMap<String, Vec<Arc<Value>>> = HashMap::new();
                for object in api.store.txn(|t| t.list(&self.gr, Some(namespace))) {
                    if is_terminating(&object) {
                        continue;
                    }
                    if let Some(uid) = controller_ref(&object).and_then(|r| r["uid"].as_str()) {
                        by_owner
                            .entry(uid.to_string())
                            .or_default()
                            .push(object.clone());
                    }
                }
                by_owner
            });
        by_owner.get(uid_of(owner)).cloned().unwrap_or_default()
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

/// A new Pod from `owner`'s pod template (`generateName: <owner>-`),
/// controlled by it. The owner's rollout annotation is passed on, so the
/// Pod fails or hangs as it says.
fn pod_from_template(owner: &Value, api_version: &str, kind: &str) -> Value {
    let template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let mut metadata = template.get("metadata").cloned().unwrap_or(json!({}));
    if !metadata.is_object() {
        metadata = json!({});
    }
    if !metadata.get("labels").is_some_and(Value::is_object) {
        metadata["labels"] = json!({});
    }
    metadata["generateName"] = json!(format!("{}-", name_of(owner)));
    metadata["namespace"] = owner["metadata"]["namespace"].clone();
    metadata["ownerReferences"] = json!([owner_reference(api_version, kind, owner)]);
    if let Some(outcome) = owner
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ROLLOUT_ANNOTATION))
    {
        if !metadata.get("annotations").is_some_and(Value::is_object) {
            metadata["annotations"] = json!({});
        }
        metadata["annotations"][ROLLOUT_ANNOTATION] = outcome.clone();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
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
fn create(api: &Api, gr: &GroupResource, namespace: &str, object: Value) -> Option<Value> {
    let scope = scope(api, gr, namespace)?;
    api.create(&scope, object, &write_options())
        .inspect_err(|err| {
            tracing::debug!(resource = %gr, %namespace, error = %err.message, "simulated controller could not create");
        })
        .ok()
}

/// Replaces an object as read; a conflict means a newer write, which
/// brings its own event.
fn update(api: &Api, gr: &GroupResource, object: Value) -> Option<Value> {
    let namespace = namespace_of(&object).to_string();
    let name = name_of(&object).to_string();
    let scope = scope(api, gr, &namespace)?;
    api.update(&scope, &name, object, &write_options())
        .inspect_err(|err| {
            tracing::debug!(resource = %gr, %namespace, %name, error = %err.message, "simulated controller could not update");
        })
        .ok()
}

fn delete(api: &Api, gr: &GroupResource, object: &Value) {
    delete_propagating(api, gr, object, None);
}

/// Deletes the object as read (its uid a precondition), with this
/// `propagationPolicy` or the kind's default.
fn delete_propagating(
    api: &Api,
    gr: &GroupResource,
    object: &Value,
    propagation: Option<Propagation>,
) {
    let namespace = namespace_of(object);
    let name = name_of(object);
    let Some(scope) = scope(api, gr, namespace) else {
        return;
    };
    let opts = DeleteOptions {
        precondition_uid: Some(uid_of(object).to_string()),
        propagation,
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
        let kept: &[&str] = match (same_status, same_text) {
            (true, true) => &["lastTransitionTime", "lastUpdateTime", "lastProbeTime"],
            (true, false) => &["lastTransitionTime"],
            (false, _) => &[],
        };
        for key in kept {
            if let (Some(time), Some(slot)) = (previous.get(*key), condition.get_mut(*key)) {
                *slot = time.clone();
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
        assert_eq!(controller_ref(&pod).map(|r| &r["uid"]), Some(&json!("u1")));
        assert_eq!(controller_name(&pod, "Deployment"), None);
    }
}
