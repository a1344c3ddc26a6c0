//! `spec.upgrade.preserveValues`: Helm's `--reuse-values`, which Flux turns
//! on for upgrades with this field. The current release's user values
//! (its record's `config`) are merged under the composed ones — a key set
//! now wins, a key only the last release had is kept, a `null` now deletes
//! it — and, as Helm does, the chart's defaults are replaced by the
//! current release's coalesced values (its chart's defaults with its
//! config over them), so a new chart version's new defaults are not seen.
//! That quirk is Helm's and is kept on purpose: Flux users get exactly
//! what `helm upgrade --reuse-values` gives.
//!
//! "Current" is the deployed revision, else the newest one, as Helm's
//! upgrade picks it. Owns the merge only; must not read the cluster.

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_apply::release::{Release, Status, StoredRelease};
use driftless_chart::values::{coalesce_tables, coalesce_values, from_json};
use driftless_render::yaml::{Map, Value};

use crate::reconciler::ReconcileError;

/// What an upgrade with reused values renders with.
#[derive(Debug, PartialEq)]
pub(super) struct Reused {
    /// The user values the new revision records (its `config`).
    pub values: Map,
    /// What stands in for the chart's `values.yaml`.
    pub chart_values: Map,
}

/// Whether `hr` asks for the last release's values on upgrade.
fn enabled(hr: &HelmRelease) -> bool {
    hr.spec.upgrade.as_ref().is_some_and(|u| u.preserve_values)
}

fn as_map(json: &serde_json::Map<String, serde_json::Value>) -> Map {
    match from_json(&serde_json::Value::Object(json.clone())) {
        Value::Map(map) => map,
        _ => Map::new(),
    }
}

/// The values to render with, and what replaces the chart's defaults:
/// `values` as they are, unless `hr` preserves values and the action is
/// an upgrade of a release in `history` (oldest first).
pub(super) fn values_for(
    hr: &HelmRelease,
    values: Map,
    history: &[StoredRelease],
) -> Result<(Map, Option<Map>), ReconcileError> {
    let last = history.last();
    let is_upgrade = last.is_some_and(|l| l.release.status() != Status::Uninstalled);
    let current = history
        .iter()
        .rfind(|s| s.release.status() == Status::Deployed)
        .or(last);
    match current {
        Some(current) if is_upgrade && enabled(hr) => {
            let reused = reuse(values, &current.release)?;
            Ok((reused.values, Some(reused.chart_values)))
        }
        _ => Ok((values, None)),
    }
}

/// `values` merged over `current`'s config, and `current`'s coalesced
/// values as the chart's defaults.
fn reuse(values: Map, current: &Release) -> Result<Reused, ReconcileError> {
    let config = as_map(&current.config);
    let old_defaults = current
        .chart
        .as_ref()
        .and_then(|c| c.values.as_ref())
        .map(as_map)
        .unwrap_or_default();
    // A record keeps its chart without subcharts (Helm does not store
    // them), so the old values coalesce over the top chart's defaults
    // alone, as Helm's `CoalesceValues(current.Chart, current.Config)`.
    let old_chart = driftless_chart::Chart {
        values: old_defaults,
        ..driftless_chart::Chart::default()
    };
    let chart_values = coalesce_values(&old_chart, &config).map_err(|e| {
        ReconcileError::stalled(
            reasons::BUILD_FAILED,
            format!(
                "spec.upgrade.preserveValues: cannot rebuild the values of release {}/{}.v{}: {e}",
                current.namespace, current.name, current.version
            ),
        )
    })?;
    let mut merged = values;
    coalesce_tables(&mut merged, config, false);
    Ok(Reused {
        values: merged,
        chart_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_apply::release::Chart as ChartRecord;
    use serde_json::json;

    fn map(json: serde_json::Value) -> Map {
        match from_json(&json) {
            Value::Map(map) => map,
            _ => panic!("a mapping"),
        }
    }

    fn object(json: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        json.as_object().cloned().expect("an object")
    }

    fn current() -> Release {
        Release {
            name: "web".into(),
            namespace: "apps".into(),
            version: 3,
            config: object(
                json!({"kept": "old", "both": {"a": "old", "b": "old"}, "dropped": "old"}),
            ),
            chart: Some(ChartRecord {
                values: Some(object(json!({"image": "v1", "kept": "default"}))),
                ..ChartRecord::default()
            }),
            ..Release::default()
        }
    }

    #[test]
    fn new_values_win_old_ones_fill_in_and_null_deletes() {
        let new = map(json!({"both": {"a": "new"}, "dropped": null, "added": "new"}));
        let reused = reuse(new, &current()).expect("reused");
        assert_eq!(
            reused.values,
            map(json!({"both": {"a": "new", "b": "old"}, "added": "new", "kept": "old"}))
        );
        assert_eq!(
            reused.chart_values,
            map(
                json!({"kept": "old", "both": {"a": "old", "b": "old"}, "dropped": "old", "image": "v1"})
            ),
            "the old chart's defaults under the old config stand in for the chart's"
        );
    }

    #[test]
    fn without_earlier_values_the_new_ones_stand() {
        let release = Release {
            config: serde_json::Map::new(),
            chart: None,
            ..current()
        };
        let new = map(json!({"a": "b"}));
        let reused = reuse(new.clone(), &release).expect("reused");
        assert_eq!(reused.values, new);
        assert!(reused.chart_values.is_empty());
    }
}
