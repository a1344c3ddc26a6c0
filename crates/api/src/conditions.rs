//! Status conditions as Flux writes them: the type and reason names, one
//! constructor per condition, and a pure merge that keeps
//! `lastTransitionTime` unless the status changed.
//!
//! Owns the vocabulary and the merge. Must not read clocks or objects: the
//! caller passes `now`, so reconcilers stay testable and a reconcile that
//! changes nothing but time can skip its status patch (see the `bool` that
//! [`set_condition`] returns).
//!
//! Constructors leave `lastTransitionTime` at the epoch and
//! `observedGeneration` unset; [`set_condition`] fills the time. Set the
//! generation with struct update syntax:
//!
//! ```
//! use driftless_api::conditions::{self, reasons, types};
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
//! use k8s_openapi::jiff::Timestamp;
//!
//! let mut status = Vec::new();
//! let now = Time(Timestamp::from_second(1_700_000_000).unwrap());
//! let ready = Condition {
//!     observed_generation: Some(2),
//!     ..conditions::ready(reasons::SUCCEEDED, "stored artifact for revision 'main@sha1:abc'")
//! };
//! assert!(conditions::set_condition(&mut status, ready.clone(), &now));
//! // The same condition later changes nothing, not even the time.
//! let later = Time(Timestamp::from_second(1_700_000_600).unwrap());
//! assert!(!conditions::set_condition(&mut status, ready, &later));
//! assert_eq!(status[0].last_transition_time, now);
//! assert!(conditions::is_true(&status, types::READY));
//! ```

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types.
pub mod types {
    /// The object reconciled successfully (all kinds).
    pub const READY: &str = "Ready";
    /// A reconcile is under way (abnormal-true: present only when True).
    pub const RECONCILING: &str = "Reconciling";
    /// Reconciling cannot progress without a change to the object
    /// (abnormal-true).
    pub const STALLED: &str = "Stalled";
    /// The last health assessment of a Kustomization's objects.
    pub const HEALTHY: &str = "Healthy";
    /// A source could not be fetched (abnormal-true).
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// A source's artifact is stored and served.
    pub const ARTIFACT_IN_STORAGE: &str = "ArtifactInStorage";
    /// A source's artifact could not be built (abnormal-true).
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A storage operation failed (abnormal-true).
    pub const STORAGE_OPERATION_FAILED: &str = "StorageOperationFailed";
    /// An included GitRepository is missing or has no artifact
    /// (abnormal-true).
    pub const INCLUDE_UNAVAILABLE: &str = "IncludeUnavailable";
    /// Beyond Flux: another Kustomization renders an object this one
    /// renders too (abnormal-true, naming both and the object).
    pub const OWNERSHIP_CONFLICT: &str = "OwnershipConflict";
    /// A HelmRelease's last install or upgrade (or its remediation) and
    /// whether it succeeded.
    pub const RELEASED: &str = "Released";
    /// A HelmRelease's failed release was rolled back or uninstalled.
    pub const REMEDIATED: &str = "Remediated";
    /// A HelmRelease's tests passed.
    pub const TEST_SUCCESS: &str = "TestSuccess";
}

