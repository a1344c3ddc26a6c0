//! The message tables shared by every group (metadata, the envelope,
//! label selectors, quantities, int-or-strings), the core kinds without a
//! pod template, the access reviews and `DeleteOptions`, and the lookup
//! from a body's apiVersion and kind to its table. Fields are numbered as
//! the Kubernetes `generated.proto` files number them, with their JSON
//! names; anything else is refused by field number.

use super::{Field, Kind, cluster, field, optional, rbac, repeated, workloads};

pub(super) const STRING_MAP: Kind = Kind::Map(&Kind::String);
const BYTES_MAP: Kind = Kind::Map(&Kind::Bytes);

/// Timestamps a client sends are ignored by the server; decoding them only
/// keeps the message readable.
pub(super) const TIME: &[Field] = &[field(1, "seconds", Kind::Int), field(2, "nanos", Kind::Int)];

const OWNER_REFERENCE: &[Field] = &[
    field(1, "kind", Kind::String),
    field(3, "name", Kind::String),
    field(4, "uid", Kind::String),
    field(5, "apiVersion", Kind::String),
    optional(6, "controller", Kind::Bool),
    optional(7, "blockOwnerDeletion", Kind::Bool),
];

pub(super) const OBJECT_META: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "generateName", Kind::String),
    field(3, "namespace", Kind::String),
    field(4, "selfLink", Kind::String),
    field(5, "uid", Kind::String),
    field(6, "resourceVersion", Kind::String),
    field(7, "generation", Kind::Int),
    field(8, "creationTimestamp", Kind::Message(TIME)),
    field(11, "labels", STRING_MAP),
    field(12, "annotations", STRING_MAP),
    repeated(13, "ownerReferences", Kind::Message(OWNER_REFERENCE)),
    repeated(14, "finalizers", Kind::String),
];

const NAMESPACE_SPEC: &[Field] = &[repeated(1, "finalizers", Kind::String)];

const NAMESPACE_STATUS: &[Field] = &[field(1, "phase", Kind::String)];

const NAMESPACE: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(NAMESPACE_SPEC)),
    field(3, "status", Kind::Message(NAMESPACE_STATUS)),
];

const CONFIG_MAP: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "data", STRING_MAP),
    field(3, "binaryData", BYTES_MAP),
    field(4, "immutable", Kind::Bool),
];

const SECRET: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "data", BYTES_MAP),
    field(3, "type", Kind::String),
    field(4, "stringData", STRING_MAP),
    field(5, "immutable", Kind::Bool),
];

pub(super) const OBJECT_REFERENCE: &[Field] = &[
    field(1, "kind", Kind::String),
    field(2, "namespace", Kind::String),
    field(3, "name", Kind::String),
    field(4, "uid", Kind::String),
    field(5, "apiVersion", Kind::String),
    field(6, "resourceVersion", Kind::String),
    field(7, "fieldPath", Kind::String),
];

pub(super) const LOCAL_OBJECT_REFERENCE: &[Field] = &[field(1, "name", Kind::String)];

const SERVICE_ACCOUNT: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    repeated(2, "secrets", Kind::Message(OBJECT_REFERENCE)),
    repeated(3, "imagePullSecrets", Kind::Message(LOCAL_OBJECT_REFERENCE)),
    field(4, "automountServiceAccountToken", Kind::Bool),
];

const PRECONDITIONS: &[Field] = &[
    field(1, "uid", Kind::String),
    field(2, "resourceVersion", Kind::String),
];

const DELETE_OPTIONS: &[Field] = &[
    field(1, "gracePeriodSeconds", Kind::Int),
    field(2, "preconditions", Kind::Message(PRECONDITIONS)),
    field(3, "orphanDependents", Kind::Bool),
    field(4, "propagationPolicy", Kind::String),
    repeated(5, "dryRun", Kind::String),
    field(
        6,
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        Kind::Bool,
    ),
];

const RESOURCE_ATTRIBUTES: &[Field] = &[
    field(1, "namespace", Kind::String),
    field(2, "verb", Kind::String),
    field(3, "group", Kind::String),
    field(4, "version", Kind::String),
    field(5, "resource", Kind::String),
    field(6, "subresource", Kind::String),
    field(7, "name", Kind::String),
];

const NON_RESOURCE_ATTRIBUTES: &[Field] = &[
    field(1, "path", Kind::String),
    field(2, "verb", Kind::String),
];

const ACCESS_REVIEW_SPEC: &[Field] = &[
    field(1, "resourceAttributes", Kind::Message(RESOURCE_ATTRIBUTES)),
    field(
        2,
        "nonResourceAttributes",
        Kind::Message(NON_RESOURCE_ATTRIBUTES),
    ),
];

const ACCESS_REVIEW_STATUS: &[Field] = &[
    field(1, "allowed", Kind::Bool),
    field(2, "reason", Kind::String),
    field(3, "evaluationError", Kind::String),
    field(4, "denied", Kind::Bool),
];

/// `kubectl auth can-i` asks with this.
const SELF_SUBJECT_ACCESS_REVIEW: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(ACCESS_REVIEW_SPEC)),
    field(3, "status", Kind::Message(ACCESS_REVIEW_STATUS)),
];

const RULES_REVIEW_SPEC: &[Field] = &[field(1, "namespace", Kind::String)];

/// A client sends no rules, only Go's zero values of the rest.
const RULES_REVIEW_STATUS: &[Field] = &[
    field(3, "incomplete", Kind::Bool),
    field(4, "evaluationError", Kind::String),
];

/// `kubectl auth can-i --list` asks with this.
const SELF_SUBJECT_RULES_REVIEW: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(RULES_REVIEW_SPEC)),
    field(3, "status", Kind::Message(RULES_REVIEW_STATUS)),
];

