//! Garbage collection by `ownerReferences`, as kube-controller-manager's
//! garbage collector and the namespace controller do it, run inside the
//! transaction of the write that set it off.
//!
//! Owns: what happens to dependents when an owner goes or is being
//! deleted, the `orphan` and `foregroundDeletion` finalizers, and the
//! emptying and removal of a terminating namespace. The delete verb
//! ([`super::delete`]) decides the policy and marks the owner; the work
//! that follows is queued here and drained before the transaction ends.
//!
//! The rules, from the Kubernetes garbage collector:
//! - A dependent is collected once none of its owners is "solid" (exists
//!   with the referenced uid and is not deleting its dependents in the
//!   foreground). While a solid owner remains, references to absent owners
//!   and to owners in foreground deletion are dropped from it instead.
//! - An owner is looked up in its dependent's namespace when its kind is
//!   namespaced (a namespaced owner elsewhere counts as absent), cluster
//!   wide when its kind is cluster-scoped. A cluster-scoped dependent of a
//!   namespaced kind, or of a kind the server does not serve, is never
//!   collected through that reference.
//! - `orphan`: the owner's dependents lose their reference to it, then the
//!   finalizer goes. `foregroundDeletion`: every dependent is collected and
//!   the owner stays until none with `blockOwnerDeletion: true` is left. A
//!   dependent that has dependents of its own and an owner waiting for it
//!   is itself deleted in the foreground; a cycle is broken as Kubernetes
//!   breaks it, by making the dependent's references non-blocking.
//!
//! Why synchronous: nothing runs between requests here, so doing the work
//! at once gives clients the same sequence of watch events a cluster shows
//! (the owner marked, dependents deleted, the owner deleted) without a
//! controller loop, and tests never wait for a collection pass.
//!
//! Differences: the GC finalizers are only written when the owner has
//! dependents (a cluster adds them and takes them off again a moment
//! later); no `OwnerRefInvalidNamespace` events are recorded.

use std::collections::{HashSet, VecDeque};

use super::*;
use crate::store::ObjectKey;

pub(super) const ORPHAN: &str = "orphan";
pub(super) const FOREGROUND: &str = "foregroundDeletion";
/// The namespace controller's own entry in a namespace's `spec.finalizers`.
const NAMESPACE_FINALIZER: &str = "kubernetes";
/// A bound on the work one write may set off; only a bug (work that keeps
/// queueing itself) reaches it.
const MAX_STEPS: usize = 1_000_000;

/// One step of collection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Work {
    /// Decide the fate of a dependent whose owners may have changed.
    Dependent(ObjectKey),
    /// Act on an owner's `orphan` or `foregroundDeletion` finalizer.
    Owner(ObjectKey),
    /// Remove a terminating namespace once it is empty, or say what is left.
    Namespace(String),
}

/// The queue of collection work one transaction sets off. A step already
/// waiting is not queued twice, so an owner with many dependents is looked
/// at once per wave, not once per dependent.
#[derive(Default)]
pub(super) struct Collector {
    queue: VecDeque<Work>,
    queued: HashSet<Work>,
}

impl Collector {
    pub(super) fn push(&mut self, work: Work) {
        if self.queued.insert(work.clone()) {
            self.queue.push_back(work);
        }
    }

    fn pop(&mut self) -> Option<Work> {
        let work = self.queue.pop_front()?;
        self.queued.remove(&work);
        Some(work)
    }
}

/// What an owner reference points at, for its dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerState {
    /// Exists with the referenced uid and is not waiting for dependents.
    Solid,
    /// Absent, or another object of the same name.
    Dangling,
    /// Being deleted in the foreground: waits for its dependents.
    Waiting,
    /// Cannot be looked up (an unknown kind, or a namespaced owner of a
    /// cluster-scoped object): the reference keeps the dependent alive.
    Unresolvable,
}

