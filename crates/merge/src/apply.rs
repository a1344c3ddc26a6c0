//! Server-side apply and field ownership for ordinary writes.
//!
//! Owns the ownership rules kube-apiserver implements (via
//! structured-merge-diff), re-derived from its documented behaviour:
//!
//! - The applied configuration is merged into the live object: maps field by
//!   field, associative lists by their keys (shared elements in the applied
//!   order, live-only elements keeping their slots), sets by value, atomic
//!   lists and maps replaced whole.
//! - The applier then owns exactly what it applied; fields it owned before and
//!   no longer applies are removed unless some manager (the applier's new
//!   configuration included) still owns them or a field below them. The last
//!   part matters because `fieldsV1` records a map's `.` marker apart from its
//!   children: an entry that owned `.data` and `.data.k` (kubectl copies such
//!   `Update` entries into its `Apply` entry when it moves from client-side to
//!   server-side apply) and now applies only `.data.k` gives up the marker,
//!   not the map.
//! - Fields the pruned result changes or adds that another manager owns are
//!   conflicts, unless forced, which moves them to the applier. Fields set to
//!   the value they already have become shared.
//! - One waiver, kube-apiserver's upgrade path from client-side apply: when
//!   the manager is exactly `kubectl` and every conflicting field is set by
//!   the live object's `kubectl.kubernetes.io/last-applied-configuration`,
//!   those fields were kubectl's own under client-side apply, so the apply
//!   goes ahead as if forced. Otherwise only the conflicts outside that
//!   configuration are reported.
//! - Ordinary writes ([`track_update`]) never conflict: the writer takes the
//!   fields it changed from whoever owned them.
//!
//! Not tracked, as on a real server: `apiVersion`, `kind`, the system
//! metadata (`name`, `namespace`, `uid`, `resourceVersion`, `generation`,
//! `creationTimestamp`, `managedFields`, ...) and the top-level fields the
//! schema ignores (`status` for main-resource writes of built-in kinds).
//! Defaulting, validation and status filtering belong to the server.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value, json};

use super::error::{ApplyError, Conflict};
use super::fieldset::{FieldSet, Pe, canonical_key, display_path};
use super::managed::{self, Entry};
use super::schema::{ListType, MergeSchema, Seg};
use super::strategic::display_path as display_segs;

/// Metadata fields kube-apiserver never records as owned.
const SYSTEM_METADATA: &[&str] = &[
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Maps that are Go structs in the built-in types, present even when empty,
/// so an `Update` entry does not own them as nodes (no `.` marker).
const STRUCT_FIELDS: &[&str] = &[
    "metadata",
    "spec",
    "status",
    "template",
    "jobTemplate",
    "strategy",
    "updateStrategy",
    "resources",
];

/// The manager kube-apiserver credits with an object's existing fields when
/// the first apply meets an object without managed fields.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The only field manager whose conflicts with client-side apply's fields
/// kube-apiserver waives: `kubectl apply --server-side` without
/// `--field-manager`. Other managers opt out by their name alone.
const LAST_APPLIED_UPGRADER: &str = "kubectl";

/// Where client-side apply keeps the configuration it last applied.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

#[derive(Debug, Default)]
struct Diff {
    added: FieldSet,
    modified: FieldSet,
    removed: FieldSet,
}

impl Diff {
    fn put(&mut self, pe: &Pe, child: Diff) {
        self.added.put(pe.clone(), child.added);
        self.modified.put(pe.clone(), child.modified);
        self.removed.put(pe.clone(), child.removed);
    }
}

struct Walker<'a> {
    schema: &'a MergeSchema,
}

fn invalid(segs: &[Seg], message: String) -> ApplyError {
    ApplyError::Invalid {
        path: display_segs(segs),
        message,
    }
}

