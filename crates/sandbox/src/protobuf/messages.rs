//! The message tables: for each kind a client may send in protobuf, its
//! fields as the Kubernetes `generated.proto` files number them, with their
//! JSON names. Only what those clients send is listed; anything else is
//! refused by field number.

use super::{Field, Kind, field, optional, repeated};

const STRING_MAP: Kind = Kind::Map(&Kind::String);
const BYTES_MAP: Kind = Kind::Map(&Kind::Bytes);

/// Timestamps a client sends are ignored by the server; decoding them only
/// keeps the message readable.
const TIME: &[Field] = &[field(1, "seconds", Kind::Int), field(2, "nanos", Kind::Int)];

const OWNER_REFERENCE: &[Field] = &[
    field(1, "kind", Kind::String),
    field(3, "name", Kind::String),
    field(4, "uid", Kind::String),
    field(5, "apiVersion", Kind::String),
    field(6, "controller", Kind::Bool),
    field(7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
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

const OBJECT_REFERENCE: &[Field] = &[
    field(1, "kind", Kind::String),
    field(2, "namespace", Kind::String),
    field(3, "name", Kind::String),
    field(4, "uid", Kind::String),
    field(5, "apiVersion", Kind::String),
    field(6, "resourceVersion", Kind::String),
    field(7, "fieldPath", Kind::String),
];

const LOCAL_OBJECT_REFERENCE: &[Field] = &[field(1, "name", Kind::String)];

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

/// What `kubectl create deployment` sends: Go's encoder writes every
/// non-pointer field, so the common ones are listed even when empty.
/// Resource quantities, probes, volumes and the like are not: such a body
/// is refused by field number, and is sent as JSON by `kubectl apply`.
const CONTAINER_PORT: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "hostPort", Kind::Int),
    field(3, "containerPort", Kind::Int),
    field(4, "protocol", Kind::String),
    field(5, "hostIP", Kind::String),
];

const RESOURCE_REQUIREMENTS: &[Field] = &[];

const CONTAINER: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "image", Kind::String),
    repeated(3, "command", Kind::String),
    repeated(4, "args", Kind::String),
    field(5, "workingDir", Kind::String),
    repeated(6, "ports", Kind::Message(CONTAINER_PORT)),
    field(8, "resources", Kind::Message(RESOURCE_REQUIREMENTS)),
    field(13, "terminationMessagePath", Kind::String),
    field(14, "imagePullPolicy", Kind::String),
    field(16, "stdin", Kind::Bool),
    field(17, "stdinOnce", Kind::Bool),
    field(18, "tty", Kind::Bool),
    field(20, "terminationMessagePolicy", Kind::String),
];

const POD_SPEC: &[Field] = &[
    repeated(2, "containers", Kind::Message(CONTAINER)),
    field(3, "restartPolicy", Kind::String),
    optional(4, "terminationGracePeriodSeconds", Kind::Int),
    field(6, "dnsPolicy", Kind::String),
    field(7, "nodeSelector", STRING_MAP),
    field(8, "serviceAccountName", Kind::String),
    field(9, "serviceAccount", Kind::String),
    field(10, "nodeName", Kind::String),
    field(11, "hostNetwork", Kind::Bool),
    field(12, "hostPID", Kind::Bool),
    field(13, "hostIPC", Kind::Bool),
    repeated(
        15,
        "imagePullSecrets",
        Kind::Message(LOCAL_OBJECT_REFERENCE),
    ),
    field(16, "hostname", Kind::String),
    field(17, "subdomain", Kind::String),
    field(19, "schedulerName", Kind::String),
    repeated(20, "initContainers", Kind::Message(CONTAINER)),
    field(24, "priorityClassName", Kind::String),
];

const POD_TEMPLATE_SPEC: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(POD_SPEC)),
];

const LABEL_SELECTOR_REQUIREMENT: &[Field] = &[
    field(1, "key", Kind::String),
    field(2, "operator", Kind::String),
    repeated(3, "values", Kind::String),
];

