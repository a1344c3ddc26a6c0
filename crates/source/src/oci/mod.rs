//! # OCI sources: Flux's `OCIRepository` pulled into artifacts
//!
//! Given a plain [`OciSource`] (URL, reference, layer selector, credentials,
//! CA, ignore rules, timeout), [`OciFetcher::reconcile`] resolves the
//! reference to a manifest digest, returns [`OciOutcome::Unchanged`] when
//! that is the last artifact's revision (one `HEAD` of the manifest, after
//! a tag listing for semver, no request at all for a digest; no layer is
//! downloaded), and otherwise pulls the manifest by digest, selects one
//! layer and stores it as an [`Artifact`]:
//! extracted and re-archived (`operation: extract`, Flux's default, with
//! the ignore rules of a git source) or as the blob itself (`operation:
//! copy`, e.g. a Helm chart `.tgz`). [`push`] writes artifacts in Flux's
//! format (and any other), for tests and a later `driftless push artifact`
//! ([`pack_directory`] makes the content layer from a directory).
//! [`scan_tags`] and [`tag_digest`] serve Flux's `ImageRepository` and
//! `ImagePolicy`: an image name (`spec.image`, no `oci://`) read as
//! go-containerregistry reads it ([`ImageName`]), its tags, one tag's digest.
//!
//! **Owns:** the distribution API calls, reference resolution (Flux's
//! precedence digest > semver > tag > `latest`), registry credentials from
//! a docker config, layer bounds. **Must not touch:** Kubernetes; the
//! controller reads the Secrets and maps the spec onto [`OciSource`] and
//! [`OciError`] onto a condition (each error names the URL, reference,
//! field or limit, and has a [`hint`](OciError::hint)).
//!
//! Key choice: the `oci-client` crate (the ORAS project's distribution
//! client) rather than hand-written HTTP: it speaks the token flow of
//! `WWW-Authenticate: Bearer` registries, basic auth, chunked and monolithic
//! uploads, and checks blob and manifest digests. It is built on reqwest
//! with rustls and no bundled crypto provider; each client built here
//! installs `ring` as the process default if none is set. Limits of that
//! choice: the client reads a manifest or a tag page whole (the source's
//! timeout bounds how long that may take, not its size), and it has no
//! client certificates, so `certSecretRef` gives a CA only.
//!
//! Revisions follow Flux v1: `<tag>@sha256:<manifest digest>` for a tag or a
//! semver pick, `sha256:<digest>` for a digest. On an update the manifest's
//! annotations come back as the artifact's metadata
//! (`org.opencontainers.image.source` and `…revision` among them).
//!
//! How the controller calls it (Secrets already read by the controller):
//!
//! ```no_run
//! use driftless_source::oci::{
//!     HELM_CHART_LAYER, LayerOperation, OciAuth, OciFetcher, OciOutcome, OciReference, OciSource,
//!     Repository,
//! };
//! use driftless_source::{ArtifactKey, Storage};
//! # async fn reconcile(dockerconfigjson: Option<Vec<u8>>, ca_crt: Option<Vec<u8>>,
//! #     last: Option<driftless_source::Artifact>) -> Result<(), Box<dyn std::error::Error>> {
//! let fetcher = OciFetcher::new(Storage::new("/var/lib/driftless")?);
//! let key = ArtifactKey::new("ocirepository", "flux-system", "podinfo");
//! let mut source = OciSource::new(
//!     "oci://ghcr.io/stefanprodan/manifests/podinfo",
//!     // spec.ref: tag, semver, semverFilter, digest
//!     OciReference::from_spec(Some("latest"), None, None, None),
//! );
//! if let Some(json) = dockerconfigjson {
//!     // spec.secretRef: the Secret's `.dockerconfigjson`, matched to spec.url's host
//!     let host = Repository::parse(&source.url)?.registry;
//!     source.auth = OciAuth::from_docker_config(&json, &host)?;
//! }
//! source.ca_pem = ca_crt; // spec.certSecretRef: `ca.crt`
//! // A HelmRelease chartRef: the chart layer as is. (A Kustomization source keeps the default.)
//! source.layer.media_type = Some(HELM_CHART_LAYER.into());
//! source.layer.operation = LayerOperation::Copy;
//! // `last` is status.artifact; pass None when spec.ignore or spec.layerSelector changed.
//! match fetcher.reconcile(&key, &source, last.as_ref()).await {
//!     Ok(OciOutcome::Unchanged(artifact)) => { /* keep status.artifact */ }
//!     Ok(OciOutcome::Updated { artifact, metadata }) => { /* status.artifact (+ metadata) */ }
//!     Err(e) => { /* condition message: e and its chain; e.hint() */ }
//! }
//! # Ok(()) }
//! ```

