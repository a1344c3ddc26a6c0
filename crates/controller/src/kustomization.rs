//! The `Kustomization` reconciler, Flux's kustomize-controller loop:
//! dependencies → source artifact (downloaded, digest-verified, unpacked) →
//! render (with the spec's overlay and post-build substitution) → staged
//! server-side apply → prune → health → status, events and metrics.
//!
//! Safety rule: any failure before the apply finished leaves the cluster
//! and the inventory as they were (nothing is pruned), and the status keeps
//! `lastAppliedRevision` at the last good revision while
//! `lastAttemptedRevision` names the one that failed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_api::conditions::{self, reasons, types};
use driftless_api::inventory::{ObjectId, ResourceInventory, ResourceRef};
use driftless_api::{
    DeletionPolicy, GitRepository, Kustomization, KustomizationStatus, SourceKind, SubstituteKind,
    annotations,
};
use driftless_apply::{
    Action as ApplyAction, Applier, ApplyOptions, ChangeSet, IgnoreRule, IgnoreTarget,
};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::Value;

use crate::events::EventType;
use crate::{Context, drift, duration_of, now};

const KIND: &str = "Kustomization";
const FINALIZER: &str = crate::gitrepository::FINALIZER;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("finalizer of {0}: {1}")]
    Finalizer(String, String),
    #[error("cannot clean up {0}: {1}")]
    Cleanup(String, String),
}

/// Per-object memory of the reconciler (not persisted: after a restart
/// everything is reconciled once, as Flux does).
#[derive(Default)]
struct Memory {
    /// When each Kustomization was last fully reconciled.
    last_run: Mutex<HashMap<String, Instant>>,
}

struct State {
    context: Arc<Context>,
    memory: Memory,
    artifacts: ArtifactCache,
    drift: Arc<drift::DriftWatch>,
}

pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<Kustomization> = Api::all(context.client.clone());
    let sources: Api<GitRepository> = Api::all(context.client.clone());
    let (drift, triggers) = drift::DriftWatch::new(
        context.client.clone(),
        context.options.field_manager.clone(),
    );
    let controller = Controller::new(api, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(context.options.concurrency));
    let store = controller.store();
    let state = Arc::new(State {
        context: context.clone(),
        memory: Memory::default(),
        artifacts: ArtifactCache::default(),
        drift: Arc::new(drift),
    });
    let drift_enabled = context.options.drift_watch;
    controller
        // A new artifact (or a source's status change) wakes the
        // Kustomizations that use it.
        .watches(sources, watcher::Config::default(), move |source| {
            let namespace = source.namespace().unwrap_or_default();
            let name = source.name_any();
            store
                .state()
                .into_iter()
                .filter(|ks| {
                    ks.spec.source_ref.kind == SourceKind::GitRepository
                        && ks.spec.source_ref.name == name
                        && ks
                            .spec
                            .source_ref
                            .namespace
                            .clone()
                            .or_else(|| ks.namespace())
                            .as_deref()
                            == Some(namespace.as_str())
                })
                .map(|ks| ObjectRef::from_obj(&*ks))
                .collect::<Vec<_>>()
        })
        .reconcile_on(triggers.filter(move |_| std::future::ready(drift_enabled)))
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "Kustomization reconcile error");
            }
        })
        .await;
}

