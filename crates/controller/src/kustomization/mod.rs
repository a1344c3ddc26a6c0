//! The `Kustomization` reconciler, Flux's kustomize-controller loop:
//! dependencies → source artifact (downloaded, digest-verified, unpacked) →
//! render (with the spec's overlay and post-build substitution) → staged
//! server-side apply → prune → health → status, events and metrics.
//!
//! Safety rule: any failure before the apply finished prunes nothing, and
//! the status keeps `lastAppliedRevision` at the last good revision while
//! `lastAttemptedRevision` names the one that failed. The inventory keeps
//! the last good set, plus the objects an apply was about to create
//! (recorded before applying), so none is forgotten if the apply is cut
//! short.
//!
//! | module | owns |
//! |---|---|
//! | `artifact` | finding, downloading, verifying and caching the source artifact |
//! | `render` | what is rendered: path, overlay, substitution variables |
//! | `identity` | who applies (impersonation) and with which options |
//! | `intent` | putting what an apply is about to write on record first |
//! | `health` | `wait` and `healthChecks` |
//! | `ownership` | objects two Kustomizations render |
//! | `status` | the status and events, as pure functions |

mod artifact;
mod decryption;
mod health;
mod identity;
mod intent;
mod ownership;
mod render;
mod status;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless_api::conditions::{self, reasons, types};
use driftless_api::inventory::ResourceRef;
use driftless_api::{
    DeletionPolicy, ExternalArtifact, GitRepository, Kustomization, KustomizationStatus,
    OCIRepository, SourceKind, SubstituteKind,
};
use driftless_apply::{Action as ApplyAction, ChangeSet, IgnoreRule};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::Value;

pub use identity::apply_options;
pub use render::build_local;

pub(crate) use self::artifact::{ArtifactCache, SourceArtifact};
use self::intent::Intent;
use self::ownership::Ownership;
use self::status::Applied;
use crate::config_watch::{self, ConfigKind, ConfigWakes};
use crate::reconciler::{self, Outcome, ReconcileError, Reconciler, Run, Scaffold, Stamp};
use crate::{Context, drift, duration_of};

/// Reconciles Kustomizations until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<Kustomization> = Api::all(context.client.clone());
    let sources: Api<GitRepository> = Api::all(context.client.clone());
    let oci_sources: Api<OCIRepository> = Api::all(context.client.clone());
    let external: Api<ExternalArtifact> = Api::all(context.client.clone());
    let (drift, triggers) = drift::DriftWatch::new(
        context.client.clone(),
        context.options.field_manager.clone(),
    );
    let controller = crate::watch::controller(api)
        .with_config(controller::Config::default().concurrency(context.options.concurrency));
    let store = controller.store();
    let by_git = store.clone();
    let by_oci = store.clone();
    let by_external = store.clone();
    let drift_enabled = context.options.drift_watch;
    let configs = Arc::new(ConfigWakes::default());
    let (by_configmap, configmap_wakes) = (store.clone(), configs.clone());
    let (by_secret, secret_wakes) = (store.clone(), configs.clone());
    let reconciler = Kustomizations {
        artifacts: ArtifactCache::new(context.scratch.clone()),
        drift: Arc::new(drift),
        store: store.clone(),
        ownership: Ownership::default(),
        configs,
    };
    controller
        // A change to a labelled ConfigMap or Secret in
        // `postBuild.substituteFrom` reconciles its users now.
        .watches_stream(
            crate::watch::touched_with(
                Api::<ConfigMap>::all(context.client.clone()),
                config_watch::watched(&context.options.watch_configs_label_selector),
            ),
            move |object| {
                configmap_wakes.wake(substitute_users(
                    &by_configmap,
                    ConfigKind::ConfigMap,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                ))
            },
        )
        .watches_stream(
            crate::watch::touched_with(
                Api::<Secret>::all(context.client.clone()),
                config_watch::watched(&context.options.watch_configs_label_selector),
            ),
            move |object| {
                secret_wakes.wake(substitute_users(
                    &by_secret,
                    ConfigKind::Secret,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                ))
            },
        )
        // A new artifact (or a source's status change) wakes the
        // Kustomizations that use it.
        .watches_stream(crate::watch::touched(sources), move |source| {
            users(
                &by_git,
                SourceKind::GitRepository,
                &source.namespace().unwrap_or_default(),
                &source.name_any(),
            )
        })
        .watches_stream(crate::watch::touched(external), move |source| {
            users(
                &by_external,
                SourceKind::ExternalArtifact,
                &source.namespace().unwrap_or_default(),
                &source.name_any(),
            )
        })
        .watches_stream(crate::watch::touched(oci_sources), move |source| {
            users(
                &by_oci,
                SourceKind::OCIRepository,
                &source.namespace().unwrap_or_default(),
                &source.name_any(),
            )
        })
        .reconcile_on(triggers.filter(move |_| std::future::ready(drift_enabled)))
        .run(
            reconciler::reconcile::<Kustomizations>,
            reconciler::error_policy::<Kustomizations>,
            Scaffold::new(context, reconciler),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "Kustomization reconcile error");
            }
        })
        .await;
}