mod auth;
mod error;
mod layer;
mod pack;
mod push;
mod reference;
mod scan;
mod tags;

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::Reference;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};

pub use auth::OciAuth;
pub use error::OciError;
pub use pack::pack_directory;
pub use push::{
    FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, OciTarget, PushLayer, push, push_flux_artifact,
};
pub use reference::{HELM_CHART_LAYER, OciReference, Repository};
pub use scan::{DOCKER_HUB, ImageName, ScanOptions, scan_tags, tag_digest};

use crate::{Artifact, ArtifactKey, Error, Storage, UnpackLimits};

/// What to do with the selected layer (`spec.layerSelector.operation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LayerOperation {
    /// Unpack the gzip tarball and archive its files (Flux's default).
    #[default]
    Extract,
    /// Store the layer's blob as it is.
    Copy,
}

/// `spec.layerSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSelector {
    /// The media type of the layer to take; `None` takes the first layer, as Flux does.
    pub media_type: Option<String>,
    /// What to do with it.
    pub operation: LayerOperation,
}

/// A pull request: `OCIRepository`'s spec with its Secrets already read.
#[derive(Debug, Clone)]
pub struct OciSource {
    /// `oci://host[:port]/repository`.
    pub url: String,
    /// Which manifest.
    pub reference: OciReference,
    /// Which layer, and what to do with it.
    pub layer: LayerSelector,
    /// `spec.ignore` (gitignore syntax), applied when extracting.
    pub ignore: Option<String>,
    /// `spec.insecure`: plain HTTP.
    pub insecure: bool,
    /// Credentials (from `spec.secretRef`).
    pub auth: OciAuth,
    /// PEM CA certificate(s) to trust besides the system's (`spec.certSecretRef`'s `ca.crt`).
    pub ca_pem: Option<Vec<u8>>,
    /// The whole reconcile's deadline (`spec.timeout`, Flux's default 60s).
    pub timeout: Duration,
}

impl OciSource {
    /// A source for `url` at `reference`: first layer extracted, anonymous,
    /// HTTPS, 60 s timeout.
    pub fn new(url: impl Into<String>, reference: OciReference) -> Self {
        OciSource {
            url: url.into(),
            reference,
            layer: LayerSelector::default(),
            ignore: None,
            insecure: false,
            auth: OciAuth::Anonymous,
            ca_pem: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Limits and retention for [`OciFetcher`].
#[derive(Debug, Clone)]
pub struct OciOptions {
    /// The selected layer's size in bytes (default 128 MiB); it is held in memory.
    pub max_layer_bytes: u64,
    /// What an extracted layer may unpack to.
    pub unpack: UnpackLimits,
    /// Tags read for a semver pick (default: the process's
    /// [`driftless_limits::Limits::registry_tags`]).
    pub max_tags: usize,
    /// Tags asked for per request when listing (default 1000; the registry may send fewer).
    pub tag_page_size: usize,
    /// Artifacts kept per source after a new one is stored (default 2, Flux's retention).
    pub keep_artifacts: usize,
}

impl Default for OciOptions {
    fn default() -> Self {
        OciOptions {
            max_layer_bytes: 128 << 20,
            unpack: UnpackLimits {
                max_file_bytes: 64 << 20,
                ..UnpackLimits::default()
            },
            max_tags: driftless_limits::current().registry_tags,
            tag_page_size: 1000,
            keep_artifacts: 2,
        }
    }
}

/// The result of one reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciOutcome {
    /// The reference still resolves to the last artifact's revision; no layer was downloaded.
    Unchanged(Artifact),
    /// A new artifact was stored (the previous one stays until garbage-collected).
    Updated {
        /// The stored artifact.
        artifact: Artifact,
        /// The manifest's annotations, for `status.artifact.metadata`.
        metadata: BTreeMap<String, String>,
    },
}

impl OciOutcome {
    /// The artifact now in storage (new or unchanged).
    pub fn artifact(&self) -> &Artifact {
        match self {
            OciOutcome::Unchanged(a) | OciOutcome::Updated { artifact: a, .. } => a,
        }
    }

    /// Whether a new artifact was stored.
    pub fn is_updated(&self) -> bool {
        matches!(self, OciOutcome::Updated { .. })
    }
}

/// A layer pulled into memory by [`OciFetcher::pull`].
#[derive(Clone, PartialEq, Eq)]
pub struct PulledLayer {
    /// `<tag>@sha256:<manifest digest>` (or the digest alone), as for an artifact.
    pub revision: String,
    /// The layer's bytes, digest-checked.
    pub blob: Vec<u8>,
}

impl std::fmt::Debug for PulledLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulledLayer")
            .field("revision", &self.revision)
            .field("bytes", &self.blob.len())
            .finish()
    }
}

