//! Dependencies of a chart built from a directory, as Flux's dependency
//! manager handles them: a dependency already in `charts/` is kept; a
//! `file://` one is read from the source and added as `charts/<name>/`;
//! one in an `http(s)://` repository is picked from that repository's
//! index by its version range, downloaded, verified and added as
//! `charts/<name>-<version>.tgz` (what `helm dependency build` writes); an
//! `oci://` one, pulled by the caller beforehand (see
//! [`super::oci_dependencies`]), is checked and added the same way.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::chart::inside;
use super::http::{self, Body, RepoUrl};
use super::oci_dependencies::chart_dependencies;
use super::package::{ChartFiles, ChartMeta};
use super::{HelmError, HelmFetcher, HelmRepository, IndexFile, LocalChartRequest};

impl HelmFetcher {
    /// Adds to `files` every dependency of `chart_meta` not vendored yet.
    pub(super) fn add_dependencies(
        &self,
        chart_meta: &ChartMeta,
        files: &mut ChartFiles,
        chart_dir: &Path,
        root: &Path,
        request: &LocalChartRequest,
        label: &str,
    ) -> Result<(), HelmError> {
        let Some(Value::Array(deps)) = chart_meta.document.get("dependencies") else {
            return Ok(());
        };
        let mut indexes: HashMap<String, (HelmRepository, RepoUrl, IndexFile)> = HashMap::new();
        for dep in deps {
            let field = |key: &str| dep.get(key).and_then(Value::as_str).unwrap_or_default();
            let (name, version, repository) =
                (field("name"), field("version"), field("repository"));
            let invalid = |problem: String| HelmError::InvalidChart {
                chart: label.to_string(),
                problem: format!("dependency {name:?}: {problem}"),
            };
            if name.is_empty() {
                return Err(invalid("it has no name".into()));
            }
            if vendored(files, name) {
                continue;
            }
            if let Some(path) = repository.strip_prefix("file://") {
                let dir = chart_dir
                    .strip_prefix(root)
                    .ok()
                    .and_then(|rel| inside(root, &rel.join(path).to_string_lossy()))
                    .ok_or_else(|| invalid(format!("{repository} leaves the source")))?;
                let resolved = dir
                    .canonicalize()
                    .ok()
                    .filter(|d| d.starts_with(root) && d.is_dir())
                    .ok_or_else(|| {
                        invalid(format!("no chart directory at {repository} in the source"))
                    })?;
                let sub = ChartFiles::from_dir(&resolved, root, label, &self.limits)?;
                let sub_name = sub.meta(repository)?.name;
                if sub_name != name {
                    return Err(invalid(format!("{repository} holds chart {sub_name:?}")));
                }
                for (path, data) in sub.files {
                    files.set(&format!("charts/{name}/{path}"), data);
                }
                continue;
            }
            if repository.starts_with("oci://") {
                let package = pulled_package(request, name, repository, label, &self.limits)?;
                files.set(&format!("charts/{name}-{}.tgz", package.0), package.1);
                continue;
            }
            if !(repository.starts_with("http://") || repository.starts_with("https://")) {
                return Err(invalid(format!(
                    "repository {repository:?} is not supported here (only file://, http(s):// and oci://); vendor it in charts/ with `helm dependency build`"
                )));
            }
            let key = repository.trim_end_matches('/').to_string();
            let failed = |source: HelmError| HelmError::Dependency {
                chart: label.to_string(),
                dependency: name.to_string(),
                repository: http::redact(repository),
                source: Box::new(source),
            };
            if !indexes.contains_key(&key) {
                let repo = request
                    .dependency_repositories
                    .iter()
                    .find(|r| r.url.trim_end_matches('/') == key)
                    .cloned()
                    .unwrap_or_else(|| HelmRepository::new(repository));
                let (base, index) = self.download_index(&repo).map_err(failed)?;
                indexes.insert(key.clone(), (repo, base, index));
            }
            let (repo, base, index) = &indexes[&key];
            let cv = index
                .select(name, version, &base.redacted())
                .map_err(failed)?;
            let (bytes, _, _) = self.download(repo, base, cv).map_err(failed)?;
            files.set(&format!("charts/{name}-{}.tgz", cv.version), bytes);
        }
        Ok(())
    }

    /// A repository's index, fetched and parsed but not stored.
    fn download_index(&self, repo: &HelmRepository) -> Result<(RepoUrl, IndexFile), HelmError> {
        let base = RepoUrl::parse(&repo.url)?;
        let client = http::client(&base, &repo.tls, repo.timeout)?;
        let url = base.index_url();
        let Body::Full { bytes, .. } = http::get(
            &client,
            &url,
            repo.auth.as_ref(),
            None,
            self.limits.max_index_size,
            "index",
            repo.timeout,
        )?
        else {
            unreachable!("no If-None-Match was sent");
        };
        let index = IndexFile::parse(&bytes, &http::redact(url.as_str()))?;
        Ok((base, index))
    }
}

/// The `http(s)://` repositories (trailing `/` trimmed) that the
/// dependencies in `Chart.yaml` of the chart directory at `chart_path`
/// under `source_root` name, so a caller can find their credentials (the
/// namespace's HelmRepository with that URL) before the build. Empty when
/// the path is not a chart directory inside the source or its `Chart.yaml`
/// cannot be read: the build itself reports those.
#[must_use]
pub fn dependency_repository_urls(source_root: &Path, chart_path: &str) -> Vec<String> {
    let Some((_, deps)) = chart_dependencies(source_root, chart_path) else {
        return Vec::new();
    };
    let mut urls: Vec<String> = deps
        .iter()
        .filter_map(|dep| dep.get("repository").and_then(Value::as_str))
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"))
        .map(|r| r.trim_end_matches('/').to_string())
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// The version and bytes of the package pulled for the `oci://`
/// dependency `name`, checked to be that chart.
fn pulled_package(
    request: &LocalChartRequest,
    name: &str,
    repository: &str,
    label: &str,
    limits: &super::HelmLimits,
) -> Result<(String, Vec<u8>), HelmError> {
    let repository = repository.trim_end_matches('/');
    let pulled = request
        .pulled_dependencies
        .iter()
        .find(|p| p.name == name && p.repository == repository)
        .ok_or_else(|| HelmError::InvalidChart {
            chart: label.to_string(),
            problem: format!(
                "dependency {name:?} from {repository} was not pulled before the build (pull_oci_dependencies)"
            ),
        })?;
    let shown = format!("{repository}/{name} ({})", pulled.revision);
    let meta = ChartFiles::from_archive(&pulled.package, &shown, limits)?.meta(&shown)?;
    if meta.name != name {
        return Err(HelmError::InvalidChart {
            chart: shown,
            problem: format!("the package holds chart {:?}, not {name:?}", meta.name),
        });
    }
    Ok((meta.version, pulled.package.clone()))
}

/// Whether `charts/` already holds `name`, as a directory or a package.
fn vendored(files: &ChartFiles, name: &str) -> bool {
    files.files.iter().any(|(p, _)| {
        p.strip_prefix("charts/").is_some_and(|rest| {
            rest.strip_prefix(name).is_some_and(|after| {
                after.starts_with('/')
                    || (after.starts_with('-') && after.ends_with(".tgz") && !after.contains('/'))
            })
        })
    })
}
