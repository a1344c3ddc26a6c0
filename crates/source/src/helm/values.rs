//! `valuesFiles`: reading them (from a chart's files or from the source),
//! Helm's deep merge in order, and the packaged `values.yaml` they become.

use std::path::Path;

use serde_json::{Map, Value};

use super::chart::inside;
use super::package::ChartFiles;
use super::{ChartRequest, HelmError, LocalChartRequest};

/// Helm's (and Flux's) `MergeMaps`: `b` over `a`; maps merge key by key,
/// anything else (lists included) is replaced.
pub(super) fn merge_values(a: &mut Map<String, Value>, b: Map<String, Value>) {
    for (key, value) in b {
        match (a.get_mut(&key), value) {
            (Some(Value::Object(into)), Value::Object(from)) => merge_values(into, from),
            (_, value) => {
                a.insert(key, value);
            }
        }
    }
}

/// A values file as a mapping (empty or `null` is an empty mapping).
pub(super) fn parse_values(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_saphyr::from_slice::<Value>(bytes).map_err(|e| e.to_string())? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(format!("expected a mapping, found {other}")),
    }
}

/// YAML text of a mapping (empty text for an empty one, as Flux writes it).
pub(super) fn values_yaml(values: &Map<String, Value>) -> Result<Vec<u8>, String> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    serde_saphyr::to_string(values)
        .map(String::into_bytes)
        .map_err(|e| e.to_string())
}

/// Remote charts: values files are files of the chart; `values.yaml` is
/// the chart's own values.
pub(super) fn merge_chart_values(
    files: &ChartFiles,
    request: &ChartRequest,
    chart: &str,
) -> Result<(Map<String, Value>, Vec<String>), HelmError> {
    let mut merged = Map::new();
    let mut used = Vec::new();
    for path in &request.values_files {
        let clean = path.trim_start_matches("./");
        let Some(bytes) = files.get(clean) else {
            if request.ignore_missing_values_files {
                continue;
            }
            return Err(HelmError::ValuesFile {
                chart: chart.to_string(),
                path: path.clone(),
                problem: "no such file in the chart".into(),
            });
        };
        let values = parse_values(bytes).map_err(|problem| HelmError::ValuesFile {
            chart: chart.to_string(),
            path: path.clone(),
            problem,
        })?;
        merge_values(&mut merged, values);
        used.push(path.clone());
    }
    Ok((merged, used))
}

/// Local charts: values files are relative to the source root and may not
/// leave it.
pub(super) fn merge_source_values(
    root: &Path,
    request: &LocalChartRequest,
    chart: &str,
) -> Result<(Map<String, Value>, Vec<String>), HelmError> {
    let mut merged = Map::new();
    let mut used = Vec::new();
    for path in &request.values_files {
        let error = |problem: String| HelmError::ValuesFile {
            chart: chart.to_string(),
            path: path.clone(),
            problem,
        };
        let file = inside(root, path).ok_or_else(|| error("absolute paths are refused".into()))?;
        let resolved = match file.canonicalize() {
            Ok(resolved) if resolved.is_file() => resolved,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && request.ignore_missing_values_files =>
            {
                continue;
            }
            _ => return Err(error("no values file at this path in the source".into())),
        };
        if !resolved.starts_with(root) {
            return Err(error("it links outside the source".into()));
        }
        let bytes = std::fs::read(&resolved).map_err(|e| error(e.to_string()))?;
        let values = parse_values(&bytes).map_err(error)?;
        merge_values(&mut merged, values);
        used.push(path.clone());
    }
    Ok((merged, used))
}

pub(super) fn set_values(
    files: &mut ChartFiles,
    merged: &Map<String, Value>,
    chart: &str,
) -> Result<(), HelmError> {
    let yaml = values_yaml(merged).map_err(|problem| HelmError::InvalidChart {
        chart: chart.to_string(),
        problem: format!("cannot write the merged values: {problem}"),
    })?;
    files.set("values.yaml", yaml);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn merge_is_deep_for_maps_and_replaces_the_rest() {
        let mut a = map(json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {"f": 1}}));
        merge_values(
            &mut a,
            map(json!({"a": {"c": [3], "g": true}, "d": {"h": 1}, "e": null})),
        );
        assert_eq!(
            Value::Object(a),
            json!({"a": {"b": 1, "c": [3], "g": true}, "d": {"h": 1}, "e": null})
        );
    }
}