impl Walker<'_> {
    fn keyed(&self, segs: &[Seg]) -> Option<ListType> {
        match self.schema.list_type(segs) {
            ListType::Atomic => None,
            other => Some(other),
        }
    }

    fn element(list_type: &ListType, item: &Value) -> Result<Pe, String> {
        match list_type {
            ListType::Set => Ok(Pe::Value(item.to_string())),
            ListType::Map(keys) => {
                let mut fields = Vec::with_capacity(keys.len());
                for key in keys {
                    let value = item
                        .get(&key.name)
                        .filter(|v| !v.is_null())
                        .or(key.default.as_ref())
                        .ok_or_else(|| {
                            format!(
                                "element {item} of an associative list has no key field {:?}",
                                key.name
                            )
                        })?;
                    fields.push((key.name.clone(), value.clone()));
                }
                Ok(Pe::Key(canonical_key(&fields)))
            }
            ListType::Atomic => Err("atomic lists have no element identity".to_string()),
        }
    }

    /// Elements of the list at `segs` with their identities; `Ok(None)` for
    /// an atomic list. Duplicate identities are an error.
    fn elements<'v>(
        &self,
        list: &'v [Value],
        segs: &[Seg],
    ) -> Result<Option<Vec<(Pe, &'v Value)>>, String> {
        let Some(list_type) = self.keyed(segs) else {
            return Ok(None);
        };
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            let pe = Self::element(&list_type, item)?;
            if !seen.insert(pe.clone()) {
                return Err(format!("duplicate entries for key {}", display_path(&[pe])));
            }
            out.push((pe, item));
        }
        Ok(Some(out))
    }

    /// Like [`Self::elements`], but a list that cannot be keyed is treated as
    /// atomic (live objects written before a schema existed).
    fn lenient<'v>(&self, list: &'v [Value], segs: &[Seg]) -> Option<Vec<(Pe, &'v Value)>> {
        self.elements(list, segs).ok().flatten()
    }

    /// The fields an applied configuration sets: leaves, atomic values, empty
    /// maps and associative-list elements (the element and its fields).
    fn owned(&self, value: &Value, segs: &mut Vec<Seg>) -> Result<FieldSet, ApplyError> {
        match value {
            Value::Object(map) if !map.is_empty() && !self.schema.is_atomic_map(segs) => {
                let mut set = FieldSet::default();
                for (key, child) in map {
                    segs.push(Seg::Field(key.clone()));
                    let child_set = self.owned(child, segs)?;
                    segs.pop();
                    set.put(Pe::Field(key.clone()), child_set);
                }
                Ok(set)
            }
            Value::Array(list) => {
                let Some(items) = self.elements(list, segs).map_err(|m| invalid(segs, m))? else {
                    return Ok(FieldSet::leaf());
                };
                let mut set = FieldSet::default();
                segs.push(Seg::Elem);
                for (pe, item) in items {
                    let mut child = self.owned(item, segs)?;
                    child.member = true;
                    set.put(pe, child);
                }
                segs.pop();
                Ok(set)
            }
            _ => Ok(FieldSet::leaf()),
        }
    }

    /// Every node of `value`, each owned: what a write that added `value`
    /// takes ownership of.
    fn all_nodes(&self, value: &Value, segs: &mut Vec<Seg>) -> FieldSet {
        let mut set = FieldSet::leaf();
        match value {
            Value::Object(map) if !self.schema.is_atomic_map(segs) => {
                for (key, child) in map {
                    segs.push(Seg::Field(key.clone()));
                    let child_set = self.all_nodes(child, segs);
                    segs.pop();
                    set.put(Pe::Field(key.clone()), child_set);
                }
                let is_struct = matches!(segs.last(), Some(Seg::Field(f)) if STRUCT_FIELDS.contains(&f.as_str()));
                if is_struct && !set.children.is_empty() {
                    set.member = false;
                }
            }
            Value::Array(list) => {
                if let Some(items) = self.lenient(list, segs) {
                    segs.push(Seg::Elem);
                    for (pe, item) in items {
                        let child = self.all_nodes(item, segs);
                        set.put(pe, child);
                    }
                    segs.pop();
                }
            }
            _ => {}
        }
        set
    }

    fn compare(&self, old: &Value, new: &Value, segs: &mut Vec<Seg>) -> Diff {
        let mut diff = Diff::default();
        match (old, new) {
            (Value::Object(o), Value::Object(n)) if !self.schema.is_atomic_map(segs) => {
                for (key, nv) in n {
                    segs.push(Seg::Field(key.clone()));
                    let pe = Pe::Field(key.clone());
                    match o.get(key) {
                        Some(ov) => {
                            let child = self.compare(ov, nv, segs);
                            diff.put(&pe, child);
                        }
                        None => diff.added.put(pe, self.all_nodes(nv, segs)),
                    }
                    segs.pop();
                }
                for (key, ov) in o {
                    if !n.contains_key(key) {
                        segs.push(Seg::Field(key.clone()));
                        diff.removed
                            .put(Pe::Field(key.clone()), self.all_nodes(ov, segs));
                        segs.pop();
                    }
                }
            }
            (Value::Array(o), Value::Array(n)) => {
                match (self.lenient(o, segs), self.lenient(n, segs)) {
                    (Some(old_items), Some(new_items)) => {
                        segs.push(Seg::Elem);
                        let old_by_pe: HashMap<&Pe, &Value> =
                            old_items.iter().map(|(pe, v)| (pe, *v)).collect();
                        let new_pes: HashSet<&Pe> = new_items.iter().map(|(pe, _)| pe).collect();
                        for (pe, nv) in &new_items {
                            match old_by_pe.get(pe) {
                                Some(ov) => {
                                    let child = self.compare(ov, nv, segs);
                                    diff.put(pe, child);
                                }
                                None => diff.added.put(pe.clone(), self.all_nodes(nv, segs)),
                            }
                        }
                        for (pe, ov) in &old_items {
                            if !new_pes.contains(pe) {
                                diff.removed.put(pe.clone(), self.all_nodes(ov, segs));
                            }
                        }
                        segs.pop();
                    }
                    _ if o != n => diff.modified.member = true,
                    _ => {}
                }
            }
            _ if old != new => diff.modified.member = true,
            _ => {}
        }
        diff
    }

    /// Merges an applied configuration into the live value.
    fn merge(
        &self,
        live: Option<&Value>,
        cfg: &Value,
        segs: &mut Vec<Seg>,
    ) -> Result<Value, ApplyError> {
        match cfg {
            Value::Object(c) if !self.schema.is_atomic_map(segs) => {
                let mut out = match live {
                    Some(Value::Object(l)) => l.clone(),
                    _ => Map::new(),
                };
                for (key, cv) in c {
                    segs.push(Seg::Field(key.clone()));
                    let merged = self.merge(out.get(key), cv, segs)?;
                    segs.pop();
                    out.insert(key.clone(), merged);
                }
                Ok(Value::Object(out))
            }
            Value::Array(c) => {
                let Some(rhs) = self.elements(c, segs).map_err(|m| invalid(segs, m))? else {
                    return Ok(cfg.clone());
                };
                let lhs = match live {
                    Some(Value::Array(l)) => self.lenient(l, segs).unwrap_or_default(),
                    _ => Vec::new(),
                };
                segs.push(Seg::Elem);
                let merged = self.merge_elements(&lhs, &rhs, segs);
                segs.pop();
                Ok(Value::Array(merged?))
            }
            _ => Ok(cfg.clone()),
        }
    }

    /// Interleaves live (`lhs`) and applied (`rhs`) elements: elements in both
    /// follow the applied order, live-only elements stay where they were
    /// relative to them, applied-only elements come where the applied list
    /// puts them.
    fn merge_elements(
        &self,
        lhs: &[(Pe, &Value)],
        rhs: &[(Pe, &Value)],
        segs: &mut Vec<Seg>,
    ) -> Result<Vec<Value>, ApplyError> {
        let lhs_by_pe: HashMap<&Pe, &Value> = lhs.iter().map(|(pe, v)| (pe, *v)).collect();
        let rhs_pes: HashSet<&Pe> = rhs.iter().map(|(pe, _)| pe).collect();
        let mut shared: VecDeque<&Pe> = rhs
            .iter()
            .map(|(pe, _)| pe)
            .filter(|pe| lhs_by_pe.contains_key(pe))
            .collect();
        let mut next_shared = shared.pop_front();
        let mut merged_rhs: HashSet<&Pe> = HashSet::new();
        let mut out = Vec::with_capacity(lhs.len() + rhs.len());
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs.len() {
            if li < lhs.len() && ri < rhs.len() {
                let (lpe, lv) = &lhs[li];
                let (rpe, rv) = &rhs[ri];
                if lpe == rpe {
                    merged_rhs.insert(rpe);
                    out.push(self.merge(Some(lv), rv, segs)?);
                    li += 1;
                    ri += 1;
                    next_shared = shared.pop_front();
                    continue;
                }
                if rhs_pes.contains(lpe) && next_shared.is_some_and(|n| n != lpe) {
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                let (lpe, lv) = &lhs[li];
                if !rhs_pes.contains(lpe) {
                    out.push((*lv).clone());
                    li += 1;
                    continue;
                }
                if merged_rhs.contains(lpe) {
                    li += 1;
                    continue;
                }
            }
            if ri < rhs.len() {
                let (rpe, rv) = &rhs[ri];
                merged_rhs.insert(rpe);
                out.push(self.merge(lhs_by_pe.get(rpe).copied(), rv, segs)?);
                ri += 1;
                if next_shared == Some(rpe) {
                    next_shared = shared.pop_front();
                }
            }
        }
        Ok(out)
    }

    /// Removes every member path of `set` (with what is below it) from `value`.
    fn remove(&self, value: &mut Value, set: &FieldSet, segs: &mut Vec<Seg>) {
        match value {
            Value::Object(map) => {
                for (pe, child) in &set.children {
                    let Pe::Field(name) = pe else {
                        continue;
                    };
                    if child.member {
                        map.shift_remove(name);
                    } else if let Some(inner) = map.get_mut(name) {
                        segs.push(Seg::Field(name.clone()));
                        self.remove(inner, child, segs);
                        segs.pop();
                    }
                }
            }
            Value::Array(list) => {
                let Some(pes) = self
                    .lenient(list, segs)
                    .map(|items| items.into_iter().map(|(pe, _)| pe).collect::<Vec<_>>())
                else {
                    return;
                };
                segs.push(Seg::Elem);
                let mut kept = Vec::with_capacity(list.len());
                for (mut item, pe) in std::mem::take(list).into_iter().zip(pes) {
                    match set.children.get(&pe) {
                        Some(child) if child.member => continue,
                        Some(child) => self.remove(&mut item, child, segs),
                        None => {}
                    }
                    kept.push(item);
                }
                segs.pop();
                *list = kept;
            }
            _ => {}
        }
    }

    /// Drops what is never owned from a set.
    fn strip(&self, mut set: FieldSet) -> FieldSet {
        set.remove_subtree(&[Pe::Field("apiVersion".into())]);
        set.remove_subtree(&[Pe::Field("kind".into())]);
        for top in self.schema.ignored_top_fields() {
            set.remove_subtree(&[Pe::Field(top.clone())]);
        }
        for field in SYSTEM_METADATA {
            set.remove_subtree(&[Pe::Field("metadata".into()), Pe::Field((*field).into())]);
        }
        let meta = Pe::Field("metadata".into());
        if let Some(m) = set.children.get_mut(&meta) {
            m.member = false;
            if m.is_empty() {
                set.children.remove(&meta);
            }
        }
        set.member = false;
        set
    }
}

fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// The fields set by the configuration in `live`'s last-applied annotation:
/// those client-side apply managed. `None` (no allowance) when there is no
/// annotation or it cannot be read, as kube-apiserver then reports the
/// conflicts unchanged.
fn last_applied_fields(w: &Walker<'_>, live: &Value) -> Option<FieldSet> {
    let text = live
        .get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()
        .filter(|t| !t.is_empty())?;
    let config: Value = serde_json::from_str(text).ok()?;
    if !config.is_object() {
        return None;
    }
    w.owned(&strip_nulls(&config), &mut Vec::new())
        .ok()
        .map(|set| w.strip(set))
}

fn api_version_of(obj: &Value) -> Option<String> {
    obj.get("apiVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Go drops empty label, annotation and finalizer collections when storing.
fn drop_empty_metadata(obj: &mut Value) {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
            let empty = match meta.get(field) {
                Some(Value::Object(m)) => m.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if empty {
                meta.shift_remove(field);
            }
        }
    }
}

/// What two entry lists own, ignoring times, for "did anything change".
fn ownership(entries: &[Entry]) -> Vec<(String, String, String, Option<String>, Value)> {
    let mut out: Vec<_> = entries
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            (
                e.manager.clone(),
                e.operation.clone(),
                e.api_version.clone(),
                e.subresource.clone(),
                e.set.to_fields_v1(),
            )
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1, &a.2, &a.3).cmp(&(&b.0, &b.1, &b.2, &b.3)));
    out
}

/// Server-side apply of `applied` (a partial object) by `manager`.
///
/// Returns the new object with `metadata.managedFields` updated, or the live
/// object unchanged (same managed fields and times) when the apply changes
/// nothing. `live` is `None` for a create.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schema: &MergeSchema,
    now: &str,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid {
            path: ".".to_string(),
            message: "the applied configuration must be an object".to_string(),
        });
    }
    if managed::raw(applied).is_some_and(|v| !v.is_null()) {
        return Err(ApplyError::ManagedFieldsInConfig);
    }
    let w = Walker { schema };
    let cfg = strip_nulls(applied);
    let live_clean = live.map_or_else(|| json!({}), managed::without);
    let mut entries = managed::read(live.and_then(managed::raw));
    if let Some(live) = live
        && entries.is_empty()
    {
        let existing = w.strip(w.all_nodes(&live_clean, &mut Vec::new()));
        if !existing.is_empty() {
            entries.push(Entry {
                manager: BEFORE_FIRST_APPLY.to_string(),
                operation: "Update".to_string(),
                api_version: api_version_of(live).unwrap_or_default(),
                time: Some(now.to_string()),
                subresource: None,
                set: existing,
            });
        }
    }
    let before = ownership(&entries);

    let mut result = w.merge(Some(&live_clean), &cfg, &mut Vec::new())?;
    let me = Entry {
        manager: manager.to_string(),
        operation: "Apply".to_string(),
        api_version: api_version_of(&cfg)
            .or_else(|| api_version_of(&live_clean))
            .unwrap_or_default(),
        time: Some(now.to_string()),
        subresource: schema.subresource().map(str::to_string),
        set: w.strip(w.owned(&cfg, &mut Vec::new())?),
    };
    let last = entries
        .iter()
        .find(|e| e.same_owner(&me))
        .map(|e| e.set.clone());
    entries.retain(|e| !e.same_owner(&me));

    // Prune before comparing, as structured-merge-diff does: what the applier
    // stopped applying goes unless someone (the applier's new configuration
    // included) still owns it or something below it. Ownership is taken
    // before conflicts move fields: a field that conflicts is in the new
    // configuration anyway.
    if let Some(last) = last {
        let still_owned = entries
            .iter()
            .fold(me.set.clone(), |acc, e| acc.union(&e.set))
            .with_field_ancestors();
        let gone = last.difference(&still_owned);
        if !gone.is_empty() {
            w.remove(&mut result, &gone, &mut Vec::new());
            drop_empty_metadata(&mut result);
        }
    }

    let diff = w.compare(&live_clean, &result, &mut Vec::new());
    let changed = w.strip(diff.added.union(&diff.modified));
    let removed = w.strip(diff.removed);

    let mut conflicts = Vec::new();
    for entry in &entries {
        for path in entry.set.intersection(&changed).paths() {
            conflicts.push((path, entry));
        }
    }
    if !force && !conflicts.is_empty() {
        if manager == LAST_APPLIED_UPGRADER
            && let Some(allowed) = live.and_then(|l| last_applied_fields(&w, l))
        {
            conflicts.retain(|(path, _)| !allowed.has(path));
        }
        if !conflicts.is_empty() {
            let mut found: Vec<Conflict> = conflicts
                .into_iter()
                .map(|(path, entry)| Conflict {
                    manager: entry.manager.clone(),
                    operation: entry.operation.clone(),
                    api_version: entry.api_version.clone(),
                    subresource: entry.subresource.clone(),
                    field: display_path(&path),
                })
                .collect();
            found.sort_by_key(Conflict::manager_display);
            return Err(ApplyError::Conflicts(found));
        }
        // Every conflict is a field client-side apply set: kubectl is taking
        // over its own fields, so the apply goes ahead as if forced.
    }

    for entry in &mut entries {
        entry.set = entry.set.difference(&changed).difference(&removed);
    }
    entries.push(me);

    if let Some(live) = live
        && result == live_clean
        && ownership(&entries) == before
        && managed::raw(live).is_some()
    {
        return Ok(live.clone());
    }
    managed::write(&mut result, &entries);
    Ok(result)
}

