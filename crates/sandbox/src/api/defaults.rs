//! What a real API server fills in itself that clients rely on: Service,
//! workload and pod spec defaults, Secret `stringData`, namespace phase and
//! label, CRD status conditions.

use super::*;

/// Sets `protocol: TCP` on ports that name none, as the API server's defaulting does.
pub(super) fn default_port_protocols(ports: Option<&mut Value>) {
    if let Some(Value::Array(ports)) = ports {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
        }
    }
}

/// Sets `key` in a JSON object unless it is already there.
pub(super) fn default_field(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.entry(key).or_insert(value);
    }
}

/// `Always` for `:latest` or untagged images, else `IfNotPresent`.
pub(super) fn image_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':').map(|(_, tag)| tag) {
        Some("latest") => "Always",
        None if !digest => "Always",
        _ => "IfNotPresent",
    }
}

/// The pod spec defaults a real server writes into Pods and workload
/// templates. `restartPolicy` defaults to `Always` even in Job templates,
/// where validation then rejects it, as a real server does.
pub(super) fn default_pod_spec(spec: Option<&mut Value>) {
    let Some(spec) = spec.filter(|s| s.is_object()) else {
        return;
    };
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for container in containers.iter_mut().filter(|c| c.is_object()) {
                default_port_protocols(container.get_mut("ports"));
                let image = container.get("image").and_then(Value::as_str);
                let pull = image_pull_policy(image.unwrap_or_default());
                default_field(container, "imagePullPolicy", json!(pull));
                default_field(container, "resources", json!({}));
                default_field(
                    container,
                    "terminationMessagePath",
                    json!("/dev/termination-log"),
                );
                default_field(container, "terminationMessagePolicy", json!("File"));
            }
        }
    }
    default_field(spec, "restartPolicy", json!("Always"));
    default_field(spec, "dnsPolicy", json!("ClusterFirst"));
    default_field(spec, "schedulerName", json!("default-scheduler"));
    default_field(spec, "securityContext", json!({}));
    default_field(spec, "terminationGracePeriodSeconds", json!(30));
}

/// A rolling update strategy's defaults, when the type is (or defaults to)
/// `RollingUpdate`.
pub(super) fn default_rolling_update(strategy: &mut Value, rolling_update: Value) {
    default_field(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type") == Some(&json!("RollingUpdate")) {
        default_field(strategy, "rollingUpdate", json!({}));
        if let (Some(given), Value::Object(defaults)) =
            (strategy.get_mut("rollingUpdate"), rolling_update)
        {
            for (key, value) in defaults {
                default_field(given, &key, value);
            }
        }
    }
}

/// The workload spec defaults of apps/v1 and batch/v1 (replicas, history
/// limits, update strategies, Job completions and CronJob policies).
pub(super) fn default_workload(kind: &str, object: &mut Value) {
    let Some(spec) = object.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    match kind {
        "Deployment" => {
            default_field(spec, "replicas", json!(1));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "progressDeadlineSeconds", json!(600));
            default_field(spec, "strategy", json!({}));
            if let Some(strategy) = spec.get_mut("strategy") {
                default_rolling_update(
                    strategy,
                    json!({"maxUnavailable": "25%", "maxSurge": "25%"}),
                );
            }
        }
        "StatefulSet" => {
            default_field(spec, "replicas", json!(1));
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "podManagementPolicy", json!("OrderedReady"));
            default_field(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            default_field(spec, "updateStrategy", json!({}));
            if let Some(strategy) = spec.get_mut("updateStrategy") {
                default_rolling_update(strategy, json!({"partition": 0}));
            }
        }
        "DaemonSet" => {
            default_field(spec, "revisionHistoryLimit", json!(10));
            default_field(spec, "updateStrategy", json!({}));
            if let Some(strategy) = spec.get_mut("updateStrategy") {
                default_rolling_update(strategy, json!({"maxUnavailable": 1, "maxSurge": 0}));
            }
        }
        "ReplicaSet" => default_field(spec, "replicas", json!(1)),
        "Job" => {
            if spec.get("completions").is_none() && spec.get("parallelism").is_none() {
                default_field(spec, "completions", json!(1));
            }
            default_field(spec, "parallelism", json!(1));
            default_field(spec, "backoffLimit", json!(6));
            default_field(spec, "completionMode", json!("NonIndexed"));
            default_field(spec, "suspend", json!(false));
            let replacement = if spec.get("podFailurePolicy").is_some() {
                "Failed"
            } else {
                "TerminatingOrFailed"
            };
            default_field(spec, "podReplacementPolicy", json!(replacement));
        }
        "CronJob" => {
            default_field(spec, "concurrencyPolicy", json!("Allow"));
            default_field(spec, "suspend", json!(false));
            default_field(spec, "successfulJobsHistoryLimit", json!(3));
            default_field(spec, "failedJobsHistoryLimit", json!(1));
        }
        _ => {}
    }
}

