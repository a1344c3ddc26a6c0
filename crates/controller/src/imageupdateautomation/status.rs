//! An ImageUpdateAutomation's status as a pure function of (object,
//! outcome), with Flux's messages: `repository up-to-date` when a run
//! completes, the push summary in the event.

use driftless_api::conditions::{self, reasons, types};
use driftless_api::{ImageUpdateAutomation, ImageUpdateAutomationStatus};

use super::policies::Observed;
use super::pushes::LastPush;
use super::update::UpdateOutcome;
use crate::reconciler::{ReconcileError, Stamp};

/// Flux's Ready message after a completed run, whether it pushed or not.
pub(super) const READY_MESSAGE: &str = "repository up-to-date";

/// The status after a run that completed: observations and the last
/// commit pushed (this run's or, when its status write was lost, an
/// earlier one's) with its time.
pub(super) fn completed(
    automation: &ImageUpdateAutomation,
    observed: Observed,
    outcome: &UpdateOutcome,
    last_push: Option<&LastPush>,
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
    status.observed_source_revision = Some(outcome.revision.clone());
    status.last_automation_run_time = Some(stamp.now.clone());
    if let Some(push) = last_push {
        status.last_push_commit = Some(push.commit.clone());
        status.last_push_time = Some(push.time.clone());
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

#[cfg(test)]
mod tests {
    use driftless_api::image::ImageRef;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::imageupdateautomation::update::Pushed;

    fn stamp(requested: Option<&str>) -> Stamp {
        Stamp {
            now: Time(k8s_openapi::jiff::Timestamp::from_second(1_765_000_000).expect("time")),
            requested: requested.map(str::to_owned),
        }
    }

    fn automation() -> ImageUpdateAutomation {
        let mut automation: ImageUpdateAutomation = serde_json::from_value(serde_json::json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "fleet", "namespace": "apps", "generation": 3},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "fleet"}, "interval": "1m"},
        }))
        .expect("automation");
        automation.status = Some(ImageUpdateAutomationStatus {
            last_push_commit: Some("0123456789abcdef".into()),
            ..ImageUpdateAutomationStatus::default()
        });
        automation
    }

    fn observed(tag: &str) -> Observed {
        Observed::from([(
            "web".to_owned(),
            ImageRef {
                name: "registry.example.com/web".into(),
                tag: tag.into(),
                digest: String::new(),
            },
        )])
    }

    #[test]
    fn a_push_is_recorded_with_the_observations() {
        let outcome = UpdateOutcome {
            revision: "main@sha1:aaaa".into(),
            pushed: Some(Pushed {
                commit: "fedcba9876543210".into(),
                branch: "main".into(),
                refspecs: vec!["refs/heads/main:refs/heads/auto".into()],
                message: "web to 1.1.0".into(),
            }),
            warnings: Vec::new(),
        };
        let stamp = stamp(Some("now"));
        let push = LastPush {
            commit: "fedcba9876543210".into(),
            time: stamp.now.clone(),
        };
        let status = completed(
            &automation(),
            observed("1.1.0"),
            &outcome,
            Some(&push),
            &stamp,
        );
        assert_eq!(status.last_push_commit.as_deref(), Some("fedcba9876543210"));
        assert_eq!(status.last_push_time, Some(stamp.now.clone()));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.observed_policies["web"].tag, "1.1.0");
        assert_eq!(
            status.observed_source_revision.as_deref(),
            Some("main@sha1:aaaa")
        );
        assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("now"));
        let ready = conditions::find(
            status.conditions.as_deref().unwrap_or_default(),
            types::READY,
        )
        .expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.message.as_str()),
            ("True", READY_MESSAGE)
        );
        assert_eq!(
            outcome.summary().as_deref(),
            Some(
                "pushed commit 'fedcba9' to branch 'main' and refspecs 'refs/heads/main:refs/heads/auto'\nweb to 1.1.0"
            )
        );
    }

    #[test]
    fn a_run_without_changes_keeps_the_last_push() {
        let outcome = UpdateOutcome {
            revision: "main@sha1:bbbb".into(),
            pushed: None,
            warnings: Vec::new(),
        };
        let status = completed(
            &automation(),
            observed("1.0.0"),
            &outcome,
            None,
            &stamp(None),
        );
        assert_eq!(status.last_push_commit.as_deref(), Some("0123456789abcdef"));
        assert!(status.last_push_time.is_none());
        assert!(status.last_automation_run_time.is_some());
        assert_eq!(outcome.summary(), None);
    }

    #[test]
    fn a_push_whose_status_write_was_lost_is_recorded_by_the_next_run() {
        let outcome = UpdateOutcome {
            revision: "main@sha1:cccc".into(),
            pushed: None,
            warnings: Vec::new(),
        };
        let earlier = LastPush {
            commit: "cccc000011112222".into(),
            time: Time(k8s_openapi::jiff::Timestamp::from_second(1_764_999_000).expect("time")),
        };
        let status = completed(
            &automation(),
            observed("1.2.0"),
            &outcome,
            Some(&earlier),
            &stamp(None),
        );
        assert_eq!(status.last_push_commit.as_deref(), Some("cccc000011112222"));
        assert_eq!(status.last_push_time, Some(earlier.time));
    }

    #[test]
    fn a_failure_keeps_what_was_pushed_and_says_why() {
        let error = ReconcileError::retryable(
            reasons::GIT_OPERATION_FAILED,
            "failed to update source: push rejected",
        );
        let status = failed(&automation(), &error, &stamp(None));
        assert_eq!(status.last_push_commit.as_deref(), Some("0123456789abcdef"));
        let ready = conditions::find(
            status.conditions.as_deref().unwrap_or_default(),
            types::READY,
        )
        .expect("ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reasons::GIT_OPERATION_FAILED)
        );
    }
}
