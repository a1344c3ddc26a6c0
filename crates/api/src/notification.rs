//! Flux's notification kinds: `Provider` and `Alert`
//! (`notification.toolkit.fluxcd.io/v1beta3`: where events go and which
//! events go there) and `Receiver` (`notification.toolkit.fluxcd.io/v1`: a
//! webhook that makes objects reconcile now).
//!
//! Owns the resources' shape and CRD metadata. Must not send, verify or
//! match anything: that is the notify crate's job. As in Flux, Providers
//! and Alerts have no status (they are read when an event arrives); a
//! Receiver reports its webhook path.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::LocalObjectReference;
use crate::{GoDuration, is_false};

/// Where alerts are sent: a chat, an incident tool, or a git host's commit
/// statuses.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Provider",
    plural = "providers",
    namespaced,
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "Provider is the Schema for the providers API.",
    derive = "PartialEq",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSpec {
    /// The service the alerts go to.
    #[serde(rename = "type")]
    pub type_: ProviderType,
    /// Deprecated in Flux and unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// The channel, room or chat to post to, where the type has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub channel: Option<String>,
    /// The bot's display name, where the type has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub username: Option<String>,
    /// The endpoint: a webhook URL, or the repository for commit statuses.
    /// Prefer the `address` key of `secretRef`: webhook URLs are secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub address: Option<String>,
    /// How long one request may take; 15s when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::duration::timeout_schema")]
    pub timeout: Option<GoDuration>,
    /// An HTTP(S) proxy for the requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^(http|https)://.*$"))]
    pub proxy: Option<String>,
    /// Secret with the proxy (`address`, `username`, `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Secret with `address`, `token`, `username`, `password` and `headers`
    /// (a YAML map of extra HTTP headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// ServiceAccount for workload identity (cloud providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with `ca.crt` (and `tls.crt`/`tls.key` for client
    /// certificates) for the endpoint's TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<LocalObjectReference>,
    /// Stops sending while true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// A CEL expression for the commit status's key (git providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_status_expr: Option<String>,
}

/// The provider types of Flux's API. Which ones driftless can send to is
/// the notify crate's list; the others are refused when an alert fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs, reason = "each variant is the service of the same name")]
pub enum ProviderType {
    Slack,
    Discord,
    Msteams,
    Rocket,
    Generic,
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    Github,
    Gitlab,
    Gitea,
    Giteapullrequestcomment,
    Bitbucketserver,
    Bitbucket,
    Azuredevops,
    Googlechat,
    Googlepubsub,
    Webex,
    Sentry,
    Azureeventhub,
    Telegram,
    Lark,
    Matrix,
    Opsgenie,
    Alertmanager,
    Grafana,
    Githubdispatch,
    Githubpullrequestcomment,
    Gitlabmergerequestcomment,
    Pagerduty,
    Datadog,
    Nats,
    Zulip,
    Otel,
}

impl ProviderType {
    /// The type's name as written in the spec (`generic-hmac`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// Which events go to which Provider.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1beta3",
    kind = "Alert",
    plural = "alerts",
    namespaced,
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "Alert is the Schema for the alerts API.",
    derive = "PartialEq",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    /// The Provider, in the Alert's namespace.
    pub provider_ref: LocalObjectReference,
    /// `info` takes every event, `error` only errors; `info` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_severity: Option<EventSeverity>,
    /// The objects whose events this Alert takes.
    pub event_sources: Vec<EventSource>,
    /// Regular expressions a message must match one of to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_list: Option<Vec<String>>,
    /// Metadata added to every event sent (never overriding the event's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_metadata: Option<BTreeMap<String, String>>,
    /// Regular expressions a message must match none of to be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusion_list: Option<Vec<String>>,
    /// A short description of the impact (deprecated in Flux for
    /// `eventMetadata`); sent as the `summary` metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub summary: Option<String>,
    /// Stops sending while true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// The severities an Alert filters on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventSeverity {
    /// Every event.
    #[default]
    Info,
    /// Only errors.
    Error,
}

