//! The repository index (`index.yaml`): its model, parsing as Flux loads
//! it (YAML or JSON, `apiVersion` required, invalid entries dropped,
//! entries sorted highest version first) and chart selection as Flux's
//! `GetChartVersion` does it.

use std::collections::BTreeMap;

use driftless_semver::{Constraint, Version, highest_match};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::HelmError;

/// A Helm repository index. Fields this crate does not use are kept as
/// they came (`other`), so the stored artifact loses nothing a consumer
/// might read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexFile {
    /// `apiVersion`, required (Helm writes `v1`).
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// Chart name → its versions, highest first after [`IndexFile::parse`].
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
    /// Everything else (`generated`, `serverInfo`, `annotations`…).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One chart version in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartVersion {
    /// The chart's name.
    #[serde(default, deserialize_with = "scalar_text")]
    pub name: String,
    /// Its version.
    #[serde(default, deserialize_with = "scalar_text")]
    pub version: String,
    /// `appVersion`.
    #[serde(
        rename = "appVersion",
        default,
        deserialize_with = "scalar_text",
        skip_serializing_if = "String::is_empty"
    )]
    pub app_version: String,
    /// Where to download it, first one used (as Flux does).
    #[serde(default)]
    pub urls: Vec<String>,
    /// `sha256` hex of the package, when the index gives one.
    #[serde(
        default,
        deserialize_with = "scalar_text",
        skip_serializing_if = "String::is_empty"
    )]
    pub digest: String,
    /// When it was packaged (RFC 3339 text as written).
    #[serde(
        default,
        deserialize_with = "scalar_text",
        skip_serializing_if = "String::is_empty"
    )]
    pub created: String,
    /// Marked deprecated by its maintainers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// Everything else (description, home, maintainers, annotations…).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A YAML scalar as its text: `version: 1.0` is a float to YAML but a
/// version to everyone who writes it.
fn scalar_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a scalar, found {other}"
            )));
        }
    })
}

