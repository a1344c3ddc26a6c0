//! # driftless-controller: the reconcilers
//!
//! Wires the pipeline's stages to the Kubernetes API: the `GitRepository`
//! reconciler turns a source spec into an artifact (via `driftless-source`)
//! and serves it over HTTP; the `ImageRepository` reconciler scans a
//! registry's tags for the `ImagePolicy` reconciler to choose from; the `Kustomization` reconciler downloads and
//! verifies that artifact, renders it (`driftless-render`), applies, prunes
//! and health-checks the result (`driftless-apply`), and writes Flux's
//! status, events and metrics; the `Receiver` reconciler publishes webhook
//! paths, and every event goes to the Alerts that select it
//! (`driftless-notify`).
//!
//! Every kind is a `Reconciler` (module `reconciler`) on one scaffold (finalizer,
//! schedule, time budget and panic boundary, typed failure, status patch,
//! events, metrics); a new kind is a new module, not a new pattern.
//!
//! **Owns:** scheduling (kube-runtime's controller machinery: watches,
//! intervals, retries, requested reconciles), mapping results onto
//! conditions, events and metrics, the artifact, metrics, events and
//! receiver HTTP servers, the instrumented Kubernetes client, leader
//! election. **Must not:** decide what a fetch, a render or an apply
//! does — those decisions live in the crates above; this crate only calls
//! them and reports.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = kube::Config::infer().await?;
//! let options = driftless_controller::ControllerOptions::new("/var/lib/driftless");
//! driftless_controller::run(config, options, std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod acl;
mod artifactgenerator;
mod client_metrics;
mod config_watch;
mod drift;
mod events;
mod gitrepository;
mod helmchart;
mod helmrelease;
mod helmrepository;
mod http;
mod imagepolicy;
mod imagerepository;
mod imageupdateautomation;
mod impersonation;
mod include;
mod kustomization;
pub mod leader;
mod metrics;
mod notification;
mod ocirepository;
mod reconciler;
mod scratch;
mod source_status;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use driftless_source::{GitFetcher, Storage};

pub use driftless_limits::Limits;
pub use driftless_source::UnpackLimits;
pub use helmrelease::{
    ChartFetchError, DownloadError, LocalChart, build_helm_release, fetch_helm_release_chart,
    helm_apply_options,
};
pub use kustomization::{apply_options, build_local};
pub use leader::{LEASE_NAME, LeaseTimings};

/// Everything `driftless controller` can be told.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// Artifacts, git caches and reconciles' working directories (`.scratch`) live here.
    pub storage_dir: PathBuf,
    /// Where the artifact server listens (port 0: any free port).
    pub artifact_listen: SocketAddr,
    /// The address written into `status.artifact.url`; by default
    /// `http://<the bound artifact address>`. In a cluster: the Service's DNS name.
    pub artifact_base_url: Option<String>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served; none: not served.
    pub metrics_listen: Option<SocketAddr>,
    /// Where Receivers' webhooks (`/hook/<digest>`) are served; none: not served.
    pub receiver_listen: Option<SocketAddr>,
    /// Where other controllers post Flux's events (`POST /`); none: not served.
    pub events_listen: Option<SocketAddr>,
    /// Compete for the Lease in this namespace before reconciling; none: reconcile at once.
    pub leader_election_namespace: Option<String>,
    /// This replica's name in the Lease (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease lasts and how often it is renewed.
    pub lease_timings: LeaseTimings,
    /// Refuse `sourceRef`s and `dependsOn` in other namespaces (Flux's `--no-cross-namespace-refs`).
    pub no_cross_namespace_refs: bool,
    /// Watch applied objects and correct a manual edit or delete within seconds.
    pub drift_watch: bool,
    /// Reconciles running at once, per kind.
    pub concurrency: u16,
    /// Field manager for server-side apply (Flux's, so Flux-managed clusters are adopted).
    pub field_manager: String,
    /// How soon a Kustomization whose dependencies are not ready looks again
    /// (Flux's `--requeue-dependency`, 30s).
    pub dependency_requeue: Duration,
    /// The most one reconcile may take before it is stopped and retried
    /// (`--reconcile-timeout`): a hanging server or a hostile input fails
    /// that object only.
    pub reconcile_timeout: Duration,
    /// What a downloaded artifact may unpack to (`--artifact-max-*`).
    pub artifact_limits: driftless_source::UnpackLimits,
    /// A Secret (`namespace`, `name`) whose `*.agekey` entries decrypt for
    /// every Kustomization with `spec.decryption` but no `secretRef`
    /// (Flux's `--sops-age-secret`).
    pub sops_age_secret: Option<(String, String)>,
    /// The label selector of the ConfigMaps and Secrets whose changes wake
    /// the HelmReleases (`valuesFrom`) and Kustomizations
    /// (`postBuild.substituteFrom`) naming them at once (Flux's
    /// `--watch-configs-label-selector`, default
    /// `reconcile.fluxcd.io/watch=Enabled`); empty watches them all.
    pub watch_configs_label_selector: String,
    /// Bounds on YAML, manifest files, webhook bodies, notifications,
    /// registry tags, templates, setter files and push reports; installed
    /// for the whole process when [`run`] starts (see `driftless_limits`
    /// for why they are process-wide).
    pub limits: Limits,
}

