//! Flux's access control for cross-namespace references (`accessFrom`): an
//! object may refer to one in another namespace only when the referred
//! object's `accessFrom.namespaceSelectors` match the labels of the
//! referrer's namespace — and never under `--no-cross-namespace-refs`.
//! Same-namespace references are always allowed.
//!
//! The messages are Flux's (`fluxcd/pkg/runtime/acl`), so a policy denied
//! here reads as it would under Flux. The label match is pure
//! ([`selectors_match`]); [`check`] reads the namespace.

use std::collections::BTreeMap;

use driftless_api::meta::AccessFrom;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

/// Why a cross-namespace reference is refused, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Denied {
    /// The controller refuses every cross-namespace reference.
    #[error(
        "cannot access '{kind}/{namespace}/{name}', cross-namespace references have been blocked"
    )]
    Blocked {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    /// The referred object has no `accessFrom`.
    #[error("'{namespace}/{name}' can't be accessed due to missing ACL labels on 'accessFrom'")]
    NoAcl { namespace: String, name: String },
    /// No selector matches the referrer's namespace labels.
    #[error(
        "'{namespace}/{name}' can't be accessed due to ACL labels mismatch on namespace '{from}'"
    )]
    Mismatch {
        namespace: String,
        name: String,
        from: String,
    },
    /// The referrer's namespace could not be read.
    #[error("cannot read namespace '{from}' to check access")]
    Read {
        from: String,
        #[source]
        source: kube::Error,
    },
}

/// Whether any selector matches `labels` (every `matchLabels` pair
/// present; a selector with none matches every namespace, as Kubernetes'
/// label selectors do).
pub(crate) fn selectors_match(access_from: &AccessFrom, labels: &BTreeMap<String, String>) -> bool {
    access_from.namespace_selectors.iter().any(|selector| {
        selector
            .match_labels
            .iter()
            .flatten()
            .all(|(k, v)| labels.get(k) == Some(v))
    })
}

/// Checks that an object in `from` may refer to the `kind` object
/// `namespace/name`, whose `accessFrom` is `access_from`.
pub(crate) async fn check(
    client: &kube::Client,
    no_cross_namespace_refs: bool,
    from: &str,
    kind: &'static str,
    (namespace, name): (&str, &str),
    access_from: Option<&AccessFrom>,
) -> Result<(), Denied> {
    if namespace == from {
        return Ok(());
    }
    if no_cross_namespace_refs {
        return Err(Denied::Blocked {
            kind,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    }
    let Some(access_from) = access_from else {
        return Err(Denied::NoAcl {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
    };
    let labels = Api::<Namespace>::all(client.clone())
        .get(from)
        .await
        .map_err(|source| Denied::Read {
            from: from.to_owned(),
            source,
        })?
        .metadata
        .labels
        .unwrap_or_default();
    if selectors_match(access_from, &labels) {
        Ok(())
    } else {
        Err(Denied::Mismatch {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            from: from.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_api::meta::NamespaceSelector;

    fn acl(selectors: &[&[(&str, &str)]]) -> AccessFrom {
        AccessFrom {
            namespace_selectors: selectors
                .iter()
                .map(|pairs| NamespaceSelector {
                    match_labels: Some(
                        pairs
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                    ),
                })
                .collect(),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn any_selector_whose_labels_all_match_grants_access() {
        let team = labels(&[("team", "web"), ("env", "prod")]);
        assert!(selectors_match(&acl(&[&[("team", "web")]]), &team));
        assert!(selectors_match(
            &acl(&[&[("team", "db")], &[("env", "prod")]]),
            &team
        ));
        assert!(!selectors_match(
            &acl(&[&[("team", "web"), ("env", "dev")]]),
            &team
        ));
        assert!(!selectors_match(&acl(&[]), &team), "no selector, no access");
        assert!(
            selectors_match(&acl(&[&[]]), &labels(&[])),
            "an empty selector matches all"
        );
    }

    #[test]
    fn messages_are_fluxs() {
        let denied = Denied::NoAcl {
            namespace: "images".into(),
            name: "app".into(),
        };
        assert_eq!(
            denied.to_string(),
            "'images/app' can't be accessed due to missing ACL labels on 'accessFrom'"
        );
        let denied = Denied::Mismatch {
            namespace: "images".into(),
            name: "app".into(),
            from: "team".into(),
        };
        assert_eq!(
            denied.to_string(),
            "'images/app' can't be accessed due to ACL labels mismatch on namespace 'team'"
        );
    }
}