/// Objects an Alert listens to, or a Receiver reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// API version of the objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the objects (`Kustomization`, `GitRepository`, …).
    pub kind: String,
    /// Name of the object, or `*` for all (then `matchLabels` may narrow).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the objects; the referrer's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub namespace: Option<String>,
    /// Labels the objects must have (with `name: "*"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// A webhook that makes objects reconcile now.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats `type_`; they are separate columns"
)]
#[kube(
    group = "notification.toolkit.fluxcd.io",
    version = "v1",
    kind = "Receiver",
    plural = "receivers",
    namespaced,
    status = "ReceiverStatus",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-notifications",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "Receiver is the Schema for the receivers API.",
    derive = "PartialEq",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSpec {
    /// Who calls the webhook, which decides how a call is verified.
    #[serde(rename = "type")]
    pub type_: ReceiverType,
    /// How often the Receiver is reconciled; 10m when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// The event types (e.g. GitHub's `push`) that trigger; all when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// The objects annotated to reconcile when a call is accepted.
    pub resources: Vec<ReceiverResource>,
    /// A CEL expression filtering the resources (not supported by driftless yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_filter: Option<String>,
    /// Secret whose `token` both names the webhook path and verifies calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Stops accepting calls while true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

/// One object (or set of objects) a Receiver reconciles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverResource {
    /// The objects.
    #[serde(flatten)]
    pub target: EventSource,
    /// A CEL expression filtering them (not supported by driftless yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// The callers a Receiver can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs, reason = "each variant is the service of the same name")]
pub enum ReceiverType {
    Generic,
    #[serde(rename = "generic-hmac")]
    GenericHmac,
    #[serde(rename = "generic-oidc")]
    GenericOidc,
    Github,
    Gitlab,
    Bitbucket,
    Harbor,
    Dockerhub,
    Quay,
    Gcr,
    Nexus,
    Acr,
    Cdevents,
}

/// What the controller reports of a Receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverStatus {
    /// The last `reconcile.fluxcd.io/requestedAt` handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Ready and Stalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// `/hook/<sha256(token + name + namespace)>`: where the webhook is served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl ReceiverType {
    /// The type's name as written in the spec (`generic-hmac`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

impl Receiver {
    /// The conditions in the status, empty when there are none.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_objects_read_and_write_back_unchanged() {
        let alert = serde_json::json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
            "kind": "Alert",
            "metadata": {"name": "on-call", "namespace": "flux-system"},
            "spec": {
                "providerRef": {"name": "slack"},
                "eventSeverity": "error",
                "eventSources": [
                    {"kind": "Kustomization", "name": "*", "matchLabels": {"team": "a"}},
                    {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}
                ],
                "exclusionList": ["^Dependencies"],
                "eventMetadata": {"cluster": "prod"}
            }
        });
        let parsed: Alert = serde_json::from_value(alert.clone()).expect("alert");
        assert_eq!(parsed.spec.event_severity, Some(EventSeverity::Error));
        assert_eq!(serde_json::to_value(&parsed).expect("json"), alert);

        let provider = serde_json::json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
            "kind": "Provider",
            "metadata": {"name": "hmac", "namespace": "flux-system"},
            "spec": {"type": "generic-hmac", "secretRef": {"name": "webhook"}}
        });
        let parsed: Provider = serde_json::from_value(provider.clone()).expect("provider");
        assert_eq!(parsed.spec.type_, ProviderType::GenericHmac);
        assert_eq!(parsed.spec.type_.as_str(), "generic-hmac");
        assert_eq!(serde_json::to_value(&parsed).expect("json"), provider);

        let receiver = serde_json::json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1",
            "kind": "Receiver",
            "metadata": {"name": "github", "namespace": "flux-system"},
            "spec": {
                "type": "github",
                "events": ["ping", "push"],
                "secretRef": {"name": "webhook-token"},
                "resources": [{"kind": "GitRepository", "name": "fleet"}]
            }
        });
        let parsed: Receiver = serde_json::from_value(receiver.clone()).expect("receiver");
        assert_eq!(parsed.spec.resources[0].target.name, "fleet");
        assert_eq!(serde_json::to_value(&parsed).expect("json"), receiver);
    }
}
