//! The conditions every source kind writes, the same way: on success
//! `Ready` and `ArtifactInStorage` with Flux's message, on failure
//! `Ready=False`, `FetchFailed` and `Reconciling` (retrying) or `Stalled`.
//! Each kind fills its own status fields around these.

use driftless_api::conditions::{self, reasons, types};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::reconciler::ReconcileError;

/// Marks a successful reconcile: `reason` and `message` on `Ready` and
/// (with an artifact) `ArtifactInStorage`; failure conditions cleared.
pub(crate) fn mark_stored(
    list: &mut Vec<Condition>,
    reason: &str,
    message: &str,
    has_artifact: bool,
    now: &Time,
) {
    for gone in [
        types::RECONCILING,
        types::STALLED,
        types::FETCH_FAILED,
        types::BUILD_FAILED,
        types::STORAGE_OPERATION_FAILED,
    ] {
        conditions::remove_condition(list, gone);
    }
    conditions::set_condition(list, conditions::ready(reason, message), now);
    if has_artifact {
        conditions::set_condition(list, conditions::artifact_in_storage(reason, message), now);
    }
}

/// Marks a failed reconcile; the artifact conditions of the last success
/// stay, as the artifact does.
pub(crate) fn mark_failed(list: &mut Vec<Condition>, error: &ReconcileError, now: &Time) {
    error.mark(list, now);
    let failure = if error.reason == reasons::BUILD_FAILED {
        conditions::condition(
            types::BUILD_FAILED,
            conditions::status::TRUE,
            error.reason,
            &error.message,
        )
    } else {
        conditions::fetch_failed(error.reason, &error.message)
    };
    conditions::set_condition(list, failure, now);
    if !error.is_stalled() {
        conditions::set_condition(
            list,
            conditions::reconciling(
                reasons::PROGRESSING_WITH_RETRY,
                "retrying at the next interval",
            ),
            now,
        );
    }
}
