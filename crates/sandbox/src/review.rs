//! Access reviews (`kubectl auth can-i`): SelfSubjectAccessReview and,
//! for `--list`, SelfSubjectRulesReview — create-only resources that are
//! answered, never stored. The sandbox has one
//! user, the admin whose token every request already proved, and no RBAC,
//! so every review is allowed — which is what the admin of a real cluster
//! is told.

use serde_json::{Value, json};

use crate::status::ApiError;

/// The review with its answer, as `POST .../selfsubjectaccessreviews` returns it.
pub fn self_subject_access_review(mut review: Value) -> Result<Value, ApiError> {
    if review.get("kind").and_then(Value::as_str) != Some("SelfSubjectAccessReview") {
        return Err(ApiError::bad_request(format!(
            "the body is a {}, not a SelfSubjectAccessReview",
            review["kind"].as_str().unwrap_or("object of no kind")
        )));
    }
    let spec = review.get("spec").cloned().unwrap_or(json!({}));
    let attributes = ["resourceAttributes", "nonResourceAttributes"]
        .iter()
        .filter(|a| spec.get(**a).is_some())
        .count();
    if attributes != 1 {
        return Err(ApiError::invalid(
            "SelfSubjectAccessReview",
            "authorization.k8s.io",
            "",
            &[(
                "spec.resourceAttributes".into(),
                "Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
            )],
        ));
    }
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({});
    }
    review["status"] = json!({
        "allowed": true,
        "reason": "the sandbox's only user is its administrator",
    });
    Ok(review)
}

/// The rules review `kubectl auth can-i --list` asks for: everything, on
/// every resource and every non-resource URL.
pub fn self_subject_rules_review(mut review: Value) -> Result<Value, ApiError> {
    if review.get("kind").and_then(Value::as_str) != Some("SelfSubjectRulesReview") {
        return Err(ApiError::bad_request(format!(
            "the body is a {}, not a SelfSubjectRulesReview",
            review["kind"].as_str().unwrap_or("object of no kind")
        )));
    }
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({});
    }
    review["status"] = json!({
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": false,
    });
    Ok(review)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_may_do_anything() {
        let review = json!({
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "spec": {"resourceAttributes": {"verb": "create", "group": "apps", "resource": "deployments"}},
        });
        let answered = self_subject_access_review(review).expect("allowed");
        assert_eq!(answered["status"]["allowed"], true);
        assert_eq!(answered["spec"]["resourceAttributes"]["verb"], "create");
    }

    #[test]
    fn the_admin_is_listed_every_rule() {
        let review = json!({"kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}});
        let answered = self_subject_rules_review(review).expect("answered");
        assert_eq!(
            answered["status"]["resourceRules"][0]["verbs"],
            json!(["*"])
        );
        assert_eq!(answered["spec"]["namespace"], "default");
        assert!(self_subject_rules_review(json!({"kind": "Pod"})).is_err());
    }

    #[test]
    fn a_review_names_exactly_one_kind_of_attributes() {
        let empty = json!({"kind": "SelfSubjectAccessReview", "spec": {}});
        assert_eq!(
            self_subject_access_review(empty).expect_err("invalid").code,
            422
        );
        let other = json!({"kind": "ConfigMap"});
        assert_eq!(
            self_subject_access_review(other)
                .expect_err("wrong kind")
                .code,
            400
        );
    }
}
