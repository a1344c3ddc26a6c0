//! The one failure shape every reconciler returns: a condition reason, a
//! message a person can act on, whether retrying can help, and what it
//! names. The scaffold turns it into `Ready=False` (and `Stalled` when
//! retrying cannot help), a Warning event, a log line and the requeue.

use std::time::Duration;

use driftless_api::conditions::{self, reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::events::EventType;

/// When a failed reconcile runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Not until the object changes: the spec itself is the problem.
    Stalled,
    /// After the kind's retry interval (`retryInterval`, else `interval`).
    AtRetryInterval,
    /// After this long (a dependency expected to become ready soon).
    After(Duration),
}

/// A reconcile that failed, as the user will read it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ReconcileError {
    /// The condition reason, one of [`driftless_api::conditions::reasons`].
    pub reason: &'static str,
    /// What failed and what to do, naming the object, file or field.
    pub message: String,
    /// When to try again.
    pub retry: Retry,
    /// The source revision the failed attempt was on, when one was known
    /// (`lastAttemptedRevision`, and the event's revision).
    pub revision: Option<String>,
}

impl ReconcileError {
    /// A failure that may pass by itself: retried at the retry interval.
    pub fn retryable(reason: &'static str, message: impl Into<String>) -> ReconcileError {
        ReconcileError {
            reason,
            message: message.into(),
            retry: Retry::AtRetryInterval,
            revision: None,
        }
    }

    /// A failure only a change of the object can fix (`Stalled=True`).
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> ReconcileError {
        ReconcileError {
            retry: Retry::Stalled,
            ..ReconcileError::retryable(reason, message)
        }
    }

    /// A spec field we cannot honour yet: refused, never silently ignored.
    pub fn unsupported_field(kind: &str, field: &str) -> ReconcileError {
        ReconcileError::stalled(
            reasons::UNSUPPORTED_FIELD,
            format!(
                "spec.{field} is not supported by driftless yet; remove it, or reconcile this {kind} with Flux"
            ),
        )
    }

    /// Retry after `delay` instead of the retry interval.
    pub fn retry_after(mut self, delay: Duration) -> ReconcileError {
        self.retry = Retry::After(delay);
        self
    }

    /// Records the revision the failed attempt was on.
    pub fn on_revision(mut self, revision: impl Into<String>) -> ReconcileError {
        self.revision = Some(revision.into());
        self
    }

    /// Whether retrying cannot help until the object changes.
    pub fn is_stalled(&self) -> bool {
        self.retry == Retry::Stalled
    }

    /// Writes the failure into `conditions`: `Ready=False` with its reason
    /// and message, and `Stalled=True` when retrying cannot help (else no
    /// `Stalled`). Kinds add their own conditions around it.
    pub fn mark(&self, conditions: &mut Vec<Condition>, now: &Time) {
        conditions::set_condition(
            conditions,
            conditions::not_ready(self.reason, &self.message),
            now,
        );
        if self.is_stalled() {
            conditions::remove_condition(conditions, types::RECONCILING);
            conditions::set_condition(
                conditions,
                conditions::stalled(self.reason, &self.message),
                now,
            );
        } else {
            conditions::remove_condition(conditions, types::STALLED);
        }
    }

    /// The error with credentials in URLs masked (`https://user:***@host`,
    /// `https://***@host` for a bare token), so a secret someone put in a
    /// URL reaches no condition, event or log through an error message.
    pub fn redacted(mut self) -> ReconcileError {
        self.message = redact_urls(&self.message);
        self
    }

    /// Waiting on a dependency is normal operation, not a warning.
    pub fn event_type(&self) -> EventType {
        if self.reason == reasons::DEPENDENCY_NOT_READY {
            EventType::Normal
        } else {
            EventType::Warning
        }
    }
}

/// Masks the password of `scheme://user:password@` and the whole user part
/// of an HTTP(S) URL that carries only one (a token), wherever they appear.
fn redact_urls(text: &str) -> String {
    static PASSWORD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]+):[^/@\s]+@")
            .expect("a valid pattern")
    });
    static TOKEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(https?://)[^/@\s:*]+@").expect("a valid pattern")
    });
    let text = PASSWORD.replace_all(text, "$1:***@");
    TOKEN.replace_all(&text, "$1***@").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_masked() {
        let error = ReconcileError::retryable(
            reasons::GIT_OPERATION_FAILED,
            "cannot reach git server at https://bot:s3cret@git.example.com/app.git; also https://ghp_TOKEN@github.com/x and ssh://git@host/repo",
        )
        .redacted();
        assert!(
            !error.message.contains("s3cret") && !error.message.contains("ghp_TOKEN"),
            "{error}"
        );
        assert!(
            error
                .message
                .contains("https://bot:***@git.example.com/app.git"),
            "{error}"
        );
        assert!(
            error.message.contains("https://***@github.com/x"),
            "{error}"
        );
        assert!(error.message.contains("ssh://git@host/repo"), "{error}");
    }

    #[test]
    fn unsupported_fields_stall_and_name_the_field() {
        let error = ReconcileError::unsupported_field("Kustomization", "kubeConfig");
        assert!(error.is_stalled());
        assert_eq!(error.reason, "UnsupportedField");
        assert!(error.message.contains("spec.kubeConfig"), "{error}");
        assert_eq!(error.event_type(), EventType::Warning);
    }

    #[test]
    fn waiting_for_a_dependency_is_a_normal_event_retried_soon() {
        let error = ReconcileError::retryable(reasons::DEPENDENCY_NOT_READY, "not ready")
            .retry_after(Duration::from_secs(5));
        assert_eq!(error.event_type(), EventType::Normal);
        assert_eq!(error.retry, Retry::After(Duration::from_secs(5)));
        assert!(!error.is_stalled());
    }
}
