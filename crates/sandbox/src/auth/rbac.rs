//! RBAC evaluation over the stored Role, ClusterRole, RoleBinding and
//! ClusterRoleBinding objects, as Kubernetes' RBAC authorizer does it: a
//! request is allowed when a binding naming the caller (user, group or
//! service account) grants a role with a rule matching it. Nothing denies.
//!
//! Per request the cost is one look-up per subject (the user and each of
//! its groups) in an index of bindings, then the matching of the rules of
//! the roles found. The index ([`Snapshot`]) is built from the store once
//! and rebuilt only when an RBAC object changed since: the check is a scan
//! of the store's events newer than the snapshot, which is empty almost
//! always.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::User;
use super::attributes::{Attributes, ResourceAttributes};
use crate::api::Api;
use crate::catalog::GroupResource;

/// The API group of the RBAC kinds.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// One rule of a role: what it allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(value: &Value, field: &str) -> Vec<String> {
    value
        .get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn has(list: &[String], wanted: &str) -> bool {
    list.iter().any(|x| x == "*" || x == wanted)
}

impl Rule {
    pub fn from_json(rule: &Value) -> Rule {
        Rule {
            verbs: strings(rule, "verbs"),
            api_groups: strings(rule, "apiGroups"),
            resources: strings(rule, "resources"),
            resource_names: strings(rule, "resourceNames"),
            non_resource_urls: strings(rule, "nonResourceURLs"),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut rule = serde_json::json!({"verbs": self.verbs});
        for (field, values) in [
            ("apiGroups", &self.api_groups),
            ("resources", &self.resources),
            ("resourceNames", &self.resource_names),
            ("nonResourceURLs", &self.non_resource_urls),
        ] {
            if !values.is_empty() {
                rule[field] = serde_json::json!(values);
            }
        }
        rule
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, attributes: &Attributes) -> bool {
        if !has(&self.verbs, &attributes.verb) {
            return false;
        }
        match &attributes.resource {
            Some(target) => self.allows_resource(target),
            None => self.non_resource_urls.iter().any(|url| {
                url == "*"
                    || *url == attributes.path
                    || url
                        .strip_suffix('*')
                        .is_some_and(|prefix| attributes.path.starts_with(prefix))
            }),
        }
    }

    fn allows_resource(&self, target: &ResourceAttributes) -> bool {
        if !has(&self.api_groups, &target.group) {
            return false;
        }
        let combined = target.combined();
        let resource = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!target.subresource.is_empty()
                    && r.strip_prefix("*/") == Some(target.subresource.as_str()))
        });
        resource && (self.resource_names.is_empty() || self.resource_names.contains(&target.name))
    }
}

/// A role's rules, shared by every binding that grants it.
pub type Rules = Arc<Vec<Rule>>;

/// What one binding grants one subject.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The binding's namespace; empty for a ClusterRoleBinding (everywhere).
    pub namespace: String,
    pub rules: Rules,
    /// `RoleBinding "ns/x" of Role "y"`, for review reasons.
    pub describe: String,
}

/// The RBAC objects of one moment, indexed for authorization.
#[derive(Debug, Default)]
pub struct Snapshot {
    cluster_roles: HashMap<String, Rules>,
    roles: HashMap<(String, String), Rules>,
    /// Grants by subject: `user:<name>` or `group:<name>`.
    by_subject: HashMap<String, Vec<Grant>>,
}

