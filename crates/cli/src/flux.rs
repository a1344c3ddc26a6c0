//! What the commands need to know of our two kinds, behind one trait, and
//! the operations they share: fetch by name, request a reconcile, wait for
//! the controller to handle it.
//!
//! The controller is the only writer of status; the CLI only sets the
//! `reconcile.fluxcd.io/requestedAt` annotation and `spec.suspend`, then
//! reads status back, exactly as `flux` does, so the two CLIs can drive the
//! same objects.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driftless_api::{
    Alert, FluxObject, GitRepository, HelmChart, HelmRelease, HelmRepository, Kustomization,
    OCIRepository, Provider, Receiver, annotations, conditions, managers,
};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::de::DeserializeOwned;

use crate::cluster::{Cluster, api_error, is_not_found};
use crate::output::Progress;

/// A Flux object the CLI reads and nudges: the status accessors every kind
/// shares ([`FluxObject`]) plus how the CLI words it.
pub trait CliObject:
    FluxObject
    + Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + serde::Serialize
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// How flux names the kind in progress lines: `GitRepository source`.
    const NOUN: &'static str;
    /// Whether `get` shows a REVISION column.
    const HAS_REVISION: bool = true;
    /// The success line after a reconcile, e.g. `applied revision main@sha1:…`.
    fn done_message(&self) -> String;
}

