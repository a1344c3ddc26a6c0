//! The chart a HelmRelease's source has now, fetched from outside the
//! controller — for `driftless build|diff helmrelease NAME` without
//! `--chart` — and the verified download both the CLI and the reconciler
//! use.
//!
//! Reads, never writes: the HelmChart of `spec.chart` is the one the
//! controller made (`<namespace>-<name>` in the source's namespace), not
//! made here. The artifact URL is the controller's artifact server
//! (`--artifact-base-url`), which may not resolve where the CLI runs; that
//! case is its own error, so the CLI can say to pass `--chart PATH`.

use std::time::Duration;

use driftless_api::helmrelease::ChartSourceKind;
use driftless_api::meta::Artifact;
use driftless_api::{ExternalArtifact, FluxObject, HelmChart, HelmRelease, OCIRepository};
use kube::ResourceExt;
use kube::api::Api;
use sha2::Digest as _;

use super::chart_source::{source_label, usable};

/// Why a HelmRelease's chart could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChartFetchError {
    /// Neither or both of `spec.chart` and `spec.chartRef` are set.
    #[error("HelmRelease {release}: exactly one of spec.chart and spec.chartRef must be set")]
    NoChart {
        /// `namespace/name` of the HelmRelease.
        release: String,
    },
    /// The source could not be read.
    #[error("cannot read {source_ref}")]
    Read {
        /// `Kind/namespace/name` of the source.
        source_ref: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The source does not exist.
    #[error("{source_ref} not found")]
    NotFound {
        /// `Kind/namespace/name` of the source.
        source_ref: String,
    },
    /// The source is not ready, or has no artifact.
    #[error("{message}")]
    NotReady {
        /// `Kind/namespace/name` of the source.
        source_ref: String,
        /// What its status says, naming it.
        message: String,
    },
    /// No HTTP client could be made (no TLS roots, say).
    #[error("cannot set up an HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// The download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
}

impl ChartFetchError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            ChartFetchError::NoChart { .. } => {
                "set spec.chart or spec.chartRef, or pass --chart PATH".into()
            }
            ChartFetchError::Read { .. } => {
                "check access to the source, or pass --chart PATH".into()
            }
            ChartFetchError::NotFound { source_ref } if source_ref.starts_with("HelmChart/") => {
                "the controller creates the HelmChart of spec.chart when it reconciles the HelmRelease; run the controller, or pass --chart PATH".into()
            }
            ChartFetchError::NotFound { .. } => {
                "create the source or fix the chart reference, or pass --chart PATH".into()
            }
            ChartFetchError::NotReady { source_ref, .. } => format!(
                "see `driftless get sources all` for {source_ref}, or pass --chart PATH"
            ),
            ChartFetchError::Download(DownloadError::Unreachable { url, .. }) => format!(
                "{url} is the controller's artifact server (--artifact-base-url); run where it resolves, or pass --chart PATH"
            ),
            ChartFetchError::HttpClient(_) => "pass --chart PATH".into(),
            ChartFetchError::Download(_) => {
                "reconcile the source to fetch it again, or pass --chart PATH".into()
            }
        }
    }
}

