//! `metadata.managedFields` entries: reading, identity and writing.
//!
//! Owns how an entry is identified (manager, operation, and for `Update` the
//! API version, plus the subresource: kube-apiserver's rule, so `kubectl`
//! applying and `kubectl` updating are two owners) and the order entries are
//! written in (operation, time, manager, apiVersion, subresource).

use serde_json::{Map, Value};

use super::fieldset::FieldSet;

/// One `managedFields` entry with its field set decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    pub(crate) operation: String,
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
    pub(crate) subresource: Option<String>,
    pub(crate) set: FieldSet,
}

impl Entry {
    pub(crate) fn same_owner(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation != "Update" || self.api_version == other.api_version)
    }

    fn read(value: &Value) -> Option<Entry> {
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
        let set = match value.get("fieldsV1") {
            Some(v) => FieldSet::from_fields_v1(v).ok()?,
            None => FieldSet::default(),
        };
        Some(Entry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation")?,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            set,
        })
    }

    fn write(&self) -> Value {
        let mut map = Map::new();
        map.insert("manager".into(), Value::String(self.manager.clone()));
        map.insert("operation".into(), Value::String(self.operation.clone()));
        map.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            map.insert("time".into(), Value::String(time.clone()));
        }
        map.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        map.insert("fieldsV1".into(), self.set.to_fields_v1());
        if let Some(sub) = &self.subresource {
            map.insert("subresource".into(), Value::String(sub.clone()));
        }
        Value::Object(map)
    }
}

/// The `managedFields` value of `obj`, if it has one.
pub(crate) fn raw(obj: &Value) -> Option<&Value> {
    obj.get("metadata").and_then(|m| m.get("managedFields"))
}

/// Decodes entries; entries that cannot be read are dropped, as the real
/// server resets managed fields it cannot decode.
pub(crate) fn read(value: Option<&Value>) -> Vec<Entry> {
    value
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(Entry::read).collect())
        .unwrap_or_default()
}

/// Writes `entries` (without empty ones) into `obj.metadata.managedFields`,
/// or removes the field when none are left.
pub(crate) fn write(obj: &mut Value, entries: &[Entry]) {
    let mut kept: Vec<&Entry> = entries.iter().filter(|e| !e.set.is_empty()).collect();
    kept.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Some(obj) = obj.as_object_mut() else {
        return;
    };
    if kept.is_empty() {
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            meta.shift_remove("managedFields");
        }
        return;
    }
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        meta.insert(
            "managedFields".into(),
            Value::Array(kept.iter().map(|e| e.write()).collect()),
        );
    }
}

/// How many `Update` entries kube-apiserver keeps before folding the oldest
/// into per-version [`ANCIENT_CHANGES`] entries.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Folds the oldest `Update` entries into one `ancient-changes` entry per API
/// version until at most ten `Update` entries remain, as kube-apiserver does,
/// so objects written by many controllers do not grow without bound.
pub(crate) fn cap_update_managers(entries: &mut Vec<Entry>) {
    let live = |e: &Entry| e.operation == "Update" && !e.set.is_empty();
    let mut count = entries.iter().filter(|e| live(e)).count();
    if count <= MAX_UPDATE_MANAGERS {
        return;
    }
    let mut oldest: Vec<usize> = (0..entries.len()).filter(|&i| live(&entries[i])).collect();
    oldest.sort_by(|&a, &b| entries[a].time.cmp(&entries[b].time));
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut folded = Vec::new();
    for i in oldest {
        if count <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[i].api_version.clone();
        match first_of_version.iter().find(|(v, _)| *v == version) {
            Some(&(_, bucket)) => {
                let merged = entries[bucket].set.union(&entries[i].set);
                entries[bucket].set = merged;
                entries[bucket].manager = ANCIENT_CHANGES.to_string();
                entries[bucket].time = entries[i].time.clone();
                folded.push(i);
                count -= 1;
            }
            None => first_of_version.push((version, i)),
        }
    }
    let mut index = 0;
    entries.retain(|_| {
        index += 1;
        !folded.contains(&(index - 1))
    });
}

/// `obj` without `metadata.managedFields`.
pub(crate) fn without(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_round_trip_and_sort_like_the_server() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "b", "operation": "Update", "apiVersion": "v1",
             "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "a", "operation": "Update", "apiVersion": "v1",
             "time": "2024-01-02T00:00:00Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:y": {}}}},
            {"manager": "z", "operation": "Apply", "apiVersion": "v1",
             "time": "2025-01-01T00:00:00Z", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:z": {}}}},
            {"manager": "broken", "operation": "Update", "fieldsV1": {"f:x": 3}}
        ]}});
        let entries = read(raw(&obj));
        assert_eq!(entries.len(), 3, "undecodable entries are dropped");
        let mut out = json!({"metadata": {}});
        write(&mut out, &entries);
        let names: Vec<&str> = out["metadata"]["managedFields"]
            .as_array()
            .expect("written")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(names, ["z", "b", "a"]);
        assert_eq!(
            out["metadata"]["managedFields"][0]["fieldsType"],
            "FieldsV1"
        );
        write(&mut out, &[]);
        assert_eq!(out, json!({"metadata": {}}));
    }

    #[test]
    fn more_than_ten_update_managers_fold_into_ancient_changes() {
        let mut entries: Vec<Entry> = (0..12)
            .map(|i| {
                let mut set = FieldSet::default();
                set.insert(&[super::super::fieldset::Pe::Field(format!("f{i}"))]);
                Entry {
                    manager: format!("m{i:02}"),
                    operation: "Update".into(),
                    api_version: "v1".into(),
                    time: Some(format!("2026-01-01T00:00:{i:02}Z")),
                    subresource: None,
                    set,
                }
            })
            .collect();
        cap_update_managers(&mut entries);
        assert_eq!(entries.len(), 10);
        let ancient = entries
            .iter()
            .find(|e| e.manager == "ancient-changes")
            .expect("bucket");
        assert_eq!(ancient.set.paths().len(), 3, "m00, m01 and m02 folded");
        assert_eq!(ancient.time.as_deref(), Some("2026-01-01T00:00:02Z"));
        assert!(entries.iter().any(|e| e.manager == "m11"));
    }

    #[test]
    fn update_owners_differ_by_version_apply_owners_do_not() {
        let e = |op: &str, v: &str| Entry {
            manager: "m".into(),
            operation: op.into(),
            api_version: v.into(),
            time: None,
            subresource: None,
            set: FieldSet::default(),
        };
        assert!(e("Apply", "v1").same_owner(&e("Apply", "v2")));
        assert!(!e("Update", "v1").same_owner(&e("Update", "v2")));
        assert!(!e("Update", "v1").same_owner(&e("Apply", "v1")));
    }
}
