//! The `GitRepository` reconciler: spec → [`GitSource`] → artifact in
//! storage → `status.artifact` and conditions, as Flux's source-controller.
//!
//! A poll costs one reference advertisement when nothing changed (the
//! source crate's `Outcome::Unchanged`), and then the status is not written
//! either. On any failure the previous artifact stays in storage and in the
//! status, so consumers keep applying the last good revision.
//!
//! [`GitSource`]: driftless_source::GitSource

pub(crate) mod auth;
mod status;

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::{GitRepository, GitRepositoryStatus};
use driftless_source::ArtifactKey;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;

use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Scaffold, Stamp};
use crate::{Context, duration_of};

pub(crate) use status::{describe, refresh_artifact_url, to_source_artifact, to_status_artifact};

/// Reconciles GitRepositories until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<GitRepository> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api.clone());
    let store = controller.store();
    let concurrency = context.options.concurrency;
    controller
        // A new artifact of an included repository rebuilds its includers now.
        .watches_stream(crate::watch::touched(api), move |changed| {
            crate::include::includers(store.state().iter().map(|r| &**r), &changed)
        })
        .with_config(controller::Config::default().concurrency(concurrency))
        .run(
            reconciler::reconcile::<GitRepositories>,
            reconciler::error_policy::<GitRepositories>,
            Scaffold::new(context, GitRepositories),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "GitRepository reconcile error");
            }
        })
        .await;
}

/// The GitRepository kind's reconcile logic.
pub(crate) struct GitRepositories;

impl Reconciler for GitRepositories {
    type Object = GitRepository;
    type Status = GitRepositoryStatus;

    fn status(repo: &GitRepository) -> Option<&GitRepositoryStatus> {
        repo.status.as_ref()
    }

    fn conditions(status: &GitRepositoryStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        repo: &GitRepository,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<GitRepositoryStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &repo.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message))?;
        if let Some(field) = unsupported_field(repo) {
            return Err(ReconcileError::unsupported_field("GitRepository", field));
        }
        let included = crate::include::resolve(repo, &context.client)
            .await
            .map_err(|error| match error.is_stalled() {
                true => error,
                // The watch on included repositories usually comes first;
                // this is the fallback.
                false => error.retry_after(context.options.dependency_requeue),
            })?;
        let status = repo.status.clone().unwrap_or_default();
        let inputs_changed = crate::include::inputs_changed(repo, &status, &included.artifacts);
        let up_to_date =
            status.observed_generation == repo.metadata.generation && status.artifact.is_some();
        if let Err(remaining) = run.due(up_to_date, inputs_changed, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();

        let mut source = auth::git_source(repo, &context.client).await?;
        source.includes = included.includes;
        let namespace = repo.namespace().unwrap_or_default();
        let key = ArtifactKey::git_repository(&namespace, repo.name_any());
        // The fetcher compares revisions only: other changed inputs force a rebuild.
        let last_artifact = status
            .artifact
            .as_ref()
            .filter(|_| !inputs_changed)
            .and_then(to_source_artifact);
        let fetcher = context.fetcher.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            fetcher.reconcile(&key, &source, last_artifact.as_ref())
        })
        .await
        .map_err(|join| {
            ReconcileError::retryable(
                reasons::GIT_OPERATION_FAILED,
                format!("the fetch task failed: {join}"),
            )
        })?
        .map_err(|error| status::fetch_failed(&error))?;

        let artifact = status::to_status_artifact(outcome.artifact(), &context.artifact_base_url);
        let revision_changed =
            status.artifact.as_ref().map(|a| &a.revision) != Some(&artifact.revision);
        let mut events = Vec::new();
        if outcome.is_updated() || revision_changed {
            events.push(Event::normal(
                "NewArtifact",
                status::stored_message(&artifact),
            ));
        }
        let mut status = status;
        status.included_artifacts = Some(included.artifacts).filter(|a| !a.is_empty());
        status.observed_include = repo.spec.include.clone();
        status.observed_recurse_submodules = repo.spec.recurse_submodules;
        let revision = Some(artifact.revision.clone());
        Ok(Outcome::Done {
            status: status::succeeded(repo, status, artifact, &run.stamp),
            events,
            requeue: interval,
            revision,
        })
    }

    fn failed_status(
        repo: &GitRepository,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> GitRepositoryStatus {
        status::failed(repo, error, stamp)
    }

    fn refresh_failed_status(status: &mut GitRepositoryStatus, context: &Context) {
        crate::gitrepository::refresh_artifact_url(status.artifact.as_mut(), context);
    }

    fn retry_interval(repo: &GitRepository) -> Duration {
        duration_of("interval", &repo.spec.interval).unwrap_or(Duration::from_secs(60))
    }

    async fn cleanup(&self, repo: &GitRepository, context: &Context) -> Result<(), ReconcileError> {
        let key =
            ArtifactKey::git_repository(repo.namespace().unwrap_or_default(), repo.name_any());
        if let Err(error) = context.fetcher.storage().remove_all(&key) {
            tracing::warn!(%key, %error, "cannot remove the artifacts of a deleted GitRepository");
        }
        Ok(())
    }

    fn status_patch(status: &GitRepositoryStatus) -> serde_json::Value {
        let mut patch = serde_json::json!({ "status": status });
        // Fields that went away (the spec dropped its ignore rules or
        // includes) are cleared explicitly, or the stale value would make
        // every reconcile rebuild the artifact.
        for key in [
            "observedIgnore",
            "observedInclude",
            "includedArtifacts",
            "observedRecurseSubmodules",
        ] {
            if patch["status"].get(key).is_none() {
                patch["status"][key] = serde_json::Value::Null;
            }
        }
        patch
    }
}

/// A spec field we cannot honour yet. Refusing beats ignoring: a user who
/// asked for commit signature verification must never get an unverified
/// artifact.
fn unsupported_field(repo: &GitRepository) -> Option<&'static str> {
    let spec = &repo.spec;
    if spec.verification.is_some() {
        Some("verify")
    } else if spec.proxy_secret_ref.is_some() {
        Some("proxySecretRef")
    } else if spec.sparse_checkout.as_ref().is_some_and(|p| !p.is_empty()) {
        Some("sparseCheckout")
    } else if spec
        .provider
        .is_some_and(|p| p != driftless_api::GitProvider::Generic)
    {
        Some("provider")
    } else {
        None
    }
}
