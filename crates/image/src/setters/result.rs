//! What an update changed, shaped like Flux's `update.Result`: file →
//! object → changes, with the `changes()` and `objects()` views its commit
//! message template calls.

use std::collections::BTreeMap;

/// The object a change was made in: Flux's `ObjectIdentifier` (kyaml's
/// `ResourceIdentifier`). Fields are empty where the document has none,
/// e.g. a `kustomization.yaml` has no name and a Helm values file nothing.
///
/// Ordered as Go orders the struct when a template ranges over a map keyed
/// by it (`TypeMeta` then `NameMeta`): apiVersion, kind, name, namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectIdentifier {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
}

/// One scalar rewritten by a setter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Change {
    /// The value before.
    pub old_value: String,
    /// The value written.
    pub new_value: String,
    /// The marker's setter name, e.g. `flux-system:app` or
    /// `flux-system:app:tag`.
    pub setter: String,
}

/// The changes made to each object.
pub type ObjectChanges = BTreeMap<ObjectIdentifier, Vec<Change>>;

/// The outcome of [`update_with_setters`](super::update_with_setters).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateResult {
    /// Per file (relative to the update path, `/`-separated), the changes
    /// per object. Only files that changed are listed.
    pub file_changes: BTreeMap<String, ObjectChanges>,
    /// Files that carry the `"$imagepolicy"` token but were left alone
    /// because they do not parse as YAML (Flux's "problem files"): logged
    /// by Flux, never an error.
    pub skipped: Vec<Skipped>,
    /// Comments that mention `"$imagepolicy"` but are not a marker Flux
    /// would act on (bad JSON, no namespace, unknown field, a marker on a
    /// value that cannot be set). Flux ignores them silently; we report
    /// them so the caller can surface them.
    pub ignored_markers: Vec<IgnoredMarker>,
}

/// A file left alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Relative to the update path.
    pub file: String,
    /// What made it unusable.
    pub reason: String,
}

/// A comment that looks like a marker but is not acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredMarker {
    /// Relative to the update path.
    pub file: String,
    /// 1-based line of the comment.
    pub line: usize,
    /// Why it is ignored, and what to write instead.
    pub reason: String,
}

impl UpdateResult {
    /// Whether any file changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.file_changes.is_empty()
    }

    /// Every distinct change, in file, object and document order (Flux's
    /// `Result.Changes()`, whose order is a Go map's).
    #[must_use]
    pub fn changes(&self) -> Vec<Change> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for objects in self.file_changes.values() {
            for change in objects.values().flatten() {
                if seen.insert(change) {
                    out.push(change.clone());
                }
            }
        }
        out
    }

    /// The changes per object, whichever file it is in (Flux's
    /// `Result.Objects()`): an object found in two files gets both lists.
    #[must_use]
    pub fn objects(&self) -> ObjectChanges {
        let mut out = ObjectChanges::new();
        for objects in self.file_changes.values() {
            for (object, changes) in objects {
                out.entry(object.clone())
                    .or_default()
                    .extend(changes.iter().cloned());
            }
        }
        out
    }

    /// Records `change` for `object` in `file`.
    pub(crate) fn add(&mut self, file: &str, object: ObjectIdentifier, change: Change) {
        self.file_changes
            .entry(file.to_owned())
            .or_default()
            .entry(object)
            .or_default()
            .push(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(old: &str, new: &str, setter: &str) -> Change {
        Change {
            old_value: old.into(),
            new_value: new.into(),
            setter: setter.into(),
        }
    }

    fn object(kind: &str, name: &str) -> ObjectIdentifier {
        ObjectIdentifier {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            namespace: "default".into(),
        }
    }

    #[test]
    fn views_deduplicate_changes_and_merge_objects() {
        let mut result = UpdateResult::default();
        let c = change("a:1", "a:2", "ns:a");
        result.add("x.yaml", object("Deployment", "web"), c.clone());
        result.add("y.yaml", object("Deployment", "web"), c.clone());
        result.add(
            "y.yaml",
            object("CronJob", "job"),
            change("1", "2", "ns:a:tag"),
        );
        assert_eq!(result.changes(), [c.clone(), change("1", "2", "ns:a:tag")]);
        let objects = result.objects();
        assert_eq!(objects[&object("Deployment", "web")], [c.clone(), c]);
        // Ordered by apiVersion, kind, name, namespace, as Go ranges.
        let kinds: Vec<&str> = objects.keys().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds, ["CronJob", "Deployment"]);
    }
}