/// The label a Job's selector matches, and that its Pods carry.
const JOB_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The label naming a Job on its Pods.
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// A Job's selector and template labels, as kube-apiserver generates them
/// unless `manualSelector` is set: the selector matches the Job's uid, and
/// the template carries it and the Job's name under both the
/// `batch.kubernetes.io/` keys and the legacy bare ones. Existing values
/// are kept, so an update that omits them (the selector is immutable)
/// keeps those of the create.
fn default_job_selector(job: &mut Value) {
    if job.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let uid = job.pointer("/metadata/uid").cloned().unwrap_or(json!(""));
    let name = job.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let Some(spec) = job.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    default_field(
        spec,
        "selector",
        json!({"matchLabels": {JOB_UID_LABEL: uid}}),
    );
    default_field(spec, "template", json!({}));
    let template = &mut spec["template"];
    default_field(template, "metadata", json!({}));
    let metadata = &mut template["metadata"];
    default_field(metadata, "labels", json!({}));
    let labels = &mut metadata["labels"];
    for (key, value) in [
        (JOB_UID_LABEL, &uid),
        (JOB_NAME_LABEL, &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        default_field(labels, key, value.clone());
    }
}

/// Folds a Secret's write-only `stringData` into `data` (base64, winning
/// over `data` keys of the same name) as the API server does: `stringData`
/// is never stored or returned.
pub(super) fn merge_string_data(secret: &mut Value) {
    let Some(Value::Object(strings)) = secret.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    if !secret.get("data").is_some_and(Value::is_object) {
        secret["data"] = json!({});
    }
    if let Some(data) = secret.get_mut("data").and_then(Value::as_object_mut) {
        for (key, value) in strings {
            if let Value::String(text) = value {
                let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                data.insert(key, Value::String(encoded));
            }
        }
    }
}

/// A Service's defaults: type, session affinity, IP family fields, target
/// ports, and a cluster IP from 10.96.0.0/12 (kept from the old object on
/// updates that leave it out, as the API server does). No IP is checked for
/// uniqueness: nothing routes traffic here.
pub(super) fn default_service(old: Option<&Value>, service: &mut Value) {
    if !service.get("spec").is_some_and(Value::is_object) {
        service["spec"] = json!({});
    }
    let old_spec = old.and_then(|o| o.get("spec"));
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    default_port_protocols(spec.get_mut("ports"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(number) = port.get("port").cloned() {
                port.entry("targetPort").or_insert(number);
            }
        }
    }
    let service_type = spec
        .entry("type")
        .or_insert_with(|| json!("ClusterIP"))
        .as_str()
        .unwrap_or_default()
        .to_string();
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    if service_type == "ExternalName" {
        return;
    }
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| json!("Cluster"));
    for field in ["clusterIP", "clusterIPs"] {
        if let Some(kept) = old_spec.and_then(|s| s.get(field))
            && spec
                .get(field)
                .is_none_or(|v| v.is_null() || *v == json!(""))
        {
            spec.insert(field.into(), kept.clone());
        }
    }
    let cluster_ip = match spec.get("clusterIP").and_then(Value::as_str) {
        Some(ip) if !ip.is_empty() => ip.to_string(),
        _ => {
            let n: u32 = rand::rng().random_range(2..(1 << 20));
            let ip = format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff);
            spec.insert("clusterIP".into(), json!(ip));
            ip
        }
    };
    spec.entry("clusterIPs")
        .or_insert_with(|| json!([cluster_ip]));
    spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
    spec.entry("ipFamilyPolicy")
        .or_insert_with(|| json!("SingleStack"));
}

/// What a real server fills in itself that clients rely on: namespace
/// phase and name label, Secret type, port protocols.
pub(super) fn server_defaults(rt: &ResourceType, old: Option<&Value>, object: &mut Value) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Secret") => {
            if object.get("type").is_none_or(Value::is_null) {
                object["type"] = json!("Opaque");
            }
            merge_string_data(object);
        }
        ("", "Service") => default_service(old, object),
        ("", "Pod") => default_pod_spec(object.get_mut("spec")),
        ("apps", kind) => {
            default_workload(kind, object);
            default_pod_spec(object.pointer_mut("/spec/template/spec"));
        }
        ("batch", "Job") => {
            default_workload("Job", object);
            default_job_selector(object);
            default_pod_spec(object.pointer_mut("/spec/template/spec"));
        }
        ("batch", "CronJob") => {
            default_workload("CronJob", object);
            default_pod_spec(object.pointer_mut("/spec/jobTemplate/spec/template/spec"));
        }
        _ => {}
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        let name = name_of(object).to_string();
        let labels = metadata_mut(object)
            .entry("labels")
            .or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
        }
        if object
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .is_none()
        {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        object["status"] = match old.filter(|o| is_terminating(o)) {
            // The namespace controller's conditions say what holds it.
            Some(old) => {
                let mut status = json!({"phase": "Terminating"});
                if let Some(conditions) = old.pointer("/status/conditions") {
                    status["conditions"] = conditions.clone();
                }
                status
            }
            None => json!({"phase": "Active"}),
        };
    }
}

pub(super) fn crd_status(crd: &mut Value, rt: &ResourceType) {
    let established_at = crd
        .pointer("/status/conditions/0/lastTransitionTime")
        .cloned()
        .unwrap_or_else(|| {
            crd.pointer("/metadata/creationTimestamp")
                .cloned()
                .unwrap_or(Value::Null)
        });
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": established_at, "reason": reason, "message": message});
    let mut stored: Vec<Value> = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let storage = Value::String(rt.versions[0].clone());
    if !stored.contains(&storage) {
        stored.push(storage);
    }
    crd["status"] = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": crd.pointer("/spec/names").cloned().unwrap_or(Value::Null),
        "storedVersions": stored,
    });
}
