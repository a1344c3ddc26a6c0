//! The StatefulSet controller: one Pod per ordinal, named `<set>-<i>` and
//! owned by the set, labelled with the set's revision
//! (`controller-revision-hash: <set>-<hash of the template>`). Under
//! `OrderedReady` (the default) Pod `i` is only made once Pods `0..i` are
//! ready and Pods beyond the replica count go one at a time, highest
//! first; `Parallel` does both at once. A `RollingUpdate` replaces Pods of
//! an older revision from the highest ordinal down to the partition, one
//! at a time, each once all are ready; `OnDelete` leaves them be. The
//! status carries the counts and the current and update revisions that
//! `kubectl rollout status` and Helm's `--wait` read.
//!
//! Each template's ControllerRevision is kept by [`super::history`], so
//! `kubectl rollout history|undo statefulset` work.
//!
//! Simplifications: failed Pods are not replaced, and
//! `volumeClaimTemplates` make no claims.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::deployment::pod_template_hash;
use super::history::sync_history;
use super::{
    Index, create, delete, int_at, is_pod_ready, is_terminating, name_of, pod_from_template, pods,
    stateful_sets, write_status,
};
use crate::api::Api;

pub(super) const REVISION_LABEL: &str = "controller-revision-hash";
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn revision_of(pod: &Value) -> Option<&str> {
    pod.pointer("/metadata/labels")
        .and_then(|l| l.get(REVISION_LABEL))
        .and_then(Value::as_str)
}

/// The set's Pods by ordinal; Pods whose name is not `<set>-<n>` are ignored.
fn by_ordinal(set_name: &str, pods: &[Arc<Value>]) -> BTreeMap<i64, Value> {
    let prefix = format!("{set_name}-");
    pods.iter()
        .filter_map(|pod| {
            let ordinal = name_of(pod).strip_prefix(&prefix)?.parse().ok()?;
            Some((ordinal, pod.as_ref().clone()))
        })
        .collect()
}

/// Brings one StatefulSet's Pods to its replica count and revision, and
/// writes its status.
pub(super) fn sync_stateful_set(
    api: &Api,
    owned_pods: &mut Index,
    owned_revisions: &mut Index,
    namespace: &str,
    name: &str,
) {
    let Some(set) = api.store.txn(|t| t.get(&stateful_sets(), namespace, name)) else {
        return;
    };
    if is_terminating(&set) {
        return;
    }
    let replicas = int_at(&set, "/spec/replicas").unwrap_or(1);
    let template = set.pointer("/spec/template").unwrap_or(&Value::Null);
    let hash = pod_template_hash(template);
    let revision = format!("{name}-{hash}");
    let parallel = str_at(&set, "/spec/podManagementPolicy") == Some("Parallel");
    let mut live = by_ordinal(name, &owned_pods.owned_by(api, &set));
    let in_use = live
        .values()
        .filter_map(|p| revision_of(p).map(str::to_string))
        .collect();
    sync_history(api, owned_revisions, &set, "StatefulSet", &hash, &in_use);

    // Scale down, highest ordinal first.
    let extra: Vec<i64> = live.range(replicas..).map(|(i, _)| *i).rev().collect();
    for ordinal in extra.iter().take(if parallel { extra.len() } else { 1 }) {
        if let Some(pod) = live.remove(ordinal) {
            delete(api, &pods(), &pod);
        }
    }
    // Scale up: the lowest missing ordinals, in order unless Parallel.
    for ordinal in 0..replicas {
        match live.get(&ordinal) {
            Some(pod) if !parallel && !is_pod_ready(pod) => break,
            Some(_) => {}
            None => {
                let pod = pod_for(&set, ordinal, &revision);
                if let Some(created) = create(api, &pods(), namespace, pod) {
                    live.insert(ordinal, created);
                }
                if !parallel {
                    break;
                }
            }
        }
    }
    if extra.is_empty() {
        roll(api, &set, &mut live, replicas, &revision);
    }
    let status = stateful_set_status(&set, &live, &revision);
    write_status(api, &stateful_sets(), &set, status);
}

