//! The error of building or sending a notification. Every variant names the
//! provider type and the failing step; none carries a token, a password, a
//! header value, a response body or the address URL (webhook URLs embed
//! credentials), so Display and Debug are safe to log.

use std::time::Duration;

use crate::provider::ProviderType;

/// Why a notification could not be built or delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The provider configuration cannot work (missing token, bad address...).
    #[error("{provider}: invalid configuration: {reason}")]
    Config {
        /// Provider type.
        provider: ProviderType,
        /// What is wrong, from fixed wording only.
        reason: &'static str,
    },
    /// The event lacks what this provider needs (e.g. a commit revision).
    #[error("{provider}: cannot notify for this event: {reason}")]
    Event {
        /// Provider type.
        provider: ProviderType,
        /// What is missing, from fixed wording only.
        reason: &'static str,
    },
    /// The request never got an HTTP response.
    #[error("{provider}: {step}: request failed: {kind}")]
    Transport {
        /// Provider type.
        provider: ProviderType,
        /// Which request, e.g. `post message`.
        step: &'static str,
        /// Timeout, connection, TLS...
        kind: TransportKind,
    },
    /// The service answered with a non-2xx status.
    #[error("{provider}: {step}: HTTP status {status}")]
    Status {
        /// Provider type.
        provider: ProviderType,
        /// Which request.
        step: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` the service asked for, if any.
        retry_after: Option<Duration>,
    },
    /// The service answered 2xx but reported failure in its body (Slack's
    /// `{"ok": false, "error": ...}`).
    #[error("{provider}: {step}: service reported an error: {code}")]
    Rejected {
        /// Provider type.
        provider: ProviderType,
        /// Which request.
        step: &'static str,
        /// The service's error code, reduced to `[a-z0-9_]` and 64 chars.
        code: String,
    },
}

/// How a request failed before a response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportKind {
    /// The provider timeout elapsed.
    #[error("timed out")]
    Timeout,
    /// Could not connect (DNS, refused, TLS handshake...).
    #[error("connection failed")]
    Connect,
    /// The HTTP client could not be built (bad CA, client cert or proxy).
    #[error("client setup failed")]
    Setup,
    /// Any other failure while sending or reading.
    #[error("request error")]
    Other,
}

impl NotifyError {
    /// Whether a later attempt may succeed: transport failures, 429 and 5xx
    /// other than 501 (the statuses Flux's retrying HTTP client retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            NotifyError::Transport { kind, .. } => *kind != TransportKind::Setup,
            NotifyError::Status { status, .. } => {
                *status == 429 || (*status >= 500 && *status != 501)
            }
            _ => false,
        }
    }

    /// The provider type the error is about.
    pub fn provider(&self) -> ProviderType {
        match self {
            NotifyError::Config { provider, .. }
            | NotifyError::Event { provider, .. }
            | NotifyError::Transport { provider, .. }
            | NotifyError::Status { provider, .. }
            | NotifyError::Rejected { provider, .. } => *provider,
        }
    }

    /// The delay the service asked for with `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            NotifyError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
