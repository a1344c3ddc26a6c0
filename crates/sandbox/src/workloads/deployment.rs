//! The Deployment controller: one ReplicaSet per pod template, named
//! `<deployment>-<pod-template-hash>` and numbered by the
//! `deployment.kubernetes.io/revision` annotation; the current one holds
//! the replicas, older ones are scaled to zero and pruned beyond
//! `revisionHistoryLimit`. Returning to an older template (a rollback)
//! revives its ReplicaSet under the next revision, as Kubernetes does.

use serde_json::{Map, Value, json};

use super::{
    Index, create, delete, deployments, int_at, is_terminating, keep_condition_times, name_of,
    namespace_of, replica_sets, update, write_status,
};
use crate::api::Api;
use crate::rollout::{Outcome, outcome};

const REVISION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
const HASH_LABEL: &str = "pod-template-hash";
/// Annotations of the Deployment that its ReplicaSets do not inherit.
const NOT_COPIED: [&str; 4] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    DESIRED_REPLICAS,
];

fn revision(object: &Value) -> i64 {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(REVISION))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Brings one Deployment's ReplicaSets to its template and replica count,
/// and writes its status from theirs.
pub(super) fn sync_deployment(
    api: &Api,
    owned_sets: &mut Index,
    owned_pods: &mut Index,
    namespace: &str,
    name: &str,
) {
    let Some(deployment) = api.store.txn(|t| t.get(&deployments(), namespace, name)) else {
        return;
    };
    if is_terminating(&deployment) {
        return;
    }
    let hash = pod_template_hash(deployment.pointer("/spec/template").unwrap_or(&Value::Null));
    let current_name = format!("{name}-{hash}");
    let mut sets: Vec<Value> = owned_sets
        .owned_by(api, &deployment)
        .iter()
        .map(|rs| rs.as_ref().clone())
        .collect();
    if deployment.pointer("/spec/paused") != Some(&Value::Bool(true)) {
        sets = reconcile_replica_sets(api, &deployment, sets, &current_name, &hash);
    }
    let current = sets.iter().find(|rs| name_of(rs) == current_name);
    let mut deployment = deployment.as_ref().clone();
    if let Some(rs) = current {
        let wanted = revision(rs).to_string();
        if deployment
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(REVISION))
            != Some(&json!(wanted))
        {
            set_annotation(&mut deployment, REVISION, &wanted);
            update(api, &deployments(), deployment);
            // The update's own event brings the status write.
            return;
        }
    }
    let failed = outcome(&deployment) == Outcome::Fail
        && current.is_some_and(|rs| {
            let pods = owned_pods.owned_by(api, rs);
            !pods.is_empty()
                && pods
                    .iter()
                    .all(|p| p.pointer("/status/phase") == Some(&json!("Failed")))
        });
    let mut status = deployment_status(&deployment, current, &sets, failed, &(api.now)());
    if let Some(Value::Array(conditions)) = status.get_mut("conditions") {
        keep_condition_times(deployment.get("status"), conditions);
    }
    write_status(api, &deployments(), &deployment, status);
}

/// Creates, scales and prunes the Deployment's ReplicaSets (`sets`, as
/// read); returns them as they are now.
fn reconcile_replica_sets(
    api: &Api,
    deployment: &Value,
    sets: Vec<Value>,
    current_name: &str,
    hash: &str,
) -> Vec<Value> {
    let namespace = namespace_of(deployment);
    let desired = int_at(deployment, "/spec/replicas").unwrap_or(1);
    let newest = sets
        .iter()
        .filter(|rs| name_of(rs) != current_name)
        .map(revision)
        .max()
        .unwrap_or(0);
    let (current, mut old): (Vec<Value>, Vec<Value>) =
        sets.into_iter().partition(|rs| name_of(rs) == current_name);
    let current = match current.into_iter().next() {
        None => create(
            api,
            &replica_sets(),
            namespace,
            new_replica_set(deployment, hash, newest + 1),
        ),
        Some(rs) => {
            let mut wanted = rs.clone();
            let keep = revision(&rs).max(1);
            let number = if keep > newest { keep } else { newest + 1 };
            wanted["metadata"]["annotations"] =
                Value::Object(replica_set_annotations(deployment, number));
            wanted["spec"]["replicas"] = json!(desired);
            if wanted == rs {
                Some(rs)
            } else {
                update(api, &replica_sets(), wanted).or(Some(rs))
            }
        }
    };
    for rs in &mut old {
        if int_at(rs, "/spec/replicas") != Some(0) {
            let mut scaled = rs.clone();
            scaled["spec"]["replicas"] = json!(0);
            if let Some(updated) = update(api, &replica_sets(), scaled) {
                *rs = updated;
            }
        }
    }
    // History beyond the limit goes, oldest first, once its Pods are gone.
    let limit = usize::try_from(int_at(deployment, "/spec/revisionHistoryLimit").unwrap_or(10))
        .unwrap_or(0);
    old.sort_by_key(revision);
    let idle = old
        .iter()
        .filter(|rs| int_at(rs, "/status/replicas").unwrap_or(0) == 0)
        .count();
    let mut excess = idle.saturating_sub(limit);
    old.retain(|rs| {
        let prune = excess > 0 && int_at(rs, "/status/replicas").unwrap_or(0) == 0;
        if prune {
            delete(api, &replica_sets(), rs);
            excess -= 1;
        }
        !prune
    });
    old.extend(current);
    old
}

