//! apps/v1 Deployment, batch/v1 Job and CronJob and autoscaling/v2
//! HorizontalPodAutoscaler, as `kubectl create deployment|job|cronjob` (and
//! `create job --from=cronjob/...`) and `kubectl autoscale` send them.
//! A client's status is ignored by the server; the status tables hold only
//! the zero counts Go writes.

use super::messages::{LABEL_SELECTOR, OBJECT_META};
use super::pod::POD_TEMPLATE_SPEC;
use super::{Field, Kind, field, optional, repeated};

const ROLLING_UPDATE_DEPLOYMENT: &[Field] = &[
    optional(1, "maxUnavailable", Kind::IntOrString),
    optional(2, "maxSurge", Kind::IntOrString),
];

const DEPLOYMENT_STRATEGY: &[Field] = &[
    field(1, "type", Kind::String),
    field(2, "rollingUpdate", Kind::Message(ROLLING_UPDATE_DEPLOYMENT)),
];

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

const DEPLOYMENT_STATUS: &[Field] = &[
    field(1, "observedGeneration", Kind::Int),
    field(2, "replicas", Kind::Int),
    field(3, "updatedReplicas", Kind::Int),
    field(4, "availableReplicas", Kind::Int),
    field(5, "unavailableReplicas", Kind::Int),
    field(7, "readyReplicas", Kind::Int),
    field(8, "collisionCount", Kind::Int),
    field(9, "terminatingReplicas", Kind::Int),
];

pub(super) const DEPLOYMENT: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(DEPLOYMENT_SPEC)),
    field(3, "status", Kind::Message(DEPLOYMENT_STATUS)),
];

/// Every pointer field is `optional`: `suspend: false` and
/// `backoffLimit: 0` are values the server must keep.
const JOB_SPEC: &[Field] = &[
    optional(1, "parallelism", Kind::Int),
    optional(2, "completions", Kind::Int),
    optional(3, "activeDeadlineSeconds", Kind::Int),
    field(4, "selector", Kind::Message(LABEL_SELECTOR)),
    optional(5, "manualSelector", Kind::Bool),
    field(6, "template", Kind::Message(POD_TEMPLATE_SPEC)),
    optional(7, "backoffLimit", Kind::Int),
    optional(8, "ttlSecondsAfterFinished", Kind::Int),
    optional(9, "completionMode", Kind::String),
    optional(10, "suspend", Kind::Bool),
    optional(12, "backoffLimitPerIndex", Kind::Int),
    optional(13, "maxFailedIndexes", Kind::Int),
    optional(14, "podReplacementPolicy", Kind::String),
    optional(15, "managedBy", Kind::String),
];

const JOB_STATUS: &[Field] = &[
    field(4, "active", Kind::Int),
    field(5, "succeeded", Kind::Int),
    field(6, "failed", Kind::Int),
    field(7, "completedIndexes", Kind::String),
    field(9, "ready", Kind::Int),
    field(10, "failedIndexes", Kind::String),
    field(11, "terminating", Kind::Int),
];

pub(super) const JOB: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(JOB_SPEC)),
    field(3, "status", Kind::Message(JOB_STATUS)),
];

const JOB_TEMPLATE_SPEC: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(JOB_SPEC)),
];

const CRON_JOB_SPEC: &[Field] = &[
    field(1, "schedule", Kind::String),
    optional(2, "startingDeadlineSeconds", Kind::Int),
    field(3, "concurrencyPolicy", Kind::String),
    optional(4, "suspend", Kind::Bool),
    field(5, "jobTemplate", Kind::Message(JOB_TEMPLATE_SPEC)),
    optional(6, "successfulJobsHistoryLimit", Kind::Int),
    optional(7, "failedJobsHistoryLimit", Kind::Int),
    optional(8, "timeZone", Kind::String),
];

/// A client sends an empty status; its active list and times are the
/// server's to write.
const CRON_JOB_STATUS: &[Field] = &[];

pub(super) const CRON_JOB: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(CRON_JOB_SPEC)),
    field(3, "status", Kind::Message(CRON_JOB_STATUS)),
];