fn error_policy(ks: Arc<Kustomization>, error: &Error, _: Arc<State>) -> Action {
    tracing::warn!(name = %ks.name_any(), namespace = ?ks.namespace(), %error, "Kustomization reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

async fn reconcile(ks: Arc<Kustomization>, state: Arc<State>) -> Result<Action, Error> {
    let namespace = ks.namespace().unwrap_or_default();
    let id = format!("{namespace}/{}", ks.name_any());
    let api: Api<Kustomization> = Api::namespaced(state.context.client.clone(), &namespace);
    finalizer(&api, FINALIZER, ks, |event| async {
        match event {
            FinalizerEvent::Apply(ks) => Ok(reconcile_live(&ks, &state).await),
            FinalizerEvent::Cleanup(ks) => {
                state
                    .memory
                    .last_run
                    .lock()
                    .expect("memory lock")
                    .remove(&id);
                cleanup(&ks, &state).await
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

/// `deletionPolicy`: delete what we applied, or leave it (orphan).
async fn cleanup(ks: &Kustomization, state: &State) -> Result<Action, Error> {
    let namespace = ks.namespace().unwrap_or_default();
    let name = ks.name_any();
    state.context.metrics.forget(KIND, &namespace, &name);
    let delete = match ks.deletion_policy() {
        DeletionPolicy::MirrorPrune => ks.spec.prune,
        DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
        DeletionPolicy::Orphan => false,
    };
    if ks.spec.suspend || !delete {
        tracing::info!(%namespace, %name, "Kustomization deleted; leaving its objects in place");
        return Ok(Action::await_change());
    }
    let inventory = ks
        .status
        .as_ref()
        .and_then(|s| s.inventory.clone())
        .unwrap_or_default();
    let applier = applier_for(ks, &state.context)
        .map_err(|failure| Error::Cleanup(format!("{namespace}/{name}"), failure.message))?;
    let pruned = applier
        .prune(&inventory.entries)
        .await
        .map_err(|e| Error::Cleanup(format!("{namespace}/{name}"), e.to_string()))?;
    if ks.deletion_policy() == DeletionPolicy::WaitForTermination {
        // The finalizer stays (and the Kustomization with it) until every
        // object is gone; a timeout is retried by the error policy.
        let timeout = ks.timeout().unwrap_or(Duration::from_secs(300));
        applier
            .wait_deleted(&inventory.entries, timeout)
            .await
            .map_err(|e| Error::Cleanup(format!("{namespace}/{name}"), e.to_string()))?;
    }
    tracing::info!(%namespace, %name, deleted = pruned.entries.len(), "Kustomization deleted with its objects");
    Ok(Action::await_change())
}

/// The applier for `ks`: the controller's own identity, or with
/// `spec.serviceAccountName` that service account, impersonated (as Flux
/// does), so RBAC limits what the Kustomization can change.
fn applier_for(ks: &Kustomization, context: &Context) -> Result<Applier, Failure> {
    let options = apply_options(ks, &context.options.field_manager);
    let Some(account) = &ks.spec.service_account_name else {
        return Ok(context.applier.with_options(options));
    };
    let namespace = ks.namespace().unwrap_or_default();
    let user = format!("system:serviceaccount:{namespace}:{account}");
    let mut cache = context.impersonating.lock().expect("applier cache lock");
    if let Some(applier) = cache.get(&user) {
        return Ok(applier.with_options(options));
    }
    let mut config = context.options.kube_config.clone().ok_or_else(|| {
        Failure::stalled(
            reasons::RECONCILIATION_FAILED,
            "spec.serviceAccountName needs the controller's kube config to impersonate the account; run `driftless controller`, or remove the field",
        )
    })?;
    config.auth_info.impersonate = Some(user.clone());
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
    ]);
    let client = kube::Client::try_from(config).map_err(|e| {
        Failure::new(
            reasons::RECONCILIATION_FAILED,
            format!("cannot build a client impersonating {user}: {e}"),
        )
    })?;
    let applier = Applier::new(client, ApplyOptions::default());
    cache.insert(user, applier.clone());
    Ok(applier.with_options(options))
}

/// How a Kustomization's objects are applied: its ownership labels, its
/// `force`, and the field manager.
pub fn apply_options(ks: &Kustomization, field_manager: &str) -> ApplyOptions {
    let owner_labels = BTreeMap::from([
        (annotations::OWNER_NAME_LABEL.to_owned(), ks.name_any()),
        (
            annotations::OWNER_NAMESPACE_LABEL.to_owned(),
            ks.namespace().unwrap_or_default(),
        ),
    ]);
    let ignore_rules = ks
        .spec
        .drift_ignore_rules
        .iter()
        .flatten()
        .map(|rule| IgnoreRule {
            paths: rule.paths.clone(),
            target: rule.target.as_ref().map(|t| IgnoreTarget {
                group: t.group.clone(),
                version: t.version.clone(),
                kind: t.kind.clone(),
                name: t.name.clone(),
                namespace: t.namespace.clone(),
                label_selector: t.label_selector.clone(),
                annotation_selector: t.annotation_selector.clone(),
            }),
        })
        .collect();
    ApplyOptions {
        field_manager: field_manager.to_owned(),
        owner_labels,
        force: ks.spec.force,
        concurrency: 8,
        ignore_rules,
    }
}

/// Renders a local directory as `ks` would render its source path (for
/// `driftless diff`/`build kustomization NAME --path DIR`); the directory
/// is only read.
pub async fn build_local(
    ks: &Kustomization,
    client: &kube::Client,
    dir: &Path,
) -> Result<Vec<Value>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let workdir = tempfile::Builder::new()
        .prefix("driftless-build-")
        .tempdir()
        .map_err(|e| format!("cannot create a work directory: {e}"))?;
    let target =
        std::path::absolute(dir).map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    render_dir(ks, client, target, workdir.path())
        .await
        .map_err(|failure| failure.message)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A reconcile's failure: the condition reason and a message a person can act on.
struct Failure {
    reason: &'static str,
    message: String,
    /// Retrying cannot help until the spec changes.
    stalled: bool,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
            stalled: false,
        }
    }

    fn stalled(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
            stalled: true,
        }
    }
}

async fn reconcile_live(ks: &Kustomization, state: &State) -> Action {
    let context = &state.context;
    let namespace = ks.namespace().unwrap_or_default();
    let name = ks.name_any();
    let id = format!("{namespace}/{name}");
    if ks.spec.suspend {
        tracing::debug!(%id, "Kustomization is suspended");
        return Action::await_change();
    }
    let status = ks.status.clone().unwrap_or_default();
    let requested = annotations::pending_reconcile_request(
        &ks.metadata,
        status.last_handled_reconcile_at.as_deref(),
    )
    .map(str::to_owned);
    let interval = match duration_of("interval", &ks.spec.interval) {
        Ok(interval) => interval,
        Err(message) => {
            let failure = Failure::stalled(reasons::RECONCILIATION_FAILED, message);
            write_failure(ks, context, status, failure, None, requested).await;
            return Action::await_change();
        }
    };
    let retry = ks.retry_interval().unwrap_or(interval);
    if let Some(field) = unsupported_field(ks) {
        let failure = Failure::stalled(
            reasons::RECONCILIATION_FAILED,
            format!(
                "spec.{field} is not supported by driftless yet; remove it, or reconcile this Kustomization with Flux"
            ),
        );
        write_failure(ks, context, status, failure, None, requested).await;
        return Action::await_change();
    }

    if let Some(problem) = apply_options(ks, &context.options.field_manager)
        .ignore_rules
        .iter()
        .find_map(IgnoreRule::invalid_path)
    {
        let failure = Failure::stalled(
            reasons::RECONCILIATION_FAILED,
            format!("spec.driftIgnoreRules: {problem}"),
        );
        write_failure(ks, context, status, failure, None, requested).await;
        return Action::await_change();
    }

    let source = match source_artifact(ks, context).await {
        Ok(source) => source,
        Err(failure) => {
            write_failure(ks, context, status, failure, None, requested).await;
            return Action::requeue(retry);
        }
    };
    let up_to_date = status.observed_generation == ks.metadata.generation
        && status.last_attempted_revision.as_deref() == Some(source.revision.as_str())
        && conditions::is_true(
            status.conditions.as_deref().unwrap_or_default(),
            types::READY,
        );
    let drifted = state.drift.take_pending(&namespace, &name);
    let last = state
        .memory
        .last_run
        .lock()
        .expect("memory lock")
        .get(&id)
        .copied();
    if let (true, None, false, Some(last)) = (up_to_date, &requested, drifted, last)
        && last.elapsed() < interval
    {
        return Action::requeue(interval - last.elapsed());
    }
    state
        .memory
        .last_run
        .lock()
        .expect("memory lock")
        .insert(id.clone(), Instant::now());

    if let Err(failure) = dependencies_ready(ks, context).await {
        write_failure(ks, context, status, failure, None, requested).await;
        return Action::requeue(context.options.dependency_requeue.min(retry));
    }

    let started = Instant::now();
    let outcome = apply_revision(ks, context, &state.artifacts, &source, &status).await;
    let action = match outcome {
        Ok(applied) => {
            if context.options.drift_watch {
                state
                    .drift
                    .watch(&applied.inventory.entries, &namespace, &name)
                    .await;
            }
            let health = check_health(ks, context, &applied.inventory).await;
            let healthy = health.is_ok();
            write_success(
                ks,
                context,
                status,
                &source.revision,
                applied,
                health,
                requested,
            )
            .await;
            if healthy {
                Action::requeue(interval)
            } else {
                Action::requeue(retry)
            }
        }
        Err(failure) => {
            write_failure(
                ks,
                context,
                status,
                failure,
                Some(&source.revision),
                requested,
            )
            .await;
            Action::requeue(retry)
        }
    };
    context
        .metrics
        .record_reconcile(KIND, &namespace, &name, started.elapsed());
    action
}

/// A spec field we cannot honour yet. Refusing is safer than applying
/// without it (e.g. as the controller's own identity instead of the
/// service account the object names).
fn unsupported_field(ks: &Kustomization) -> Option<&'static str> {
    let spec = &ks.spec;
    if spec.kube_config.is_some() {
        Some("kubeConfig")
    } else if spec.decryption.is_some() {
        Some("decryption")
    } else if spec
        .health_check_exprs
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        Some("healthCheckExprs")
    } else {
        None
    }
}