fn set_annotation(object: &mut Value, key: &str, value: &str) {
    if !object
        .pointer("/metadata/annotations")
        .is_some_and(Value::is_object)
    {
        object["metadata"]["annotations"] = json!({});
    }
    object["metadata"]["annotations"][key] = json!(value);
}

/// The Deployment's own annotations (but its bookkeeping), the revision
/// and the replica count the ReplicaSet was made for.
fn replica_set_annotations(deployment: &Value, revision: i64) -> Map<String, Value> {
    let mut annotations: Map<String, Value> = deployment
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let desired = int_at(deployment, "/spec/replicas").unwrap_or(1);
    annotations.insert(DESIRED_REPLICAS.into(), json!(desired.to_string()));
    annotations.insert(REVISION.into(), json!(revision.to_string()));
    annotations
}

/// The ReplicaSet for the Deployment's current template: the template and
/// selector gain the `pod-template-hash` label, so the Pods of two
/// templates never match each other's selector.
fn new_replica_set(deployment: &Value, hash: &str, revision: i64) -> Value {
    let mut template = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let mut labels = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), json!(hash));
    if !template.get("metadata").is_some_and(Value::is_object) {
        template["metadata"] = json!({});
    }
    template["metadata"]["labels"] = Value::Object(labels.clone());
    let mut selector = deployment
        .pointer("/spec/selector")
        .cloned()
        .unwrap_or(json!({}));
    if !selector.get("matchLabels").is_some_and(Value::is_object) {
        selector["matchLabels"] = json!({});
    }
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut spec = json!({
        "replicas": int_at(deployment, "/spec/replicas").unwrap_or(1),
        "selector": selector,
        "template": template,
    });
    if let Some(seconds) = deployment.pointer("/spec/minReadySeconds") {
        spec["minReadySeconds"] = seconds.clone();
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", name_of(deployment)),
            "namespace": namespace_of(deployment),
            "labels": labels,
            "annotations": replica_set_annotations(deployment, revision),
            "ownerReferences": [super::owner_reference("apps/v1", "Deployment", deployment)],
        },
        "spec": spec,
    })
}

/// A name-safe hash of a pod template, as the `pod-template-hash` label
/// carries it: FNV-1a over the template with keys in order (the hash label
/// itself left out), its decimal digits spelled in the alphabet Kubernetes
/// uses for generated names. Not Kubernetes' exact value (that hashes Go's
/// struct dump), but as stable: the same template always gives the same name.
pub(super) fn pod_template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut template = template.clone();
    if let Some(labels) = template
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
    }
    let mut bytes = Vec::new();
    canonical(&template, &mut bytes);
    let hash = bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash.to_string()
        .bytes()
        .map(|digit| ALPHABET[usize::from(digit) % ALPHABET.len()] as char)
        .collect()
}

/// JSON with object keys sorted, so key order never changes the hash.
fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(key.clone()).to_string().as_bytes());
                out.push(b':');
                canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

/// `maxUnavailable` resolved against the replica count: a number, or a
/// percentage rounded down (25% when unset); zero under `Recreate`.
fn max_unavailable(deployment: &Value, desired: i64) -> i64 {
    if deployment.pointer("/spec/strategy/type") == Some(&json!("Recreate")) {
        return 0;
    }
    match deployment.pointer("/spec/strategy/rollingUpdate/maxUnavailable") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) if s.ends_with('%') => {
            s.trim_end_matches('%').parse::<i64>().unwrap_or(25) * desired / 100
        }
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 25 * desired / 100,
    }
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