const LABEL_SELECTOR: &[Field] = &[
    field(1, "matchLabels", STRING_MAP),
    repeated(
        2,
        "matchExpressions",
        Kind::Message(LABEL_SELECTOR_REQUIREMENT),
    ),
];

const DEPLOYMENT_STRATEGY: &[Field] = &[field(1, "type", Kind::String)];

const DEPLOYMENT_SPEC: &[Field] = &[
    optional(1, "replicas", Kind::Int),
    field(2, "selector", Kind::Message(LABEL_SELECTOR)),
    field(3, "template", Kind::Message(POD_TEMPLATE_SPEC)),
    field(4, "strategy", Kind::Message(DEPLOYMENT_STRATEGY)),
    field(5, "minReadySeconds", Kind::Int),
    optional(6, "revisionHistoryLimit", Kind::Int),
    field(7, "paused", Kind::Bool),
    optional(9, "progressDeadlineSeconds", Kind::Int),
];

/// A client's status is ignored by the server; only the zero counts Go
/// writes are expected.
const DEPLOYMENT_STATUS: &[Field] = &[
    field(1, "observedGeneration", Kind::Int),
    field(2, "replicas", Kind::Int),
    field(3, "updatedReplicas", Kind::Int),
    field(4, "availableReplicas", Kind::Int),
    field(5, "unavailableReplicas", Kind::Int),
    field(7, "readyReplicas", Kind::Int),
];

const DEPLOYMENT: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(DEPLOYMENT_SPEC)),
    field(3, "status", Kind::Message(DEPLOYMENT_STATUS)),
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

const POLICY_RULE: &[Field] = &[
    repeated(1, "verbs", Kind::String),
    repeated(2, "apiGroups", Kind::String),
    repeated(3, "resources", Kind::String),
    repeated(4, "resourceNames", Kind::String),
    repeated(5, "nonResourceURLs", Kind::String),
];

const AGGREGATION_RULE: &[Field] = &[repeated(
    1,
    "clusterRoleSelectors",
    Kind::Message(LABEL_SELECTOR),
)];

/// `kubectl create role` and `create clusterrole` send these.
const ROLE: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    repeated(2, "rules", Kind::Message(POLICY_RULE)),
    field(3, "aggregationRule", Kind::Message(AGGREGATION_RULE)),
];

const SUBJECT: &[Field] = &[
    field(1, "kind", Kind::String),
    field(2, "apiGroup", Kind::String),
    field(3, "name", Kind::String),
    field(4, "namespace", Kind::String),
];

const ROLE_REF: &[Field] = &[
    field(1, "apiGroup", Kind::String),
    field(2, "kind", Kind::String),
    field(3, "name", Kind::String),
];

/// `kubectl create rolebinding` and `create clusterrolebinding` send these.
const ROLE_BINDING: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    repeated(2, "subjects", Kind::Message(SUBJECT)),
    field(3, "roleRef", Kind::Message(ROLE_REF)),
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

/// `kubectl create token` asks with this.
const TOKEN_REQUEST: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(TOKEN_REQUEST_SPEC)),
    field(3, "status", Kind::Message(TOKEN_REQUEST_STATUS)),
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
        ("apps/v1", "Deployment") => Some(DEPLOYMENT),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => Some(SELF_SUBJECT_ACCESS_REVIEW),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => Some(SELF_SUBJECT_RULES_REVIEW),
        ("authorization.k8s.io/v1", "SubjectAccessReview" | "LocalSubjectAccessReview") => {
            Some(SUBJECT_ACCESS_REVIEW)
        }
        ("rbac.authorization.k8s.io/v1", "Role" | "ClusterRole") => Some(ROLE),
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => {
            Some(ROLE_BINDING)
        }
        ("authentication.k8s.io/v1", "TokenRequest") => Some(TOKEN_REQUEST),
        // client-go registers DeleteOptions in every group version; the
        // core clients send it as `v1`, the others as `meta.k8s.io/v1`.
        ("v1" | "meta.k8s.io/v1", "DeleteOptions") => Some(DELETE_OPTIONS),
        _ => None,
    }
}
