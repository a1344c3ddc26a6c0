//! The DaemonSet controller: one Pod per Node whose labels match the
//! template's `nodeSelector`, bound to it (`spec.nodeName`), labelled with
//! the template's hash (`controller-revision-hash`, whose
//! ControllerRevision [`super::history`] keeps) and the set's generation
//! (`pod-template-generation`). A `RollingUpdate` replaces Pods of an
//! older template: without `maxSurge`, it deletes at most `maxUnavailable`
//! of the ready ones at a time and creates their replacements after; with
//! `maxSurge`, it starts the new Pod beside the old one on up to that many
//! Nodes and deletes the old once the new is ready. `OnDelete` leaves them
//! until deleted. The status counts the oldest Pod of each Node, as the
//! real controller does — the counts `kubectl rollout status` and Helm's
//! `--wait` read.
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
    namespace_of, pod_from_template, pods, write_status,
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

/// A rolling update's `maxUnavailable` or `maxSurge` for `desired` Pods:
/// a number, or a percentage rounded up.
fn scaled(set: &Value, field: &str, desired: usize, default: usize) -> usize {
    let value = set
        .pointer("/spec/updateStrategy/rollingUpdate")
        .and_then(|r| r.get(field));
    match value {
        Some(Value::String(percent)) => percent
            .strip_suffix('%')
            .and_then(|p| p.parse::<usize>().ok())
            .map_or(default, |p| (p * desired).div_ceil(100)),
        Some(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(default),
        None => default,
    }
}

/// A wanted Node's Pods: at most one of an older template and one of the
/// current one (both only while a surge replaces the old).
#[derive(Debug, Default)]
struct NodePods {
    old: Option<Value>,
    new: Option<Value>,
}

impl NodePods {
    /// The Pod the status counts: the oldest, as the real controller does.
    fn counted(&self) -> Option<&Value> {
        self.old.as_ref().or(self.new.as_ref())
    }
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
    // Per wanted Node, the oldest Pod of each template stays; the others,
    // and Pods on Nodes no longer wanted, go.
    let mut by_node: BTreeMap<&str, NodePods> =
        wanted.iter().map(|n| (*n, NodePods::default())).collect();
    let mut sorted: Vec<&Value> = live.iter().map(Arc::as_ref).collect();
    sorted.sort_by_key(|p| {
        let created = p
            .pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str);
        (created, label(p, HASH_LABEL) == Some(hash.as_str()))
    });
    for pod in sorted {
        let slot = by_node.get_mut(node_of(pod)).map(|pods| {
            if label(pod, HASH_LABEL) == Some(hash.as_str()) {
                &mut pods.new
            } else {
                &mut pods.old
            }
        });
        match slot {
            Some(slot @ None) => *slot = Some(pod.clone()),
            _ => delete(api, &pods(), pod),
        }
    }
    if set.pointer("/spec/updateStrategy/type") != Some(&json!("OnDelete")) {
        roll(api, &set, &hash, &mut by_node);
    }
    for (node, pods) in &mut by_node {
        if pods.counted().is_none() {
            pods.new = create(api, &super::pods(), namespace, pod_for(&set, node, &hash));
        }
    }
    let status = daemon_set_status(&set, &by_node, &hash);
    write_status(api, &daemon_sets(), &set, status);
}

/// Replaces Pods of an older template, by surge when `maxSurge` is set,
/// else within `maxUnavailable`.
fn roll(api: &Api, set: &Value, hash: &str, by_node: &mut BTreeMap<&str, NodePods>) {
    let desired = by_node.len();
    let surge = scaled(set, "maxSurge", desired, 0);
    if surge > 0 {
        surge_roll(api, set, hash, surge, by_node);
        return;
    }
    // Zero for both means one, as the API's defaulting has it.
    let max_unavailable = scaled(set, "maxUnavailable", desired, 1).max(1);
    let ready = by_node
        .values()
        .filter(|p| p.counted().is_some_and(is_pod_ready))
        .count();
    let mut budget = max_unavailable.saturating_sub(desired - ready);
    for pods in by_node.values_mut() {
        let Some(old) = &pods.old else { continue };
        // Unavailable old Pods go at once; ready ones within the budget.
        let ready = is_pod_ready(old);
        if pods.new.is_none() && ready {
            if budget == 0 {
                continue;
            }
            budget -= 1;
        }
        if let Some(old) = pods.old.take() {
            delete(api, &self::pods(), &old);
        }
    }
}

