//! Access reviews, answered from RBAC and never stored:
//! SelfSubjectAccessReview (`kubectl auth can-i`, also with `--as`),
//! SelfSubjectRulesReview (`kubectl auth can-i --list`),
//! SubjectAccessReview (may another user?) and LocalSubjectAccessReview
//! (the same, in one namespace); and SelfSubjectReview (`kubectl auth
//! whoami`: who am I, impersonation applied).

use serde_json::{Value, json};

use crate::api::Api;
use crate::auth::rbac::Rule;
use crate::auth::{Attributes, Auth, Authorization, ResourceAttributes, User};
use crate::status::ApiError;

fn check_kind(review: &Value, kind: &str) -> Result<(), ApiError> {
    if review.get("kind").and_then(Value::as_str) == Some(kind) {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "the body is a {}, not a {kind}",
        review["kind"].as_str().unwrap_or("object of no kind")
    )))
}

fn answered(mut review: Value, status: Value) -> Value {
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({});
    }
    review["status"] = status;
    review
}

/// What a review's spec asks about.
fn attributes(kind: &str, spec: &Value, namespace: Option<&str>) -> Result<Attributes, ApiError> {
    let text = |v: &Value, f: &str| {
        v.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match (spec.get("resourceAttributes"), spec.get("nonResourceAttributes")) {
        (Some(r), None) => Ok(Attributes::resource(
            &text(r, "verb"),
            ResourceAttributes {
                group: text(r, "group"),
                resource: text(r, "resource"),
                subresource: text(r, "subresource"),
                name: text(r, "name"),
                namespace: namespace.map_or_else(|| text(r, "namespace"), str::to_string),
            },
        )),
        (None, Some(n)) if namespace.is_none() => {
            Ok(Attributes::non_resource(&text(n, "verb"), &text(n, "path")))
        }
        _ => Err(ApiError::invalid(
            kind,
            "authorization.k8s.io",
            "",
            &[(
                "spec.resourceAttributes".into(),
                "Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
            )],
        )),
    }
}

fn decide(auth: &Auth, api: &Api, user: &User, asked: &Attributes) -> Value {
    if auth.mode == Authorization::AlwaysAllow {
        return json!({"allowed": true, "reason": "the sandbox runs without RBAC"});
    }
    let snapshot = auth.rbac.snapshot(api);
    match snapshot.allows(user, asked) {
        Some(grant) => {
            json!({"allowed": true, "reason": format!("RBAC: allowed by {}", grant.describe)})
        }
        None if user.is_master() => json!({"allowed": true, "reason": "member of system:masters"}),
        None => json!({"allowed": false}),
    }
}

/// `POST .../selfsubjectaccessreviews`: may the caller do this?
pub fn self_subject_access_review(
    auth: &Auth,
    api: &Api,
    user: &User,
    review: Value,
) -> Result<Value, ApiError> {
    check_kind(&review, "SelfSubjectAccessReview")?;
    let asked = attributes(
        "SelfSubjectAccessReview",
        review.get("spec").unwrap_or(&Value::Null),
        None,
    )?;
    let status = decide(auth, api, user, &asked);
    Ok(answered(review, status))
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: who the
/// caller is, after impersonation, as the real server answers it.
pub fn self_subject_review(user: &User, review: Value) -> Result<Value, ApiError> {
    if review.get("kind").and_then(Value::as_str) != Some("SelfSubjectReview") {
        return Err(ApiError::bad_request(format!(
            "the body is a {}, not a SelfSubjectReview",
            review["kind"].as_str().unwrap_or("object of no kind")
        )));
    }
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    Ok(json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": review.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({})),
        "status": {"userInfo": info},
    }))
}

/// `POST .../subjectaccessreviews` (or the namespaced
/// `localsubjectaccessreviews`): may the user the spec names do this?
pub fn subject_access_review(
    auth: &Auth,
    api: &Api,
    review: Value,
    namespace: Option<&str>,
) -> Result<Value, ApiError> {
    let kind = if namespace.is_some() {
        "LocalSubjectAccessReview"
    } else {
        "SubjectAccessReview"
    };
    check_kind(&review, kind)?;
    let spec = review.get("spec").unwrap_or(&Value::Null);
    let name = spec.get("user").and_then(Value::as_str).unwrap_or_default();
    let groups: Vec<String> = spec
        .get("groups")
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if name.is_empty() && groups.is_empty() {
        return Err(ApiError::invalid(
            kind,
            "authorization.k8s.io",
            "",
            &[(
                "spec.user".into(),
                "Invalid value: \"\": at least one of user or group must be specified".into(),
            )],
        ));
    }
    let user = User {
        name: name.to_string(),
        uid: spec
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        groups,
    };
    let asked = attributes(kind, spec, namespace)?;
    let status = decide(auth, api, &user, &asked);
    Ok(answered(review, status))
}

