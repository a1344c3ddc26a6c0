//! A generator's inputs: each source's current artifact as its status
//! records it (observed), and that artifact unpacked (fetched) over HTTP
//! from whoever serves it, as Flux's consumers fetch, digest-verified and
//! bounded by `--artifact-max-*`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use driftless_api::conditions::reasons;
use driftless_api::meta::Artifact;
use driftless_api::{
    ArtifactGenerator, ExternalArtifact, GeneratorSourceKind, GitRepository, HelmChart,
    OCIRepository, ORIGIN_REVISION_KEY,
};
use kube::ResourceExt;
use kube::api::Api;
use sha2::Digest as _;

use crate::Context;
use crate::kustomization::{ArtifactCache, SourceArtifact};
use crate::reconciler::ReconcileError;

/// A source's artifact as its status records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ObservedSource {
    pub digest: String,
    pub revision: String,
    /// `org.opencontainers.image.revision` of its metadata, when set.
    pub origin_revision: Option<String>,
    pub url: String,
}

/// Observed sources by alias.
pub(super) type Observed = BTreeMap<String, ObservedSource>;

/// source-watcher's digest of the observed sources (`alias=[digest=…,
/// revision=…,url=…]`, sorted, joined by `|`, SHA-256), so the status
/// reads the same under either controller.
pub(super) fn sources_digest(observed: &Observed) -> String {
    let mut parts: Vec<String> = observed
        .iter()
        .map(|(alias, s)| {
            format!(
                "{alias}=[digest={},revision={},url={}]",
                s.digest, s.revision, s.url
            )
        })
        .collect();
    parts.sort();
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(parts.join("|").as_bytes()))
    )
}

/// Reads every source's artifact from its status. A missing or unready
/// source is retried soon (it is usually being created alongside).
pub(super) async fn observe(
    generator: &ArtifactGenerator,
    context: &Context,
) -> Result<Observed, ReconcileError> {
    let own = generator.namespace().unwrap_or_default();
    let mut observed = Observed::new();
    for (i, source) in generator.spec.sources.iter().enumerate() {
        let namespace = source.namespace.clone().unwrap_or_else(|| own.clone());
        let label = format!("{} '{namespace}/{}'", source.kind.as_str(), source.name);
        let failed = |problem: String| {
            ReconcileError::retryable(
                reasons::SOURCE_FETCH_FAILED,
                format!(
                    "get sources failed: spec.sources[{i}] (alias '{}'): {problem}",
                    source.alias
                ),
            )
            .retry_after(context.options.dependency_requeue)
        };
        let artifact = artifact_of(context, source.kind, &namespace, &source.name)
            .await
            .map_err(|e| failed(format!("cannot read {label}: {e}")))?
            .ok_or_else(|| failed(format!("{label} not found; create it or fix the reference")))?
            .ok_or_else(|| failed(format!("{label} is not ready, it has no artifact yet")))?;
        let digest = artifact
            .digest
            .clone()
            .ok_or_else(|| failed(format!("the artifact of {label} has no digest")))?;
        observed.insert(
            source.alias.clone(),
            ObservedSource {
                digest,
                revision: artifact.revision.clone(),
                origin_revision: artifact
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get(ORIGIN_REVISION_KEY))
                    .cloned(),
                url: artifact.url.clone(),
            },
        );
    }
    Ok(observed)
}

/// `Ok(None)`: no such object; `Ok(Some(None))`: no artifact yet.
async fn artifact_of(
    context: &Context,
    kind: GeneratorSourceKind,
    namespace: &str,
    name: &str,
) -> Result<Option<Option<Artifact>>, kube::Error> {
    let client = context.client.clone();
    Ok(match kind {
        GeneratorSourceKind::GitRepository => Api::<GitRepository>::namespaced(client, namespace)
            .get_opt(name)
            .await?
            .map(|s| s.status.and_then(|s| s.artifact)),
        GeneratorSourceKind::OCIRepository => Api::<OCIRepository>::namespaced(client, namespace)
            .get_opt(name)
            .await?
            .map(|s| s.status.and_then(|s| s.artifact)),
        GeneratorSourceKind::HelmChart => Api::<HelmChart>::namespaced(client, namespace)
            .get_opt(name)
            .await?
            .map(|s| s.status.and_then(|s| s.artifact)),
        GeneratorSourceKind::ExternalArtifact => {
            Api::<ExternalArtifact>::namespaced(client, namespace)
                .get_opt(name)
                .await?
                .map(|s| s.status.and_then(|s| s.artifact))
        }
        // Refused by validation before anything is observed.
        GeneratorSourceKind::Bucket => None,
    })
}

/// The unpacked sources by alias; the directories live as long as the
/// returned handles (shared with every other reader of the same digest).
pub(super) async fn fetch(
    observed: &Observed,
    cache: &ArtifactCache,
    context: &Context,
) -> Result<(HashMap<String, PathBuf>, Vec<Arc<tempfile::TempDir>>), ReconcileError> {
    let mut dirs = HashMap::new();
    let mut held = Vec::new();
    for (alias, source) in observed {
        let artifact = SourceArtifact {
            url: source.url.clone(),
            digest: source.digest.clone(),
            revision: source.revision.clone(),
        };
        let dir = cache
            .unpacked(&context.http, &artifact, &context.options.artifact_limits)
            .await
            .map_err(|e| {
                ReconcileError::retryable(
                    reasons::SOURCE_FETCH_FAILED,
                    format!("fetch sources failed: '@{alias}': {}", e.message),
                )
                .retry_after(context.options.dependency_requeue)
            })?;
        dirs.insert(alias.clone(), dir.path().to_path_buf());
        held.push(dir);
    }
    Ok((dirs, held))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(revision: &str) -> ObservedSource {
        ObservedSource {
            digest: "sha256:aa".into(),
            revision: revision.into(),
            origin_revision: None,
            url: "http://a/x.tar.gz".into(),
        }
    }

    #[test]
    fn the_sources_digest_is_source_watchers() {
        // sha256 of "repo=[digest=sha256:aa,revision=main@sha1:1,url=http://a/x.tar.gz]",
        // as source-watcher's HashObservedSources computes it.
        let one = Observed::from([("repo".to_owned(), source("main@sha1:1"))]);
        assert_eq!(
            sources_digest(&one),
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(
                    b"repo=[digest=sha256:aa,revision=main@sha1:1,url=http://a/x.tar.gz]"
                ))
            )
        );
        let other = Observed::from([("repo".to_owned(), source("main@sha1:2"))]);
        assert_ne!(sources_digest(&one), sources_digest(&other));
    }
}
