//! Errors of the apply stage. Each names the object as people write it
//! (`Kind/namespace/name`) and says what to do.

use std::fmt;
use std::time::Duration;

use driftless_api::inventory::{InvalidObjectId, ObjectId};

use crate::changeset::subject;

/// Why an apply, diff or prune stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A desired object lacks apiVersion, kind or metadata.name.
    #[error("object #{index} ({object}) is malformed: {problem}; fix the manifest")]
    Malformed {
        /// Position in the desired set, from 0.
        index: usize,
        /// What is known of it (`Kind/name`).
        object: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The objects about to be written could not be put on record (see
    /// [`Applier::apply_recording`](crate::Applier::apply_recording)).
    #[error("cannot record the objects about to be applied, so none was: {message}")]
    Recording {
        /// Why, from the recorder.
        message: String,
    },
    /// The cluster serves no such kind.
    #[error(
        "{object}: the cluster has no API resource for apiVersion {api_version:?} kind {kind:?}; is its CRD installed or in this set?"
    )]
    UnknownKind {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The apiVersion, as written.
        api_version: String,
        /// The kind, as written.
        kind: String,
    },
    /// A namespaced object without a namespace.
    #[error(
        "{object}: {kind} is namespaced but the object has no namespace; set metadata.namespace or the Kustomization's targetNamespace"
    )]
    MissingNamespace {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The kind, as written.
        kind: String,
    },
    /// The server rejected the object (422); its message names the field.
    #[error("{object} is invalid: {message}; fix the manifest")]
    Invalid {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// The server has nowhere to put the object, usually because its
    /// namespace does not exist.
    #[error(
        "{object}: the server has nowhere to put it ({message}); create its namespace or add the Namespace to this set"
    )]
    NotFound {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// An immutable field changed and recreating the object is not allowed.
    #[error(
        "{object}: immutable field(s) {} changed; set spec.force: true or annotate the object kustomize.toolkit.fluxcd.io/force: enabled to recreate it",
        fields.join(", ")
    )]
    Immutable {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The immutable fields that changed.
        fields: Vec<String>,
    },
    /// CRDs applied in the first stage did not become Established in time.
    #[error(
        "CustomResourceDefinition(s) {} not established after {timeout:?}; check their spec (names, versions, schema)",
        crds.join(", ")
    )]
    CrdNotEstablished {
        /// The CRDs not yet established.
        crds: Vec<String>,
        /// The limit that passed.
        timeout: Duration,
    },
    /// An object deleted for recreation did not go away.
    #[error(
        "{object}: still present {timeout:?} after deleting it to recreate it; check its finalizers"
    )]
    RecreateTimeout {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// The limit that passed.
        timeout: Duration,
    },
    /// The identity the applier acts as (the controller, or the service
    /// account it impersonates) may not do this; the API server's message
    /// names the user, verb, resource and namespace.
    #[error(
        "{object}: {action} forbidden: {message}; grant the permission to the identity the apply runs as, or remove the object"
    )]
    Forbidden {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// What was being done (`dry-run apply`, `delete`, ...).
        action: &'static str,
        /// The API server's message.
        message: String,
    },
    /// Several deletes failed (a release's prune tries each, as Helm).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" && "))]
    Deletes(Vec<ApplyError>),
    /// An inventory entry that is not `<namespace>_<name>_<group>_<kind>`.
    #[error("inventory entry is malformed; remove it from the status inventory")]
    Inventory(#[source] InvalidObjectId),
    /// Any other API error.
    #[error(
        "{object}: {action} failed; check the cluster's API server and this object's permissions"
    )]
    Api {
        /// The object, as `Kind/namespace/name`.
        object: String,
        /// What was being done (`dry-run apply`, `delete`, ...).
        action: &'static str,
        /// The API server's answer.
        #[source]
        source: kube::Error,
    },
}

/// Objects that did not become healthy in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthError {
    /// Each unhealthy object and what is wrong with it.
    pub unhealthy: Vec<(ObjectId, String)>,
    /// How long was waited (less when an object failed for good).
    pub timeout: Duration,
}

impl fmt::Display for HealthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} object(s) not healthy after {:?}: ",
            self.unhealthy.len(),
            self.timeout
        )?;
        let list: Vec<String> = self
            .unhealthy
            .iter()
            .map(|(id, why)| format!("{}: {why}", subject(id)))
            .collect();
        f.write_str(&list.join("; "))
    }
}

impl std::error::Error for HealthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_error_names_each_object() {
        let err = HealthError {
            unhealthy: vec![
                (
                    ObjectId::new("apps", "web", "apps", "Deployment"),
                    "0 of 2 replicas available".into(),
                ),
                (
                    ObjectId::new(
                        "",
                        "widgets.example.com",
                        "apiextensions.k8s.io",
                        "CustomResourceDefinition",
                    ),
                    "not yet established".into(),
                ),
            ],
            timeout: Duration::from_secs(5),
        };
        assert_eq!(
            err.to_string(),
            "2 object(s) not healthy after 5s: Deployment/apps/web: 0 of 2 replicas available; \
             CustomResourceDefinition/widgets.example.com: not yet established"
        );
    }
}
