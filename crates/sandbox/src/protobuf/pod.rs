//! The pod template (core/v1 `PodTemplateSpec`, `PodSpec`, `Container`)
//! that Deployments, Jobs and CronJobs embed, as `kubectl create
//! deployment|job|cronjob` send it, and as `kubectl create job --from`
//! copies it back from a stored CronJob with the server's defaults filled
//! in. Volumes, probes, affinity, tolerations and container security
//! contexts are not listed: such a body is refused by field number, and
//! `kubectl apply` sends them as JSON.

use super::messages::{LOCAL_OBJECT_REFERENCE, OBJECT_META, STRING_MAP};
use super::{Field, Kind, field, optional, repeated};

const QUANTITY_MAP: Kind = Kind::Map(&Kind::Quantity);

const CONTAINER_PORT: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "hostPort", Kind::Int),
    field(3, "containerPort", Kind::Int),
    field(4, "protocol", Kind::String),
    field(5, "hostIP", Kind::String),
];

const ENV_VAR: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "value", Kind::String),
];

const RESOURCE_REQUIREMENTS: &[Field] = &[
    field(1, "limits", QUANTITY_MAP),
    field(2, "requests", QUANTITY_MAP),
];

const VOLUME_MOUNT: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "readOnly", Kind::Bool),
    field(3, "mountPath", Kind::String),
    field(4, "subPath", Kind::String),
    optional(5, "mountPropagation", Kind::String),
    field(6, "subPathExpr", Kind::String),
    optional(7, "recursiveReadOnly", Kind::String),
];

const CONTAINER: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "image", Kind::String),
    repeated(3, "command", Kind::String),
    repeated(4, "args", Kind::String),
    field(5, "workingDir", Kind::String),
    repeated(6, "ports", Kind::Message(CONTAINER_PORT)),
    repeated(7, "env", Kind::Message(ENV_VAR)),
    field(8, "resources", Kind::Message(RESOURCE_REQUIREMENTS)),
    repeated(9, "volumeMounts", Kind::Message(VOLUME_MOUNT)),
    field(13, "terminationMessagePath", Kind::String),
    field(14, "imagePullPolicy", Kind::String),
    field(16, "stdin", Kind::Bool),
    field(17, "stdinOnce", Kind::Bool),
    field(18, "tty", Kind::Bool),
    field(20, "terminationMessagePolicy", Kind::String),
    optional(24, "restartPolicy", Kind::String),
];

/// Only the scalar settings; a server-defaulted `securityContext: {}`
/// arrives as an empty message.
const POD_SECURITY_CONTEXT: &[Field] = &[
    optional(2, "runAsUser", Kind::Int),
    optional(3, "runAsNonRoot", Kind::Bool),
    repeated(4, "supplementalGroups", Kind::Int),
    optional(5, "fsGroup", Kind::Int),
    optional(6, "runAsGroup", Kind::Int),
    optional(9, "fsGroupChangePolicy", Kind::String),
];

const POD_SPEC: &[Field] = &[
    repeated(2, "containers", Kind::Message(CONTAINER)),
    field(3, "restartPolicy", Kind::String),
    optional(4, "terminationGracePeriodSeconds", Kind::Int),
    optional(5, "activeDeadlineSeconds", Kind::Int),
    field(6, "dnsPolicy", Kind::String),
    field(7, "nodeSelector", STRING_MAP),
    field(8, "serviceAccountName", Kind::String),
    field(9, "serviceAccount", Kind::String),
    field(10, "nodeName", Kind::String),
    field(11, "hostNetwork", Kind::Bool),
    field(12, "hostPID", Kind::Bool),
    field(13, "hostIPC", Kind::Bool),
    field(14, "securityContext", Kind::Message(POD_SECURITY_CONTEXT)),
    repeated(
        15,
        "imagePullSecrets",
        Kind::Message(LOCAL_OBJECT_REFERENCE),
    ),
    field(16, "hostname", Kind::String),
    field(17, "subdomain", Kind::String),
    field(19, "schedulerName", Kind::String),
    repeated(20, "initContainers", Kind::Message(CONTAINER)),
    optional(21, "automountServiceAccountToken", Kind::Bool),
    field(24, "priorityClassName", Kind::String),
    optional(25, "priority", Kind::Int),
    optional(27, "shareProcessNamespace", Kind::Bool),
    optional(29, "runtimeClassName", Kind::String),
    optional(30, "enableServiceLinks", Kind::Bool),
    optional(31, "preemptionPolicy", Kind::String),
    optional(35, "setHostnameAsFQDN", Kind::Bool),
    optional(37, "hostUsers", Kind::Bool),
];

pub(super) const POD_TEMPLATE_SPEC: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(POD_SPEC)),
];
