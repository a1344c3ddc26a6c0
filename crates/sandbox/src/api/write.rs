//! create, update, patch and apply: body checks, schema pruning and
//! validation, defaulting, ownership bookkeeping, no-op detection and the
//! commit of one write.

use super::*;

impl Api {
    pub(super) fn check_body_type(&self, scope: &Scope, body: &mut Value) -> Result<(), ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON or YAML object",
            ));
        }
        let expected = scope.rt.api_version(&scope.version);
        match body.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => body["apiVersion"] = Value::String(expected.clone()),
            Some(given) if given == expected => {}
            Some(given) => {
                let served = scope
                    .rt
                    .versions
                    .iter()
                    .any(|v| scope.rt.api_version(v) == given);
                if !served {
                    return Err(ApiError::bad_request(format!(
                        "the API version in the data ({given}) does not match the expected API version ({expected})"
                    )));
                }
            }
        }
        match body.get("kind").and_then(Value::as_str) {
            None | Some("") => body["kind"] = Value::String(scope.rt.kind.clone()),
            Some(kind) if kind == scope.rt.kind => {}
            Some(kind) => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({kind}) does not match the expected kind ({})",
                    scope.rt.kind
                )));
            }
        }
        // Stored in one version, converted from the one written.
        let stored = scope.rt.storage_api_version();
        *body = crate::convert::to_version(body, &scope.rt.kind, &stored);
        let namespace = meta_str(body, "namespace").map(str::to_string);
        match (&scope.namespace, namespace) {
            (Some(path_ns), Some(body_ns)) if !body_ns.is_empty() && *path_ns != body_ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            (Some(path_ns), _) => {
                metadata_mut(body).insert("namespace".into(), Value::String(path_ns.clone()));
            }
            (None, _) => {
                metadata_mut(body).remove("namespace");
            }
        }
        Ok(())
    }

    pub(super) fn check_namespace_open(&self, t: &Txn<'_>, scope: &Scope) -> Result<(), ApiError> {
        let Some(ns) = &scope.namespace else {
            return Ok(());
        };
        let namespaces = GroupResource::new("", "namespaces");
        match t.get(&namespaces, "", ns) {
            None => Err(ApiError::not_found(&namespaces, ns)),
            Some(n) if is_terminating(&n) => Err(ApiError::forbidden(format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                scope.gr(),
                name_of(&n)
            ))
            .with_details(json!({"name": ns, "kind": scope.rt.plural}))),
            Some(_) => Ok(()),
        }
    }

    pub fn create(
        &self,
        scope: &Scope,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.check_body_type(scope, &mut body)?;
        let gr = scope.gr();
        self.store.txn(|t| {
            self.check_namespace_open(t, scope)?;
            let meta = metadata_mut(&mut body);
            let has_name = meta
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            if !has_name && let Some(prefix) = meta.get("generateName").and_then(Value::as_str) {
                let generated = format!("{prefix}{}", random_suffix());
                meta.insert("name".into(), Value::String(generated));
            }
            let name = name_of(&body).to_string();
            if !name.is_empty() && t.get(&gr, scope.ns_key(), &name).is_some() {
                return Err(ApiError::already_exists(&gr, &name));
            }
            let object = self.finish_write(scope, None, body, opts, WriteKind::Update)?;
            self.commit(t, scope, None, object, opts)
        })
    }

    pub fn update(
        &self,
        scope: &Scope,
        name: &str,
        mut body: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        self.check_body_type(scope, &mut body)?;
        let gr = scope.gr();
        if name_of(&body) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&body)
            )));
        }
        self.store.txn(|t| {
            let live = t
                .get(&gr, scope.ns_key(), name)
                .ok_or_else(|| ApiError::not_found(&gr, name))?;
            if let Some(rv) = meta_str(&body, "resourceVersion")
                && !rv.is_empty()
                && Some(rv) != meta_str(&live, "resourceVersion")
            {
                return Err(ApiError::stale(&gr, name));
            }
            let object = self.finish_write(scope, Some(&live), body, opts, WriteKind::Update)?;
            self.commit(t, scope, Some(&live), object, opts)
        })
    }

    /// Applies a patch; an apply patch to a missing object creates it (then
    /// `created` is true, for the 201).
    pub fn patch(
        &self,
        scope: &Scope,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        force: bool,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let gr = scope.gr();
        if patch_type == PatchType::StrategicMerge && !scope.rt.builtin {
            return Err(ApiError::unsupported_media_type(
                "application/strategic-merge-patch+json",
                &[
                    "application/json-patch+json",
                    "application/merge-patch+json",
                    "application/apply-patch+yaml",
                ],
            ));
        }
        let patch = parse_patch_body(patch_type, body)?;
        if patch_type == PatchType::Apply && opts.field_manager.is_none() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            )
            .with_details(json!({"causes": [{"reason": "FieldValueRequired", "field": "fieldManager"}]})));
        }
        let now = (self.now)();
        self.store.txn(|t| {
            let live = t.get(&gr, scope.ns_key(), name);
            let schema = &ownership_schema(&scope.rt, opts);
            let (patched, created) = match (patch_type, &live) {
                (PatchType::Apply, live) => {
                    let mut applied = patch;
                    self.check_body_type(scope, &mut applied)?;
                    if name_of(&applied) != name {
                        return Err(ApiError::bad_request(format!(
                            "the name of the object ({}) does not match the name on the URL ({name})",
                            name_of(&applied)
                        )));
                    }
                    if live.is_none() {
                        self.check_namespace_open(t, scope)?;
                    }
                    let merged = merge::server_side_apply(
                        live.as_deref(),
                        &applied,
                        &opts.manager(),
                        force,
                        schema,
                        &now,
                    )
                    .map_err(|e| apply_error(&gr, name, e))?;
                    (
                        self.finish_write(scope, live.as_deref(), merged, opts, WriteKind::Apply)?,
                        live.is_none(),
                    )
                }
                (_, None) => return Err(ApiError::not_found(&gr, name)),
                (_, Some(live)) => {
                    let base = scope.present(live);
                    let mut patched = match patch_type {
                        PatchType::Json => merge::json_patch(&base, &patch),
                        PatchType::Merge => merge::merge_patch(&base, &patch),
                        _ => merge::strategic_merge_patch(&base, &patch, schema),
                    }
                    .map_err(patch_error)?;
                    self.check_body_type(scope, &mut patched)?;
                    if name_of(&patched) != name {
                        return Err(ApiError::bad_request("metadata.name: the name of a patched object cannot change"));
                    }
                    if meta_str(&patched, "resourceVersion") != meta_str(live, "resourceVersion") {
                        return Err(ApiError::stale(&gr, name));
                    }
                    (
                        self.finish_write(scope, Some(live), patched, opts, WriteKind::Update)?,
                        false,
                    )
                }
            };
            let committed = self.commit(t, scope, live.as_deref(), patched, opts)?;
            Ok((committed, created))
        })
    }

    /// Turns a requested object into the one to store: system metadata,
    /// subresource rules, generation, validation and managed fields.
    pub(super) fn finish_write(
        &self,
        scope: &Scope,
        old: Option<&Value>,
        mut new: Value,
        opts: &WriteOptions,
        kind: WriteKind,
    ) -> Result<Value, ApiError> {
        let rt = &scope.rt;
        let now = (self.now)();
        if let Some(old) = old {
            if opts.is_status() {
                let status = new.get("status").cloned();
                let managed = meta(&new).get("managedFields").cloned();
                new = old.clone();
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        new.as_object_mut().map(|o| o.remove("status"));
                    }
                }
                if let Some(m) = managed {
                    metadata_mut(&mut new).insert("managedFields".into(), m);
                }
            } else if rt.status_subresource {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|o| o.remove("status"));
                    }
                }
            }
            let old_meta = meta(old);
            let new_meta = metadata_mut(&mut new);
            for field in SYSTEM_METADATA {
                match old_meta.get(field) {
                    Some(v) => new_meta.insert(field.into(), v.clone()),
                    None => new_meta.remove(field),
                };
            }
            // The stored object carries server defaults: compare like with like,
            // or a manifest that omits them would look like a spec change.
            server_defaults(rt, Some(old), &mut new);
            apply_schema(rt, &mut new, opts)?;
            if rt.tracks_generation && spec_part(old) != spec_part(&new) {
                let generation = old_meta
                    .get("generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    + 1;
                metadata_mut(&mut new).insert("generation".into(), json!(generation));
            }
            if is_terminating(old) {
                // Finalizers may only be removed once deletion has started.
                let old_finalizers: Vec<Value> = old_meta
                    .get("finalizers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let added = meta(&new)
                    .get("finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|x| !old_finalizers.contains(x)));
                if added {
                    return Err(ApiError::invalid(
                        &rt.kind,
                        &rt.group,
                        name_of(old),
                        &[(
                            "metadata.finalizers".into(),
                            "Forbidden: no new finalizers can be added if the object is being deleted".into(),
                        )],
                    ));
                }
            }
            validation::check_immutable(rt, old, &new)?;
        } else {
            if rt.status_subresource && rt.plural != "namespaces" {
                new.as_object_mut().map(|o| o.remove("status"));
            }
            let meta = metadata_mut(&mut new);
            for field in SYSTEM_METADATA {
                meta.remove(field);
            }
            meta.insert("uid".into(), Value::String(new_uid()));
            meta.insert("creationTimestamp".into(), Value::String(now.clone()));
            if rt.tracks_generation {
                meta.insert("generation".into(), json!(1));
            }
            meta.remove("resourceVersion");
        }
        server_defaults(rt, old, &mut new);
        apply_schema(rt, &mut new, opts)?;
        validation::validate(rt, &new)?;
        if kind == WriteKind::Update {
            let schema = ownership_schema(rt, opts);
            let mut tracked = merge::track_update(old, new, &opts.manager(), &schema, &now);
            strip_empty_managed_fields(&mut tracked);
            Ok(tracked)
        } else {
            Ok(new)
        }
    }

    /// Stores a finished object (unless a dry run or a no-op) and runs the
    /// lifecycles that follow: CRD registration, deletion once the last
    /// finalizer is gone.
    pub(super) fn commit(
        &self,
        t: &mut Txn<'_>,
        scope: &Scope,
        old: Option<&Value>,
        mut new: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let gr = scope.gr();
        let is_crd = gr == crd_resource();
        if is_crd {
            let rt = crate::catalog::resource_type_from_crd(&new)
                .map_err(|message| crd_invalid(&new, &message))?;
            crd_status(&mut new, &rt);
        }
        if let Some(old) = old
            && comparable(old) == comparable(&new)
        {
            return Ok(scope.present(old));
        }
        if let Some(admit) = &opts.admission {
            admit(&gr, &new)?;
        }
        if opts.dry_run {
            if old.is_none() {
                metadata_mut(&mut new).remove("resourceVersion");
            }
            return Ok(scope.present(&new));
        }
        let mut gc = gc::Collector::default();
        if is_terminating(&new) && !has_finalizers(&new) && gr != namespace_resource() {
            let removed = self.remove_now(t, &mut gc, &gr, scope.ns_key(), name_of(&new))?;
            self.collect(t, &mut gc)?;
            return Ok(scope.present(&removed.unwrap_or(new)));
        }
        let stored = t.put(&gr, new)?;
        if is_crd {
            self.catalog_mut()
                .register_crd(&stored)
                .map_err(|message| crd_invalid(&stored, &message))?;
        }
        self.after_write(t, &mut gc, &gr, old, &stored)?;
        Ok(scope.present(&stored))
    }

    /// Collection a stored write sets off: an object whose owner references
    /// changed is looked at (a reference to an absent owner gets it
    /// collected, as on a cluster), owners it stopped naming may be done
    /// waiting, and a terminating namespace may now be free to go.
    fn after_write(
        &self,
        t: &mut Txn<'_>,
        gc: &mut gc::Collector,
        gr: &GroupResource,
        old: Option<&Value>,
        stored: &Value,
    ) -> Result<(), ApiError> {
        let before = old.map_or(&[][..], gc::owner_refs);
        let after = gc::owner_refs(stored);
        if before != after {
            let namespace = meta_str(stored, "namespace").unwrap_or_default();
            if !after.is_empty() {
                gc.push(gc::Work::Dependent(gc::key_of(gr, stored)));
            }
            self.after_references_dropped(gc, namespace, before);
        }
        if *gr == namespace_resource() && is_terminating(stored) {
            gc.push(gc::Work::Namespace(name_of(stored).to_string()));
        }
        self.collect(t, gc)
    }
}