fn meta<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Snapshot {
    /// Indexes the RBAC objects; a ClusterRole's `aggregationRule` adds the
    /// rules of every ClusterRole its selectors match.
    pub fn build(
        cluster_roles: &[Arc<Value>],
        roles: &[Arc<Value>],
        cluster_bindings: &[Arc<Value>],
        bindings: &[Arc<Value>],
    ) -> Snapshot {
        let own = |role: &Value| -> Vec<Rule> {
            role.get("rules")
                .and_then(Value::as_array)
                .map(|rules| rules.iter().map(Rule::from_json).collect())
                .unwrap_or_default()
        };
        let mut snapshot = Snapshot::default();
        for role in cluster_roles {
            let mut rules = own(role);
            let selectors = role
                .pointer("/aggregationRule/clusterRoleSelectors")
                .and_then(Value::as_array);
            for selector in selectors.into_iter().flatten() {
                for other in cluster_roles {
                    if meta(other, "name") != meta(role, "name") && selects(selector, other) {
                        rules.extend(own(other));
                    }
                }
            }
            snapshot
                .cluster_roles
                .insert(meta(role, "name").to_string(), Arc::new(rules));
        }
        for role in roles {
            snapshot.roles.insert(
                (
                    meta(role, "namespace").to_string(),
                    meta(role, "name").to_string(),
                ),
                Arc::new(own(role)),
            );
        }
        for binding in cluster_bindings.iter().chain(bindings) {
            snapshot.index(binding);
        }
        snapshot
    }

    fn index(&mut self, binding: &Value) {
        let namespace = meta(binding, "namespace").to_string();
        let role_kind = binding
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let role_name = binding
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(rules) = self.role_rules(role_kind, &namespace, role_name) else {
            return;
        };
        let binding_kind = if namespace.is_empty() {
            "ClusterRoleBinding"
        } else {
            "RoleBinding"
        };
        let binding_name = if namespace.is_empty() {
            meta(binding, "name").to_string()
        } else {
            format!("{namespace}/{}", meta(binding, "name"))
        };
        let describe = format!("{binding_kind} \"{binding_name}\" of {role_kind} \"{role_name}\"");
        for subject in binding
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(key) = subject_key(subject, &namespace) else {
                continue;
            };
            self.by_subject.entry(key).or_default().push(Grant {
                namespace: namespace.clone(),
                rules: rules.clone(),
                describe: describe.clone(),
            });
        }
    }

    /// The rules of the role a binding in `namespace` refers to.
    pub fn role_rules(&self, kind: &str, namespace: &str, name: &str) -> Option<Rules> {
        match kind {
            "ClusterRole" => self.cluster_roles.get(name).cloned(),
            "Role" => self
                .roles
                .get(&(namespace.to_string(), name.to_string()))
                .cloned(),
            _ => None,
        }
    }

    /// The grants that apply to `user` in `namespace` (empty: only the
    /// cluster-wide ones).
    pub fn grants<'a>(
        &'a self,
        user: &'a User,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Grant> {
        std::iter::once(format!("user:{}", user.name))
            .chain(user.groups.iter().map(|g| format!("group:{g}")))
            .filter_map(|key| self.by_subject.get(&key))
            .flatten()
            .filter(move |g| g.namespace.is_empty() || g.namespace == namespace)
    }

    /// The grant that allows the request, if any.
    pub fn allows<'a>(&'a self, user: &'a User, attributes: &'a Attributes) -> Option<&'a Grant> {
        let namespace = attributes
            .resource
            .as_ref()
            .map_or("", |r| r.namespace.as_str());
        self.grants(user, namespace)
            .find(|g| g.rules.iter().any(|rule| rule.allows(attributes)))
    }
}

/// Whether a `metav1.LabelSelector` (matchLabels, matchExpressions)
/// selects an object by its labels.
fn selects(selector: &Value, object: &Value) -> bool {
    let label = |key: &str| {
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    let labels_match = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    let expressions_match = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values = strings(e, "values");
            let value = label(key);
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => value.is_some_and(|v| values.iter().any(|x| x == v)),
                Some("NotIn") => value.is_none_or(|v| values.iter().all(|x| x != v)),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        });
    labels_match && expressions_match
}

/// The index key of a binding's subject, or `None` for a subject this
/// binding cannot name (an unknown kind).
fn subject_key(subject: &Value, binding_namespace: &str) -> Option<String> {
    let name = subject.get("name").and_then(Value::as_str)?;
    match subject.get("kind").and_then(Value::as_str)? {
        "User" => Some(format!("user:{name}")),
        "Group" => Some(format!("group:{name}")),
        "ServiceAccount" => {
            let namespace = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            Some(format!("user:system:serviceaccount:{namespace}:{name}"))
        }
        _ => None,
    }
}

fn rbac(resource: &str) -> GroupResource {
    GroupResource::new(GROUP, resource)
}

/// The cached snapshot and the store version it reflects.
#[derive(Default)]
pub struct Authorizer {
    cached: Mutex<Option<(u64, Arc<Snapshot>)>>,
}