/// Pulls OCI artifacts and stores them. Async: the registry client is.
#[derive(Debug, Clone)]
pub struct OciFetcher {
    storage: Storage,
    options: OciOptions,
}

impl OciFetcher {
    /// A fetcher storing artifacts in `storage`, with default options.
    pub fn new(storage: Storage) -> Self {
        Self::with_options(storage, OciOptions::default())
    }

    /// A fetcher storing artifacts in `storage`, with `options`.
    pub fn with_options(storage: Storage, options: OciOptions) -> Self {
        OciFetcher { storage, options }
    }

    /// Where the artifacts are stored.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Bring the artifact of `key` up to date with `source`.
    ///
    /// `last` is the artifact recorded in the object's status. When the
    /// reference resolves to its revision and its file is present, it is
    /// returned as [`OciOutcome::Unchanged`] without downloading anything
    /// else. The revision is all this compares (as Flux does, with its
    /// observed ignore and layer selector): when `spec.ignore` or
    /// `spec.layerSelector` changed, pass `None`. On any error nothing in
    /// storage changes.
    pub async fn reconcile(
        &self,
        key: &ArtifactKey,
        source: &OciSource,
        last: Option<&Artifact>,
    ) -> Result<OciOutcome, OciError> {
        tokio::time::timeout(source.timeout, self.reconcile_inner(key, source, last))
            .await
            .map_err(|_| OciError::Timeout {
                url: source.url.clone(),
                timeout: source.timeout,
            })?
    }

    async fn reconcile_inner(
        &self,
        key: &ArtifactKey,
        source: &OciSource,
        last: Option<&Artifact>,
    ) -> Result<OciOutcome, OciError> {
        let url = source.url.as_str();
        let repo = Repository::parse(url)?;
        let client = client(
            url,
            source.insecure,
            source.ca_pem.as_deref(),
            source.timeout,
        )?;
        let auth = source.auth.to_client();
        let (digest, revision) = self.resolve(&client, &repo, source, &auth).await?;
        if let Some(last) = last.filter(|a| a.revision == revision && self.storage.looks_present(a))
        {
            return Ok(OciOutcome::Unchanged(last.clone()));
        }
        let (blob, selected, manifest) = self
            .pull_layer(&client, &repo, source, &auth, digest, &revision)
            .await?;
        // Unpacking, hashing and writing are blocking work of up to the layer limit.
        let origin = format!("layer {} of {url}", selected.digest);
        let (fetcher, key, source) = (self.clone(), key.clone(), source.clone());
        let artifact = tokio::task::spawn_blocking(move || {
            fetcher.store_layer(&key, &source, &revision, &blob, &origin)
        })
        .await
        .map_err(|e| OciError::Registry {
            url: url.to_owned(),
            during: "storing the artifact",
            source: Box::new(e),
        })??;
        Ok(OciOutcome::Updated {
            artifact,
            metadata: manifest.annotations.unwrap_or_default(),
        })
    }

