//! The `ArtifactGenerator` reconciler (Flux's source-watcher): reads the
//! current artifact of each source in `spec.sources`, copies files out of
//! them into one new artifact per `spec.artifacts[]` (see `copy`), stores
//! it, and publishes it as an `ExternalArtifact` (see `publish`) for
//! Kustomizations and HelmReleases to consume.
//!
//! Nothing is rebuilt while the generation, the sources' artifacts
//! (`status.observedSourcesDigest`), the stored files and the published
//! ExternalArtifacts all still match the last success. When a source
//! moves, every artifact is rebuilt, but the tarball is deterministic
//! (sorted entries, zeroed times and owners), so an artifact whose copied
//! files did not change keeps its digest and its ExternalArtifact is not
//! touched: its consumers do not run.
//!
//! Differences from source-watcher: `pathPattern` and `Bucket` sources
//! are refused as not supported yet; a spec that cannot work (a bad
//! glob, an unknown alias) stalls at once instead of being retried; the
//! generated ExternalArtifacts also get an owner reference, so the
//! cluster's garbage collector removes them even if the finalizer is
//! bypassed.

mod copy;
mod glob;
mod publish;
mod sources;
mod status;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::{
    ArtifactGenerator, ArtifactGeneratorStatus, ExternalArtifact, ExternalArtifactReference,
    GENERATOR_LABEL, GeneratorSourceKind, GitRepository, HelmChart, OCIRepository,
    ORIGIN_REVISION_KEY, OutputArtifact,
};
use driftless_source::UnpackLimits;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use crate::Context;
use crate::kustomization::ArtifactCache;
use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Stamp};
use crate::scratch::Scratch;

/// How often an up-to-date generator looks again without a watch event
/// (source-watcher's one hour).
const INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Generated artifacts kept per ExternalArtifact (the current one included).
const KEEP_ARTIFACTS: usize = 2;

/// Reconciles ArtifactGenerators until the watch ends. A new artifact of
/// any source wakes the generators that read it.
pub(crate) async fn run(context: Arc<Context>) {
    let client = context.client.clone();
    let controller = crate::watch::controller(Api::<ArtifactGenerator>::all(client.clone()));
    let store = controller.store();
    let (git, oci, chart, external) = (store.clone(), store.clone(), store.clone(), store);
    let controller = controller
        .watches_stream(
            crate::watch::touched(Api::<GitRepository>::all(client.clone())),
            move |s| readers(&git, GeneratorSourceKind::GitRepository, &s),
        )
        .watches_stream(
            crate::watch::touched(Api::<OCIRepository>::all(client.clone())),
            move |s| readers(&oci, GeneratorSourceKind::OCIRepository, &s),
        )
        .watches_stream(
            crate::watch::touched(Api::<HelmChart>::all(client.clone())),
            move |s| readers(&chart, GeneratorSourceKind::HelmChart, &s),
        )
        .watches_stream(
            crate::watch::touched(Api::<ExternalArtifact>::all(client.clone())),
            move |s| readers(&external, GeneratorSourceKind::ExternalArtifact, &s),
        )
        // A generated ExternalArtifact edited or deleted by hand is put back.
        .owns_stream(crate::watch::touched(Api::<ExternalArtifact>::all(client)));
    let generators = ArtifactGenerators {
        artifacts: ArtifactCache::new(context.scratch.clone()),
    };
    reconciler::run(controller, context, generators).await;
}

/// The generators with `source` among their `spec.sources`.
fn readers<K: Resource>(
    store: &Store<ArtifactGenerator>,
    kind: GeneratorSourceKind,
    source: &K,
) -> Vec<ObjectRef<ArtifactGenerator>> {
    let (namespace, name) = (source.namespace().unwrap_or_default(), source.name_any());
    store
        .state()
        .into_iter()
        .filter(|generator| {
            let own = generator.namespace().unwrap_or_default();
            generator.spec.sources.iter().any(|s| {
                s.kind == kind
                    && s.name == name
                    && s.namespace.as_deref().unwrap_or(&own) == namespace
            })
        })
        .map(|generator| ObjectRef::from_obj(&*generator))
        .collect()
}

/// The ArtifactGenerator kind's reconcile logic and its memory.
pub(crate) struct ArtifactGenerators {
    /// Unpacked source artifacts by digest, shared across generators.
    artifacts: ArtifactCache,
}

impl Reconciler for ArtifactGenerators {
    type Object = ArtifactGenerator;
    type Status = ArtifactGeneratorStatus;

    fn status(generator: &ArtifactGenerator) -> Option<&ArtifactGeneratorStatus> {
        generator.status.as_ref()
    }

