//! Conversion between the served versions of a built-in kind whose versions
//! differ in shape: autoscaling/v1 and autoscaling/v2
//! HorizontalPodAutoscalers (kubectl 1.32's `autoscale` writes v1). Objects
//! are stored in the preferred version (v2) and converted on the way in and
//! out, as kube-apiserver does; every other kind's versions share one
//! schema and differ only in `apiVersion`.
//!
//! Kubernetes' rules (`pkg/apis/autoscaling/v1/conversion.go`): a v2 CPU
//! `Resource` metric with an `averageUtilization` target is v1's
//! `targetCPUUtilizationPercentage` (and the current CPU utilization
//! `currentCPUUtilizationPercentage`); the v2 fields v1 has no place for
//! travel in the `autoscaling.alpha.kubernetes.io/*` annotations — other
//! metrics in v1's older metric format, conditions, behavior — so a v1
//! client's read-modify-write keeps them.

use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// Whether `group`'s `kind` needs more than an `apiVersion` change between
/// its versions.
pub fn converts(group: &str, kind: &str) -> bool {
    group == "autoscaling" && kind == "HorizontalPodAutoscaler"
}

/// `object` as `api_version` shows it; kinds [`converts`] does not name only
/// get the new `apiVersion`.
pub fn to_version(object: &Value, group: &str, kind: &str, api_version: &str) -> Value {
    let mut out = if !converts(group, kind) {
        object.clone()
    } else if api_version == "autoscaling/v1" {
        hpa_to_v1(object)
    } else if object.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1") {
        hpa_from_v1(object)
    } else {
        object.clone()
    };
    out["apiVersion"] = Value::String(api_version.to_string());
    out
}

fn hpa_to_v1(object: &Value) -> Value {
    let mut out = object.clone();
    let mut annotations = Map::new();
    if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
        let mut others = Vec::new();
        for metric in take_array(spec, "metrics") {
            match cpu_utilization(&metric, "target") {
                Some(percent) => {
                    spec.insert("targetCPUUtilizationPercentage".into(), percent);
                }
                None => others.push(metric_to_v1(&metric, Side::Spec)),
            }
        }
        if !others.is_empty() {
            annotations.insert(METRICS.into(), Value::Array(others));
        }
        if let Some(behavior) = spec.remove("behavior") {
            annotations.insert(BEHAVIOR.into(), behavior);
        }
    }
    if let Some(status) = out.get_mut("status").and_then(Value::as_object_mut) {
        let mut others = Vec::new();
        for metric in take_array(status, "currentMetrics") {
            match cpu_utilization(&metric, "current") {
                Some(percent) => {
                    status.insert("currentCPUUtilizationPercentage".into(), percent);
                }
                None => others.push(metric_to_v1(&metric, Side::Status)),
            }
        }
        if !others.is_empty() {
            annotations.insert(CURRENT_METRICS.into(), Value::Array(others));
        }
        if let Some(conditions) = status.remove("conditions") {
            annotations.insert(CONDITIONS.into(), conditions);
        }
    }
    if !annotations.is_empty() {
        let metadata = object_at(&mut out, "metadata");
        let target = object_at(metadata, "annotations");
        for (key, value) in annotations {
            target[key] = Value::String(value.to_string());
        }
    }
    out
}

