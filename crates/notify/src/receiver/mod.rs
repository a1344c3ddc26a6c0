//! Receivers: webhook requests in, accept or reject. [`webhook_path`] is the
//! secret URL path Flux gives a Receiver; [`verify`] checks one request for
//! a receiver type with Flux's semantics. Every secret comparison is
//! constant time; no rejection echoes a secret.
//!
//! For the lead's HTTP handler (Flux's answers): read at most
//! [`crate::max_body_bytes`]`() + 1` bytes (413 when over), look the Receiver
//! up by the request path (404 if none; 503 if suspended or not ready), call
//! [`verify`] and answer [`Rejected::status`] (400, or 413) on `Err`. On
//! `Ok`, annotate the Receiver's resources when [`Accepted::reconcile`] and
//! answer 200 (500 if annotating failed).

mod payload;
mod signature;

use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use crate::event::max_body_bytes;

pub use payload::{IdTokenClaims, IdTokenVerifier};

/// The path prefix of every receiver webhook.
pub const WEBHOOK_PATH_PREFIX: &str = "/hook/";

/// Flux's webhook path: `/hook/<hex sha256(token + name + namespace)>`.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    format!("{WEBHOOK_PATH_PREFIX}{}", hex::encode(digest))
}

/// A Flux `Receiver` `spec.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiverType {
    /// `generic`: the secret path is the only check.
    Generic,
    /// `generic-hmac`: `X-Signature: sha1|sha256|sha512=<hex HMAC>`.
    GenericHmac,
    /// `github` (also Gitea): `X-Hub-Signature-256`/`X-Hub-Signature`, event filter.
    GitHub,
    /// `gitlab`: `X-Gitlab-Token` equals the token, event filter.
    GitLab,
    /// `bitbucket` (Server): `X-Hub-Signature` HMAC, `X-Event-Key` filter.
    Bitbucket,
    /// `harbor`: `Authorization` equals the token.
    Harbor,
    /// `dockerhub`: payload shape only.
    DockerHub,
    /// `quay`: payload shape only.
    Quay,
    /// `gcr`: Pub/Sub push with a Google ID token, then payload shape.
    Gcr,
    /// `nexus`: `X-Nexus-Webhook-Signature` HMAC-SHA1.
    Nexus,
    /// `acr`: payload shape only.
    Acr,
    /// `cdevents`: CDEvents body, `Ce-Type` event filter.
    CdEvents,
}

impl ReceiverType {
    /// Every supported type.
    pub const ALL: [ReceiverType; 12] = [
        ReceiverType::Generic,
        ReceiverType::GenericHmac,
        ReceiverType::GitHub,
        ReceiverType::GitLab,
        ReceiverType::Bitbucket,
        ReceiverType::Harbor,
        ReceiverType::DockerHub,
        ReceiverType::Quay,
        ReceiverType::Gcr,
        ReceiverType::Nexus,
        ReceiverType::Acr,
        ReceiverType::CdEvents,
    ];

    /// The Flux `spec.type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverType::Generic => "generic",
            ReceiverType::GenericHmac => "generic-hmac",
            ReceiverType::GitHub => "github",
            ReceiverType::GitLab => "gitlab",
            ReceiverType::Bitbucket => "bitbucket",
            ReceiverType::Harbor => "harbor",
            ReceiverType::DockerHub => "dockerhub",
            ReceiverType::Quay => "quay",
            ReceiverType::Gcr => "gcr",
            ReceiverType::Nexus => "nexus",
            ReceiverType::Acr => "acr",
            ReceiverType::CdEvents => "cdevents",
        }
    }
}

impl fmt::Display for ReceiverType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A receiver `spec.type` this crate does not support (e.g. `generic-oidc`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receiver type {0:?} is not supported")]
pub struct UnsupportedReceiver(pub String);

impl FromStr for ReceiverType {
    type Err = UnsupportedReceiver;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnsupportedReceiver(s.to_string()))
    }
}

/// What `gcr` receivers check the Pub/Sub ID token against (secret keys
/// `email` and `audience`) and who verifies its signature.
#[derive(Clone, Copy)]
pub struct GcrAuth<'a> {
    /// The push subscription's service account email.
    pub email: &'a str,
    /// The expected `aud` claim.
    pub audience: &'a str,
    /// Verifies the JWT signature against Google's keys (network, so the
    /// controller's; this crate never fetches).
    pub verifier: &'a dyn IdTokenVerifier,
}

impl fmt::Debug for GcrAuth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcrAuth")
            .field("email", &self.email)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The Receiver's settings that verification needs.
#[derive(Clone, Copy)]
pub struct ReceiverSpec<'a> {
    /// `spec.type`.
    pub receiver_type: ReceiverType,
    /// The secret's `token`.
    pub token: &'a str,
    /// `spec.events`: allowed event types (case-insensitive); empty allows all.
    pub events: &'a [String],
    /// Required for `gcr`.
    pub gcr: Option<GcrAuth<'a>>,
}

impl fmt::Debug for ReceiverSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverSpec")
            .field("receiver_type", &self.receiver_type)
            .field("token", &"<redacted>")
            .field("events", &self.events)
            .field("gcr", &self.gcr)
            .finish()
    }
}

