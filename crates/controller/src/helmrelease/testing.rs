//! Helm tests of a release (`spec.test`), run as Flux runs them after an
//! install or upgrade: the `test` hooks of the release's stored record —
//! not of a fresh render, as `helm test` runs what was released, so a test
//! Pod named with `randAlphaNum` keeps its name — selected by
//! `spec.test.filters`, run in weight order with their delete policies
//! (see [`super::hooks`]) within `spec.test.timeout`. Their last runs are
//! written back into the record, so the real `helm status` shows the test
//! suite, and become the snapshot's `testHooks`.
//!
//! Owns which hooks are tests, the filters, the results and whether a
//! snapshot counts as tested or failed. Must not decide remediation nor
//! write the status.

use std::collections::BTreeMap;

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::{Snapshot, TestFilter, TestHookStatus};
use driftless_apply::release::{Release, StoredRelease};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::hooks;
use super::release::{self, ReleaseTarget};
use super::settings::{action_timeout, chart_hook};
use crate::reconciler::ReconcileError;

/// Helm's event of test hooks (`test-success` is read as `test`).
const TEST_EVENT: &str = "test";
/// Helm's phases of a finished hook.
const SUCCEEDED: &str = "Succeeded";
const FAILED: &str = "Failed";

/// What one test run found.
pub(super) struct Tested {
    /// The record with each test's last run, as stored.
    pub record: StoredRelease,
    /// The selected test hooks by name, for the snapshot's `testHooks`.
    pub hooks: BTreeMap<String, TestHookStatus>,
    /// Why the tests failed, naming the hook; `None` when they passed.
    pub failure: Option<String>,
}

/// Whether `spec.test.enable` asks for tests.
pub(super) fn enabled(hr: &HelmRelease) -> bool {
    hr.spec.test.as_ref().is_some_and(|t| t.enable)
}

/// Whether `spec.test.ignoreFailures` keeps failed tests out of `Ready`.
pub(super) fn failures_ignored(hr: &HelmRelease) -> bool {
    hr.spec.test.as_ref().is_some_and(|t| t.ignore_failures)
}

fn filters(hr: &HelmRelease) -> &[TestFilter] {
    hr.spec
        .test
        .as_ref()
        .and_then(|t| t.filters.as_deref())
        .unwrap_or_default()
}

/// Flux's filter rule: an excluded name never runs; when any filter
/// includes, only the included names run.
pub(super) fn selected(name: &str, filters: &[TestFilter]) -> bool {
    if filters.iter().any(|f| f.exclude && f.name == name) {
        return false;
    }
    let mut includes = filters.iter().filter(|f| !f.exclude).peekable();
    includes.peek().is_none() || includes.any(|f| f.name == name)
}

fn is_test(hook: &driftless_apply::release::Hook) -> bool {
    hook.events.iter().any(|e| e == TEST_EVENT)
}

/// The selected test hooks of `release` with their last runs (empty
/// fields for one that never ran), as Flux's `testHooks`.
pub(super) fn results(
    release: &Release,
    filters: &[TestFilter],
) -> BTreeMap<String, TestHookStatus> {
    let time = |text: Option<&String>| {
        text.and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .map(Time)
    };
    release
        .hooks
        .iter()
        .filter(|h| is_test(h) && selected(&h.name, filters))
        .map(|h| {
            let run = &h.last_run;
            let status = TestHookStatus {
                last_started: time(run.started_at.as_ref()),
                last_completed: time(run.completed_at.as_ref()),
                phase: (!run.phase.is_empty()).then(|| run.phase.clone()),
            };
            (h.name.clone(), status)
        })
        .collect()
}

/// Flux's `HasBeenTested`: results were seen — no selected tests at all,
/// one that failed (the rest never ran), or all that succeeded.
pub(super) fn has_been_tested(snapshot: &Snapshot) -> bool {
    let Some(hooks) = &snapshot.test_hooks else {
        return false;
    };
    let phase = |h: &TestHookStatus| h.phase.clone().unwrap_or_default();
    hooks.values().any(|h| phase(h) == FAILED) || hooks.values().all(|h| phase(h) == SUCCEEDED)
}

/// Whether a test of `snapshot` failed.
pub(super) fn has_failed(snapshot: &Snapshot) -> bool {
    snapshot
        .test_hooks
        .iter()
        .flat_map(BTreeMap::values)
        .any(|h| h.phase.as_deref() == Some(FAILED))
}

/// Flux's message for passed tests.
pub(super) fn success_message(snapshot: &Snapshot) -> String {
    let count = snapshot.test_hooks.as_ref().map_or(0, BTreeMap::len);
    let hooks = match count {
        0 => "no test hooks".to_owned(),
        1 => "1 test hook completed successfully".to_owned(),
        n => format!("{n} test hooks completed successfully"),
    };
    format!(
        "Helm test succeeded for release {} with chart {}: {hooks}",
        snapshot.full_release_name(),
        snapshot.versioned_chart_name()
    )
}

/// Flux's message for failed tests.
pub(super) fn failure_message(snapshot: &Snapshot, why: &str) -> String {
    format!(
        "Helm test failed for release {} with chart {}: {}",
        snapshot.full_release_name(),
        snapshot.versioned_chart_name(),
        why.trim()
    )
}

