//! Whether a release already is what the HelmRelease asks for, and drift
//! between the release and the cluster (`driftDetection`).

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::DriftDetectionMode;
use driftless_api::inventory::ResourceInventory;
use driftless_apply::Applier;
use driftless_apply::release::StoredRelease;

use super::render::Desired;
use super::values;
use crate::reconciler::{Event, ReconcileError};

/// Whether the deployed record already is what `desired` would record.
pub(super) fn in_sync(deployed: &StoredRelease, desired: &Desired, config_digest: &str) -> bool {
    let release = &deployed.release;
    let chart_version = release
        .chart
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| m.version.as_str());
    release.manifest == desired.manifest
        && chart_version == Some(desired.metadata.version.as_str())
        && values::digest_json(&release.config) == config_digest
}

/// With `driftDetection.mode: enabled` the objects are applied again (a
/// no-op when nothing drifted: the apply dry-runs first); with `warn`
/// drift is only reported. A release we adopted (no inventory yet) is
/// applied once to take its objects over. Returns the events and, when it
/// applied, the inventory.
pub(super) async fn correct_drift(
    hr: &HelmRelease,
    applier: &Applier,
    desired: &Desired,
    adopting: bool,
) -> Result<(Vec<Event>, Option<ResourceInventory>), ReconcileError> {
    let failed = |e: driftless_apply::ApplyError| {
        ReconcileError::retryable(
            reasons::RECONCILIATION_FAILED,
            format!("drift detection: {e}"),
        )
    };
    let target = format!("{}/{}", hr.release_namespace(), hr.release_name());
    let mode = hr.drift_detection_mode();
    if mode == DriftDetectionMode::Enabled || adopting {
        let changes = applier
            .apply(desired.objects.clone())
            .await
            .map_err(failed)?;
        let events = if changes.is_changed() && !adopting {
            vec![Event::normal(
                "DriftCorrected",
                format!(
                    "Cluster state of release {target} has been corrected: {}",
                    changes.summary()
                ),
            )]
        } else {
            Vec::new()
        };
        return Ok((events, Some(changes.inventory())));
    }
    if mode == DriftDetectionMode::Warn {
        let diffs = applier
            .diff(desired.objects.clone())
            .await
            .map_err(failed)?;
        let drifted: Vec<String> = diffs
            .iter()
            .filter(|d| d.action != driftless_apply::Action::Unchanged)
            .map(|d| driftless_apply::subject(&d.id))
            .collect();
        if !drifted.is_empty() {
            let message = format!(
                "Cluster state of release {target} has drifted from the desired state: {}",
                drifted.join(", ")
            );
            return Ok((vec![Event::warning("DriftDetected", message)], None));
        }
    }
    Ok((Vec::new(), None))
}
