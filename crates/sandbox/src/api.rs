//! The verbs of the Kubernetes API over the store: get, list, watch,
//! create, update, patch, apply, delete and deletecollection, with the
//! object semantics a real API server gives (uid, resourceVersion,
//! generation, managedFields, finalizers, namespace and CRD lifecycles,
//! status subresources, dry runs).
//!
//! Owns: the rules of each verb. Does not touch HTTP (see `server`) nor the
//! merge algorithms (see `merge`), and never holds the store lock across an
//! await: every write is one synchronous transaction.

use std::sync::{Arc, RwLock};

use base64::Engine;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, GroupResource, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Store, StoreError, Subscription, Txn, resource_version_of};
use crate::validation;
use driftless_merge::{self as merge, ApplyError};

/// The state every request shares.
pub struct Api {
    pub store: Store,
    pub catalog: RwLock<Catalog>,
    /// The clock, injectable so tests get fixed timestamps.
    pub now: fn() -> String,
}

pub fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ApiError::internal(message)
    }
}

/// Where a request points: a resource type at one served version, maybe in a namespace.
#[derive(Clone)]
pub struct Scope {
    pub rt: Arc<ResourceType>,
    pub version: String,
    pub namespace: Option<String>,
}

impl Scope {
    fn gr(&self) -> GroupResource {
        self.rt.group_resource()
    }

    fn ns_key(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }

    /// The object as the requested version shows it. Versions of one
    /// resource share a schema here: no conversion beyond apiVersion.
    pub fn present(&self, object: &Value) -> Value {
        self.present_borrowed(object).into_owned()
    }

    /// [`Scope::present`] without a copy when the stored version is the one asked for.
    pub fn present_borrowed<'a>(&self, object: &'a Value) -> std::borrow::Cow<'a, Value> {
        let api_version = self.rt.api_version(&self.version);
        if object.get("apiVersion").and_then(Value::as_str) == Some(api_version.as_str()) {
            return std::borrow::Cow::Borrowed(object);
        }
        let mut out = object.clone();
        out["apiVersion"] = Value::String(api_version);
        std::borrow::Cow::Owned(out)
    }
}

/// Options every write takes.
#[derive(Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// The fallback manager name, from the User-Agent as Kubernetes does.
    pub user_agent: String,
    pub subresource: Option<String>,
    /// `fieldValidation=Strict`: unknown fields are an error instead of dropped.
    pub strict_fields: bool,
}

impl WriteOptions {
    fn manager(&self) -> String {
        self.field_manager.clone().unwrap_or_else(|| {
            self.user_agent
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string()
        })
    }

    fn is_status(&self) -> bool {
        self.subresource.as_deref() == Some("status")
    }
}

/// Whether a write records ownership as an update or was already merged by apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteKind {
    Update,
    Apply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body; query parameters were applied before.
    pub fn merge_body(&mut self, body: &Value) -> Result<(), ApiError> {
        if let Some(policy) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation = parse_propagation(policy)?;
        }
        if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            self.propagation = Propagation::Orphan;
        }
        if let Some(dry_run) = body.get("dryRun").and_then(Value::as_array) {
            self.dry_run |= dry_run.iter().any(|v| v == "All");
        }
        if let Some(uid) = body.pointer("/preconditions/uid").and_then(Value::as_str) {
            self.precondition_uid = Some(uid.to_string());
        }
        if let Some(rv) = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            self.precondition_resource_version = Some(rv.to_string());
        }
        Ok(())
    }
}