impl ControllerOptions {
    /// Flux's defaults, with artifacts and git caches under `storage_dir`.
    pub fn new(storage_dir: impl Into<PathBuf>) -> ControllerOptions {
        ControllerOptions {
            storage_dir: storage_dir.into(),
            artifact_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            artifact_base_url: None,
            metrics_listen: None,
            receiver_listen: None,
            events_listen: None,
            leader_election_namespace: None,
            identity: default_identity(),
            lease_timings: LeaseTimings::default(),
            no_cross_namespace_refs: false,
            drift_watch: true,
            concurrency: 4,
            field_manager: driftless_api::managers::KUSTOMIZE_CONTROLLER.to_owned(),
            dependency_requeue: Duration::from_secs(30),
            reconcile_timeout: Duration::from_secs(30 * 60),
            artifact_limits: driftless_source::UnpackLimits::default(),
            sops_age_secret: None,
            watch_configs_label_selector: config_watch::WATCH_SELECTOR.to_owned(),
            limits: Limits::default(),
        }
    }
}

/// The pod name in a cluster, the host name and process id elsewhere.
fn default_identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map_or_else(|_| "localhost".to_owned(), |h| h.trim().to_owned());
        format!("{host}-{}", std::process::id())
    })
}

/// Shared by every reconcile.
pub(crate) struct Context {
    pub client: kube::Client,
    pub fetcher: GitFetcher,
    pub oci: driftless_source::oci::OciFetcher,
    pub helm: driftless_source::helm::HelmFetcher,
    /// The tags of every ImageRepository's last scan, for the ImagePolicies.
    pub image_tags: imagerepository::TagStore,
    pub recorder: events::Recorder,
    pub metrics: Arc<metrics::Metrics>,
    pub artifact_base_url: String,
    /// Downloads artifacts for the Kustomization reconciler.
    pub http: reqwest::Client,
    /// Shares the discovery cache across every Kustomization's applier.
    pub applier: driftless_apply::Applier,
    /// Appliers acting as a service account, by impersonated user name.
    pub impersonating:
        std::sync::Mutex<std::collections::HashMap<String, driftless_apply::Applier>>,
    pub options: ControllerOptions,
    /// Where reconciles make their working directories.
    pub scratch: scratch::Scratch,
    /// The cluster's configuration: impersonating clients are built from it.
    pub kube_config: kube::Config,
}

