//! Indexed Jobs (`completionMode: Indexed`): each Pod runs one completion
//! index in `0..completions`, named `<job>-<index>-…` and carrying the
//! index as the `batch.kubernetes.io/job-completion-index` annotation and
//! label, as its hostname and as the `JOB_COMPLETION_INDEX` variable of
//! each container, as the Job controller makes them. The Job completes
//! once every index has a succeeded Pod; `status.completedIndexes` lists
//! them as intervals (`0-2,4`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{int_at, name_of};

const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";

pub(super) fn is_indexed(job: &Value) -> bool {
    job.pointer("/spec/completionMode") == Some(&json!("Indexed"))
}

fn index_of(pod: &Value) -> Option<i64> {
    pod.pointer("/metadata/annotations")?
        .get(INDEX_KEY)?
        .as_str()?
        .parse()
        .ok()
}

fn completions(job: &Value) -> i64 {
    int_at(job, "/spec/completions").unwrap_or(1)
}

/// The indexes in range that have a succeeded Pod.
pub(super) fn completed(job: &Value, pods: &[Value]) -> BTreeSet<i64> {
    let range = 0..completions(job);
    pods.iter()
        .filter(|p| p.pointer("/status/phase") == Some(&json!("Succeeded")))
        .filter_map(index_of)
        .filter(|i| range.contains(i))
        .collect()
}

/// The `n` lowest indexes that neither succeeded nor have a running Pod.
pub(super) fn next_indexes(job: &Value, pods: &[Value], n: usize) -> Vec<i64> {
    let done = completed(job, pods);
    let running: BTreeSet<i64> = pods
        .iter()
        .filter(|p| {
            !matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            )
        })
        .filter_map(index_of)
        .collect();
    (0..completions(job))
        .filter(|i| !done.contains(i) && !running.contains(i))
        .take(n)
        .collect()
}

/// Makes a Pod of `job`'s template the Pod of one index.
pub(super) fn assign(pod: &mut Value, job: &Value, index: i64) {
    let job_name = name_of(job);
    let text = index.to_string();
    pod["metadata"]["generateName"] = json!(format!("{job_name}-{index}-"));
    if !pod["metadata"]
        .get("annotations")
        .is_some_and(Value::is_object)
    {
        pod["metadata"]["annotations"] = json!({});
    }
    pod["metadata"]["annotations"][INDEX_KEY] = json!(text);
    pod["metadata"]["labels"][INDEX_KEY] = json!(text);
    let spec = &mut pod["spec"];
    if spec.get("hostname").is_none_or(Value::is_null) {
        spec["hostname"] = json!(format!("{job_name}-{index}"));
    }
    let variable = json!({
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": {"fieldRef": {"fieldPath": format!("metadata.annotations['{INDEX_KEY}']")}},
    });
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers {
            if !container.get("env").is_some_and(Value::is_array) {
                container["env"] = json!([]);
            }
            if let Some(env) = container["env"].as_array_mut()
                && !env.iter().any(|e| e["name"] == "JOB_COMPLETION_INDEX")
            {
                env.push(variable.clone());
            }
        }
    }
}

/// Indexes as Kubernetes writes them: runs joined by `-`, separated by `,`.
pub(super) fn intervals(indexes: &BTreeSet<i64>) -> String {
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &i in indexes {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => runs.push((i, i)),
        }
    }
    runs.iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(index: i64, phase: &str) -> Value {
        json!({"metadata": {"annotations": {INDEX_KEY: index.to_string()}},
               "status": {"phase": phase}})
    }

    #[test]
    fn intervals_join_runs() {
        let set: BTreeSet<i64> = [0, 1, 2, 4, 6, 7].into();
        assert_eq!(intervals(&set), "0-2,4,6-7");
        assert_eq!(intervals(&BTreeSet::new()), "");
    }

    #[test]
    fn the_lowest_free_indexes_come_next() {
        let job = json!({"spec": {"completionMode": "Indexed", "completions": 5}});
        let pods = [
            pod(0, "Succeeded"),
            pod(1, "Running"),
            pod(2, "Failed"),
            pod(9, "Succeeded"),
        ];
        assert_eq!(completed(&job, &pods), [0].into());
        assert_eq!(next_indexes(&job, &pods, 2), [2, 3]);
    }

    #[test]
    fn an_index_pod_carries_its_index_everywhere() {
        let job = json!({"metadata": {"name": "work"}});
        let mut pod = json!({"metadata": {"labels": {"app": "w"}},
                             "spec": {"containers": [{"name": "c"}]}});
        assign(&mut pod, &job, 3);
        assert_eq!(pod["metadata"]["generateName"], "work-3-");
        assert_eq!(pod["metadata"]["annotations"][INDEX_KEY], "3");
        assert_eq!(pod["metadata"]["labels"][INDEX_KEY], "3");
        assert_eq!(pod["spec"]["hostname"], "work-3");
        assert_eq!(
            pod["spec"]["containers"][0]["env"][0]["name"],
            "JOB_COMPLETION_INDEX"
        );
    }
}