/// The status the Deployment controller writes, summed from the
/// ReplicaSets it owns (`current` holds the Deployment's template).
/// `failed`: the current ReplicaSet's Pods all failed, which the real
/// controller reports once the progress deadline passes.
pub(super) fn deployment_status(
    deployment: &Value,
    current: Option<&Value>,
    sets: &[Value],
    failed: bool,
    now: &str,
) -> Value {
    let desired = int_at(deployment, "/spec/replicas").unwrap_or(1);
    let sum = |pointer: &str| -> i64 { sets.iter().filter_map(|rs| int_at(rs, pointer)).sum() };
    let replicas = sum("/status/replicas");
    let ready = sum("/status/readyReplicas");
    let available = sum("/status/availableReplicas");
    let updated = current
        .and_then(|rs| int_at(rs, "/status/replicas"))
        .unwrap_or(0);
    let current_name = current.map_or_else(
        || name_of(deployment).to_string(),
        |rs| name_of(rs).to_string(),
    );
    let available_condition = if available >= desired - max_unavailable(deployment, desired) {
        condition(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    } else {
        condition(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    };
    let complete =
        current.is_some() && updated == desired && replicas == desired && available == desired;
    let progressing = if complete {
        condition(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{current_name}\" has successfully progressed."),
            now,
        )
    } else if failed {
        condition(
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            &format!("ReplicaSet \"{current_name}\" has timed out progressing."),
            now,
        )
    } else {
        condition(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{current_name}\" is progressing."),
            now,
        )
    };
    let mut status = json!({
        "observedGeneration": int_at(deployment, "/metadata/generation").unwrap_or(1),
    });
    for (field, value) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", (desired - available).max(0)),
    ] {
        if value > 0 {
            status[field] = json!(value);
        }
    }
    status["conditions"] = json!([available_condition, progressing]);
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64) -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "apps", "uid": "d1", "generation": 3,
                         "annotations": {"team": "a", REVISION: "2"}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "app", "image": "nginx"}]}},
            },
        })
    }

    fn replica_set(name: &str, replicas: i64, ready: i64) -> Value {
        json!({"metadata": {"name": name}, "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}})
    }

    #[test]
    fn the_hash_follows_the_template_not_its_key_order_or_hash_label() {
        let a = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"x": 1, "y": 2}});
        let b = json!({"spec": {"y": 2, "x": 1}, "metadata": {"labels": {"app": "web", HASH_LABEL: "zz"}}});
        let c = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"x": 1, "y": 3}});
        assert_eq!(pod_template_hash(&a), pod_template_hash(&b));
        assert_ne!(pod_template_hash(&a), pod_template_hash(&c));
        assert!(
            pod_template_hash(&a)
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
    }

    #[test]
    fn the_replica_set_carries_hash_revision_and_owner() {
        let d = deployment(2);
        let rs = new_replica_set(&d, "abc", 3);
        assert_eq!(rs["metadata"]["name"], "web-abc");
        assert_eq!(
            rs["metadata"]["labels"],
            json!({"app": "web", HASH_LABEL: "abc"})
        );
        assert_eq!(
            rs["metadata"]["annotations"],
            json!({"team": "a", DESIRED_REPLICAS: "2", REVISION: "3"})
        );
        assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
        assert_eq!(rs["metadata"]["ownerReferences"][0]["uid"], "d1");
        assert_eq!(rs["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            rs["spec"]["selector"]["matchLabels"],
            json!({"app": "web", HASH_LABEL: "abc"})
        );
        assert_eq!(
            rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL],
            "abc"
        );
        assert_eq!(rs["spec"]["replicas"], 2);
    }

    #[test]
    fn a_finished_rollout_is_available_and_progressed() {
        let sets = [replica_set("web-new", 2, 2), replica_set("web-old", 0, 0)];
        let status = deployment_status(&deployment(2), Some(&sets[0]), &sets, false, "t");
        assert_eq!(status["observedGeneration"], 3);
        for field in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            assert_eq!(status[field], 2, "{field}");
        }
        assert!(status.get("unavailableReplicas").is_none());
        assert_eq!(status["conditions"][0]["status"], "True");
        assert_eq!(status["conditions"][1]["reason"], "NewReplicaSetAvailable");
    }

    #[test]
    fn a_rollout_in_progress_counts_old_and_new_pods() {
        let sets = [replica_set("web-new", 2, 0), replica_set("web-old", 1, 1)];
        let status = deployment_status(&deployment(2), Some(&sets[0]), &sets, false, "t");
        assert_eq!(status["replicas"], 3);
        assert_eq!(status["updatedReplicas"], 2);
        assert_eq!(status["availableReplicas"], 1);
        assert_eq!(status["unavailableReplicas"], 1);
        assert_eq!(status["conditions"][0]["status"], "False");
        assert_eq!(status["conditions"][1]["reason"], "ReplicaSetUpdated");
    }

    #[test]
    fn failed_pods_exceed_the_progress_deadline() {
        let sets = [replica_set("web-new", 2, 0)];
        let status = deployment_status(&deployment(2), Some(&sets[0]), &sets, true, "t");
        assert_eq!(status["conditions"][1]["status"], "False");
        assert_eq!(
            status["conditions"][1]["reason"],
            "ProgressDeadlineExceeded"
        );
        assert!(status.get("readyReplicas").is_none());
    }

    #[test]
    fn max_unavailable_reads_numbers_and_percentages() {
        let mut d = deployment(4);
        assert_eq!(max_unavailable(&d, 4), 1);
        d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": "50%"}});
        assert_eq!(max_unavailable(&d, 4), 2);
        d["spec"]["strategy"] = json!({"rollingUpdate": {"maxUnavailable": 3}});
        assert_eq!(max_unavailable(&d, 4), 3);
        d["spec"]["strategy"] = json!({"type": "Recreate"});
        assert_eq!(max_unavailable(&d, 4), 0);
    }
}
