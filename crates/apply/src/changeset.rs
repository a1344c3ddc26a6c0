//! What an apply or prune did to each object, and the inventory it leaves.

use std::fmt;

use driftless_api::inventory::{ObjectId, ResourceInventory, ResourceRef};
use serde_json::Value;

/// What happened to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// It did not exist and was created (or was recreated after an
    /// immutable-field change).
    Created,
    /// It existed and differed from the desired state; it was updated.
    Configured,
    /// It already matched the desired state; nothing was written.
    Unchanged,
    /// It was deleted (or was already gone).
    Deleted,
    /// It was left alone; the text says why.
    Skipped(String),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Created => f.write_str("created"),
            Action::Configured => f.write_str("configured"),
            Action::Unchanged => f.write_str("unchanged"),
            Action::Deleted => f.write_str("deleted"),
            Action::Skipped(reason) => write!(f, "skipped ({reason})"),
        }
    }
}

/// One object's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Which object.
    pub id: ObjectId,
    /// The version part of the object's apiVersion, such as `v1`.
    pub version: String,
    /// What was being done.
    pub action: Action,
}

/// The outcome of an apply or a prune, one entry per object, in the order
/// the objects were handled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// One entry per object, in the order they were handled.
    pub entries: Vec<Change>,
}

impl ChangeSet {
    /// The inventory of the objects this set still has in the cluster
    /// (everything but deletions), sorted by id as Flux writes it.
    pub fn inventory(&self) -> ResourceInventory {
        let mut entries: Vec<ResourceRef> = self
            .entries
            .iter()
            .filter(|c| c.action != Action::Deleted)
            .map(|c| ResourceRef::new(&c.id, c.version.clone()))
            .collect();
        entries.sort();
        entries.dedup();
        ResourceInventory { entries }
    }

    /// Whether any object was created, configured or deleted.
    pub fn is_changed(&self) -> bool {
        self.entries.iter().any(|c| c.action.is_change())
    }

    /// One line per changed object, as Flux writes them in events:
    /// `Deployment/apps/web configured`.
    pub fn summary(&self) -> String {
        self.entries
            .iter()
            .filter(|c| c.action.is_change())
            .map(|c| format!("{} {}", subject(&c.id), c.action))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Action {
    fn is_change(&self) -> bool {
        matches!(self, Action::Created | Action::Configured | Action::Deleted)
    }
}

/// How an object would change, without changing it (see
/// [`Applier::diff`](crate::Applier::diff)).
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectDiff {
    /// Which object.
    pub id: ObjectId,
    /// What was being done.
    pub action: Action,
    /// The object in the cluster now, if it exists.
    pub live: Option<Value>,
    /// What the server would store after applying the desired object.
    pub merged: Value,
}

/// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects: how
/// Flux and kubectl name an object to people.
pub fn subject(id: &ObjectId) -> String {
    if id.namespace.is_empty() {
        format!("{}/{}", id.kind, id.name)
    } else {
        format!("{}/{}/{}", id.kind, id.namespace, id.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(ns: &str, name: &str, group: &str, kind: &str, action: Action) -> Change {
        Change {
            id: ObjectId::new(ns, name, group, kind),
            version: "v1".into(),
            action,
        }
    }

    #[test]
    fn summary_lists_changes_only() {
        let set = ChangeSet {
            entries: vec![
                change("", "apps", "", "Namespace", Action::Created),
                change("apps", "web", "apps", "Deployment", Action::Configured),
                change("apps", "cfg", "", "ConfigMap", Action::Unchanged),
                change("apps", "old", "", "Secret", Action::Deleted),
                change(
                    "apps",
                    "x",
                    "",
                    "Secret",
                    Action::Skipped("reconcile disabled".into()),
                ),
            ],
        };
        assert!(set.is_changed());
        assert_eq!(
            set.summary(),
            "Namespace/apps created\nDeployment/apps/web configured\nSecret/apps/old deleted"
        );
        let ids: Vec<_> = set.inventory().entries.into_iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            [
                "_apps__Namespace",
                "apps_cfg__ConfigMap",
                "apps_web_apps_Deployment",
                "apps_x__Secret"
            ]
        );
    }

    #[test]
    fn unchanged_sets_are_not_changes() {
        let set = ChangeSet {
            entries: vec![change("apps", "cfg", "", "ConfigMap", Action::Unchanged)],
        };
        assert!(!set.is_changed());
        assert_eq!(set.summary(), "");
    }
}
