//! An ImagePolicy's rule, read from its spec for `driftless_image::policy`:
//! exactly one of `semver`, `alphabetical`, `numerical`, and the optional
//! `filterTags`. A rule that cannot be used stalls the policy
//! (`InvalidPolicy`), naming the field.

use driftless_api::conditions::reasons;
use driftless_api::image::{ImagePolicySpec, SortOrder};
use driftless_image::policy::{Order, Policy, TagFilter};

use crate::reconciler::ReconcileError;

/// The compiled rule.
pub(crate) struct Rule {
    pub policy: Policy,
    pub filter: Option<TagFilter>,
}

fn invalid(message: String) -> ReconcileError {
    ReconcileError::stalled(reasons::INVALID_POLICY, message)
}

fn order(order: SortOrder) -> Order {
    match order {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    }
}

/// Compiles `spec.policy` and `spec.filterTags`.
pub(crate) fn compile(spec: &ImagePolicySpec) -> Result<Rule, ReconcileError> {
    let choice = &spec.policy;
    let set = usize::from(choice.semver.is_some())
        + usize::from(choice.alphabetical.is_some())
        + usize::from(choice.numerical.is_some());
    if set != 1 {
        return Err(invalid(format!(
            "invalid policy: spec.policy must set exactly one of semver, alphabetical, numerical ({set} set)"
        )));
    }
    let policy = if let Some(semver) = &choice.semver {
        Policy::semver(&semver.range).map_err(|e| {
            invalid(format!(
                "invalid policy: spec.policy.semver.range: {}",
                crate::error_chain(&e)
            ))
        })?
    } else if let Some(alphabetical) = &choice.alphabetical {
        Policy::Alphabetical {
            order: order(alphabetical.order),
        }
    } else {
        Policy::Numerical {
            order: order(
                choice
                    .numerical
                    .as_ref()
                    .map(|n| n.order)
                    .unwrap_or_default(),
            ),
        }
    };
    let filter = spec
        .filter_tags
        .as_ref()
        .map(|f| TagFilter::new(&f.pattern, &f.extract))
        .transpose()
        .map_err(|e| {
            invalid(format!(
                "failed to filter tags: spec.filterTags.pattern: {}",
                crate::error_chain(&e)
            ))
        })?;
    Ok(Rule { policy, filter })
}

/// How the rule reads, for a message: `semver range '^1.0'`.
pub(crate) fn describe(spec: &ImagePolicySpec) -> String {
    let choice = &spec.policy;
    let rule = if let Some(semver) = &choice.semver {
        format!("semver range '{}'", semver.range)
    } else if let Some(a) = &choice.alphabetical {
        format!("alphabetical order {:?}", a.order).to_lowercase()
    } else if let Some(n) = &choice.numerical {
        format!("numerical order {:?}", n.order).to_lowercase()
    } else {
        "no rule".to_owned()
    };
    match &spec.filter_tags {
        Some(f) => format!("{rule} with filterTags pattern '{}'", f.pattern),
        None => rule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(policy: serde_json::Value, filter: Option<serde_json::Value>) -> ImagePolicySpec {
        let mut spec = serde_json::json!({
            "imageRepositoryRef": {"name": "app"},
            "policy": policy,
        });
        if let Some(filter) = filter {
            spec["filterTags"] = filter;
        }
        serde_json::from_value(spec).expect("a spec")
    }

    #[test]
    fn each_rule_compiles_and_elects() {
        let tags = ["1.0.0", "1.2.0", "2.0.0", "main-7", "main-12"];
        let rule = compile(&spec(
            serde_json::json!({"semver": {"range": "^1.0"}}),
            None,
        ))
        .expect("valid");
        let got = driftless_image::policy::latest(&tags, rule.filter.as_ref(), &rule.policy);
        assert_eq!(got.expect("no error").as_deref(), Some("1.2.0"));

        let rule = compile(&spec(
            serde_json::json!({"numerical": {"order": "asc"}}),
            Some(serde_json::json!({"pattern": "^main-(?P<n>\\d+)$", "extract": "$n"})),
        ))
        .expect("valid");
        let got = driftless_image::policy::latest(&tags, rule.filter.as_ref(), &rule.policy);
        assert_eq!(got.expect("no error").as_deref(), Some("main-12"));

        let rule = compile(&spec(
            serde_json::json!({"alphabetical": {"order": "desc"}}),
            None,
        ))
        .expect("valid");
        let got = driftless_image::policy::latest(&tags, rule.filter.as_ref(), &rule.policy);
        assert_eq!(got.expect("no error").as_deref(), Some("1.0.0"));
    }

    #[test]
    fn unusable_rules_stall_naming_the_field() {
        for (policy, filter, needle) in [
            (serde_json::json!({}), None, "exactly one"),
            (
                serde_json::json!({"semver": {"range": "1.0"}, "numerical": {}}),
                None,
                "exactly one",
            ),
            (
                serde_json::json!({"semver": {"range": "not a range"}}),
                None,
                "spec.policy.semver.range",
            ),
            (
                serde_json::json!({"alphabetical": {}}),
                Some(serde_json::json!({"pattern": "(unclosed"})),
                "spec.filterTags.pattern",
            ),
        ] {
            let err = compile(&spec(policy, filter)).err().expect("invalid");
            assert!(err.is_stalled());
            assert_eq!(err.reason, "InvalidPolicy");
            assert!(err.message.contains(needle), "{err}");
        }
    }
}
