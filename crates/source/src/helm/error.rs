//! Errors of the Helm repository and chart sources: each variant names the
//! URL (credentials stripped), chart, file or limit it is about, with the
//! cause as `#[source]`. No message ever holds a password, a token or a
//! private key: URLs are redacted before they are stored here.

use std::time::Duration;

use crate::Cause;

/// Everything that can go wrong while fetching a Helm repository index or
/// building a `HelmChart` artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelmError {
    /// The URL could not be parsed or is not `http(s)://`.
    #[error("invalid Helm repository URL {url:?}: {problem}")]
    InvalidUrl {
        /// The URL as given (credentials stripped).
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A PEM in the TLS secret (`ca.crt`, `tls.crt`, `tls.key`) is unusable.
    #[error("TLS configuration for {url} is invalid: {problem}")]
    InvalidTls {
        /// The repository's URL.
        url: String,
        /// Which part and what is wrong (never the key's content).
        problem: String,
        /// The TLS library's complaint, when it said.
        #[source]
        source: Option<Cause>,
    },
    /// The server did not answer: refused connection, unknown host, TLS failure.
    #[error("cannot reach {url}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// What the transport reported.
        #[source]
        source: Cause,
    },
    /// The request did not finish within the timeout.
    #[error("request to {url} timed out after {}s", timeout.as_secs_f64())]
    Timeout {
        /// The URL asked for.
        url: String,
        /// The limit that passed.
        timeout: Duration,
    },
    /// The server answered 401 or 403.
    #[error("authentication to {url} failed (HTTP {status})")]
    AuthFailed {
        /// The URL asked for.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server answered another non-success status.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The URL asked for.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body (announced or read) is over the limit.
    #[error("{what} at {url} exceeds the limit of {limit} bytes ({})", size_flag(.what))]
    TooLarge {
        /// `index` or `chart`.
        what: &'static str,
        /// The URL asked for.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The index is not a Helm repository index.
    #[error("index at {url} is not a valid Helm repository index: {problem}")]
    InvalidIndex {
        /// Where the index came from (URL or artifact path).
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The repository has no chart of that name.
    #[error("no chart named {chart:?} in {url}")]
    ChartNotFound {
        /// The repository's URL.
        url: String,
        /// The chart asked for.
        chart: String,
    },
    /// The chart exists but no version satisfies the range.
    #[error("no chart version found for {chart}-{version} in {url} (available: {available})")]
    VersionNotFound {
        /// The repository's URL.
        url: String,
        /// The chart asked for.
        chart: String,
        /// The version or range asked for.
        version: String,
        /// The versions the index lists, highest first (truncated).
        available: String,
    },
    /// `spec.version` is neither a version in the index nor a Masterminds range.
    #[error("invalid chart version {version:?}")]
    InvalidVersion {
        /// The version or range asked for.
        version: String,
        /// The parser's complaint.
        #[source]
        source: driftless_semver::ParseError,
    },
    /// The index entry has no URL to download the chart from.
    #[error("chart {chart} {version} in {url} has no download URL")]
    NoChartUrl {
        /// The repository's URL.
        url: String,
        /// The chart.
        chart: String,
        /// Its version.
        version: String,
    },
    /// The downloaded chart's sha256 is not the digest in the index.
    #[error(
        "chart downloaded from {url} has digest sha256:{actual}, the index says sha256:{expected}"
    )]
    DigestMismatch {
        /// The chart's URL.
        url: String,
        /// The digest in the index.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// The chart (archive or directory) is not a usable Helm chart.
    #[error("chart {chart} is invalid: {problem}")]
    InvalidChart {
        /// The chart's URL, or its path in the source.
        chart: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A values file listed in `spec.valuesFiles` is missing or unusable.
    #[error("values file {path:?} of chart {chart}: {problem}")]
    ValuesFile {
        /// The chart's URL, or its path in the source.
        chart: String,
        /// The file as listed.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A dependency of a chart built from a directory could not be fetched
    /// from its repository.
    #[error("chart {chart}: cannot add dependency {dependency:?} from {repository}")]
    Dependency {
        /// The chart's path in the source.
        chart: String,
        /// The dependency's name in `Chart.yaml`.
        dependency: String,
        /// Its `repository` (credentials stripped).
        repository: String,
        /// Why.
        #[source]
        source: Box<HelmError>,
    },
    /// Pulling a chart from an OCI registry failed (an `oci://` dependency).
    #[error(transparent)]
    Oci(Box<crate::oci::OciError>),
    /// Storing or reading an artifact failed.
    #[error("artifact storage failed")]
    Storage(#[source] crate::Error),
}

impl HelmError {
    /// What a person can do about it, one short line.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            HelmError::InvalidUrl { .. } => {
                "set spec.url to the http:// or https:// URL of the repository"
            }
            HelmError::InvalidTls { .. } => {
                "check ca.crt, tls.crt and tls.key in spec.certSecretRef (PEM; tls.crt and tls.key together)"
            }
            HelmError::Unreachable { .. } => {
                "check the URL, that the server is up and that this host can reach it"
            }
            HelmError::Timeout { .. } => "raise spec.timeout, or check the server and the network",
            HelmError::AuthFailed { .. } => {
                "check username and password in spec.secretRef; for charts on another host, see spec.passCredentials"
            }
            HelmError::HttpStatus { .. } => "check spec.url: it must serve index.yaml",
            HelmError::TooLarge { .. } => {
                "raise the limit with the flag named, or split the repository"
            }
            HelmError::InvalidIndex { .. } => "fix the repository's index.yaml (helm repo index)",
            HelmError::ChartNotFound { .. } => "check spec.chart against the repository's index",
            HelmError::VersionNotFound { .. } => {
                "publish a matching version, or change spec.version to one that exists"
            }
            HelmError::InvalidVersion { .. } => {
                "write an exact version or a range such as \"6.x\", \">=1.0.0 <2.0.0\" or \"*\""
            }
            HelmError::NoChartUrl { .. } | HelmError::DigestMismatch { .. } => {
                "the repository index is inconsistent; re-index it (helm repo index)"
            }
            HelmError::InvalidChart { .. } => {
                "check spec.chart points at a Helm chart (Chart.yaml with name and version)"
            }
            HelmError::ValuesFile { .. } => {
                "fix the path in spec.valuesFiles, or set spec.ignoreMissingValuesFiles"
            }
            HelmError::Dependency { source, .. } => match **source {
                HelmError::AuthFailed { .. } => {
                    "give the chart's namespace a HelmRepository with this URL and a spec.secretRef holding its credentials"
                }
                HelmError::Oci(ref inner)
                    if matches!(**inner, crate::oci::OciError::AuthFailed { .. }) =>
                {
                    "give the chart's namespace a HelmRepository of type oci with this URL and a spec.secretRef holding its credentials"
                }
                ref other => return other.hint(),
            },
            HelmError::Oci(inner) => return inner.hint(),
            HelmError::Storage(inner) => return inner.hint(),
        })
    }
}

impl From<crate::Error> for HelmError {
    fn from(e: crate::Error) -> Self {
        HelmError::Storage(e)
    }
}

/// The flag that raises the size bound of a `TooLarge` body.
fn size_flag(what: &str) -> &'static str {
    if what == "index" {
        driftless_limits::Limit::HelmIndexBytes.flag()
    } else {
        driftless_limits::Limit::HelmPackageBytes.flag()
    }
}
