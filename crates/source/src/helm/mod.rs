//! # Helm sources: `HelmRepository` indexes and `HelmChart` artifacts
//!
//! The HTTP(S) half of Flux's Helm sources (OCI repositories are another
//! module's). Plain requests in ([`HelmRepository`], [`ChartRequest`],
//! [`LocalChartRequest`]), [`Artifact`]s out, stored in the crate's
//! [`Storage`]; errors are [`HelmError`]s naming the URL (credentials
//! stripped), chart, file or limit, each with a [`hint`](HelmError::hint).
//!
//! **Owns:** fetching `index.yaml` (basic auth, CA/client certificate,
//! skip-verify, timeout, `If-None-Match`), parsing and storing it, picking a
//! chart version with Masterminds ranges, downloading and verifying the
//! package, packaging a chart directory from a source artifact, merging
//! `valuesFiles`, and Flux's chart revision rules.
//! **Must not touch:** Kubernetes. The controller reads the secrets
//! (`username`/`password`; `ca.crt`, `tls.crt`, `tls.key`) into
//! [`BasicAuth`] and [`TlsConfig`], unpacks a `GitRepository` artifact for
//! [`HelmFetcher::reconcile_local_chart`], serves the stored files and maps
//! errors onto conditions.
//!
//! Flux's rules kept here:
//! - `HelmRepository`: the revision is `sha256:<hex>` of `index.yaml` as
//!   downloaded; the artifact is the parsed, sorted index as indented JSON
//!   in `index-<revision hex>.yaml`, its digest that file's sha256.
//! - `HelmChart` from a repository: the exact version text if the index has
//!   it, else the highest version in the range (`*` when empty, stable
//!   only); the chart is sent the repository's credentials only on the same
//!   scheme, host and port unless `passCredentials`; the index `digest` is
//!   checked when present.
//! - The revision is the chart version; with `valuesFiles` the object's
//!   generation becomes its build metadata, and for a git source with
//!   `reconcileStrategy: Revision` the first 12 hex of the commit does
//!   (`6.0.0+abcdef123456`, `6.0.0+abcdef123456.3` with values files;
//!   metadata the version had is replaced). The artifact is
//!   `<name>-<version>.tgz`. A chart whose name and version match the last
//!   artifact is not downloaded or built again (Flux's cache; pass `None`
//!   as `last` when the generation changed, to force a build).
//! - Values files merge in order with Helm's deep merge into the packaged
//!   `values.yaml`; a remote chart's paths are inside the chart, a local
//!   chart's are relative to the source root.
//!
//! Known differences: the stored index JSON is ours (Go's field order is
//! not reproduced), so artifact digests differ from Flux's while revisions
//! match; packages are written with fixed timestamps so a rebuild of the
//! same input has the same digest. Dependencies of a local chart that are
//! not vendored in `charts/` are fetched as Flux does for `file://` paths
//! inside the source and `http(s)://` repositories (credentials from the
//! matching [`LocalChartRequest::dependency_repositories`] entry); `oci://`
//! ones are pulled by the caller first ([`oci_dependencies`],
//! [`pull_oci_dependencies`], credentials from the matching [`OciRegistry`])
//! because the registry client is async; `@alias` repositories are refused
//! with an error saying so.
//!
//! Blocking: call it from `spawn_blocking` on an async runtime.
//!
//! ## How the controller calls this
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//! use driftless_source::helm::{
//!     BasicAuth, ChartRequest, HelmFetcher, HelmRepository, LastIndex, LocalChartRequest,
//!     git_revision_metadata,
//! };
//! use driftless_source::{ArtifactKey, Storage};
//! # fn main() -> Result<(), driftless_source::helm::HelmError> {
//! let fetcher = HelmFetcher::new(Storage::new("/var/lib/driftless")?);
//!
//! // HelmRepository flux-system/podinfo, every spec.interval:
//! let mut repo = HelmRepository::new("https://charts.example.com/podinfo");
//! repo.auth = Some(BasicAuth::new("user", "from spec.secretRef"));
//! repo.timeout = Duration::from_secs(60);
//! let repo_key = ArtifactKey::helm_repository("flux-system", "podinfo");
//! let fetched = fetcher.reconcile_index(&repo_key, &repo, None)?;
//! // Keep this (status.artifact + the ETag, in memory) for the next interval.
//! let last = LastIndex::from(&fetched);
//! let again = fetcher.reconcile_index(&repo_key, &repo, Some(&last))?;
//! assert!(!again.is_updated() || again.artifact().revision != fetched.artifact().revision);
//!
//! // HelmChart flux-system/podinfo-podinfo with sourceRef to that repository:
//! let index = fetcher.load_index(again.artifact())?;
//! let mut request = ChartRequest::new("podinfo", "6.x");
//! request.values_files = vec!["values-prod.yaml".into()];
//! request.generation = 3;
//! let chart_key = ArtifactKey::helm_chart("flux-system", "podinfo-podinfo");
//! let built = fetcher.reconcile_chart(&chart_key, &repo, &index, &request, None)?;
//! println!("{} {}", built.build().artifact.path, built.build().artifact.revision);
//! // Next interval: pass Some(&status.artifact) while metadata.generation is
//! // status.observedGeneration, None after a spec change (Flux's Force).
//!
//! // HelmChart with sourceRef to a GitRepository: the controller unpacks
//! // that artifact (unpack_verified) and points at the directory.
//! let mut local = LocalChartRequest::new("./charts/podinfo");
//! // reconcileStrategy: Revision
//! local.revision_metadata = Some(git_revision_metadata("main@sha1:0123456789abcdef0123456789abcdef01234567"));
//! // Dependencies in other repositories use these repositories' credentials.
//! local.dependency_repositories = vec![repo.clone()];
//! let key = ArtifactKey::helm_chart("flux-system", "from-git");
//! let built = fetcher.reconcile_local_chart(&key, Path::new("/tmp/unpacked"), &local, None)?;
//! assert!(built.build().version.ends_with("+0123456789ab"));
//! # Ok(()) }
//! ```

