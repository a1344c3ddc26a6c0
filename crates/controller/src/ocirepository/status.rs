//! An OCIRepository's status as a pure function of (object, outcome): the
//! conditions Flux's source-controller writes, and the failure reasons of
//! the OCI client's errors.

use driftless_api::conditions::reasons;
use driftless_api::{OCIRepository, OCIRepositoryStatus};
use driftless_source::oci::OciError;

use crate::reconciler::{ReconcileError, Stamp};
use crate::source_status;

/// The status after a pull that stored (or kept) `artifact`.
pub(super) fn succeeded(
    repo: &OCIRepository,
    mut status: OCIRepositoryStatus,
    artifact: driftless_api::meta::Artifact,
    stamp: &Stamp,
) -> OCIRepositoryStatus {
    let mut list = status.conditions.take().unwrap_or_default();
    source_status::mark_stored(
        &mut list,
        reasons::SUCCEEDED,
        &stored_message(&artifact),
        true,
        &stamp.now,
    );
    status.conditions = Some(list);
    status.url = Some(artifact.url.clone());
    status.artifact = Some(artifact);
    status.observed_generation = repo.metadata.generation;
    status.observed_ignore.clone_from(&repo.spec.ignore);
    status
        .observed_layer_selector
        .clone_from(&repo.spec.layer_selector);
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// Flux's message for a stored artifact.
pub(super) fn stored_message(artifact: &driftless_api::meta::Artifact) -> String {
    format!("stored artifact for digest '{}'", artifact.revision)
}

/// The status after a failure: `Ready=False` and `FetchFailed` with the
/// reason; the previous artifact stays.
pub(super) fn failed(
    repo: &OCIRepository,
    error: &ReconcileError,
    stamp: &Stamp,
) -> OCIRepositoryStatus {
    let mut status = repo.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    source_status::mark_failed(&mut list, error, &stamp.now);
    status.conditions = Some(list);
    status.observed_generation = repo.metadata.generation;
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// The reconcile error for an OCI client error: a spec that cannot work is
/// stalled, the rest are retried; the message carries the client's hint.
pub(crate) fn pull_failed(error: &OciError) -> ReconcileError {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    match error {
        OciError::InvalidUrl { .. } | OciError::InvalidReference { .. } => {
            ReconcileError::stalled(reasons::URL_INVALID, message)
        }
        OciError::InvalidSemver { .. }
        | OciError::DockerConfig { .. }
        | OciError::InvalidCa { .. } => {
            ReconcileError::stalled(reasons::RECONCILIATION_FAILED, message)
        }
        OciError::AuthFailed { .. } => {
            ReconcileError::retryable(reasons::AUTHENTICATION_FAILED, message)
        }
        OciError::Storage { .. } => {
            ReconcileError::retryable(reasons::STAT_OPERATION_FAILED, message)
        }
        _ => ReconcileError::retryable(reasons::ARTIFACT_FAILED, message),
    }
}
