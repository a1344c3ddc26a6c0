//! ControllerRevisions: the template history StatefulSets and DaemonSets
//! keep, which `kubectl rollout history` lists and `kubectl rollout undo`
//! patches back. One revision per template, named `<owner>-<hash>`,
//! labelled with the template's labels and `controller.kubernetes.io/hash`,
//! owned by the set, and numbered: a new template gets the next number and
//! returning to an old one renumbers its revision as the newest, as
//! Kubernetes does. Revisions neither current nor still worn by a Pod are
//! pruned, oldest first, beyond `revisionHistoryLimit` (default 10).
//!
//! The revision's `data` is the patch that restores the template
//! (`{"spec": {"template": {..., "$patch": "replace"}}}`), the form
//! kubectl's undo applies as a strategic merge patch.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{
    Index, controller_revisions, create, delete, int_at, name_of, namespace_of, owner_reference,
    update,
};
use crate::api::Api;

pub(super) const HASH_LABEL: &str = "controller.kubernetes.io/hash";

fn number(revision: &Value) -> i64 {
    int_at(revision, "/revision").unwrap_or(0)
}

/// Makes (or renumbers) the revision of `owner`'s current template, whose
/// hash is `hash`, and prunes its history; `in_use` names the revisions
/// live Pods still run. Returns the current revision's number.
pub(super) fn sync_history(
    api: &Api,
    owned: &mut Index,
    owner: &Value,
    kind: &str,
    hash: &str,
    in_use: &BTreeSet<String>,
) -> i64 {
    let current_name = format!("{}-{hash}", name_of(owner));
    let mut revisions: Vec<Value> = owned
        .owned_by(api, owner)
        .iter()
        .map(|r| r.as_ref().clone())
        .collect();
    let newest_other = revisions
        .iter()
        .filter(|r| name_of(r) != current_name)
        .map(number)
        .max()
        .unwrap_or(0);
    let current = match revisions.iter().position(|r| name_of(r) == current_name) {
        Some(i) if number(&revisions[i]) > newest_other => number(&revisions[i]),
        Some(i) => {
            let mut renumbered = revisions[i].clone();
            renumbered["revision"] = json!(newest_other + 1);
            update(api, &controller_revisions(), renumbered);
            newest_other + 1
        }
        None => {
            let revision = new_revision(owner, kind, hash, newest_other + 1);
            create(api, &controller_revisions(), namespace_of(owner), revision);
            newest_other + 1
        }
    };
    let limit =
        usize::try_from(int_at(owner, "/spec/revisionHistoryLimit").unwrap_or(10)).unwrap_or(0);
    revisions.retain(|r| name_of(r) != current_name && !in_use.contains(name_of(r)));
    revisions.sort_by_key(number);
    let excess = revisions.len().saturating_sub(limit);
    for revision in &revisions[..excess] {
        delete(api, &controller_revisions(), revision);
    }
    current
}

/// The revision of `owner`'s template numbered `number`.
fn new_revision(owner: &Value, kind: &str, hash: &str, number: i64) -> Value {
    let mut template = owner
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or(json!({}));
    labels[HASH_LABEL] = json!(hash);
    if let Some(template) = template.as_object_mut() {
        template.insert("$patch".into(), json!("replace"));
    }
    let mut metadata = json!({
        "name": format!("{}-{hash}", name_of(owner)),
        "namespace": namespace_of(owner),
        "labels": labels,
        "ownerReferences": [owner_reference("apps/v1", kind, owner)],
    });
    if let Some(annotations) = owner
        .pointer("/metadata/annotations")
        .filter(|a| a.is_object())
    {
        metadata["annotations"] = annotations.clone();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata,
        "data": {"spec": {"template": template}},
        "revision": number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_restores_the_template_and_carries_its_labels() {
        let set = json!({
            "metadata": {"name": "db", "namespace": "apps", "uid": "u1",
                         "annotations": {"kubernetes.io/change-cause": "v2"}},
            "spec": {"template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "pg", "image": "pg:17"}]}}},
        });
        let revision = new_revision(&set, "StatefulSet", "abc", 3);
        assert_eq!(revision["metadata"]["name"], "db-abc");
        assert_eq!(revision["metadata"]["labels"]["app"], "db");
        assert_eq!(revision["metadata"]["labels"][HASH_LABEL], "abc");
        assert_eq!(
            revision["metadata"]["annotations"]["kubernetes.io/change-cause"],
            "v2"
        );
        assert_eq!(
            revision["metadata"]["ownerReferences"][0]["kind"],
            "StatefulSet"
        );
        assert_eq!(revision["revision"], 3);
        let template = &revision["data"]["spec"]["template"];
        assert_eq!(template["$patch"], "replace");
        assert_eq!(template["spec"]["containers"][0]["image"], "pg:17");
    }
}
