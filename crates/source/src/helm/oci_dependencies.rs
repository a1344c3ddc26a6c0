//! A chart directory's `oci://` dependencies, pulled from their registries
//! before the build, as Flux's dependency manager pulls them through an OCI
//! chart repository.
//!
//! Why apart from the other dependencies: the registry client is async and
//! the chart build is blocking, so the caller pulls these first
//! ([`pull_oci_dependencies`], on its runtime) and hands the packages to the
//! build in [`LocalChartRequest::pulled_dependencies`]; the build checks
//! each package and adds it as `charts/<name>-<version>.tgz`, as
//! `helm dependency build` does.
//!
//! Flux's rules kept here: the registry's credentials are those of the
//! namespace's `type: oci` HelmRepository whose URL is the dependency's
//! `repository` (trailing `/` ignored), anonymous when none is; an exact
//! version is pulled by its tag (`+` written `_`, Helm's tag rule) without
//! listing tags; anything else is a Masterminds range (empty is `*`,
//! stable only) over the repository's tags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::HelmError;
use super::chart::inside;
use crate::oci::{HELM_CHART_LAYER, LayerOperation, OciAuth, OciFetcher, OciReference, OciSource};

#[cfg(doc)]
use super::LocalChartRequest;

/// A dependency in `Chart.yaml` whose `repository` is `oci://…` and that
/// `charts/` does not hold yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciDependency {
    /// `name`: the chart's name, the last part of its registry path.
    pub name: String,
    /// `version`: an exact version or a Masterminds range.
    pub version: String,
    /// `repository`, trailing `/` trimmed.
    pub repository: String,
}

/// How to reach a registry: a `type: oci` HelmRepository with its Secret read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRegistry {
    /// `spec.url` (`oci://host[:port]/path`).
    pub url: String,
    /// From `spec.secretRef` (`.dockerconfigjson`, or `username`/`password`).
    pub auth: OciAuth,
    /// `spec.insecure`: plain HTTP.
    pub insecure: bool,
    /// `spec.timeout`.
    pub timeout: Duration,
}

/// A dependency's package as pulled, for [`LocalChartRequest::pulled_dependencies`].
#[derive(Clone, PartialEq, Eq)]
pub struct PulledChart {
    /// The dependency's `repository` (trailing `/` trimmed).
    pub repository: String,
    /// The dependency's `name`.
    pub name: String,
    /// `<tag>@sha256:<manifest digest>`.
    pub revision: String,
    /// The chart layer: a packaged chart (`.tgz`).
    pub package: Vec<u8>,
}

impl fmt::Debug for PulledChart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PulledChart")
            .field("repository", &self.repository)
            .field("name", &self.name)
            .field("revision", &self.revision)
            .field("package", &self.package.len())
            .finish()
    }
}

