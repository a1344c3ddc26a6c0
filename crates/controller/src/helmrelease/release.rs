//! One Helm action on the cluster, recorded as Helm records it: install or
//! upgrade (a new revision stored `pending-*`, CRDs by policy, `pre-*`
//! hooks, the objects applied with server-side apply, what left the chart
//! pruned, readiness waited for, `post-*` hooks, then `deployed` — the
//! previous revision `superseded` — or `failed`), rollback to an earlier
//! revision, and uninstall.
//!
//! Owns the sequence and the release record's content. Must not decide
//! whether an action is due (the reconciler does) nor compute status.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::{CrdsPolicy, ReleaseAction};
use driftless_api::inventory::{ResourceInventory, ResourceRef};
use driftless_apply::Applier;
use driftless_apply::release::{
    Chart as ChartRecord, ChartFile, ChartMetadata, Hook as HookRecord, HookExecution, Info,
    Release, ReleaseStore, Status, StoredRelease, go_time,
};
use driftless_render::yaml::parse_manifests;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use serde_json::Value as Json;

use super::hooks;
use super::render::Desired;
use super::resources::{self, KEEP, Kinds, RESOURCE_POLICY};
use crate::reconciler::ReconcileError;

/// What a successful action left behind.
pub(super) struct Released {
    pub record: StoredRelease,
    pub inventory: ResourceInventory,
}

/// A failed action: the message, and the record marked failed (when one
/// was written).
pub(super) struct ActionFailed {
    pub error: ReconcileError,
    pub record: Option<StoredRelease>,
}

/// How to run one install or upgrade.
pub(super) struct ActionSettings {
    pub action: ReleaseAction,
    pub crds: CrdsPolicy,
    pub wait: bool,
    pub hooks: bool,
    pub timeout: Duration,
    pub max_history: usize,
}

/// The release an action works on, and the clients it works through.
pub(super) struct ReleaseTarget<'a> {
    pub applier: &'a Applier,
    pub client: &'a kube::Client,
    pub store: &'a ReleaseStore,
    pub name: &'a str,
    pub namespace: &'a str,
}

/// Installs or upgrades to `desired` as revision `version`.
pub(super) async fn install_or_upgrade(
    target: &ReleaseTarget<'_>,
    desired: &Desired,
    version: u32,
    first_deployed: Option<String>,
    previous_inventory: &ResourceInventory,
    settings: &ActionSettings,
) -> Result<Released, ActionFailed> {
    let ReleaseTarget {
        applier,
        client,
        store,
        name: release_name,
        namespace,
    } = *target;
    let now = go_time(time::OffsetDateTime::now_utc());
    let (status, description, event) = match settings.action {
        ReleaseAction::Install => (
            Status::PendingInstall,
            "Initial install underway",
            "install",
        ),
        ReleaseAction::Upgrade => (Status::PendingUpgrade, "Preparing upgrade", "upgrade"),
    };
    let record = Release {
        name: release_name.to_owned(),
        namespace: namespace.to_owned(),
        version,
        info: Some(Info {
            first_deployed: Some(first_deployed.unwrap_or_else(|| now.clone())),
            last_deployed: Some(now),
            status,
            description: description.to_owned(),
            notes: desired.notes.clone(),
            ..Info::default()
        }),
        chart: Some(chart_record(desired)),
        config: super::values::as_json(&desired.values),
        manifest: desired.manifest.clone(),
        hooks: desired.hooks.iter().map(hook_record).collect(),
        ..Release::default()
    };
    let mut stored = store
        .create(&record, settings.max_history)
        .await
        .map_err(|e| ActionFailed {
            error: ReconcileError::retryable(
                reasons::RECONCILIATION_FAILED,
                crate::error_chain(&e),
            ),
            record: None,
        })?;
    let mut runs = Vec::new();
    let outcome = run_action(
        applier,
        client,
        desired,
        previous_inventory,
        settings,
        event,
        &mut runs,
    )
    .await;
    record_runs(&mut stored.release, &runs);
    match outcome {
        Ok(inventory) => {
            let description = match settings.action {
                ReleaseAction::Install => "Install complete",
                ReleaseAction::Upgrade => "Upgrade complete",
            };
            let record = store
                .mark_deployed(stored, description)
                .await
                .map_err(|e| ActionFailed {
                    error: ReconcileError::retryable(
                        reasons::RECONCILIATION_FAILED,
                        crate::error_chain(&e),
                    ),
                    record: None,
                })?;
            Ok(Released { record, inventory })
        }
        Err(error) => {
            let record = store.mark_failed(stored, &error.message).await.ok();
            Err(ActionFailed { error, record })
        }
    }
}

