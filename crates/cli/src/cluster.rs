//! The cluster connection: global flags, kube-rs client construction from a
//! kubeconfig, and the translation of transport failures into one line a
//! user can act on.
//!
//! Every cluster command calls [`connect`] first. It asks the server for
//! its version, so an unreachable cluster is reported once, up front, with
//! the server URL, rather than as a transport error in the middle of a
//! command.

use std::path::PathBuf;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// Flags every cluster command takes (as flux and kubectl spell them).
#[derive(clap::Args, Clone)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use [default: the current context].
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace of the objects [default: flux-system; `build chart`:
    /// Helm's `default`].
    #[arg(
        short,
        long,
        global = true,
        default_value = "flux-system",
        hide_default_value = true,
        value_name = "NS"
    )]
    pub namespace: String,
}

/// A connected client, the server it talks to and the chosen namespace.
pub struct Cluster {
    pub client: kube::Client,
    pub server: String,
    pub namespace: String,
    /// `git_version` from the server's `/version`.
    pub server_version: String,
}

/// Loads the kubeconfig, builds a client and checks the server answers.
pub async fn connect(global: &GlobalArgs) -> anyhow::Result<Cluster> {
    let config = load_config(global).await?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .with_context(|| format!("cannot build a client for the cluster at {server}"))?;
    let version = client
        .apiserver_version()
        .await
        .map_err(|err| api_error(err, &server))?;
    Ok(Cluster {
        client,
        server,
        namespace: global.namespace.clone(),
        server_version: version.git_version,
    })
}

pub async fn load_config(global: &GlobalArgs) -> anyhow::Result<kube::Config> {
    let kubeconfig = match &global.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).with_context(|| {
            format!(
                "cannot read the kubeconfig {}; check --kubeconfig",
                path.display()
            )
        })?,
        None => Kubeconfig::read().context(
            "cannot read a kubeconfig from $KUBECONFIG or ~/.kube/config; pass --kubeconfig",
        )?,
    };
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| match &global.context {
            Some(context) => {
                format!("cannot use the kubeconfig context {context}; check --context")
            }
            None => "cannot use the kubeconfig's current context; check --kubeconfig/--context"
                .to_string(),
        })
}

/// An API error as is; a transport error as "cannot reach the cluster",
/// since that is what it almost always means to a user.
pub fn api_error(err: kube::Error, server: &str) -> anyhow::Error {
    match err {
        kube::Error::Api(_) => anyhow::Error::new(err),
        other => anyhow::Error::new(other).context(format!(
            "cannot reach the cluster at {server}: is the cluster running? check --kubeconfig/--context"
        )),
    }
}

/// Whether an error is the API server's "not found".
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}