/// `SubjectAccessReview` and `LocalSubjectAccessReview` name the subject.
const SUBJECT_ACCESS_REVIEW_SPEC: &[Field] = &[
    field(1, "resourceAttributes", Kind::Message(RESOURCE_ATTRIBUTES)),
    field(
        2,
        "nonResourceAttributes",
        Kind::Message(NON_RESOURCE_ATTRIBUTES),
    ),
    field(3, "user", Kind::String),
    repeated(4, "groups", Kind::String),
    field(6, "uid", Kind::String),
];

const SUBJECT_ACCESS_REVIEW: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(SUBJECT_ACCESS_REVIEW_SPEC)),
    field(3, "status", Kind::Message(ACCESS_REVIEW_STATUS)),
];

const BOUND_OBJECT_REFERENCE: &[Field] = &[
    field(1, "kind", Kind::String),
    field(2, "apiVersion", Kind::String),
    field(3, "name", Kind::String),
    field(4, "uid", Kind::String),
];

const TOKEN_REQUEST_SPEC: &[Field] = &[
    repeated(1, "audiences", Kind::String),
    field(3, "boundObjectRef", Kind::Message(BOUND_OBJECT_REFERENCE)),
    optional(4, "expirationSeconds", Kind::Int),
];

const TOKEN_REQUEST_STATUS: &[Field] = &[
    field(1, "token", Kind::String),
    field(2, "expirationTimestamp", Kind::Message(TIME)),
];

const USER_INFO: &[Field] = &[
    field(1, "username", Kind::String),
    field(2, "uid", Kind::String),
    repeated(3, "groups", Kind::String),
];

const SELF_SUBJECT_REVIEW_STATUS: &[Field] = &[field(1, "userInfo", Kind::Message(USER_INFO))];

/// `kubectl auth whoami` asks with this (metadata only; the status is the answer).
const SELF_SUBJECT_REVIEW: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "status", Kind::Message(SELF_SUBJECT_REVIEW_STATUS)),
];

/// `kubectl create token` asks with this.
const TOKEN_REQUEST: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(TOKEN_REQUEST_SPEC)),
    field(3, "status", Kind::Message(TOKEN_REQUEST_STATUS)),
];

const LABEL_SELECTOR_REQUIREMENT: &[Field] = &[
    field(1, "key", Kind::String),
    field(2, "operator", Kind::String),
    repeated(3, "values", Kind::String),
];

pub(super) const LABEL_SELECTOR: &[Field] = &[
    field(1, "matchLabels", STRING_MAP),
    repeated(
        2,
        "matchExpressions",
        Kind::Message(LABEL_SELECTOR_REQUIREMENT),
    ),
];

/// `resource.Quantity` on the wire; see [`Kind::Quantity`].
pub(super) const QUANTITY: &[Field] = &[field(1, "string", Kind::String)];

/// `intstr.IntOrString` on the wire; see [`Kind::IntOrString`].
pub(super) const INT_OR_STRING: &[Field] = &[
    field(1, "type", Kind::Int),
    field(2, "intVal", Kind::Int),
    field(3, "strVal", Kind::String),
];

const TYPE_META: &[Field] = &[
    field(1, "apiVersion", Kind::String),
    field(2, "kind", Kind::String),
];

pub(super) const UNKNOWN: &[Field] = &[
    field(1, "typeMeta", Kind::Message(TYPE_META)),
    field(2, "raw", Kind::Bytes),
    field(3, "contentEncoding", Kind::String),
    field(4, "contentType", Kind::String),
];

pub(super) fn schema_for(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    match (api_version, kind) {
        ("v1", "Namespace") => Some(NAMESPACE),
        ("v1", "ConfigMap") => Some(CONFIG_MAP),
        ("v1", "Secret") => Some(SECRET),
        ("v1", "ServiceAccount") => Some(SERVICE_ACCOUNT),
        ("apps/v1", "Deployment") => Some(workloads::DEPLOYMENT),
        ("batch/v1", "Job") => Some(workloads::JOB),
        ("batch/v1", "CronJob") => Some(workloads::CRON_JOB),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => Some(workloads::HORIZONTAL_POD_AUTOSCALER),
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            Some(workloads::HORIZONTAL_POD_AUTOSCALER_V1)
        }
        ("v1", "Service") => Some(cluster::SERVICE),
        ("v1", "ResourceQuota") => Some(cluster::RESOURCE_QUOTA),
        ("networking.k8s.io/v1", "Ingress") => Some(cluster::INGRESS),
        ("policy/v1", "PodDisruptionBudget") => Some(cluster::POD_DISRUPTION_BUDGET),
        ("scheduling.k8s.io/v1", "PriorityClass") => Some(cluster::PRIORITY_CLASS),
        ("rbac.authorization.k8s.io/v1", "Role") => Some(rbac::ROLE),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => Some(rbac::CLUSTER_ROLE),
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => {
            Some(rbac::BINDING)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => Some(SELF_SUBJECT_ACCESS_REVIEW),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => Some(SELF_SUBJECT_RULES_REVIEW),
        ("authorization.k8s.io/v1", "SubjectAccessReview" | "LocalSubjectAccessReview") => {
            Some(SUBJECT_ACCESS_REVIEW)
        }
        ("authentication.k8s.io/v1", "TokenRequest") => Some(TOKEN_REQUEST),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => Some(SELF_SUBJECT_REVIEW),
        // client-go registers DeleteOptions in every group version; the
        // core clients send it as `v1`, the others as `meta.k8s.io/v1`.
        ("v1" | "meta.k8s.io/v1", "DeleteOptions") => Some(DELETE_OPTIONS),
        _ => None,
    }
}