/// CRDs, pre-hooks, apply, prune, wait, post-hooks; each hook's run is
/// added to `runs` (by its index in `desired.hooks`).
async fn run_action(
    applier: &Applier,
    client: &kube::Client,
    desired: &Desired,
    previous_inventory: &ResourceInventory,
    settings: &ActionSettings,
    event: &str,
    runs: &mut Vec<(usize, HookExecution)>,
) -> Result<ResourceInventory, ReconcileError> {
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    let crds = crds_to_apply(client, &desired.crds, settings.crds).await?;
    if !crds.is_empty() {
        applier
            .apply(crds)
            .await
            .map_err(|e| failed(format!("cannot apply the chart's CRDs: {e}")))?;
    }
    if settings.hooks {
        let ran = hooks::run(
            applier,
            client,
            &desired.hooks,
            &format!("pre-{event}"),
            settings.timeout,
        )
        .await;
        runs.extend(ran.executions.iter().cloned());
        ran.into_result()?;
    }
    let inventory = apply_and_prune(
        applier,
        client,
        desired.objects.clone(),
        &previous_inventory.entries,
    )
    .await?;
    if settings.wait {
        applier
            .wait_healthy(&inventory.entries, settings.timeout)
            .await
            .map_err(|e| ReconcileError::retryable(reasons::HEALTH_CHECK_FAILED, e.to_string()))?;
    }
    if settings.hooks {
        let ran = hooks::run(
            applier,
            client,
            &desired.hooks,
            &format!("post-{event}"),
            settings.timeout,
        )
        .await;
        runs.extend(ran.executions.iter().cloned());
        ran.into_result()?;
    }
    Ok(inventory)
}

/// Writes each hook's last run into `release`'s hooks (by index), with
/// Helm's default delete policy filled in as Helm fills it when it runs a
/// hook.
pub(super) fn record_runs(release: &mut Release, runs: &[(usize, HookExecution)]) {
    for (index, execution) in runs {
        if let Some(hook) = release.hooks.get_mut(*index) {
            hook.last_run = execution.clone();
            if hook.delete_policies.is_empty() {
                hook.delete_policies = vec![hooks::BEFORE_HOOK_CREATION.to_owned()];
            }
        }
    }
}

/// Applies `objects` and deletes what `previous` had that they do not,
/// but for live objects Helm's resource policy keeps; every delete is
/// tried and the failures reported together, as Helm 4's update does.
async fn apply_and_prune(
    applier: &Applier,
    client: &kube::Client,
    objects: Vec<Json>,
    previous: &[ResourceRef],
) -> Result<ResourceInventory, ReconcileError> {
    let changes = applier
        .apply(objects)
        .await
        .map_err(|e| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, e.to_string()))?;
    let inventory = changes.inventory();
    let applied: HashSet<&str> = inventory.entries.iter().map(|e| e.id.as_str()).collect();
    let stale: Vec<ResourceRef> = previous
        .iter()
        .filter(|e| !applied.contains(e.id.as_str()))
        .cloned()
        .collect();
    let (stale, kept) = Kinds::new(client).without_kept_live(stale).await?;
    if !kept.is_empty() {
        tracing::info!(kept = %resources::kept_list(&kept), "not deleted: {RESOURCE_POLICY}: {KEEP}");
    }
    applier
        .prune_every(&stale)
        .await
        .map_err(|e| ReconcileError::retryable(reasons::PRUNE_FAILED, e.to_string()))?;
    Ok(inventory)
}

