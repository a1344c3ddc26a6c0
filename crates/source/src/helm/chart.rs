//! `HelmChart`: a chart from a repository index or from a directory of a
//! source artifact, with `valuesFiles` merged in, stored as
//! `<name>-<version>.tgz` with Flux's revision rules.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use driftless_semver::Version;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::http::{self, Body, RepoUrl};
use super::package::{ChartFiles, ChartMeta};
use super::values;
use super::{ChartVersion, HelmError, HelmFetcher, HelmRepository, IndexFile};
use crate::{Artifact, ArtifactKey};

/// A `HelmChart` whose source is a `HelmRepository`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRequest {
    /// `spec.chart`: the chart's name in the index.
    pub chart: String,
    /// `spec.version`: an exact version or a Masterminds range; empty is `*`.
    pub version: String,
    /// `spec.valuesFiles`: paths inside the chart, merged in order.
    pub values_files: Vec<String>,
    /// `spec.ignoreMissingValuesFiles`.
    pub ignore_missing_values_files: bool,
    /// `metadata.generation`: the build metadata when values files are set.
    pub generation: i64,
}

impl ChartRequest {
    /// `chart` at `version`, no values files.
    pub fn new(chart: impl Into<String>, version: impl Into<String>) -> Self {
        ChartRequest {
            chart: chart.into(),
            version: version.into(),
            values_files: Vec::new(),
            ignore_missing_values_files: false,
            generation: 0,
        }
    }
}

/// A `HelmChart` whose source is an unpacked `GitRepository` (or `Bucket`)
/// artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalChartRequest {
    /// `spec.chart`: the chart directory (or `.tgz`) relative to the source root.
    pub path: String,
    /// `spec.valuesFiles`: paths relative to the source root, merged in order.
    pub values_files: Vec<String>,
    /// `spec.ignoreMissingValuesFiles`.
    pub ignore_missing_values_files: bool,
    /// `metadata.generation`: part of the build metadata when values files are set.
    pub generation: i64,
    /// For `reconcileStrategy: Revision`, the source revision's short id
    /// (see [`git_revision_metadata`]); `None` for `ChartVersion`.
    pub revision_metadata: Option<String>,
    /// The `HelmRepository` objects of the namespace, for dependencies
    /// fetched from their URLs with their credentials; a URL none of them
    /// has is fetched anonymously.
    pub dependency_repositories: Vec<HelmRepository>,
    /// The packages of the chart's `oci://` dependencies, pulled by
    /// [`pull_oci_dependencies`](super::pull_oci_dependencies) before the
    /// build; a dependency missing here fails the build.
    pub pulled_dependencies: Vec<super::PulledChart>,
}

impl LocalChartRequest {
    /// The chart at `path` in the source, no values files, `ChartVersion` strategy.
    pub fn new(path: impl Into<String>) -> Self {
        LocalChartRequest {
            path: path.into(),
            values_files: Vec::new(),
            ignore_missing_values_files: false,
            generation: 0,
            revision_metadata: None,
            dependency_repositories: Vec::new(),
            pulled_dependencies: Vec::new(),
        }
    }
}

/// Flux's build metadata for `reconcileStrategy: Revision`: the first 12
/// hex digits of the hash in the source's revision, `main@sha1:<hash>` or
/// `sha1:<hash>` for a `GitRepository`, `sha256:<hex>` for a `Bucket`.
#[must_use]
pub fn git_revision_metadata(revision: &str) -> String {
    let hash = revision.rsplit('@').next().unwrap_or(revision);
    let hash = hash.rsplit(':').next().unwrap_or(hash);
    hash.chars().take(12).collect()
}

/// A built (or reused) chart artifact and what Flux reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartBuild {
    /// The stored `<name>-<version>.tgz`; its revision is `version`.
    pub artifact: Artifact,
    /// The chart's name (`status.observedChartName`).
    pub name: String,
    /// The version with any build metadata.
    pub version: String,
    /// The values files that contributed (`status.observedValuesFiles`).
    pub values_files: Vec<String>,
    /// Whether the chart was packaged here rather than stored as downloaded.
    pub packaged: bool,
}