/// The source's current artifact, as recorded in its status.
struct SourceArtifact {
    url: String,
    digest: String,
    revision: String,
}

async fn source_artifact(ks: &Kustomization, context: &Context) -> Result<SourceArtifact, Failure> {
    let reference = &ks.spec.source_ref;
    let own_namespace = ks.namespace().unwrap_or_default();
    let namespace = reference
        .namespace
        .clone()
        .unwrap_or_else(|| own_namespace.clone());
    if reference.kind != SourceKind::GitRepository {
        return Err(Failure::stalled(
            reasons::ARTIFACT_FAILED,
            format!(
                "spec.sourceRef.kind {:?} is not supported yet; use a GitRepository",
                reference.kind
            ),
        ));
    }
    if context.options.no_cross_namespace_refs && namespace != own_namespace {
        return Err(Failure::stalled(
            reasons::ARTIFACT_FAILED,
            format!(
                "can't access 'GitRepository/{namespace}/{}', cross-namespace references have been blocked; move the source into namespace {own_namespace}",
                reference.name
            ),
        ));
    }
    let api: Api<GitRepository> = Api::namespaced(context.client.clone(), &namespace);
    let source = api
        .get_opt(&reference.name)
        .await
        .map_err(|e| Failure::new(reasons::ARTIFACT_FAILED, format!("cannot read GitRepository/{namespace}/{}: {e}", reference.name)))?
        .ok_or_else(|| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("Source 'GitRepository/{namespace}/{}' not found; create it or fix spec.sourceRef", reference.name),
            )
        })?;
    let artifact = source.status.and_then(|s| s.artifact).ok_or_else(|| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!(
                "Source 'GitRepository/{namespace}/{}' is not ready, artifact not found",
                reference.name
            ),
        )
    })?;
    let digest = artifact.digest.ok_or_else(|| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!(
                "the artifact of GitRepository/{namespace}/{} has no digest",
                reference.name
            ),
        )
    })?;
    Ok(SourceArtifact {
        url: artifact.url,
        digest,
        revision: artifact.revision,
    })
}

