//! An ImageUpdateAutomation's status as a pure function of (object,
//! outcome), with Flux's messages: `repository up-to-date` when a run
//! completes, the push summary in the event.

use driftless_api::conditions::{self, reasons, types};
use driftless_api::{ImageUpdateAutomation, ImageUpdateAutomationStatus};

use super::policies::Observed;
use super::update::UpdateOutcome;
use crate::reconciler::{ReconcileError, Stamp};

/// Flux's Ready message after a completed run, whether it pushed or not.
pub(super) const READY_MESSAGE: &str = "repository up-to-date";

/// The status after a run that completed: observations and, when it
/// pushed, the commit and its time.
pub(super) fn completed(
    automation: &ImageUpdateAutomation,
    observed: Observed,
    outcome: &UpdateOutcome,
    stamp: &Stamp,
) -> ImageUpdateAutomationStatus {
    let mut status = automation.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::set_condition(
        &mut list,
        conditions::ready(reasons::SUCCEEDED, READY_MESSAGE),
        &stamp.now,
    );
    conditions::remove_condition(&mut list, types::RECONCILING);
    conditions::remove_condition(&mut list, types::STALLED);
    status.conditions = Some(list);
    status.observed_generation = automation.metadata.generation;
    status.observed_policies = observed;
    status.observed_source_revision = Some(outcome.source_revision().to_owned());
    status.last_automation_run_time = Some(stamp.now.clone());
    if let Some(pushed) = outcome.pushed() {
        status.last_push_commit = Some(pushed.commit.clone());
        status.last_push_time = Some(stamp.now.clone());
    }
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// The status after a failure: `Ready=False` with the reason; what the
/// last successful run observed and pushed stays.
pub(super) fn failed(
    automation: &ImageUpdateAutomation,
    error: &ReconcileError,
    stamp: &Stamp,
) -> ImageUpdateAutomationStatus {
    let mut status = automation.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    error.mark(&mut list, &stamp.now);
    status.conditions = Some(list);
    status.observed_generation = automation.metadata.generation;
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}
