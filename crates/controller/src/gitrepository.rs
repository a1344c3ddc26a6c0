//! The `GitRepository` reconciler: spec → [`GitSource`] → artifact in
//! storage → `status.artifact` and conditions, as Flux's source-controller.
//!
//! A poll costs one reference advertisement when nothing changed (the
//! source crate's `Outcome::Unchanged`), so the status is only written when
//! something did. On any failure the previous artifact stays in storage and
//! in the status, so consumers keep applying the last good revision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_api::conditions::{self, reasons, types};
use driftless_api::{GitRepository, GitRepositoryStatus, annotations};
use driftless_source::{ArtifactKey, GitAuth, GitReference, GitSource, Outcome};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher;

use crate::events::EventType;
use crate::{Context, duration_of, now};

/// Flux's finalizer, so objects Flux created are cleaned up the same way.
pub(crate) const FINALIZER: &str = "finalizers.fluxcd.io";
const KIND: &str = "GitRepository";

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("finalizer of {0}: {1}")]
    Finalizer(String, String),
}

/// When each object was last fetched: a status write or another watch event
/// within the interval must not cost another round trip to the git server.
#[derive(Default)]
struct LastFetch(Mutex<HashMap<String, Instant>>);

pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<GitRepository> = Api::all(context.client.clone());
    let state = Arc::new((context.clone(), LastFetch::default()));
    let controller = Controller::new(api.clone(), watcher::Config::default());
    let store = controller.store();
    controller
        // A new artifact of an included repository rebuilds its includers now.
        .watches(api, watcher::Config::default(), move |changed| {
            crate::include::includers(store.state().iter().map(|r| &**r), &changed)
        })
        .with_config(controller::Config::default().concurrency(context.options.concurrency))
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "GitRepository reconcile error");
            }
        })
        .await;
}

type State = (Arc<Context>, LastFetch);