async fn dependencies_ready(ks: &Kustomization, context: &Context) -> Result<(), Failure> {
    let own_namespace = ks.namespace().unwrap_or_default();
    for dependency in ks.spec.depends_on.iter().flatten() {
        let namespace = dependency
            .namespace
            .clone()
            .unwrap_or_else(|| own_namespace.clone());
        if context.options.no_cross_namespace_refs && namespace != own_namespace {
            return Err(Failure::stalled(
                reasons::DEPENDENCY_NOT_READY,
                format!(
                    "dependency '{namespace}/{}' is in another namespace and cross-namespace references are blocked",
                    dependency.name
                ),
            ));
        }
        let api: Api<Kustomization> = Api::namespaced(context.client.clone(), &namespace);
        let found = api.get_opt(&dependency.name).await.map_err(|e| {
            Failure::new(
                reasons::DEPENDENCY_NOT_READY,
                format!(
                    "cannot read dependency '{namespace}/{}': {e}",
                    dependency.name
                ),
            )
        })?;
        let ready = found.as_ref().is_some_and(|dep| {
            let status = dep.status.clone().unwrap_or_default();
            status.observed_generation == dep.metadata.generation
                && conditions::is_true(
                    status.conditions.as_deref().unwrap_or_default(),
                    types::READY,
                )
        });
        if !ready {
            return Err(Failure::new(
                reasons::DEPENDENCY_NOT_READY,
                format!("dependency '{namespace}/{}' is not ready", dependency.name),
            ));
        }
    }
    Ok(())
}

/// What a successful apply leaves behind.
struct Applied {
    inventory: ResourceInventory,
    changes: ChangeSet,
    pruned: ChangeSet,
    /// `sha256:` of the applied objects, naming the set in `status.history`.
    digest: String,
    took: Duration,
}

async fn apply_revision(
    ks: &Kustomization,
    context: &Context,
    artifacts: &ArtifactCache,
    source: &SourceArtifact,
    status: &KustomizationStatus,
) -> Result<Applied, Failure> {
    let workdir = tempfile::Builder::new()
        .prefix("driftless-kustomization-")
        .tempdir()
        .map_err(|e| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("cannot create a work directory: {e}"),
            )
        })?;
    let unpacked = artifacts.unpacked(&context.http, source).await?;
    let root = unpacked.path().to_path_buf();

    let objects = render(ks, context, &root, workdir.path()).await?;
    let digest = objects_digest(&objects);
    let started = Instant::now();

    let applier = applier_for(ks, context)?;
    let changes = applier
        .apply(objects)
        .await
        .map_err(|e| Failure::new(reasons::RECONCILIATION_FAILED, e.to_string()))?;
    let inventory = changes.inventory();
    let pruned = if ks.spec.prune {
        let keep: HashSet<&str> = inventory.entries.iter().map(|e| e.id.as_str()).collect();
        let stale: Vec<ResourceRef> = status
            .inventory
            .iter()
            .flat_map(|i| i.entries.iter())
            .filter(|e| !keep.contains(e.id.as_str()))
            .cloned()
            .collect();
        applier
            .prune(&stale)
            .await
            .map_err(|e| Failure::new(reasons::PRUNE_FAILED, e.to_string()))?
    } else {
        ChangeSet::default()
    };
    Ok(Applied {
        inventory,
        changes,
        pruned,
        digest,
        took: started.elapsed(),
    })
}

fn objects_digest(objects: &[Value]) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for object in objects {
        hasher.update(object.to_string().as_bytes());
        hasher.update(b"\n");
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Flux's `status.history`: one snapshot per distinct applied set (by
/// digest), newest first, at most five.
fn record_history(
    history: &mut Vec<driftless_api::meta::HistorySnapshot>,
    digest: &str,
    revision: &str,
    outcome: &str,
    took: Duration,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) {
    const KEEP: usize = 5;
    let duration = driftless_api::GoDuration::from_std(took);
    match history.iter().position(|h| h.digest == digest) {
        Some(index) => {
            let mut entry = history.remove(index);
            entry.last_reconciled = now.clone();
            entry.last_reconciled_duration = duration;
            entry.last_reconciled_status = outcome.to_owned();
            entry.total_reconciliations += 1;
            history.insert(0, entry);
        }
        None => history.insert(
            0,
            driftless_api::meta::HistorySnapshot {
                digest: digest.to_owned(),
                first_reconciled: now.clone(),
                last_reconciled: now.clone(),
                last_reconciled_duration: duration,
                last_reconciled_status: outcome.to_owned(),
                total_reconciliations: 1,
                metadata: Some(BTreeMap::from([(
                    "revision".to_owned(),
                    revision.to_owned(),
                )])),
            },
        ),
    }
    history.truncate(KEEP);
}

/// Unpacked artifacts by digest, shared read-only by every Kustomization
/// that uses that revision: a fleet of Kustomizations over one source
/// downloads, verifies and unpacks it once, not once per Kustomization.
#[derive(Default)]
struct ArtifactCache {
    recent: Mutex<std::collections::VecDeque<(String, UnpackedCell)>>,
}

type UnpackedCell = Arc<tokio::sync::OnceCell<Arc<tempfile::TempDir>>>;

/// Revisions kept unpacked; an evicted one is removed from disk when its
/// last reconcile finishes with it.
const CACHED_ARTIFACTS: usize = 8;

impl ArtifactCache {
    async fn unpacked(
        &self,
        http: &reqwest::Client,
        source: &SourceArtifact,
    ) -> Result<Arc<tempfile::TempDir>, Failure> {
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
        cell.get_or_try_init(|| unpack(http, source))
            .await
            .map(Arc::clone)
    }
}

async fn unpack(
    http: &reqwest::Client,
    source: &SourceArtifact,
) -> Result<Arc<tempfile::TempDir>, Failure> {
    let dir = tempfile::Builder::new()
        .prefix("driftless-artifact-")
        .tempdir()
        .map_err(|e| {
            Failure::new(
                reasons::ARTIFACT_FAILED,
                format!("cannot create a directory for the artifact: {e}"),
            )
        })?;
    let bytes = download(http, &source.url).await?;
    let (digest, url, into) = (
        source.digest.clone(),
        source.url.clone(),
        dir.path().to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        driftless_source::unpack_verified(&bytes, &digest, &url, &into)
    })
    .await
    .map_err(|e| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!("the unpack task failed: {e}"),
        )
    })?
    .map_err(|e| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!(
                "{e}; {}",
                e.hint().unwrap_or("the source will produce it again")
            ),
        )
    })?;
    Ok(Arc::new(dir))
}

