//! Name references: when an object was renamed (prefix, suffix, hash,
//! namespace move), the fields of other objects that named it by an
//! earlier name follow it.
//!
//! The choice of the object a reference means follows Kustomize's sieve:
//! candidates are the objects the referrer may see (same namespace,
//! cluster-scoped, or a RoleBinding's subjects' namespaces) that had the
//! referenced name as an *earlier* id, of the target kind (for `roleRef`,
//! of the kind the roleRef names), in the referrer's namespace; when more
//! than one remains, the one whose name prefixes and suffixes match the
//! referrer's. Several candidates with one and the same name are fine;
//! different ones are an error.

use crate::error::BuildError;
use crate::fieldspec::{FieldSpec, NameRef, TransformerConfig, split_fieldspec_path};
use crate::resource::{Gvk, Resource};
use crate::yaml::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The workload kinds and where their pod spec is.
const POD_SPECS: &[(&str, &str)] = &[
    ("Pod", "spec"),
    ("PodTemplate", "template/spec"),
    ("Deployment", "spec/template/spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("ReplicationController", "spec/template/spec"),
];

/// Kinds whose pod specs refer to ConfigMaps and Secrets.
const CONFIG_REFERRERS: &[&str] = &[
    "Pod",
    "PodTemplate",
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
];

/// Kinds whose pod specs refer to service accounts, claims and priority classes.
const POD_REFERRERS: &[&str] = &[
    "Pod",
    "StatefulSet",
    "Deployment",
    "ReplicationController",
    "CronJob",
    "Job",
    "DaemonSet",
];

fn spec(kind: &str, group: &str, path: &str) -> FieldSpec {
    FieldSpec {
        group: group.into(),
        kind: kind.into(),
        path: split_fieldspec_path(path),
        create: false,
    }
}

/// `paths` below the pod spec of each of `kinds`.
fn in_pods(kinds: &[&str], paths: &[&str]) -> Vec<FieldSpec> {
    let mut v = Vec::new();
    for (kind, prefix) in POD_SPECS.iter().filter(|(k, _)| kinds.contains(k)) {
        for p in paths {
            v.push(spec(kind, "", &format!("{prefix}/{p}")));
        }
    }
    v
}

fn rule(kind: &str, group: &str, version: &str, referrers: Vec<FieldSpec>) -> NameRef {
    NameRef {
        kind: kind.into(),
        group: group.into(),
        version: version.into(),
        referrers,
    }
}

/// Kustomize's default name-reference table.
pub fn defaults() -> Vec<NameRef> {
    let hpa = || {
        vec![spec(
            "HorizontalPodAutoscaler",
            "",
            "spec/scaleTargetRef/name",
        )]
    };
    let mut config_map = in_pods(
        CONFIG_REFERRERS,
        &[
            "volumes/configMap/name",
            "containers/env/valueFrom/configMapKeyRef/name",
            "initContainers/env/valueFrom/configMapKeyRef/name",
            "containers/envFrom/configMapRef/name",
            "initContainers/envFrom/configMapRef/name",
            "volumes/projected/sources/configMap/name",
        ],
    );
    config_map.extend([
        spec("Node", "", "spec/configSource/configMap"),
        spec("Role", "", "rules/resourceNames"),
        spec("ClusterRole", "", "rules/resourceNames"),
        spec(
            "Ingress",
            "",
            r"metadata/annotations/nginx.ingress.kubernetes.io\/fastcgi-params-configmap",
        ),
    ]);
    let mut secret = in_pods(
        CONFIG_REFERRERS,
        &[
            "volumes/secret/secretName",
            "containers/env/valueFrom/secretKeyRef/name",
            "initContainers/env/valueFrom/secretKeyRef/name",
            "containers/envFrom/secretRef/name",
            "initContainers/envFrom/secretRef/name",
            "imagePullSecrets/name",
            "volumes/projected/sources/secret/name",
        ],
    );
    secret.extend([
        spec("Ingress", "", "spec/tls/secretName"),
        spec(
            "Ingress",
            "",
            r"metadata/annotations/ingress.kubernetes.io\/auth-secret",
        ),
        spec(
            "Ingress",
            "",
            r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret",
        ),
        spec(
            "Ingress",
            "",
            r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-tls-secret",
        ),
        spec("ServiceAccount", "", "imagePullSecrets/name"),
        spec("StorageClass", "", "parameters/secretName"),
        spec("StorageClass", "", "parameters/adminSecretName"),
        spec("StorageClass", "", "parameters/userSecretName"),
        spec("StorageClass", "", "parameters/secretRef"),
        spec("Role", "", "rules/resourceNames"),
        spec("ClusterRole", "", "rules/resourceNames"),
        spec(
            "Service",
            "serving.knative.dev",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
        ),
        spec("PersistentVolume", "", "spec/azureFile/secretName"),
    ]);
    let service = vec![
        spec("StatefulSet", "apps", "spec/serviceName"),
        spec("Ingress", "", "spec/rules/http/paths/backend/serviceName"),
        spec("Ingress", "", "spec/backend/serviceName"),
        spec("Ingress", "", "spec/rules/http/paths/backend/service/name"),
        spec("Ingress", "", "spec/defaultBackend/service/name"),
        spec("APIService", "apiregistration.k8s.io", "spec/service/name"),
        spec(
            "ValidatingWebhookConfiguration",
            "admissionregistration.k8s.io",
            "webhooks/clientConfig/service",
        ),
        spec(
            "MutatingWebhookConfiguration",
            "admissionregistration.k8s.io",
            "webhooks/clientConfig/service",
        ),
    ];
    let rbac = "rbac.authorization.k8s.io";
    let mut service_account = vec![
        spec("RoleBinding", rbac, "subjects"),
        spec("ClusterRoleBinding", rbac, "subjects"),
    ];
    service_account.extend(in_pods(POD_REFERRERS, &["serviceAccountName"]));
    let claim = in_pods(POD_REFERRERS, &["volumes/persistentVolumeClaim/claimName"]);
    vec![
        rule("Deployment", "", "", hpa()),
        rule("ReplicationController", "", "", hpa()),
        rule("ReplicaSet", "", "", hpa()),
        rule("StatefulSet", "", "", hpa()),
        rule("ConfigMap", "", "v1", config_map),
        rule("Secret", "", "v1", secret),
        rule("Service", "", "v1", service),
        rule(
            "Role",
            rbac,
            "",
            vec![spec("RoleBinding", rbac, "roleRef/name")],
        ),
        rule(
            "ClusterRole",
            rbac,
            "",
            vec![
                spec("RoleBinding", rbac, "roleRef/name"),
                spec("ClusterRoleBinding", rbac, "roleRef/name"),
            ],
        ),
        rule("ServiceAccount", "", "v1", service_account),
        rule("PersistentVolumeClaim", "", "v1", claim),
        rule(
            "PersistentVolume",
            "",
            "v1",
            vec![
                spec("PersistentVolumeClaim", "", "spec/volumeName"),
                spec("ClusterRole", "", "rules/resourceNames"),
            ],
        ),
        rule(
            "StorageClass",
            "storage.k8s.io",
            "v1",
            vec![
                spec("PersistentVolume", "", "spec/storageClassName"),
                spec("PersistentVolumeClaim", "", "spec/storageClassName"),
                spec(
                    "StatefulSet",
                    "",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                ),
            ],
        ),
        rule(
            "PriorityClass",
            "scheduling.k8s.io",
            "v1",
            in_pods(POD_REFERRERS, &["priorityClassName"]),
        ),
        // Kustomize's table names the group with its version here, so
        // this reference never matches; kept, since Kustomize never
        // renames it either.
        rule(
            "IngressClass",
            "networking.k8s.io/v1",
            "v1",
            vec![spec("Ingress", "", "spec/ingressClassName")],
        ),
        rule(
            "ValidatingAdmissionPolicy",
            "admissionregistration.k8s.io",
            "",
            vec![spec(
                "ValidatingAdmissionPolicyBinding",
                "admissionregistration.k8s.io",
                "spec/policyName",
            )],
        ),
    ]
}

/// What the sieve needs to know about one possible target.
struct Candidate {
    gvk: Gvk,
    name: String,
    namespace: String,
    /// The namespace, `default` for an unset one of a namespaced object.
    effective_ns: String,
    /// The effective namespace of the object's first id.
    original_ns: String,
    cluster_scoped: bool,
    /// Earlier ids only: (name, kind).
    previous: Vec<(String, String)>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

fn effective_namespace(ns: &str, cluster_scoped: bool) -> String {
    if cluster_scoped {
        String::new()
    } else if ns.is_empty() {
        "default".into()
    } else {
        ns.into()
    }
}

impl Candidate {
    fn of(r: &Resource) -> Candidate {
        let gvk = r.gvk();
        let cluster_scoped = gvk.is_cluster_scoped();
        let original_ns = r
            .prev_namespaces
            .first()
            .map_or(r.namespace(), String::as_str);
        Candidate {
            name: r.name().into(),
            namespace: r.namespace().into(),
            effective_ns: effective_namespace(r.namespace(), cluster_scoped),
            original_ns: effective_namespace(original_ns, cluster_scoped),
            cluster_scoped,
            previous: r
                .prev_names
                .iter()
                .zip(r.prev_kinds.iter())
                .map(|(n, k)| (n.clone(), k.clone()))
                .collect(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            gvk,
        }
    }

    /// Kustomize's printed id ([`Resource::id_string`]), for messages:
    /// made only when one is printed.
    fn id(&self) -> String {
        crate::resource::id_string(&self.gvk, &self.name, &self.namespace)
    }

    /// Whether one of the earlier ids is selected by a (partial) gvk.
    fn had_kind(&self, group: &str, version: &str, kind: &str) -> bool {
        (group.is_empty() || group == self.gvk.group)
            && (version.is_empty() || version == self.gvk.version)
            && self
                .previous
                .iter()
                .any(|(_, k)| kind.is_empty() || k == kind)
    }
}

/// The referrer's side of the sieve.
struct Referrer<'a> {
    effective_ns: String,
    cluster_scoped: bool,
    prefixes: &'a [String],
    suffixes: &'a [String],
    /// For `roleRef/name`: the group and kind the roleRef names.
    role_ref: Option<(String, String)>,
}

/// How several remaining candidates may still be one answer.
#[derive(Clone, Copy)]
enum Same {
    Names,
    NamesAndNamespaces,
}

/// Kustomize's choice among `candidates` for a reference to `old_name`.
fn select<'a>(
    old_name: &str,
    candidates: &[&'a Candidate],
    target: &NameRef,
    referrer: &Referrer,
    same: Same,
) -> Result<Option<&'a Candidate>, String> {
    let mut left: Vec<&Candidate> = candidates
        .iter()
        .copied()
        .filter(|c| c.previous.iter().any(|(n, _)| n == old_name))
        .filter(|c| c.had_kind(&target.group, &target.version, &target.kind))
        .filter(|c| match &referrer.role_ref {
            Some((group, kind)) => c.had_kind(group, "", kind),
            None => true,
        })
        .filter(|c| {
            referrer.cluster_scoped
                || c.cluster_scoped
                || c.gvk.kind == "ServiceAccount"
                || c.effective_ns == referrer.effective_ns
        })
        .collect();
    if left.len() == 1 {
        return Ok(left.pop());
    }
    left.retain(|c| affixes_match(c, referrer, true));
    if left.len() > 1 {
        left.retain(|c| affixes_match(c, referrer, false));
    }
    match left.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        [first, rest @ ..] => {
            let identical = rest.iter().all(|c| {
                c.name == first.name
                    && (matches!(same, Same::Names) || c.namespace == first.namespace)
            });
            if identical {
                Ok(Some(*first))
            } else {
                let ids: Vec<String> = left.iter().map(|c| c.id()).collect();
                Err(format!(
                    "found multiple possible referrals: {}",
                    ids.join(", ")
                ))
            }
        }
    }
}