/// Records field ownership for a create, update or non-apply patch by
/// `manager`: the writer's `Update` entry gains the fields it changed, which
/// other managers lose; managers left owning nothing are dropped.
///
/// If the write itself changed `metadata.managedFields` (kubectl does this
/// when switching from client-side to server-side apply), the given entries
/// are the starting point; `[{}]` clears them. An empty list or an absent
/// field keeps the old entries.
pub fn track_update(
    old: Option<&Value>,
    new: Value,
    manager: &str,
    schema: &MergeSchema,
    now: &str,
) -> Value {
    let w = Walker { schema };
    let old_raw = old.and_then(managed::raw);
    let mut entries = match managed::raw(&new) {
        Some(Value::Array(given)) if given.len() == 1 && given[0] == json!({}) => {
            let mut out = new;
            managed::write(&mut out, &[]);
            return out;
        }
        Some(given @ Value::Array(list)) if !list.is_empty() && Some(given) != old_raw => {
            managed::read(Some(given))
        }
        _ => managed::read(old_raw),
    };
    let old_clean = old.map_or_else(|| json!({}), managed::without);
    let mut out = managed::without(&new);
    let diff = w.compare(&old_clean, &out, &mut Vec::new());
    let changed = w.strip(diff.added.union(&diff.modified));
    let removed = w.strip(diff.removed);
    for entry in &mut entries {
        entry.set = entry.set.difference(&changed).difference(&removed);
    }
    if !changed.is_empty() {
        let me = Entry {
            manager: manager.to_string(),
            operation: "Update".to_string(),
            api_version: api_version_of(&out).unwrap_or_default(),
            time: Some(now.to_string()),
            subresource: schema.subresource().map(str::to_string),
            set: FieldSet::default(),
        };
        match entries.iter_mut().find(|e| e.same_owner(&me)) {
            Some(entry) => {
                entry.set = entry.set.union(&changed);
                entry.time = me.time;
            }
            None => entries.push(Entry { set: changed, ..me }),
        }
    }
    managed::cap_update_managers(&mut entries);
    managed::write(&mut out, &entries);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T1: &str = "2026-01-01T00:00:00Z";
    const T2: &str = "2026-01-02T00:00:00Z";
    const T3: &str = "2026-01-03T00:00:00Z";

    fn schema() -> MergeSchema {
        MergeSchema::builtin("apps", "Deployment")
    }

    fn apply(live: Option<&Value>, cfg: Value, manager: &str, force: bool, now: &str) -> Value {
        server_side_apply(live, &cfg, manager, force, &schema(), now).expect("apply succeeds")
    }

    fn conflicts(live: &Value, cfg: Value, manager: &str) -> Vec<Conflict> {
        match server_side_apply(Some(live), &cfg, manager, false, &schema(), T3) {
            Err(ApplyError::Conflicts(c)) => c,
            other => panic!("expected conflicts, got {other:?}"),
        }
    }

    fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
        obj["metadata"]["managedFields"]
            .as_array()?
            .iter()
            .find(|e| e["manager"] == manager && e["operation"] == operation)
    }

    fn config(replicas: u64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": image,
                                             "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    /// What the server adds around an object: system metadata and status.
    fn stored(mut obj: Value) -> Value {
        let meta = obj["metadata"].as_object_mut().expect("metadata");
        meta.insert("uid".into(), json!("1234"));
        meta.insert("resourceVersion".into(), json!("7"));
        meta.insert("generation".into(), json!(1));
        meta.insert("creationTimestamp".into(), json!(T1));
        obj["status"] = json!({"replicas": 1});
        obj
    }

    #[test]
    fn apply_create_records_fields_like_kube_apiserver() {
        let out = apply(None, config(2, "nginx:1"), "kubectl", false, T1);
        assert_eq!(out["spec"]["replicas"], 2);
        let mf = &out["metadata"]["managedFields"];
        assert_eq!(mf.as_array().map(Vec::len), Some(1));
        assert_eq!(
            mf[0],
            json!({
                "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                "time": T1, "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:replicas": {},
                        "f:selector": {},
                        "f:template": {
                            "f:metadata": {"f:labels": {"f:app": {}}},
                            "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                                ".": {}, "f:image": {}, "f:name": {},
                                "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                    ".": {}, "f:containerPort": {}}}
                            }}}
                        }
                    }
                }
            })
        );
    }

    #[test]
    fn system_metadata_and_status_are_never_owned() {
        let live = stored(apply(None, config(1, "nginx:1"), "kubectl", false, T1));
        let out = apply(Some(&live), config(3, "nginx:1"), "kubectl", false, T2);
        let fields = &entry(&out, "kubectl", "Apply").expect("entry")["fieldsV1"];
        assert!(fields.get("f:status").is_none());
        assert!(fields.get("f:apiVersion").is_none());
        assert!(fields["f:metadata"].get("f:name").is_none());
        assert!(fields["f:metadata"].get("f:namespace").is_none());
        assert_eq!(out["metadata"]["uid"], "1234", "system metadata is kept");
        assert_eq!(out["status"], json!({"replicas": 1}), "status is kept");
    }

    #[test]
    fn reapplying_the_same_config_changes_nothing() {
        let live = stored(apply(None, config(1, "nginx:1"), "kubectl", false, T1));
        let out = apply(Some(&live), config(1, "nginx:1"), "kubectl", false, T2);
        assert_eq!(out, live, "no new time, no new resourceVersion reason");
    }

    #[test]
    fn reapply_with_fewer_fields_removes_them() {
        let mut cfg = config(2, "nginx:1");
        cfg["metadata"]["labels"]["tier"] = json!("fe");
        cfg["spec"]["paused"] = json!(true);
        cfg["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .expect("containers")
            .push(json!({"name": "sidecar", "image": "envoy"}));
        let live = stored(apply(None, cfg, "kubectl", false, T1));
        assert_eq!(live["spec"]["paused"], true);

        let mut cfg = config(2, "nginx:1");
        cfg["spec"]
            .as_object_mut()
            .expect("spec")
            .shift_remove("replicas");
        let out = apply(Some(&live), cfg, "kubectl", false, T2);
        assert!(out["spec"].get("paused").is_none());
        assert!(out["spec"].get("replicas").is_none());
        assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().map(Vec::len), Some(1));
        assert_eq!(containers[0]["name"], "nginx");
        let fields = &entry(&out, "kubectl", "Apply").expect("entry")["fieldsV1"];
        assert!(fields["f:spec"].get("f:paused").is_none());
        assert_eq!(entry(&out, "kubectl", "Apply").expect("entry")["time"], T2);
    }

    #[test]
    fn two_managers_applying_the_same_value_share_it() {
        let live = stored(apply(None, config(2, "nginx:1"), "alice", false, T1));
        let bob = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"}, "spec": {"replicas": 2}});
        let shared = apply(Some(&live), bob.clone(), "bob", false, T2);
        for who in ["alice", "bob"] {
            let e = entry(&shared, who, "Apply").expect("both own replicas");
            assert_eq!(e["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
        }
        // Alice stops applying replicas: Bob still owns it, so it stays.
        let mut alice = config(2, "nginx:1");
        alice["spec"]
            .as_object_mut()
            .expect("spec")
            .shift_remove("replicas");
        let out = apply(Some(&shared), alice, "alice", false, T3);
        assert_eq!(out["spec"]["replicas"], 2);
        let alice_fields = &entry(&out, "alice", "Apply").expect("alice")["fieldsV1"];
        assert!(alice_fields["f:spec"].get("f:replicas").is_none());
    }

    #[test]
    fn changing_another_managers_field_conflicts_and_force_takes_it() {
        let live = stored(apply(None, config(2, "nginx:1"), "alice", false, T1));
        let bob = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"}, "spec": {"replicas": 5}});
        let found = conflicts(&live, bob.clone(), "bob");
        assert_eq!(
            found,
            vec![Conflict {
                manager: "alice".into(),
                operation: "Apply".into(),
                api_version: "apps/v1".into(),
                subresource: None,
                field: ".spec.replicas".into(),
            }]
        );
        assert_eq!(
            ApplyError::Conflicts(found).to_string(),
            "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
        );
        let forced = apply(Some(&live), bob, "bob", true, T2);
        assert_eq!(forced["spec"]["replicas"], 5);
        let alice = &entry(&forced, "alice", "Apply").expect("alice keeps the rest")["fieldsV1"];
        assert!(alice["f:spec"].get("f:replicas").is_none());
        assert!(alice["f:spec"].get("f:selector").is_some());
        let bob = &entry(&forced, "bob", "Apply").expect("bob")["fieldsV1"];
        assert_eq!(bob, &json!({"f:spec": {"f:replicas": {}}}));
    }

    #[test]
    fn conflict_with_client_side_apply_names_the_version() {
        // kubectl apply (client-side) creates, so the fields belong to an Update manager.
        let created = stored(track_update(
            None,
            config(2, "nginx:1"),
            "kubectl-client-side-apply",
            &schema(),
            T1,
        ));
        let mut cfg = config(3, "nginx:2");
        cfg["metadata"]["labels"]["app"] = json!("web");
        let found = conflicts(&created, cfg, "kubectl");
        let fields: Vec<&str> = found.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"nginx\"].image"
            ]
        );
        assert_eq!(
            ApplyError::Conflicts(found).to_string(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
        );
        let single = conflicts(
            &created,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web"}, "spec": {"replicas": 9}}),
            "kubectl",
        );
        assert_eq!(
            ApplyError::Conflicts(single).to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn associative_list_elements_are_owned_per_key() {
        let live = stored(apply(None, config(1, "nginx:1"), "alice", false, T1));
        let bob = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "image": "envoy"}]}}}});
        let out = apply(Some(&live), bob, "bob", false, T2);
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["name"], "nginx");
        assert_eq!(containers[1]["name"], "sidecar");
        let bob_fields = &entry(&out, "bob", "Apply").expect("bob")["fieldsV1"];
        assert_eq!(
            bob_fields["f:spec"]["f:template"]["f:spec"]["f:containers"],
            json!({"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}})
        );
        // Alice re-applies without touching the sidecar: it stays (Bob owns it).
        let again = apply(Some(&out), config(1, "nginx:2"), "alice", false, T3);
        let containers = &again["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().map(Vec::len), Some(2));
        assert_eq!(containers[0]["image"], "nginx:2");
        // Bob drops his list: the sidecar goes, nginx stays.
        let bob_empty = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                               "metadata": {"name": "web"}});
        let pruned = apply(Some(&again), bob_empty, "bob", false, T3);
        let containers = &pruned["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().map(Vec::len), Some(1));
        assert_eq!(containers[0]["name"], "nginx");
        assert!(entry(&pruned, "bob", "Apply").is_none(), "bob owns nothing");
    }

    #[test]
    fn applied_list_order_wins_and_live_only_elements_keep_their_slot() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "a"}, {"name": "server"}, {"name": "b"}]}});
        let live = track_update(None, live, "creator", &schema(), T1);
        let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}]}});
        let out = apply(Some(&live), cfg, "m", false, T2);
        let names: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        // Shared elements follow the applied order (b before a); the live-only
        // element keeps its place ahead of them; c is applied before b.
        assert_eq!(names, ["server", "c", "b", "a"]);
        let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "a"}, {"name": "d"}]}});
        let out = apply(Some(&live), cfg, "m", false, T2);
        let names: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "server", "b", "d"]);
    }

    #[test]
    fn sets_and_atomic_lists() {
        let live = apply(
            None,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a"]},
                   "spec": {"containers": [{"name": "c", "args": ["x", "y"]}]}}),
            "alice",
            false,
            T1,
        );
        let fields = &entry(&live, "alice", "Apply").expect("alice")["fieldsV1"];
        assert_eq!(fields["f:metadata"]["f:finalizers"], json!({"v:\"a\"": {}}));
        assert_eq!(
            fields["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["f:args"],
            json!({})
        );
        // Another manager adds a finalizer: no conflict, both survive.
        let out = apply(
            Some(&live),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b"]}}),
            "bob",
            false,
            T2,
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        // Changing the atomic args conflicts as a whole.
        let found = conflicts(
            &out,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "args": ["z"]}]}}),
            "bob",
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, ".spec.containers[name=\"c\"].args");
    }

    #[test]
    fn atomic_selector_is_replaced_whole() {
        let live = apply(None, config(1, "nginx:1"), "alice", false, T1);
        let mut cfg = config(1, "nginx:1");
        cfg["spec"]["selector"] = json!({"matchLabels": {"other": "x"}});
        let out = apply(Some(&live), cfg, "alice", false, T2);
        assert_eq!(
            out["spec"]["selector"],
            json!({"matchLabels": {"other": "x"}})
        );
    }

    #[test]
    fn missing_key_is_invalid_and_defaults_fill_keys() {
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
            "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        match server_side_apply(None, &bad, "m", false, &schema(), T1) {
            Err(ApplyError::Invalid { path, .. }) => {
                assert_eq!(path, ".spec.template.spec.containers");
            }
            other => panic!("expected invalid, got {other:?}"),
        }
        let dup = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
            "spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}});
        assert!(server_side_apply(None, &dup, "m", false, &schema(), T1).is_err());
        // Same port, TCP spelled out or defaulted: one element.
        let live = apply(None, config(1, "nginx:1"), "alice", false, T1);
        let mut cfg = config(1, "nginx:1");
        cfg["spec"]["template"]["spec"]["containers"][0]["ports"] =
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]);
        let out = apply(Some(&live), cfg, "alice", false, T2);
        let ports = &out["spec"]["template"]["spec"]["containers"][0]["ports"];
        assert_eq!(
            ports,
            &json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
        );
    }

    #[test]
    fn first_apply_on_an_untracked_object_credits_before_first_apply() {
        let live = stored(config(1, "nginx:1"));
        let found = conflicts(
            &live,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web"}, "spec": {"replicas": 4}}),
            "kubectl",
        );
        assert_eq!(found[0].manager, "before-first-apply");
        assert_eq!(found[0].operation, "Update");
    }

    #[test]
    fn track_update_create_owns_everything_with_dot_markers() {
        let out = track_update(
            None,
            stored(config(1, "nginx:1")),
            "kubectl-create",
            &schema(),
            T1,
        );
        let mf = out["metadata"]["managedFields"]
            .as_array()
            .expect("entries");
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["operation"], "Update");
        assert_eq!(mf[0]["apiVersion"], "apps/v1");
        let fields = &mf[0]["fieldsV1"];
        assert_eq!(
            fields["f:metadata"]["f:labels"],
            json!({".": {}, "f:app": {}})
        );
        assert!(fields["f:spec"].get(".").is_none());
        assert_eq!(fields["f:spec"]["f:selector"], json!({}));
        assert_eq!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["."],
            json!({})
        );
        assert!(fields.get("f:status").is_none());
    }

    #[test]
    fn track_update_moves_ownership_and_drops_empty_managers() {
        let live = stored(apply(None, config(1, "nginx:1"), "kubectl", false, T1));
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(3);
        let out = track_update(Some(&live), scaled, "hpa", &schema(), T2);
        assert_eq!(out["spec"]["replicas"], 3);
        let hpa = entry(&out, "hpa", "Update").expect("hpa entry");
        assert_eq!(hpa["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(hpa["time"], T2);
        let kubectl = &entry(&out, "kubectl", "Apply").expect("kubectl")["fieldsV1"];
        assert!(kubectl["f:spec"].get("f:replicas").is_none());
        // kubectl can now set replicas again only by forcing.
        let cfg = config(1, "nginx:1");
        assert_eq!(conflicts(&out, cfg, "kubectl")[0].field, ".spec.replicas");

        // A manager that loses its only field disappears.
        let mut back = out.clone();
        back["spec"]["replicas"] = json!(1);
        let out2 = track_update(Some(&out), back, "kubectl-edit", &schema(), T3);
        assert!(entry(&out2, "hpa", "Update").is_none());
        assert!(entry(&out2, "kubectl-edit", "Update").is_some());
    }

    #[test]
    fn track_update_without_changes_adds_no_entry() {
        let live = stored(apply(None, config(1, "nginx:1"), "kubectl", false, T1));
        let out = track_update(Some(&live), live.clone(), "noop", &schema(), T2);
        assert_eq!(out, live);
        // A PUT that omits managedFields keeps them.
        let mut without = live.clone();
        without["metadata"]
            .as_object_mut()
            .expect("metadata")
            .shift_remove("managedFields");
        assert_eq!(
            track_update(Some(&live), without, "noop", &schema(), T2),
            live
        );
    }

    #[test]
    fn track_update_same_manager_accumulates() {
        let live = track_update(None, stored(config(1, "nginx:1")), "ctl", &schema(), T1);
        let mut next = live.clone();
        next["metadata"]["labels"]["extra"] = json!("1");
        let out = track_update(Some(&live), next, "ctl", &schema(), T2);
        let mf = out["metadata"]["managedFields"]
            .as_array()
            .expect("entries");
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["time"], T2);
        assert_eq!(
            mf[0]["fieldsV1"]["f:metadata"]["f:labels"]["f:extra"],
            json!({})
        );
        assert_eq!(mf[0]["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
    }

    #[test]
    fn track_update_keeps_managed_fields_the_request_changed() {
        // kubectl's client-side to server-side upgrade rewrites the entries with a JSON patch.
        let live = stored(track_update(
            None,
            config(1, "nginx:1"),
            "kubectl-client-side-apply",
            &schema(),
            T1,
        ));
        let csa = entry(&live, "kubectl-client-side-apply", "Update")
            .expect("csa entry")
            .clone();
        let mut upgraded = csa.clone();
        upgraded["manager"] = json!("kubectl");
        upgraded["operation"] = json!("Apply");
        let new = super::super::json_patch(
            &live,
            &json!([{"op": "replace", "path": "/metadata/managedFields", "value": [upgraded]}]),
        )
        .expect("patch applies");
        let out = track_update(Some(&live), new, "kubectl", &schema(), T2);
        assert!(entry(&out, "kubectl-client-side-apply", "Update").is_none());
        let kubectl = entry(&out, "kubectl", "Apply").expect("upgraded entry");
        assert_eq!(kubectl["fieldsV1"], csa["fieldsV1"]);
        // Now server-side apply by kubectl does not conflict with itself.
        let applied = apply(Some(&out), config(5, "nginx:2"), "kubectl", false, T3);
        assert_eq!(applied["spec"]["replicas"], 5);

        // `[{}]` clears them.
        let mut cleared = live.clone();
        cleared["metadata"]["managedFields"] = json!([{}]);
        let out = track_update(Some(&live), cleared, "x", &schema(), T2);
        assert!(out["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn removed_fields_leave_every_owner() {
        let live = stored(apply(None, config(1, "nginx:1"), "kubectl", false, T1));
        let mut edited = live.clone();
        edited["spec"]
            .as_object_mut()
            .expect("spec")
            .shift_remove("replicas");
        let out = track_update(Some(&live), edited, "kubectl-edit", &schema(), T2);
        let kubectl = &entry(&out, "kubectl", "Apply").expect("kubectl")["fieldsV1"];
        assert!(kubectl["f:spec"].get("f:replicas").is_none());
        assert!(
            entry(&out, "kubectl-edit", "Update").is_none(),
            "removing owns nothing"
        );
    }

    #[test]
    fn crd_schema_lists() {
        let crd = MergeSchema::from_openapi_v3(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "hosts": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "rules": {"type": "array", "items": {"type": "object"}}
        }}}}));
        let cfg = |hosts: Value, rules: Value| {
            json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                   "spec": {"hosts": hosts, "rules": rules}})
        };
        let live = server_side_apply(
            None,
            &cfg(json!(["a"]), json!([{"x": 1}])),
            "a",
            false,
            &crd,
            T1,
        )
        .expect("create");
        let out = server_side_apply(
            Some(&live),
            &json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                    "spec": {"hosts": ["b"]}}),
            "b",
            false,
            &crd,
            T2,
        )
        .expect("sets merge");
        assert_eq!(out["spec"]["hosts"], json!(["a", "b"]));
        let err = server_side_apply(
            Some(&out),
            &json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                    "spec": {"rules": [{"x": 2}]}}),
            "b",
            false,
            &crd,
            T3,
        );
        assert!(matches!(err, Err(ApplyError::Conflicts(c)) if c[0].field == ".spec.rules"));
        // No status subresource: status is an ordinary, owned field.
        let with_status = server_side_apply(
            None,
            &json!({"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"},
                    "status": {"phase": "x"}}),
            "a",
            false,
            &crd,
            T1,
        )
        .expect("create");
        assert_eq!(
            with_status["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:status": {"f:phase": {}}})
        );
    }

    #[test]
    fn status_subresource_writes_are_tracked_separately() {
        let live = stored(apply(None, config(1, "nginx:1"), "kubectl", false, T1));
        let mut new = live.clone();
        new["status"] = json!({"replicas": 1, "readyReplicas": 1});
        let out = track_update(
            Some(&live),
            new,
            "controller",
            &schema().for_status_subresource(),
            T2,
        );
        let e = entry(&out, "controller", "Update").expect("status entry");
        assert_eq!(e["subresource"], "status");
        assert_eq!(e["fieldsV1"], json!({"f:status": {"f:readyReplicas": {}}}));
    }

    /// `kubectl apply` (client-side) then `kubectl apply --server-side
    /// --force-conflicts`: the SMP patch is tracked as an Update, and the
    /// forced apply takes over exactly the fields it changes.
    #[test]
    fn client_side_apply_then_forced_server_side_apply() {
        let created = stored(track_update(
            None,
            config(1, "nginx:1"),
            "kubectl-client-side-apply",
            &schema(),
            T1,
        ));
        let patch = json!({"spec": {"replicas": 2, "template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"name": "nginx", "image": "nginx:2"}]}}}});
        let patched = super::super::strategic_merge_patch(&created, &patch, &schema())
            .expect("patch applies");
        let updated = track_update(
            Some(&created),
            patched,
            "kubectl-client-side-apply",
            &schema(),
            T2,
        );
        let mf = updated["metadata"]["managedFields"]
            .as_array()
            .expect("entries");
        assert_eq!(mf.len(), 1, "one Update entry, accumulated");
        assert_eq!(mf[0]["time"], T2);

        let forced = apply(Some(&updated), config(3, "nginx:2"), "kubectl", true, T3);
        assert_eq!(forced["spec"]["replicas"], 3);
        let csa = &entry(&forced, "kubectl-client-side-apply", "Update").expect("csa")["fieldsV1"];
        assert!(
            csa["f:spec"].get("f:replicas").is_none(),
            "moved to kubectl"
        );
        assert_eq!(
            csa["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["f:image"],
            json!({}),
            "same value: still shared"
        );
        let mf = forced["metadata"]["managedFields"]
            .as_array()
            .expect("entries");
        assert_eq!(mf[0]["manager"], "kubectl", "Apply entries come first");
    }

    const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

    /// What client-side `kubectl apply` creates: `cfg` plus the annotation
    /// holding it, as the server stores it for `kubectl-client-side-apply`.
    fn client_side_created(cfg: &Value, schema: &MergeSchema) -> Value {
        let mut annotated = cfg.clone();
        annotated["metadata"]["annotations"] = json!({});
        let text = format!("{annotated}\n");
        let mut obj = cfg.clone();
        obj["metadata"]["annotations"] = json!({ LAST_APPLIED: text });
        let mut out = track_update(None, obj, "kubectl-client-side-apply", schema, T1);
        let meta = out["metadata"].as_object_mut().expect("metadata");
        meta.insert("uid".into(), json!("1234"));
        meta.insert("resourceVersion".into(), json!("5"));
        meta.insert("creationTimestamp".into(), json!(T1));
        out
    }

    /// kubectl's csaupgrade step: the `kubectl` Apply entry takes the
    /// client-side apply entry's fields, sent as a JSON patch replacing
    /// `metadata.managedFields`.
    fn csa_upgrade(live: &Value, schema: &MergeSchema) -> Value {
        let csa = entry(live, "kubectl-client-side-apply", "Update").expect("csa entry");
        let mut upgraded = vec![json!({
            "manager": "kubectl", "operation": "Apply", "apiVersion": csa["apiVersion"],
            "time": csa["time"], "fieldsType": "FieldsV1", "fieldsV1": csa["fieldsV1"]})];
        upgraded.extend(
            live["metadata"]["managedFields"]
                .as_array()
                .expect("entries")
                .iter()
                .filter(|e| {
                    e["manager"] != "kubectl-client-side-apply" && e["manager"] != "kubectl"
                })
                .cloned(),
        );
        let patched = super::super::json_patch(
            live,
            &json!([{"op": "replace", "path": "/metadata/managedFields", "value": upgraded}]),
        )
        .expect("patch applies");
        track_update(Some(live), patched, "kubectl", schema, T2)
    }

    /// `kubectl apply` then `kubectl apply --server-side` of the same
    /// ConfigMap, request by request as kubectl 1.32 sends them. The final
    /// re-apply drops kubectl's `.` markers of `.data` and of the annotations
    /// but must keep both maps: kubectl still applies `.data.k`, and
    /// `kubectl-last-applied` owns the annotation kubectl's config omits.
    #[test]
    fn client_side_to_server_side_upgrade_keeps_data_and_annotation() {
        let schema = MergeSchema::builtin("", "ConfigMap");
        let cfg = json!({"apiVersion": "v1", "data": {"k": "v"}, "kind": "ConfigMap",
                         "metadata": {"name": "cfg", "namespace": "default"}});
        let created = client_side_created(&cfg, &schema);
        let annotation = created["metadata"]["annotations"].clone();
        assert_eq!(
            entry(&created, "kubectl-client-side-apply", "Update").expect("csa")["fieldsV1"],
            json!({"f:data": {".": {}, "f:k": {}},
                   "f:metadata": {"f:annotations": {".": {}, format!("f:{LAST_APPLIED}"): {}}}})
        );

        let applied = server_side_apply(Some(&created), &cfg, "kubectl", false, &schema, T2)
            .expect("same values: shared, no conflict");
        let mut annotation_cfg = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default"}});
        annotation_cfg["metadata"]["annotations"] = annotation.clone();
        let annotated = server_side_apply(
            Some(&applied),
            &annotation_cfg,
            "kubectl-last-applied",
            false,
            &schema,
            T2,
        )
        .expect("annotation apply");
        let upgraded = csa_upgrade(&annotated, &schema);
        assert!(entry(&upgraded, "kubectl-client-side-apply", "Update").is_none());

        let out = server_side_apply(Some(&upgraded), &cfg, "kubectl", false, &schema, T3)
            .expect("re-apply");
        assert_eq!(out["data"], json!({"k": "v"}));
        assert_eq!(out["metadata"]["annotations"], annotation);
        assert_eq!(
            entry(&out, "kubectl", "Apply").expect("kubectl")["fieldsV1"],
            json!({"f:data": {"f:k": {}}})
        );
        assert_eq!(
            entry(&out, "kubectl-last-applied", "Apply").expect("last-applied")["fieldsV1"],
            json!({"f:metadata": {"f:annotations": {format!("f:{LAST_APPLIED}"): {}}}})
        );
        // Applying once more changes nothing at all.
        let again =
            server_side_apply(Some(&out), &cfg, "kubectl", false, &schema, T3).expect("no-op");
        assert_eq!(again, out);
    }

    /// Pruning still removes what nobody owns any more, `.` marker included.
    #[test]
    fn dropped_map_goes_when_nobody_owns_anything_in_it() {
        let schema = MergeSchema::builtin("", "ConfigMap");
        let cfg = json!({"apiVersion": "v1", "data": {"k": "v"}, "kind": "ConfigMap",
                         "metadata": {"name": "cfg", "namespace": "default"}});
        let live = csa_upgrade(&client_side_created(&cfg, &schema), &schema);
        let mut without_data = cfg.clone();
        without_data
            .as_object_mut()
            .expect("object")
            .shift_remove("data");
        let out = server_side_apply(Some(&live), &without_data, "kubectl", false, &schema, T3)
            .expect("apply");
        assert!(out.get("data").is_none(), "{out}");
        assert!(
            out["metadata"].get("annotations").is_none(),
            "the annotation was kubectl's alone"
        );
        assert!(out["metadata"].get("managedFields").is_none());
    }

    /// `kubectl apply` with replicas 2, then `kubectl apply --server-side`
    /// with 3: the conflict with `kubectl-client-side-apply` is a field of
    /// the last-applied configuration, so kubectl takes it over unforced.
    #[test]
    fn kubectl_takes_over_fields_of_its_last_applied_configuration() {
        let created = client_side_created(&config(2, "nginx:1"), &schema());
        let out = apply(Some(&created), config(3, "nginx:1"), "kubectl", false, T2);
        assert_eq!(out["spec"]["replicas"], 3);
        let kubectl = &entry(&out, "kubectl", "Apply").expect("kubectl")["fieldsV1"];
        assert_eq!(kubectl["f:spec"]["f:replicas"], json!({}));
        let csa = &entry(&out, "kubectl-client-side-apply", "Update").expect("csa")["fieldsV1"];
        assert!(
            csa["f:spec"].get("f:replicas").is_none(),
            "moved to kubectl"
        );
        assert_eq!(
            out["metadata"]["annotations"][LAST_APPLIED],
            created["metadata"]["annotations"][LAST_APPLIED]
        );

        // Any other manager gets the conflict.
        let found = conflicts(&created, config(3, "nginx:1"), "other");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].manager, "kubectl-client-side-apply");
        assert_eq!(found[0].field, ".spec.replicas");
    }

    /// Conflicts outside the last-applied configuration are still reported,
    /// and only those; without the annotation there is no waiver.
    #[test]
    fn kubectl_still_conflicts_on_fields_client_side_apply_never_set() {
        let created = client_side_created(&config(2, "nginx:1"), &schema());
        let mut edited = created.clone();
        edited["spec"]["minReadySeconds"] = json!(5);
        let edited = track_update(Some(&created), edited, "kubectl-edit", &schema(), T2);
        let mut cfg = config(3, "nginx:1");
        cfg["spec"]["minReadySeconds"] = json!(10);
        let found = conflicts(&edited, cfg.clone(), "kubectl");
        let shown: Vec<(&str, &str)> = found
            .iter()
            .map(|c| (c.manager.as_str(), c.field.as_str()))
            .collect();
        assert_eq!(shown, [("kubectl-edit", ".spec.minReadySeconds")]);
        let forced = apply(Some(&edited), cfg, "kubectl", true, T3);
        assert_eq!(forced["spec"]["minReadySeconds"], 10);

        let mut bare = created.clone();
        bare["metadata"]
            .as_object_mut()
            .expect("metadata")
            .shift_remove("annotations");
        let found = conflicts(&bare, config(3, "nginx:1"), "kubectl");
        assert_eq!(found[0].field, ".spec.replicas");
        let mut garbled = created.clone();
        garbled["metadata"]["annotations"][LAST_APPLIED] = json!("{not json");
        assert_eq!(
            conflicts(&garbled, config(3, "nginx:1"), "kubectl").len(),
            1
        );
    }

    #[test]
    fn managed_fields_in_the_applied_config_are_refused() {
        let mut cfg = config(1, "nginx:1");
        cfg["metadata"]["managedFields"] = json!([]);
        let err = server_side_apply(None, &cfg, "m", false, &schema(), T1);
        assert!(matches!(err, Err(ApplyError::ManagedFieldsInConfig)));
    }

    #[test]
    fn null_in_applied_config_is_ignored() {
        let mut cfg = config(1, "nginx:1");
        cfg["spec"]["paused"] = Value::Null;
        let out = apply(None, cfg, "m", false, T1);
        assert!(out["spec"].get("paused").is_none());
    }
}
