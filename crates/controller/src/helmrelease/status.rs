//! A HelmRelease's status and events as pure functions of (object, what
//! the reconcile did, stamp): conditions (`Ready`, `Released`,
//! `TestSuccess`, `Remediated`, `Stalled`), the release history as
//! snapshots of Helm's records (newest first, cut after the previous
//! successful release as Flux cuts it, test results kept), failure
//! counters and the last attempted revision, values digest and action.
//!
//! `Ready` is summarised as Flux summarises it: with tests enabled and
//! their failures not ignored (`spec.test.ignoreFailures`), it says what
//! `TestSuccess` says; otherwise what the release says.

use std::time::Duration;

use driftless_api::HelmRelease;
use driftless_api::conditions::{self, reasons, types};
use driftless_api::helmrelease::{HelmReleaseStatus, ReleaseAction, Snapshot};
use driftless_api::inventory::ResourceInventory;
use driftless_apply::release::{Release, Status};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use sha2::Digest as _;

use super::testing;
use crate::reconciler::{ReconcileError, Stamp};

/// Flux's default number of snapshots kept without a previous success.
const MAX_SNAPSHOTS: usize = 5;

/// What the reconcile attempted: the chart, values and action.
pub(super) struct Attempt {
    pub chart_version: String,
    pub oci_digest: Option<String>,
    pub config_digest: String,
    /// Digest of `postRenderers` and `commonMetadata`.
    pub post_render_digest: String,
    pub action: Option<ReleaseAction>,
    pub helm_chart: Option<String>,
    pub storage_namespace: String,
}

impl Attempt {
    /// `lastAttemptedRevision`: the chart version, with the first 12 hex
    /// digits of the OCI digest appended for OCI sources, as Flux writes it.
    pub(super) fn revision(&self) -> String {
        match &self.oci_digest {
            Some(digest) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
                format!("{}+{}", self.chart_version, &hex[..hex.len().min(12)])
            }
            None => self.chart_version.clone(),
        }
    }

    /// Whether `status` last attempted exactly this.
    pub(super) fn same_as_last(&self, hr: &HelmRelease, status: &HelmReleaseStatus) -> bool {
        status.last_attempted_generation == hr.metadata.generation
            && status.last_attempted_revision.as_deref() == Some(self.revision().as_str())
            && status.last_attempted_config_digest.as_deref() == Some(self.config_digest.as_str())
    }

    fn stamp_on(&self, hr: &HelmRelease, status: &mut HelmReleaseStatus) {
        if !self.same_as_last(hr, status) {
            // A new desired state gets its own retries.
            status.failures = 0;
            status.install_failures = 0;
            status.upgrade_failures = 0;
        }
        status.last_attempted_generation = hr.metadata.generation;
        status.last_attempted_revision = Some(self.revision());
        status
            .last_attempted_revision_digest
            .clone_from(&self.oci_digest);
        status.last_attempted_config_digest = Some(self.config_digest.clone());
        if self.action.is_some() {
            status.last_attempted_release_action = self.action;
        }
        status.helm_chart.clone_from(&self.helm_chart);
        status.storage_namespace = Some(self.storage_namespace.clone());
    }
}

/// A snapshot of a stored release record for `status.history`.
pub(super) fn snapshot(
    release: &Release,
    config_digest: &str,
    oci_digest: Option<&str>,
) -> Snapshot {
    let info = release.info.clone().unwrap_or_default();
    let chart = release.chart.as_ref().and_then(|c| c.metadata.as_ref());
    let time = |text: Option<&String>| {
        text.and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
            .map(Time)
    };
    let record = serde_json::to_vec(release).unwrap_or_default();
    Snapshot {
        api_version: Some("v1".into()),
        digest: format!("sha256:{}", hex::encode(sha2::Sha256::digest(&record))),
        name: release.name.clone(),
        namespace: release.namespace.clone(),
        version: i64::from(release.version),
        status: info.status.as_str().to_owned(),
        chart_name: chart.map(|m| m.name.clone()).unwrap_or_default(),
        chart_version: chart.map(|m| m.version.clone()).unwrap_or_default(),
        config_digest: config_digest.to_owned(),
        first_deployed: time(info.first_deployed.as_ref()).unwrap_or_else(epoch),
        last_deployed: time(info.last_deployed.as_ref()).unwrap_or_else(epoch),
        deleted: time(info.deleted.as_ref()),
        test_hooks: None,
        oci_digest: oci_digest.map(str::to_owned),
    }
}