impl IndexFile {
    /// Parses an index as Flux does: YAML (JSON is YAML too), `apiVersion`
    /// required, entries without a name or a valid version dropped, each
    /// chart's versions sorted highest first (ties: newest `created`
    /// first). `origin` names it in errors.
    ///
    /// # Errors
    /// [`HelmError::InvalidIndex`] for empty input, bad YAML or no `apiVersion`.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<IndexFile, HelmError> {
        let invalid = |problem: String| HelmError::InvalidIndex {
            url: origin.to_string(),
            problem,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(invalid("the index is empty".into()));
        }
        // An index is large but flat: raise the node budget to what the
        // size limit allows, keeping the alias-bomb checks.
        let mut budget = serde_saphyr::Budget::default();
        budget.max_events = 50_000_000;
        budget.max_nodes = 20_000_000;
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        let mut index: IndexFile = serde_saphyr::from_slice_with_options(bytes, options)
            .map_err(|e| invalid(e.to_string()))?;
        if index.api_version.is_empty() {
            return Err(invalid("apiVersion is missing".into()));
        }
        for versions in index.entries.values_mut() {
            versions.retain(|cv| !cv.name.is_empty() && Version::parse(&cv.version).is_some());
            versions.sort_by(|a, b| {
                let (va, vb) = (Version::parse(&a.version), Version::parse(&b.version));
                vb.cmp(&va).then_with(|| b.created.cmp(&a.created))
            });
        }
        Ok(index)
    }

    /// The index as stored in the artifact: indented JSON (as Flux stores
    /// it), which any YAML reader also reads.
    ///
    /// # Panics
    /// Never: the model holds only JSON values.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("an index is plain JSON data");
        out.push(b'\n');
        out
    }

    /// The version of `chart` that `version` selects, as Flux picks it: an
    /// exact match of the text first, else the highest version satisfying
    /// the range (`""` and `"*"` mean the latest stable). `repo` names the
    /// repository in errors.
    ///
    /// # Errors
    /// [`HelmError::ChartNotFound`], [`HelmError::InvalidVersion`], or
    /// [`HelmError::VersionNotFound`] listing the versions there are.
    pub fn select(
        &self,
        chart: &str,
        version: &str,
        repo: &str,
    ) -> Result<&ChartVersion, HelmError> {
        let versions = self
            .entries
            .get(chart)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| HelmError::ChartNotFound {
                url: repo.to_string(),
                chart: chart.to_string(),
            })?;
        let version = version.trim();
        if let Some(exact) = versions
            .iter()
            .find(|cv| !version.is_empty() && cv.version == version)
        {
            return Ok(exact);
        }
        let range = if version.is_empty() { "*" } else { version };
        let constraint = Constraint::parse(range).map_err(|source| HelmError::InvalidVersion {
            version: version.to_string(),
            source,
        })?;
        // Entries are sorted highest first with the newest of equal
        // versions first, so the first of equals wins as Flux's does.
        let candidates = versions
            .iter()
            .filter_map(|cv| Some((Version::parse_strict(&cv.version)?, cv)));
        highest_match(&constraint, candidates)
            .map(|(_, cv)| cv)
            .ok_or_else(|| {
                const SHOWN: usize = 10;
                let mut available: Vec<&str> = versions
                    .iter()
                    .take(SHOWN)
                    .map(|cv| cv.version.as_str())
                    .collect();
                if versions.len() > SHOWN {
                    available.push("…");
                }
                HelmError::VersionNotFound {
                    url: repo.to_string(),
                    chart: chart.to_string(),
                    version: range.to_string(),
                    available: available.join(", "),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"apiVersion: v1
entries:
  podinfo:
  - name: podinfo
    version: 6.0.0
    appVersion: 6.0.0
    urls: [podinfo-6.0.0.tgz]
    digest: abc
    created: "2021-01-01T00:00:00Z"
    description: Podinfo Helm chart for Kubernetes
  - name: podinfo
    version: 6.1.0-rc.1
    urls: [podinfo-6.1.0-rc.1.tgz]
  - name: podinfo
    version: 5.2.1
    urls: [podinfo-5.2.1.tgz]
  - name: podinfo
    version: not-semver
    urls: [x.tgz]
  - name: podinfo
    version: "6.0"
    urls: [lenient.tgz]
  - name: podinfo
    version: 6.0.0+b
    created: "2022-01-01T00:00:00Z"
    urls: [podinfo-6.0.0+b.tgz]
generated: "2022-01-01T00:00:00Z"
"#;

    fn index() -> IndexFile {
        IndexFile::parse(INDEX.as_bytes(), "http://repo").expect("parses")
    }

    fn pick(version: &str) -> String {
        index()
            .select("podinfo", version, "http://repo")
            .expect(version)
            .urls[0]
            .clone()
    }

    #[test]
    fn parse_drops_invalid_and_sorts_highest_first() {
        let i = index();
        let versions: Vec<&str> = i.entries["podinfo"]
            .iter()
            .map(|c| c.version.as_str())
            .collect();
        assert_eq!(versions, ["6.1.0-rc.1", "6.0.0+b", "6.0.0", "6.0", "5.2.1"]);
        assert_eq!(i.other["generated"], "2022-01-01T00:00:00Z");
        assert_eq!(
            i.entries["podinfo"][2].other["description"],
            "Podinfo Helm chart for Kubernetes"
        );
    }

    #[test]
    fn selection_follows_flux() {
        // Latest stable; of equal versions the newest created.
        assert_eq!(pick(""), "podinfo-6.0.0+b.tgz");
        assert_eq!(pick("*"), "podinfo-6.0.0+b.tgz");
        // Exact text first, even where a range would pick another.
        assert_eq!(pick("6.0.0"), "podinfo-6.0.0.tgz");
        assert_eq!(pick("6.0"), "lenient.tgz");
        assert_eq!(pick("5.x"), "podinfo-5.2.1.tgz");
        assert_eq!(pick(">=6.0.0-0"), "podinfo-6.1.0-rc.1.tgz");
        assert_eq!(pick("<6"), "podinfo-5.2.1.tgz");
    }

    #[test]
    fn misses_say_what_exists() {
        let err = index()
            .select("podinfo", "7.x", "http://repo")
            .expect_err("none");
        assert_eq!(
            err.to_string(),
            "no chart version found for podinfo-7.x in http://repo (available: 6.1.0-rc.1, 6.0.0+b, 6.0.0, 6.0, 5.2.1)"
        );
        let err = index()
            .select("nginx", "*", "http://repo")
            .expect_err("none");
        assert!(matches!(err, HelmError::ChartNotFound { .. }), "{err}");
        let err = index()
            .select("podinfo", ">>1", "http://repo")
            .expect_err("bad range");
        assert!(matches!(err, HelmError::InvalidVersion { .. }), "{err}");
    }

    #[test]
    fn bad_indexes_name_their_origin() {
        for (text, problem) in [
            ("", "empty"),
            ("entries: {}\n", "apiVersion"),
            ("apiVersion: v1\nentries: [\n", ""),
        ] {
            let err = IndexFile::parse(text.as_bytes(), "http://repo/index.yaml").expect_err(text);
            let msg = err.to_string();
            assert!(
                msg.contains("http://repo/index.yaml") && msg.contains(problem),
                "{msg}"
            );
        }
    }

    #[test]
    fn stored_json_reads_back_as_the_same_index() {
        let i = index();
        let again = IndexFile::parse(&i.to_json(), "artifact").expect("json is yaml");
        assert_eq!(again, i);
    }
}
