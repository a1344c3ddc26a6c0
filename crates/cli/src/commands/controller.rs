//! `driftless controller`: the GitRepository and Kustomization reconcilers,
//! the artifact server and the metrics endpoint, in one process, against
//! the kubeconfig (or the in-cluster service account) until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::cluster::GlobalArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Where artifacts, git caches and working directories are kept (the only place the controller writes).
    #[arg(long, default_value = "./driftless-data", value_name = "DIR")]
    storage_dir: PathBuf,
    /// Address the artifact server listens on.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    artifact_listen: SocketAddr,
    /// The URL written into status.artifact.url [default: http://<artifact-listen>].
    #[arg(long, value_name = "URL")]
    artifact_base_url: Option<String>,
    /// Address /metrics, /healthz and /readyz are served on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    metrics_listen: SocketAddr,
    /// Address Receivers' webhooks (/hook/<digest>) are served on.
    #[arg(long, default_value = "127.0.0.1:9292", value_name = "ADDR")]
    receiver_listen: SocketAddr,
    /// Address other controllers post Flux's events to (POST /).
    #[arg(long, default_value = "127.0.0.1:9690", value_name = "ADDR")]
    events_listen: SocketAddr,
    /// Namespace of the leader-election Lease [default: $POD_NAMESPACE, else driftless-system].
    #[arg(long, value_name = "NS")]
    leader_election_namespace: Option<String>,
    /// Reconcile at once without competing for the Lease (one replica only!).
    #[arg(long)]
    no_leader_election: bool,
    /// Refuse sourceRef and dependsOn in other namespaces (as Flux's flag).
    #[arg(long)]
    no_cross_namespace_refs: bool,
    /// Correct drift only at each interval, not as soon as a managed object changes.
    #[arg(long)]
    no_drift_watch: bool,
    /// Reconciles running at once, per kind.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrent: u16,
    /// The most one reconcile may take before it is stopped and retried.
    #[arg(long, default_value = "30m", value_parser = crate::flux::parse_go_duration)]
    reconcile_timeout: std::time::Duration,
    /// The most bytes one artifact may download and unpack to.
    #[arg(long, default_value_t = default_artifact_limits().max_bytes, value_name = "BYTES")]
    artifact_max_size: u64,
    /// The most files and directories one artifact may hold.
    #[arg(long, default_value_t = default_artifact_limits().max_entries, value_name = "N")]
    artifact_max_files: u64,
    /// The most bytes one file in an artifact may have.
    #[arg(long, default_value_t = default_artifact_limits().max_file_bytes, value_name = "BYTES")]
    artifact_max_file_size: u64,
    /// A Secret in the controller's namespace whose *.agekey entries decrypt
    /// for Kustomizations with spec.decryption but no secretRef (as Flux's flag).
    #[arg(long, value_name = "NAME")]
    sops_age_secret: Option<String>,
    /// ConfigMaps and Secrets matching this label selector wake the
    /// HelmReleases and Kustomizations using them at once (as Flux's flag);
    /// empty watches them all.
    #[arg(
        long,
        default_value = "reconcile.fluxcd.io/watch=Enabled",
        value_name = "SELECTOR"
    )]
    watch_configs_label_selector: String,
    #[command(flatten)]
    limits: super::limits::LimitArgs,
}

fn default_artifact_limits() -> driftless_controller::UnpackLimits {
    driftless_controller::UnpackLimits::default()
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let config = client_config(global).await?;
    let server = config.cluster_url.to_string();
    let mut options = driftless_controller::ControllerOptions::new(&args.storage_dir);
    options.artifact_listen = args.artifact_listen;
    options.artifact_base_url = args.artifact_base_url;
    options.metrics_listen = Some(args.metrics_listen);
    options.receiver_listen = Some(args.receiver_listen);
    options.events_listen = Some(args.events_listen);
    let own_namespace = args
        .leader_election_namespace
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "driftless-system".to_owned());
    options.leader_election_namespace = (!args.no_leader_election).then(|| own_namespace.clone());
    options.sops_age_secret = args.sops_age_secret.map(|name| (own_namespace, name));
    options.no_cross_namespace_refs = args.no_cross_namespace_refs;
    options.drift_watch = !args.no_drift_watch;
    options.concurrency = args.concurrent;
    options.reconcile_timeout = args.reconcile_timeout;
    options.artifact_limits = driftless_controller::UnpackLimits {
        max_bytes: args.artifact_max_size,
        max_entries: args.artifact_max_files,
        max_file_bytes: args.artifact_max_file_size,
    };
    options.watch_configs_label_selector = args.watch_configs_label_selector;
    options.limits = args.limits.limits();
    eprintln!(
        "driftless controller {} against {server}",
        env!("CARGO_PKG_VERSION")
    );
    Ok(driftless_controller::run(config, options, shutdown_signal()).await?)
}

/// `--kubeconfig`/`--context` when given, else kube's inference
/// ($KUBECONFIG, ~/.kube/config, then the in-cluster service account).
async fn client_config(global: &GlobalArgs) -> anyhow::Result<kube::Config> {
    if global.kubeconfig.is_none() && global.context.is_none() {
        return kube::Config::infer().await.context(
            "cannot find a cluster: no $KUBECONFIG, ~/.kube/config or in-cluster service account; pass --kubeconfig",
        );
    }
    crate::cluster::load_config(global).await
}

/// Ctrl-C or SIGTERM (what Kubernetes sends a pod), announced.
async fn shutdown_signal() {
    crate::shutdown::requested().await;
    eprintln!("shutting down");
}