/// `POST .../selfsubjectrulesreviews`: every rule the caller holds in
/// `spec.namespace` (and cluster-wide).
pub fn self_subject_rules_review(
    auth: &Auth,
    api: &Api,
    user: &User,
    review: Value,
) -> Result<Value, ApiError> {
    check_kind(&review, "SelfSubjectRulesReview")?;
    let namespace = review
        .pointer("/spec/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut rules: Vec<Rule> = Vec::new();
    if auth.mode == Authorization::AlwaysAllow {
        rules.push(Rule::from_json(
            &json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
        ));
        rules.push(Rule::from_json(
            &json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
        ));
    } else {
        let snapshot = auth.rbac.snapshot(api);
        for rule in snapshot
            .grants(user, &namespace)
            .flat_map(|g| g.rules.iter())
        {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
    }
    let (resource, non_resource): (Vec<&Rule>, Vec<&Rule>) =
        rules.iter().partition(|r| r.non_resource_urls.is_empty());
    let status = json!({
        "resourceRules": resource.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "nonResourceRules": non_resource.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        "incomplete": false,
    });
    Ok(answered(review, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (Auth, Api) {
        let api = Api::new(crate::store::Store::in_memory()).expect("an empty store loads");
        crate::auth::bootstrap(&api);
        (
            Auth::new(crate::auth::Tokens::new("t", &[]), Authorization::Rbac),
            api,
        )
    }

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            uid: String::new(),
            groups: vec![crate::auth::AUTHENTICATED.into()],
        }
    }

    #[test]
    fn a_review_is_answered_from_rbac() {
        let (auth, api) = sandbox();
        let ask = |verb: &str| {
            json!({
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "spec": {"resourceAttributes": {"verb": verb, "group": "authorization.k8s.io", "resource": "selfsubjectaccessreviews"}},
            })
        };
        let yes = self_subject_access_review(&auth, &api, &user("jane"), ask("create"))
            .expect("answered");
        assert_eq!(yes["status"]["allowed"], true);
        assert_eq!(
            yes["status"]["reason"],
            "RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\""
        );
        assert_eq!(yes["spec"]["resourceAttributes"]["verb"], "create");
        let no = self_subject_access_review(&auth, &api, &user("jane"), ask("delete"))
            .expect("answered");
        assert_eq!(no["status"]["allowed"], false);
        let other = json!({"kind": "SubjectAccessReview", "spec": {"user": "x", "groups": ["system:masters"], "nonResourceAttributes": {"verb": "get", "path": "/metrics"}}});
        assert_eq!(
            subject_access_review(&auth, &api, other, None).expect("answered")["status"]["allowed"],
            true
        );
    }

    #[test]
    fn the_rules_review_lists_what_bindings_grant() {
        let (auth, api) = sandbox();
        let review = json!({"kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}});
        let answered =
            self_subject_rules_review(&auth, &api, &user("jane"), review).expect("answered");
        let rules = answered["status"]["resourceRules"]
            .as_array()
            .expect("rules");
        assert!(
            rules
                .iter()
                .any(|r| r["resources"][0] == "selfsubjectaccessreviews"),
            "{rules:?}"
        );
        assert!(!rules.iter().any(|r| r["verbs"][0] == "*"), "{rules:?}");
        assert_eq!(answered["spec"]["namespace"], "default");
        assert!(
            self_subject_rules_review(&auth, &api, &user("jane"), json!({"kind": "Pod"})).is_err()
        );
    }

    #[test]
    fn a_review_names_exactly_one_kind_of_attributes() {
        let (auth, api) = sandbox();
        let empty = json!({"kind": "SelfSubjectAccessReview", "spec": {}});
        assert_eq!(
            self_subject_access_review(&auth, &api, &user("a"), empty)
                .expect_err("invalid")
                .code,
            422
        );
        let other = json!({"kind": "ConfigMap"});
        assert_eq!(
            self_subject_access_review(&auth, &api, &user("a"), other)
                .expect_err("wrong kind")
                .code,
            400
        );
    }
}
