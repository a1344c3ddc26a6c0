//! How a release ends, as Flux's action loop ends it: after a successful
//! install or upgrade the tests run (`spec.test`), and a failed test counts
//! as a failure of the action unless `ignoreTestFailures` (of the action's
//! remediation, defaulting to `spec.test.ignoreFailures`) says otherwise;
//! a failure is then remediated — rolled back or uninstalled — while the
//! retries allow or `remediateLastFailure` asks, and the status, events
//! and requeue are made from what happened.
//!
//! Owns that sequence. Must not render, and leaves each step to its module
//! (`release`, `testing`, `remediation`, `status`).

use std::time::Duration;

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::{HelmReleaseStatus, ReleaseAction, Remediation, Snapshot};
use driftless_api::inventory::ResourceInventory;
use driftless_apply::release::StoredRelease;

use super::release::ReleaseTarget;
use super::remediation::remediate;
use super::status::{self, ActionOutcome, Attempt};
use super::testing;
use crate::reconciler::{Event, Outcome, ReconcileError, Stamp};

/// What finishing one release works with.
pub(super) struct Finish<'a> {
    pub hr: &'a HelmRelease,
    pub stamp: &'a Stamp,
    pub target: &'a ReleaseTarget<'a>,
    pub attempt: &'a Attempt,
    pub action: ReleaseAction,
    pub rules: Remediation,
    /// Failures of this desired state before this attempt.
    pub earlier_failures: i64,
    /// The revision a rollback goes back to. `None` when there is none to
    /// remediate with in this reconcile (tests of a release found in sync).
    pub rollback_to: Option<&'a StoredRelease>,
    /// Whether a failure may be remediated in this reconcile.
    pub may_remediate: bool,
    pub config_digest: &'a str,
    pub interval: Duration,
}

/// A failed action, or a released one whose tests failed.
pub(super) struct Failure {
    pub error: ReconcileError,
    /// The record of the failed (or failed-tests) revision.
    pub record: Option<StoredRelease>,
    pub snapshot: Option<Snapshot>,
    /// What a remediation deletes from: the objects the revision applied.
    pub inventory: ResourceInventory,
    /// For failed tests: the action's own message and reason.
    pub released: Option<(String, &'static str)>,
}

impl Finish<'_> {
    fn snapshot(&self, record: &StoredRelease) -> Snapshot {
        status::snapshot(
            &record.release,
            self.config_digest,
            self.attempt.oci_digest.as_deref(),
        )
    }

    fn done(&self, status: HelmReleaseStatus, events: Vec<Event>) -> Outcome<HelmReleaseStatus> {
        Outcome::Done {
            status,
            events,
            requeue: self.interval,
            revision: Some(self.attempt.revision()),
        }
    }

    /// The status after `record` was released (or found released) with
    /// `message`: tests run first when enabled, and a failure they count
    /// goes the way of a failed action.
    pub(super) async fn released(
        &self,
        record: StoredRelease,
        inventory: ResourceInventory,
        (message, reason): (String, &'static str),
        mut events: Vec<Event>,
    ) -> Result<Outcome<HelmReleaseStatus>, ReconcileError> {
        let (hr, stamp) = (self.hr, self.stamp);
        if !testing::enabled(hr) {
            let status = status::released(
                hr,
                self.attempt,
                Some(self.snapshot(&record)),
                inventory,
                &message,
                reason,
                stamp,
            );
            return Ok(self.done(status, events));
        }
        let tested = testing::run(hr, self.target, record).await?;
        let mut snapshot = self.snapshot(&tested.record);
        snapshot.test_hooks = Some(tested.hooks);
        let test_message = match &tested.failure {
            None => testing::success_message(&snapshot),
            Some(why) => testing::failure_message(&snapshot, why),
        };
        if tested.failure.is_none() {
            events.push(Event::normal(reasons::TEST_SUCCEEDED, test_message.clone()));
        } else {
            events.push(Event::warning(reasons::TEST_FAILED, test_message.clone()));
            if !self.rules.ignore_test_failures {
                let failure = Failure {
                    error: ReconcileError::retryable(reasons::TEST_FAILED, test_message),
                    record: Some(tested.record),
                    snapshot: Some(snapshot),
                    inventory,
                    released: Some((message, reason)),
                };
                return Ok(self.failed(failure, events).await);
            }
        }
        let status = status::released(
            hr,
            self.attempt,
            Some(snapshot),
            inventory,
            &message,
            reason,
            stamp,
        );
        let status = status::tested(hr, status, tested.failure.is_none(), &test_message, stamp);
        Ok(self.done(status, events))
    }

    /// The status after `failure`, remediated when the rules allow.
    pub(super) async fn failed(
        &self,
        failure: Failure,
        mut events: Vec<Event>,
    ) -> Outcome<HelmReleaseStatus> {
        let exhausted = self.rules.retries_exhausted(self.earlier_failures + 1);
        let remediation = if self.may_remediate && (!exhausted || self.rules.remediate_last_failure)
        {
            Some(
                remediate(
                    self.hr,
                    self.target,
                    self.action,
                    self.rules.strategy,
                    self.rollback_to,
                    &failure.inventory,
                    failure.record.as_ref(),
                )
                .await,
            )
        } else {
            None
        };
        if failure.released.is_none() {
            events.push(Event::warning(
                failure.error.reason,
                failure.error.message.clone(),
            ));
        }
        if let Some(remediation) = &remediation {
            let message = remediation.message.clone();
            events.push(if remediation.succeeded() {
                Event::normal(remediation.reason, message)
            } else {
                Event::warning(remediation.reason, message)
            });
        }
        let outcome = ActionOutcome {
            snapshot: failure.snapshot,
            error: failure.error,
            remediation,
            exhausted,
            released: failure.released,
        };
        Outcome::Done {
            status: status::action_failed(self.hr, self.attempt, &outcome, self.stamp),
            events,
            requeue: if exhausted {
                self.interval
            } else {
                status::retry_interval(self.hr).min(self.interval)
            },
            revision: Some(self.attempt.revision()),
        }
    }
}