/// Condition reasons.
pub mod reasons {
    /// The operation succeeded.
    pub const SUCCEEDED: &str = "Succeeded";
    /// A reconcile is under way.
    pub const PROGRESSING: &str = "Progressing";
    /// A failed reconcile will be retried.
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    /// Reconciling is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// A dependency is not ready.
    pub const DEPENDENCY_NOT_READY: &str = "DependencyNotReady";
    /// The reconcile succeeded.
    pub const RECONCILIATION_SUCCEEDED: &str = "ReconciliationSucceeded";
    /// The reconcile failed (for a Kustomization: the apply).
    pub const RECONCILIATION_FAILED: &str = "ReconciliationFailed";
    /// A Kustomization's source artifact could not be fetched or verified.
    pub const ARTIFACT_FAILED: &str = "ArtifactFailed";
    /// A Kustomization's build (Kustomize, substitution) failed.
    pub const BUILD_FAILED: &str = "BuildFailed";
    /// A health check failed or timed out.
    pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
    /// Pruning failed.
    pub const PRUNE_FAILED: &str = "PruneFailed";
    /// A git operation (clone, fetch, checkout) failed.
    pub const GIT_OPERATION_FAILED: &str = "GitOperationFailed";
    /// The source URL is invalid.
    pub const URL_INVALID: &str = "URLInvalid";
    /// Credentials are missing fields or were refused.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// A stat of a path failed.
    pub const STAT_OPERATION_FAILED: &str = "StatOperationFailed";
    /// A path is invalid (escapes the tree, for instance).
    pub const INVALID_PATH: &str = "InvalidPath";
    /// Archiving failed.
    pub const ARCHIVE_OPERATION_FAILED: &str = "ArchiveOperationFailed";
    /// An included GitRepository does not exist (Flux's include reason).
    pub const INCLUDE_NOT_FOUND: &str = "NotFound";
    /// An included GitRepository has no artifact yet.
    pub const NO_ARTIFACT: &str = "NoArtifact";
    /// An included artifact could not be copied (no `fromPath` in it, unreadable).
    pub const COPY_FAILURE: &str = "CopyFailure";
    /// A GitRepository includes itself, directly or through others.
    pub const INCLUDE_CYCLE: &str = "IncludeCycle";
    /// A spec field driftless cannot honour yet: refused, never ignored.
    pub const UNSUPPORTED_FIELD: &str = "UnsupportedField";
    /// Two Kustomizations render the same object; the current owner keeps it.
    pub const OWNERSHIP_CONFLICT: &str = "OwnershipConflict";
    /// A Helm install finished.
    pub const INSTALL_SUCCEEDED: &str = "InstallSucceeded";
    /// A Helm install failed.
    pub const INSTALL_FAILED: &str = "InstallFailed";
    /// A Helm upgrade finished.
    pub const UPGRADE_SUCCEEDED: &str = "UpgradeSucceeded";
    /// A Helm upgrade failed.
    pub const UPGRADE_FAILED: &str = "UpgradeFailed";
    /// A failed release was rolled back.
    pub const ROLLBACK_SUCCEEDED: &str = "RollbackSucceeded";
    /// A failed release was uninstalled.
    pub const UNINSTALL_SUCCEEDED: &str = "UninstallSucceeded";
    /// A remediating rollback failed (`Remediated` False).
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// A remediating uninstall failed (`Remediated` False).
    pub const UNINSTALL_FAILED: &str = "UninstallFailed";
    /// A HelmRelease's Helm tests passed.
    pub const TEST_SUCCEEDED: &str = "TestSucceeded";
    /// A HelmRelease's Helm tests failed.
    pub const TEST_FAILED: &str = "TestFailed";
    /// A release kept failing after its retries; a change to the object is
    /// needed.
    pub const RETRIES_EXCEEDED: &str = "RetriesExceeded";
    /// The chart, values or release storage could not be read.
    pub const INIT_FAILED: &str = "InitFailed";
    /// An image automation could not apply its policies to the files.
    pub const UPDATE_FAILED: &str = "UpdateFailed";
    /// An image automation's `spec.update` names no strategy we have.
    pub const INVALID_UPDATE_STRATEGY: &str = "InvalidUpdateStrategy";
    /// An image automation's source is not a usable git source.
    pub const INVALID_SOURCE_CONFIG: &str = "InvalidSourceConfig";
    /// An image automation's `spec.policySelector` is not a valid selector.
    pub const INVALID_POLICY_SELECTOR: &str = "InvalidPolicySelector";
    /// A cross-namespace reference the referred object's `accessFrom` (or
    /// `--no-cross-namespace-refs`) does not allow.
    pub const ACCESS_DENIED: &str = "AccessDenied";
    /// An ArtifactGenerator's source is missing, not ready, or its
    /// artifact cannot be downloaded.
    pub const SOURCE_FETCH_FAILED: &str = "SourceFetchFailed";
    /// An ArtifactGenerator's spec breaks a rule its schema cannot state
    /// (duplicate aliases or names, an unknown `revision` alias).
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// An ImageRepository's `spec.image` (or the one an ImagePolicy refers
    /// to) is not an image name.
    pub const IMAGE_URL_INVALID: &str = "ImageURLInvalid";
    /// Reading from a registry failed (an ImageRepository's scan).
    pub const READ_OPERATION_FAILED: &str = "ReadOperationFailed";
    /// An ImagePolicy reflects digests `Always` without `spec.interval`.
    pub const INTERVAL_NOT_CONFIGURED: &str = "IntervalNotConfigured";
    /// An ImagePolicy's rule or tag filter cannot be used.
    pub const INVALID_POLICY: &str = "InvalidPolicy";
    /// Any other failure (Kubernetes' `metav1.StatusFailure`, as Flux's
    /// image-reflector-controller reports it).
    pub const FAILURE: &str = "Failure";
}

/// Condition status values.
pub mod status {
    /// The condition holds.
    pub const TRUE: &str = "True";
    /// The condition does not hold.
    pub const FALSE: &str = "False";
    /// Not known (yet).
    pub const UNKNOWN: &str = "Unknown";
}

/// The longest message Flux stores in a condition; longer ones are cut.
pub const MAX_MESSAGE_LENGTH: usize = 20_000;

/// A condition of any type; prefer the named constructors below.
pub fn condition(type_: &str, status: &str, reason: &str, message: impl Into<String>) -> Condition {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE_LENGTH {
        let mut cut = MAX_MESSAGE_LENGTH;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    Condition {
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
        message,
        observed_generation: None,
        reason: reason.to_string(),
        status: status.to_string(),
        type_: type_.to_string(),
    }
}

/// `Ready=True`.
pub fn ready(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::READY, status::TRUE, reason, message)
}

/// `Ready=False`.
pub fn not_ready(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::READY, status::FALSE, reason, message)
}

/// `Reconciling=True`.
pub fn reconciling(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::RECONCILING, status::TRUE, reason, message)
}

