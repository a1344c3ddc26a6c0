//! Providers: one module per Flux provider type, each turning an [`Event`]
//! into the exact HTTP request(s) the service documents and Flux sends.
//! Building is pure ([`build_requests`]); sending is [`Notifier`]'s.

mod alertmanager;
mod bitbucket;
mod bitbucketserver;
mod config;
mod discord;
mod generic;
mod git;
mod gitea;
mod github;
mod gitlab;
mod googlechat;
mod grafana;
mod http;
mod matrix;
mod msteams;
mod opsgenie;
mod pagerduty;
mod request;
mod slack;
mod telegram;

pub use config::{DEFAULT_TIMEOUT, ProviderConfig, TlsOptions};
pub use git::commit_status_id;
pub use http::Notifier;
pub use request::{HttpMethod, OutgoingRequest};

use std::fmt;
use std::str::FromStr;

use crate::error::NotifyError;
use crate::event::{
    EVENT_GROUP, Event, META_COMMIT, META_COMMIT_STATUS, META_COMMIT_STATUS_UPDATE, Severity,
};

/// A Flux `Provider` `spec.type` this crate can send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProviderType {
    /// `generic`: POST the event JSON.
    Generic,
    /// `generic-hmac`: POST the event JSON signed with `X-Signature`.
    GenericHmac,
    /// `slack`: incoming webhook or `chat.postMessage` with a bot token.
    Slack,
    /// `discord`: Discord's Slack-compatible `/slack` webhook endpoint.
    Discord,
    /// `msteams`: Adaptive Card (Workflows) or legacy MessageCard (connectors).
    MsTeams,
    /// `googlechat`: Google Chat card webhook.
    GoogleChat,
    /// `telegram`: bot API `sendMessage` with MarkdownV2.
    Telegram,
    /// `matrix`: room message with an access token.
    Matrix,
    /// `alertmanager`: Alertmanager v2 alerts array.
    Alertmanager,
    /// `grafana`: Grafana annotations API.
    Grafana,
    /// `opsgenie`: Opsgenie alerts API.
    Opsgenie,
    /// `pagerduty`: Events API v2 (alert and change events).
    PagerDuty,
    /// `github`: commit status.
    GitHub,
    /// `gitlab`: commit status.
    GitLab,
    /// `gitea`: commit status.
    Gitea,
    /// `bitbucket`: Bitbucket Cloud build status.
    Bitbucket,
    /// `bitbucketserver`: Bitbucket Server / Data Center build status.
    BitbucketServer,
}

impl ProviderType {
    /// Every supported type, in a fixed order (metrics index by it).
    pub const ALL: [ProviderType; 17] = [
        ProviderType::Generic,
        ProviderType::GenericHmac,
        ProviderType::Slack,
        ProviderType::Discord,
        ProviderType::MsTeams,
        ProviderType::GoogleChat,
        ProviderType::Telegram,
        ProviderType::Matrix,
        ProviderType::Alertmanager,
        ProviderType::Grafana,
        ProviderType::Opsgenie,
        ProviderType::PagerDuty,
        ProviderType::GitHub,
        ProviderType::GitLab,
        ProviderType::Gitea,
        ProviderType::Bitbucket,
        ProviderType::BitbucketServer,
    ];