    fn conditions(status: &ArtifactGeneratorStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        generator: &ArtifactGenerator,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<ArtifactGeneratorStatus>, ReconcileError> {
        let context = run.context;
        status::validate(generator, context.options.no_cross_namespace_refs)?;
        let observed = sources::observe(generator, context).await?;
        let digest = sources::sources_digest(&observed);
        if status::up_to_date(generator, &digest) && outputs_intact(generator, context).await {
            return Ok(Outcome::Done {
                status: status::unchanged(generator, &run.stamp),
                events: Vec::new(),
                requeue: INTERVAL,
                revision: None,
            });
        }
        let (dirs, _held) = sources::fetch(&observed, &self.artifacts, context).await?;
        let namespace = generator.namespace().unwrap_or_default();
        let previous = generator.inventory();
        let mut inventory = Vec::new();
        let mut changed = Vec::new();
        for (index, output) in generator.spec.output_artifacts.iter().enumerate() {
            let tarball = build(
                index,
                output,
                dirs.clone(),
                &context.options.artifact_limits,
                &context.scratch,
            )
            .await?;
            let alias_revision = output
                .revision
                .as_deref()
                .and_then(|r| observed.get(r.trim_start_matches('@')))
                .map(|s| s.revision.clone());
            let key = publish::storage_key(&namespace, &output.name);
            let storage = context.fetcher.storage();
            let stored = storage
                .store_tarball(
                    &key,
                    |digest| alias_revision.unwrap_or_else(|| format!("latest@{digest}")),
                    &tarball,
                )
                .map_err(|e| {
                    ReconcileError::retryable(
                        reasons::ARCHIVE_OPERATION_FAILED,
                        format!(
                            "{} build failed: cannot store the artifact: {}",
                            output.name,
                            crate::error_chain(&e)
                        ),
                    )
                })?;
            if let Err(error) = storage.gc(&key, KEEP_ARTIFACTS, &stored) {
                tracing::warn!(%key, %error, "cannot remove old generated artifacts");
            }
            let mut artifact =
                crate::gitrepository::to_status_artifact(&stored, &context.artifact_base_url);
            if let Some(origin) = output
                .origin_revision
                .as_deref()
                .and_then(|r| observed.get(r.trim_start_matches('@')))
            {
                let value = origin
                    .origin_revision
                    .clone()
                    .unwrap_or_else(|| origin.revision.clone());
                artifact.metadata = Some([(ORIGIN_REVISION_KEY.to_owned(), value)].into());
            }
            publish::publish(generator, &output.name, &artifact, &run.stamp.now, context).await?;
            let reference = ExternalArtifactReference {
                name: output.name.clone(),
                namespace: namespace.clone(),
                digest: stored.digest.clone(),
                filename: stored
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            if !previous.contains(&reference) {
                changed.push(format!("{namespace}/{} ({})", output.name, stored.digest));
            }
            inventory.push(reference);
        }
        publish::remove(&publish::orphans(previous, &inventory), context).await;
        let mut events = Vec::new();
        if !changed.is_empty() {
            events.push(Event::normal(
                "Ready",
                format!("external artifacts reconciled: {}", changed.join("\n")),
            ));
        }
        Ok(Outcome::Done {
            status: status::succeeded(generator, inventory, digest, &run.stamp),
            events,
            requeue: INTERVAL,
            revision: None,
        })
    }

    fn failed_status(
        generator: &ArtifactGenerator,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> ArtifactGeneratorStatus {
        status::failed(generator, error, stamp)
    }

    fn retry_interval(_: &ArtifactGenerator) -> Duration {
        Duration::from_secs(30)
    }

    async fn cleanup(
        &self,
        generator: &ArtifactGenerator,
        context: &Context,
    ) -> Result<(), ReconcileError> {
        publish::remove(generator.inventory(), context).await;
        Ok(())
    }
}

/// Whether every artifact of the inventory is still in storage and the
/// ExternalArtifacts labelled as this generator's are exactly those of
/// the inventory, at the same digests.
async fn outputs_intact(generator: &ArtifactGenerator, context: &Context) -> bool {
    let inventory = generator.inventory();
    let storage = context.fetcher.storage();
    let stored = inventory.iter().all(|r| {
        storage
            .root()
            .join(publish::storage_key(&r.namespace, &r.name).to_string())
            .join(&r.filename)
            .is_file()
    });
    if !stored {
        return false;
    }
    let api: Api<ExternalArtifact> = Api::namespaced(
        context.client.clone(),
        &generator.namespace().unwrap_or_default(),
    );
    let selector = format!("{GENERATOR_LABEL}={}", generator.uid().unwrap_or_default());
    let Ok(list) = api.list(&ListParams::default().labels(&selector)).await else {
        return false;
    };
    list.items.len() == inventory.len()
        && list.items.iter().all(|ea| {
            let digest = ea.artifact().and_then(|a| a.digest.as_deref());
            inventory
                .iter()
                .any(|r| r.name == ea.name_any() && Some(r.digest.as_str()) == digest)
        })
}

/// Builds the tarball of `output` from the unpacked sources, off the
/// async threads (copying and packing read and write files).
async fn build(
    index: usize,
    output: &OutputArtifact,
    sources: HashMap<String, PathBuf>,
    limits: &UnpackLimits,
    scratch: &Scratch,
) -> Result<Vec<u8>, ReconcileError> {
    let (output, limits, scratch) = (output.clone(), limits.clone(), scratch.clone());
    let name = output.name.clone();
    let failed = move |message: String| {
        ReconcileError::retryable(
            reasons::BUILD_FAILED,
            format!("{name} build failed: {message}"),
        )
    };
    let fail = failed.clone();
    tokio::task::spawn_blocking(move || {
        let staging = scratch.dir("generated-").map_err(|e| {
            fail(format!(
                "cannot create a staging directory under {}: {e}",
                scratch.path().display()
            ))
        })?;
        let mut budget = copy::Budget::new(&limits);
        for (j, op) in output.copy.iter().enumerate() {
            copy::apply(op, &sources, staging.path(), &mut budget).map_err(|e| {
                fail(format!(
                    "spec.artifacts[{index}].copy[{j}] (from '{}' to '{}'): {}",
                    op.from,
                    op.to,
                    crate::error_chain(&e)
                ))
            })?;
        }
        driftless_source::oci::pack_directory(staging.path(), None, limits.max_file_bytes).map_err(
            |e| {
                fail(format!(
                    "cannot pack the artifact: {}",
                    crate::error_chain(&e)
                ))
            },
        )
    })
    .await
    .map_err(|e| failed(format!("the build task failed: {e}")))?
}