const CROSS_VERSION_OBJECT_REFERENCE: &[Field] = &[
    field(1, "kind", Kind::String),
    field(2, "name", Kind::String),
    field(3, "apiVersion", Kind::String),
];

const METRIC_TARGET: &[Field] = &[
    field(1, "type", Kind::String),
    optional(2, "value", Kind::Quantity),
    optional(3, "averageValue", Kind::Quantity),
    optional(4, "averageUtilization", Kind::Int),
];

const RESOURCE_METRIC_SOURCE: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "target", Kind::Message(METRIC_TARGET)),
];

const CONTAINER_RESOURCE_METRIC_SOURCE: &[Field] = &[
    field(1, "name", Kind::String),
    field(2, "target", Kind::Message(METRIC_TARGET)),
    field(3, "container", Kind::String),
];

/// Resource metrics only: object, pods and external metrics need a metrics
/// adapter the sandbox does not have, and are refused by field number.
const METRIC_SPEC: &[Field] = &[
    field(1, "type", Kind::String),
    field(4, "resource", Kind::Message(RESOURCE_METRIC_SOURCE)),
    field(
        7,
        "containerResource",
        Kind::Message(CONTAINER_RESOURCE_METRIC_SOURCE),
    ),
];

const HPA_SCALING_POLICY: &[Field] = &[
    field(1, "type", Kind::String),
    field(2, "value", Kind::Int),
    field(3, "periodSeconds", Kind::Int),
];

const HPA_SCALING_RULES: &[Field] = &[
    optional(1, "selectPolicy", Kind::String),
    repeated(2, "policies", Kind::Message(HPA_SCALING_POLICY)),
    optional(3, "stabilizationWindowSeconds", Kind::Int),
    optional(4, "tolerance", Kind::Quantity),
];

const HPA_BEHAVIOR: &[Field] = &[
    field(1, "scaleUp", Kind::Message(HPA_SCALING_RULES)),
    field(2, "scaleDown", Kind::Message(HPA_SCALING_RULES)),
];

const HPA_SPEC: &[Field] = &[
    field(
        1,
        "scaleTargetRef",
        Kind::Message(CROSS_VERSION_OBJECT_REFERENCE),
    ),
    optional(2, "minReplicas", Kind::Int),
    field(3, "maxReplicas", Kind::Int),
    repeated(4, "metrics", Kind::Message(METRIC_SPEC)),
    field(5, "behavior", Kind::Message(HPA_BEHAVIOR)),
];

const HPA_STATUS: &[Field] = &[
    field(1, "observedGeneration", Kind::Int),
    field(3, "currentReplicas", Kind::Int),
    field(4, "desiredReplicas", Kind::Int),
];

const HPA_V1_SPEC: &[Field] = &[
    field(
        1,
        "scaleTargetRef",
        Kind::Message(CROSS_VERSION_OBJECT_REFERENCE),
    ),
    optional(2, "minReplicas", Kind::Int),
    field(3, "maxReplicas", Kind::Int),
    optional(4, "targetCPUUtilizationPercentage", Kind::Int),
];

const HPA_V1_STATUS: &[Field] = &[
    field(1, "observedGeneration", Kind::Int),
    field(3, "currentReplicas", Kind::Int),
    field(4, "desiredReplicas", Kind::Int),
    optional(5, "currentCPUUtilizationPercentage", Kind::Int),
];

/// autoscaling/v1, as `kubectl autoscale` (1.32) sends it.
pub(super) const HORIZONTAL_POD_AUTOSCALER_V1: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(HPA_V1_SPEC)),
    field(3, "status", Kind::Message(HPA_V1_STATUS)),
];

/// autoscaling/v2, as `kubectl autoscale` (1.37) sends it.
pub(super) const HORIZONTAL_POD_AUTOSCALER: &[Field] = &[
    field(1, "metadata", Kind::Message(OBJECT_META)),
    field(2, "spec", Kind::Message(HPA_SPEC)),
    field(3, "status", Kind::Message(HPA_STATUS)),
];