    /// The Flux `spec.type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Generic => "generic",
            ProviderType::GenericHmac => "generic-hmac",
            ProviderType::Slack => "slack",
            ProviderType::Discord => "discord",
            ProviderType::MsTeams => "msteams",
            ProviderType::GoogleChat => "googlechat",
            ProviderType::Telegram => "telegram",
            ProviderType::Matrix => "matrix",
            ProviderType::Alertmanager => "alertmanager",
            ProviderType::Grafana => "grafana",
            ProviderType::Opsgenie => "opsgenie",
            ProviderType::PagerDuty => "pagerduty",
            ProviderType::GitHub => "github",
            ProviderType::GitLab => "gitlab",
            ProviderType::Gitea => "gitea",
            ProviderType::Bitbucket => "bitbucket",
            ProviderType::BitbucketServer => "bitbucketserver",
        }
    }

    /// Position in [`ProviderType::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// Whether the type sets commit statuses on a git server.
    pub fn is_commit_status(self) -> bool {
        matches!(
            self,
            ProviderType::GitHub
                | ProviderType::GitLab
                | ProviderType::Gitea
                | ProviderType::Bitbucket
                | ProviderType::BitbucketServer
        )
    }

    fn is_generic(self) -> bool {
        matches!(self, ProviderType::Generic | ProviderType::GenericHmac)
    }
}

impl fmt::Display for ProviderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `spec.type` this crate does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider type {0:?} is not supported")]
pub struct UnsupportedProvider(pub String);

impl FromStr for ProviderType {
    type Err = UnsupportedProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnsupportedProvider(s.to_string()))
    }
}

/// Whether an (ingested, not yet combined) event goes to a provider type,
/// by Flux's `getNotificationParams` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderGate {
    /// Send it.
    Send,
    /// Silently skip: a commit-status update event for a non-git,
    /// non-generic provider.
    Skip,
    /// Skip and log "dropped for commit status providers due to missing
    /// commit metadata key": a git provider and an info event that is
    /// neither a commit status update nor carries `event.toolkit.fluxcd.io/commit`.
    DropMissingCommit,
}

/// Applies Flux's per-provider event gate; call before
/// [`crate::AlertFilter::notification`].
pub fn provider_gate(provider: ProviderType, event: &Event) -> ProviderGate {
    let commit_status_update =
        event.object_group_metadata(META_COMMIT_STATUS) == Some(META_COMMIT_STATUS_UPDATE);
    if !provider.is_commit_status() && !provider.is_generic() && commit_status_update {
        return ProviderGate::Skip;
    }
    let has_commit = event
        .metadata
        .get(&format!("{EVENT_GROUP}/{META_COMMIT}"))
        .is_some_and(|c| !c.is_empty());
    if provider.is_commit_status()
        && !has_commit
        && !commit_status_update
        && event.severity != Severity::Error
    {
        return ProviderGate::DropMissingCommit;
    }
    ProviderGate::Send
}

/// Builds the request(s) `config`'s provider sends for `event` (the event as
/// returned by [`crate::AlertFilter::notification`]). An empty list means
/// the provider deliberately sends nothing for this event (e.g. a
/// `Progressing` event to PagerDuty or a commit status provider).
pub fn build_requests(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    match config.provider_type {
        ProviderType::Generic | ProviderType::GenericHmac => generic::build(config, event),
        ProviderType::Slack => slack::build(config, event),
        ProviderType::Discord => discord::build(config, event),
        ProviderType::MsTeams => msteams::build(config, event),
        ProviderType::GoogleChat => googlechat::build(config, event),
        ProviderType::Telegram => telegram::build(config, event),
        ProviderType::Matrix => matrix::build(config, event),
        ProviderType::Alertmanager => alertmanager::build(config, event),
        ProviderType::Grafana => grafana::build(config, event),
        ProviderType::Opsgenie => opsgenie::build(config, event),
        ProviderType::PagerDuty => pagerduty::build(config, event),
        ProviderType::GitHub => github::build(config, event),
        ProviderType::GitLab => gitlab::build(config, event),
        ProviderType::Gitea => gitea::build(config, event),
        ProviderType::Bitbucket => bitbucket::build(config, event),
        ProviderType::BitbucketServer => bitbucketserver::build(config, event),
    }
}

/// `kind/name.namespace` with the kind lower-cased: the title most chat
/// providers give a message.
fn object_title(event: &Event) -> String {
    let o = &event.involved_object;
    format!("{}/{}.{}", o.kind.to_lowercase(), o.name, o.namespace)
}
