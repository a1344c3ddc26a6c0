//! Escalation prevention: a Role or ClusterRole may only be written with
//! rules its writer already holds where it applies, and a binding may only
//! grant a role whose rules its writer holds — unless the writer has the
//! `escalate` verb on the role, or `bind` on the role a binding names, as
//! Kubernetes checks them. A ClusterRole with an `aggregationRule` can
//! gather any rule, so writing one takes every permission (or `escalate`).
//!
//! The check runs on the object a write would store, so creates, updates,
//! patches and server-side applies are judged alike.

use std::sync::Arc;

use serde_json::Value;

use super::User;
use super::attributes::{Attributes, ResourceAttributes};
use super::rbac::{GROUP, Rule, Snapshot};
use crate::api::Admission;
use crate::catalog::GroupResource;
use crate::status::ApiError;

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The escalation check of writes by `user`, against the RBAC objects of
/// `snapshot` (taken before the write).
pub fn admission(snapshot: Arc<Snapshot>, user: Arc<User>) -> Admission {
    Arc::new(move |gr: &GroupResource, object: &Value| {
        if gr.group != GROUP {
            return Ok(());
        }
        let namespace = text(object, "/metadata/namespace");
        let name = text(object, "/metadata/name");
        let may = |verb: &str, resource: &str, name: &str| {
            let attributes = Attributes::resource(
                verb,
                ResourceAttributes {
                    group: GROUP.into(),
                    resource: resource.into(),
                    name: name.into(),
                    namespace: namespace.into(),
                    ..Default::default()
                },
            );
            snapshot.allows(&user, &attributes).is_some()
        };
        let granted: Vec<Rule> = match gr.resource.as_str() {
            "roles" | "clusterroles" => {
                if may("escalate", &gr.resource, name) {
                    return Ok(());
                }
                if object.get("aggregationRule").is_some_and(|a| !a.is_null()) {
                    vec![
                        Rule::from_json(
                            &serde_json::json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
                        ),
                        Rule::from_json(
                            &serde_json::json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
                        ),
                    ]
                } else {
                    object
                        .get("rules")
                        .and_then(Value::as_array)
                        .map(|rules| rules.iter().map(Rule::from_json).collect())
                        .unwrap_or_default()
                }
            }
            "rolebindings" | "clusterrolebindings" => {
                let kind = text(object, "/roleRef/kind");
                let role = text(object, "/roleRef/name");
                let resource = if kind == "Role" {
                    "roles"
                } else {
                    "clusterroles"
                };
                if may("bind", resource, role) {
                    return Ok(());
                }
                match snapshot.role_rules(kind, namespace, role) {
                    Some(rules) => rules.as_ref().clone(),
                    None => {
                        return Err(forbidden(
                            gr,
                            name,
                            &user,
                            &format!(
                                "{kind} \"{role}\" not found, and only a user with bind on it may bind it"
                            ),
                        ));
                    }
                }
            }
            _ => return Ok(()),
        };
        let held: Vec<&Rule> = snapshot
            .grants(&user, namespace)
            .flat_map(|g| g.rules.iter())
            .collect();
        let missing: Vec<String> = granted
            .iter()
            .flat_map(atoms)
            .filter(|atom| !held.iter().any(|h| covers(h, atom)))
            .map(|atom| describe(&atom))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(forbidden(
                gr,
                name,
                &user,
                &format!(
                    "is attempting to grant RBAC permissions not currently held:\n{}",
                    missing.join("\n")
                ),
            ))
        }
    })
}

fn forbidden(gr: &GroupResource, name: &str, user: &User, why: &str) -> ApiError {
    let groups: Vec<String> = user.groups.iter().map(|g| format!("{g:?}")).collect();
    ApiError::forbidden(format!(
        "{gr} \"{name}\" is forbidden: user \"{}\" (groups=[{}]) {why}",
        user.name,
        groups.join(" ")
    ))
    .with_details(serde_json::json!({"name": name, "group": gr.group, "kind": gr.resource}))
}