    /// Resolves `source.reference` and downloads the selected layer into
    /// memory, storing nothing: for a chart's `oci://` dependency, which
    /// goes into the chart being built rather than into an artifact of its
    /// own. Bounded by the layer limit and `source.timeout`.
    pub async fn pull(&self, source: &OciSource) -> Result<PulledLayer, OciError> {
        let pull = async {
            let url = source.url.as_str();
            let repo = Repository::parse(url)?;
            let client = client(
                url,
                source.insecure,
                source.ca_pem.as_deref(),
                source.timeout,
            )?;
            let auth = source.auth.to_client();
            let (digest, revision) = self.resolve(&client, &repo, source, &auth).await?;
            let (blob, _, _) = self
                .pull_layer(&client, &repo, source, &auth, digest, &revision)
                .await?;
            Ok(PulledLayer { revision, blob })
        };
        tokio::time::timeout(source.timeout, pull)
            .await
            .map_err(|_| OciError::Timeout {
                url: source.url.clone(),
                timeout: source.timeout,
            })?
    }

    /// The manifest at `digest` and its layer `source.layer` selects,
    /// downloaded within the layer limit.
    async fn pull_layer(
        &self,
        client: &oci_client::Client,
        repo: &Repository,
        source: &OciSource,
        auth: &oci_client::secrets::RegistryAuth,
        digest: String,
        revision: &str,
    ) -> Result<(Vec<u8>, OciDescriptor, OciImageManifest), OciError> {
        let url = source.url.as_str();
        let image = Reference::with_digest(repo.registry.clone(), repo.repository.clone(), digest);
        let (manifest, _) = client
            .pull_manifest(&image, auth)
            .await
            .map_err(|e| classify(e, url, &image, "pulling the manifest"))?;
        let manifest = match manifest {
            OciManifest::Image(m) => m,
            OciManifest::ImageIndex(_) => {
                return Err(OciError::UnsupportedManifest {
                    url: url.to_owned(),
                    reference: revision.to_owned(),
                    found: "an image index".to_owned(),
                });
            }
        };
        let wanted = source.layer.media_type.as_deref();
        let selected = manifest
            .layers
            .iter()
            .find(|l| wanted.is_none_or(|m| l.media_type == m))
            .ok_or_else(|| OciError::LayerNotFound {
                url: url.to_owned(),
                reference: revision.to_owned(),
                wanted: wanted.unwrap_or("*").to_owned(),
                found: manifest
                    .layers
                    .iter()
                    .map(|l| l.media_type.clone())
                    .collect(),
            })?
            .clone();
        let blob =
            layer::download(client, &image, &selected, url, self.options.max_layer_bytes).await?;
        Ok((blob, selected, manifest))
    }

    /// Stores `blob` (the selected layer, from `origin`) as the artifact of
    /// `key` at `revision`, as `source.layer.operation` says; then collects
    /// old artifacts. Blocking.
    fn store_layer(
        &self,
        key: &ArtifactKey,
        source: &OciSource,
        revision: &str,
        blob: &[u8],
        origin: &str,
    ) -> Result<Artifact, OciError> {
        let url = source.url.as_str();
        let storage_error = |e: Error| OciError::Storage {
            url: url.to_owned(),
            source: Box::new(e),
        };
        let artifact = match source.layer.operation {
            LayerOperation::Copy => self.storage.store(key, revision, |out| {
                out.write_all(blob)
                    .map_err(|e| Error::io("writing layer", origin, e))
            }),
            LayerOperation::Extract => {
                let limits = &self.options.unpack;
                let entries = layer::extract(blob, origin, limits, source.ignore.as_deref())
                    .map_err(storage_error)?;
                self.storage.store(key, revision, |out| {
                    crate::archive::write_entries(&[], entries, limits.max_file_bytes, out)
                })
            }
        }
        .map_err(storage_error)?;
        if let Err(e) = self.storage.gc(key, self.options.keep_artifacts, &artifact) {
            tracing::warn!(%key, error = %e, "garbage collection of old artifacts failed");
        }
        Ok(artifact)
    }

