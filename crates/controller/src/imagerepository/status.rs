//! An ImageRepository's status as a pure function of (object, scan), with
//! Flux's conditions: `Ready=True` (`Succeeded`, "successful scan: found N
//! tags with checksum …") after a scan; `Ready=False` with `Reconciling`
//! (`ProgressingWithRetry`) or `Stalled` after a failure, the last scan
//! result kept.
//!
//! A scan that found the same tags keeps the previous `lastScanResult`,
//! scan time included, so the status is unchanged and nothing is written:
//! Flux writes a new `scanTime` on every scan, which wakes every watcher
//! of the object for nothing.

use driftless_api::conditions::{self, reasons, types};
use driftless_api::image::ScanResult;
use driftless_api::{ImageRepository, ImageRepositoryStatus};

use crate::reconciler::{ReconcileError, Stamp};

/// What a scan found, ready for the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    /// `sha256:` of the kept tags.
    pub revision: String,
    /// How many tags were kept.
    pub tag_count: usize,
    /// The first 10, descending.
    pub latest_tags: Vec<String>,
    /// `status.canonicalImageName`.
    pub canonical: String,
}

/// Flux's Ready message after a scan.
pub(super) fn ready_message(result: &ScanResult) -> String {
    format!(
        "successful scan: found {} tags with checksum {}",
        result.tag_count, result.revision
    )
}

/// The status after a scan that found `found`.
pub(super) fn scanned(
    repo: &ImageRepository,
    mut status: ImageRepositoryStatus,
    found: Found,
    stamp: &Stamp,
) -> ImageRepositoryStatus {
    let unchanged = status
        .last_scan_result
        .as_ref()
        .is_some_and(|last| last.revision == found.revision);
    if !unchanged {
        status.last_scan_result = Some(ScanResult {
            revision: found.revision,
            tag_count: i64::try_from(found.tag_count).unwrap_or(i64::MAX),
            scan_time: stamp.now.clone(),
            latest_tags: found.latest_tags,
        });
    }
    let message = status
        .last_scan_result
        .as_ref()
        .map(ready_message)
        .unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    for gone in [types::RECONCILING, types::STALLED] {
        conditions::remove_condition(&mut list, gone);
    }
    conditions::set_condition(
        &mut list,
        conditions::ready(reasons::SUCCEEDED, message),
        &stamp.now,
    );
    status.conditions = Some(list);
    status.observed_generation = repo.metadata.generation;
    status.canonical_image_name = Some(found.canonical);
    status.observed_exclusion_list = repo.exclusion_list();
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// The status after a failure: `Ready=False` with the reason, and
/// `Reconciling` (retried) or `Stalled`; the last scan result stays, so
/// the policies keep choosing from it.
pub(super) fn failed(
    repo: &ImageRepository,
    error: &ReconcileError,
    stamp: &Stamp,
) -> ImageRepositoryStatus {
    let mut status = repo.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    mark_failed(&mut list, error, stamp);
    status.conditions = Some(list);
    status.observed_generation = repo.metadata.generation;
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// `Ready=False` and `Stalled`, or `Reconciling=True` with
/// `ProgressingWithRetry` when it is retried (both image kinds).
fn mark_failed(
    list: &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    error: &ReconcileError,
    stamp: &Stamp,
) {
    error.mark(list, &stamp.now);
    if !error.is_stalled() {
        conditions::set_condition(
            list,
            conditions::reconciling(reasons::PROGRESSING_WITH_RETRY, &error.message),
            &stamp.now,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn repo() -> ImageRepository {
        let mut repo: ImageRepository = serde_json::from_value(serde_json::json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1",
            "kind": "ImageRepository",
            "metadata": {"name": "web", "namespace": "apps", "generation": 2},
            "spec": {"image": "127.0.0.1:5000/web", "interval": "1m"},
        }))
        .expect("an ImageRepository");
        repo.status = None;
        repo
    }

    fn stamp(second: i64) -> Stamp {
        Stamp {
            now: Time(Timestamp::from_second(1_700_000_000 + second).expect("time")),
            requested: None,
        }
    }

    fn found(revision: &str, tags: &[&str]) -> Found {
        Found {
            revision: revision.to_owned(),
            tag_count: tags.len(),
            latest_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            canonical: "127.0.0.1:5000/web".to_owned(),
        }
    }

    #[test]
    fn a_scan_sets_the_result_and_ready() {
        let repo = repo();
        let status = scanned(
            &repo,
            Default::default(),
            found("sha256:a", &["v2", "v1"]),
            &stamp(0),
        );
        let result = status.last_scan_result.clone().expect("a result");
        assert_eq!(result.tag_count, 2);
        assert_eq!(result.latest_tags, ["v2", "v1"]);
        assert_eq!(result.scan_time, stamp(0).now);
        assert_eq!(
            status.canonical_image_name.as_deref(),
            Some("127.0.0.1:5000/web")
        );
        assert_eq!(status.observed_exclusion_list, [r"^.*\.sig$"]);
        assert_eq!(status.observed_generation, Some(2));
        let ready = conditions::find(
            status.conditions.as_deref().unwrap_or_default(),
            types::READY,
        )
        .expect("Ready");
        assert_eq!(
            (
                ready.status.as_str(),
                ready.reason.as_str(),
                ready.message.as_str()
            ),
            (
                "True",
                "Succeeded",
                "successful scan: found 2 tags with checksum sha256:a"
            )
        );
    }

    #[test]
    fn the_same_tags_later_leave_the_status_as_it_was() {
        let mut repo = repo();
        let first = scanned(
            &repo,
            Default::default(),
            found("sha256:a", &["v1"]),
            &stamp(0),
        );
        repo.status = Some(first.clone());
        let again = scanned(
            &repo,
            first.clone(),
            found("sha256:a", &["v1"]),
            &stamp(600),
        );
        assert_eq!(again, first, "nothing to write");
        let newer = scanned(&repo, first, found("sha256:b", &["v2", "v1"]), &stamp(900));
        assert_eq!(
            newer.last_scan_result.map(|r| r.scan_time),
            Some(stamp(900).now)
        );
    }

    #[test]
    fn a_failure_keeps_the_last_result_and_retries() {
        let mut repo = repo();
        repo.status = Some(scanned(
            &repo,
            Default::default(),
            found("sha256:a", &["v1"]),
            &stamp(0),
        ));
        let error =
            ReconcileError::retryable(reasons::READ_OPERATION_FAILED, "scan failed: refused");
        let status = failed(&repo, &error, &stamp(60));
        assert_eq!(
            status
                .last_scan_result
                .as_ref()
                .map(|r| r.revision.as_str()),
            Some("sha256:a")
        );
        let list = status.conditions.unwrap_or_default();
        let ready = conditions::find(&list, types::READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ReadOperationFailed")
        );
        let reconciling = conditions::find(&list, types::RECONCILING).expect("Reconciling");
        assert_eq!(reconciling.reason, "ProgressingWithRetry");
        assert!(conditions::find(&list, types::STALLED).is_none());

        let stalled = ReconcileError::stalled(reasons::IMAGE_URL_INVALID, "invalid image");
        let list = failed(&repo, &stalled, &stamp(60))
            .conditions
            .unwrap_or_default();
        assert!(conditions::is_true(&list, types::STALLED));
        assert!(conditions::find(&list, types::RECONCILING).is_none());
    }
}