/// The result of one chart reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartOutcome {
    /// The last artifact has this name and version: nothing was downloaded or written.
    Unchanged(ChartBuild),
    /// A new artifact was stored.
    Updated(ChartBuild),
}

impl ChartOutcome {
    /// The build now current.
    pub fn build(&self) -> &ChartBuild {
        match self {
            ChartOutcome::Unchanged(b) | ChartOutcome::Updated(b) => b,
        }
    }

    /// Whether a new artifact was stored.
    pub fn is_updated(&self) -> bool {
        matches!(self, ChartOutcome::Updated(_))
    }
}

/// The version with `meta` as its build metadata (Masterminds'
/// `SetMetadata`, printed canonically), or as it is without metadata.
fn versioned(version: &str, meta: &str, chart: &str) -> Result<String, HelmError> {
    if meta.is_empty() {
        return Ok(version.to_string());
    }
    Version::parse(version)
        .and_then(|v| v.with_metadata(meta))
        .map(|v| v.to_string())
        .ok_or_else(|| HelmError::InvalidChart {
            chart: chart.to_string(),
            problem: format!("cannot set build metadata {meta:?} on version {version:?}"),
        })
}

/// The reusable last build, when its file is there under the same name and
/// version; `packaged` says whether this build would have packaged it.
/// A chart directory or package of a source, read, with the name and
/// version its artifact would have.
struct LocalChart {
    root: PathBuf,
    resolved: PathBuf,
    is_dir: bool,
    /// The package's bytes, when the chart is one.
    package: Option<Vec<u8>>,
    files: ChartFiles,
    chart_meta: ChartMeta,
    name: String,
    version: String,
    /// Whether the artifact is packaged here rather than copied.
    packaged: bool,
    /// The chart as messages name it (`request.path`).
    label: String,
}

fn reusable(
    fetcher: &HelmFetcher,
    last: Option<&Artifact>,
    name: &str,
    version: &str,
    values_files: &[String],
    packaged: bool,
) -> Option<ChartOutcome> {
    let last = last.filter(|a| fetcher.storage.looks_present(a))?;
    let file = format!("{name}-{version}.tgz");
    let same = last.revision == version && last.path.rsplit('/').next() == Some(file.as_str());
    same.then(|| {
        ChartOutcome::Unchanged(ChartBuild {
            artifact: last.clone(),
            name: name.to_string(),
            version: version.to_string(),
            values_files: values_files.to_vec(),
            packaged,
        })
    })
}

impl HelmFetcher {
    /// Bring the artifact of `key` up to date with `request`, picking the
    /// chart from `index` (the repository's, see [`HelmFetcher::load_index`])
    /// and downloading it from `repo`.
    ///
    /// `last` is the artifact in the object's status; when its name and
    /// version are what would be built, nothing is downloaded. Pass `None`
    /// when the object's generation changed, to rebuild (Flux's `Force`).
    pub fn reconcile_chart(
        &self,
        key: &ArtifactKey,
        repo: &HelmRepository,
        index: &IndexFile,
        request: &ChartRequest,
        last: Option<&Artifact>,
    ) -> Result<ChartOutcome, HelmError> {
        let base = RepoUrl::parse(&repo.url)?;
        let shown_repo = base.redacted();
        let cv = index.select(&request.chart, &request.version, &shown_repo)?;
        let meta = if request.values_files.is_empty() {
            String::new()
        } else {
            request.generation.to_string()
        };
        let version = versioned(&cv.version, &meta, &cv.name)?;
        let packaged = !meta.is_empty();
        let reused = reusable(
            self,
            last,
            &cv.name,
            &version,
            &request.values_files,
            packaged,
        );
        if let Some(reused) = reused {
            return Ok(reused);
        }
        let (bytes, mut files, shown) = self.download(repo, &base, cv)?;
        let chart_meta = files.meta(&shown)?;
        let values_files = if packaged {
            let (merged, used) = values::merge_chart_values(&files, request, &shown)?;
            values::set_values(&mut files, &merged, &shown)?;
            set_version(&mut files, chart_meta, &version, &shown)?;
            used
        } else {
            Vec::new()
        };
        let build = |out: &mut dyn Write| {
            if packaged {
                files.write_package(&cv.name, out)
            } else {
                out.write_all(&bytes)
            }
        };
        self.store_chart(key, &cv.name, &version, build, values_files, packaged)
    }

