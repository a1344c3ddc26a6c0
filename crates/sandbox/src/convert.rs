//! Conversion between the served shapes of built-in kinds whose versions
//! or groups differ in shape, as kube-apiserver converts them:
//!
//! - autoscaling/v1 and autoscaling/v2 HorizontalPodAutoscalers (kubectl
//!   1.32's `autoscale` writes v1), stored as v2. Kubernetes' rules
//!   (`pkg/apis/autoscaling/v1/conversion.go`): a v2 CPU `Resource` metric
//!   with an `averageUtilization` target is v1's
//!   `targetCPUUtilizationPercentage` (the current one
//!   `currentCPUUtilizationPercentage`); the v2 fields v1 has no place for
//!   travel in the `autoscaling.alpha.kubernetes.io/*` annotations — other
//!   metrics in v1's older metric format, conditions, behavior — so a v1
//!   client's read-modify-write keeps them.
//! - core `v1` and `events.k8s.io/v1` Events: one set of objects, stored
//!   in the core shape, the same fields under other names (`regarding` is
//!   `involvedObject`, `note` is `message`, …), so `kubectl get events`
//!   and `kubectl describe` show what controllers record through
//!   events.k8s.io and the other way round.
//!
//! Every other kind's versions share one shape and differ only in
//! `apiVersion`.

use serde_json::{Map, Value, json};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// Where the objects of a resource served by one group are stored, when
/// that is another group's resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub group: &'static str,
    pub resource: &'static str,
    pub api_version: &'static str,
}

/// Served (group, resource) → where its objects are stored.
const SHARED_STORAGE: &[(&str, &str, Stored)] = &[(
    "events.k8s.io",
    "events",
    Stored {
        group: "",
        resource: "events",
        api_version: "v1",
    },
)];

/// Where objects of `group`'s `resource` are stored, when that is another
/// group's resource.
pub fn shared_storage(group: &str, resource: &str) -> Option<Stored> {
    SHARED_STORAGE
        .iter()
        .find(|(g, r, _)| *g == group && *r == resource)
        .map(|(_, _, stored)| *stored)
}

/// Event fields as core `v1` names them, and as events.k8s.io/v1 does.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// `object` of `kind` as `api_version` shows it.
pub fn to_version(object: &Value, kind: &str, api_version: &str) -> Value {
    let from = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out = match (kind, from, api_version) {
        (_, from, to) if from == to => object.clone(),
        ("HorizontalPodAutoscaler", _, "autoscaling/v1") => hpa_to_v1(object),
        ("HorizontalPodAutoscaler", "autoscaling/v1", _) => hpa_from_v1(object),
        ("Event", "v1", "events.k8s.io/v1") => renamed(object, true),
        ("Event", "events.k8s.io/v1", "v1") => renamed(object, false),
        _ => object.clone(),
    };
    out["apiVersion"] = Value::String(api_version.to_string());
    out
}

/// An Event with its top-level fields renamed from core's names to
/// events.k8s.io's (`to_events_api`) or back.
fn renamed(object: &Value, to_events_api: bool) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.as_object_mut() {
        for &(core, events_api) in EVENT_FIELDS {
            let (from, to) = if to_events_api {
                (core, events_api)
            } else {
                (events_api, core)
            };
            if let Some(value) = map.remove(from) {
                map.insert(to.to_string(), value);
            }
        }
    }
    out
}

/// A field selector's field for an object stored in core `v1`'s Event
/// shape: events.k8s.io's names are core's underneath.
pub fn stored_event_field(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("regarding.") {
        return format!("involvedObject.{rest}");
    }
    match field {
        "reportingController" => "reportingComponent".to_string(),
        // The core field selector `source` means the reporting component.
        "source" => "source.component".to_string(),
        other => other.to_string(),
    }
}

fn hpa_to_v1(object: &Value) -> Value {
    let mut out = object.clone();
    let mut annotations = Map::new();
    if let Some(spec) = out.get_mut("spec").and_then(Value::as_object_mut) {
        let others = cpu_to_v1(spec, Side::Spec);
        if !others.is_empty() {
            annotations.insert(METRICS.into(), Value::Array(others));
        }
        if let Some(behavior) = spec.remove("behavior") {
            annotations.insert(BEHAVIOR.into(), behavior);
        }
    }
    if let Some(status) = out.get_mut("status").and_then(Value::as_object_mut) {
        let others = cpu_to_v1(status, Side::Status);
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

/// Moves a v2 spec's (status's) metrics out of `map`: the CPU utilization
/// one into v1's field, the others returned in v1's annotation format.
fn cpu_to_v1(map: &mut Map<String, Value>, side: Side) -> Vec<Value> {
    let (list, field, cpu_field) = match side {
        Side::Spec => ("metrics", "target", "targetCPUUtilizationPercentage"),
        Side::Status => (
            "currentMetrics",
            "current",
            "currentCPUUtilizationPercentage",
        ),
    };
    let mut others = Vec::new();
    for metric in take_array(map, list) {
        match cpu_utilization(&metric, field) {
            Some(percent) => {
                map.insert(cpu_field.into(), percent);
            }
            None => others.push(metric_to_v1(&metric, side)),
        }
    }
    others
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
        let v1 = to_version(&v2(), "HorizontalPodAutoscaler", "autoscaling/v1");
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
        let v1 = to_version(&v2(), "HorizontalPodAutoscaler", "autoscaling/v1");
        let back = to_version(&v1, "HorizontalPodAutoscaler", "autoscaling/v2");
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
        let stored = to_version(&v1, "HorizontalPodAutoscaler", "autoscaling/v2");
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
    fn core_and_events_api_events_are_one_object_under_two_names() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "default"},
            "reason": "ScalingReplicaSet", "message": "Scaled up", "type": "Normal",
            "source": {"component": "deployment-controller"},
            "firstTimestamp": "2026-12-05T10:00:00Z", "lastTimestamp": "2026-12-05T10:01:00Z",
            "count": 2, "reportingComponent": "deployment-controller", "reportingInstance": "",
        });
        let new = to_version(&core, "Event", "events.k8s.io/v1");
        assert_eq!(new["regarding"]["name"], "web");
        assert_eq!(new["note"], "Scaled up");
        assert_eq!(new["deprecatedCount"], 2);
        assert_eq!(new["reportingController"], "deployment-controller");
        assert_eq!(
            new["deprecatedSource"]["component"],
            "deployment-controller"
        );
        assert!(new.get("involvedObject").is_none() && new.get("message").is_none());
        assert_eq!(to_version(&new, "Event", "v1"), core);
        assert_eq!(stored_event_field("regarding.name"), "involvedObject.name");
        assert_eq!(
            stored_event_field("reportingController"),
            "reportingComponent"
        );
        assert_eq!(stored_event_field("reason"), "reason");
        assert_eq!(
            shared_storage("events.k8s.io", "events").map(|s| (s.group, s.resource)),
            Some(("", "events"))
        );
        assert_eq!(shared_storage("", "events"), None);
    }

    #[test]
    fn other_kinds_change_only_their_api_version() {
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"a": 1}});
        let out = to_version(&object, "Widget", "example.com/v2");
        assert_eq!(
            out,
            json!({"apiVersion": "example.com/v2", "kind": "Widget", "spec": {"a": 1}})
        );
    }
}