fn error_policy(repo: Arc<GitRepository>, error: &Error, _: Arc<State>) -> Action {
    tracing::warn!(name = %repo.name_any(), namespace = ?repo.namespace(), %error, "GitRepository reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

async fn reconcile(repo: Arc<GitRepository>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = repo.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(state.0.client.clone(), &namespace);
    let id = format!("{namespace}/{}", repo.name_any());
    finalizer(&api, FINALIZER, repo, |event| async {
        match event {
            FinalizerEvent::Apply(repo) => Ok(reconcile_live(&repo, &state).await),
            FinalizerEvent::Cleanup(repo) => {
                cleanup(&repo, &state.0).await;
                state.1.0.lock().expect("schedule lock").remove(&id);
                Ok::<_, Error>(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(id.clone(), other.to_string()),
    })
}

async fn cleanup(repo: &GitRepository, context: &Context) {
    let namespace = repo.namespace().unwrap_or_default();
    let key = ArtifactKey::git_repository(&namespace, repo.name_any());
    if let Err(error) = context.fetcher.storage().remove_all(&key) {
        tracing::warn!(%key, %error, "cannot remove the artifacts of a deleted GitRepository");
    }
    context.metrics.forget(KIND, &namespace, &repo.name_any());
}

async fn reconcile_live(repo: &GitRepository, state: &State) -> Action {
    let (context, last_fetch) = state;
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    let id = format!("{namespace}/{name}");
    if repo.spec.suspend {
        tracing::debug!(%id, "GitRepository is suspended");
        return Action::await_change();
    }
    let status = repo.status.clone().unwrap_or_default();
    let requested = annotations::pending_reconcile_request(
        &repo.metadata,
        status.last_handled_reconcile_at.as_deref(),
    )
    .map(str::to_owned);
    let interval = match duration_of("interval", &repo.spec.interval) {
        Ok(interval) => interval,
        Err(message) => {
            write_failure(
                repo,
                context,
                status,
                reasons::URL_INVALID,
                &message,
                true,
                requested,
            )
            .await;
            return Action::await_change();
        }
    };
    if let Some(field) = unsupported_field(repo) {
        let message = format!(
            "spec.{field} is not supported by driftless yet; remove it, or reconcile this GitRepository with Flux"
        );
        write_failure(
            repo,
            context,
            status,
            "UnsupportedField",
            &message,
            true,
            requested,
        )
        .await;
        return Action::await_change();
    }
    let included = match crate::include::resolve(repo, &context.client).await {
        Ok(included) => included,
        Err(unavailable) => {
            return include_unavailable(repo, context, status, unavailable, requested).await;
        }
    };
    let inputs_changed = crate::include::inputs_changed(repo, &status, &included.artifacts);
    let current = status.observed_generation == repo.metadata.generation;
    let last = last_fetch
        .0
        .lock()
        .expect("schedule lock")
        .get(&id)
        .copied();
    if let (true, None, Some(last)) = (current, &requested, last)
        && status.artifact.is_some()
        && !inputs_changed
        && last.elapsed() < interval
    {
        return Action::requeue(interval - last.elapsed());
    }
    last_fetch
        .0
        .lock()
        .expect("schedule lock")
        .insert(id.clone(), Instant::now());

    let started = Instant::now();
    let source = match git_source(repo, context).await {
        Ok(source) => source,
        Err(message) => {
            write_failure(
                repo,
                context,
                status,
                reasons::AUTHENTICATION_FAILED,
                &message,
                false,
                requested,
            )
            .await;
            context
                .metrics
                .record_reconcile(KIND, &namespace, &name, started.elapsed());
            return Action::requeue(interval);
        }
    };
    let mut source = source;
    source.includes = included.includes;
    source.recurse_submodules = repo.spec.recurse_submodules;
    let key = ArtifactKey::git_repository(&namespace, &name);
    // The fetcher compares revisions only: other changed inputs force a rebuild.
    let last_artifact = status
        .artifact
        .as_ref()
        .filter(|_| !inputs_changed)
        .and_then(to_source_artifact);
    let fetcher = context.fetcher.clone();
    let result = tokio::task::spawn_blocking(move || {
        fetcher.reconcile(&key, &source, last_artifact.as_ref())
    })
    .await;
    let result = match result {
        Ok(result) => result,
        Err(join) => {
            let message = format!("the fetch task failed: {join}");
            write_failure(
                repo,
                context,
                status,
                reasons::GIT_OPERATION_FAILED,
                &message,
                false,
                requested,
            )
            .await;
            return Action::requeue(interval);
        }
    };
    match result {
        Ok(outcome) => {
            let mut status = status;
            status.included_artifacts = Some(included.artifacts).filter(|a| !a.is_empty());
            status.observed_include = repo.spec.include.clone();
            status.observed_recurse_submodules = repo.spec.recurse_submodules;
            write_success(repo, context, status, &outcome, requested).await
        }
        Err(error) => {
            let (reason, stalled) = classify(&error);
            let message = describe(&error);
            write_failure(repo, context, status, reason, &message, stalled, requested).await;
        }
    }
    context
        .metrics
        .record_reconcile(KIND, &namespace, &name, started.elapsed());
    Action::requeue(interval)
}

/// Reports includes that cannot be used now; the previous artifact stays.
async fn include_unavailable(
    repo: &GitRepository,
    context: &Context,
    status: GitRepositoryStatus,
    unavailable: crate::include::Unavailable,
    requested: Option<String>,
) -> Action {
    let crate::include::Unavailable {
        reason,
        message,
        stalled,
    } = unavailable;
    write_failure(repo, context, status, reason, &message, stalled, requested).await;
    if stalled {
        Action::await_change()
    } else {
        // The watch on included repositories usually comes first; this is the fallback.
        Action::requeue(context.options.dependency_requeue)
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

/// The condition reason for a source error, and whether retrying cannot help
/// until the spec changes (`Stalled`).
fn classify(error: &driftless_source::Error) -> (&'static str, bool) {
    use driftless_source::Error as E;
    match error {
        E::InvalidIncludePath { .. } => (reasons::INVALID_PATH, true),
        E::Include { .. } | E::IncludeFromPathNotFound { .. } => (reasons::COPY_FAILURE, false),
        // A submodule fails the way its own fetch did (auth, unreachable, ...).
        E::Submodule { source, .. } => classify(source),
        E::InvalidUrl { .. } => (reasons::URL_INVALID, true),
        E::InvalidSemver { .. } | E::IgnorePattern { .. } => (reasons::GIT_OPERATION_FAILED, true),
        E::AuthFailed { .. } | E::HostKeyVerification { .. } => {
            (reasons::AUTHENTICATION_FAILED, false)
        }
        E::SymlinkEscape { .. } | E::UnsafePath { .. } | E::FileTooLarge { .. } => {
            (reasons::ARCHIVE_OPERATION_FAILED, false)
        }
        E::Io { .. } | E::DigestMismatch { .. } => (reasons::STAT_OPERATION_FAILED, false),
        _ => (reasons::GIT_OPERATION_FAILED, false),
    }
}

/// The error, its causes and what to do, on one line.
pub(crate) fn describe(error: &driftless_source::Error) -> String {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    message
}

/// Flux's precedence: commit, name, semver, tag, branch; `master` when unset.
fn reference(repo: &GitRepository) -> GitReference {
    let Some(reference) = &repo.spec.reference else {
        return GitReference::default();
    };
    if let Some(sha) = &reference.commit {
        GitReference::Commit {
            sha: sha.clone(),
            branch: reference.branch.clone(),
        }
    } else if let Some(name) = &reference.name {
        GitReference::Name(name.clone())
    } else if let Some(range) = &reference.semver {
        GitReference::Semver(range.clone())
    } else if let Some(tag) = &reference.tag {
        GitReference::Tag(tag.clone())
    } else if let Some(branch) = &reference.branch {
        GitReference::Branch(branch.clone())
    } else {
        GitReference::default()
    }
}

async fn git_source(repo: &GitRepository, context: &Context) -> Result<GitSource, String> {
    let mut source = GitSource::new(repo.spec.url.clone(), reference(repo));
    source.ignore = repo.spec.ignore.clone();
    if let Some(timeout) = &repo.spec.timeout {
        source.timeout = duration_of("timeout", timeout)?;
    }
    if let Some(secret_ref) = &repo.spec.secret_ref {
        let namespace = repo.namespace().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
        let secret = api
            .get_opt(&secret_ref.name)
            .await
            .map_err(|e| format!("cannot read secret '{namespace}/{}' of spec.secretRef: {e}", secret_ref.name))?
            .ok_or_else(|| {
                format!(
                    "secret '{namespace}/{}' of spec.secretRef not found; create it (driftless create secret git) or fix spec.secretRef",
                    secret_ref.name
                )
            })?;
        source.auth = Some(auth_from_secret(&secret).map_err(|missing| {
            format!("secret '{namespace}/{}' has {missing}", secret_ref.name)
        })?);
    }
    Ok(source)
}

/// Flux's keys: `identity` + `known_hosts` (SSH), `bearerToken`, or
/// `username` + `password`.
fn auth_from_secret(secret: &Secret) -> Result<GitAuth, &'static str> {
    let value = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .cloned()
            })
    };
    if let Some(identity) = value("identity") {
        let known_hosts = value("known_hosts")
            .ok_or("an `identity` but no `known_hosts`: add the server's host key (ssh-keyscan) so it can be verified")?;
        return Ok(GitAuth::Ssh {
            identity,
            known_hosts,
        });
    }
    if let Some(token) = value("bearerToken") {
        return Ok(GitAuth::Bearer(token));
    }
    match (value("username"), value("password")) {
        (Some(username), Some(password)) => Ok(GitAuth::Basic { username, password }),
        (Some(_), None) => Err("a `username` but no `password`"),
        _ => Err("none of the keys `identity`, `bearerToken` or `username`/`password`"),
    }
}

pub(crate) fn to_source_artifact(
    artifact: &driftless_api::meta::Artifact,
) -> Option<driftless_source::Artifact> {
    Some(driftless_source::Artifact {
        path: artifact.path.clone(),
        revision: artifact.revision.clone(),
        digest: artifact.digest.clone()?,
        size: u64::try_from(artifact.size?).ok()?,
        last_update_time: time::OffsetDateTime::from_unix_timestamp_nanos(
            artifact.last_update_time.0.as_nanosecond(),
        )
        .ok()?,
    })
}

fn to_status_artifact(
    artifact: &driftless_source::Artifact,
    base_url: &str,
) -> driftless_api::meta::Artifact {
    driftless_api::meta::Artifact {
        path: artifact.path.clone(),
        url: format!("{}/{}", base_url.trim_end_matches('/'), artifact.path),
        revision: artifact.revision.clone(),
        digest: Some(artifact.digest.clone()),
        last_update_time: Time(
            Timestamp::from_nanosecond(artifact.last_update_time.unix_timestamp_nanos())
                .unwrap_or(Timestamp::UNIX_EPOCH),
        ),
        size: i64::try_from(artifact.size).ok(),
        metadata: None,
    }
}

async fn write_success(
    repo: &GitRepository,
    context: &Context,
    mut status: GitRepositoryStatus,
    outcome: &Outcome,
    requested: Option<String>,
) {
    let artifact = to_status_artifact(outcome.artifact(), &context.artifact_base_url);
    let message = format!("stored artifact for revision '{}'", artifact.revision);
    let now = now();
    let mut conditions = status.conditions.take().unwrap_or_default();
    for gone in [
        types::RECONCILING,
        types::STALLED,
        types::FETCH_FAILED,
        types::STORAGE_OPERATION_FAILED,
        types::INCLUDE_UNAVAILABLE,
    ] {
        conditions::remove_condition(&mut conditions, gone);
    }
    conditions::set_condition(
        &mut conditions,
        conditions::ready(reasons::SUCCEEDED, &message),
        &now,
    );
    conditions::set_condition(
        &mut conditions,
        conditions::artifact_in_storage(reasons::SUCCEEDED, &message),
        &now,
    );
    let revision_changed =
        status.artifact.as_ref().map(|a| &a.revision) != Some(&artifact.revision);
    status.conditions = Some(conditions);
    status.artifact = Some(artifact);
    status.observed_generation = repo.metadata.generation;
    status.observed_ignore = repo.spec.ignore.clone();
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    if outcome.is_updated() || revision_changed {
        context
            .recorder
            .publish(repo, EventType::Normal, "NewArtifact", &message)
            .await;
    }
    // Nothing changed (the usual poll): no write, so no watch event wakes
    // the Kustomizations that use this source.
    if repo.status.as_ref() == Some(&status) {
        record_ready(repo, context, &status);
        return;
    }
    patch_status(repo, context, &status).await;
}

async fn write_failure(
    repo: &GitRepository,
    context: &Context,
    mut status: GitRepositoryStatus,
    reason: &str,
    message: &str,
    stalled: bool,
    requested: Option<String>,
) {
    let now = now();
    let mut conditions = status.conditions.take().unwrap_or_default();
    conditions::set_condition(
        &mut conditions,
        conditions::not_ready(reason, message),
        &now,
    );
    conditions::set_condition(&mut conditions, failure_condition(reason, message), &now);
    if stalled {
        conditions::remove_condition(&mut conditions, types::RECONCILING);
        conditions::set_condition(&mut conditions, conditions::stalled(reason, message), &now);
    } else {
        conditions::remove_condition(&mut conditions, types::STALLED);
        conditions::set_condition(
            &mut conditions,
            conditions::reconciling(
                reasons::PROGRESSING_WITH_RETRY,
                "retrying at the next interval",
            ),
            &now,
        );
    }
    status.conditions = Some(conditions);
    status.observed_generation = repo.metadata.generation;
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    context
        .recorder
        .publish(repo, EventType::Warning, reason, message)
        .await;
    patch_status(repo, context, &status).await;
}

/// The abnormal-true condition that says what failed, chosen by reason.
fn failure_condition(
    reason: &str,
    message: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    match reason {
        reasons::ARCHIVE_OPERATION_FAILED | reasons::STAT_OPERATION_FAILED => {
            conditions::storage_operation_failed(reason, message)
        }
        // INVALID_PATH is only used for include paths here.
        reasons::INCLUDE_NOT_FOUND
        | reasons::NO_ARTIFACT
        | reasons::COPY_FAILURE
        | reasons::INCLUDE_CYCLE
        | reasons::INVALID_PATH => conditions::include_unavailable(reason, message),
        _ => conditions::fetch_failed(reason, message),
    }
}

fn record_ready(repo: &GitRepository, context: &Context, status: &GitRepositoryStatus) {
    if let Some(ready) = status
        .conditions
        .as_deref()
        .and_then(|c| conditions::find(c, types::READY))
    {
        context.metrics.record_condition(
            KIND,
            &repo.namespace().unwrap_or_default(),
            &repo.name_any(),
            types::READY,
            &ready.status,
        );
    }
}

async fn patch_status(repo: &GitRepository, context: &Context, status: &GitRepositoryStatus) {
    let namespace = repo.namespace().unwrap_or_default();
    let name = repo.name_any();
    record_ready(repo, context, status);
    let api: Api<GitRepository> = Api::namespaced(context.client.clone(), &namespace);
    let mut patch = serde_json::json!({ "status": status });
    // A merge patch keeps the keys it leaves out: fields that went away (the
    // spec dropped its ignore rules or includes) are cleared explicitly, or
    // the stale value would make every reconcile rebuild the artifact.
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
    if let Err(error) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(%namespace, %name, %error, "cannot write GitRepository status");
    }
}