    /// The last artifact, when [`reconcile_local_chart`](Self::reconcile_local_chart)
    /// would reuse it for `request`: checked before anything a build needs
    /// is fetched (`oci://` dependencies), so an unchanged chart stays
    /// ready while its dependencies' registry is away, as in Flux.
    pub fn unchanged_local_chart(
        &self,
        source_root: &Path,
        request: &LocalChartRequest,
        last: Option<&Artifact>,
    ) -> Result<Option<ChartOutcome>, HelmError> {
        let local = self.read_local_chart(source_root, request)?;
        Ok(reusable(
            self,
            last,
            &local.name,
            &local.version,
            &request.values_files,
            local.packaged,
        ))
    }

    /// Reads the chart at `request.path` inside `source_root` and the
    /// name and version its artifact would have.
    fn read_local_chart(
        &self,
        source_root: &Path,
        request: &LocalChartRequest,
    ) -> Result<LocalChart, HelmError> {
        let label = request.path.clone();
        let invalid = |problem: String| HelmError::InvalidChart {
            chart: label.clone(),
            problem,
        };
        let root = source_root
            .canonicalize()
            .map_err(|e| invalid(format!("source directory {}: {e}", source_root.display())))?;
        let chart_path = inside(&root, &request.path)
            .ok_or_else(|| invalid("the path leaves the source".into()))?;
        let resolved = chart_path
            .canonicalize()
            .map_err(|e| invalid(format!("not found in the source: {e}")))?;
        if !resolved.starts_with(&root) {
            return Err(invalid("the path links outside the source".into()));
        }
        let is_dir = resolved.is_dir();
        // A package in the source, kept byte for byte when nothing changes it.
        let mut package = None;
        let files = if is_dir {
            ChartFiles::from_dir(&resolved, &root, &label, &self.limits)?
        } else {
            let size = std::fs::metadata(&resolved).map_or(0, |m| m.len());
            if size > self.limits.max_chart_size {
                return Err(HelmError::TooLarge {
                    what: "chart",
                    url: label,
                    limit: self.limits.max_chart_size,
                });
            }
            let bytes = std::fs::read(&resolved).map_err(|e| invalid(format!("reading: {e}")))?;
            let files = ChartFiles::from_archive(&bytes, &label, &self.limits)?;
            package = Some(bytes);
            files
        };
        let chart_meta = files.meta(&label)?;
        let mut meta = request.revision_metadata.clone().unwrap_or_default();
        if !request.values_files.is_empty() {
            if !meta.is_empty() {
                meta.push('.');
            }
            meta.push_str(&request.generation.to_string());
        }
        let name = chart_meta.name.clone();
        let version = versioned(&chart_meta.version, &meta, &label)?;
        // Flux copies a package it need not change (no values files, no
        // revision metadata) and packages everything else.
        let packaged = is_dir || !meta.is_empty();
        Ok(LocalChart {
            root,
            resolved,
            is_dir,
            package,
            files,
            chart_meta,
            name,
            version,
            packaged,
            label,
        })
    }

    /// Bring the artifact of `key` up to date with the chart at
    /// `request.path` inside `source_root` (an unpacked source artifact).
    /// A directory is packaged as Helm does (`.helmignore` honoured); a
    /// `.tgz` is used as it is unless values or metadata change it.
    ///
    /// `last` works as in [`HelmFetcher::reconcile_chart`]: the same name
    /// and version reuse the last artifact (with the `ChartVersion`
    /// strategy a change that keeps the version builds nothing new, as in
    /// Flux).
    pub fn reconcile_local_chart(
        &self,
        key: &ArtifactKey,
        source_root: &Path,
        request: &LocalChartRequest,
        last: Option<&Artifact>,
    ) -> Result<ChartOutcome, HelmError> {
        let local = self.read_local_chart(source_root, request)?;
        if let Some(reused) = reusable(
            self,
            last,
            &local.name,
            &local.version,
            &request.values_files,
            local.packaged,
        ) {
            return Ok(reused);
        }
        let LocalChart {
            root,
            resolved,
            is_dir,
            package,
            mut files,
            chart_meta,
            name,
            version,
            packaged,
            label,
        } = local;
        if is_dir {
            self.add_dependencies(&chart_meta, &mut files, &resolved, &root, request, &label)?;
        }
        let mut values_files = Vec::new();
        if !request.values_files.is_empty() {
            let (merged, used) = values::merge_source_values(&root, request, &label)?;
            values::set_values(&mut files, &merged, &label)?;
            values_files = used;
        }
        if version != chart_meta.version {
            set_version(&mut files, chart_meta, &version, &label)?;
        }
        let build = |out: &mut dyn Write| match package.as_deref().filter(|_| !packaged) {
            Some(bytes) => out.write_all(bytes),
            None => files.write_package(&name, out),
        };
        self.store_chart(key, &name, &version, build, values_files, packaged)
    }

