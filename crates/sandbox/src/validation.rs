//! The validation a real API server does that GitOps tools depend on:
//! object names, label keys and values, workload selectors, pod template
//! restart policies (Jobs may not restart `Always`), and immutable
//! fields (whose 422 "field is immutable" drives Flux's force-recreate).
//! It is not full schema validation: unknown fields are stored as given.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::catalog::ResourceType;
use crate::status::ApiError;

static DNS1123_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));
static DNS1123_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .expect("static regex")
});
static DNS1035_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));
static LABEL_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").expect("static regex")
});
static QUALIFIED_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("static regex")
});

type Causes = Vec<(String, String)>;

fn check_name(rt: &ResourceType, name: &str, causes: &mut Causes) {
    let field = "metadata.name".to_string();
    if name.is_empty() {
        causes.push((
            field,
            "Required value: name or generateName is required".into(),
        ));
        return;
    }
    let (ok, rule) = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => (
            name.len() <= 63 && DNS1123_LABEL.is_match(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ),
        ("", "services") => (
            name.len() <= 63 && DNS1035_LABEL.is_match(name),
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        ),
        // RBAC names are path segments, so only these are refused.
        ("rbac.authorization.k8s.io", _) => (
            !name.contains('/') && !name.contains('%') && name != "." && name != "..",
            "may not contain '/' or '%', and may not be '.' or '..'",
        ),
        _ => (
            name.len() <= 253 && DNS1123_SUBDOMAIN.is_match(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
    };
    if !ok {
        causes.push((field, format!("Invalid value: \"{name}\": {rule}")));
    }
}

fn valid_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    prefix.is_none_or(|p| p.len() <= 253 && DNS1123_SUBDOMAIN.is_match(p))
        && name.len() <= 63
        && QUALIFIED_NAME.is_match(name)
}

fn check_labels(object: &Value, causes: &mut Causes) {
    let Some(labels) = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    else {
        return;
    };
    for (key, value) in labels {
        if !valid_label_key(key) {
            causes.push((
                "metadata.labels".into(),
                format!("Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
            ));
        }
        match value.as_str() {
            Some(v) if v.len() <= 63 && LABEL_VALUE.is_match(v) => {}
            Some(v) => causes.push((
                "metadata.labels".into(),
                format!("Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
            )),
            None => causes.push((
                format!("metadata.labels.{key}"),
                "Invalid value: label values must be strings".into(),
            )),
        }
    }
}

fn is_workload(rt: &ResourceType) -> bool {
    rt.group == "apps"
        && matches!(
            rt.kind.as_str(),
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        )
}

fn check_workload(object: &Value, causes: &mut Causes) {
    let selector = object.pointer("/spec/selector");
    let match_labels = selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object);
    if selector.is_none_or(Value::is_null) {
        causes.push(("spec.selector".into(), "Required value".into()));
    }
    let template_labels = object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    if let Some(wanted) = match_labels {
        let matches = wanted
            .iter()
            .all(|(k, v)| template_labels.and_then(|l| l.get(k)) == Some(v));
        if !matches {
            causes.push((
                "spec.template.metadata.labels".into(),
                "Invalid value: `selector` does not match template `labels`".into(),
            ));
        }
    }
    check_containers(
        object.pointer("/spec/template/spec/containers"),
        "spec.template.spec.containers",
        causes,
    );
}

/// A pod template's `restartPolicy` (defaulted to `Always` before this
/// runs) must be one the controller supports: Jobs never restart `Always`.
fn check_restart_policy(object: &Value, spec: &str, supported: &[&str], causes: &mut Causes) {
    let pointer = format!("/{}/restartPolicy", spec.replace('.', "/"));
    let Some(policy) = object.pointer(&pointer).and_then(Value::as_str) else {
        return;
    };
    if !supported.contains(&policy) {
        let quoted: Vec<String> = supported.iter().map(|v| format!("\"{v}\"")).collect();
        causes.push((
            format!("{spec}.restartPolicy"),
            format!(
                "Unsupported value: \"{policy}\": supported values: {}",
                quoted.join(", ")
            ),
        ));
    }
}

fn check_containers(containers: Option<&Value>, field: &str, causes: &mut Causes) {
    match containers.and_then(Value::as_array) {
        Some(list) if !list.is_empty() => {
            for (i, c) in list.iter().enumerate() {
                if c.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push((format!("{field}[{i}].name"), "Required value".into()));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push((format!("{field}[{i}].image"), "Required value".into()));
                }
            }
        }
        _ => causes.push((field.into(), "Required value".into())),
    }
}

/// Checks a complete object about to be stored.
pub fn validate(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    check_string_maps(rt, object)?;
    let mut causes = Causes::new();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    check_name(rt, name, &mut causes);
    check_labels(object, &mut causes);
    if is_workload(rt) {
        check_workload(object, &mut causes);
        check_restart_policy(object, "spec.template.spec", &["Always"], &mut causes);
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("batch", "Job") => {
            check_containers(
                object.pointer("/spec/template/spec/containers"),
                "spec.template.spec.containers",
                &mut causes,
            );
            check_restart_policy(
                object,
                "spec.template.spec",
                &["OnFailure", "Never"],
                &mut causes,
            );
        }
        ("batch", "CronJob") => check_restart_policy(
            object,
            "spec.jobTemplate.spec.template.spec",
            &["OnFailure", "Never"],
            &mut causes,
        ),
        _ => {}
    }
    if rt.group.is_empty() && rt.kind == "Pod" {
        check_containers(
            object.pointer("/spec/containers"),
            "spec.containers",
            &mut causes,
        );
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.kind, &rt.group, name, &causes))
    }
}