/// A rolling update's next step: once every Pod is there and ready, the
/// highest one of an older revision at or above the partition goes; the
/// next sync makes it again from the new template.
fn roll(api: &Api, set: &Value, live: &mut BTreeMap<i64, Value>, replicas: i64, revision: &str) {
    if str_at(set, "/spec/updateStrategy/type") == Some("OnDelete") {
        return;
    }
    let complete = (0..replicas).all(|i| live.get(&i).is_some_and(is_pod_ready));
    if !complete {
        return;
    }
    let partition = int_at(set, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    let stale = live
        .range(partition..)
        .rev()
        .find(|(_, pod)| revision_of(pod) != Some(revision))
        .map(|(i, _)| *i);
    if let Some(pod) = stale.and_then(|i| live.remove(&i)) {
        delete(api, &pods(), &pod);
    }
}

/// The Pod for one ordinal: the template, the set's labels for it, its
/// stable hostname under the governing service.
fn pod_for(set: &Value, ordinal: i64, revision: &str) -> Value {
    let pod_name = format!("{}-{ordinal}", name_of(set));
    let mut pod = pod_from_template(set, "apps/v1", "StatefulSet");
    pod["metadata"]["name"] = json!(pod_name);
    if let Some(meta) = pod["metadata"].as_object_mut() {
        meta.remove("generateName");
    }
    let labels = &mut pod["metadata"]["labels"];
    labels[REVISION_LABEL] = json!(revision);
    labels[POD_NAME_LABEL] = json!(pod_name);
    labels[POD_INDEX_LABEL] = json!(ordinal.to_string());
    pod["spec"]["hostname"] = json!(pod_name);
    if let Some(service) = str_at(set, "/spec/serviceName").filter(|s| !s.is_empty()) {
        pod["spec"]["subdomain"] = json!(service);
    }
    pod
}

/// The status the StatefulSet controller writes for these Pods. The
/// current revision moves to the update revision once every Pod runs it.
fn stateful_set_status(set: &Value, live: &BTreeMap<i64, Value>, revision: &str) -> Value {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let replicas = int_at(set, "/spec/replicas").unwrap_or(1);
    let updated = count(
        live.values()
            .filter(|p| revision_of(p) == Some(revision))
            .count(),
    );
    let ready = count(live.values().filter(|p| is_pod_ready(p)).count());
    let previous = str_at(set, "/status/currentRevision").filter(|r| !r.is_empty());
    let current_revision = match previous {
        Some(previous) if updated < replicas || count(live.len()) != replicas => previous,
        _ => revision,
    };
    let current = count(
        live.values()
            .filter(|p| revision_of(p) == Some(current_revision))
            .count(),
    );
    let mut status = json!({
        "observedGeneration": int_at(set, "/metadata/generation").unwrap_or(1),
        "replicas": count(live.len()),
        "availableReplicas": ready,
        "currentRevision": current_revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    for (field, value) in [
        ("readyReplicas", ready),
        ("currentReplicas", current),
        ("updatedReplicas", updated),
    ] {
        if value > 0 {
            status[field] = json!(value);
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, revision: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "labels": {REVISION_LABEL: revision}},
               "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    #[test]
    fn pods_are_named_by_ordinal_and_labelled_with_the_revision() {
        let set = json!({
            "metadata": {"name": "db", "namespace": "apps", "uid": "u1"},
            "spec": {"serviceName": "db-headless", "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "pg", "image": "postgres"}]},
            }},
        });
        let pod = pod_for(&set, 2, "db-abc");
        assert_eq!(pod["metadata"]["name"], "db-2");
        assert!(pod["metadata"].get("generateName").is_none());
        assert_eq!(pod["metadata"]["labels"]["app"], "db");
        assert_eq!(pod["metadata"]["labels"][REVISION_LABEL], "db-abc");
        assert_eq!(pod["metadata"]["labels"][POD_NAME_LABEL], "db-2");
        assert_eq!(pod["metadata"]["labels"][POD_INDEX_LABEL], "2");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
        assert_eq!(pod["spec"]["hostname"], "db-2");
        assert_eq!(pod["spec"]["subdomain"], "db-headless");
    }

    #[test]
    fn the_current_revision_follows_once_every_pod_is_updated() {
        let set = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
                         "status": {"currentRevision": "db-old"}});
        let mid: BTreeMap<i64, Value> = [
            (0, pod("db-0", "db-old", true)),
            (1, pod("db-1", "db-new", false)),
        ]
        .into();
        let status = stateful_set_status(&set, &mid, "db-new");
        assert_eq!(status["currentRevision"], "db-old");
        assert_eq!(status["updateRevision"], "db-new");
        assert_eq!(status["currentReplicas"], 1);
        assert_eq!(status["updatedReplicas"], 1);
        assert_eq!(status["readyReplicas"], 1);

        let done: BTreeMap<i64, Value> = [
            (0, pod("db-0", "db-new", true)),
            (1, pod("db-1", "db-new", true)),
        ]
        .into();
        let status = stateful_set_status(&set, &done, "db-new");
        assert_eq!(status["currentRevision"], "db-new");
        assert_eq!(status["currentReplicas"], 2);
        assert_eq!(status["observedGeneration"], 2);
    }
}
