//! The DaemonSet controller: one Pod per Node whose labels match the
//! template's `nodeSelector`, bound to it (`spec.nodeName`), labelled with
//! the template's hash (`controller-revision-hash`, whose
//! ControllerRevision [`super::history`] keeps) and the set's generation
//! (`pod-template-generation`). A `RollingUpdate` deletes Pods of an older
//! template, at most `maxUnavailable` of the ready ones at a time, and the
//! next sync creates their replacements (delete, then create: `maxSurge`
//! is not honoured); `OnDelete` leaves them until deleted. The status
//! carries the counts `kubectl rollout status` and Helm's `--wait` read.
//!
//! Simplifications: node affinity and taints are not considered (the
//! tolerations the real controller adds are added all the same), failed
//! Pods are not replaced, and a Pod is available as soon as it is ready.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::deployment::pod_template_hash;
use super::history::sync_history;
use super::{
    Index, create, daemon_sets, delete, int_at, is_pod_ready, is_terminating, name_of,
    pod_from_template, pods, write_status,
};
use crate::api::Api;

const HASH_LABEL: &str = "controller-revision-hash";
const GENERATION_LABEL: &str = "pod-template-generation";

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Whether the template's `nodeSelector` admits this Node.
fn selects(set: &Value, node: &Value) -> bool {
    let Some(selector) = set
        .pointer("/spec/template/spec/nodeSelector")
        .and_then(Value::as_object)
    else {
        return true;
    };
    selector
        .iter()
        .all(|(key, value)| value.as_str().is_some_and(|v| label(node, key) == Some(v)))
}

fn node_of(pod: &Value) -> &str {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Ready Pods of an old template that may go at once: `maxUnavailable`
/// (a number, or a percentage of the desired Pods rounded up; at least
/// one) less the Pods already unavailable.
fn update_budget(set: &Value, desired: usize, unavailable: usize) -> usize {
    let max = set.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable");
    let max = match max {
        Some(Value::String(percent)) => percent
            .strip_suffix('%')
            .and_then(|p| p.parse::<usize>().ok())
            .map_or(1, |p| (p * desired).div_ceil(100)),
        Some(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1),
        None => 1,
    };
    max.max(1).saturating_sub(unavailable)
}

/// Brings one DaemonSet's Pods to its Nodes and template, keeps its
/// history and writes its status.
pub(super) fn sync_daemon_set(
    api: &Api,
    owned_pods: &mut Index,
    owned_revisions: &mut Index,
    nodes: &[Arc<Value>],
    namespace: &str,
    name: &str,
) {
    let Some(set) = api.store.txn(|t| t.get(&daemon_sets(), namespace, name)) else {
        return;
    };
    if is_terminating(&set) {
        return;
    }
    let hash = pod_template_hash(set.pointer("/spec/template").unwrap_or(&Value::Null));
    let live = owned_pods.owned_by(api, &set);
    let in_use: BTreeSet<String> = live
        .iter()
        .filter_map(|p| label(p, HASH_LABEL))
        .map(|h| format!("{name}-{h}"))
        .collect();
    sync_history(api, owned_revisions, &set, "DaemonSet", &hash, &in_use);

    let wanted: Vec<&str> = nodes
        .iter()
        .filter(|n| selects(&set, n))
        .map(|n| name_of(n))
        .collect();
    // One Pod per wanted Node: the newest template's first; the others,
    // and Pods on Nodes no longer wanted, go.
    let mut by_node: BTreeMap<&str, Value> = BTreeMap::new();
    let mut sorted: Vec<&Value> = live.iter().map(Arc::as_ref).collect();
    sorted.sort_by_key(|p| label(p, HASH_LABEL) != Some(hash.as_str()));
    for pod in sorted {
        let node = node_of(pod);
        if wanted.contains(&node) && !by_node.contains_key(node) {
            by_node.insert(node, pod.clone());
        } else {
            delete(api, &pods(), pod);
        }
    }
    if set.pointer("/spec/updateStrategy/type") != Some(&json!("OnDelete")) {
        roll(api, &set, &hash, wanted.len(), &mut by_node);
    }
    for node in &wanted {
        if !by_node.contains_key(node) {
            let pod = pod_for(&set, node, &hash);
            if let Some(created) = create(api, &pods(), namespace, pod) {
                by_node.insert(node, created);
            }
        }
    }
    let status = daemon_set_status(&set, wanted.len(), &by_node, &hash);
    write_status(api, &daemon_sets(), &set, status);
}

/// Deletes Pods of an older template: the unavailable ones at once, the
/// ready ones within the update budget.
fn roll(api: &Api, set: &Value, hash: &str, desired: usize, by_node: &mut BTreeMap<&str, Value>) {
    let unavailable = desired.saturating_sub(by_node.values().filter(|p| is_pod_ready(p)).count());
    let mut budget = update_budget(set, desired, unavailable);
    let stale: Vec<&str> = by_node
        .iter()
        .filter(|(_, p)| label(p, HASH_LABEL) != Some(hash))
        .map(|(node, _)| *node)
        .collect();
    for node in stale {
        let ready = by_node.get(node).is_some_and(is_pod_ready);
        if ready && budget == 0 {
            continue;
        }
        budget -= usize::from(ready);
        if let Some(pod) = by_node.remove(node) {
            delete(api, &pods(), &pod);
        }
    }
}

/// The Pod for one Node.
fn pod_for(set: &Value, node: &str, hash: &str) -> Value {
    let mut pod = pod_from_template(set, "apps/v1", "DaemonSet");
    let labels = &mut pod["metadata"]["labels"];
    labels[HASH_LABEL] = json!(hash);
    labels[GENERATION_LABEL] = json!(int_at(set, "/metadata/generation").unwrap_or(1).to_string());
    pod["spec"]["nodeName"] = json!(node);
    add_tolerations(&mut pod["spec"]);
    // The controller pins its Pod to the Node by affinity, as the real one does.
    pod["spec"]["affinity"]["nodeAffinity"] = json!({
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}],
        }]},
    });
    pod
}