/// A rule split into rules of one verb, group, resource and name (or one
/// verb and URL), so that coverage is judged piece by piece.
fn atoms(rule: &Rule) -> Vec<Rule> {
    let one = |s: &String| vec![s.clone()];
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in &rule.non_resource_urls {
            out.push(Rule {
                verbs: one(verb),
                non_resource_urls: one(url),
                ..Default::default()
            });
        }
        for group in &rule.api_groups {
            for resource in &rule.resources {
                let names: Vec<Vec<String>> = if rule.resource_names.is_empty() {
                    vec![Vec::new()]
                } else {
                    rule.resource_names.iter().map(one).collect()
                };
                for names in names {
                    out.push(Rule {
                        verbs: one(verb),
                        api_groups: one(group),
                        resources: one(resource),
                        resource_names: names,
                        non_resource_urls: Vec::new(),
                    });
                }
            }
        }
    }
    out
}

fn covers(held: &Rule, atom: &Rule) -> bool {
    let has = |list: &[String], wanted: &[String]| {
        wanted
            .iter()
            .all(|w| list.iter().any(|x| x == "*" || x == w))
    };
    if !has(&held.verbs, &atom.verbs) {
        return false;
    }
    if !atom.non_resource_urls.is_empty() {
        return atom.non_resource_urls.iter().all(|url| {
            held.non_resource_urls.iter().any(|h| {
                h == "*" || h == url || h.strip_suffix('*').is_some_and(|p| url.starts_with(p))
            })
        });
    }
    let resource_ok = atom.resources.iter().all(|r| {
        held.resources.iter().any(|h| {
            h == "*"
                || h == r
                || r.split_once('/')
                    .is_some_and(|(_, sub)| h.strip_prefix("*/") == Some(sub))
        })
    });
    let names_ok = held.resource_names.is_empty()
        || (!atom.resource_names.is_empty()
            && atom
                .resource_names
                .iter()
                .all(|n| held.resource_names.contains(n)));
    has(&held.api_groups, &atom.api_groups) && resource_ok && names_ok
}

fn describe(atom: &Rule) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if atom.non_resource_urls.is_empty() {
        let names = if atom.resource_names.is_empty() {
            String::new()
        } else {
            format!(", ResourceNames:[{}]", list(&atom.resource_names))
        };
        format!(
            "{{APIGroups:[{}], Resources:[{}]{names}, Verbs:[{}]}}",
            list(&atom.api_groups),
            list(&atom.resources),
            list(&atom.verbs)
        )
    } else {
        format!(
            "{{NonResourceURLs:[{}], Verbs:[{}]}}",
            list(&atom.non_resource_urls),
            list(&atom.verbs)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        Rule::from_json(&v)
    }

    #[test]
    fn a_rule_is_covered_piece_by_piece() {
        let held = rule(
            json!({"verbs": ["get", "list"], "apiGroups": ["", "apps"], "resources": ["pods", "*/scale"]}),
        );
        let fine = rule(
            json!({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/scale", "pods"]}),
        );
        assert!(atoms(&fine).iter().all(|a| covers(&held, a)));
        let more =
            rule(json!({"verbs": ["get", "delete"], "apiGroups": [""], "resources": ["pods"]}));
        let missing: Vec<String> = atoms(&more)
            .iter()
            .filter(|a| !covers(&held, a))
            .map(describe)
            .collect();
        assert_eq!(
            missing,
            ["{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}"]
        );
        let wild = rule(json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}));
        assert!(!atoms(&wild).iter().all(|a| covers(&held, a)));
    }

    #[test]
    fn resource_names_narrow_and_never_widen() {
        let named = rule(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}),
        );
        let one = rule(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}),
        );
        let all = rule(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}));
        assert!(atoms(&one).iter().all(|a| covers(&named, a)));
        assert!(!atoms(&all).iter().all(|a| covers(&named, a)));
    }

    #[test]
    fn urls_are_covered_by_prefix() {
        let held = rule(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}));
        let asked = rule(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/apps"]}));
        assert!(atoms(&asked).iter().all(|a| covers(&held, a)));
        let other = rule(json!({"verbs": ["get"], "nonResourceURLs": ["/metrics"]}));
        assert!(!atoms(&other).iter().all(|a| covers(&held, a)));
    }
}