/// Why the controller stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("cannot use storage directory {path}; check --storage-dir and its permissions")]
    /// `--storage-dir` cannot be created or written.
    Storage {
        /// The directory.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: driftless_source::Error,
    },
    #[error(
        "cannot prepare working directory {path} under --storage-dir; check the directory's permissions"
    )]
    /// `<storage>/.scratch` cannot be emptied or created.
    Scratch {
        /// The directory.
        path: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr} for {what}; is another process using it?")]
    /// A server's address is taken or not allowed.
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Which server: artifacts or metrics.
        what: &'static str,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// The artifact downloader's TLS setup failed.
    /// The cluster's configuration cannot make a client (TLS, credentials).
    #[error("cannot build a client for the cluster at {server}; check the kubeconfig")]
    Client {
        /// The API server's URL.
        server: String,
        /// What kube refused.
        #[source]
        source: kube::Error,
    },
    /// The artifact downloader's TLS setup failed.
    #[error("cannot build the HTTP client that downloads artifacts")]
    HttpClient(#[source] reqwest::Error),
    /// A reconciler's watch ended, which only a bug or a lost API server causes.
    #[error("the reconcilers stopped unexpectedly")]
    Stopped,
    /// The API server refused `--watch-configs-label-selector`.
    #[error(
        "invalid --watch-configs-label-selector {selector:?}; write a Kubernetes label selector such as reconcile.fluxcd.io/watch=Enabled or owner!=helm"
    )]
    WatchSelector {
        /// The selector as given.
        selector: String,
        /// What the API server answered.
        #[source]
        source: kube::Error,
    },
    /// Another replica holds the Lease now; this one must stop applying.
    #[error("lost the leader lease; stopping so that only one controller applies")]
    LostLease,
}

/// Runs the controller until `shutdown` completes (or leadership is lost,
/// which is an error: the process should exit and be restarted).
pub async fn run(
    config: kube::Config,
    options: ControllerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ControllerError> {
    // First, so every server and reconciler built below sees them.
    driftless_limits::install(options.limits);
    let metrics = Arc::new(metrics::Metrics::default());
    let server = config.cluster_url.to_string();
    let client = client_metrics::client(config.clone(), metrics.clone())
        .map_err(|source| ControllerError::Client { server, source })?;
    let storage =
        Storage::new(&options.storage_dir).map_err(|source| ControllerError::Storage {
            path: options.storage_dir.clone(),
            source,
        })?;
    let scratch = scratch::Scratch::prepare(&options.storage_dir).map_err(|source| {
        ControllerError::Scratch {
            path: options.storage_dir.join(".scratch"),
            source,
        }
    })?;
    let artifact_listener = tokio::net::TcpListener::bind(options.artifact_listen)
        .await
        .map_err(|source| ControllerError::Listen {
            addr: options.artifact_listen,
            what: "artifacts",
            source,
        })?;
    let artifact_addr =
        artifact_listener
            .local_addr()
            .map_err(|source| ControllerError::Listen {
                addr: options.artifact_listen,
                what: "artifacts",
                source,
            })?;
    let artifact_base_url = options
        .artifact_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{artifact_addr}"));
    let artifacts = http::artifact_router(storage.root().to_path_buf());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(artifact_listener, artifacts).await {
            tracing::error!(%error, "artifact server stopped");
        }
    });
    tracing::info!(%artifact_addr, url = %artifact_base_url, "serving artifacts");

    let health = http::Health::default();
    if let Some(addr) = options.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ControllerError::Listen {
                addr,
                what: "metrics",
                source,
            })?;
        let router = http::operations_router(metrics.clone(), health.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "metrics server stopped");
            }
        });
        tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    }

    let outbox = notification::outbox::Outbox::start(
        client.clone(),
        reflect::<driftless_api::Alert>(&client),
        reflect::<driftless_api::Provider>(&client),
        metrics.clone(),
    );
    if let Some(addr) = options.events_listen {
        serve(addr, "events", notification::events_router(outbox.clone())).await?;
    }
    if let Some(addr) = options.receiver_listen {
        let receivers = reflect::<driftless_api::Receiver>(&client);
        serve(
            addr,
            "receivers",
            notification::hooks_router(client.clone(), receivers),
        )
        .await?;
    }

    let context = Arc::new(Context {
        recorder: events::Recorder::new(client.clone(), driftless_api::managers::EVENT_SOURCE)
            .with_outbox(outbox),
        // The --artifact-max-* flags bound OCI layers as they bound every
        // other artifact (their errors name those flags).
        oci: driftless_source::oci::OciFetcher::with_options(
            storage.clone(),
            driftless_source::oci::OciOptions {
                unpack: options.artifact_limits.clone(),
                ..driftless_source::oci::OciOptions::default()
            },
        ),
        helm: driftless_source::helm::HelmFetcher::new(storage.clone()),
        image_tags: imagerepository::TagStore::default(),
        fetcher: GitFetcher::new(storage),
        client: client.clone(),
        metrics,
        artifact_base_url,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(ControllerError::HttpClient)?,
        applier: driftless_apply::Applier::new(
            client.clone(),
            driftless_apply::ApplyOptions::default(),
        ),
        impersonating: Default::default(),
        options: options.clone(),
        scratch,
        kube_config: config,
    });

    let elector = options
        .leader_election_namespace
        .as_deref()
        .map(|namespace| {
            leader::LeaderElector::new(
                client.clone(),
                namespace,
                &options.identity,
                options.lease_timings.clone(),
            )
        });
    tokio::pin!(shutdown);
    health.set_ready(true);
    if let Some(elector) = &elector {
        tokio::select! {
            () = elector.acquire() => {}
            () = &mut shutdown => return Ok(()),
        }
    }

    let sources = futures::future::join5(
        gitrepository::run(context.clone()),
        ocirepository::run(context.clone()),
        helmrepository::run(context.clone()),
        helmchart::run(context.clone()),
        artifactgenerator::run(context.clone()),
    );
    let images = futures::future::join3(
        imagerepository::run(context.clone()),
        imagepolicy::run(context.clone()),
        imageupdateautomation::run(context.clone()),
    );
    check_watch_selector(&client, &options.watch_configs_label_selector).await?;
    let reconcilers = futures::future::join5(
        sources,
        kustomization::run(context.clone()),
        helmrelease::run(context.clone()),
        notification::run_receivers(context.clone()),
        images,
    );
    let lost = async {
        match &elector {
            Some(elector) => elector.hold().await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        _ = reconcilers => Err(ControllerError::Stopped),
        () = lost => Err(ControllerError::LostLease),
        () = &mut shutdown => Ok(()),
    };
    health.set_ready(false);
    if let Some(elector) = &elector {
        elector.release().await;
    }
    result
}