mod chart;
mod dependencies;
mod error;
mod http;
mod index;
mod oci_dependencies;
mod package;
mod repository;
mod values;

use std::fmt;
use std::time::Duration;

pub use chart::{ChartBuild, ChartOutcome, ChartRequest, LocalChartRequest, git_revision_metadata};
pub use dependencies::dependency_repository_urls;
pub use error::HelmError;
pub use index::{ChartVersion, IndexFile};
pub use oci_dependencies::{
    OciDependency, OciRegistry, PulledChart, oci_dependencies, pull_oci_dependencies,
};
pub use repository::{IndexOutcome, LastIndex};

#[cfg(doc)]
use crate::Artifact;
use crate::Storage;

/// A Helm HTTP(S) repository as a `HelmRepository` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmRepository {
    /// `spec.url`: `index.yaml` is fetched from beneath it.
    pub url: String,
    /// Basic auth from `spec.secretRef`.
    pub auth: Option<BasicAuth>,
    /// TLS from `spec.certSecretRef`.
    pub tls: TlsConfig,
    /// `spec.passCredentials`: send the credentials to chart URLs on other hosts too.
    pub pass_credentials: bool,
    /// `spec.timeout` for each request (default 60 s, Flux's).
    pub timeout: Duration,
}

impl HelmRepository {
    /// A repository at `url`, no credentials, default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        HelmRepository {
            url: url.into(),
            auth: None,
            tls: TlsConfig::default(),
            pass_credentials: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// HTTP basic credentials. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl BasicAuth {
    /// Credentials for `username`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        BasicAuth {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// TLS settings from a `kubernetes.io/tls`-style secret. `Debug` never
/// shows the key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `ca.crt`: PEM certificates trusted in addition to the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// `tls.crt`: the client certificate (PEM), with `key_pem`.
    pub cert_pem: Option<Vec<u8>>,
    /// `tls.key`: the client key (PEM), with `cert_pem`.
    pub key_pem: Option<Vec<u8>>,
    /// Accept any server certificate (testing only).
    pub insecure_skip_verify: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("cert_pem", &self.cert_pem.as_ref().map(Vec::len))
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

/// Bounds on what a Helm source may make us read or keep. The defaults are
/// the process's [`driftless_limits`] (Flux's and Helm's own bounds).
#[derive(Debug, Clone)]
pub struct HelmLimits {
    /// `index.yaml` bytes (default 50 MiB, `--helm-index-max-size`).
    pub max_index_size: u64,
    /// Chart package bytes as downloaded (default 10 MiB,
    /// `--helm-chart-max-size`).
    pub max_chart_size: u64,
    /// Bytes of one file in a chart (default 5 MiB, `--chart-max-file-size`).
    pub max_chart_file_size: u64,
    /// Bytes of all files of a chart, unpacked (default 100 MiB, `--chart-max-size`).
    pub max_chart_unpacked_size: u64,
    /// Files in a chart (default 20 000, `--chart-max-files`).
    pub max_chart_files: usize,
    /// Artifacts kept per object after a new one is stored (default 2).
    pub keep_artifacts: usize,
}

impl Default for HelmLimits {
    fn default() -> Self {
        let limits = driftless_limits::current();
        HelmLimits {
            max_index_size: limits.helm_index_bytes,
            max_chart_size: limits.helm_package_bytes,
            max_chart_file_size: limits.chart_file_bytes,
            max_chart_unpacked_size: limits.chart_bytes,
            max_chart_files: limits.chart_files,
            keep_artifacts: 2,
        }
    }
}

/// Fetches Helm repository indexes and builds chart artifacts into a
/// [`Storage`].
#[derive(Debug, Clone)]
pub struct HelmFetcher {
    storage: Storage,
    limits: HelmLimits,
}

impl HelmFetcher {
    /// A fetcher storing into `storage`, with default limits.
    pub fn new(storage: Storage) -> Self {
        Self::with_limits(storage, HelmLimits::default())
    }

    /// A fetcher storing into `storage`, with `limits`.
    pub fn with_limits(storage: Storage, limits: HelmLimits) -> Self {
        HelmFetcher { storage, limits }
    }

    /// Where the artifacts are stored.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    fn gc(&self, key: &crate::ArtifactKey, current: &crate::Artifact) {
        if let Err(e) = self.storage.gc(key, self.limits.keep_artifacts, current) {
            tracing::warn!(%key, error = %e, "garbage collection of old artifacts failed");
        }
    }
}