impl Authorizer {
    /// The snapshot of the RBAC objects as stored now, rebuilt only when
    /// one changed since the cached one.
    pub fn snapshot(&self, api: &Api) -> Arc<Snapshot> {
        let kinds = [
            "clusterroles",
            "roles",
            "clusterrolebindings",
            "rolebindings",
        ]
        .map(rbac);
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        api.store.txn(|t| {
            let now = t.resource_version();
            match cached.as_mut() {
                Some((at, snapshot)) if !kinds.iter().any(|k| t.changed_since(k, *at)) => {
                    *at = now;
                    snapshot.clone()
                }
                _ => {
                    let [cr, r, crb, rb] = kinds.map(|k| t.list(&k, None));
                    let snapshot = Arc::new(Snapshot::build(&cr, &r, &crb, &rb));
                    *cached = Some((now, snapshot.clone()));
                    snapshot
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, groups: &[&str]) -> User {
        User {
            name: name.into(),
            uid: String::new(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
        }
    }

    fn request(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Attributes::resource(
            verb,
            ResourceAttributes {
                group: group.into(),
                resource: resource.into(),
                subresource: subresource.into(),
                name: name.into(),
                namespace: ns.into(),
            },
        )
    }

    fn arc(values: Vec<Value>) -> Vec<Arc<Value>> {
        values.into_iter().map(Arc::new).collect()
    }

    fn fixture() -> Snapshot {
        let cluster_roles = arc(vec![
            json!({"metadata": {"name": "reader"}, "rules": [
                {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps", "pods/log"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]},
            ]}),
            json!({"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-agg": "true"}}]}}),
            json!({"metadata": {"name": "part", "labels": {"to-agg": "true"}}, "rules": [
                {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*/scale"]},
            ]}),
        ]);
        let roles = arc(vec![
            json!({"metadata": {"name": "one", "namespace": "team"}, "rules": [
                {"verbs": ["update"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["key"]},
            ]}),
        ]);
        let cluster_bindings = arc(vec![
            json!({"metadata": {"name": "readers"}, "roleRef": {"kind": "ClusterRole", "name": "reader"},
            "subjects": [{"kind": "Group", "name": "readers"}]}),
        ]);
        let bindings = arc(vec![
            json!({"metadata": {"name": "b", "namespace": "team"}, "roleRef": {"kind": "Role", "name": "one"},
                "subjects": [{"kind": "ServiceAccount", "name": "deployer"}]}),
            json!({"metadata": {"name": "c", "namespace": "team"}, "roleRef": {"kind": "ClusterRole", "name": "agg"},
                "subjects": [{"kind": "User", "name": "jane"}]}),
        ]);
        Snapshot::build(&cluster_roles, &roles, &cluster_bindings, &bindings)
    }

    #[test]
    fn cluster_bindings_apply_everywhere_and_role_bindings_in_their_namespace() {
        let s = fixture();
        let reader = user("bob", &["readers"]);
        assert!(
            s.allows(&reader, &request("list", "", "configmaps", "", ""))
                .is_some()
        );
        assert!(
            s.allows(&reader, &request("get", "", "configmaps", "any", "x"))
                .is_some()
        );
        assert!(
            s.allows(&reader, &request("get", "", "pods/log", "any", "x"))
                .is_some()
        );
        assert!(
            s.allows(&reader, &request("get", "", "pods", "any", "x"))
                .is_none()
        );
        assert!(
            s.allows(&reader, &request("watch", "", "configmaps", "any", ""))
                .is_none()
        );
        assert!(
            s.allows(&reader, &request("get", "apps", "configmaps", "any", ""))
                .is_none()
        );
        let sa = user("system:serviceaccount:team:deployer", &[]);
        assert!(
            s.allows(&sa, &request("update", "", "secrets", "team", "key"))
                .is_some()
        );
        assert!(
            s.allows(&sa, &request("update", "", "secrets", "team", "other"))
                .is_none()
        );
        assert!(
            s.allows(&sa, &request("update", "", "secrets", "else", "key"))
                .is_none()
        );
        assert!(
            s.allows(&sa, &request("update", "", "secrets", "", "key"))
                .is_none()
        );
    }

    #[test]
    fn aggregated_roles_and_subresource_wildcards() {
        let s = fixture();
        let jane = user("jane", &[]);
        assert!(
            s.allows(
                &jane,
                &request("patch", "apps", "deployments/scale", "team", "w")
            )
            .is_some()
        );
        assert!(
            s.allows(&jane, &request("patch", "apps", "deployments", "team", "w"))
                .is_none()
        );
        assert!(
            s.allows(
                &jane,
                &request("patch", "apps", "deployments/scale", "else", "w")
            )
            .is_none()
        );
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_prefix() {
        let s = fixture();
        let reader = user("bob", &["readers"]);
        assert!(
            s.allows(&reader, &Attributes::non_resource("get", "/healthz"))
                .is_some()
        );
        assert!(
            s.allows(&reader, &Attributes::non_resource("get", "/apis/apps/v1"))
                .is_some()
        );
        assert!(
            s.allows(&reader, &Attributes::non_resource("get", "/api"))
                .is_none()
        );
        assert!(
            s.allows(&reader, &Attributes::non_resource("post", "/healthz"))
                .is_none()
        );
    }
}