/// Rolls back to `to` (a deployed revision), as Helm does: its manifest
/// applied again, and what the current release has that it has not — the
/// objects of `current`'s manifest (the failed revision, which may have
/// created some before it failed) and of `inventory` — deleted, but for
/// live objects annotated `helm.sh/resource-policy: keep`; recorded as
/// revision `version` with Helm's "Rollback to N" description. A delete
/// that fails (but for an object already gone) fails the rollback, as in
/// Helm 4.
pub(super) async fn rollback(
    release: &ReleaseTarget<'_>,
    to: &StoredRelease,
    version: u32,
    (inventory, current): (&ResourceInventory, Option<&Release>),
    timeout: Duration,
    max_history: i64,
) -> Result<StoredRelease, ReconcileError> {
    let (applier, store) = (release.applier, release.store);
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    let mut record = to.release.clone();
    record.version = version;
    record.labels.clear();
    let now = go_time(time::OffsetDateTime::now_utc());
    let description = format!("Rollback to {}", to.release.version);
    record.set_status(Status::PendingRollback, description.clone());
    if let Some(info) = record.info.as_mut() {
        info.last_deployed = Some(now);
        info.deleted = None;
        info.rollback_revision = to.release.version;
    }
    let stored = store
        .create(&record, usize::try_from(max_history).unwrap_or(0))
        .await
        .map_err(|e| failed(crate::error_chain(&e)))?;
    let mut objects = Vec::new();
    for doc in parse_manifests(&record.manifest).map_err(|e| {
        failed(format!(
            "the manifest of revision {} is not YAML: {e}",
            to.release.version
        ))
    })? {
        let mut object = driftless_render::to_json(&doc);
        if !object.is_null() {
            super::render::mark(&mut object, &record.name, &record.namespace);
            objects.push(object);
        }
    }
    let previous = match current {
        Some(current) => Kinds::new(release.client)
            .manifest_objects(&current.manifest, &current.namespace)
            .await
            .map(|objects| resources::union(&inventory.entries, objects.iter().map(|o| &o.entry))),
        None => Ok(inventory.entries.clone()),
    };
    // Helm's descriptions of a failed rollback: the update (apply and
    // deletes) failed, or the release did not become ready.
    let name = &record.name;
    let applied = match previous {
        Ok(previous) => apply_and_prune(applier, release.client, objects, &previous)
            .await
            .map_err(|e| (format!("Rollback {name:?} failed: {}", e.message), e)),
        Err(error) => Err((
            format!("Rollback {name:?} failed: {}", error.message),
            error,
        )),
    };
    if applied.is_err()
        && let Some(current) = current
    {
        // Helm 4 supersedes the release it rolled back from when the
        // update itself failed (not when only the wait did).
        if let Err(e) = store.mark_superseded(&current.name, current.version).await {
            tracing::warn!(release = %name, error = %crate::error_chain(&e), "cannot mark the rolled-back-from revision superseded");
        }
    }
    let healthy = match applied {
        Ok(inventory) => applier
            .wait_healthy(&inventory.entries, timeout)
            .await
            .map_err(|e| {
                let error = ReconcileError::retryable(reasons::HEALTH_CHECK_FAILED, e.to_string());
                (format!("Release {name:?} failed: {}", error.message), error)
            }),
        Err(failure) => Err(failure),
    };
    match healthy {
        Ok(()) => store
            .mark_deployed(stored, &description)
            .await
            .map_err(|e| failed(crate::error_chain(&e))),
        Err((description, error)) => {
            let _ = store.mark_failed(stored, &description).await;
            Err(error)
        }
    }
}

/// The chart's CRDs the policy lets through: none for `Skip`, the missing
/// ones for `Create`, all for `CreateReplace`.
async fn crds_to_apply(
    client: &kube::Client,
    crds: &[Json],
    policy: CrdsPolicy,
) -> Result<Vec<Json>, ReconcileError> {
    match policy {
        CrdsPolicy::Skip => Ok(Vec::new()),
        CrdsPolicy::CreateReplace => Ok(crds.to_vec()),
        CrdsPolicy::Create => {
            let api: Api<CustomResourceDefinition> = Api::all(client.clone());
            let mut missing = Vec::new();
            for crd in crds {
                let name = crd["metadata"]["name"].as_str().unwrap_or_default();
                let exists = api.get_opt(name).await.map_err(|e| {
                    ReconcileError::retryable(
                        reasons::RECONCILIATION_FAILED,
                        format!("cannot read CRD {name}: {e}"),
                    )
                })?;
                if exists.is_none() {
                    missing.push(crd.clone());
                }
            }
            Ok(missing)
        }
    }
}