async fn download(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, Failure> {
    let fail = |e: String| {
        Failure::new(
            reasons::ARTIFACT_FAILED,
            format!(
                "failed to download artifact from {url}: {e}; is the source controller's artifact server reachable?"
            ),
        )
    };
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP status {}", response.status())));
    }
    Ok(response
        .bytes()
        .await
        .map_err(|e| fail(e.to_string()))?
        .to_vec())
}

/// `spec.path` inside the unpacked source, refusing any path that leaves it.
fn resolve_path(root: &Path, spec_path: Option<&str>) -> Result<PathBuf, Failure> {
    let given = spec_path.unwrap_or("./");
    let mut resolved = PathBuf::new();
    for component in Path::new(given).components() {
        match component {
            Component::Normal(part) => resolved.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !resolved.pop() {
                    return Err(Failure::stalled(
                        reasons::BUILD_FAILED,
                        format!(
                            "spec.path {given:?} points outside the source; use a path inside the repository"
                        ),
                    ));
                }
            }
            Component::Prefix(_) => {
                return Err(Failure::stalled(
                    reasons::BUILD_FAILED,
                    format!("spec.path {given:?} is not a relative path"),
                ));
            }
        }
    }
    let dir = root.join(&resolved);
    if !dir.is_dir() {
        return Err(Failure::new(
            reasons::BUILD_FAILED,
            format!(
                "kustomization path not found: {given:?} is not a directory in the source; fix spec.path"
            ),
        ));
    }
    Ok(dir)
}

/// The overlay Flux's generator would write around `spec.path` for
/// `targetNamespace`, `namePrefix`/`nameSuffix`, `patches`, `images` and
/// `components`. It is a separate kustomization that lists the path as its
/// resource, so the user's own kustomization.yaml is never edited. JSON is
/// valid YAML, so it is written as JSON.
/// Whether the spec asks for anything only an overlay can do.
fn needs_overlay(ks: &Kustomization) -> bool {
    let spec = &ks.spec;
    spec.target_namespace.is_some()
        || spec.name_prefix.is_some()
        || spec.name_suffix.is_some()
        || spec.patches.as_ref().is_some_and(|p| !p.is_empty())
        || spec.images.as_ref().is_some_and(|i| !i.is_empty())
        || spec.components.as_ref().is_some_and(|c| !c.is_empty())
}

fn overlay(ks: &Kustomization, target: &Path, overlay_dir: &Path) -> Value {
    let spec = &ks.spec;
    let relative = relative_path(overlay_dir, target);
    let mut kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [relative],
    });
    let fields = kustomization.as_object_mut().expect("an object");
    if let Some(namespace) = &spec.target_namespace {
        fields.insert("namespace".into(), namespace.clone().into());
    }
    if let Some(prefix) = &spec.name_prefix {
        fields.insert("namePrefix".into(), prefix.clone().into());
    }
    if let Some(suffix) = &spec.name_suffix {
        fields.insert("nameSuffix".into(), suffix.clone().into());
    }
    if let Some(patches) = spec.patches.as_ref().filter(|p| !p.is_empty()) {
        fields.insert(
            "patches".into(),
            serde_json::to_value(patches).expect("patches serialize"),
        );
    }
    if let Some(images) = spec.images.as_ref().filter(|i| !i.is_empty()) {
        fields.insert(
            "images".into(),
            serde_json::to_value(images).expect("images serialize"),
        );
    }
    if let Some(components) = spec.components.as_ref().filter(|c| !c.is_empty()) {
        let paths: Vec<String> = components
            .iter()
            .map(|c| format!("{relative}/{}", c.trim_start_matches("./")))
            .collect();
        fields.insert("components".into(), paths.into());
    }
    kustomization
}

