//! Name references: when an object was renamed (prefix, suffix, hash), the
//! fields of other objects that named it by an earlier name follow it.

use crate::error::BuildError;
use crate::fieldspec::{FieldSpec, NameRef, TransformerConfig, fs};
use crate::resource::{Resource, norm_ns};
use crate::yaml::{Map, Value};
use std::path::Path;

const POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("PodTemplate", "template/spec"),
];

fn pod(paths: &[&str]) -> Vec<FieldSpec> {
    let mut v = Vec::new();
    for (kind, prefix) in POD_SPECS {
        for p in paths {
            v.push(fs(kind, &format!("{prefix}/{p}"), false));
        }
    }
    v
}

fn rule(kind: &str, referrers: Vec<FieldSpec>) -> NameRef {
    NameRef {
        kind: kind.into(),
        group: String::new(),
        referrers,
    }
}

/// Kustomize's default name-reference table (the common part of it).
pub fn defaults() -> Vec<NameRef> {
    let mut cm = pod(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    cm.push(fs(
        "ValidatingAdmissionPolicyBinding",
        "spec/paramRef/name",
        false,
    ));
    cm.push(fs("Role", "rules/resourceNames", false));
    cm.push(fs("ClusterRole", "rules/resourceNames", false));
    let mut secret = pod(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        fs("ServiceAccount", "imagePullSecrets/name", false),
        fs("ServiceAccount", "secrets/name", false),
        fs("Ingress", "spec/tls/secretName", false),
        fs("StorageClass", "parameters/secretName", false),
        fs("Role", "rules/resourceNames", false),
        fs("ClusterRole", "rules/resourceNames", false),
    ]);
    let service = vec![
        fs(
            "Ingress",
            "spec/rules/http/paths/backend/serviceName",
            false,
        ),
        fs("Ingress", "spec/backend/serviceName", false),
        fs(
            "Ingress",
            "spec/rules/http/paths/backend/service/name",
            false,
        ),
        fs("Ingress", "spec/defaultBackend/service/name", false),
        fs("StatefulSet", "spec/serviceName", false),
        fs("APIService", "spec/service/name", false),
        fs(
            "MutatingWebhookConfiguration",
            "webhooks/clientConfig/service/name",
            false,
        ),
        fs(
            "ValidatingWebhookConfiguration",
            "webhooks/clientConfig/service/name",
            false,
        ),
    ];
    let mut sa = pod(&["serviceAccountName", "serviceAccount"]);
    sa.extend([
        fs("RoleBinding", "subjects/name", false),
        fs("ClusterRoleBinding", "subjects/name", false),
    ]);
    let hpa = || {
        vec![fs(
            "HorizontalPodAutoscaler",
            "spec/scaleTargetRef/name",
            false,
        )]
    };
    vec![
        rule("ConfigMap", cm),
        rule("Secret", secret),
        rule("Service", service),
        rule("Role", vec![fs("RoleBinding", "roleRef/name", false)]),
        rule(
            "ClusterRole",
            vec![
                fs("RoleBinding", "roleRef/name", false),
                fs("ClusterRoleBinding", "roleRef/name", false),
            ],
        ),
        rule("ServiceAccount", sa),
        rule(
            "PersistentVolumeClaim",
            pod(&["volumes/persistentVolumeClaim/claimName"]),
        ),
        rule(
            "PersistentVolume",
            vec![fs("PersistentVolumeClaim", "spec/volumeName", false)],
        ),
        rule("PriorityClass", pod(&["priorityClassName"])),
        rule(
            "StorageClass",
            vec![
                fs("PersistentVolumeClaim", "spec/storageClassName", false),
                fs("PersistentVolume", "spec/storageClassName", false),
                fs(
                    "StatefulSet",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                    false,
                ),
            ],
        ),
        rule("Deployment", hpa()),
        rule("StatefulSet", hpa()),
        rule("ReplicaSet", hpa()),
        rule("ReplicationController", hpa()),
        rule(
            "ValidatingAdmissionPolicy",
            vec![fs(
                "ValidatingAdmissionPolicyBinding",
                "spec/policyName",
                false,
            )],
        ),
    ]
}

/// Visits the mappings that hold the last key of `path`.
fn visit_parents(v: &mut Value, path: &[String], f: &mut dyn FnMut(&mut Map, &str)) {
    match v {
        Value::Seq(items) => {
            for it in items {
                visit_parents(it, path, f);
            }
        }
        Value::Map(m) => {
            if path.len() == 1 {
                f(m, &path[0]);
            } else if let Some(child) = m.get_mut(&path[0]) {
                visit_parents(child, &path[1..], f);
            }
        }
        _ => {}
    }
}