fn hpa_from_v1(object: &Value) -> Value {
    let mut out = object.clone();
    let mut carried = Map::new();
    if let Some(annotations) = out
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        for key in [METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR] {
            if let Some(text) = annotations.remove(key) {
                // An annotation that does not parse is dropped, as
                // Kubernetes drops it.
                if let Some(value) = text
                    .as_str()
                    .and_then(|t| serde_json::from_str::<Value>(t).ok())
                {
                    carried.insert(key.to_string(), value);
                }
            }
        }
        if annotations.is_empty()
            && let Some(metadata) = out.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata.remove("annotations");
        }
    }
    let as_list =
        |value: Option<&Value>| value.and_then(Value::as_array).cloned().unwrap_or_default();
    let spec = object_at(&mut out, "spec");
    let mut metrics: Vec<Value> = as_list(carried.get(METRICS))
        .iter()
        .map(|m| metric_from_v1(m, Side::Spec))
        .collect();
    if let Some(map) = spec.as_object_mut() {
        if let Some(percent) = map.remove("targetCPUUtilizationPercentage") {
            metrics.push(cpu_metric("target", Some("Utilization"), percent));
        }
        if !metrics.is_empty() {
            map.insert("metrics".into(), Value::Array(metrics));
        }
        if let Some(behavior) = carried.remove(BEHAVIOR) {
            map.insert("behavior".into(), behavior);
        }
    }
    if let Some(status) = out.get_mut("status").and_then(Value::as_object_mut) {
        let mut current: Vec<Value> = as_list(carried.get(CURRENT_METRICS))
            .iter()
            .map(|m| metric_from_v1(m, Side::Status))
            .collect();
        if let Some(percent) = status.remove("currentCPUUtilizationPercentage") {
            current.push(cpu_metric("current", None, percent));
        }
        if !current.is_empty() {
            status.insert("currentMetrics".into(), Value::Array(current));
        }
        if let Some(conditions) = carried.remove(CONDITIONS) {
            status.insert("conditions".into(), conditions);
        }
    }
    out
}

/// Whether a metric is read in a spec (targets) or a status (current values).
#[derive(Clone, Copy)]
enum Side {
    Spec,
    Status,
}

impl Side {
    /// The v2 field holding the value, and the prefix of v1's names for it.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Side::Spec => ("target", "target"),
            Side::Status => ("current", "current"),
        }
    }
}

/// A v2 CPU `Resource` metric's average utilization, if that is what it is.
fn cpu_utilization(metric: &Value, field: &str) -> Option<Value> {
    let resource = metric.get("resource")?;
    (metric.get("type")? == "Resource" && resource.get("name")? == "cpu")
        .then(|| resource.get(field)?.get("averageUtilization").cloned())
        .flatten()
}

fn cpu_metric(field: &str, target_type: Option<&str>, percent: Value) -> Value {
    let mut value = json!({"averageUtilization": percent});
    if let Some(kind) = target_type {
        value["type"] = json!(kind);
    }
    json!({"type": "Resource", "resource": {"name": "cpu", field: value}})
}

/// A v2 metric in v1's annotation format.
fn metric_to_v1(metric: &Value, side: Side) -> Value {
    let (field, prefix) = side.names();
    let kind = metric
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let source_key = source_key(kind);
    let source = metric.get(source_key).cloned().unwrap_or_else(|| json!({}));
    let value = source.get(field).cloned().unwrap_or_else(|| json!({}));
    let metric_name = source.pointer("/metric/name").cloned();
    let selector = source.pointer("/metric/selector").cloned();
    let mut v1 = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            v1.insert(key.to_string(), v);
        }
    };
    let get = |key: &str| value.get(key).cloned();
    match kind {
        "Resource" | "ContainerResource" => {
            put("name", source.get("name").cloned());
            put("container", source.get("container").cloned());
            put(
                &format!("{prefix}AverageUtilization"),
                get("averageUtilization"),
            );
            put(&format!("{prefix}AverageValue"), get("averageValue"));
        }
        "Pods" => {
            put("metricName", metric_name);
            put("selector", selector);
            put(&format!("{prefix}AverageValue"), get("averageValue"));
        }
        "Object" => {
            put("target", source.get("describedObject").cloned());
            put("metricName", metric_name);
            put("selector", selector);
            put(&format!("{prefix}Value"), get("value"));
            put("averageValue", get("averageValue"));
        }
        _ => {
            put("metricName", metric_name);
            put("metricSelector", selector);
            put(&format!("{prefix}Value"), get("value"));
            put(&format!("{prefix}AverageValue"), get("averageValue"));
        }
    }
    json!({"type": kind, source_key: v1})
}