fn epoch() -> Time {
    Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

/// Puts `snapshot` first (replacing one of the same version, whose test
/// results it keeps unless it brings its own), marks the older `deployed`
/// ones `superseded` when it is deployed, and cuts the list after the
/// previous successful release (Flux's `Truncate`).
pub(super) fn record_history(history: &mut Vec<Snapshot>, mut snapshot: Snapshot) {
    if snapshot.test_hooks.is_none() {
        // The same revision (not one of the same number made after an
        // uninstall) keeps the tests seen run on it.
        snapshot.test_hooks = history
            .iter()
            .find(|s| s.version == snapshot.version && s.last_deployed == snapshot.last_deployed)
            .and_then(|s| s.test_hooks.clone());
    }
    history.retain(|s| s.version != snapshot.version);
    if snapshot.status == Status::Deployed.as_str() {
        for older in history.iter_mut() {
            if older.status == Status::Deployed.as_str() {
                older.status = Status::Superseded.as_str().to_owned();
            }
        }
    }
    history.insert(0, snapshot);
    history.sort_by_key(|s| std::cmp::Reverse(s.version));
    let successful = |s: &Snapshot| {
        s.status == Status::Deployed.as_str() || s.status == Status::Superseded.as_str()
    };
    if let Some(previous) = history.iter().skip(1).position(successful) {
        history.truncate(previous + 2);
    } else {
        history.truncate(MAX_SNAPSHOTS);
    }
}

/// The status after a successful install or upgrade (or a reconcile that
/// found the release already as desired).
pub(super) fn released(
    hr: &HelmRelease,
    attempt: &Attempt,
    snapshot: Option<Snapshot>,
    inventory: ResourceInventory,
    message: &str,
    reason: &str,
    stamp: &Stamp,
) -> HelmReleaseStatus {
    let mut status = hr.status.clone().unwrap_or_default();
    attempt.stamp_on(hr, &mut status);
    let mut history = status.history.take().unwrap_or_default();
    if let Some(snapshot) = snapshot {
        record_history(&mut history, snapshot);
    }
    status.history = Some(history);
    status.inventory = Some(inventory);
    status.observed_post_renderers_digest = Some(attempt.post_render_digest.clone());
    status.failures = 0;
    status.install_failures = 0;
    status.upgrade_failures = 0;
    status.observed_generation = hr.metadata.generation;
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::set_condition(&mut list, conditions::ready(reason, message), &stamp.now);
    conditions::set_condition(
        &mut list,
        conditions::condition(types::RELEASED, conditions::status::TRUE, reason, message),
        &stamp.now,
    );
    conditions::remove_condition(&mut list, types::STALLED);
    conditions::remove_condition(&mut list, types::RECONCILING);
    summarize_tests(hr, &mut list, &stamp.now);
    status.conditions = Some(list);
    handled(&mut status, stamp);
    status
}

/// Records a test run on a released status: `TestSuccess` with `message`,
/// one more failure when the tests failed (as Flux counts them, ignored
/// or not), and `Ready` summarised again.
pub(super) fn tested(
    hr: &HelmRelease,
    mut status: HelmReleaseStatus,
    passed: bool,
    message: &str,
    stamp: &Stamp,
) -> HelmReleaseStatus {
    let (state, reason) = if passed {
        (conditions::status::TRUE, reasons::TEST_SUCCEEDED)
    } else {
        status.failures += 1;
        (conditions::status::FALSE, reasons::TEST_FAILED)
    };
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::set_condition(
        &mut list,
        conditions::condition(types::TEST_SUCCESS, state, reason, message),
        &stamp.now,
    );
    summarize_tests(hr, &mut list, &stamp.now);
    status.conditions = Some(list);
    status
}

/// Flux's `summarize` for tests: `TestSuccess` goes when tests are off;
/// with tests on and failures not ignored, `Ready` takes its status,
/// reason and message.
fn summarize_tests(hr: &HelmRelease, list: &mut Vec<Condition>, now: &Time) {
    if !testing::enabled(hr) {
        conditions::remove_condition(list, types::TEST_SUCCESS);
        return;
    }
    if testing::failures_ignored(hr) {
        return;
    }
    if let Some(test) = conditions::find(list, types::TEST_SUCCESS).cloned() {
        conditions::set_condition(
            list,
            conditions::condition(types::READY, &test.status, &test.reason, test.message),
            now,
        );
        if test.status == conditions::status::TRUE {
            conditions::remove_condition(list, types::STALLED);
        }
    }
}

/// What a failed install or upgrade leaves in the status.
pub(super) struct ActionOutcome {
    pub error: ReconcileError,
    pub snapshot: Option<Snapshot>,
    /// Set when the failure was remediated (rolled back or uninstalled).
    pub remediation: Option<super::remediation::Remediation>,
    /// Whether no retries remain for this desired state.
    pub exhausted: bool,
    /// Set when the action itself succeeded and only its tests failed
    /// (`error` then says how): the action's message and reason, for
    /// `Released=True`; `TestSuccess` becomes False.
    pub released: Option<(String, &'static str)>,
}

/// The status after a failed install or upgrade.
pub(super) fn action_failed(
    hr: &HelmRelease,
    attempt: &Attempt,
    outcome: &ActionOutcome,
    stamp: &Stamp,
) -> HelmReleaseStatus {
    let mut status = hr.status.clone().unwrap_or_default();
    attempt.stamp_on(hr, &mut status);
    status.failures += 1;
    match attempt.action {
        Some(ReleaseAction::Install) => status.install_failures += 1,
        Some(ReleaseAction::Upgrade) => status.upgrade_failures += 1,
        None => {}
    }
    let mut history = status.history.take().unwrap_or_default();
    if let Some(snapshot) = &outcome.snapshot {
        record_history(&mut history, snapshot.clone());
    }
    let mut list = status.conditions.take().unwrap_or_default();
    if let Some(remediation) = &outcome.remediation {
        if let Some(snapshot) = &remediation.snapshot {
            record_history(&mut history, snapshot.clone());
        }
        conditions::set_condition(
            &mut list,
            conditions::condition(
                types::REMEDIATED,
                if remediation.succeeded() {
                    conditions::status::TRUE
                } else {
                    conditions::status::FALSE
                },
                remediation.reason,
                remediation.message.clone(),
            ),
            &stamp.now,
        );
    }
    status.history = Some(history);
    let released = match &outcome.released {
        Some((message, reason)) => {
            conditions::set_condition(
                &mut list,
                conditions::condition(
                    types::TEST_SUCCESS,
                    conditions::status::FALSE,
                    outcome.error.reason,
                    outcome.error.message.clone(),
                ),
                &stamp.now,
            );
            conditions::condition(types::RELEASED, conditions::status::TRUE, reason, message)
        }
        None => conditions::condition(
            types::RELEASED,
            conditions::status::FALSE,
            outcome.error.reason,
            outcome.error.message.clone(),
        ),
    };
    conditions::set_condition(&mut list, released, &stamp.now);
    if !testing::enabled(hr) {
        conditions::remove_condition(&mut list, types::TEST_SUCCESS);
    }
    outcome.error.mark(&mut list, &stamp.now);
    if outcome.exhausted {
        conditions::set_condition(
            &mut list,
            conditions::stalled(reasons::RETRIES_EXCEEDED, retries_message(attempt, &status)),
            &stamp.now,
        );
    }
    status.conditions = Some(list);
    status.observed_generation = hr.metadata.generation;
    handled(&mut status, stamp);
    status
}

/// Flux's message once retries ran out.
pub(super) fn retries_message(attempt: &Attempt, status: &HelmReleaseStatus) -> String {
    match attempt.action {
        Some(ReleaseAction::Install) => {
            format!(
                "Failed to install after {} attempt(s)",
                status.install_failures
            )
        }
        _ => format!(
            "Failed to upgrade after {} attempt(s)",
            status.upgrade_failures
        ),
    }
}

/// The status after a failure before any release action (source, values,
/// render, dependencies): `Ready=False`, the rest kept.
pub(super) fn failed(hr: &HelmRelease, error: &ReconcileError, stamp: &Stamp) -> HelmReleaseStatus {
    let mut status = hr.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    error.mark(&mut list, &stamp.now);
    // No counter moves here: the status must come out the same for the
    // same failure, or each write's watch echo would run the reconcile again.
    status.conditions = Some(list);
    status.observed_generation = hr.metadata.generation;
    handled(&mut status, stamp);
    status
}

fn handled(status: &mut HelmReleaseStatus, stamp: &Stamp) {
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
}

/// The message Flux writes for a finished action.
pub(super) fn action_message(action: ReleaseAction, release: &Release) -> (String, &'static str) {
    let chart = release
        .chart
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| format!("{}@{}", m.name, m.version))
        .unwrap_or_default();
    let target = format!(
        "{}/{}.v{}",
        release.namespace, release.name, release.version
    );
    match action {
        ReleaseAction::Install => (
            format!("Helm install succeeded for release {target} with chart {chart}"),
            reasons::INSTALL_SUCCEEDED,
        ),
        ReleaseAction::Upgrade => (
            format!("Helm upgrade succeeded for release {target} with chart {chart}"),
            reasons::UPGRADE_SUCCEEDED,
        ),
    }
}

/// How soon a failed release is tried again.
pub(super) fn retry_interval(hr: &HelmRelease) -> Duration {
    hr.spec.interval.to_std().unwrap_or(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(version: i64, status: &str) -> Snapshot {
        Snapshot {
            api_version: None,
            digest: format!("sha256:{version}"),
            name: "web".into(),
            namespace: "apps".into(),
            version,
            status: status.into(),
            chart_name: "podinfo".into(),
            chart_version: "6.0.0".into(),
            config_digest: "sha256:c".into(),
            first_deployed: epoch(),
            last_deployed: epoch(),
            deleted: None,
            test_hooks: None,
            oci_digest: None,
        }
    }

    #[test]
    fn history_keeps_up_to_the_previous_success() {
        let mut history = Vec::new();
        record_history(&mut history, snap(1, "deployed"));
        record_history(&mut history, snap(2, "failed"));
        record_history(&mut history, snap(3, "deployed"));
        let shape: Vec<(i64, &str)> = history
            .iter()
            .map(|s| (s.version, s.status.as_str()))
            .collect();
        assert_eq!(shape, [(3, "deployed"), (2, "failed"), (1, "superseded")]);
        record_history(&mut history, snap(4, "deployed"));
        let versions: Vec<i64> = history.iter().map(|s| s.version).collect();
        assert_eq!(versions, [4, 3], "cut after the previous success");
    }

    #[test]
    fn without_a_success_five_snapshots_are_kept() {
        let mut history = Vec::new();
        for version in 1..=8 {
            record_history(&mut history, snap(version, "failed"));
        }
        let versions: Vec<i64> = history.iter().map(|s| s.version).collect();
        assert_eq!(versions, [8, 7, 6, 5, 4]);
    }

    #[test]
    fn oci_revisions_carry_a_digest_prefix() {
        let attempt = Attempt {
            chart_version: "6.9.2".into(),
            oci_digest: Some("sha256:0123456789abcdef0123".into()),
            config_digest: "sha256:c".into(),
            post_render_digest: "sha256:p".into(),
            action: Some(ReleaseAction::Install),
            helm_chart: None,
            storage_namespace: "apps".into(),
        };
        assert_eq!(attempt.revision(), "6.9.2+0123456789ab");
    }
}