/// ConfigMap and Secret data are `map[string]string` in Go: any other value
/// fails to decode, which a real server answers with 400 BadRequest, the
/// wording below following its message. (Post-build substitution can turn
/// `port: ${PORT}` into a number; this is where such a manifest fails.)
fn check_string_maps(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let fields: &[&str] = match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "ConfigMap") => &["data"],
        ("", "Secret") => &["data", "stringData"],
        _ => return Ok(()),
    };
    for field in fields {
        let Some(map) = object.get(*field).and_then(Value::as_object) else {
            continue;
        };
        if let Some((key, value)) = map.iter().find(|(_, v)| !v.is_string()) {
            let found = match value {
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                Value::Null | Value::String(_) => "null",
            };
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"v1\" cannot be handled as a {kind}: json: cannot unmarshal {found} into Go struct field {kind}.{field} of type string (key {key:?})",
                kind = rt.kind
            )));
        }
    }
    Ok(())
}

/// Refuses changes to fields Kubernetes never lets change after creation.
pub fn check_immutable(rt: &ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    let mut pointers: Vec<&str> = Vec::new();
    if is_workload(rt) {
        pointers.push("/spec/selector");
    }
    if rt.group == "batch" && rt.kind == "Job" {
        pointers.extend(["/spec/selector", "/spec/template", "/spec/completions"]);
    }
    if rt.group.is_empty() && rt.kind == "Service" && old.pointer("/spec/clusterIP").is_some() {
        pointers.push("/spec/clusterIP");
    }
    if rt.group.is_empty()
        && matches!(rt.kind.as_str(), "ConfigMap" | "Secret")
        && old.get("immutable").and_then(Value::as_bool) == Some(true)
    {
        pointers.extend(["/data", "/binaryData", "/stringData", "/immutable"]);
    }
    if rt.group == "rbac.authorization.k8s.io"
        && matches!(rt.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
    {
        pointers.push("/roleRef");
    }
    let causes: Causes = pointers
        .into_iter()
        .filter(|p| old.pointer(p) != new.pointer(p))
        .map(|p| {
            let field = p.trim_start_matches('/').replace('/', ".");
            let value = new
                .pointer(p)
                .map_or_else(|| "null".into(), Value::to_string);
            (field, format!("Invalid value: {value}: field is immutable"))
        })
        .collect();
    if causes.is_empty() {
        Ok(())
    } else {
        let name = new
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        Err(ApiError::invalid(&rt.kind, &rt.group, name, &causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use serde_json::json;

    fn rt(group: &str, version: &str, plural: &str) -> std::sync::Arc<ResourceType> {
        Catalog::default()
            .lookup(group, version, plural)
            .expect("builtin")
    }

    #[test]
    fn configmap_and_secret_data_must_be_strings() {
        let cm = rt("", "v1", "configmaps");
        let good = json!({"metadata": {"name": "a"}, "data": {"port": "80"}});
        assert!(validate(&cm, &good).is_ok());
        let bad = json!({"metadata": {"name": "a"}, "data": {"port": 80}});
        let err = validate(&cm, &bad).expect_err("a number is refused");
        assert_eq!(err.code, 400);
        assert!(
            err.message.contains("cannot unmarshal number") && err.message.contains("\"port\""),
            "{}",
            err.message
        );
        let secret = rt("", "v1", "secrets");
        assert!(
            validate(
                &secret,
                &json!({"metadata": {"name": "s"}, "stringData": {"on": true}})
            )
            .is_err()
        );
    }

    #[test]
    fn names_follow_the_kind_rules() {
        let cm = rt("", "v1", "configmaps");
        assert!(validate(&cm, &json!({"metadata": {"name": "a.b-c"}})).is_ok());
        let err = validate(&cm, &json!({"metadata": {"name": "Bad_Name"}})).expect_err("invalid");
        assert_eq!(err.code, 422);
        assert!(
            err.message
                .contains("metadata.name: Invalid value: \"Bad_Name\""),
            "{}",
            err.message
        );
        let ns = rt("", "v1", "namespaces");
        assert!(validate(&ns, &json!({"metadata": {"name": "a.b"}})).is_err());
        let svc = rt("", "v1", "services");
        assert!(validate(&svc, &json!({"metadata": {"name": "1abc"}})).is_err());
        let role = rt("rbac.authorization.k8s.io", "v1", "clusterroles");
        assert!(validate(&role, &json!({"metadata": {"name": "system:controller"}})).is_ok());
    }

    #[test]
    fn deployment_selector_must_match_and_is_immutable() {
        let deploy = rt("apps", "v1", "deployments");
        let good = json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        }});
        assert!(validate(&deploy, &good).is_ok());
        let mut mismatched = good.clone();
        mismatched["spec"]["template"]["metadata"]["labels"]["app"] = json!("db");
        assert!(validate(&deploy, &mismatched).is_err());
        let mut changed = good.clone();
        changed["spec"]["selector"]["matchLabels"]["app"] = json!("other");
        let err = check_immutable(&deploy, &good, &changed).expect_err("immutable");
        assert!(err.message.contains("spec.selector"), "{}", err.message);
        assert!(
            err.message.contains("field is immutable"),
            "{}",
            err.message
        );
    }

    #[test]
    fn label_values_are_checked() {
        let cm = rt("", "v1", "configmaps");
        let err = validate(
            &cm,
            &json!({"metadata": {"name": "x", "labels": {"app": "not valid!"}}}),
        )
        .expect_err("bad label");
        assert!(err.message.contains("metadata.labels"), "{}", err.message);
    }
}
