//! The reverse index of `metadata.ownerReferences`: for each owner uid,
//! the objects that name it. Garbage collection asks it who depends on an
//! object that goes, so a deletion costs what the owner has dependents,
//! not what the store holds.
//!
//! Owns: keeping the index in step with every stored write. Only objects
//! with owner references take room in it; most objects have none.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::catalog::GroupResource;

/// Where one stored object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub gr: GroupResource,
    /// `""` for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

/// Owner uid → the objects whose owner references name it.
#[derive(Default)]
pub(super) struct OwnerIndex {
    dependents: HashMap<String, BTreeSet<ObjectKey>>,
}

/// The owner uids an object's references name.
fn owner_uids(object: Option<&Value>) -> Vec<&str> {
    object
        .and_then(|o| o.pointer("/metadata/ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r["uid"].as_str()).collect())
        .unwrap_or_default()
}

impl OwnerIndex {
    /// Records that the object at `key` changed from `old` to `new` (`None`:
    /// absent before, or removed). The key is only made when references
    /// changed, so writes of objects without owners allocate nothing here.
    pub(super) fn update(
        &mut self,
        key: impl FnOnce() -> ObjectKey,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let before = owner_uids(old);
        let after = owner_uids(new);
        if before == after {
            return;
        }
        let key = &key();
        for uid in before.iter().filter(|uid| !after.contains(uid)) {
            if let Some(set) = self.dependents.get_mut(*uid) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(*uid);
                }
            }
        }
        for uid in after.iter().filter(|uid| !before.contains(uid)) {
            self.dependents
                .entry((*uid).to_string())
                .or_default()
                .insert(key.clone());
        }
    }

    /// The objects that name `owner_uid` among their owners, in key order.
    pub(super) fn dependents_of(&self, owner_uid: &str) -> Vec<ObjectKey> {
        self.dependents
            .get(owner_uid)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            gr: GroupResource::new("", "pods"),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn owned_by(uids: &[&str]) -> Value {
        let refs: Vec<Value> = uids.iter().map(|u| json!({"uid": u})).collect();
        json!({"metadata": {"ownerReferences": refs}})
    }

    #[test]
    fn follows_references_as_they_are_added_changed_and_removed() {
        let mut index = OwnerIndex::default();
        index.update(|| key("a"), None, Some(&owned_by(&["o1", "o2"])));
        index.update(|| key("b"), None, Some(&owned_by(&["o1"])));
        index.update(|| key("c"), None, Some(&json!({"metadata": {}})));
        assert_eq!(index.dependents_of("o1"), [key("a"), key("b")]);
        assert_eq!(index.dependents_of("o2"), [key("a")]);

        index.update(
            || key("a"),
            Some(&owned_by(&["o1", "o2"])),
            Some(&owned_by(&["o2"])),
        );
        assert_eq!(index.dependents_of("o1"), [key("b")]);
        index.update(|| key("b"), Some(&owned_by(&["o1"])), None);
        assert!(index.dependents_of("o1").is_empty());
        assert!(
            !index.dependents.contains_key("o1"),
            "empty entries are dropped"
        );
        assert_eq!(index.dependents_of("o2"), [key("a")]);
    }
}
