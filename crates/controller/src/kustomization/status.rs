//! A Kustomization's status as a pure function of (object, outcome):
//! conditions, `history`, inventory, revisions, and the events that go
//! with them. No I/O; tested without a cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::conditions::{self, reasons, types};
use driftless_api::inventory::ResourceInventory;
use driftless_api::{Kustomization, KustomizationStatus};
use driftless_apply::{Action as ApplyAction, ChangeSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::ownership::Contest;
use crate::reconciler::{Event, ReconcileError, Stamp};

/// What a successful apply leaves behind.
pub(super) struct Applied {
    pub inventory: ResourceInventory,
    pub changes: ChangeSet,
    pub pruned: ChangeSet,
    /// `sha256:` of the applied objects, naming the set in `status.history`.
    pub digest: String,
    pub took: Duration,
    /// Objects this Kustomization holds that another one renders too.
    pub held: Vec<Contest>,
}

impl Applied {
    /// How many objects the apply and prune `action`ed.
    pub fn count(&self, action: &ApplyAction) -> u64 {
        let in_set = |set: &ChangeSet| set.entries.iter().filter(|c| &c.action == action).count();
        (in_set(&self.changes) + in_set(&self.pruned)) as u64
    }

    fn changed(&self) -> bool {
        self.changes.is_changed() || self.pruned.is_changed()
    }
}

/// The health checks' result: how long they took (none ran), or why they failed.
pub(super) type Health = Result<Option<Duration>, String>;

/// The status after `revision` was applied.
pub(super) fn succeeded(
    ks: &Kustomization,
    revision: &str,
    applied: &Applied,
    health: &Health,
    stamp: &Stamp,
) -> KustomizationStatus {
    let now = &stamp.now;
    let mut status = ks.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::remove_condition(&mut list, types::RECONCILING);
    conditions::remove_condition(&mut list, types::STALLED);
    if applied.held.is_empty() {
        conditions::remove_condition(&mut list, types::OWNERSHIP_CONFLICT);
    } else {
        conditions::set_condition(
            &mut list,
            conditions::condition(
                types::OWNERSHIP_CONFLICT,
                conditions::status::TRUE,
                reasons::OWNERSHIP_CONFLICT,
                conflict_message(&applied.held),
            ),
            now,
        );
    }
    let ready_message = format!("Applied revision: {revision}");
    match health {
        Ok(Some(took)) => {
            conditions::set_condition(
                &mut list,
                conditions::healthy(
                    reasons::SUCCEEDED,
                    format!("Health check passed in {:.1}s", took.as_secs_f64()),
                ),
                now,
            );
            conditions::set_condition(
                &mut list,
                conditions::ready(reasons::RECONCILIATION_SUCCEEDED, &ready_message),
                now,
            );
        }
        Ok(None) => {
            conditions::remove_condition(&mut list, types::HEALTHY);
            conditions::set_condition(
                &mut list,
                conditions::ready(reasons::RECONCILIATION_SUCCEEDED, &ready_message),
                now,
            );
        }
        Err(message) => {
            conditions::set_condition(
                &mut list,
                conditions::unhealthy(reasons::HEALTH_CHECK_FAILED, message),
                now,
            );
            conditions::set_condition(
                &mut list,
                conditions::not_ready(reasons::HEALTH_CHECK_FAILED, message),
                now,
            );
        }
    }
    let outcome = if health.is_ok() {
        reasons::RECONCILIATION_SUCCEEDED
    } else {
        reasons::HEALTH_CHECK_FAILED
    };
    let mut history = status.history.take().unwrap_or_default();
    record_history(
        &mut history,
        &applied.digest,
        revision,
        outcome,
        applied.took,
        now,
    );
    status.history = Some(history);
    status.conditions = Some(list);
    status.inventory = Some(applied.inventory.clone());
    status.last_attempted_revision = Some(revision.to_owned());
    status.last_applied_revision = Some(revision.to_owned());
    status.observed_generation = ks.metadata.generation;
    if stamp.requested.is_some() {
        status.last_handled_reconcile_at = stamp.requested.clone();
    }
    status
}

/// The events of a successful apply: what changed (Flux's change lines),
/// then either the failed health check or, when something changed, the
/// reconcile's end.
pub(super) fn succeeded_events(
    ks: &Kustomization,
    applied: &Applied,
    health: &Health,
) -> Vec<Event> {
    let mut events = Vec::new();
    if applied.changed() {
        let summary = [applied.changes.summary(), applied.pruned.summary()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        events.push(Event::normal(reasons::PROGRESSING, summary));
    }
    if !applied.held.is_empty() {
        events.push(Event::warning(
            reasons::OWNERSHIP_CONFLICT,
            conflict_message(&applied.held),
        ));
    }
    match health {
        Err(message) => events.push(Event::warning(reasons::HEALTH_CHECK_FAILED, message)),
        Ok(_) if applied.changed() => events.push(Event::normal(
            reasons::RECONCILIATION_SUCCEEDED,
            format!(
                "Reconciliation finished, next run in {}",
                ks.spec.interval.as_str()
            ),
        )),
        Ok(_) => {}
    }
    events
}

/// One line per contested object.
fn conflict_message(held: &[Contest]) -> String {
    held.iter()
        .map(Contest::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The status after `error`: `lastAppliedRevision` and the inventory stay
/// at the last good revision (the inventory with whatever this attempt
/// recorded before applying); `lastAttemptedRevision` names the failed one.
pub(super) fn failed(
    ks: &Kustomization,
    error: &ReconcileError,
    stamp: &Stamp,
) -> KustomizationStatus {
    let mut status = ks.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    error.mark(&mut list, &stamp.now);
    status.conditions = Some(list);
    if let Some(revision) = &error.revision {
        status.last_attempted_revision = Some(revision.clone());
    }
    status.observed_generation = ks.metadata.generation;
    if stamp.requested.is_some() {
        status.last_handled_reconcile_at = stamp.requested.clone();
    }
    status
}

/// Flux's `status.history`: one snapshot per distinct applied set (by
/// digest), newest first, at most five.
pub(super) fn record_history(
    history: &mut Vec<driftless_api::meta::HistorySnapshot>,
    digest: &str,
    revision: &str,
    outcome: &str,
    took: Duration,
    now: &Time,
) {
    const KEEP: usize = 5;
    let duration = driftless_api::GoDuration::from_std(took);
    match history.iter().position(|h| h.digest == digest) {
        Some(index) => {
            let mut entry = history.remove(index);
            entry.last_reconciled = now.clone();
            entry.last_reconciled_duration = duration;
            entry.last_reconciled_status = outcome.to_owned();
            entry.total_reconciliations += 1;
            history.insert(0, entry);
        }
        None => history.insert(
            0,
            driftless_api::meta::HistorySnapshot {
                digest: digest.to_owned(),
                first_reconciled: now.clone(),
                last_reconciled: now.clone(),
                last_reconciled_duration: duration,
                last_reconciled_status: outcome.to_owned(),
                total_reconciliations: 1,
                metadata: Some(BTreeMap::from([(
                    "revision".to_owned(),
                    revision.to_owned(),
                )])),
            },
        ),
    }
    history.truncate(KEEP);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_one_snapshot_per_set_newest_first() {
        let at = |s: i64| {
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::from_second(s).expect("time"),
            )
        };
        let mut history = Vec::new();
        record_history(
            &mut history,
            "sha256:a",
            "main@sha1:1",
            "ReconciliationSucceeded",
            Duration::from_millis(120),
            &at(10),
        );
        record_history(
            &mut history,
            "sha256:b",
            "main@sha1:2",
            "HealthCheckFailed",
            Duration::from_secs(2),
            &at(20),
        );
        record_history(
            &mut history,
            "sha256:a",
            "main@sha1:1",
            "ReconciliationSucceeded",
            Duration::from_millis(90),
            &at(30),
        );
        assert_eq!(
            history
                .iter()
                .map(|h| h.digest.as_str())
                .collect::<Vec<_>>(),
            ["sha256:a", "sha256:b"]
        );
        assert_eq!(history[0].total_reconciliations, 2);
        assert_eq!(
            (
                history[0].first_reconciled.clone(),
                history[0].last_reconciled.clone()
            ),
            (at(10), at(30))
        );
        for n in 0..10 {
            record_history(
                &mut history,
                &format!("sha256:{n}"),
                "r",
                "ReconciliationSucceeded",
                Duration::ZERO,
                &at(40 + n),
            );
        }
        assert_eq!(history.len(), 5);
        assert_eq!(history[0].digest, "sha256:9");
    }

    use driftless_api::inventory::ObjectId;
    use driftless_apply::Change;

    fn stamp(second: i64, requested: Option<&str>) -> Stamp {
        Stamp {
            now: Time(k8s_openapi::jiff::Timestamp::from_second(second).expect("time")),
            requested: requested.map(str::to_owned),
        }
    }

    fn applied(actions: &[(&str, ApplyAction)]) -> Applied {
        let changes = ChangeSet {
            entries: actions
                .iter()
                .map(|(name, action)| Change {
                    id: ObjectId::new("default", *name, "", "ConfigMap"),
                    version: "v1".into(),
                    action: action.clone(),
                })
                .collect(),
        };
        Applied {
            inventory: changes.inventory(),
            changes,
            pruned: ChangeSet::default(),
            digest: "sha256:a".into(),
            took: Duration::from_millis(40),
            held: Vec::new(),
        }
    }

    fn condition<'a>(status: &'a KustomizationStatus, type_: &str) -> (&'a str, &'a str) {
        let c = conditions::find(status.conditions.as_deref().unwrap_or_default(), type_)
            .unwrap_or_else(|| panic!("no {type_} condition"));
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn success_records_revision_inventory_history_and_the_request() {
        let ks = Kustomization::test("apps").at_generation(3);
        let done = applied(&[("a", ApplyAction::Created), ("b", ApplyAction::Unchanged)]);
        let status = succeeded(
            &ks,
            "main@sha1:1",
            &done,
            &Ok(None),
            &stamp(10, Some("now")),
        );
        assert_eq!(
            condition(&status, types::READY),
            ("True", reasons::RECONCILIATION_SUCCEEDED)
        );
        assert_eq!(status.last_applied_revision.as_deref(), Some("main@sha1:1"));
        assert_eq!(
            status.last_attempted_revision.as_deref(),
            Some("main@sha1:1")
        );
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("now"));
        assert_eq!(status.inventory.as_ref().map(|i| i.entries.len()), Some(2));
        assert_eq!(status.history.as_ref().map(Vec::len), Some(1));
        let events = succeeded_events(&ks, &done, &Ok(None));
        assert_eq!(
            events.iter().map(|e| e.reason).collect::<Vec<_>>(),
            [reasons::PROGRESSING, reasons::RECONCILIATION_SUCCEEDED]
        );
    }

    #[test]
    fn a_no_op_apply_says_nothing() {
        let ks = Kustomization::test("apps");
        let done = applied(&[("a", ApplyAction::Unchanged)]);
        assert!(succeeded_events(&ks, &done, &Ok(None)).is_empty());
    }

    #[test]
    fn failed_health_is_not_ready_but_keeps_the_applied_revision() {
        let ks = Kustomization::test("apps").waiting();
        let done = applied(&[("a", ApplyAction::Configured)]);
        let health: Health = Err("Deployment/default/web: rollout failed".into());
        let status = succeeded(&ks, "main@sha1:2", &done, &health, &stamp(10, None));
        assert_eq!(
            condition(&status, types::READY),
            ("False", reasons::HEALTH_CHECK_FAILED)
        );
        assert_eq!(
            condition(&status, types::HEALTHY),
            ("False", reasons::HEALTH_CHECK_FAILED)
        );
        assert_eq!(status.last_applied_revision.as_deref(), Some("main@sha1:2"));
        let history = status.history.expect("history");
        assert_eq!(
            history[0].last_reconciled_status,
            reasons::HEALTH_CHECK_FAILED
        );
        let events = succeeded_events(&ks, &done, &health);
        assert_eq!(
            events.last().map(|e| e.reason),
            Some(reasons::HEALTH_CHECK_FAILED)
        );
    }

    #[test]
    fn failure_keeps_the_last_good_revision_and_inventory() {
        let mut ks = Kustomization::test("apps").at_generation(2);
        let good = applied(&[("a", ApplyAction::Created)]);
        ks.status = Some(succeeded(
            &ks,
            "main@sha1:1",
            &good,
            &Ok(None),
            &stamp(10, None),
        ));
        let error = ReconcileError::retryable(reasons::BUILD_FAILED, "kustomize build failed")
            .on_revision("main@sha1:2");
        let status = failed(&ks, &error, &stamp(20, None));
        assert_eq!(
            condition(&status, types::READY),
            ("False", reasons::BUILD_FAILED)
        );
        assert!(
            conditions::find(
                status.conditions.as_deref().unwrap_or_default(),
                types::STALLED
            )
            .is_none()
        );
        assert_eq!(status.last_applied_revision.as_deref(), Some("main@sha1:1"));
        assert_eq!(
            status.last_attempted_revision.as_deref(),
            Some("main@sha1:2")
        );
        assert_eq!(
            status.inventory,
            ks.status.as_ref().and_then(|s| s.inventory.clone())
        );

        let stalled = failed(
            &ks,
            &ReconcileError::unsupported_field("Kustomization", "kubeConfig"),
            &stamp(30, None),
        );
        assert_eq!(
            condition(&stalled, types::STALLED),
            ("True", reasons::UNSUPPORTED_FIELD)
        );
        assert_eq!(
            stalled.last_attempted_revision.as_deref(),
            Some("main@sha1:1"),
            "no revision attempted"
        );
    }
}