    /// Downloads the package of `cv` from `repo` (credentials only where
    /// Helm sends them), checks the index digest and that it holds that
    /// chart. Returns the bytes, the files and the URL for messages.
    pub(super) fn download(
        &self,
        repo: &HelmRepository,
        base: &RepoUrl,
        cv: &ChartVersion,
    ) -> Result<(Vec<u8>, ChartFiles, String), HelmError> {
        let reference = cv.urls.first().ok_or_else(|| HelmError::NoChartUrl {
            url: base.redacted(),
            chart: cv.name.clone(),
            version: cv.version.clone(),
        })?;
        let url = base.resolve(reference)?;
        let shown = http::redact(url.as_str());
        let auth = repo
            .auth
            .as_ref()
            .filter(|_| repo.pass_credentials || base.same_origin(&url));
        let client = http::client(base, &repo.tls, repo.timeout)?;
        let Body::Full { bytes, .. } = http::get(
            &client,
            &url,
            auth,
            None,
            self.limits.max_chart_size,
            "chart",
            repo.timeout,
        )?
        else {
            unreachable!("no If-None-Match was sent");
        };
        if !cv.digest.is_empty() {
            let actual = hex::encode(Sha256::digest(&bytes));
            if !actual.eq_ignore_ascii_case(&cv.digest) {
                return Err(HelmError::DigestMismatch {
                    url: shown,
                    expected: cv.digest.clone(),
                    actual,
                });
            }
        }
        let files = ChartFiles::from_archive(&bytes, &shown, &self.limits)?;
        let name = files.meta(&shown)?.name;
        if name != cv.name {
            return Err(HelmError::InvalidChart {
                chart: shown,
                problem: format!(
                    "the package holds chart {name:?}, the index says {:?}",
                    cv.name
                ),
            });
        }
        Ok((bytes, files, shown))
    }

    fn store_chart(
        &self,
        key: &ArtifactKey,
        name: &str,
        version: &str,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
        values_files: Vec<String>,
        packaged: bool,
    ) -> Result<ChartOutcome, HelmError> {
        let file = format!("{name}-{version}.tgz");
        let artifact = self.storage.store_named(
            key,
            version,
            |_| file.clone(),
            |out| write(out).map_err(|e| crate::Error::io("writing chart artifact", &file, e)),
        )?;
        self.gc(key, &artifact);
        Ok(ChartOutcome::Updated(ChartBuild {
            artifact,
            name: name.to_string(),
            version: version.to_string(),
            values_files,
            packaged,
        }))
    }
}

/// `rel` joined under `root` lexically, `..` never climbing above it
/// (securejoin's clamping, which Flux uses); `None` for an absolute path.
pub(super) fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts);
    Some(out)
}

/// Writes the version with its metadata into `Chart.yaml`, so the package
/// says what the artifact's revision says.
fn set_version(
    files: &mut ChartFiles,
    mut chart_meta: ChartMeta,
    version: &str,
    chart: &str,
) -> Result<(), HelmError> {
    chart_meta
        .document
        .insert("version".into(), Value::String(version.to_string()));
    let yaml =
        serde_saphyr::to_string(&chart_meta.document).map_err(|e| HelmError::InvalidChart {
            chart: chart.to_string(),
            problem: format!("cannot write Chart.yaml: {e}"),
        })?;
    files.set("Chart.yaml", yaml.into_bytes());
    Ok(())
}

#[cfg(test)]
mod tests;
