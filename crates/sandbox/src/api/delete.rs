//! delete and deletecollection: finalizers, propagation to dependents,
//! namespace and CRD lifecycles.

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
            let deleting = self.mark_deleting(&live);
            if opts.dry_run {
                return Ok(scope.present(&deleting));
            }
            self.delete_object(t, &gr, &live, opts.propagation)
                .map(|o| scope.present(&o))
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
            let outcome =
                self.store
                    .txn(|t| match t.get(&gr, scope.ns_key(), name_of(&object)) {
                        Some(live) => self
                            .delete_object(t, &gr, &live, opts.propagation)
                            .map(Some),
                        None => Ok(None),
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

    /// Deletes one stored object: marks it when finalizers hold it, removes
    /// it otherwise, and runs the namespace and CRD lifecycles.
    pub(super) fn delete_object(
        &self,
        t: &mut Txn<'_>,
        gr: &GroupResource,
        live: &Value,
        propagation: Propagation,
    ) -> Result<Value, ApiError> {
        let namespace = meta_str(live, "namespace").unwrap_or_default().to_string();
        let name = name_of(live).to_string();
        if *gr == namespace_resource() {
            return self.delete_namespace(t, live);
        }
        if has_finalizers(live) {
            if is_terminating(live) {
                return Ok(live.clone());
            }
            let marked = self.mark_deleting(live);
            return Ok(t.put(gr, marked)?.as_ref().clone());
        }
        let removed = self.remove_now(t, gr, &namespace, &name, propagation)?;
        Ok(removed.unwrap_or_else(|| live.clone()))
    }

    pub(super) fn delete_namespace(
        &self,
        t: &mut Txn<'_>,
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
                if has_finalizers(&object) {
                    if !is_terminating(&object) {
                        let marked = self.mark_deleting(&object);
                        t.put(&gr, marked)?;
                    }
                } else {
                    t.remove(&gr, &name, name_of(&object))?;
                }
            }
        }
        self.finalize_namespace(t, &name)?;
        Ok(t.get(&namespaces, "", &name)
            .map_or_else(|| live.clone(), |o| o.as_ref().clone()))
    }

    /// Removes a terminating namespace once nothing is left in it.
    pub(super) fn finalize_namespace(&self, t: &mut Txn<'_>, name: &str) -> Result<(), ApiError> {
        let namespaces = namespace_resource();
        let Some(ns) = t.get(&namespaces, "", name) else {
            return Ok(());
        };
        if is_terminating(&ns)
            && !has_finalizers(&ns)
            && t.resources_with_objects_in(name).is_empty()
        {
            t.remove(&namespaces, "", name)?;
        }
        Ok(())
    }

    /// Removes an object from the store and handles what depended on it.
    pub(super) fn remove_now(
        &self,
        t: &mut Txn<'_>,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        propagation: Propagation,
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
                    t.remove(&custom, &ns, name_of(&object))?;
                }
                self.catalog_mut().unregister(&custom);
            }
        }
        if let Some(uid) = meta_str(&removed, "uid") {
            self.handle_dependents(t, uid, namespace, propagation)?;
        }
        if !namespace.is_empty() {
            self.finalize_namespace(t, namespace)?;
        }
        Ok(Some(removed.as_ref().clone()))
    }

    /// Garbage collection by ownerReferences: dependents are deleted, or
    /// orphaned (their reference to the owner dropped).
    pub(super) fn handle_dependents(
        &self,
        t: &mut Txn<'_>,
        owner_uid: &str,
        owner_namespace: &str,
        propagation: Propagation,
    ) -> Result<(), ApiError> {
        let types: Vec<Arc<ResourceType>> = self.catalog().types().cloned().collect();
        for rt in types {
            let gr = rt.group_resource();
            let scope = (!owner_namespace.is_empty() && rt.namespaced).then_some(owner_namespace);
            if !owner_namespace.is_empty() && !rt.namespaced {
                continue;
            }
            for object in t.list(&gr, scope) {
                let owned = meta(&object)
                    .get("ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid));
                if !owned {
                    continue;
                }
                if propagation == Propagation::Orphan {
                    let mut orphan = object.as_ref().clone();
                    if let Some(Value::Array(refs)) = orphan["metadata"].get_mut("ownerReferences")
                    {
                        refs.retain(|r| r["uid"] != owner_uid);
                    }
                    t.put(&gr, orphan)?;
                } else {
                    self.delete_object(t, &gr, &object, propagation)?;
                }
            }
        }
        Ok(())
    }
}