/// `target` relative to `from`, both under the same work directory.
fn relative_path(from: &Path, target: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> =
        std::iter::repeat_n("..".to_owned(), from.len() - common).collect();
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

async fn render(
    ks: &Kustomization,
    context: &Context,
    root: &Path,
    workdir: &Path,
) -> Result<Vec<Value>, Failure> {
    let target = resolve_path(root, ks.spec.path.as_deref())?;
    render_dir(ks, &context.client, target, workdir).await
}

/// Renders `target` (only read: the unpacked source is shared) as the
/// Kustomization would: overlay, build, substitution, common metadata.
/// Scratch files go to `workdir`.
async fn render_dir(
    ks: &Kustomization,
    client: &kube::Client,
    target: PathBuf,
    workdir: &Path,
) -> Result<Vec<Value>, Failure> {
    let overlay_dir = workdir.join("overlay");
    let build_dir = if needs_overlay(ks) {
        // The overlay names the path as a resource, which Kustomize only
        // accepts with a kustomization file in it. The unpacked source is
        // shared and read-only, so a path without one is copied and Flux's
        // generated kustomization written into the copy.
        let generated = driftless_render::generated_kustomization(&target).map_err(|e| {
            Failure::new(
                reasons::BUILD_FAILED,
                format!("kustomize build failed: {}", crate::error_chain(&e)),
            )
        })?;
        let target = match generated {
            Some(generated) => {
                let copy = workdir.join("target");
                copy_dir(&target, &copy)
                    .and_then(|()| std::fs::write(copy.join("kustomization.yaml"), generated))
                    .map_err(|e| {
                        Failure::new(
                            reasons::BUILD_FAILED,
                            format!("cannot write the generated kustomization: {e}"),
                        )
                    })?;
                copy
            }
            None => target,
        };
        let kustomization = overlay(ks, &target, &overlay_dir);
        std::fs::create_dir_all(&overlay_dir)
            .and_then(|()| {
                std::fs::write(
                    overlay_dir.join("kustomization.yaml"),
                    kustomization.to_string(),
                )
            })
            .map_err(|e| {
                Failure::new(
                    reasons::BUILD_FAILED,
                    format!("cannot write the overlay: {e}"),
                )
            })?;
        overlay_dir
    } else {
        target
    };
    let vars = substitution_variables(ks, client).await?;
    let substitute = ks.spec.post_build.is_some();
    let path_label = ks.spec.path.clone().unwrap_or_else(|| "./".to_owned());
    tokio::task::spawn_blocking(move || {
        let stream = driftless_render::build(&build_dir).map_err(|e| {
            Failure::new(
                reasons::BUILD_FAILED,
                format!(
                    "kustomize build failed for path {path_label:?}: {}",
                    crate::error_chain(&e)
                ),
            )
        })?;
        let stream = if substitute {
            driftless_render::substitute(&stream, &vars, true).map_err(|e| {
                Failure::new(
                    reasons::BUILD_FAILED,
                    format!("post-build substitution failed: {}", crate::error_chain(&e)),
                )
            })?
        } else {
            stream
        };
        let documents = driftless_render::yaml::parse_documents(&stream).map_err(|e| {
            Failure::new(
                reasons::BUILD_FAILED,
                format!("the rendered manifests are not valid YAML: {e}"),
            )
        })?;
        Ok(documents
            .iter()
            .filter(|d| !matches!(d, driftless_render::yaml::Value::Null))
            .map(to_json)
            .collect())
    })
    .await
    .map_err(|e| Failure::new(reasons::BUILD_FAILED, format!("the build task failed: {e}")))?
    .map(|mut objects: Vec<Value>| {
        if let Some(metadata) = &ks.spec.common_metadata {
            for object in &mut objects {
                stamp_common_metadata(object, metadata);
            }
        }
        objects
    })
}

fn stamp_common_metadata(object: &mut Value, metadata: &driftless_api::CommonMetadata) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, values) in [
        ("labels", &metadata.labels),
        ("annotations", &metadata.annotations),
    ] {
        let Some(values) = values else { continue };
        let map = meta
            .entry(field)
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(map) = map.as_object_mut() {
            for (key, value) in values {
                map.insert(key.clone(), Value::String(value.clone()));
            }
        }
    }
}

fn to_json(value: &driftless_render::yaml::Value) -> Value {
    use driftless_render::yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Int(i) => i64::try_from(*i)
            .map(Value::from)
            .or_else(|_| u64::try_from(*i).map(Value::from))
            .unwrap_or_else(|_| Value::String(i.to_string())),
        Y::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Y::Str(s) => Value::String(s.clone()),
        Y::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Y::Map(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// `postBuild.substituteFrom` in order (later wins), then `postBuild.substitute` on top.
async fn substitution_variables(
    ks: &Kustomization,
    client: &kube::Client,
) -> Result<BTreeMap<String, String>, Failure> {
    let mut vars = BTreeMap::new();
    let Some(post_build) = &ks.spec.post_build else {
        return Ok(vars);
    };
    let namespace = ks.namespace().unwrap_or_default();
    for reference in post_build.substitute_from.iter().flatten() {
        let found: Option<BTreeMap<String, String>> = match reference.kind {
            SubstituteKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
                api.get_opt(&reference.name)
                    .await
                    .map_err(|e| {
                        Failure::new(
                            reasons::BUILD_FAILED,
                            format!("cannot read ConfigMap/{namespace}/{}: {e}", reference.name),
                        )
                    })?
                    .map(|cm| cm.data.unwrap_or_default())
            }
            SubstituteKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
                api.get_opt(&reference.name)
                    .await
                    .map_err(|e| {
                        Failure::new(
                            reasons::BUILD_FAILED,
                            format!("cannot read Secret/{namespace}/{}: {e}", reference.name),
                        )
                    })?
                    .map(|secret| {
                        secret
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect()
                    })
            }
        };
        match found {
            Some(values) => vars.extend(values),
            None if reference.optional => {}
            None => {
                return Err(Failure::new(
                    reasons::BUILD_FAILED,
                    format!(
                        "{:?}/{namespace}/{} of spec.postBuild.substituteFrom not found; create it or mark the reference optional: true",
                        reference.kind, reference.name
                    ),
                ));
            }
        }
    }
    vars.extend(post_build.substitute.clone().unwrap_or_default());
    Ok(vars)
}

