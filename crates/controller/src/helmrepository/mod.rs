//! The `HelmRepository` reconciler: an HTTP(S) repository's `index.yaml`
//! fetched (with `If-None-Match`, so an unchanged index costs one request
//! and no download) into an artifact, as Flux's source-controller; a
//! `type: oci` repository is a static pointer (Ready, no artifact), its
//! charts pulled by the HelmCharts that use it.
//!
//! On any failure the previous index stays in storage and in the status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::{HelmRepository, HelmRepositoryStatus};
use driftless_source::ArtifactKey;
use driftless_source::helm::{self, BasicAuth, HelmError, LastIndex, TlsConfig};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;

use crate::gitrepository::{to_source_artifact, to_status_artifact};
use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Stamp};
use crate::{Context, duration_of, source_status};

/// Flux's default interval of a HelmRepository that sets none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// Reconciles HelmRepositories until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<HelmRepository> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api);
    reconciler::run(controller, context, HelmRepositories::default()).await;
}

/// The HelmRepository kind's reconcile logic, with the last `ETag` of each
/// index (in memory: after a restart the first poll downloads once).
#[derive(Default)]
pub(crate) struct HelmRepositories {
    etags: Mutex<HashMap<String, String>>,
}

impl Reconciler for HelmRepositories {
    type Object = HelmRepository;
    type Status = HelmRepositoryStatus;

    fn status(repo: &HelmRepository) -> Option<&HelmRepositoryStatus> {
        repo.status.as_ref()
    }

    fn conditions(status: &HelmRepositoryStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        repo: &HelmRepository,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<HelmRepositoryStatus>, ReconcileError> {
        let context = run.context;
        let interval = interval_of(repo)?;
        if repo
            .spec
            .provider
            .as_deref()
            .is_some_and(|p| p != "generic")
        {
            return Err(ReconcileError::unsupported_field(
                "HelmRepository",
                "provider",
            ));
        }
        let status = repo.status.clone().unwrap_or_default();
        let up_to_date = status.observed_generation == repo.metadata.generation
            && (status.artifact.is_some() || repo.is_oci());
        if let Err(remaining) = run.due(up_to_date, false, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();
        if repo.is_oci() {
            let message = "Helm repository is ready".to_owned();
            return Ok(Outcome::Done {
                status: succeeded(repo, status, None, &message, &run.stamp),
                events: Vec::new(),
                requeue: interval,
                revision: None,
            });
        }
        let namespace = repo.namespace().unwrap_or_default();
        let request = http_repository(repo, &context.client, &namespace).await?;
        let key = ArtifactKey::helm_repository(&namespace, repo.name_any());
        let cache_key = format!("{namespace}/{}", repo.name_any());
        let last = status
            .artifact
            .as_ref()
            .and_then(to_source_artifact)
            .map(|artifact| LastIndex {
                artifact,
                etag: self
                    .etags
                    .lock()
                    .expect("etag lock")
                    .get(&cache_key)
                    .cloned(),
            });
        let fetcher = context.helm.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            fetcher.reconcile_index(&key, &request, last.as_ref())
        })
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("the index task failed: {e}"),
            )
        })?
        .map_err(|e| helm_failed(&e))?;
        if let Some(etag) = outcome.etag() {
            self.etags
                .lock()
                .expect("etag lock")
                .insert(cache_key, etag.to_owned());
        }
        let artifact = to_status_artifact(outcome.artifact(), &context.artifact_base_url);
        let message = format!("stored artifact: revision '{}'", artifact.revision);
        let mut events = Vec::new();
        if status.artifact.as_ref().map(|a| &a.revision) != Some(&artifact.revision) {
            events.push(Event::normal("NewArtifact", message.clone()));
        }
        let revision = Some(artifact.revision.clone());
        Ok(Outcome::Done {
            status: succeeded(repo, status, Some(artifact), &message, &run.stamp),
            events,
            requeue: interval,
            revision,
        })
    }

    fn failed_status(
        repo: &HelmRepository,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> HelmRepositoryStatus {
        let mut status = repo.status.clone().unwrap_or_default();
        let mut list = status.conditions.take().unwrap_or_default();
        source_status::mark_failed(&mut list, error, &stamp.now);
        status.conditions = Some(list);
        status.observed_generation = repo.metadata.generation;
        if stamp.requested.is_some() {
            status
                .last_handled_reconcile_at
                .clone_from(&stamp.requested);
        }
        status
    }

    fn refresh_failed_status(status: &mut HelmRepositoryStatus, context: &Context) {
        crate::gitrepository::refresh_artifact_url(status.artifact.as_mut(), context);
        // Flux's status.url: where the latest artifact is fetched.
        status.url = status.artifact.as_ref().map(|a| a.url.clone());
    }

    fn retry_interval(repo: &HelmRepository) -> Duration {
        interval_of(repo).unwrap_or(DEFAULT_INTERVAL)
    }

    async fn cleanup(
        &self,
        repo: &HelmRepository,
        context: &Context,
    ) -> Result<(), ReconcileError> {
        let namespace = repo.namespace().unwrap_or_default();
        let key = ArtifactKey::helm_repository(&namespace, repo.name_any());
        self.etags
            .lock()
            .expect("etag lock")
            .remove(&format!("{namespace}/{}", repo.name_any()));
        if let Err(error) = context.helm.storage().remove_all(&key) {
            tracing::warn!(%key, %error, "cannot remove the artifacts of a deleted HelmRepository");
        }
        Ok(())
    }
}