    /// The manifest digest `source.reference` points at, and the revision.
    async fn resolve(
        &self,
        client: &oci_client::Client,
        repo: &Repository,
        source: &OciSource,
        auth: &oci_client::secrets::RegistryAuth,
    ) -> Result<(String, String), OciError> {
        let url = source.url.as_str();
        let tag = match &source.reference {
            OciReference::Digest(digest) => {
                reference::check_digest(digest)?;
                return Ok((digest.clone(), digest.clone()));
            }
            OciReference::Tag(tag) => {
                reference::check_tag(tag)?;
                tag.clone()
            }
            OciReference::Semver { range, filter } => {
                let limits = tags::TagLimits {
                    max: self.options.max_tags,
                    page: self.options.tag_page_size,
                };
                let tags = tags::list(client, repo, auth, url, limits).await?;
                let media_type = source.layer.media_type.as_deref();
                let (best, seen) =
                    reference::pick_semver(range, filter.as_deref(), media_type, &tags)?;
                best.ok_or_else(|| OciError::SemverNoMatch {
                    url: url.to_owned(),
                    range: range.clone(),
                    tags: seen,
                })?
                .to_owned()
            }
        };
        let image =
            Reference::with_tag(repo.registry.clone(), repo.repository.clone(), tag.clone());
        let digest = client
            .fetch_manifest_digest(&image, auth)
            .await
            .map_err(|e| classify(e, url, &image, "resolving the tag"))?;
        let revision = format!("{tag}@{digest}");
        Ok((digest, revision))
    }
}

/// A registry client for plain HTTP (`insecure`) or HTTPS trusting `ca_pem`
/// as well as the system's roots.
pub(crate) fn client(
    url: &str,
    insecure: bool,
    ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<oci_client::Client, OciError> {
    if let Some(pem) = ca_pem {
        check_ca(pem)?;
    }
    // reqwest is built without a provider and panics without one.
    crate::install_crypto_provider();
    let config = ClientConfig {
        protocol: if insecure {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        extra_root_certificates: ca_pem
            .map(|pem| Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem.to_vec(),
            })
            .into_iter()
            .collect(),
        // An index is refused with a clear error rather than resolved to
        // whatever platform this controller runs on.
        platform_resolver: None,
        connect_timeout: Some(timeout),
        read_timeout: Some(timeout),
        user_agent: concat!("driftless/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    };
    oci_client::Client::try_from(config).map_err(|e| match ca_pem {
        Some(_) => OciError::InvalidCa {
            source: Box::new(e),
        },
        None => OciError::Registry {
            url: url.to_owned(),
            during: "building the registry client",
            source: Box::new(e),
        },
    })
}

/// The TLS stack takes a PEM without certificates silently and then trusts
/// nothing more; say so instead.
fn check_ca(pem: &[u8]) -> Result<(), OciError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| OciError::InvalidCa {
            source: Box::new(e),
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(OciError::InvalidCa {
            source: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        });
    }
    Ok(())
}

/// `tag "v1"` or `digest "sha256:…"`, for messages.
fn describe(image: &Reference) -> String {
    match (image.digest(), image.tag()) {
        (Some(digest), _) => format!("digest {digest:?}"),
        (None, Some(tag)) => format!("tag {tag:?}"),
        (None, None) => "the repository".to_owned(),
    }
}

/// Sorts a client error into what a person can act on.
pub(crate) fn classify(
    e: OciDistributionError,
    url: &str,
    image: &Reference,
    during: &'static str,
) -> OciError {
    let not_found = match &e {
        OciDistributionError::RegistryError { envelope, .. } => {
            if envelope
                .errors
                .iter()
                .any(|x| matches!(x.code, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                return OciError::AuthFailed {
                    url: url.to_owned(),
                    source: Box::new(e),
                };
            }
            envelope.errors.iter().any(|x| {
                matches!(
                    x.code,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                )
            })
        }
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => {
            return OciError::AuthFailed {
                url: url.to_owned(),
                source: Box::new(e),
            };
        }
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => {
            return OciError::AuthFailed {
                url: url.to_owned(),
                source: Box::new(e),
            };
        }
        OciDistributionError::RequestError(r) if r.is_connect() => {
            return OciError::Unreachable {
                url: url.to_owned(),
                registry: image.registry().to_owned(),
                source: Box::new(e),
            };
        }
        _ => false,
    };
    if not_found {
        OciError::NotFound {
            url: url.to_owned(),
            reference: describe(image),
            source: Box::new(e),
        }
    } else {
        OciError::Registry {
            url: url.to_owned(),
            during,
            source: Box::new(e),
        }
    }
}
