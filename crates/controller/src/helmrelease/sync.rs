//! Whether a release already is what the HelmRelease asks for, and drift
//! between the release and the cluster (`driftDetection`).

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::DriftDetectionMode;
use driftless_api::inventory::ResourceInventory;
use driftless_apply::Applier;
use driftless_apply::release::StoredRelease;

use serde_json::Value as Json;

use super::render::Desired;
use super::values;
use crate::reconciler::{Event, ReconcileError};

/// Whether the deployed record already is what `desired` would record:
/// the same manifest, chart version and user values (with
/// `preserveValues`, the values an upgrade would record, so a key only
/// the release has does not make every reconcile an upgrade).
pub(super) fn in_sync(deployed: &StoredRelease, desired: &Desired) -> bool {
    let release = &deployed.release;
    let chart_version = release
        .chart
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| m.version.as_str());
    release.manifest == desired.manifest
        && chart_version == Some(desired.metadata.version.as_str())
        && same_values(
            &Json::Object(release.config.clone()),
            &Json::Object(values::as_json(&desired.values)),
        )
}

/// Equal as Go compares decoded JSON, where every number is a float: a
/// record's `2` and a value's `2.0` are the same value.
fn same_values(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x.to_bits() == y.to_bits() || (x - y).abs() < f64::EPSILON,
            _ => x == y,
        },
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, value)| y.get(key).is_some_and(|other| same_values(value, other)))
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_values(a, b))
        }
        _ => a == b,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value_as_go_decodes_them() {
        assert!(same_values(
            &json!({"a": 2, "b": [1.5]}),
            &json!({"b": [1.5], "a": 2.0})
        ));
        assert!(!same_values(&json!({"a": 2}), &json!({"a": 3})));
        assert!(!same_values(&json!({"a": 2}), &json!({"a": 2, "b": null})));
        assert!(!same_values(&json!({"a": "2"}), &json!({"a": 2})));
    }
}