/// Lists at most one ConfigMap with `selector`, so that a selector the API
/// server refuses stops the start with a message instead of failing every
/// watch later. An error that is not the server's refusal (400) is left to
/// the watches, which retry.
async fn check_watch_selector(
    client: &kube::Client,
    selector: &str,
) -> Result<(), ControllerError> {
    if selector.is_empty() {
        return Ok(());
    }
    let params = kube::api::ListParams::default().labels(selector).limit(1);
    match kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::all(client.clone())
        .list_metadata(&params)
        .await
    {
        Err(source) if matches!(&source, kube::Error::Api(status) if status.code == 400) => {
            Err(ControllerError::WatchSelector {
                selector: selector.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// A cache of every object of kind `K`, kept current by a watch for as
/// long as the process runs (Alerts, Providers and Receivers are read on
/// every event and webhook, never fetched one by one).
fn reflect<K>(client: &kube::Client) -> kube::runtime::reflector::Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    use futures::StreamExt;
    use kube::runtime::WatchStreamExt;
    let (store, writer) = kube::runtime::reflector::store();
    let events = kube::runtime::watcher(kube::Api::<K>::all(client.clone()), Default::default());
    let watch = watch::recovering(events, K::kind(&()))
        .map(Ok)
        .reflect(writer)
        .applied_objects();
    tokio::spawn(watch.for_each(|_| std::future::ready(())));
    store
}

/// Serves `router` on `addr` in the background.
async fn serve(
    addr: SocketAddr,
    what: &'static str,
    router: axum::Router,
) -> Result<(), ControllerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ControllerError::Listen { addr, what, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ControllerError::Listen { addr, what, source })?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, what, "server stopped");
        }
    });
    tracing::info!(%bound, what, "serving");
    Ok(())
}

/// Parses a Flux duration field, naming the field when it is not valid
/// (the CRD's pattern makes this rare: objects written before it).
pub(crate) fn duration_of(
    field: &str,
    value: &driftless_api::GoDuration,
) -> Result<Duration, String> {
    value
        .to_std()
        .map_err(|e| format!("spec.{field} {:?} is not a duration: {e}", value.as_str()))
}

/// An error and its causes on one line (a condition message), skipping a
/// cause whose text the message already holds.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

/// Now, as the API's timestamp type.
pub(crate) fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}