/// A metric of v1's annotation format in v2's.
fn metric_from_v1(metric: &Value, side: Side) -> Value {
    let (field, prefix) = side.names();
    let kind = metric
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let source_key = source_key(kind);
    let v1 = metric.get(source_key).cloned().unwrap_or_else(|| json!({}));
    let get = |key: &str| v1.get(key).cloned().filter(|v| !v.is_null());
    let mut value = Map::new();
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            value.insert(key.to_string(), v);
        }
    };
    let utilization = get(&format!("{prefix}AverageUtilization"));
    let average = match kind {
        "Object" => get("averageValue"),
        _ => get(&format!("{prefix}AverageValue")),
    };
    let plain = get(&format!("{prefix}Value"));
    let target_type = if utilization.is_some() {
        "Utilization"
    } else if average.is_some() || matches!(kind, "Pods" | "Resource" | "ContainerResource") {
        "AverageValue"
    } else {
        "Value"
    };
    if matches!(side, Side::Spec) {
        set("type", Some(json!(target_type)));
    }
    set("averageUtilization", utilization);
    set("averageValue", average);
    set("value", plain);
    let mut source = Map::new();
    match kind {
        "Resource" | "ContainerResource" => {
            if let Some(name) = get("name") {
                source.insert("name".into(), name);
            }
            if let Some(container) = get("container") {
                source.insert("container".into(), container);
            }
        }
        _ => {
            let selector = get(if kind == "External" {
                "metricSelector"
            } else {
                "selector"
            });
            let mut identifier = json!({"name": get("metricName").unwrap_or_else(|| json!(""))});
            if let Some(selector) = selector {
                identifier["selector"] = selector;
            }
            source.insert("metric".into(), identifier);
            if let Some(described) = get("target").filter(|_| kind == "Object") {
                source.insert("describedObject".into(), described);
            }
        }
    }
    source.insert(field.into(), Value::Object(value));
    json!({"type": kind, source_key: source})
}

/// The field of a metric that holds its source, by metric type.
fn source_key(kind: &str) -> &'static str {
    match kind {
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        "Pods" => "pods",
        "Object" => "object",
        _ => "external",
    }
}

fn take_array(map: &mut Map<String, Value>, key: &str) -> Vec<Value> {
    match map.remove(key) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// The object or map at `key`, made one if it is missing or not a map.
fn object_at<'a>(value: &'a mut Value, key: &str) -> &'a mut Value {
    if !value.get(key).is_some_and(Value::is_object) {
        value[key] = Value::Object(Map::new());
    }
    &mut value[key]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2() -> Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 60}}},
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}},
            },
            "status": {
                "currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 40, "averageValue": "120m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True"}],
            },
        })
    }

    #[test]
    fn v2_reads_as_v1_with_the_rest_in_annotations() {
        let v1 = to_version(
            &v2(),
            "autoscaling",
            "HorizontalPodAutoscaler",
            "autoscaling/v1",
        );
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert!(v1["spec"].get("metrics").is_none());
        assert!(v1["spec"].get("behavior").is_none());
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 40);
        let annotations = &v1["metadata"]["annotations"];
        let others: Value =
            serde_json::from_str(annotations[METRICS].as_str().expect("metrics")).expect("json");
        assert_eq!(
            others,
            json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
        );
        assert!(annotations[BEHAVIOR].is_string());
        assert!(annotations[CONDITIONS].is_string());
    }

    #[test]
    fn a_v1_round_trip_keeps_every_v2_field() {
        let v1 = to_version(
            &v2(),
            "autoscaling",
            "HorizontalPodAutoscaler",
            "autoscaling/v1",
        );
        let back = to_version(
            &v1,
            "autoscaling",
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
        );
        let mut expected = v2();
        // The CPU utilization current value loses its raw average, as
        // Kubernetes' conversion does.
        expected["status"]["currentMetrics"][0]["resource"]["current"] =
            json!({"averageUtilization": 40});
        assert_eq!(back, expected);
    }

    #[test]
    fn kubectl_autoscale_v1_object_is_stored_with_a_cpu_metric() {
        let v1 = json!({
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                     "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
        });
        let stored = to_version(
            &v1,
            "autoscaling",
            "HorizontalPodAutoscaler",
            "autoscaling/v2",
        );
        assert_eq!(
            stored["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}])
        );
        assert!(
            stored["spec"]
                .get("targetCPUUtilizationPercentage")
                .is_none()
        );
        assert!(stored["metadata"].get("annotations").is_none());
    }

    #[test]
    fn other_kinds_change_only_their_api_version() {
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"a": 1}});
        let out = to_version(&object, "example.com", "Widget", "example.com/v2");
        assert_eq!(
            out,
            json!({"apiVersion": "example.com/v2", "kind": "Widget", "spec": {"a": 1}})
        );
    }
}