/// The tolerations the real controller adds to every daemon Pod, so it
/// stays on a Node under pressure or cordoned (and, with `hostNetwork`,
/// one whose network is not ready); those the template has are kept.
fn add_tolerations(spec: &mut Value) {
    let mut wanted = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.get("hostNetwork") == Some(&json!(true)) {
        wanted.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    if !spec.get("tolerations").is_some_and(Value::is_array) {
        spec["tolerations"] = json!([]);
    }
    let Some(tolerations) = spec["tolerations"].as_array_mut() else {
        return;
    };
    for (key, effect) in wanted {
        if !tolerations
            .iter()
            .any(|t| t["key"] == key && t["effect"] == effect)
        {
            tolerations.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
}

/// The status the DaemonSet controller writes: counts of zero are left
/// out where the API omits them (`numberAvailable`, `numberUnavailable`).
fn daemon_set_status(
    set: &Value,
    desired: usize,
    by_node: &BTreeMap<&str, Value>,
    hash: &str,
) -> Value {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let ready = by_node.values().filter(|p| is_pod_ready(p)).count();
    let updated = by_node
        .values()
        .filter(|p| label(p, HASH_LABEL) == Some(hash))
        .count();
    let mut status = json!({
        "observedGeneration": int_at(set, "/metadata/generation").unwrap_or(1),
        "desiredNumberScheduled": count(desired),
        "currentNumberScheduled": count(by_node.len()),
        "numberMisscheduled": 0,
        "numberReady": count(ready),
        "updatedNumberScheduled": count(updated),
    });
    if ready > 0 {
        status["numberAvailable"] = json!(count(ready));
    }
    if desired > ready {
        status["numberUnavailable"] = json!(count(desired - ready));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(os: &str) -> Value {
        json!({"metadata": {"name": "n", "labels": {"kubernetes.io/os": os}}})
    }

    #[test]
    fn the_node_selector_picks_the_nodes() {
        let any = json!({"spec": {"template": {"spec": {}}}});
        let linux = json!({"spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}}});
        assert!(selects(&any, &node("windows")));
        assert!(selects(&linux, &node("linux")));
        assert!(!selects(&linux, &node("windows")));
    }

    #[test]
    fn the_budget_counts_pods_already_down() {
        let set = |max: Value| json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": max}}}});
        assert_eq!(update_budget(&set(json!(2)), 5, 0), 2);
        assert_eq!(update_budget(&set(json!(2)), 5, 1), 1);
        assert_eq!(update_budget(&set(json!("30%")), 5, 0), 2);
        assert_eq!(update_budget(&set(json!(0)), 5, 0), 1);
        assert_eq!(update_budget(&json!({}), 1, 1), 0);
    }

    #[test]
    fn pods_are_bound_to_their_node_and_labelled() {
        let set = json!({
            "metadata": {"name": "agent", "namespace": "kube-system", "uid": "u1", "generation": 3},
            "spec": {"template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "a", "image": "agent"}]}}},
        });
        let pod = pod_for(&set, "sandbox", "h1");
        assert_eq!(pod["metadata"]["generateName"], "agent-");
        assert_eq!(pod["metadata"]["labels"][HASH_LABEL], "h1");
        assert_eq!(pod["metadata"]["labels"][GENERATION_LABEL], "3");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
        assert_eq!(pod["spec"]["nodeName"], "sandbox");
        assert_eq!(pod["spec"]["tolerations"].as_array().map(Vec::len), Some(6));
        assert_eq!(
            pod["spec"]["tolerations"][0],
            json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"})
        );
    }

    #[test]
    fn status_counts_scheduled_ready_and_updated_pods() {
        let set = json!({"metadata": {"generation": 2}});
        let pod = |hash: &str, ready: bool| {
            json!({
                "metadata": {"labels": {HASH_LABEL: hash}},
                "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
            })
        };
        let by_node: BTreeMap<&str, Value> =
            [("a", pod("new", false)), ("b", pod("old", true))].into();
        let status = daemon_set_status(&set, 2, &by_node, "new");
        assert_eq!(
            status,
            json!({"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
                   "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1,
                   "numberAvailable": 1, "numberUnavailable": 1})
        );
    }
}