/// The `oci://` dependencies of the chart directory at `chart_path` under
/// `source_root` that `charts/` does not hold (as a directory or a
/// `<name>-*.tgz`). Empty when the path is not a chart directory inside the
/// source or its `Chart.yaml` cannot be read: the build reports those.
#[must_use]
pub fn oci_dependencies(source_root: &Path, chart_path: &str) -> Vec<OciDependency> {
    let Some((dir, deps)) = chart_dependencies(source_root, chart_path) else {
        return Vec::new();
    };
    let field = |dep: &Value, key: &str| {
        dep.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    deps.iter()
        .filter(|dep| field(dep, "repository").starts_with("oci://"))
        .map(|dep| OciDependency {
            name: field(dep, "name"),
            version: field(dep, "version"),
            repository: field(dep, "repository").trim_end_matches('/').to_owned(),
        })
        .filter(|dep| !dep.name.is_empty() && !vendored(&dir.join("charts"), &dep.name))
        .collect()
}

/// Pulls each of `dependencies` of the chart `chart` (its path, for
/// messages) from its registry, with the credentials of the entry of
/// `registries` whose URL is its repository, anonymously when none is.
///
/// # Errors
/// [`HelmError::Dependency`] naming the dependency and its repository, the
/// registry's complaint as its cause (never a credential).
pub async fn pull_oci_dependencies(
    fetcher: &OciFetcher,
    chart: &str,
    dependencies: &[OciDependency],
    registries: &[OciRegistry],
) -> Result<Vec<PulledChart>, HelmError> {
    let mut pulled = Vec::with_capacity(dependencies.len());
    for dep in dependencies {
        let registry = registries
            .iter()
            .find(|r| r.url.trim_end_matches('/') == dep.repository);
        let mut source = OciSource::new(
            format!("{}/{}", dep.repository, dep.name),
            reference(&dep.version),
        );
        source.layer.media_type = Some(HELM_CHART_LAYER.to_owned());
        source.layer.operation = LayerOperation::Copy;
        if let Some(registry) = registry {
            source.auth = registry.auth.clone();
            source.insecure = registry.insecure;
            source.timeout = registry.timeout;
        }
        let layer = fetcher
            .pull(&source)
            .await
            .map_err(|e| HelmError::Dependency {
                chart: chart.to_owned(),
                dependency: dep.name.clone(),
                repository: dep.repository.clone(),
                source: Box::new(HelmError::Oci(Box::new(e))),
            })?;
        pulled.push(PulledChart {
            repository: dep.repository.clone(),
            name: dep.name.clone(),
            revision: layer.revision,
            package: layer.blob,
        });
    }
    Ok(pulled)
}

/// Flux's OCI chart lookup: an exact version is a tag (Helm writes `+` as
/// `_` in tags), anything else a range over the tags, empty meaning `*`.
fn reference(version: &str) -> OciReference {
    if driftless_semver::Version::parse(version).is_some() {
        OciReference::Tag(version.replace('+', "_"))
    } else {
        let range = if version.trim().is_empty() {
            "*"
        } else {
            version
        };
        OciReference::Semver {
            range: range.to_owned(),
            filter: None,
        }
    }
}

/// The chart directory at `chart_path` in the source and the
/// `dependencies` of its `Chart.yaml`; `None` when it cannot be read.
pub(super) fn chart_dependencies(
    source_root: &Path,
    chart_path: &str,
) -> Option<(PathBuf, Vec<Value>)> {
    /// A `Chart.yaml` is small; a bigger one is left to the build's limits.
    const MAX_CHART_YAML: u64 = 1 << 20;
    let root = source_root.canonicalize().ok()?;
    let dir = inside(&root, chart_path)?
        .canonicalize()
        .ok()
        .filter(|d| d.starts_with(&root) && d.is_dir())?;
    let file = dir
        .join("Chart.yaml")
        .canonicalize()
        .ok()
        .filter(|f| f.starts_with(&root))
        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.is_file() && m.len() <= MAX_CHART_YAML))?;
    let raw = std::fs::read(&file).ok()?;
    let document: Value = serde_saphyr::from_slice(&raw).ok()?;
    let deps = document
        .get("dependencies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Some((dir, deps))
}

/// Whether the `charts/` directory holds `name`, as a directory or a package.
fn vendored(charts: &Path, name: &str) -> bool {
    std::fs::read_dir(charts).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            file == name
                || file
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|rest| rest.ends_with(".tgz"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_version_is_a_tag_and_anything_else_a_range() {
        assert_eq!(reference("1.2.3"), OciReference::Tag("1.2.3".into()));
        assert_eq!(
            reference("1.2.3+build.1"),
            OciReference::Tag("1.2.3_build.1".into())
        );
        for (given, range) in [
            ("", "*"),
            ("  ", "*"),
            (">=1.0.0", ">=1.0.0"),
            ("1.x", "1.x"),
        ] {
            assert_eq!(
                reference(given),
                OciReference::Semver {
                    range: range.into(),
                    filter: None
                },
                "{given:?}"
            );
        }
    }

    #[test]
    fn only_oci_dependencies_not_in_charts_are_listed() {
        let root = tempfile::tempdir().expect("tempdir");
        let chart = root.path().join("umbrella");
        std::fs::create_dir_all(chart.join("charts/vendored")).expect("charts");
        std::fs::write(chart.join("charts/packaged-1.0.0.tgz"), b"x").expect("package");
        std::fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n\
             - {name: sub, version: '>=1.0.0', repository: 'oci://127.0.0.1:5000/charts/'}\n\
             - {name: vendored, version: 1.0.0, repository: 'oci://127.0.0.1:5000/charts'}\n\
             - {name: packaged, version: 1.0.0, repository: 'oci://127.0.0.1:5000/charts'}\n\
             - {name: web, version: 1.0.0, repository: 'https://charts.invalid'}\n\
             - {name: local, version: 1.0.0, repository: 'file://../local'}\n",
        )
        .expect("Chart.yaml");
        assert_eq!(
            oci_dependencies(root.path(), "./umbrella"),
            vec![OciDependency {
                name: "sub".into(),
                version: ">=1.0.0".into(),
                repository: "oci://127.0.0.1:5000/charts".into(),
            }]
        );
        assert!(oci_dependencies(root.path(), "../elsewhere").is_empty());
        assert!(oci_dependencies(root.path(), "./missing").is_empty());
    }
}