/// Whether the candidate's name prefixes and suffixes end like the
/// referrer's; with `allow_empty`, an empty list on either side matches.
fn affixes_match(c: &Candidate, r: &Referrer, allow_empty: bool) -> bool {
    let side = |a: &[String], b: &[String]| {
        (allow_empty && (a.is_empty() || b.is_empty())) || same_ending(a, b)
    };
    side(&c.prefixes, r.prefixes) && side(&c.suffixes, r.suffixes)
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

/// The namespaces a RoleBinding's ServiceAccount subjects are in: objects
/// there may be referred to from it.
fn role_binding_namespaces(r: &Resource) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    if r.kind() != "RoleBinding" {
        return Ok(out);
    }
    for s in r
        .obj
        .get("subjects")
        .and_then(Value::as_seq)
        .into_iter()
        .flatten()
    {
        let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind")) else {
            continue;
        };
        if kind.as_str() != Some("ServiceAccount") {
            continue;
        }
        match ns {
            Value::Str(ns) => out.push(ns.clone()),
            _ => {
                return Err(format!(
                    "Invalid Input: namespace is blank for resource {}",
                    r.id_string()
                ));
            }
        }
    }
    Ok(out)
}

/// The objects a referrer may refer to: every candidate, indexed by the
/// earlier names it had, and the referrer's view of them.
struct Scope<'a> {
    candidates: &'a [Candidate],
    by_earlier_name: &'a HashMap<&'a str, Vec<usize>>,
    referrer_cluster_scoped: bool,
    referrer_ns: &'a str,
    binding_namespaces: &'a [String],
}