/// A verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Whether to request reconciliation of the Receiver's resources
    /// (`false` for a GitHub `ping`).
    pub reconcile: bool,
    /// The event type the sender named, when the type has one.
    pub event: Option<String>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The body is over [`crate::max_body_bytes`].
    #[error("body exceeds {} bytes (raise {})", max_body_bytes(), driftless_limits::Limit::WebhookBodyBytes.flag())]
    BodyTooLarge,
    /// The Receiver has no token but the type needs one.
    #[error("the receiver has no token")]
    NoToken,
    /// A required header is absent.
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    /// A signature header does not match the body.
    #[error("signature in {0} does not match the body")]
    BadSignature(&'static str),
    /// A shared-secret header is not the token.
    #[error("header {0} does not match the receiver token")]
    TokenMismatch(&'static str),
    /// The event type is not in `spec.events`.
    #[error("event type {0:?} is not allowed by the receiver")]
    EventNotAllowed(String),
    /// The content type is neither JSON nor a form (GitHub-style payloads).
    #[error("unsupported content type")]
    UnsupportedContentType,
    /// The body is not the payload this type expects.
    #[error("invalid {0} payload: {1}")]
    InvalidPayload(&'static str, &'static str),
    /// A `gcr` receiver was called without [`GcrAuth`].
    #[error("gcr receiver needs an email, an audience and an ID token verifier")]
    GcrNotConfigured,
    /// The Pub/Sub ID token failed verification.
    #[error("cannot authenticate GCR request: {0}")]
    GcrToken(&'static str),
}

/// A refused request: the HTTP status to answer and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{receiver_type} webhook rejected ({status}): {reason}")]
pub struct Rejected {
    /// Receiver type.
    pub receiver_type: ReceiverType,
    /// HTTP status: 413 for [`RejectReason::BodyTooLarge`], else 400 (Flux).
    pub status: u16,
    /// Why.
    pub reason: RejectReason,
}

/// Verifies one webhook request for a receiver with Flux's semantics.
pub fn verify(
    spec: &ReceiverSpec<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Accepted, Rejected> {
    let reject = |reason: RejectReason| Rejected {
        receiver_type: spec.receiver_type,
        status: if reason == RejectReason::BodyTooLarge {
            413
        } else {
            400
        },
        reason,
    };
    if body.len() > max_body_bytes() {
        return Err(reject(RejectReason::BodyTooLarge));
    }
    check(spec, headers, body).map_err(reject)
}

fn check(
    spec: &ReceiverSpec<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Accepted, RejectReason> {
    let accepted = |event: Option<String>| Accepted {
        reconcile: true,
        event,
    };
    match spec.receiver_type {
        ReceiverType::Generic => Ok(accepted(None)),
        ReceiverType::GenericHmac => {
            signature::verify_prefixed(headers, "X-Signature", token(spec)?, body)?;
            Ok(accepted(None))
        }
        ReceiverType::GitHub => {
            signature::verify_github_style(headers, token(spec)?, body)?;
            let event =
                header(headers, "X-GitHub-Event").or_else(|| header(headers, "X-Gitea-Event"));
            let event = event.unwrap_or_default();
            // GitHub sends `ping` when a webhook is created: answer it, reconcile nothing.
            if event.eq_ignore_ascii_case("ping") {
                return Ok(Accepted {
                    reconcile: false,
                    event: Some(event),
                });
            }
            allowed(spec, event).map(|e| accepted(Some(e)))
        }
        ReceiverType::GitLab => {
            signature::verify_shared_token(headers, "X-Gitlab-Token", token(spec)?)?;
            allowed(spec, header(headers, "X-Gitlab-Event").unwrap_or_default())
                .map(|e| accepted(Some(e)))
        }
        ReceiverType::Bitbucket => {
            signature::verify_github_style(headers, token(spec)?, body)?;
            allowed(spec, header(headers, "X-Event-Key").unwrap_or_default())
                .map(|e| accepted(Some(e)))
        }
        ReceiverType::Harbor => {
            signature::verify_shared_token(headers, "Authorization", token(spec)?)?;
            Ok(accepted(None))
        }
        ReceiverType::Nexus => {
            signature::verify_nexus(headers, token(spec)?, body)?;
            payload::nexus(body)?;
            Ok(accepted(None))
        }
        ReceiverType::DockerHub => payload::dockerhub(body).map(|_| accepted(None)),
        ReceiverType::Quay => payload::quay(body).map(|_| accepted(None)),
        ReceiverType::Acr => payload::acr(body).map(|_| accepted(None)),
        ReceiverType::Gcr => {
            let auth = spec.gcr.ok_or(RejectReason::GcrNotConfigured)?;
            payload::gcr(&auth, header(headers, "Authorization").as_deref(), body)
                .map(|_| accepted(None))
        }
        ReceiverType::CdEvents => {
            payload::cdevent(body)?;
            allowed(spec, header(headers, "Ce-Type").unwrap_or_default()).map(|e| accepted(Some(e)))
        }
    }
}

fn token<'a>(spec: &ReceiverSpec<'a>) -> Result<&'a str, RejectReason> {
    if spec.token.is_empty() {
        Err(RejectReason::NoToken)
    } else {
        Ok(spec.token)
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Applies `spec.events` (case-insensitive; empty allows everything).
fn allowed(spec: &ReceiverSpec<'_>, event: String) -> Result<String, RejectReason> {
    if spec.events.is_empty() || spec.events.iter().any(|e| e.eq_ignore_ascii_case(&event)) {
        return Ok(event);
    }
    // The event name is sender-chosen, not secret; bound it for logs.
    let shown: String = event.chars().filter(|c| !c.is_control()).take(64).collect();
    Err(RejectReason::EventNotAllowed(shown))
}