/// Uninstalls: hooks, then every object of the release — those of
/// `inventory` and of the last record's `manifest` (a failed install
/// created objects no inventory lists), but for what the manifest marks
/// `helm.sh/resource-policy: keep` — then the record (kept as
/// `uninstalled` with `keepHistory`).
pub(super) async fn uninstall(
    target: &ReleaseTarget<'_>,
    (inventory, manifest): (&ResourceInventory, &str),
    hooks: Option<&[driftless_chart::Hook]>,
    keep_history: bool,
    wait: bool,
    timeout: Duration,
) -> Result<(), ReconcileError> {
    let failed = |message: String| ReconcileError::retryable(reasons::PRUNE_FAILED, message);
    let applier = target.applier;
    if let Some(hooks) = hooks {
        hooks::run(applier, target.client, hooks, "pre-delete", timeout)
            .await
            .into_result()?;
    }
    let in_manifest = Kinds::new(target.client)
        .manifest_objects(manifest, target.namespace)
        .await?;
    let (objects, kept) = resources::uninstall_split(&inventory.entries, &in_manifest);
    if !kept.is_empty() {
        tracing::info!(release = %format!("{}/{}", target.namespace, target.name), kept = %resources::kept_list(&kept), "these resources were kept due to the resource policy");
    }
    applier
        .prune_every(&objects)
        .await
        .map_err(|e| failed(e.to_string()))?;
    if wait {
        applier
            .wait_deleted(&objects, timeout)
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    if let Some(hooks) = hooks {
        hooks::run(applier, target.client, hooks, "post-delete", timeout)
            .await
            .into_result()?;
    }
    target
        .store
        .uninstall(target.name, keep_history, time::OffsetDateTime::now_utc())
        .await
        .map(|_| ())
        .map_err(|e| failed(crate::error_chain(&e)))
}

/// The record's `chart`: metadata, templates, values, schema and files, as
/// Helm stores them (file contents base64, as Go encodes `[]byte`).
fn chart_record(desired: &Desired) -> ChartRecord {
    let chart = &desired.chart;
    let metadata = &desired.metadata;
    let encode = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
    let files = |list: &[driftless_chart::ChartFile]| {
        list.iter()
            .map(|f| ChartFile {
                name: f.name.clone(),
                data: Some(encode(&f.data)),
                ..ChartFile::default()
            })
            .collect::<Vec<_>>()
    };
    ChartRecord {
        metadata: Some(ChartMetadata {
            name: metadata.name.clone(),
            home: metadata.home.clone(),
            sources: metadata.sources.clone(),
            version: metadata.version.clone(),
            description: metadata.description.clone(),
            keywords: metadata.keywords.clone(),
            icon: metadata.icon.clone(),
            api_version: metadata.api_version.clone(),
            condition: metadata.condition.clone(),
            tags: metadata.tags.clone(),
            app_version: metadata.app_version.clone(),
            deprecated: metadata.deprecated,
            annotations: metadata.annotations.iter().flatten().cloned().collect(),
            kube_version: metadata.kube_version.clone(),
            chart_type: metadata.chart_type.clone(),
            maintainers: metadata
                .maintainers
                .iter()
                .map(|m| {
                    let mut entry = serde_json::Map::new();
                    for (key, value) in [("name", &m.name), ("email", &m.email), ("url", &m.url)] {
                        if !value.is_empty() {
                            entry.insert(key.into(), Json::String(value.clone()));
                        }
                    }
                    Json::Object(entry)
                })
                .collect(),
            ..ChartMetadata::default()
        }),
        templates: Some(files(&chart.templates)),
        values: Some(super::values::as_json(&chart.values)),
        schema: chart.schema.as_deref().map(encode),
        files: Some(files(&chart.files)),
        ..ChartRecord::default()
    }
}

fn hook_record(hook: &driftless_chart::Hook) -> HookRecord {
    HookRecord {
        name: hook.name.clone(),
        kind: hook.kind.clone(),
        path: hook.source.clone(),
        manifest: hook.content.clone(),
        events: hook.events.clone(),
        weight: hook.weight,
        delete_policies: hook.delete_policies.clone(),
        output_log_policies: hook.output_log_policies.clone(),
        ..HookRecord::default()
    }
}