impl<'a> Scope<'a> {
    /// Kustomize's subset a referrer can see: the same namespace,
    /// cluster-scoped objects, or a RoleBinding's subjects' namespaces.
    fn visible(&self, c: &Candidate) -> bool {
        self.referrer_cluster_scoped
            || c.cluster_scoped
            || c.effective_ns == self.referrer_ns
            || self.binding_namespaces.contains(&c.namespace)
    }

    /// The visible candidates that once were named `name`.
    fn named(&self, name: &str) -> Vec<&'a Candidate> {
        self.by_earlier_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.candidates[i])
            .filter(|c| self.visible(c))
            .collect()
    }

    /// Whether any visible candidate matches `f`.
    fn any_visible(&self, f: impl Fn(&Candidate) -> bool) -> bool {
        self.candidates.iter().any(|c| self.visible(c) && f(c))
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
    let candidates: Vec<Candidate> = resources.iter().map(Candidate::of).collect();
    let mut by_earlier_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        for (name, _) in &c.previous {
            let list = by_earlier_name.entry(name.as_str()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    let fail = |message: String| BuildError::Resources {
        file: file.to_path_buf(),
        message,
    };
    // Objects are few kinds and the specs many: the specs each kind
    // selects are listed once per kind, in the rules' order.
    let mut specs_by_kind: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for (r, me) in resources.iter_mut().zip(&candidates) {
        // An object's own entry: only its own turn below changes it, so
        // the entry made before the loop still describes it.
        let binding_namespaces = role_binding_namespaces(r).map_err(fail)?;
        let scope = Scope {
            candidates: &candidates,
            by_earlier_name: &by_earlier_name,
            referrer_cluster_scoped: me.cluster_scoped,
            referrer_ns: &me.effective_ns,
            binding_namespaces: &binding_namespaces,
        };
        let (prefixes, suffixes) = (r.prefixes.clone(), r.suffixes.clone());
        let specs = specs_by_kind
            .entry(r.orig_kind().to_string())
            .or_insert_with_key(|kind| specs_for_kind(&rules, kind));
        for &(rule_at, spec_at) in specs.iter() {
            let rule = &rules[rule_at];
            let spec = &rule.referrers[spec_at];
            if !(spec.group.is_empty() || spec.group == me.gvk.group) {
                continue;
            }
            let role_ref =
                matches!(spec.path.as_slice(), [.., a, b] if a == "roleRef" && b == "name").then(
                    || {
                        let text =
                            |k: &str| r.obj.str_at(&["roleRef", k]).unwrap_or("").to_string();
                        (text("apiGroup"), text("kind"))
                    },
                );
            let referrer = Referrer {
                effective_ns: me.effective_ns.clone(),
                cluster_scoped: me.cluster_scoped,
                prefixes: &prefixes,
                suffixes: &suffixes,
                role_ref,
            };
            let mut update = |v: &mut Value| update_reference(v, &scope, rule, &referrer);
            crate::fieldspec::visit_path(&mut r.obj, &spec.path, false, &mut update).map_err(
                |e| {
                    fail(format!(
                        "updating name reference in '{}' field of '{}': {e}",
                        spec.path.join("/"),
                        me.id()
                    ))
                },
            )?;
        }
    }
    Ok(())
}

/// The (rule, referrer spec) positions whose spec selects objects of
/// `kind` (or any kind), in the order the rules list them.
fn specs_for_kind(rules: &[NameRef], kind: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (rule_at, rule) in rules.iter().enumerate() {
        for (spec_at, spec) in rule.referrers.iter().enumerate() {
            if spec.kind.is_empty() || spec.kind == kind {
                out.push((rule_at, spec_at));
            }
        }
    }
    out
}

/// Rewrites the reference(s) a field spec reaches: a name, a mapping with
/// `name` (and `namespace`), or a list of either.
fn update_reference(
    v: &mut Value,
    scope: &Scope,
    rule: &NameRef,
    referrer: &Referrer,
) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            update_name(v, scope, rule, referrer)
        }
        Value::Map(m) => update_mapping(m, scope, rule, referrer),
        Value::Seq(items) => {
            for it in items.iter_mut() {
                match it {
                    Value::Map(m) => update_mapping(m, scope, rule, referrer)?,
                    Value::Seq(_) => {
                        return Err("a name reference list may hold names or mappings".into());
                    }
                    _ => update_name(it, scope, rule, referrer)?,
                }
            }
            Ok(())
        }
    }
}