/// A surge: a Node whose old Pod is unavailable, or up to `surge` others,
/// get the new Pod beside the old; the old goes once the new is ready.
fn surge_roll(
    api: &Api,
    set: &Value,
    hash: &str,
    surge: usize,
    by_node: &mut BTreeMap<&str, NodePods>,
) {
    let surging = by_node
        .values()
        .filter(|p| p.old.is_some() && p.new.as_ref().is_some_and(|n| !is_pod_ready(n)))
        .count();
    let mut budget = surge.saturating_sub(surging);
    for (node, pods) in by_node.iter_mut() {
        let Some(old) = &pods.old else { continue };
        match &pods.new {
            Some(new) if is_pod_ready(new) => {
                delete(api, &self::pods(), old);
                pods.old = None;
            }
            Some(_) => {}
            None if !is_pod_ready(old) || budget > 0 => {
                budget = budget.saturating_sub(usize::from(is_pod_ready(old)));
                let pod = pod_for(set, node, hash);
                pods.new = create(api, &self::pods(), namespace_of(set), pod);
            }
            None => {}
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

/// The status the DaemonSet controller writes, from the oldest Pod of
/// each Node: counts of zero are left out where the API omits them
/// (`numberAvailable`, `numberUnavailable`).
fn daemon_set_status(set: &Value, by_node: &BTreeMap<&str, NodePods>, hash: &str) -> Value {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let counted: Vec<&Value> = by_node.values().filter_map(NodePods::counted).collect();
    let desired = by_node.len();
    let ready = counted.iter().filter(|p| is_pod_ready(p)).count();
    let updated = counted
        .iter()
        .filter(|p| label(p, HASH_LABEL) == Some(hash))
        .count();
    let mut status = json!({
        "observedGeneration": int_at(set, "/metadata/generation").unwrap_or(1),
        "desiredNumberScheduled": count(desired),
        "currentNumberScheduled": count(counted.len()),
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
    fn budgets_read_numbers_and_rounded_up_percentages() {
        let set =
            |max: Value| json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": max}}}});
        assert_eq!(scaled(&set(json!(2)), "maxSurge", 5, 0), 2);
        assert_eq!(scaled(&set(json!("30%")), "maxSurge", 5, 0), 2);
        assert_eq!(scaled(&set(json!("0%")), "maxSurge", 5, 0), 0);
        assert_eq!(scaled(&json!({}), "maxUnavailable", 5, 1), 1);
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
    fn status_counts_the_oldest_pod_of_each_node() {
        let set = json!({"metadata": {"generation": 2}});
        let pod = |hash: &str, ready: bool| {
            json!({
                "metadata": {"labels": {HASH_LABEL: hash}},
                "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
            })
        };
        let by_node: BTreeMap<&str, NodePods> = [
            (
                "a",
                NodePods {
                    old: None,
                    new: Some(pod("new", false)),
                },
            ),
            // Mid-surge: the old Pod still counts, ready but not updated.
            (
                "b",
                NodePods {
                    old: Some(pod("old", true)),
                    new: Some(pod("new", true)),
                },
            ),
            ("c", NodePods::default()),
        ]
        .into();
        let status = daemon_set_status(&set, &by_node, "new");
        assert_eq!(
            status,
            json!({"observedGeneration": 2, "desiredNumberScheduled": 3, "currentNumberScheduled": 2,
                   "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1,
                   "numberAvailable": 1, "numberUnavailable": 2})
        );
    }
}