/// `wait` checks everything applied; `healthChecks` the listed objects.
async fn check_health(
    ks: &Kustomization,
    context: &Context,
    inventory: &ResourceInventory,
) -> Result<Option<Duration>, String> {
    let targets: Vec<ResourceRef> = if ks.spec.wait {
        inventory.entries.clone()
    } else {
        let own_namespace = ks.namespace().unwrap_or_default();
        ks.spec
            .health_checks
            .iter()
            .flatten()
            .map(|check| {
                let (group, version) = match check
                    .api_version
                    .as_deref()
                    .unwrap_or("v1")
                    .rsplit_once('/')
                {
                    Some((group, version)) => (group.to_owned(), version.to_owned()),
                    None => (
                        String::new(),
                        check.api_version.clone().unwrap_or_else(|| "v1".to_owned()),
                    ),
                };
                let namespace = check
                    .namespace
                    .clone()
                    .unwrap_or_else(|| own_namespace.clone());
                ResourceRef::new(
                    &ObjectId::new(namespace, check.name.clone(), group, check.kind.clone()),
                    version,
                )
            })
            .collect()
    };
    if targets.is_empty() {
        return Ok(None);
    }
    let timeout = ks.timeout().unwrap_or(Duration::from_secs(300));
    let started = Instant::now();
    applier_for(ks, context)
        .map_err(|failure| failure.message)?
        .wait_healthy(&targets, timeout)
        .await
        .map(|()| Some(started.elapsed()))
        .map_err(|e| e.to_string())
}