pub fn parse_propagation(policy: &str) -> Result<Propagation, ApiError> {
    match policy {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

/// Options of list and watch.
#[derive(Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub send_initial_events: Option<bool>,
}

impl ListOptions {
    /// No label or field selector: every object matches.
    pub fn is_unfiltered(&self) -> bool {
        self.labels == LabelSelector::default() && self.fields == FieldSelector::default()
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

pub struct ListResult {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// A started watch: the initial events to send, then the live subscription.
pub struct WatchStart {
    pub initial: Vec<Arc<Value>>,
    pub subscription: Option<Subscription>,
    pub resource_version: u64,
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn new_uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:01x}{:01x}{:02x}-{}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0x0f,
        b[7],
        (b[8] & 0x3) | 0x8,
        b[8] >> 4,
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    )
}

fn meta(object: &Value) -> &Value {
    &object["metadata"]
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    meta(object).get(field).and_then(Value::as_str)
}

fn name_of(object: &Value) -> &str {
    meta_str(object, "name").unwrap_or_default()
}

fn has_finalizers(object: &Value) -> bool {
    meta(object)
        .get("finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

fn is_terminating(object: &Value) -> bool {
    meta(object)
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// Everything but metadata and status: what `generation` counts.
fn spec_part(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    out
}

/// The object without what changes on every write, to spot no-op writes.
fn comparable(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        map.remove("resourceVersion");
        if let Some(Value::Array(entries)) = map.get_mut("managedFields") {
            for entry in entries {
                if let Some(e) = entry.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    out
}

const SYSTEM_METADATA: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
];

impl Api {
    pub fn new(store: Store) -> Result<Self, ApiError> {
        let mut catalog = Catalog::default();
        let crds = store.txn(|t| {
            t.list(
                &GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions"),
                None,
            )
        });
        for crd in crds {
            catalog.register_crd(&crd).map_err(|e| {
                ApiError::internal(format!("stored CRD {} no longer loads: {e}", name_of(&crd)))
            })?;
        }
        Ok(Api {
            store,
            catalog: RwLock::new(catalog),
            now: rfc3339_now,
        })
    }

    pub fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    fn catalog_mut(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        let gr = scope.gr();
        self.store
            .txn(|t| t.get(&gr, scope.ns_key(), name))
            .map(|o| scope.present(&o))
            .ok_or_else(|| ApiError::not_found(&gr, name))
    }

    pub fn list(&self, scope: &Scope, opts: &ListOptions) -> Result<ListResult, ApiError> {
        let gr = scope.gr();
        let (after, snapshot_rv) = match &opts.continue_token {
            Some(token) => {
                let (rv, after) = decode_continue(token)?;
                (Some(after), Some(rv))
            }
            None => (None, None),
        };
        let namespace = scope.namespace.as_deref();
        let page = self.store.txn(|t| {
            let current = t.resource_version();
            let page = match snapshot_rv {
                // Later pages show the list as it was at the first page.
                Some(rv) if t.changed_since(&gr, rv) => {
                    let snapshot = t.list_at(&gr, namespace, rv)?;
                    let start = after.as_ref().map_or(0, |(ns, name)| {
                        snapshot.partition_point(|o| {
                            (meta_str(o, "namespace").unwrap_or_default(), name_of(o))
                                <= (ns.as_str(), name.as_str())
                        })
                    });
                    paginate(snapshot[start..].iter(), opts)
                }
                _ => paginate(t.list_from(&gr, namespace, after.as_ref()), opts),
            };
            Some((page, current))
        });
        let ((items, remaining), current_rv) = page.ok_or_else(|| {
            ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter.",
            )
        })?;
        let resource_version = snapshot_rv.unwrap_or(current_rv);
        let continue_token = (remaining > 0)
            .then(|| {
                items
                    .last()
                    .map(|last| encode_continue(resource_version, &object_position(last)))
            })
            .flatten();
        Ok(ListResult {
            items,
            resource_version,
            continue_token,
            // As a real server does, no count when selectors make it costly to know.
            remaining: (remaining > 0 && opts.is_unfiltered()).then_some(remaining),
        })
    }

    /// Starts a watch. `Ok(None)` subscription means the requested version is too old (410).
    pub fn watch(&self, scope: &Scope, opts: &ListOptions) -> Result<WatchStart, ApiError> {
        let gr = scope.gr();
        let requested = match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version: \"{rv}\""))
            })?),
        };
        let send_initial = opts.send_initial_events.unwrap_or(requested.is_none());
        Ok(self.store.txn(|t| {
            let current = t.resource_version();
            let initial = if send_initial {
                t.list(&gr, scope.namespace.as_deref())
                    .into_iter()
                    .filter(|o| opts.matches(o))
                    .collect()
            } else {
                Vec::new()
            };
            let since = if send_initial {
                current
            } else {
                requested.unwrap_or(current)
            };
            WatchStart {
                initial,
                subscription: t.subscribe_since(since),
                resource_version: current,
            }
        }))
    }

    fn check_body_type(&self, scope: &Scope, body: &mut Value) -> Result<(), ApiError> {
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
        body["apiVersion"] = Value::String(scope.rt.api_version(scope.rt.preferred_version()));
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

    fn check_namespace_open(&self, t: &Txn<'_>, scope: &Scope) -> Result<(), ApiError> {
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
    fn finish_write(
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
    fn commit(
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
        if opts.dry_run {
            if old.is_none() {
                metadata_mut(&mut new).remove("resourceVersion");
            }
            return Ok(scope.present(&new));
        }
        if is_terminating(&new) && !has_finalizers(&new) {
            let removed = self.remove_now(
                t,
                &gr,
                scope.ns_key(),
                name_of(&new),
                Propagation::Background,
            )?;
            return Ok(scope.present(&removed.unwrap_or(new)));
        }
        let stored = t.put(&gr, new)?;
        if is_crd {
            self.catalog_mut()
                .register_crd(&stored)
                .map_err(|message| crd_invalid(&stored, &message))?;
        }
        Ok(scope.present(&stored))
    }

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
    fn mark_deleting(&self, live: &Value) -> Value {
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
    fn delete_object(
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

    fn delete_namespace(&self, t: &mut Txn<'_>, live: &Value) -> Result<Value, ApiError> {
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
            .map(|o| o.as_ref().clone())
            .unwrap_or_else(|| live.clone()))
    }

    /// Removes a terminating namespace once nothing is left in it.
    fn finalize_namespace(&self, t: &mut Txn<'_>, name: &str) -> Result<(), ApiError> {
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
    fn remove_now(
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
    fn handle_dependents(
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

    /// Writes status as a controller would (the rollout simulation uses this).
    pub fn write_status(
        &self,
        gr: &GroupResource,
        namespace: &str,
        name: &str,
        expected_rv: Option<u64>,
        status: Value,
        manager: &str,
    ) -> Result<bool, ApiError> {
        let Some(rt) = self.catalog().get(gr) else {
            return Ok(false);
        };
        let scope = Scope {
            version: rt.preferred_version().to_string(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            rt,
        };
        let opts = WriteOptions {
            field_manager: Some(manager.to_string()),
            subresource: Some("status".into()),
            ..Default::default()
        };
        self.store.txn(|t| {
            let Some(live) = t.get(gr, namespace, name) else {
                return Ok(false);
            };
            if expected_rv.is_some() && resource_version_of(&live) != expected_rv {
                return Ok(false);
            }
            let mut new = live.as_ref().clone();
            new["status"] = status;
            let object = self.finish_write(&scope, Some(&live), new, &opts, WriteKind::Update)?;
            self.commit(t, &scope, Some(&live), object, &opts)?;
            Ok(true)
        })
    }
}

fn scale_of(object: &Value) -> Value {
    let meta = meta(object);
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

impl Api {
    pub fn scale(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        Ok(scale_of(&self.get(scope, name)?))
    }

    /// Writes `spec.replicas` through the scale subresource.
    pub fn set_replicas(
        &self,
        scope: &Scope,
        name: &str,
        replicas: i64,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let patch = json!({"spec": {"replicas": replicas}}).to_string();
        let main = WriteOptions {
            subresource: None,
            ..opts.clone()
        };
        let (object, _) = self.patch(
            scope,
            name,
            PatchType::Merge,
            patch.as_bytes(),
            false,
            &main,
        )?;
        Ok(scale_of(&object))
    }
}

/// Prunes, defaults and validates a custom resource with its CRD's schema.
/// Unknown fields are dropped, or refused when the client asked for strict
/// field validation (kubectl's default).
fn apply_schema(
    rt: &ResourceType,
    object: &mut Value,
    opts: &WriteOptions,
) -> Result<(), ApiError> {
    let Some(schema) = &rt.open_api_schema else {
        return Ok(());
    };
    let report = crate::schema::apply(schema, object);
    if !report.invalid.is_empty() {
        return Err(ApiError::invalid(
            &rt.kind,
            &rt.group,
            name_of(object),
            &report.invalid,
        ));
    }
    if opts.strict_fields && !report.pruned.is_empty() {
        let unknown: Vec<String> = report
            .pruned
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
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
fn ownership_schema<'a>(
    rt: &'a ResourceType,
    opts: &WriteOptions,
) -> std::borrow::Cow<'a, merge::MergeSchema> {
    if opts.is_status() {
        std::borrow::Cow::Owned(rt.merge_schema.for_status_subresource())
    } else {
        std::borrow::Cow::Borrowed(&rt.merge_schema)
    }
}

fn strip_empty_managed_fields(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        && meta
            .get("managedFields")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
    {
        meta.remove("managedFields");
    }
}

fn namespace_resource() -> GroupResource {
    GroupResource::new("", "namespaces")
}

fn crd_resource() -> GroupResource {
    GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions")
}

fn crd_invalid(crd: &Value, message: &str) -> ApiError {
    let (field, detail) = message.split_once(": ").unwrap_or(("spec", message));
    ApiError::invalid(
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
        name_of(crd),
        &[(field.to_string(), detail.to_string())],
    )
}

/// Sets `protocol: TCP` on ports that name none, as the API server's defaulting does.
fn default_port_protocols(ports: Option<&mut Value>) {
    if let Some(Value::Array(ports)) = ports {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
        }
    }
}

/// Sets `key` in a JSON object unless it is already there.
fn default_field(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.entry(key).or_insert(value);
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent`.
fn image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':').map(|(_, tag)| tag) {
        Some("latest") => "Always",
        None if !digest => "Always",
        _ => "IfNotPresent",
    }
}

/// The pod spec defaults a real server writes into Pods and workload
/// templates. `restartPolicy` defaults to `Always` even in Job templates,
/// where validation then rejects it, as a real server does.
fn default_pod_spec(spec: Option<&mut Value>) {
    let Some(spec) = spec.filter(|s| s.is_object()) else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter(|c| c.is_object()) {
                default_port_protocols(container.get_mut("ports"));
                let image = container.get("image").and_then(Value::as_str);
                let pull = image_pull_policy(image.unwrap_or_default());
                default_field(container, "imagePullPolicy", json!(pull));
                default_field(container, "resources", json!({}));
                default_field(
                    container,
                    "terminationMessagePath",
                    json!("/dev/termination-log"),
                );
                default_field(container, "terminationMessagePolicy", json!("File"));
            }
        }
    }
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
}

/// A rolling update strategy's defaults, when the type is (or defaults to)
/// `RollingUpdate`.
fn default_rolling_update(strategy: &mut Value, rolling_update: Value) {
    default_field(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type") == Some(&json!("RollingUpdate")) {
        default_field(strategy, "rollingUpdate", json!({}));
        if let (Some(given), Value::Object(defaults)) =
            (strategy.get_mut("rollingUpdate"), rolling_update)
        {
            for (key, value) in defaults {
                default_field(given, &key, value);
            }
        }
    }
}

/// The workload spec defaults of apps/v1 and batch/v1 (replicas, history
/// limits, update strategies, Job completions and CronJob policies).
fn default_workload(kind: &str, object: &mut Value) {
    let Some(spec) = object.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    match kind {
        "Deployment" => {
            default_field(spec, "replicas", json!(1));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "progressDeadlineSeconds", json!(600));
            default_field(spec, "strategy", json!({}));
            if let Some(strategy) = spec.get_mut("strategy") {
                default_rolling_update(
                    strategy,
                    json!({"maxUnavailable": "25%", "maxSurge": "25%"}),
                );
            }
        }
        "StatefulSet" => {
            default_field(spec, "replicas", json!(1));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "podManagementPolicy", json!("OrderedReady"));
            default_field(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            default_field(spec, "updateStrategy", json!({}));
            if let Some(strategy) = spec.get_mut("updateStrategy") {
                default_rolling_update(strategy, json!({"partition": 0}));
            }
        }
        "DaemonSet" => {
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "updateStrategy", json!({}));
            if let Some(strategy) = spec.get_mut("updateStrategy") {
                default_rolling_update(strategy, json!({"maxUnavailable": 1, "maxSurge": 0}));
            }
        }
        "ReplicaSet" => default_field(spec, "replicas", json!(1)),
        "Job" => {
            if spec.get("completions").is_none() && spec.get("parallelism").is_none() {
                default_field(spec, "completions", json!(1));
            }
            default_field(spec, "parallelism", json!(1));
            default_field(spec, "backoffLimit", json!(6));
            default_field(spec, "completionMode", json!("NonIndexed"));
            default_field(spec, "suspend", json!(false));
            let replacement = if spec.get("podFailurePolicy").is_some() {
                "Failed"
            } else {
                "TerminatingOrFailed"
            };
            default_field(spec, "podReplacementPolicy", json!(replacement));
        }
        "CronJob" => {
            default_field(spec, "concurrencyPolicy", json!("Allow"));
            default_field(spec, "suspend", json!(false));
            default_field(spec, "successfulJobsHistoryLimit", json!(3));
            default_field(spec, "failedJobsHistoryLimit", json!(1));
        }
        _ => {}
    }
}

/// Folds a Secret's write-only `stringData` into `data` (base64, winning
/// over `data` keys of the same name) as the API server does: `stringData`
/// is never stored or returned.
fn merge_string_data(secret: &mut Value) {
    let Some(Value::Object(strings)) = secret.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    if !secret.get("data").is_some_and(Value::is_object) {
        secret["data"] = json!({});
    }
    if let Some(data) = secret.get_mut("data").and_then(Value::as_object_mut) {
        for (key, value) in strings {
            if let Value::String(text) = value {
                let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                data.insert(key, Value::String(encoded));
            }
        }
    }
}

/// A Service's defaults: type, session affinity, IP family fields, target
/// ports, and a cluster IP from 10.96.0.0/12 (kept from the old object on
/// updates that leave it out, as the API server does). No IP is checked for
/// uniqueness: nothing routes traffic here.
fn default_service(old: Option<&Value>, service: &mut Value) {
    if !service.get("spec").is_some_and(Value::is_object) {
        service["spec"] = json!({});
    }
    let old_spec = old.and_then(|o| o.get("spec"));
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    default_port_protocols(spec.get_mut("ports"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(number) = port.get("port").cloned() {
                port.entry("targetPort").or_insert(number);
            }
        }
    }
    let service_type = spec
        .entry("type")
        .or_insert_with(|| json!("ClusterIP"))
        .as_str()
        .unwrap_or_default()
        .to_string();
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    if service_type == "ExternalName" {
        return;
    }
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| json!("Cluster"));
    for field in ["clusterIP", "clusterIPs"] {
        if let Some(kept) = old_spec.and_then(|s| s.get(field))
            && spec
                .get(field)
                .is_none_or(|v| v.is_null() || *v == json!(""))
        {
            spec.insert(field.into(), kept.clone());
        }
    }
    let cluster_ip = match spec.get("clusterIP").and_then(Value::as_str) {
        Some(ip) if !ip.is_empty() => ip.to_string(),
        _ => {
            let n: u32 = rand::rng().random_range(2..(1 << 20));
            let ip = format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff);
            spec.insert("clusterIP".into(), json!(ip));
            ip
        }
    };
    spec.entry("clusterIPs")
        .or_insert_with(|| json!([cluster_ip]));
    spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
    spec.entry("ipFamilyPolicy")
        .or_insert_with(|| json!("SingleStack"));
}

/// What a real server fills in itself that clients rely on: namespace
/// phase and name label, Secret type, port protocols.
fn server_defaults(rt: &ResourceType, old: Option<&Value>, object: &mut Value) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Secret") => {
            if object.get("type").is_none_or(Value::is_null) {
                object["type"] = json!("Opaque");
            }
            merge_string_data(object);
        }
        ("", "Service") => default_service(old, object),
        ("", "Pod") => default_pod_spec(object.get_mut("spec")),
        ("apps", kind) => {
            default_workload(kind, object);
            default_pod_spec(object.pointer_mut("/spec/template/spec"));
        }
        ("batch", "Job") => {
            default_workload("Job", object);
            default_pod_spec(object.pointer_mut("/spec/template/spec"));
        }
        ("batch", "CronJob") => {
            default_workload("CronJob", object);
            default_pod_spec(object.pointer_mut("/spec/jobTemplate/spec/template/spec"));
        }
        _ => {}
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        let name = name_of(object).to_string();
        let labels = metadata_mut(object)
            .entry("labels")
            .or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
        }
        if object
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .is_none()
        {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        let phase = if old.is_some_and(is_terminating) {
            "Terminating"
        } else {
            "Active"
        };
        object["status"] = json!({"phase": phase});
    }
}

fn crd_status(crd: &mut Value, rt: &ResourceType) {
    let established_at = crd
        .pointer("/status/conditions/0/lastTransitionTime")
        .cloned()
        .unwrap_or_else(|| {
            crd.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null)
        });
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": established_at, "reason": reason, "message": message});
    let mut stored: Vec<Value> = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = Value::String(rt.versions[0].clone());
    if !stored.contains(&storage) {
        stored.push(storage);
    }
    crd["status"] = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or(Value::Null),
        "storedVersions": stored,
    });
}

fn apply_error(gr: &GroupResource, name: &str, err: ApplyError) -> ApiError {
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

fn patch_error(err: merge::PatchError) -> ApiError {
    ApiError::new(422, "Invalid", err.to_string())
}

fn parse_patch_body(patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
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

/// Where an object sorts in a list: by namespace, then name, as the store keeps them.
/// One page of a list: up to `limit` matching objects, and how many more
/// match — counted only without selectors, where counting is cheap (with
/// selectors it is 1 when more exist, enough for the continue token).
fn paginate<'a>(
    objects: impl Iterator<Item = &'a Arc<Value>>,
    opts: &ListOptions,
) -> (Vec<Arc<Value>>, usize) {
    let unfiltered = opts.is_unfiltered();
    let mut matching = objects.filter(|o| unfiltered || opts.matches(o));
    match opts.limit.filter(|l| *l > 0) {
        None => (matching.cloned().collect(), 0),
        Some(limit) => {
            let items = matching.by_ref().take(limit).cloned().collect();
            let remaining = if unfiltered {
                matching.count()
            } else {
                usize::from(matching.next().is_some())
            };
            (items, remaining)
        }
    }
}

fn object_position(object: &Value) -> (String, String) {
    (
        meta_str(object, "namespace")
            .unwrap_or_default()
            .to_string(),
        name_of(object).to_string(),
    )
}

fn encode_continue(rv: u64, (namespace, name): &(String, String)) -> String {
    let token = json!({"rv": rv, "namespace": namespace, "name": name});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, (String, String)), ApiError> {
    let invalid = || {
        ApiError::bad_request("continue key is not valid: the token was not issued by this server")
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let rv = value["rv"].as_u64().ok_or_else(invalid)?;
    let namespace = value["namespace"].as_str().ok_or_else(invalid)?.to_string();
    let name = value["name"].as_str().ok_or_else(invalid)?.to_string();
    Ok((rv, (namespace, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(image_pull_policy("registry:5000/team/app"), "Always");
        assert_eq!(
            image_pull_policy("registry:5000/team/app:v2"),
            "IfNotPresent"
        );
        assert_eq!(image_pull_policy("app@sha256:abcd"), "IfNotPresent");
    }

    #[test]
    fn workload_defaults_keep_what_is_given() {
        let mut d = json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 3,
            "template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}});
        default_workload("Deployment", &mut d);
        default_pod_spec(d.pointer_mut("/spec/template/spec"));
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(d["spec"]["replicas"], 3);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");

        let mut job = json!({"spec": {"parallelism": 2, "template": {"spec": {}}}});
        default_workload("Job", &mut job);
        default_pod_spec(job.pointer_mut("/spec/template/spec"));
        assert_eq!(job["spec"].get("completions"), None);
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }
}