fn update_name(
    v: &mut Value,
    scope: &Scope,
    rule: &NameRef,
    referrer: &Referrer,
) -> Result<(), String> {
    let Some(old) = v.scalar_string() else {
        return Ok(());
    };
    let candidates = scope.named(&old);
    if let Some(c) = select(&old, &candidates, rule, referrer, Same::Names)?
        && c.name != old
    {
        *v = Value::Str(c.name.clone());
    }
    Ok(())
}

fn update_mapping(
    m: &mut Map,
    scope: &Scope,
    rule: &NameRef,
    referrer: &Referrer,
) -> Result<(), String> {
    let Some(old) = m.get("name").and_then(Value::scalar_string) else {
        return Err("path config error; no 'name' field in node".into());
    };
    let mut candidates = scope.named(&old);
    // A namespace in the reference narrows the candidates: to those that
    // started there if any visible object did, else to those there now.
    if let Some(ns) = m.get("namespace") {
        let ns = ns.scalar_string().unwrap_or_default();
        if scope.any_visible(|c| !c.cluster_scoped && c.original_ns == ns) {
            candidates.retain(|c| !c.cluster_scoped && c.original_ns == ns);
        } else {
            candidates.retain(|c| !c.cluster_scoped && c.effective_ns == ns);
        }
    }
    let Some(c) = select(&old, &candidates, rule, referrer, Same::NamesAndNamespaces)? else {
        return Ok(());
    };
    if c.name == old && c.namespace.is_empty() {
        return Ok(());
    }
    m.insert("name".into(), Value::Str(c.name.clone()));
    if !c.namespace.is_empty() {
        m.insert("namespace".into(), Value::Str(c.namespace.clone()));
    }
    Ok(())
}
