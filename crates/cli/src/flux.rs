//! What the commands need to know of each kind, behind one trait, and
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
    Alert, ArtifactGenerator, FluxObject, GitRepository, HelmChart, HelmRelease, HelmRepository,
    ImagePolicy, ImageRepository, ImageUpdateAutomation, Kustomization, OCIRepository, Provider,
    Receiver, annotations, conditions, managers,
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
    /// The `driftless get` words that list the kind: `sources git`.
    const GET_COMMAND: &'static str;
    /// The columns `get` shows between NAME and SUSPENDED, as flux's table
    /// for the kind has them.
    const STATUS_COLUMNS: &'static [&'static str] = &["REVISION"];
    /// Whether `get` shows SUSPENDED (flux leaves it out for ImagePolicies).
    const SHOWS_SUSPENDED: bool = true;
    /// The cells under [`Self::STATUS_COLUMNS`], one per column.
    fn status_cells(&self) -> Vec<String> {
        vec![self.revision().unwrap_or_default().to_owned()]
    }
    /// The success line after a reconcile, e.g. `applied revision main@sha1:…`.
    fn done_message(&self) -> String;
    /// The merge patch that suspends (`true`) or resumes the object:
    /// `spec.suspend` for the toolkit's kinds.
    fn suspend_patch(suspend: bool) -> serde_json::Value {
        serde_json::json!({"spec": {"suspend": suspend}})
    }
}

impl CliObject for GitRepository {
    const NOUN: &'static str = "GitRepository source";
    const GET_COMMAND: &'static str = "sources git";
    fn done_message(&self) -> String {
        format!("fetched revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for ArtifactGenerator {
    const NOUN: &'static str = "ArtifactGenerator";
    const GET_COMMAND: &'static str = "artifactgenerators";
    /// The ExternalArtifacts it generated, where sources show a revision.
    const STATUS_COLUMNS: &'static [&'static str] = &["ARTIFACTS"];
    fn status_cells(&self) -> Vec<String> {
        let names: Vec<&str> = self.inventory().iter().map(|r| r.name.as_str()).collect();
        vec![names.join(",")]
    }
    fn done_message(&self) -> String {
        format!("generated {} artifact(s)", self.inventory().len())
    }
    /// source-watcher has no `spec.suspend`: its reconcile annotation set
    /// to `disabled` pauses a generator, and resuming removes it.
    fn suspend_patch(suspend: bool) -> serde_json::Value {
        let value = suspend.then_some("disabled");
        serde_json::json!({"metadata": {"annotations": {
            driftless_api::GENERATOR_RECONCILE_ANNOTATION: value,
        }}})
    }
}

impl CliObject for Kustomization {
    const NOUN: &'static str = "Kustomization";
    const GET_COMMAND: &'static str = "kustomizations";
    fn done_message(&self) -> String {
        format!("applied revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for OCIRepository {
    const NOUN: &'static str = "OCIRepository source";
    const GET_COMMAND: &'static str = "sources oci";
    fn done_message(&self) -> String {
        format!("fetched revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for HelmRepository {
    const NOUN: &'static str = "HelmRepository source";
    const GET_COMMAND: &'static str = "sources helm";
    fn done_message(&self) -> String {
        format!("fetched revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for HelmChart {
    const NOUN: &'static str = "HelmChart source";
    const GET_COMMAND: &'static str = "sources chart";
    fn done_message(&self) -> String {
        format!(
            "pulled chart version {}",
            self.revision().unwrap_or("<none>")
        )
    }
}

impl CliObject for HelmRelease {
    const NOUN: &'static str = "HelmRelease";
    const GET_COMMAND: &'static str = "helmreleases";
    fn done_message(&self) -> String {
        format!("applied revision {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for Receiver {
    const NOUN: &'static str = "Receiver";
    const GET_COMMAND: &'static str = "receivers";
    const STATUS_COLUMNS: &'static [&'static str] = &[];
    fn status_cells(&self) -> Vec<String> {
        Vec::new()
    }
    fn done_message(&self) -> String {
        format!("webhook path {}", self.revision().unwrap_or("<none>"))
    }
}

impl CliObject for Provider {
    const NOUN: &'static str = "Provider";
    const GET_COMMAND: &'static str = "alert-providers";
    const STATUS_COLUMNS: &'static [&'static str] = &[];
    fn status_cells(&self) -> Vec<String> {
        Vec::new()
    }
    fn done_message(&self) -> String {
        "Provider applied".to_owned()
    }
}

impl CliObject for Alert {
    const NOUN: &'static str = "Alert";
    const GET_COMMAND: &'static str = "alerts";
    const STATUS_COLUMNS: &'static [&'static str] = &[];
    fn status_cells(&self) -> Vec<String> {
        Vec::new()
    }
    fn done_message(&self) -> String {
        "Alert applied".to_owned()
    }
}

impl CliObject for ImageRepository {
    const NOUN: &'static str = "ImageRepository";
    const GET_COMMAND: &'static str = "images repository";
    const STATUS_COLUMNS: &'static [&'static str] = &["LAST SCAN"];
    fn status_cells(&self) -> Vec<String> {
        let scan = self
            .status
            .as_ref()
            .and_then(|s| s.last_scan_result.as_ref());
        vec![scan.map(|r| rfc3339(&r.scan_time)).unwrap_or_default()]
    }
    fn done_message(&self) -> String {
        match self
            .status
            .as_ref()
            .and_then(|s| s.last_scan_result.as_ref())
        {
            Some(scan) => format!("scan fetched {} tags", scan.tag_count),
            None => "no scan result yet".to_owned(),
        }
    }
}

impl CliObject for ImagePolicy {
    const NOUN: &'static str = "ImagePolicy";
    const GET_COMMAND: &'static str = "images policy";
    const STATUS_COLUMNS: &'static [&'static str] = &["IMAGE", "TAG"];
    const SHOWS_SUSPENDED: bool = false;
    fn status_cells(&self) -> Vec<String> {
        let latest = self.latest_ref();
        vec![
            latest.map(|r| r.name.clone()).unwrap_or_default(),
            latest.map(|r| r.tag.clone()).unwrap_or_default(),
        ]
    }
    fn done_message(&self) -> String {
        match self.latest_ref() {
            Some(latest) => format!("selected ref {latest}"),
            None => "selected no ref yet".to_owned(),
        }
    }
}

impl CliObject for ImageUpdateAutomation {
    const NOUN: &'static str = "ImageUpdateAutomation";
    const GET_COMMAND: &'static str = "images update";
    const STATUS_COLUMNS: &'static [&'static str] = &["LAST RUN"];
    fn status_cells(&self) -> Vec<String> {
        let run = self
            .status
            .as_ref()
            .and_then(|s| s.last_automation_run_time.as_ref());
        vec![run.map(rfc3339).unwrap_or_default()]
    }
    fn done_message(&self) -> String {
        if let Some(ready) = conditions::find(self.conditions(), conditions::types::READY) {
            return ready.message.clone();
        }
        match self
            .status
            .as_ref()
            .and_then(|s| s.last_automation_run_time.as_ref())
        {
            Some(run) => format!("last run {}", rfc3339(run)),
            None => "automation not yet run".to_owned(),
        }
    }
}

/// A status time as flux prints it in tables (Go's `time.RFC3339`: whole
/// seconds, UTC).
fn rfc3339(time: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> String {
    time.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
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
            K::GET_COMMAND
        ),
        Err(err) => Err(api_error(err, &cluster.server))
            .with_context(|| format!("cannot read {}", describe::<K>(namespace, name))),
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