/// Updates every reference to a renamed object.
pub fn fix(
    resources: &mut [Resource],
    config: &TransformerConfig,
    file: &Path,
) -> Result<(), BuildError> {
    let mut rules = defaults();
    rules.extend(config.name_refs.iter().cloned());
    // Snapshot of the targets: (kind, group, names, namespaces, current name, namespace, cluster).
    struct Cand {
        kind: String,
        group: String,
        names: Vec<String>,
        namespaces: Vec<String>,
        name: String,
        ns: String,
        id: String,
        prefixes: Vec<String>,
        suffixes: Vec<String>,
        changed: bool,
    }
    let cands: Vec<Cand> = resources
        .iter()
        .map(|r| Cand {
            kind: r.kind().into(),
            group: r.gvk().group,
            names: r.all_names().map(str::to_string).collect(),
            namespaces: r.all_namespaces().map(str::to_string).collect(),
            name: r.name().into(),
            ns: r.namespace().into(),
            id: r.id_string(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            changed: !r.prev_names.is_empty(),
        })
        .collect();
    let mut by_name: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (i, c) in cands.iter().enumerate() {
        let mut seen: Vec<&str> = Vec::new();
        for n in &c.names {
            if !seen.contains(&n.as_str()) {
                seen.push(n);
                by_name.entry(n.as_str()).or_default().push(i);
            }
        }
    }
    let mut err: Option<String> = None;
    for r in resources.iter_mut() {
        let r_ns = norm_ns(r.namespace()).to_string();
        let r_cluster = r.gvk().is_cluster_scoped();
        let (r_prefixes, r_suffixes) = (r.prefixes.clone(), r.suffixes.clone());
        for rule in &rules {
            for spec in &rule.referrers {
                if !spec.applies_to(r) {
                    continue;
                }
                visit_parents(&mut r.obj, &spec.path, &mut |parent, key| {
                    if let Some(k) = parent.get("kind").and_then(Value::as_str)
                        && k != rule.kind
                        && spec.path.len() > 1
                    {
                        return;
                    }
                    let subject_ns = parent
                        .get("namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    if spec.path.first().map(String::as_str) == Some("subjects")
                        && parent.get("namespace") == Some(&Value::Null)
                        && err.is_none()
                    {
                        err = Some("Invalid Input: namespace is blank for resource".to_string());
                        return;
                    }
                    let mut pick = |val: &str| -> Option<(String, String)> {
                        let mut chosen: Vec<&Cand> = by_name
                            .get(val)
                            .map(Vec::as_slice)
                            .unwrap_or(&[])
                            .iter()
                            .map(|&i| &cands[i])
                            .filter(|c| {
                                c.kind == rule.kind
                                    && (rule.group.is_empty() || rule.group == c.group)
                                    && c.names.iter().any(|n| n == val)
                            })
                            .collect();
                        let cluster = crate::resource::CLUSTER_SCOPED.contains(&rule.kind.as_str());
                        type Sieve<'a> = Box<dyn Fn(&&Cand) -> bool + 'a>;
                        let sieves: Vec<Sieve> = vec![
                            Box::new(|c: &&Cand| {
                                if cluster {
                                    return true;
                                }
                                match &subject_ns {
                                    Some(sns) => {
                                        norm_ns(&c.ns) == norm_ns(sns)
                                            || c.namespaces
                                                .iter()
                                                .any(|n| norm_ns(n) == norm_ns(sns))
                                    }
                                    None => r_cluster || norm_ns(&c.ns) == r_ns,
                                }
                            }),
                            Box::new(|c: &&Cand| {
                                same_ending(&c.prefixes, &r_prefixes)
                                    && same_ending(&c.suffixes, &r_suffixes)
                            }),
                            // Last resort: the one that was renamed or moved.
                            Box::new(|c: &&Cand| c.changed),
                        ];
                        for sieve in &sieves {
                            if chosen.len() <= 1 {
                                break;
                            }
                            chosen.retain(|c| sieve(c));
                        }
                        if chosen.len() == 1 && !cluster {
                            // A single candidate must still be in a compatible namespace.
                            let c = chosen[0];
                            let ok = match &subject_ns {
                                Some(sns) => {
                                    c.namespaces.iter().any(|n| norm_ns(n) == norm_ns(sns))
                                }
                                None => {
                                    r_cluster || c.namespaces.iter().any(|n| norm_ns(n) == r_ns)
                                }
                            };
                            if !ok {
                                return None;
                            }
                        }
                        let first = match chosen.as_slice() {
                            [] => return None,
                            [one] => *one,
                            many => {
                                if err.is_none() {
                                    let ids: Vec<&str> =
                                        many.iter().map(|c| c.id.as_str()).collect();
                                    err = Some(format!(
                                        "found multiple possible referrals: {}",
                                        ids.join(", ")
                                    ));
                                }
                                return None;
                            }
                        };
                        Some((first.name.clone(), first.ns.clone()))
                    };
                    match parent.get(key) {
                        Some(Value::Str(val)) => {
                            let val = val.clone();
                            if let Some((name, ns)) = pick(&val) {
                                parent.insert(key.to_string(), Value::Str(name));
                                if (spec.path.first().map(String::as_str) == Some("subjects")
                                    || parent.contains_key("namespace"))
                                    && !ns.is_empty()
                                {
                                    parent.insert("namespace".into(), Value::Str(ns));
                                }
                            }
                        }
                        Some(Value::Seq(items)) if key == "resourceNames" => {
                            let plural = format!("{}s", rule.kind.to_lowercase());
                            let applies = parent
                                .get("resources")
                                .and_then(Value::as_seq)
                                .is_some_and(|r| {
                                    r.iter().any(|x| x.as_str() == Some(plural.as_str()))
                                });
                            let _ = applies;
                            let mut items = items.clone();
                            for it in &mut items {
                                if let Value::Str(v) = it
                                    && let Some((name, _)) = pick(v)
                                {
                                    *v = name;
                                }
                            }
                            parent.insert(key.to_string(), Value::Seq(items));
                        }
                        _ => {}
                    }
                });
            }
        }
    }
    match err {
        Some(message) => Err(BuildError::Resources {
            file: file.to_path_buf(),
            message,
        }),
        None => Ok(()),
    }
}

/// Whether the shorter list is the ending of the longer (two empty lists
/// match; an empty and a non-empty one do not).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}