pub(super) fn owner_refs(object: &Value) -> &[Value] {
    meta(object)
        .get("ownerReferences")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn has_finalizer(object: &Value, finalizer: &str) -> bool {
    meta(object)
        .get("finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == finalizer))
}

pub(super) fn key_of(gr: &GroupResource, object: &Value) -> ObjectKey {
    ObjectKey {
        gr: gr.clone(),
        namespace: meta_str(object, "namespace")
            .unwrap_or_default()
            .to_string(),
        name: name_of(object).to_string(),
    }
}

fn is_blocking(reference: &Value) -> bool {
    reference["blockOwnerDeletion"] == true
}

impl Api {
    /// Where an owner reference of `dependent` (in `namespace`) points.
    pub(super) fn owner_key(&self, namespace: &str, reference: &Value) -> Option<ObjectKey> {
        let api_version = reference["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = reference["kind"].as_str().unwrap_or_default();
        let rt = self.catalog().by_kind(group, kind)?;
        if rt.namespaced && namespace.is_empty() {
            return None;
        }
        Some(ObjectKey {
            gr: rt.storage_resource(),
            namespace: if rt.namespaced {
                namespace.to_string()
            } else {
                String::new()
            },
            name: reference["name"].as_str().unwrap_or_default().to_string(),
        })
    }

    fn owner_state(&self, t: &Txn<'_>, namespace: &str, reference: &Value) -> OwnerState {
        let Some(key) = self.owner_key(namespace, reference) else {
            return OwnerState::Unresolvable;
        };
        match t.get_key(&key) {
            Some(owner) if meta_str(&owner, "uid") == reference["uid"].as_str() => {
                if is_terminating(&owner) && has_finalizer(&owner, FOREGROUND) {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                }
            }
            _ => OwnerState::Dangling,
        }
    }

    /// Runs the queued work, and whatever it queues, to the end.
    pub(super) fn collect(&self, t: &mut Txn<'_>, gc: &mut Collector) -> Result<(), ApiError> {
        for _ in 0..MAX_STEPS {
            let Some(work) = gc.pop() else {
                return Ok(());
            };
            match work {
                Work::Dependent(key) => self.collect_dependent(t, gc, &key)?,
                Work::Owner(key) => self.process_owner(t, gc, &key)?,
                Work::Namespace(name) => self.process_namespace(t, gc, &name)?,
            }
        }
        tracing::error!(
            left = gc.queue.len(),
            "garbage collection did not settle; this is a sandbox bug"
        );
        Ok(())
    }

    /// What follows the removal of `removed` from the store: its dependents
    /// are looked at, owners waiting for it are looked at again, and its
    /// namespace may now be empty.
    pub(super) fn after_removal(&self, t: &Txn<'_>, gc: &mut Collector, removed: &Value) {
        if let Some(uid) = meta_str(removed, "uid") {
            for dependent in t.dependents_of(uid) {
                gc.push(Work::Dependent(dependent));
            }
        }
        let namespace = meta_str(removed, "namespace").unwrap_or_default();
        self.after_references_dropped(gc, namespace, owner_refs(removed));
        if !namespace.is_empty() {
            gc.push(Work::Namespace(namespace.to_string()));
        }
    }

    /// Owners that `references` no longer tie down may be done waiting.
    pub(super) fn after_references_dropped(
        &self,
        gc: &mut Collector,
        namespace: &str,
        references: &[Value],
    ) {
        for reference in references {
            if let Some(owner) = self.owner_key(namespace, reference) {
                gc.push(Work::Owner(owner));
            }
        }
    }

    /// The garbage collector's `attemptToDeleteItem`.
    fn collect_dependent(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        key: &ObjectKey,
    ) -> Result<(), ApiError> {
        let Some(item) = t.get_key(key) else {
            return Ok(());
        };
        if is_terminating(&item) {
            if has_finalizer(&item, FOREGROUND) {
                gc.push(Work::Owner(key.clone()));
            }
            return Ok(());
        }
        let refs = owner_refs(&item);
        if refs.is_empty() {
            return Ok(());
        }
        let states: Vec<OwnerState> = refs
            .iter()
            .map(|r| self.owner_state(t, &key.namespace, r))
            .collect();
        let has = |state: OwnerState| states.contains(&state);
        if has(OwnerState::Solid) || has(OwnerState::Unresolvable) {
            if has(OwnerState::Dangling) || has(OwnerState::Waiting) {
                let kept: Vec<Value> = refs
                    .iter()
                    .zip(&states)
                    .filter(|(_, s)| matches!(s, OwnerState::Solid | OwnerState::Unresolvable))
                    .map(|(r, _)| r.clone())
                    .collect();
                let dropped: Vec<Value> =
                    refs.iter().filter(|r| !kept.contains(r)).cloned().collect();
                let mut updated = item.as_ref().clone();
                updated["metadata"]["ownerReferences"] = Value::Array(kept);
                t.put(&key.gr, updated)?;
                self.after_references_dropped(gc, &key.namespace, &dropped);
            }
            return Ok(());
        }
        let dependents = meta_str(&item, "uid")
            .map(|uid| t.dependents_of(uid))
            .unwrap_or_default();
        let policy = if has(OwnerState::Waiting) && !dependents.is_empty() {
            let in_cycle = dependents.iter().any(|d| {
                t.get_key(d)
                    .is_some_and(|o| is_terminating(&o) && has_finalizer(&o, FOREGROUND))
            });
            if in_cycle && refs.iter().any(is_blocking) {
                let mut updated = item.as_ref().clone();
                if let Some(Value::Array(refs)) = updated["metadata"].get_mut("ownerReferences") {
                    for r in refs.iter_mut() {
                        r["blockOwnerDeletion"] = Value::Bool(false);
                    }
                }
                let stored = t.put(&key.gr, updated)?;
                self.after_references_dropped(gc, &key.namespace, owner_refs(&stored));
                return self.delete_dependent(t, gc, key, Propagation::Foreground);
            }
            Propagation::Foreground
        } else if has_finalizer(&item, ORPHAN) {
            Propagation::Orphan
        } else if has_finalizer(&item, FOREGROUND) {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        self.delete_dependent(t, gc, key, policy)
    }

    fn delete_dependent(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        key: &ObjectKey,
        policy: Propagation,
    ) -> Result<(), ApiError> {
        if let Some(live) = t.get_key(key) {
            self.delete_object(t, gc, &key.gr, &live, Some(policy))?;
        }
        Ok(())
    }

    /// The garbage collector's handling of an owner under the `orphan` or
    /// `foregroundDeletion` finalizer.
    fn process_owner(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        key: &ObjectKey,
    ) -> Result<(), ApiError> {
        let Some(owner) = t.get_key(key) else {
            return Ok(());
        };
        if !is_terminating(&owner) {
            return Ok(());
        }
        let uid = meta_str(&owner, "uid").unwrap_or_default().to_string();
        if has_finalizer(&owner, ORPHAN) {
            for dependent in t.dependents_of(&uid) {
                let Some(live) = t.get_key(&dependent) else {
                    continue;
                };
                let mut orphan = live.as_ref().clone();
                if let Some(Value::Array(refs)) = orphan["metadata"].get_mut("ownerReferences") {
                    refs.retain(|r| r["uid"] != uid.as_str());
                }
                t.put(&dependent.gr, orphan)?;
            }
            return self.drop_finalizer(t, gc, key, &owner, ORPHAN);
        }
        if !has_finalizer(&owner, FOREGROUND) {
            return Ok(());
        }
        let mut blocked = false;
        for dependent in t.dependents_of(&uid) {
            let Some(live) = t.get_key(&dependent) else {
                continue;
            };
            blocked |= owner_refs(&live)
                .iter()
                .any(|r| r["uid"] == uid.as_str() && is_blocking(r));
            if !is_terminating(&live) || has_finalizer(&live, FOREGROUND) {
                gc.push(Work::Dependent(dependent));
            }
        }
        if blocked {
            // Each dependent that goes queues this owner again.
            return Ok(());
        }
        self.drop_finalizer(t, gc, key, &owner, FOREGROUND)
    }

    /// Takes a garbage-collector finalizer off a deleting object, which
    /// goes when it was the last.
    fn drop_finalizer(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        key: &ObjectKey,
        owner: &Value,
        finalizer: &str,
    ) -> Result<(), ApiError> {
        let mut updated = owner.clone();
        if let Some(Value::Array(finalizers)) = updated["metadata"].get_mut("finalizers") {
            finalizers.retain(|f| f != finalizer);
        }
        if has_finalizers(&updated) {
            t.put(&key.gr, updated)?;
        } else {
            self.remove_now(t, gc, &key.gr, &key.namespace, &key.name)?;
        }
        Ok(())
    }

    /// The namespace controller: a terminating namespace goes once nothing
    /// is left in it and only its own `kubernetes` finalizer remains;
    /// until then its conditions say what holds it.
    fn process_namespace(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        name: &str,
    ) -> Result<(), ApiError> {
        let namespaces = namespace_resource();
        let Some(ns) = t.get(&namespaces, "", name) else {
            return Ok(());
        };
        if !is_terminating(&ns) {
            return Ok(());
        }
        let remaining = t.resources_with_objects_in(name);
        let foreign_finalizers = ns
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x != NAMESPACE_FINALIZER));
        if remaining.is_empty() && !has_finalizers(&ns) && !foreign_finalizers {
            self.remove_now(t, gc, &namespaces, "", name)?;
            return Ok(());
        }
        let mut status = json!({
            "phase": "Terminating",
            "conditions": namespace_conditions(t, name, &remaining, &(self.now)()),
        });
        if let Some(Value::Array(conditions)) = status.get_mut("conditions") {
            keep_transition_times(ns.get("status"), conditions);
        }
        if ns.get("status") != Some(&status) {
            let mut updated = ns.as_ref().clone();
            updated["status"] = status;
            t.put(&namespaces, updated)?;
        }
        Ok(())
    }
}

/// The conditions the namespace controller reports while content remains:
/// what is left, by resource, and which finalizers hold it.
fn namespace_conditions(
    t: &Txn<'_>,
    namespace: &str,
    remaining: &[GroupResource],
    now: &str,
) -> Vec<Value> {
    let mut resources = Vec::new();
    let mut finalizers: std::collections::BTreeMap<String, usize> = Default::default();
    for gr in remaining {
        let objects = t.list(gr, Some(namespace));
        resources.push(format!(
            "{}.{} has {} resource instances",
            gr.resource,
            gr.group,
            objects.len()
        ));
        for object in &objects {
            for f in meta(object)
                .get("finalizers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                *finalizers.entry(f.to_string()).or_default() += 1;
            }
        }
    }
    resources.sort();
    let condition = |kind: &str, status: bool, reason: &str, message: String| {
        json!({
            "type": kind,
            "status": if status { "True" } else { "False" },
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        })
    };
    let mut conditions = vec![
        condition(
            "NamespaceDeletionDiscoveryFailure",
            false,
            "ResourcesDiscovered",
            "All resources successfully discovered".into(),
        ),
        condition(
            "NamespaceDeletionGroupVersionParsingFailure",
            false,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".into(),
        ),
        condition(
            "NamespaceDeletionContentFailure",
            false,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".into(),
        ),
    ];
    conditions.push(if resources.is_empty() {
        condition(
            "NamespaceContentRemaining",
            false,
            "ContentRemoved",
            "All content successfully removed".into(),
        )
    } else {
        condition(
            "NamespaceContentRemaining",
            true,
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", resources.join(", ")),
        )
    });
    conditions.push(if finalizers.is_empty() {
        condition(
            "NamespaceFinalizersRemaining",
            false,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".into(),
        )
    } else {
        let held: Vec<String> = finalizers
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        condition(
            "NamespaceFinalizersRemaining",
            true,
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                held.join(", ")
            ),
        )
    });
    conditions
}

/// Keeps a condition's `lastTransitionTime` while its status stays.
fn keep_transition_times(old: Option<&Value>, conditions: &mut [Value]) {
    let old: &[Value] = old
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    for condition in conditions {
        if let Some(previous) = old
            .iter()
            .find(|c| c["type"] == condition["type"] && c["status"] == condition["status"])
        {
            condition["lastTransitionTime"] = previous["lastTransitionTime"].clone();
        }
    }
}