/// Why an artifact download failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The artifact server could not be reached (connect, DNS, timeout).
    #[error("cannot reach {url} for the chart of {source_ref}")]
    Unreachable {
        /// The artifact URL.
        url: String,
        /// `Kind/namespace/name` of the source.
        source_ref: String,
        /// The HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error, or the body broke off.
    #[error("cannot download the chart of {source_ref} from {url}")]
    Http {
        /// The artifact URL.
        url: String,
        /// `Kind/namespace/name` of the source.
        source_ref: String,
        /// The HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// The body is larger than the limit.
    #[error("the chart of {source_ref} is larger than {limit} bytes (--helm-chart-max-size)")]
    TooLarge {
        /// `Kind/namespace/name` of the source.
        source_ref: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The body is not what the source's status says it is.
    #[error("the chart of {source_ref} does not match its digest (want {want}, got {got})")]
    Digest {
        /// `Kind/namespace/name` of the source.
        source_ref: String,
        /// The digest in the source's status.
        want: String,
        /// The digest of what was downloaded.
        got: String,
    },
}

/// Downloads `artifact` of `source_ref`, at most `limit` bytes, and checks
/// it against the artifact's digest.
pub(super) async fn download_verified(
    http: &reqwest::Client,
    source_ref: &str,
    artifact: &Artifact,
    limit: u64,
) -> Result<Vec<u8>, DownloadError> {
    let url = &artifact.url;
    let http_error = |source: reqwest::Error| {
        if source.is_connect() || source.is_timeout() {
            DownloadError::Unreachable {
                url: url.clone(),
                source_ref: source_ref.to_owned(),
                source,
            }
        } else {
            DownloadError::Http {
                url: url.clone(),
                source_ref: source_ref.to_owned(),
                source,
            }
        }
    };
    let mut response = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(http_error)?;
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await.map_err(http_error)? {
        body.extend_from_slice(&piece);
        if body.len() as u64 > limit {
            return Err(DownloadError::TooLarge {
                source_ref: source_ref.to_owned(),
                limit,
            });
        }
    }
    if let Some(want) = &artifact.digest {
        let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body)));
        if &got != want {
            return Err(DownloadError::Digest {
                source_ref: source_ref.to_owned(),
                want: want.clone(),
                got,
            });
        }
    }
    Ok(body)
}

/// The chart archive `hr`'s source has now, and `Kind/namespace/name` of
/// that source: downloaded from its `status.artifact` URL (at most `limit`
/// bytes, within `timeout`) and verified against its digest.
pub async fn fetch_helm_release_chart(
    hr: &HelmRelease,
    client: &kube::Client,
    limit: u64,
    timeout: Duration,
) -> Result<(Vec<u8>, String), ChartFetchError> {
    let own = hr.namespace().unwrap_or_default();
    let (source_ref, artifact) = match (&hr.spec.chart, &hr.spec.chart_ref) {
        (Some(template), None) => {
            let namespace = template
                .spec
                .source_ref
                .namespace
                .as_deref()
                .unwrap_or(&own);
            artifact_of(
                client,
                namespace,
                &hr.helm_chart_name(),
                HelmChart::artifact,
            )
            .await?
        }
        (None, Some(reference)) => {
            let namespace = reference.namespace.as_deref().unwrap_or(&own);
            let name = &reference.name;
            match reference.kind {
                ChartSourceKind::HelmChart => {
                    artifact_of(client, namespace, name, HelmChart::artifact).await?
                }
                ChartSourceKind::OCIRepository => {
                    artifact_of(client, namespace, name, OCIRepository::artifact).await?
                }
                ChartSourceKind::ExternalArtifact => {
                    artifact_of(client, namespace, name, ExternalArtifact::artifact).await?
                }
            }
        }
        _ => {
            return Err(ChartFetchError::NoChart {
                release: format!("{own}/{}", hr.name_any()),
            });
        }
    };
    driftless_source::transport::install_crypto_provider();
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(ChartFetchError::HttpClient)?;
    let bytes = download_verified(&http, &source_ref, &artifact, limit).await?;
    Ok((bytes, source_ref))
}

/// `Kind/namespace/name` of source `namespace/name` and its artifact, when
/// it is ready and has one.
async fn artifact_of<K>(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    artifact: fn(&K) -> Option<&Artifact>,
) -> Result<(String, Artifact), ChartFetchError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + FluxObject
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let source_ref = format!("{}/{namespace}/{name}", K::KIND);
    let source: K = Api::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| ChartFetchError::Read {
            source_ref: source_ref.clone(),
            source,
        })?
        .ok_or_else(|| ChartFetchError::NotFound {
            source_ref: source_ref.clone(),
        })?;
    let artifact =
        usable(&source, artifact(&source)).map_err(|unusable| ChartFetchError::NotReady {
            message: unusable.message(&source),
            source_ref,
        })?;
    Ok((source_label(&source), artifact.clone()))
}