/// `Stalled=True`.
pub fn stalled(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::STALLED, status::TRUE, reason, message)
}

/// `Healthy=True`.
pub fn healthy(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::HEALTHY, status::TRUE, reason, message)
}

/// `Healthy=False`.
pub fn unhealthy(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::HEALTHY, status::FALSE, reason, message)
}

/// `FetchFailed=True`.
pub fn fetch_failed(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::FETCH_FAILED, status::TRUE, reason, message)
}

/// `ArtifactInStorage=True`.
pub fn artifact_in_storage(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::ARTIFACT_IN_STORAGE, status::TRUE, reason, message)
}

/// `StorageOperationFailed=True`.
pub fn storage_operation_failed(reason: &str, message: impl Into<String>) -> Condition {
    condition(
        types::STORAGE_OPERATION_FAILED,
        status::TRUE,
        reason,
        message,
    )
}

/// `IncludeUnavailable=True`.
pub fn include_unavailable(reason: &str, message: impl Into<String>) -> Condition {
    condition(types::INCLUDE_UNAVAILABLE, status::TRUE, reason, message)
}

/// Puts `new` into `conditions`, replacing the condition of the same type.
///
/// `lastTransitionTime` becomes `now` when the type is new or its status
/// changed, and stays as it was otherwise. Returns whether anything other
/// than the time changed, so a caller can skip a time-only status patch.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition, now: &Time) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            new.last_transition_time = if old.status == new.status {
                old.last_transition_time.clone()
            } else {
                now.clone()
            };
            let changed = *old != new;
            *old = new;
            changed
        }
        None => {
            new.last_transition_time = now.clone();
            conditions.push(new);
            true
        }
    }
}

/// Removes the condition of this type; returns whether there was one.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The condition of this type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of this type is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == status::TRUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).expect("a valid second"))
    }

    #[test]
    fn new_type_gets_now() {
        let mut conditions = Vec::new();
        assert!(set_condition(
            &mut conditions,
            reconciling(reasons::PROGRESSING, "x"),
            &at(10)
        ));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert_eq!(conditions[0].type_, types::RECONCILING);
        assert_eq!(conditions[0].status, status::TRUE);
    }

    #[test]
    fn same_status_keeps_time_but_takes_new_reason_and_message() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            not_ready(reasons::BUILD_FAILED, "a"),
            &at(10),
        );
        let changed = set_condition(
            &mut conditions,
            not_ready(reasons::HEALTH_CHECK_FAILED, "b"),
            &at(20),
        );
        assert!(changed);
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert_eq!(conditions[0].reason, reasons::HEALTH_CHECK_FAILED);
        assert_eq!(conditions[0].message, "b");
    }

    #[test]
    fn status_change_takes_now() {
        let mut conditions = Vec::new();
        set_condition(
            &mut conditions,
            not_ready(reasons::BUILD_FAILED, "a"),
            &at(10),
        );
        set_condition(&mut conditions, healthy(reasons::SUCCEEDED, "ok"), &at(11));
        assert!(set_condition(
            &mut conditions,
            ready(reasons::SUCCEEDED, "ok"),
            &at(30)
        ));
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0].last_transition_time, at(30));
        assert_eq!(conditions[0].status, status::TRUE);
        assert_eq!(conditions[1].last_transition_time, at(11));
    }

    #[test]
    fn identical_condition_is_no_change() {
        let mut conditions = Vec::new();
        let c = Condition {
            observed_generation: Some(3),
            ..ready(reasons::SUCCEEDED, "applied revision main@sha1:abc")
        };
        set_condition(&mut conditions, c.clone(), &at(10));
        let before = conditions.clone();
        assert!(!set_condition(&mut conditions, c, &at(99)));
        assert_eq!(conditions, before);
    }

    #[test]
    fn generation_change_is_a_change() {
        let mut conditions = Vec::new();
        let c = ready(reasons::SUCCEEDED, "ok");
        set_condition(&mut conditions, c.clone(), &at(10));
        let next = Condition {
            observed_generation: Some(2),
            ..c
        };
        assert!(set_condition(&mut conditions, next, &at(20)));
        assert_eq!(conditions[0].last_transition_time, at(10));
    }

    #[test]
    fn remove_and_find() {
        let mut a = Vec::new();
        set_condition(&mut a, stalled(reasons::BUILD_FAILED, "x"), &at(1));
        set_condition(&mut a, not_ready(reasons::BUILD_FAILED, "x"), &at(1));
        assert!(is_true(&a, types::STALLED));
        assert!(!is_true(&a, types::READY));
        assert!(remove_condition(&mut a, types::STALLED));
        assert!(!remove_condition(&mut a, types::STALLED));
        assert!(find(&a, types::STALLED).is_none());
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_LENGTH);
        let c = not_ready(reasons::BUILD_FAILED, long);
        assert!(c.message.len() <= MAX_MESSAGE_LENGTH);
        assert!(c.message.chars().all(|ch| ch == 'é'));
    }
}
