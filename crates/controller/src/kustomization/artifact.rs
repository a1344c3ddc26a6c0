//! The source artifact a Kustomization applies: found through its
//! `sourceRef`, downloaded from the artifact server, digest-verified and
//! unpacked once per digest, then shared read-only by every Kustomization
//! on that revision.

use std::sync::{Arc, Mutex};

use driftless_api::conditions::reasons;
use driftless_api::{ExternalArtifact, GitRepository, Kustomization, OCIRepository, SourceKind};
use driftless_source::UnpackLimits;
use kube::ResourceExt;
use kube::api::Api;

use crate::Context;
use crate::reconciler::ReconcileError;
use crate::scratch::Scratch;

/// The source's current artifact, as recorded in its status.
pub(crate) struct SourceArtifact {
    pub url: String,
    pub digest: String,
    pub revision: String,
}

pub(super) async fn source_artifact(
    ks: &Kustomization,
    context: &Context,
) -> Result<SourceArtifact, ReconcileError> {
    let reference = &ks.spec.source_ref;
    let own_namespace = ks.namespace().unwrap_or_default();
    let namespace = reference
        .namespace
        .clone()
        .unwrap_or_else(|| own_namespace.clone());
    let kind = match reference.kind {
        SourceKind::GitRepository => "GitRepository",
        SourceKind::OCIRepository => "OCIRepository",
        SourceKind::ExternalArtifact => "ExternalArtifact",
        other => {
            return Err(ReconcileError::stalled(
                reasons::ARTIFACT_FAILED,
                format!(
                    "spec.sourceRef.kind {other:?} is not supported yet; use a GitRepository, an OCIRepository or an ExternalArtifact"
                ),
            ));
        }
    };
    if context.options.no_cross_namespace_refs && namespace != own_namespace {
        return Err(ReconcileError::stalled(
            reasons::ARTIFACT_FAILED,
            format!(
                "can't access '{kind}/{namespace}/{}', cross-namespace references have been blocked; move the source into namespace {own_namespace}",
                reference.name
            ),
        ));
    }
    let label = format!("{kind}/{namespace}/{}", reference.name);
    let read_failed = |e: kube::Error| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("cannot read {label}: {e}"),
        )
    };
    let not_found = || {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("Source '{label}' not found; create it or fix spec.sourceRef"),
        )
    };
    let artifact = match reference.kind {
        SourceKind::OCIRepository => {
            let api: Api<OCIRepository> = Api::namespaced(context.client.clone(), &namespace);
            let source = api
                .get_opt(&reference.name)
                .await
                .map_err(read_failed)?
                .ok_or_else(not_found)?;
            source.status.and_then(|s| s.artifact)
        }
        SourceKind::ExternalArtifact => {
            let api: Api<ExternalArtifact> = Api::namespaced(context.client.clone(), &namespace);
            let source = api
                .get_opt(&reference.name)
                .await
                .map_err(read_failed)?
                .ok_or_else(not_found)?;
            source.status.and_then(|s| s.artifact)
        }
        _ => {
            let api: Api<GitRepository> = Api::namespaced(context.client.clone(), &namespace);
            let source = api
                .get_opt(&reference.name)
                .await
                .map_err(read_failed)?
                .ok_or_else(not_found)?;
            source.status.and_then(|s| s.artifact)
        }
    };
    let artifact = artifact.ok_or_else(|| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("Source '{label}' is not ready, artifact not found"),
        )
    })?;
    let digest = artifact.digest.ok_or_else(|| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("the artifact of {label} has no digest"),
        )
    })?;
    Ok(SourceArtifact {
        url: artifact.url,
        digest,
        revision: artifact.revision,
    })
}

/// Unpacked artifacts by digest, shared read-only by every Kustomization
/// that uses that revision: a fleet of Kustomizations over one source
/// downloads, verifies and unpacks it once, not once per Kustomization.
pub(crate) struct ArtifactCache {
    recent: Mutex<std::collections::VecDeque<(String, UnpackedCell)>>,
    scratch: Scratch,
}

type UnpackedCell = Arc<tokio::sync::OnceCell<Arc<tempfile::TempDir>>>;

/// Revisions kept unpacked; an evicted one is removed from disk when its
/// last reconcile finishes with it.
const CACHED_ARTIFACTS: usize = 8;

impl ArtifactCache {
    /// An empty cache unpacking into directories under `scratch`.
    pub(crate) fn new(scratch: Scratch) -> ArtifactCache {
        ArtifactCache {
            recent: Mutex::default(),
            scratch,
        }
    }

    /// `source`'s artifact, unpacked within `limits` (once per digest).
    pub(crate) async fn unpacked(
        &self,
        http: &reqwest::Client,
        source: &SourceArtifact,
        limits: &UnpackLimits,
    ) -> Result<Arc<tempfile::TempDir>, ReconcileError> {
        let cell = {
            let mut recent = self.recent.lock().expect("artifact cache lock");
            match recent.iter().find(|(digest, _)| *digest == source.digest) {
                Some((_, cell)) => cell.clone(),
                None => {
                    let cell = UnpackedCell::default();
                    recent.push_back((source.digest.clone(), cell.clone()));
                    if recent.len() > CACHED_ARTIFACTS {
                        recent.pop_front();
                    }
                    cell
                }
            }
        };
        cell.get_or_try_init(|| unpack(http, source, limits, &self.scratch))
            .await
            .map(Arc::clone)
    }
}

async fn unpack(
    http: &reqwest::Client,
    source: &SourceArtifact,
    limits: &UnpackLimits,
    scratch: &Scratch,
) -> Result<Arc<tempfile::TempDir>, ReconcileError> {
    let dir = scratch.dir("artifact-").map_err(|e| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!(
                "cannot create a directory for the artifact under {}: {e}",
                scratch.path().display()
            ),
        )
    })?;
    let bytes = download(http, &source.url, limits.max_bytes).await?;
    let (digest, url, into, limits) = (
        source.digest.clone(),
        source.url.clone(),
        dir.path().to_path_buf(),
        limits.clone(),
    );
    tokio::task::spawn_blocking(move || {
        driftless_source::unpack_verified(&bytes, &digest, &url, &into, &limits)
    })
    .await
    .map_err(|e| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("the unpack task failed: {e}"),
        )
    })?
    .map_err(|e| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!(
                "{e}; {}",
                e.hint().unwrap_or("the source will produce it again")
            ),
        )
    })?;
    Ok(Arc::new(dir))
}

/// The artifact's bytes, refusing more than `limit`: a source must not be
/// able to make the controller hold an unbounded body in memory.
async fn download(
    http: &reqwest::Client,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>, ReconcileError> {
    let fail = |e: String| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!(
                "failed to download artifact from {url}: {e}; is the source controller's artifact server reachable?"
            ),
        )
    };
    let too_large = || {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!(
                "the artifact at {url} is larger than the limit of {limit} bytes; make the source smaller"
            ),
        )
    };
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP status {}", response.status())));
    }
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