fn interval_of(repo: &HelmRepository) -> Result<Duration, ReconcileError> {
    match &repo.spec.interval {
        Some(interval) => duration_of("interval", interval)
            .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message)),
        None => Ok(DEFAULT_INTERVAL),
    }
}

fn succeeded(
    repo: &HelmRepository,
    mut status: HelmRepositoryStatus,
    artifact: Option<driftless_api::meta::Artifact>,
    message: &str,
    stamp: &Stamp,
) -> HelmRepositoryStatus {
    let mut list = status.conditions.take().unwrap_or_default();
    source_status::mark_stored(
        &mut list,
        reasons::SUCCEEDED,
        message,
        artifact.is_some(),
        &stamp.now,
    );
    status.conditions = Some(list);
    status.url = artifact.as_ref().map(|a| a.url.clone());
    status.artifact = artifact;
    status.observed_generation = repo.metadata.generation;
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// The HTTP repository `repo` describes, with its Secrets read.
pub(crate) async fn http_repository(
    repo: &HelmRepository,
    client: &kube::Client,
    namespace: &str,
) -> Result<helm::HelmRepository, ReconcileError> {
    let mut request = helm::HelmRepository::new(repo.spec.url.clone());
    request.pass_credentials = repo.spec.pass_credentials;
    if let Some(timeout) = &repo.spec.timeout {
        request.timeout = duration_of("timeout", timeout)
            .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message))?;
    }
    if let Some(secret) = &repo.spec.secret_ref {
        let data = secret_data(client, namespace, &secret.name).await?;
        let text = |key: &str| {
            data.get(key)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        if let (Some(username), Some(password)) = (text("username"), text("password")) {
            request.auth = Some(BasicAuth::new(username, password));
        }
        // Flux reads TLS from secretRef too (deprecated there, still honoured).
        request.tls = tls_of(&data, repo.spec.insecure);
    }
    if let Some(secret) = &repo.spec.cert_secret_ref {
        let data = secret_data(client, namespace, &secret.name).await?;
        request.tls = tls_of(&data, repo.spec.insecure);
    }
    Ok(request)
}

fn tls_of(data: &std::collections::BTreeMap<String, Vec<u8>>, insecure: bool) -> TlsConfig {
    TlsConfig {
        ca_pem: data.get("ca.crt").cloned(),
        cert_pem: data.get("tls.crt").cloned(),
        key_pem: data.get("tls.key").cloned(),
        insecure_skip_verify: insecure,
    }
}

/// A Secret's data in `namespace`; a missing one names itself.
pub(crate) async fn secret_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, ReconcileError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::AUTHENTICATION_FAILED,
                format!("cannot read Secret '{namespace}/{name}': {e}"),
            )
        })?
        .ok_or_else(|| {
            ReconcileError::retryable(
                reasons::AUTHENTICATION_FAILED,
                format!("Secret '{namespace}/{name}' not found; create it or fix the reference"),
            )
        })?;
    Ok(secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

/// The reconcile error for a Helm source error, with its hint.
pub(crate) fn helm_failed(error: &HelmError) -> ReconcileError {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    ReconcileError::retryable(reasons::ARTIFACT_FAILED, message)
}