/// The Kustomizations whose source is `kind/namespace/name`.
fn users(
    store: &Store<Kustomization>,
    kind: SourceKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .into_iter()
        .filter(|ks| {
            let reference = &ks.spec.source_ref;
            reference.kind == kind
                && reference.name == name
                && reference
                    .namespace
                    .clone()
                    .or_else(|| ks.namespace())
                    .as_deref()
                    == Some(namespace)
        })
        .map(|ks| ObjectRef::from_obj(&*ks))
        .collect()
}

/// The Kustomizations whose `postBuild.substituteFrom` names the `kind`
/// object `namespace/name` (in their own namespace).
fn substitute_users(
    store: &Store<Kustomization>,
    kind: ConfigKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<Kustomization>> {
    store
        .state()
        .into_iter()
        .filter(|ks| {
            ks.namespace().as_deref() == Some(namespace)
                && ks
                    .spec
                    .post_build
                    .iter()
                    .flat_map(|p| p.substitute_from.iter().flatten())
                    .any(|r| {
                        r.name == name
                            && match r.kind {
                                SubstituteKind::ConfigMap => kind == ConfigKind::ConfigMap,
                                SubstituteKind::Secret => kind == ConfigKind::Secret,
                            }
                    })
        })
        .map(|ks| ObjectRef::from_obj(&*ks))
        .collect()
}

/// The Kustomization kind's reconcile logic and its memory.
pub(crate) struct Kustomizations {
    artifacts: ArtifactCache,
    drift: Arc<drift::DriftWatch>,
    /// Every Kustomization as last seen, for their inventories.
    store: Store<Kustomization>,
    ownership: Ownership,
    /// Kustomizations a watched substitution ConfigMap or Secret woke.
    configs: Arc<ConfigWakes>,
}

impl Reconciler for Kustomizations {
    type Object = Kustomization;
    type Status = KustomizationStatus;

    fn status(ks: &Kustomization) -> Option<&KustomizationStatus> {
        ks.status.as_ref()
    }

    fn conditions(status: &KustomizationStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        ks: &Kustomization,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<KustomizationStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &ks.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::RECONCILIATION_FAILED, message))?;
        if let Some(field) = unsupported_field(ks) {
            return Err(ReconcileError::unsupported_field("Kustomization", field));
        }
        if let Some(problem) = apply_options(ks, &context.options.field_manager)
            .ignore_rules
            .iter()
            .find_map(IgnoreRule::invalid_path)
        {
            return Err(ReconcileError::stalled(
                reasons::RECONCILIATION_FAILED,
                format!("spec.driftIgnoreRules: {problem}"),
            ));
        }
        let source = artifact::source_artifact(ks, context).await?;
        let status = ks.status.clone().unwrap_or_default();
        let up_to_date = status.observed_generation == ks.metadata.generation
            && status.last_attempted_revision.as_deref() == Some(source.revision.as_str())
            && conditions::is_true(
                status.conditions.as_deref().unwrap_or_default(),
                types::READY,
            );
        let namespace = ks.namespace().unwrap_or_default();
        let name = ks.name_any();
        let drifted = self.drift.take_pending(&namespace, &name);
        let substitutes_changed = self.configs.take(&namespace, &name);
        if let Err(remaining) = run.due(up_to_date, drifted || substitutes_changed, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();
        dependencies_ready(ks, context).await.map_err(|error| {
            let soon = context
                .options
                .dependency_requeue
                .min(Self::retry_interval(ks));
            error.retry_after(soon)
        })?;

        let applied = self
            .apply_revision(ks, run, &source, &status)
            .await
            .map_err(|error| error.on_revision(&source.revision))?;
        if context.options.drift_watch {
            self.drift
                .watch(&applied.inventory.entries, &namespace, &name)
                .await;
        }
        let health = health::check_health(ks, context, &applied.inventory).await;
        for (label, action) in [
            ("created", ApplyAction::Created),
            ("configured", ApplyAction::Configured),
            ("deleted", ApplyAction::Deleted),
        ] {
            context
                .metrics
                .record_applied(label, applied.count(&action));
        }
        Ok(Outcome::Done {
            status: status::succeeded(ks, &source.revision, &applied, &health, &run.stamp),
            events: status::succeeded_events(ks, &applied, &health),
            requeue: if health.is_ok() {
                interval
            } else {
                Self::retry_interval(ks)
            },
            revision: Some(source.revision.clone()),
        })
    }

    fn failed_status(
        ks: &Kustomization,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> KustomizationStatus {
        status::failed(ks, error, stamp)
    }

    fn retry_interval(ks: &Kustomization) -> Duration {
        ks.retry_interval()
            .or_else(|_| ks.spec.interval.to_std())
            .unwrap_or(Duration::from_secs(60))
    }

    /// `deletionPolicy`: delete what we applied, or leave it (orphan).
    async fn cleanup(&self, ks: &Kustomization, context: &Context) -> Result<(), ReconcileError> {
        let namespace = ks.namespace().unwrap_or_default();
        let name = ks.name_any();
        self.ownership.forget(&ownership::key(ks));
        let delete = match ks.deletion_policy() {
            DeletionPolicy::MirrorPrune => ks.spec.prune,
            DeletionPolicy::Delete | DeletionPolicy::WaitForTermination => true,
            DeletionPolicy::Orphan => false,
        };
        if ks.spec.suspend || !delete {
            tracing::info!(%namespace, %name, "Kustomization deleted; leaving its objects in place");
            return Ok(());
        }
        let inventory = ks
            .status
            .as_ref()
            .and_then(|s| s.inventory.clone())
            .unwrap_or_default();
        let applier = identity::applier_for(ks, context)?;
        let failed = |message: String| ReconcileError::retryable(reasons::PRUNE_FAILED, message);
        let pruned = applier
            .prune(&inventory.entries)
            .await
            .map_err(|e| failed(crate::error_chain(&e)))?;
        if ks.deletion_policy() == DeletionPolicy::WaitForTermination {
            // The finalizer stays (and the Kustomization with it) until every
            // object is gone; a timeout is retried by the error policy.
            let timeout = ks.timeout().unwrap_or(Duration::from_secs(300));
            applier
                .wait_deleted(&inventory.entries, timeout)
                .await
                .map_err(|e| failed(crate::error_chain(&e)))?;
        }
        tracing::info!(%namespace, %name, deleted = pruned.entries.len(), "Kustomization deleted with its objects");
        Ok(())
    }
}

impl Kustomizations {
    /// Downloads, renders, applies and prunes `source`'s revision.
    async fn apply_revision(
        &self,
        ks: &Kustomization,
        run: &Run<'_, Kustomization>,
        source: &SourceArtifact,
        status: &KustomizationStatus,
    ) -> Result<Applied, ReconcileError> {
        let context = run.context;
        let unpacked = self
            .artifacts
            .unpacked(&context.http, source, &context.options.artifact_limits)
            .await?;
        let objects = render::render(
            ks,
            &context.client,
            unpacked.path(),
            context.options.sops_age_secret.as_ref(),
        )
        .await?;
        let digest = objects_digest(&objects);
        let checked = self
            .ownership
            .check(ks, objects, &self.store, &context.client)
            .await;
        let started = Instant::now();

        let applier = identity::applier_for(ks, context)?;
        let intent = Intent::new(ks, run, status);
        let changes = applier
            .apply_recording(checked.objects, |about| intent.record(about))
            .await
            .map_err(|e| {
                intent.take_failure().unwrap_or_else(|| {
                    // The chain, not just this level: the API server's answer is the cause
                    // a person needs ("internal error", "too many requests", a webhook's denial).
                    ReconcileError::retryable(
                        reasons::RECONCILIATION_FAILED,
                        crate::error_chain(&e),
                    )
                })
            })?;
        let me = ownership::key(ks);
        for owner in self.ownership.record(&me, &checked.yielded) {
            if let Some((namespace, name)) = owner.split_once('/') {
                self.drift.nudge(namespace, name);
            }
        }
        if !checked.yielded.is_empty() {
            // Nothing is pruned: the set applied is not what git asks for.
            let lines: Vec<String> = checked
                .yielded
                .iter()
                .map(ownership::Contest::describe)
                .collect();
            return Err(ReconcileError::retryable(
                reasons::OWNERSHIP_CONFLICT,
                format!("{}; remove the object from one of them", lines.join("; ")),
            ));
        }
        let inventory = changes.inventory();
        self.ownership.listed(&me, &inventory);
        let pruned = if ks.spec.prune {
            let keep: HashSet<&str> = inventory.entries.iter().map(|e| e.id.as_str()).collect();
            let stale: Vec<ResourceRef> = status
                .inventory
                .iter()
                .flat_map(|i| i.entries.iter())
                .filter(|e| !keep.contains(e.id.as_str()))
                .cloned()
                .collect();
            applier.prune(&stale).await.map_err(|e| {
                ReconcileError::retryable(reasons::PRUNE_FAILED, crate::error_chain(&e))
            })?
        } else {
            ChangeSet::default()
        };
        Ok(Applied {
            inventory,
            changes,
            pruned,
            digest,
            took: started.elapsed(),
            held: checked.held,
        })
    }
}

/// A spec field we cannot honour yet. Refusing is safer than applying
/// without it (e.g. as the controller's own identity instead of the
/// service account the object names).
fn unsupported_field(ks: &Kustomization) -> Option<&'static str> {
    let spec = &ks.spec;
    if spec.kube_config.is_some() {
        Some("kubeConfig")
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

async fn dependencies_ready(ks: &Kustomization, context: &Context) -> Result<(), ReconcileError> {
    let own_namespace = ks.namespace().unwrap_or_default();
    for dependency in ks.spec.depends_on.iter().flatten() {
        let namespace = dependency
            .namespace
            .clone()
            .unwrap_or_else(|| own_namespace.clone());
        if context.options.no_cross_namespace_refs && namespace != own_namespace {
            return Err(ReconcileError::stalled(
                reasons::DEPENDENCY_NOT_READY,
                format!(
                    "dependency '{namespace}/{}' is in another namespace and cross-namespace references are blocked",
                    dependency.name
                ),
            ));
        }
        let api: Api<Kustomization> = Api::namespaced(context.client.clone(), &namespace);
        let found = api.get_opt(&dependency.name).await.map_err(|e| {
            ReconcileError::retryable(
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
            return Err(ReconcileError::retryable(
                reasons::DEPENDENCY_NOT_READY,
                format!("dependency '{namespace}/{}' is not ready", dependency.name),
            ));
        }
    }
    Ok(())
}

/// `sha256:` over the applied objects, naming the set in `status.history`.
fn objects_digest(objects: &[Value]) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for object in objects {
        hasher.update(object.to_string().as_bytes());
        hasher.update(b"\n");
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}
