//! A GitRepository's status as a pure function of (object, outcome): the
//! conditions Flux's source-controller writes, the artifact as the status
//! shows it, and the failure reasons of the source crate's errors. No I/O;
//! tested without a cluster.

use driftless_api::conditions::{self, reasons, types};
use driftless_api::{GitRepository, GitRepositoryStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::reconciler::{ReconcileError, Stamp};

/// The status after storing (or finding unchanged) `artifact`.
pub(super) fn succeeded(
    repo: &GitRepository,
    mut status: GitRepositoryStatus,
    artifact: driftless_api::meta::Artifact,
    stamp: &Stamp,
) -> GitRepositoryStatus {
    let message = stored_message(&artifact);
    let mut list = status.conditions.take().unwrap_or_default();
    for gone in [
        types::RECONCILING,
        types::STALLED,
        types::FETCH_FAILED,
        types::STORAGE_OPERATION_FAILED,
        types::INCLUDE_UNAVAILABLE,
    ] {
        conditions::remove_condition(&mut list, gone);
    }
    conditions::set_condition(
        &mut list,
        conditions::ready(reasons::SUCCEEDED, &message),
        &stamp.now,
    );
    conditions::set_condition(
        &mut list,
        conditions::artifact_in_storage(reasons::SUCCEEDED, &message),
        &stamp.now,
    );
    status.conditions = Some(list);
    status.artifact = Some(artifact);
    status.observed_generation = repo.metadata.generation;
    status.observed_ignore = repo.spec.ignore.clone();
    if stamp.requested.is_some() {
        status.last_handled_reconcile_at = stamp.requested.clone();
    }
    status
}

/// The Ready message (and the NewArtifact event's).
pub(super) fn stored_message(artifact: &driftless_api::meta::Artifact) -> String {
    format!("stored artifact for revision '{}'", artifact.revision)
}

/// The status after `error`: the previous artifact stays.
pub(super) fn failed(
    repo: &GitRepository,
    error: &ReconcileError,
    stamp: &Stamp,
) -> GitRepositoryStatus {
    let (reason, message) = (error.reason, error.message.as_str());
    let mut status = repo.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::set_condition(
        &mut list,
        conditions::not_ready(reason, message),
        &stamp.now,
    );
    conditions::set_condition(&mut list, failure_condition(reason, message), &stamp.now);
    if error.is_stalled() {
        conditions::remove_condition(&mut list, types::RECONCILING);
        conditions::set_condition(&mut list, conditions::stalled(reason, message), &stamp.now);
    } else {
        conditions::remove_condition(&mut list, types::STALLED);
        conditions::set_condition(
            &mut list,
            conditions::reconciling(
                reasons::PROGRESSING_WITH_RETRY,
                "retrying at the next interval",
            ),
            &stamp.now,
        );
    }
    status.conditions = Some(list);
    status.observed_generation = repo.metadata.generation;
    if stamp.requested.is_some() {
        status.last_handled_reconcile_at = stamp.requested.clone();
    }
    status
}

/// The abnormal-true condition that says what failed, chosen by reason.
fn failure_condition(reason: &str, message: &str) -> Condition {
    match reason {
        reasons::ARCHIVE_OPERATION_FAILED | reasons::STAT_OPERATION_FAILED => {
            conditions::storage_operation_failed(reason, message)
        }
        // INVALID_PATH is only used for include paths here.
        reasons::INCLUDE_NOT_FOUND
        | reasons::NO_ARTIFACT
        | reasons::COPY_FAILURE
        | reasons::INCLUDE_CYCLE
        | reasons::INVALID_PATH => conditions::include_unavailable(reason, message),
        _ => conditions::fetch_failed(reason, message),
    }
}

/// A fetch error as the status reports it.
pub(super) fn fetch_failed(error: &driftless_source::Error) -> ReconcileError {
    let (reason, stalled) = classify(error);
    if stalled {
        ReconcileError::stalled(reason, describe(error))
    } else {
        ReconcileError::retryable(reason, describe(error))
    }
}

/// The condition reason for a source error, and whether retrying cannot help
/// until the spec changes (`Stalled`).
fn classify(error: &driftless_source::Error) -> (&'static str, bool) {
    use driftless_source::Error as E;
    match error {
        E::InvalidIncludePath { .. } => (reasons::INVALID_PATH, true),
        E::Include { .. } | E::IncludeFromPathNotFound { .. } => (reasons::COPY_FAILURE, false),
        // A submodule fails the way its own fetch did (auth, unreachable, ...).
        E::Submodule { source, .. } => classify(source),
        E::InvalidUrl { .. } => (reasons::URL_INVALID, true),
        E::InvalidSemver { .. } | E::IgnorePattern { .. } => (reasons::GIT_OPERATION_FAILED, true),
        E::AuthFailed { .. } | E::HostKeyVerification { .. } => {
            (reasons::AUTHENTICATION_FAILED, false)
        }
        E::SymlinkEscape { .. } | E::UnsafePath { .. } | E::FileTooLarge { .. } => {
            (reasons::ARCHIVE_OPERATION_FAILED, false)
        }
        E::Io { .. } | E::DigestMismatch { .. } => (reasons::STAT_OPERATION_FAILED, false),
        _ => (reasons::GIT_OPERATION_FAILED, false),
    }
}

/// The error, its causes and what to do, on one line.
pub(crate) fn describe(error: &driftless_source::Error) -> String {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    message
}

pub(crate) fn to_source_artifact(
    artifact: &driftless_api::meta::Artifact,
) -> Option<driftless_source::Artifact> {
    Some(driftless_source::Artifact {
        path: artifact.path.clone(),
        revision: artifact.revision.clone(),
        digest: artifact.digest.clone()?,
        size: u64::try_from(artifact.size?).ok()?,
        last_update_time: time::OffsetDateTime::from_unix_timestamp_nanos(
            artifact.last_update_time.0.as_nanosecond(),
        )
        .ok()?,
    })
}

/// Where this controller serves the artifact stored at `path`.
pub(crate) fn artifact_url(base_url: &str, path: &str) -> String {
    format!("{}/{path}", base_url.trim_end_matches('/'))
}

/// What the sources' [`Reconciler::refresh_failed_status`] does to the
/// artifact they keep: when this controller's storage holds it, its URL
/// names this controller's artifact server.
///
/// [`Reconciler::refresh_failed_status`]: crate::reconciler::Reconciler::refresh_failed_status
pub(crate) fn refresh_artifact_url(
    artifact: Option<&mut driftless_api::meta::Artifact>,
    context: &crate::Context,
) {
    if let Some(artifact) = artifact
        && context
            .fetcher
            .storage()
            .root()
            .join(&artifact.path)
            .is_file()
    {
        artifact.url = artifact_url(&context.artifact_base_url, &artifact.path);
    }
}

pub(crate) fn to_status_artifact(
    artifact: &driftless_source::Artifact,
    base_url: &str,
) -> driftless_api::meta::Artifact {
    driftless_api::meta::Artifact {
        path: artifact.path.clone(),
        url: artifact_url(base_url, &artifact.path),
        revision: artifact.revision.clone(),
        digest: Some(artifact.digest.clone()),
        last_update_time: Time(
            Timestamp::from_nanosecond(artifact.last_update_time.unix_timestamp_nanos())
                .unwrap_or(Timestamp::UNIX_EPOCH),
        ),
        size: i64::try_from(artifact.size).ok(),
        metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            now: Time(Timestamp::from_second(100).expect("time")),
            requested: None,
        }
    }

    fn artifact(revision: &str) -> driftless_api::meta::Artifact {
        driftless_api::meta::Artifact {
            path: "gitrepository/ns/app/1.tar.gz".into(),
            url: "http://artifacts/gitrepository/ns/app/1.tar.gz".into(),
            revision: revision.into(),
            digest: Some("sha256:1".into()),
            last_update_time: Time(Timestamp::UNIX_EPOCH),
            size: Some(1),
            metadata: None,
        }
    }

    fn types_of(status: &GitRepositoryStatus) -> Vec<(&str, &str)> {
        let mut list: Vec<_> = status
            .conditions
            .iter()
            .flatten()
            .map(|c| (c.type_.as_str(), c.status.as_str()))
            .collect();
        list.sort_unstable();
        list
    }

    #[test]
    fn a_retryable_fetch_failure_keeps_the_artifact_and_says_it_retries() {
        let mut repo = GitRepository::test("app");
        let stored = succeeded(
            &repo,
            GitRepositoryStatus::default(),
            artifact("main@sha1:1"),
            &stamp(),
        );
        repo.status = Some(stored);
        let error = ReconcileError::retryable(reasons::AUTHENTICATION_FAILED, "wrong password");
        let status = failed(&repo, &error, &stamp());
        assert_eq!(
            status.artifact.map(|a| a.revision).as_deref(),
            Some("main@sha1:1")
        );
        assert_eq!(
            types_of(&failed(&repo, &error, &stamp())),
            [
                ("ArtifactInStorage", "True"),
                ("FetchFailed", "True"),
                ("Ready", "False"),
                ("Reconciling", "True")
            ]
        );
    }

    #[test]
    fn a_stalled_include_failure_names_the_include_condition() {
        let repo = GitRepository::test("app");
        let error = ReconcileError::stalled(reasons::INCLUDE_CYCLE, "includes itself");
        assert_eq!(
            types_of(&failed(&repo, &error, &stamp())),
            [
                ("IncludeUnavailable", "True"),
                ("Ready", "False"),
                ("Stalled", "True")
            ]
        );
    }

    #[test]
    fn success_clears_the_failure_conditions() {
        let mut repo = GitRepository::test("app");
        let error = ReconcileError::retryable(reasons::GIT_OPERATION_FAILED, "unreachable");
        repo.status = Some(failed(&repo, &error, &stamp()));
        let status = succeeded(
            &repo,
            repo.status.clone().expect("status"),
            artifact("main@sha1:2"),
            &stamp(),
        );
        assert_eq!(
            types_of(&status),
            [("ArtifactInStorage", "True"), ("Ready", "True")]
        );
    }
}
