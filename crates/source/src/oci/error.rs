//! Errors of OCI pulls and pushes: one enum, each variant naming the URL,
//! the reference, the field or the limit, with the registry client's
//! complaint as `#[source]`.
//!
//! Its own enum rather than new variants of [`crate::Error`]: the registry
//! cases (manifest, layer, tag list, credentials) have nothing in common
//! with git's, and storage or archive failures are kept whole in
//! [`OciError::Storage`]. No variant holds a password, token or the
//! content of a secret.

use crate::{Cause, Error};

/// Everything that can go wrong while pulling an OCI artifact (or pushing one).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// `spec.url` is not `oci://host[:port]/repository`.
    #[error("invalid OCI URL {url:?}: {problem}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A field of the reference (`digest`, `semverFilter`, `tag`) is malformed.
    #[error("invalid {field} {value:?}: {problem}")]
    InvalidReference {
        /// The field, as Flux names it (e.g. `spec.ref.digest`).
        field: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// `spec.ref.semver` is not a valid range.
    #[error("invalid semver range {range:?} in spec.ref.semver")]
    InvalidSemver {
        /// The range as given.
        range: String,
        /// The parser's complaint.
        #[source]
        source: Box<Error>,
    },
    /// The Secret of `spec.secretRef` is not a usable `.dockerconfigjson`.
    #[error("docker config in spec.secretRef is invalid: {problem}")]
    DockerConfig {
        /// What is wrong with it (never its content).
        problem: String,
    },
    /// The CA of `spec.certSecretRef` could not be used.
    #[error("CA certificate in spec.certSecretRef is unusable")]
    InvalidCa {
        /// The TLS layer's complaint.
        #[source]
        source: Cause,
    },
    /// The registry did not answer: refused connection, unknown host, TLS failure.
    #[error("cannot reach OCI registry {registry} (for {url})")]
    Unreachable {
        /// The repository's URL.
        url: String,
        /// The registry host.
        registry: String,
        /// What the client reported.
        #[source]
        source: Cause,
    },
    /// The registry refused our credentials, or wanted some and had none.
    #[error("authentication to {url} failed")]
    AuthFailed {
        /// The repository's URL.
        url: String,
        /// What the registry said.
        #[source]
        source: Cause,
    },
    /// `ImageRepository.spec.image` is not `[host[:port]/]path` without tag or digest.
    #[error("invalid image {image:?}: {problem}")]
    InvalidImage {
        /// The image as given.
        image: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The repository does not exist in the registry (its tag list is not found).
    #[error("repository {url} does not exist")]
    RepositoryNotFound {
        /// The repository (URL or image name).
        url: String,
        /// What the registry said.
        #[source]
        source: Cause,
    },
    /// The tag or digest has no manifest in the repository (or the repository does not exist).
    #[error("{reference} not found in {url}")]
    NotFound {
        /// The repository's URL.
        url: String,
        /// `tag "v1"` or `digest "sha256:…"`.
        reference: String,
        /// What the registry said.
        #[source]
        source: Cause,
    },
    /// No tag of the repository is a version inside the range (after `semverFilter`).
    #[error("no tag in {url} matches semver range {range:?} ({tags} tags seen)")]
    SemverNoMatch {
        /// The repository's URL.
        url: String,
        /// The range as given.
        range: String,
        /// How many tags were compared (after the filter).
        tags: usize,
    },
    /// The repository lists more tags than the limit.
    #[error("{url} lists more than {limit} tags (the --registry-max-tags bound)")]
    TooManyTags {
        /// The repository's URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The manifest is an index or another kind this source does not read.
    #[error("{reference} in {url} is not an image manifest ({found})")]
    UnsupportedManifest {
        /// The repository's URL.
        url: String,
        /// The revision being pulled.
        reference: String,
        /// What was found instead.
        found: String,
    },
    /// The manifest has no layer with the selected media type (or no layer at all).
    #[error(
        "{reference} in {url} has no layer of media type {wanted:?} (layers: {})",
        if found.is_empty() { "none".to_owned() } else { found.join(", ") }
    )]
    LayerNotFound {
        /// The repository's URL.
        url: String,
        /// The revision being pulled.
        reference: String,
        /// The media type asked for (`*` for any).
        wanted: String,
        /// The media types the manifest has, in order.
        found: Vec<String>,
    },
    /// The selected layer is bigger than the limit.
    #[error("layer {digest} of {url} is {size} bytes, over the limit of {limit} bytes")]
    LayerTooLarge {
        /// The repository's URL.
        url: String,
        /// The layer's digest.
        digest: String,
        /// Its size in bytes (as announced, or as far as it was read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The operation did not finish within the source's timeout.
    #[error("OCI operation on {url} timed out after {}s", timeout.as_secs_f64())]
    Timeout {
        /// The repository's URL.
        url: String,
        /// The limit that passed.
        timeout: std::time::Duration,
    },
    /// Any other failure talking to the registry.
    #[error("{during} on {url} failed")]
    Registry {
        /// The repository's URL.
        url: String,
        /// What was being done.
        during: &'static str,
        /// What the client reported.
        #[source]
        source: Cause,
    },
    /// Unpacking the layer or writing the artifact failed (the cause says how).
    #[error("cannot store the artifact of {url}")]
    Storage {
        /// The repository's URL.
        url: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
}

impl OciError {
    /// What a person can do about it, one short line.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            OciError::InvalidUrl { .. } => {
                "write spec.url as oci://host[:port]/repository, without a tag or digest"
            }
            OciError::InvalidReference { .. } => {
                "fix spec.ref: digest as sha256:<64 hex>, semverFilter as a regular expression"
            }
            OciError::InvalidSemver { .. } => "write the range like \">=1.0.0 <2.0.0\" or \"~1.2\"",
            OciError::DockerConfig { .. } => {
                "make spec.secretRef a kubernetes.io/dockerconfigjson Secret (kubectl create secret docker-registry)"
            }
            OciError::InvalidCa { .. } => {
                "put a PEM CA certificate in ca.crt of the Secret in spec.certSecretRef"
            }
            OciError::Unreachable { .. } => {
                "check the host in spec.url and that it is up; for a TLS error, spec.certSecretRef (private CA) or spec.insecure (plain HTTP)"
            }
            OciError::AuthFailed { .. } => {
                "check the credentials in spec.secretRef for this registry host"
            }
            OciError::InvalidImage { .. } => {
                "write spec.image as host[:port]/path (or a Docker Hub name), without scheme, tag or digest"
            }
            OciError::RepositoryNotFound { .. } => {
                "check the repository name, and that something was pushed to it"
            }
            OciError::NotFound { .. } => {
                "check spec.ref and spec.url: push the tag, or fix its name"
            }
            OciError::SemverNoMatch { .. } => {
                "push a tag inside the range, or widen spec.ref.semver (or spec.ref.semverFilter)"
            }
            OciError::TooManyTags { .. } => {
                "pin spec.ref.tag or spec.ref.digest, or remove old tags from the repository"
            }
            OciError::UnsupportedManifest { .. } => {
                "point spec.ref at an artifact pushed with flux push artifact or helm push"
            }
            OciError::LayerNotFound { .. } => {
                "set spec.layerSelector.mediaType to one of the layers listed, or push the artifact again"
            }
            OciError::LayerTooLarge { .. } => {
                "make the artifact smaller, or raise the controller's artifact size limit"
            }
            OciError::Timeout { .. } => "raise spec.timeout, or check the registry and the network",
            OciError::Storage { source, .. } => return source.hint(),
            OciError::Registry { .. } => return None,
        })
    }
}