impl CliObject for GitRepository {
    const NOUN: &'static str = "GitRepository source";
    fn done_message(&self) -> String {
        format!("fetched revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for Kustomization {
    const NOUN: &'static str = "Kustomization";
    fn done_message(&self) -> String {
        format!("applied revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for OCIRepository {
    const NOUN: &'static str = "OCIRepository source";
    fn done_message(&self) -> String {
        format!("fetched revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for HelmRepository {
    const NOUN: &'static str = "HelmRepository source";
    fn done_message(&self) -> String {
        format!("fetched revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for HelmChart {
    const NOUN: &'static str = "HelmChart source";
    fn done_message(&self) -> String {
        format!(
            "pulled chart version {}",
            self.revision().unwrap_or("<none>")
        )
    }
}

impl CliObject for HelmRelease {
    const NOUN: &'static str = "HelmRelease";
    fn done_message(&self) -> String {
        format!("applied revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for Receiver {
    const NOUN: &'static str = "Receiver";
    const HAS_REVISION: bool = false;
    fn done_message(&self) -> String {
        format!("webhook path {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for Provider {
    const NOUN: &'static str = "Provider";
    const HAS_REVISION: bool = false;
    fn done_message(&self) -> String {
        "Provider applied".to_owned()
    }
}

impl CliObject for Alert {
    const NOUN: &'static str = "Alert";
    const HAS_REVISION: bool = false;
    fn done_message(&self) -> String {
        "Alert applied".to_owned()
    }
}

/// `Kind namespace/name`, the way errors name an object.
pub fn describe<K: CliObject>(namespace: &str, name: &str) -> String {
    format!("{} {namespace}/{name}", K::kind(&()))
}

/// Reads one object; "not found" becomes an error that names it.
pub async fn fetch<K: CliObject>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
) -> anyhow::Result<K> {
    let api: Api<K> = Api::namespaced(cluster.client.clone(), namespace);
    match api.get(name).await {
        Ok(object) => Ok(object),
        Err(err) if is_not_found(&err) => bail!(
            "{} not found; list them with `driftless get {} -n {namespace}`",
            describe::<K>(namespace, name),
            get_command::<K>()
        ),
        Err(err) => Err(api_error(err, &cluster.server))
            .with_context(|| format!("cannot read {}", describe::<K>(namespace, name))),
    }
}

fn get_command<K: CliObject>() -> &'static str {
    match K::KIND {
        "GitRepository" => "sources git",
        "Provider" => "alert-providers",
        "Alert" => "alerts",
        "Receiver" => "receivers",
        _ => "kustomizations",
    }
}

/// The timestamp flux writes into `reconcile.fluxcd.io/requestedAt`:
/// RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`).
pub fn now_rfc3339_nano() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// Merge-patches an object (annotations, `spec.suspend`).
pub async fn merge_patch<K: CliObject>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    patch: serde_json::Value,
) -> anyhow::Result<K> {
    let api: Api<K> = Api::namespaced(cluster.client.clone(), namespace);
    let params = PatchParams {
        field_manager: Some(managers::CLI.to_string()),
        ..Default::default()
    };
    api.patch(name, &params, &Patch::Merge(&patch))
        .await
        .map_err(|err| api_error(err, &cluster.server))
        .with_context(|| format!("cannot update {}", describe::<K>(namespace, name)))
}

/// The merge patch that requests a reconcile at `at`.
pub fn reconcile_request_patch(at: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"annotations": {annotations::RECONCILE_REQUESTED_AT: at}}})
}

/// Annotates, then waits for the controller to handle the request and
/// report Ready; fails with the Ready message when it reports not ready.
pub async fn reconcile<K: CliObject>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    timeout: Duration,
    progress: &Progress,
) -> anyhow::Result<K> {
    let object: K = fetch(cluster, namespace, name).await?;
    if object.suspended() {
        bail!(
            "{} is suspended; resume it first with `driftless resume`",
            describe::<K>(namespace, name)
        );
    }
    progress.action(&format!(
        "annotating {} {name} in {namespace} namespace",
        K::NOUN
    ));
    let requested_at = now_rfc3339_nano();
    merge_patch::<K>(
        cluster,
        namespace,
        name,
        reconcile_request_patch(&requested_at),
    )
    .await?;
    progress.success(&format!("{} annotated", K::NOUN));
    wait_for_handled(cluster, namespace, name, &requested_at, timeout, progress).await
}

/// Waits until `status.lastHandledReconcileAt` is `requested_at` and Ready
/// is True or False.
pub async fn wait_for_handled<K: CliObject>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    requested_at: &str,
    timeout: Duration,
    progress: &Progress,
) -> anyhow::Result<K> {
    progress.waiting(&format!("waiting for {} reconciliation", K::NOUN));
    let object = poll(cluster, namespace, name, timeout, |object: &K| {
        object.last_handled_reconcile_at() == Some(requested_at) && ready_status(object).is_some()
    })
    .await
    .with_context(|| {
        format!(
            "the controller did not handle the reconcile request of {} within {}; is it running? see `driftless check`",
            describe::<K>(namespace, name),
            humanize(timeout)
        )
    })?;
    finish(object, namespace, name, progress)
}

/// Waits until Ready is True or False for the object's current generation
/// (after a create or an update).
pub async fn wait_for_ready<K: CliObject>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    timeout: Duration,
    progress: &Progress,
) -> anyhow::Result<K> {
    progress.waiting(&format!("waiting for {} reconciliation", K::NOUN));
    let object = poll(cluster, namespace, name, timeout, |object: &K| {
        object.observed_generation().is_some()
            && object.observed_generation() == object.meta().generation
            && ready_status(object).is_some()
    })
    .await
    .with_context(|| {
        format!(
            "{} did not become ready within {}; is the controller running? see `driftless check`",
            describe::<K>(namespace, name),
            humanize(timeout)
        )
    })?;
    finish(object, namespace, name, progress)
}

fn finish<K: CliObject>(
    object: K,
    namespace: &str,
    name: &str,
    progress: &Progress,
) -> anyhow::Result<K> {
    match ready_status(&object) {
        Some(true) => {
            progress.success(&format!("{} reconciliation completed", K::NOUN));
            progress.success(&object.done_message());
            Ok(object)
        }
        _ => {
            let message = conditions::find(object.status_conditions(), conditions::types::READY)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            bail!(
                "{} reconciliation failed: {message}",
                describe::<K>(namespace, name)
            )
        }
    }
}

/// `Some(true)`/`Some(false)` for Ready True/False; `None` while unknown.
pub fn ready_status<K: CliObject>(object: &K) -> Option<bool> {
    match conditions::find(object.status_conditions(), conditions::types::READY)?
        .status
        .as_str()
    {
        conditions::status::TRUE => Some(true),
        conditions::status::FALSE => Some(false),
        _ => None,
    }
}

/// Re-reads the object until `done` holds or `timeout` passes.
async fn poll<K: CliObject>(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    timeout: Duration,
    done: impl Fn(&K) -> bool,
) -> anyhow::Result<K> {
    let deadline = Instant::now() + timeout;
    loop {
        let object: K = fetch(cluster, namespace, name).await?;
        if done(&object) {
            return Ok(object);
        }
        if Instant::now() >= deadline {
            bail!("timed out");
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())))
            .await;
    }
}

/// How often a wait re-reads the object; flux polls every 2s, a bit
/// quicker here keeps interactive use snappy without loading the server.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// `5m0s`, `30s`: a timeout as the user wrote it.
pub fn humanize(duration: Duration) -> String {
    driftless_api::GoDuration::from_std(duration)
        .as_str()
        .to_string()
}

/// Parses a `--timeout`/`--interval` flag as a Go duration, as flux does.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    driftless_api::GoDuration::from(text)
        .to_std()
        .map_err(|err| err.to_string())
}
