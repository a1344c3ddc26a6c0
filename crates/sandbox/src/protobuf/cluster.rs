//! Service, ResourceQuota (core/v1), Ingress (networking.k8s.io/v1),
//! PodDisruptionBudget (policy/v1) and PriorityClass (scheduling.k8s.io/v1),
//! as `kubectl create service|quota|ingress|poddisruptionbudget|priorityclass`
//! send them. Load balancer status is the server's to write; clients send
//! it empty.

use super::messages::{LABEL_SELECTOR, OBJECT_META, STRING_MAP};
use super::{Field, Kind, field, optional, repeated};

const SERVICE_PORT: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "protocol", Kind::String),
    field(3, "port", Kind::Int),
    field(4, "targetPort", Kind::IntOrString),
    field(5, "nodePort", Kind::Int),
    optional(6, "appProtocol", Kind::String),
];

const CLIENT_IP_CONFIG: &[Field] = &[optional(1, "timeoutSeconds", Kind::Int)];

const SESSION_AFFINITY_CONFIG: &[Field] = &[field(1, "clientIP", Kind::Message(CLIENT_IP_CONFIG))];

const SERVICE_SPEC: &[Field] = &[
    repeated(1, "ports", Kind::Message(SERVICE_PORT)),
    field(2, "selector", STRING_MAP),
    field(3, "clusterIP", Kind::String),
    field(4, "type", Kind::String),
    repeated(5, "externalIPs", Kind::String),
    field(7, "sessionAffinity", Kind::String),
    field(8, "loadBalancerIP", Kind::String),
    repeated(9, "loadBalancerSourceRanges", Kind::String),
    field(10, "externalName", Kind::String),
    field(11, "externalTrafficPolicy", Kind::String),
    field(12, "healthCheckNodePort", Kind::Int),
    field(13, "publishNotReadyAddresses", Kind::Bool),
    field(
        14,
        "sessionAffinityConfig",
        Kind::Message(SESSION_AFFINITY_CONFIG),
    ),
    optional(17, "ipFamilyPolicy", Kind::String),
    repeated(18, "clusterIPs", Kind::String),
    repeated(19, "ipFamilies", Kind::String),
    optional(20, "allocateLoadBalancerNodePorts", Kind::Bool),
    optional(21, "loadBalancerClass", Kind::String),
    optional(22, "internalTrafficPolicy", Kind::String),
    optional(23, "trafficDistribution", Kind::String),
];

/// `LoadBalancerStatus` and `IngressLoadBalancerStatus` as clients send
/// them: with no ingress points.
const LOAD_BALANCER_STATUS: &[Field] = &[];

const SERVICE_STATUS: &[Field] = &[field(
    1,
    "loadBalancer",
    Kind::Message(LOAD_BALANCER_STATUS),
)];

pub(super) const SERVICE: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(SERVICE_SPEC)),
    field(3, "status", Kind::Message(SERVICE_STATUS)),
];

const SCOPED_RESOURCE_SELECTOR_REQUIREMENT: &[Field] = &[
    field(1, "scopeName", Kind::String),
    field(2, "operator", Kind::String),
    repeated(3, "values", Kind::String),
];

const SCOPE_SELECTOR: &[Field] = &[repeated(
    1,
    "matchExpressions",
    Kind::Message(SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
)];

const RESOURCE_QUOTA_SPEC: &[Field] = &[
    field(1, "hard", Kind::Map(&Kind::Quantity)),
    repeated(2, "scopes", Kind::String),
    field(3, "scopeSelector", Kind::Message(SCOPE_SELECTOR)),
];

const RESOURCE_QUOTA_STATUS: &[Field] = &[];

pub(super) const RESOURCE_QUOTA: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(RESOURCE_QUOTA_SPEC)),
    field(3, "status", Kind::Message(RESOURCE_QUOTA_STATUS)),
];

const SERVICE_BACKEND_PORT: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "number", Kind::Int),
];

const INGRESS_SERVICE_BACKEND: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "port", Kind::Message(SERVICE_BACKEND_PORT)),
];

const TYPED_LOCAL_OBJECT_REFERENCE: &[Field] = &[
    optional(1, "apiGroup", Kind::String),
    field(2, "kind", Kind::String),
    field(3, "name", Kind::String),
];

const INGRESS_BACKEND: &[Field] = &[
    field(3, "resource", Kind::Message(TYPED_LOCAL_OBJECT_REFERENCE)),
    field(4, "service", Kind::Message(INGRESS_SERVICE_BACKEND)),
];

const HTTP_INGRESS_PATH: &[Field] = &[
    field(1, "path", Kind::String),
    field(2, "backend", Kind::Message(INGRESS_BACKEND)),
    optional(3, "pathType", Kind::String),
];

const HTTP_INGRESS_RULE_VALUE: &[Field] = &[repeated(1, "paths", Kind::Message(HTTP_INGRESS_PATH))];

/// JSON shows `http` on the rule itself: Go inlines `ingressRuleValue`.
const INGRESS_RULE_VALUE: &[Field] = &[field(1, "http", Kind::Message(HTTP_INGRESS_RULE_VALUE))];

const INGRESS_RULE: &[Field] = &[
    field(1, "host", Kind::String),
    field(2, "ingressRuleValue", Kind::Inline(INGRESS_RULE_VALUE)),
];

const INGRESS_TLS: &[Field] = &[
    repeated(1, "hosts", Kind::String),
    field(2, "secretName", Kind::String),
];

const INGRESS_SPEC: &[Field] = &[
    field(1, "defaultBackend", Kind::Message(INGRESS_BACKEND)),
    repeated(2, "tls", Kind::Message(INGRESS_TLS)),
    repeated(3, "rules", Kind::Message(INGRESS_RULE)),
    optional(4, "ingressClassName", Kind::String),
];

const INGRESS_STATUS: &[Field] = &[field(
    1,
    "loadBalancer",
    Kind::Message(LOAD_BALANCER_STATUS),
)];

pub(super) const INGRESS: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(INGRESS_SPEC)),
    field(3, "status", Kind::Message(INGRESS_STATUS)),
];

const POD_DISRUPTION_BUDGET_SPEC: &[Field] = &[
    optional(1, "minAvailable", Kind::IntOrString),
    field(2, "selector", Kind::Message(LABEL_SELECTOR)),
    optional(3, "maxUnavailable", Kind::IntOrString),
    optional(4, "unhealthyPodEvictionPolicy", Kind::String),
];

const POD_DISRUPTION_BUDGET_STATUS: &[Field] = &[
    field(1, "observedGeneration", Kind::Int),
    field(3, "disruptionsAllowed", Kind::Int),
    field(4, "currentHealthy", Kind::Int),
    field(5, "desiredHealthy", Kind::Int),
    field(6, "expectedPods", Kind::Int),
];

pub(super) const POD_DISRUPTION_BUDGET: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(POD_DISRUPTION_BUDGET_SPEC)),
    field(3, "status", Kind::Message(POD_DISRUPTION_BUDGET_STATUS)),
];

/// `value` is required and 0 is a valid priority, so a zero is kept.
pub(super) const PRIORITY_CLASS: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    optional(2, "value", Kind::Int),
    field(3, "globalDefault", Kind::Bool),
    field(4, "description", Kind::String),
    optional(5, "preemptionPolicy", Kind::String),
];