async fn write_success(
    ks: &Kustomization,
    context: &Context,
    mut status: KustomizationStatus,
    revision: &str,
    applied: Applied,
    health: Result<Option<Duration>, String>,
    requested: Option<String>,
) {
    let now = now();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::remove_condition(&mut list, types::RECONCILING);
    conditions::remove_condition(&mut list, types::STALLED);
    let ready_message = format!("Applied revision: {revision}");
    let healthy = health.is_ok();
    match &health {
        Ok(Some(took)) => {
            conditions::set_condition(
                &mut list,
                conditions::healthy(
                    reasons::SUCCEEDED,
                    format!("Health check passed in {:.1}s", took.as_secs_f64()),
                ),
                &now,
            );
            conditions::set_condition(
                &mut list,
                conditions::ready(reasons::RECONCILIATION_SUCCEEDED, &ready_message),
                &now,
            );
        }
        Ok(None) => {
            conditions::remove_condition(&mut list, types::HEALTHY);
            conditions::set_condition(
                &mut list,
                conditions::ready(reasons::RECONCILIATION_SUCCEEDED, &ready_message),
                &now,
            );
        }
        Err(message) => {
            conditions::set_condition(
                &mut list,
                conditions::unhealthy(reasons::HEALTH_CHECK_FAILED, message),
                &now,
            );
            conditions::set_condition(
                &mut list,
                conditions::not_ready(reasons::HEALTH_CHECK_FAILED, message),
                &now,
            );
        }
    }
    let changed = applied.changes.is_changed() || applied.pruned.is_changed();
    let outcome = if healthy {
        reasons::RECONCILIATION_SUCCEEDED
    } else {
        reasons::HEALTH_CHECK_FAILED
    };
    let mut history = status.history.take().unwrap_or_default();
    record_history(
        &mut history,
        &applied.digest,
        revision,
        outcome,
        applied.took,
        &now,
    );
    status.history = Some(history);
    status.conditions = Some(list);
    status.inventory = Some(applied.inventory);
    status.last_attempted_revision = Some(revision.to_owned());
    status.last_applied_revision = Some(revision.to_owned());
    status.observed_generation = ks.metadata.generation;
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    let count = |set: &ChangeSet, action: &ApplyAction| {
        set.entries.iter().filter(|c| &c.action == action).count() as u64
    };
    context
        .metrics
        .record_applied("created", count(&applied.changes, &ApplyAction::Created));
    context.metrics.record_applied(
        "configured",
        count(&applied.changes, &ApplyAction::Configured),
    );
    context
        .metrics
        .record_applied("deleted", count(&applied.pruned, &ApplyAction::Deleted));
    if changed {
        let summary = [applied.changes.summary(), applied.pruned.summary()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        context
            .recorder
            .publish(ks, EventType::Normal, reasons::PROGRESSING, &summary)
            .await;
    }
    match &health {
        Err(message) => {
            context
                .recorder
                .publish(
                    ks,
                    EventType::Warning,
                    reasons::HEALTH_CHECK_FAILED,
                    message,
                )
                .await
        }
        Ok(_) if changed => {
            context
                .recorder
                .publish(
                    ks,
                    EventType::Normal,
                    reasons::RECONCILIATION_SUCCEEDED,
                    &format!(
                        "Reconciliation finished, next run in {}",
                        ks.spec.interval.as_str()
                    ),
                )
                .await
        }
        Ok(_) => {}
    }
    patch_status(ks, context, &status, healthy).await;
}

async fn write_failure(
    ks: &Kustomization,
    context: &Context,
    mut status: KustomizationStatus,
    failure: Failure,
    attempted: Option<&str>,
    requested: Option<String>,
) {
    let now = now();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::set_condition(
        &mut list,
        conditions::not_ready(failure.reason, &failure.message),
        &now,
    );
    if failure.stalled {
        conditions::remove_condition(&mut list, types::RECONCILING);
        conditions::set_condition(
            &mut list,
            conditions::stalled(failure.reason, &failure.message),
            &now,
        );
    } else {
        conditions::remove_condition(&mut list, types::STALLED);
    }
    status.conditions = Some(list);
    if let Some(revision) = attempted {
        status.last_attempted_revision = Some(revision.to_owned());
    }
    status.observed_generation = ks.metadata.generation;
    if requested.is_some() {
        status.last_handled_reconcile_at = requested;
    }
    let kind = if failure.reason == reasons::DEPENDENCY_NOT_READY {
        EventType::Normal
    } else {
        EventType::Warning
    };
    context
        .recorder
        .publish(ks, kind, failure.reason, &failure.message)
        .await;
    patch_status(ks, context, &status, false).await;
}

async fn patch_status(
    ks: &Kustomization,
    context: &Context,
    status: &KustomizationStatus,
    healthy: bool,
) {
    let namespace = ks.namespace().unwrap_or_default();
    let name = ks.name_any();
    if let Some(ready) = status
        .conditions
        .as_deref()
        .and_then(|c| conditions::find(c, types::READY))
    {
        context
            .metrics
            .record_condition(KIND, &namespace, &name, types::READY, &ready.status);
    }
    if ks.spec.wait || ks.spec.health_checks.is_some() {
        context.metrics.record_condition(
            KIND,
            &namespace,
            &name,
            types::HEALTHY,
            if healthy { "True" } else { "False" },
        );
    }
    let api: Api<Kustomization> = Api::namespaced(context.client.clone(), &namespace);
    let patch = serde_json::json!({ "status": status });
    if let Err(error) = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::warn!(%namespace, %name, %error, "cannot write Kustomization status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_source_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("apps/prod")).expect("dirs");
        assert_eq!(
            resolve_path(root.path(), Some("./apps/prod")).ok(),
            Some(root.path().join("apps/prod"))
        );
        assert_eq!(
            resolve_path(root.path(), Some("apps/../apps/prod")).ok(),
            Some(root.path().join("apps/prod"))
        );
        let escape = resolve_path(root.path(), Some("../../etc")).expect_err("refused");
        assert!(
            escape.stalled && escape.message.contains("outside the source"),
            "{}",
            escape.message
        );
        let missing = resolve_path(root.path(), Some("./nope")).expect_err("missing");
        assert!(
            missing.message.contains("kustomization path not found"),
            "{}",
            missing.message
        );
    }

    #[test]
    fn history_keeps_one_snapshot_per_set_newest_first() {
        let at = |s: i64| {
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::from_second(s).expect("time"),
            )
        };
        let mut history = Vec::new();
        record_history(
            &mut history,
            "sha256:a",
            "main@sha1:1",
            "ReconciliationSucceeded",
            Duration::from_millis(120),
            &at(10),
        );
        record_history(
            &mut history,
            "sha256:b",
            "main@sha1:2",
            "HealthCheckFailed",
            Duration::from_secs(2),
            &at(20),
        );
        record_history(
            &mut history,
            "sha256:a",
            "main@sha1:1",
            "ReconciliationSucceeded",
            Duration::from_millis(90),
            &at(30),
        );
        assert_eq!(
            history
                .iter()
                .map(|h| h.digest.as_str())
                .collect::<Vec<_>>(),
            ["sha256:a", "sha256:b"]
        );
        assert_eq!(history[0].total_reconciliations, 2);
        assert_eq!(
            (
                history[0].first_reconciled.clone(),
                history[0].last_reconciled.clone()
            ),
            (at(10), at(30))
        );
        for n in 0..10 {
            record_history(
                &mut history,
                &format!("sha256:{n}"),
                "r",
                "ReconciliationSucceeded",
                Duration::ZERO,
                &at(40 + n),
            );
        }
        assert_eq!(history.len(), 5);
        assert_eq!(history[0].digest, "sha256:9");
    }

    #[test]
    fn relative_paths_climb_to_the_common_parent() {
        assert_eq!(
            relative_path(Path::new("/w/overlay"), Path::new("/w/source/apps")),
            "../source/apps"
        );
        assert_eq!(
            relative_path(Path::new("/w/overlay"), Path::new("/w/source")),
            "../source"
        );
    }

    #[test]
    fn yaml_values_become_json() {
        let docs = driftless_render::yaml::parse_documents("a: 1\nb: [true, x]\nc: 1.5\nd: null\n")
            .expect("yaml");
        assert_eq!(
            to_json(&docs[0]),
            serde_json::json!({"a": 1, "b": [true, "x"], "c": 1.5, "d": null})
        );
    }
}