/// Prunes, defaults and validates a custom resource with its CRD's schema,
/// and prunes a built-in object with its kind's OpenAPI schema. Unknown
/// fields are dropped (named in the request's warnings when it collects
/// them), or refused when the client asked for strict field validation
/// (kubectl's default).
pub(super) fn apply_schema(
    rt: &ResourceType,
    object: &mut Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    let unknown = if let Some(schema) = &rt.open_api_schema {
        let report = crate::schema::apply(schema, object);
        if !report.invalid.is_empty() {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                name_of(object),
                &report.invalid,
            ));
        }
        report.pruned
    } else {
        // By the schema of the shape it is stored in (events.k8s.io Events
        // are stored as core ones).
        let stored = rt.storage_api_version();
        let (group, version) = stored.rsplit_once('/').unwrap_or(("", &stored));
        crate::builtin_schemas::prune_unknown(group, version, &rt.kind, object).unwrap_or_default()
    };
    let unknown: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if let Some(warnings) = opts.warnings.as_ref().filter(|_| !opts.strict_fields) {
        warnings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(unknown);
    } else if opts.strict_fields && !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
            unknown.join(", "),
            kind = rt.kind,
            version = rt.preferred_version(),
        )));
    }
    Ok(())
}

/// Which fields a write may own: the status subresource owns only status.
pub(super) fn ownership_schema<'a>(
    rt: &'a ResourceType,
    opts: &WriteOptions,
) -> std::borrow::Cow<'a, merge::MergeSchema> {
    if opts.is_status() {
        std::borrow::Cow::Owned(rt.merge_schema.for_status_subresource())
    } else {
        std::borrow::Cow::Borrowed(&rt.merge_schema)
    }
}

pub(super) fn strip_empty_managed_fields(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && meta
            .get("managedFields")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        meta.remove("managedFields");
    }
}

pub(super) fn apply_error(gr: &GroupResource, name: &str, err: ApplyError) -> ApiError {
    match &err {
        ApplyError::Conflicts(conflicts) => {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field}))
                .collect();
            ApiError::new(409, "Conflict", err.to_string()).with_details(json!({
                "name": name,
                "group": gr.group,
                "kind": gr.resource,
                "causes": causes,
            }))
        }
        _ => ApiError::new(422, "Invalid", err.to_string()),
    }
}

pub(super) fn patch_error(err: merge::PatchError) -> ApiError {
    ApiError::new(422, "Invalid", err.to_string())
}

pub(super) fn parse_patch_body(patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    let parsed = if patch_type == PatchType::Apply {
        crate::codec::parse_yaml_or_json(body)
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    let value = parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match (patch_type, &value) {
        (PatchType::Json, Value::Array(_)) => Ok(value),
        (PatchType::Json, _) => Err(ApiError::bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        )),
        (_, Value::Object(_)) => Ok(value),
        _ => Err(ApiError::bad_request(
            "error decoding patch: the patch must be an object",
        )),
    }
}
