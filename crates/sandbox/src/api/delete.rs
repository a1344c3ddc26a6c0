//! delete and deletecollection: preconditions, finalizers, the
//! propagation policy a delete gets and the garbage-collector finalizer it
//! sets, namespace and CRD lifecycles. What then happens to dependents is
//! [`super::gc`]'s.

use super::gc::{Collector, FOREGROUND, ORPHAN, Work, has_finalizer, key_of};
use super::*;

impl Api {
    pub fn delete(
        &self,
        scope: &Scope,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let gr = scope.gr();
        self.store.txn(|t| {
            let live = t.get(&gr, scope.ns_key(), name).ok_or_else(|| ApiError::not_found(&gr, name))?;
            if let Some(uid) = &opts.precondition_uid
                && Some(uid.as_str()) != meta_str(&live, "uid")
            {
                return Err(ApiError::conflict(
                    &gr,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&live, "uid").unwrap_or_default()
                    ),
                ));
            }
            if let Some(rv) = &opts.precondition_resource_version
                && Some(rv.as_str()) != meta_str(&live, "resourceVersion")
            {
                return Err(ApiError::conflict(
                    &gr,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        meta_str(&live, "resourceVersion").unwrap_or_default()
                    ),
                ));
            }
            if opts.dry_run {
                return Ok(scope.present(&self.mark_deleting(&live)));
            }
            let mut gc = Collector::default();
            let out = self.delete_object(t, &mut gc, &gr, &live, opts.policy())?;
            self.collect(t, &mut gc)?;
            Ok(scope.present(&out))
        })
    }

    pub fn delete_collection(
        &self,
        scope: &Scope,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let gr = scope.gr();
        let result = self.list(scope, list)?;
        let mut deleted = Vec::new();
        for object in result.items {
            if opts.dry_run {
                deleted.push(scope.present(&self.mark_deleting(&object)));
                continue;
            }
            let outcome = self.store.txn(|t| {
                let Some(live) = t.get(&gr, scope.ns_key(), name_of(&object)) else {
                    return Ok(None);
                };
                let mut gc = Collector::default();
                let out = self.delete_object(t, &mut gc, &gr, &live, opts.policy())?;
                self.collect(t, &mut gc)?;
                Ok::<_, ApiError>(Some(out))
            })?;
            deleted.extend(outcome.map(|o| scope.present(&o)));
        }
        Ok(json!({
            "kind": format!("{}List", scope.rt.kind),
            "apiVersion": scope.rt.api_version(&scope.version),
            "metadata": {"resourceVersion": self.store.txn(|t| t.resource_version()).to_string()},
            "items": deleted,
        }))
    }

    /// The object as a delete leaves it while something holds it: namespaces
    /// always pass through Terminating, other objects only under finalizers.
    pub(super) fn mark_deleting(&self, live: &Value) -> Value {
        let mut object = live.clone();
        if !is_terminating(live) && (has_finalizers(live) || live["kind"] == "Namespace") {
            let meta = metadata_mut(&mut object);
            meta.insert("deletionTimestamp".into(), Value::String((self.now)()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        object
    }

    /// The propagation a delete gets: what the request asked (`None`: it
    /// did not), else what a garbage-collector finalizer already on the
    /// object says, else the kind's default — `batch/v1` Jobs orphan their
    /// Pods, as Kubernetes keeps them for compatibility; everything else
    /// is collected in the background.
    fn propagation_for(
        gr: &GroupResource,
        live: &Value,
        requested: Option<Propagation>,
    ) -> Propagation {
        if let Some(policy) = requested {
            return policy;
        }
        if has_finalizer(live, ORPHAN) {
            Propagation::Orphan
        } else if has_finalizer(live, FOREGROUND) {
            Propagation::Foreground
        } else if gr.group == "batch" && gr.resource == "jobs" {
            Propagation::Orphan
        } else {
            Propagation::Background
        }
    }

    /// Deletes one stored object: sets the garbage-collector finalizer its
    /// propagation needs (when it has dependents), marks it while finalizers
    /// hold it, removes it otherwise. What follows for dependents is queued
    /// on `gc`. Returns the object as the delete left it.
    pub(super) fn delete_object(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        gr: &GroupResource,
        live: &Value,
        requested: Option<Propagation>,
    ) -> Result<Value, ApiError> {
        if *gr == namespace_resource() {
            return self.delete_namespace(t, gc, live);
        }
        let policy = Self::propagation_for(gr, live, requested);
        let has_dependents =
            meta_str(live, "uid").is_some_and(|uid| !t.dependents_of(uid).is_empty());
        let gc_finalizer = match policy {
            Propagation::Orphan if has_dependents => Some(ORPHAN),
            Propagation::Foreground if has_dependents => Some(FOREGROUND),
            _ => None,
        };
        let mut finalizers: Vec<Value> = meta(live)
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|f| *f != ORPHAN && *f != FOREGROUND)
            .cloned()
            .collect();
        finalizers.extend(gc_finalizer.map(|f| Value::String(f.into())));
        let key = key_of(gr, live);
        if finalizers.is_empty() {
            let removed = self.remove_now(t, gc, gr, &key.namespace, &key.name)?;
            return Ok(removed.unwrap_or_else(|| live.clone()));
        }
        let mut marked = live.clone();
        metadata_mut(&mut marked).insert("finalizers".into(), Value::Array(finalizers));
        let marked = self.mark_deleting(&marked);
        let stored = if marked == *live {
            marked
        } else {
            t.put(gr, marked)?.as_ref().clone()
        };
        if gc_finalizer.is_some() {
            gc.push(Work::Owner(key));
        }
        Ok(stored)
    }

    /// Marks a namespace Terminating and deletes its contents in the
    /// background, as the namespace controller does; it goes once empty.
    pub(super) fn delete_namespace(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        live: &Value,
    ) -> Result<Value, ApiError> {
        let name = name_of(live).to_string();
        let namespaces = namespace_resource();
        if !is_terminating(live) {
            let mut marked = self.mark_deleting(live);
            marked["status"] = json!({"phase": "Terminating"});
            t.put(&namespaces, marked)?;
        }
        for gr in t.resources_with_objects_in(&name) {
            for object in t.list(&gr, Some(&name)) {
                if !is_terminating(&object) {
                    self.delete_object(t, gc, &gr, &object, Some(Propagation::Background))?;
                }
            }
        }
        gc.push(Work::Namespace(name.clone()));
        self.collect(t, gc)?;
        Ok(t.get(&namespaces, "", &name)
            .map_or_else(|| live.clone(), |o| o.as_ref().clone()))
    }

    /// Removes an object from the store now, and queues what follows for
    /// its dependents, its owners and its namespace. A CRD takes its
    /// custom resources along.
    pub(super) fn remove_now(
        &self,
        t: &mut Txn<'_>,
        gc: &mut Collector,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        let Some(removed) = t.remove(gr, namespace, name)? else {
            return Ok(None);
        };
        if *gr == crd_resource() {
            let crd_type = crate::catalog::resource_type_from_crd(&removed).ok();
            if let Some(rt) = crd_type {
                let custom = rt.group_resource();
                for object in t.list(&custom, None) {
                    let ns = meta_str(&object, "namespace")
                        .unwrap_or_default()
                        .to_string();
                    if let Some(gone) = t.remove(&custom, &ns, name_of(&object))? {
                        self.after_removal(t, gc, &gone);
                    }
                }
                self.catalog_mut().unregister(&custom);
            }
        }
        self.after_removal(t, gc, &removed);
        Ok(Some(removed.as_ref().clone()))
    }
}
