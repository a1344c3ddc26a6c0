//! rbac.authorization.k8s.io/v1 Role, ClusterRole and their bindings, as
//! `kubectl create role|clusterrole|rolebinding|clusterrolebinding` send
//! them. The two bindings share one message shape; only a ClusterRole
//! has an `aggregationRule`.

use super::messages::{LABEL_SELECTOR, OBJECT_META};
use super::{Field, Kind, field, repeated};

/// Empty strings in these lists are values: `apiGroups: [""]` is the core group.
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

pub(super) const ROLE: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    repeated(2, "rules", Kind::Message(POLICY_RULE)),
];

pub(super) const CLUSTER_ROLE: &[Field] = &[
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

pub(super) const BINDING: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    repeated(2, "subjects", Kind::Message(SUBJECT)),
    field(3, "roleRef", Kind::Message(ROLE_REF)),
];
