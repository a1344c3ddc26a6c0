//! The ReplicaSet controller: as many Pods as `spec.replicas`, made from
//! the template and owned by the ReplicaSet, and a status counted from them.

use serde_json::{Value, json};

use super::{
    Index, create, delete, int_at, is_pod_ready, is_terminating, pods, replica_sets, write_status,
};
use crate::api::Api;

/// Brings one ReplicaSet's Pods to its replica count and writes its status.
pub(super) fn sync_replica_set(api: &Api, owned_pods: &mut Index, namespace: &str, name: &str) {
    let Some(rs) = api.store.txn(|t| t.get(&replica_sets(), namespace, name)) else {
        return;
    };
    if is_terminating(&rs) {
        return;
    }
    let desired = usize::try_from(int_at(&rs, "/spec/replicas").unwrap_or(1)).unwrap_or(0);
    let mut live: Vec<Value> = owned_pods
        .owned_by(api, &rs)
        .iter()
        .map(|p| p.as_ref().clone())
        .collect();
    if live.len() > desired {
        // The real controller removes the least useful Pods first: not
        // ready before ready, then the youngest.
        live.sort_by_key(|p| {
            (
                is_pod_ready(p),
                std::cmp::Reverse(
                    p.pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        });
        for pod in live.drain(..live.len() - desired) {
            delete(api, &pods(), &pod);
        }
    }
    for _ in live.len()..desired {
        live.extend(create(api, &pods(), namespace, pod_for(&rs)));
    }
    write_status(api, &replica_sets(), &rs, replica_set_status(&rs, &live));
}

/// A new Pod from the ReplicaSet's template, named after the ReplicaSet.
fn pod_for(rs: &Value) -> Value {
    super::pod_from_template(rs, "apps/v1", "ReplicaSet")
}

/// The status the ReplicaSet controller writes for these Pods. Counts of
/// zero are left out, as the API's `omitempty` does (but `replicas`).
pub(super) fn replica_set_status(rs: &Value, pods: &[Value]) -> Value {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let replicas = count(pods.len());
    let ready = count(pods.iter().filter(|p| is_pod_ready(p)).count());
    let mut status = json!({
        "replicas": replicas,
        "observedGeneration": int_at(rs, "/metadata/generation").unwrap_or(1),
    });
    for (field, value) in [
        ("fullyLabeledReplicas", replicas),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
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
    use crate::rollout::ROLLOUT_ANNOTATION;

    fn pod(ready: bool) -> Value {
        json!({"status": {"conditions": [
            {"type": "Ready", "status": if ready { "True" } else { "False" }},
        ]}})
    }

    #[test]
    fn status_counts_pods_and_ready_pods() {
        let rs = json!({"metadata": {"generation": 4}});
        let status = replica_set_status(&rs, &[pod(true), pod(false)]);
        assert_eq!(
            status,
            json!({"replicas": 2, "observedGeneration": 4, "fullyLabeledReplicas": 2,
                   "readyReplicas": 1, "availableReplicas": 1})
        );
        let status = replica_set_status(&rs, &[]);
        assert_eq!(status, json!({"replicas": 0, "observedGeneration": 4}));
    }

    #[test]
    fn pods_come_from_the_template_and_carry_the_rollout_outcome() {
        let rs = json!({
            "metadata": {"name": "web-abc", "namespace": "apps", "uid": "u1",
                         "annotations": {ROLLOUT_ANNOTATION: "hang"}},
            "spec": {"template": {
                "metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            }},
        });
        let pod = pod_for(&rs);
        assert_eq!(pod["metadata"]["generateName"], "web-abc-");
        assert_eq!(pod["metadata"]["namespace"], "apps");
        assert_eq!(pod["metadata"]["labels"]["pod-template-hash"], "abc");
        assert_eq!(pod["metadata"]["annotations"][ROLLOUT_ANNOTATION], "hang");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(pod["spec"]["containers"][0]["image"], "nginx");
    }
}