/// Runs the selected tests of `record` and stores their last runs in it.
/// `Err` only when the record could not be written: the tests then count
/// as not run, and run again on the next reconcile.
pub(super) async fn run(
    hr: &HelmRelease,
    target: &ReleaseTarget<'_>,
    mut record: StoredRelease,
) -> Result<Tested, ReconcileError> {
    let filters = filters(hr);
    let timeout = action_timeout(hr, hr.spec.test.as_ref().and_then(|t| t.timeout.as_ref()));
    let indices: Vec<usize> = record
        .release
        .hooks
        .iter()
        .enumerate()
        .filter(|(_, h)| is_test(h) && selected(&h.name, filters))
        .map(|(index, _)| index)
        .collect();
    let tests: Vec<driftless_chart::Hook> = indices
        .iter()
        .map(|&i| chart_hook(&record.release.hooks[i]))
        .collect();
    let ran = hooks::run(target.applier, target.client, &tests, TEST_EVENT, timeout).await;
    let runs: Vec<_> = ran
        .executions
        .iter()
        .map(|(i, execution)| (indices[*i], execution.clone()))
        .collect();
    release::record_runs(&mut record.release, &runs);
    let record = target.store.update(&record).await.map_err(|e| {
        ReconcileError::retryable(
            reasons::RECONCILIATION_FAILED,
            format!(
                "cannot record the test results of release {}/{}: {}",
                target.namespace,
                target.name,
                crate::error_chain(&e)
            ),
        )
    })?;
    Ok(Tested {
        hooks: results(&record.release, filters),
        record,
        failure: ran.failure.map(|e| e.message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_apply::release::{Hook, HookExecution};

    fn filter(name: &str, exclude: bool) -> TestFilter {
        TestFilter {
            name: name.into(),
            exclude,
        }
    }

    #[test]
    fn filters_exclude_by_name_and_include_only_what_they_name() {
        assert!(selected("a", &[]));
        assert!(!selected("a", &[filter("a", true)]));
        assert!(selected("b", &[filter("a", true)]));
        assert!(selected("a", &[filter("a", false)]));
        assert!(!selected("b", &[filter("a", false)]));
        assert!(!selected("a", &[filter("a", false), filter("a", true)]));
    }

    fn hook(name: &str, event: &str, phase: &str) -> Hook {
        Hook {
            name: name.into(),
            events: vec![event.into()],
            last_run: HookExecution {
                started_at: (!phase.is_empty()).then(|| "2026-12-05T07:00:00Z".into()),
                completed_at: (!phase.is_empty()).then(|| "2026-12-05T07:00:01.5Z".into()),
                phase: phase.into(),
                ..HookExecution::default()
            },
            ..Hook::default()
        }
    }

    fn snapshot_with(hooks: Option<BTreeMap<String, TestHookStatus>>) -> Snapshot {
        Snapshot {
            api_version: None,
            digest: String::new(),
            name: "web".into(),
            namespace: "apps".into(),
            version: 2,
            status: "deployed".into(),
            chart_name: "web".into(),
            chart_version: "1.0.0".into(),
            config_digest: String::new(),
            first_deployed: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            last_deployed: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
            deleted: None,
            test_hooks: hooks,
            oci_digest: None,
        }
    }

    #[test]
    fn results_list_the_selected_tests_only() {
        let release = Release {
            hooks: vec![
                hook("smoke", "test", "Succeeded"),
                hook("slow", "test", ""),
                hook("migrate", "pre-upgrade", "Succeeded"),
            ],
            ..Release::default()
        };
        let all = results(&release, &[]);
        assert_eq!(all.keys().collect::<Vec<_>>(), ["slow", "smoke"]);
        assert_eq!(all["smoke"].phase.as_deref(), Some("Succeeded"));
        assert!(all["smoke"].last_completed.is_some());
        assert_eq!(all["slow"], TestHookStatus::default(), "never ran");
        let some = results(&release, &[filter("slow", true)]);
        assert_eq!(some.keys().collect::<Vec<_>>(), ["smoke"]);
    }

    #[test]
    fn tested_means_no_tests_a_failure_or_all_passed() {
        let phases = |list: &[(&str, Option<&str>)]| {
            Some(
                list.iter()
                    .map(|(name, phase)| {
                        (
                            (*name).to_owned(),
                            TestHookStatus {
                                phase: phase.map(str::to_owned),
                                ..TestHookStatus::default()
                            },
                        )
                    })
                    .collect(),
            )
        };
        assert!(!has_been_tested(&snapshot_with(None)));
        assert!(has_been_tested(&snapshot_with(phases(&[]))));
        let passed = snapshot_with(phases(&[("a", Some("Succeeded"))]));
        assert!(has_been_tested(&passed) && !has_failed(&passed));
        let failed = snapshot_with(phases(&[("a", Some("Failed")), ("b", None)]));
        assert!(has_been_tested(&failed) && has_failed(&failed));
        assert!(!has_been_tested(&snapshot_with(phases(&[
            ("a", Some("Succeeded")),
            ("b", None)
        ]))));
        assert_eq!(
            success_message(&passed),
            "Helm test succeeded for release apps/web.v2 with chart web@1.0.0: 1 test hook completed successfully"
        );
    }
}
