//! The `OCIRepository` reconciler: spec (+ its Secrets) → [`OciSource`] →
//! artifact in storage → `status.artifact` and conditions, as Flux's
//! source-controller. A poll where the tag still points at the stored
//! manifest costs one `HEAD` and writes no status.
//!
//! On any failure the previous artifact stays in storage and in the status,
//! so HelmReleases and Kustomizations keep the last good revision.
//!
//! [`OciSource`]: driftless_source::oci::OciSource

mod status;

pub(crate) use status::pull_failed;

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::{OCILayerOperation, OCIRepository, OCIRepositoryStatus};
use driftless_source::ArtifactKey;
use driftless_source::oci::{
    LayerOperation, OciAuth, OciOutcome, OciReference, OciSource, Repository,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;

use crate::gitrepository::to_source_artifact;
use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Stamp};
use crate::{Context, duration_of};

/// Reconciles OCIRepositories until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<OCIRepository> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api);
    reconciler::run(controller, context, OciRepositories).await;
}

/// The OCIRepository kind's reconcile logic.
pub(crate) struct OciRepositories;

impl Reconciler for OciRepositories {
    type Object = OCIRepository;
    type Status = OCIRepositoryStatus;

    fn status(repo: &OCIRepository) -> Option<&OCIRepositoryStatus> {
        repo.status.as_ref()
    }

    fn conditions(status: &OCIRepositoryStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        repo: &OCIRepository,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<OCIRepositoryStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &repo.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message))?;
        if let Some(field) = unsupported_field(repo) {
            return Err(ReconcileError::unsupported_field("OCIRepository", field));
        }
        let status = repo.status.clone().unwrap_or_default();
        let inputs_changed = status.observed_ignore != repo.spec.ignore
            || status.observed_layer_selector != repo.spec.layer_selector;
        let up_to_date =
            status.observed_generation == repo.metadata.generation && status.artifact.is_some();
        if let Err(remaining) = run.due(up_to_date, inputs_changed, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();

        let source = oci_source(repo, context).await?;
        let namespace = repo.namespace().unwrap_or_default();
        let key = ArtifactKey::new("ocirepository", &namespace, repo.name_any());
        // Another ignore list or layer selector makes another artifact from
        // the same manifest: the stored one is not compared then.
        let last = status
            .artifact
            .as_ref()
            .filter(|_| !inputs_changed)
            .and_then(to_source_artifact);
        let outcome = context
            .oci
            .reconcile(&key, &source, last.as_ref())
            .await
            .map_err(|error| status::pull_failed(&error))?;
        let mut events = Vec::new();
        let (artifact, metadata) = match &outcome {
            OciOutcome::Unchanged(artifact) => (
                artifact,
                status.artifact.as_ref().and_then(|a| a.metadata.clone()),
            ),
            OciOutcome::Updated { artifact, metadata } => {
                (artifact, Some(metadata.clone()).filter(|m| !m.is_empty()))
            }
        };
        let mut artifact =
            crate::gitrepository::to_status_artifact(artifact, &context.artifact_base_url);
        artifact.metadata = metadata;
        if status.artifact.as_ref().map(|a| &a.revision) != Some(&artifact.revision) {
            events.push(Event::normal(
                "NewArtifact",
                status::stored_message(&artifact),
            ));
        }
        let revision = Some(artifact.revision.clone());
        Ok(Outcome::Done {
            status: status::succeeded(repo, status, artifact, &run.stamp),
            events,
            requeue: interval,
            revision,
        })
    }

    fn failed_status(
        repo: &OCIRepository,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> OCIRepositoryStatus {
        status::failed(repo, error, stamp)
    }

    fn refresh_failed_status(status: &mut OCIRepositoryStatus, context: &Context) {
        crate::gitrepository::refresh_artifact_url(status.artifact.as_mut(), context);
    }

    fn retry_interval(repo: &OCIRepository) -> Duration {
        duration_of("interval", &repo.spec.interval).unwrap_or(Duration::from_secs(60))
    }

    async fn cleanup(&self, repo: &OCIRepository, context: &Context) -> Result<(), ReconcileError> {
        let key = ArtifactKey::new(
            "ocirepository",
            repo.namespace().unwrap_or_default(),
            repo.name_any(),
        );
        if let Err(error) = context.oci.storage().remove_all(&key) {
            tracing::warn!(%key, %error, "cannot remove the artifacts of a deleted OCIRepository");
        }
        Ok(())
    }

    fn status_patch(status: &OCIRepositoryStatus) -> serde_json::Value {
        let mut patch = serde_json::json!({ "status": status });
        // Cleared explicitly: a stale value would rebuild the artifact on
        // every reconcile.
        for key in ["observedIgnore", "observedLayerSelector"] {
            if patch["status"].get(key).is_none() {
                patch["status"][key] = serde_json::Value::Null;
            }
        }
        patch
    }
}

/// The pull request `repo` makes, with its Secrets read.
async fn oci_source(repo: &OCIRepository, context: &Context) -> Result<OciSource, ReconcileError> {
    let spec = &repo.spec;
    let reference = spec.reference.clone().unwrap_or_default();
    let mut source = OciSource::new(
        spec.url.clone(),
        OciReference::from_spec(
            reference.tag.as_deref(),
            reference.semver.as_deref(),
            reference.semver_filter.as_deref(),
            reference.digest.as_deref(),
        ),
    );
    if let Some(selector) = &spec.layer_selector {
        source.layer.media_type.clone_from(&selector.media_type);
        source.layer.operation = match selector.operation.unwrap_or_default() {
            OCILayerOperation::Extract => LayerOperation::Extract,
            OCILayerOperation::Copy => LayerOperation::Copy,
        };
    }
    source.ignore.clone_from(&spec.ignore);
    source.insecure = spec.insecure;
    if let Some(timeout) = &spec.timeout {
        source.timeout = duration_of("timeout", timeout)
            .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message))?;
    }
    let namespace = repo.namespace().unwrap_or_default();
    if let Some(secret) = &spec.secret_ref {
        let data = secret_data(context, &namespace, &secret.name, ".dockerconfigjson").await?;
        let host = Repository::parse(&spec.url)
            .map_err(|error| status::pull_failed(&error))?
            .registry;
        source.auth = OciAuth::from_docker_config(&data, &host)
            .map_err(|error| status::pull_failed(&error))?;
    }
    if let Some(secret) = &spec.cert_secret_ref {
        source.ca_pem = Some(secret_data(context, &namespace, &secret.name, "ca.crt").await?);
    }
    Ok(source)
}

/// One key of a Secret in `namespace`; a missing Secret or key names both.
async fn secret_data(
    context: &Context,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, ReconcileError> {
    crate::helmrepository::secret_data(&context.client, namespace, name)
        .await?
        .remove(key)
        .ok_or_else(|| {
            ReconcileError::stalled(
                reasons::AUTHENTICATION_FAILED,
                format!("Secret '{namespace}/{name}' has no key '{key}'"),
            )
        })
}

/// A spec field we cannot honour yet: refused, never ignored (an
/// unverified artifact must never pass as verified).
fn unsupported_field(repo: &OCIRepository) -> Option<&'static str> {
    let spec = &repo.spec;
    if spec.verify.is_some() {
        Some("verify")
    } else if spec.proxy_secret_ref.is_some() {
        Some("proxySecretRef")
    } else if spec.service_account_name.is_some() {
        Some("serviceAccountName")
    } else if spec.provider.as_deref().is_some_and(|p| p != "generic") {
        Some("provider")
    } else {
        None
    }
}
