//! The sandbox: an embedded, single-process Kubernetes API server that the
//! real `kubectl` and kube-rs use unmodified.
//!
//! It stores objects and speaks the Kubernetes REST API — discovery, CRDs,
//! get/list/watch, create/update, JSON, merge and strategic merge patches,
//! server-side apply with field ownership, finalizers, namespace deletion,
//! dry runs — over HTTPS with bearer tokens, and authorizes every request
//! with RBAC as a real cluster does (see `auth`). It runs no containers;
//! instead simulated controllers give Deployments their ReplicaSets,
//! ReplicaSets, StatefulSets, DaemonSets (on the one registered Node) and
//! Jobs their Pods, and StatefulSets and DaemonSets their ControllerRevisions
//! (see [`workloads`]), and a simulated kubelet runs the Pods (see
//! [`rollout`]). It is the quickstart's cluster and every integration
//! test's. No library crate depends on it — only the `driftless` binary embeds
//! it (for `driftless sandbox` and `driftless quickstart`) and the tests use
//! it: real clusters stay the target.
//!
//! Why our own: no crate provides a real API server or envtest without Go
//! binaries, and fakes approximate patches without real apply conflicts.
//!
//! Layout: `server` (HTTP, asking `auth` who calls and whether they may)
//! → `api` (verbs and object semantics) →
//! the `driftless-merge` crate (patch and apply algorithms) and `store` (objects, versions,
//! events, persistence); `catalog`, `discovery`, `builtin_schemas` (the
//! built-in kinds' OpenAPI schemas, committed data that `openapi_gen`
//! regenerates), `table`, `validation` and `selector` are the pieces they
//! share. `faults` is the chaos switch tests
//! use to make the server fail, slow down or cut watches on demand.
//! `metrics` (`/metrics`) and `audit` (`--audit-log`) make the server
//! observable as a real one is: what was asked, by whom, and the answer.
//!
//! ```no_run
//! # async fn demo() -> Result<(), driftless_sandbox::SandboxError> {
//! let sandbox = driftless_sandbox::Sandbox::start(driftless_sandbox::SandboxConfig {
//!     listen: "127.0.0.1:0".parse().expect("address"),
//!     ..Default::default()
//! })
//! .await?;
//! println!("kubectl --kubeconfig {}", sandbox.kubeconfig_path().expect("written").display());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod audit;
mod auth;
mod builtin_schemas;
mod catalog;
mod codec;
mod convert;
mod discovery;
mod faults;
mod metrics;
#[cfg(feature = "openapi-gen")]
pub mod openapi_gen;
mod protobuf;
mod review;
mod rollout;
mod schema;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod tls;
mod validation;
mod workloads;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use audit::AuditLogError;
pub use auth::{Authorization, StaticUser, TokenFileError};
pub use faults::{Fault, FaultRule, Faults};
pub use tls::CredentialsError;

/// How `driftless sandbox` is set up.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where the API server listens (port 0: any free port).
    pub listen: SocketAddr,
    /// Where objects and credentials are kept; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Where to write the kubeconfig; defaults to `<data-dir>/kubeconfig`.
    pub kubeconfig_out: Option<PathBuf>,
    /// How long simulated rollouts take.
    pub rollout_delay: Duration,
    /// Users besides the administrator, known by their bearer tokens.
    pub users: Vec<StaticUser>,
    /// A kube-apiserver static token file (`token,user,uid,"group1,group2"`)
    /// adding users.
    pub token_file: Option<PathBuf>,
    /// RBAC (the default, as on a real cluster) or none.
    pub authorization: Authorization,
    /// Where to append one `audit.k8s.io/v1` event per request (JSON
    /// lines, level Metadata); `None` logs nothing.
    pub audit_log: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 6443)),
            data_dir: None,
            kubeconfig_out: None,
            rollout_delay: Duration::from_millis(500),
            users: Vec::new(),
            token_file: None,
            authorization: Authorization::Rbac,
            audit_log: None,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "cannot listen on {addr}; is another sandbox or API server using it? pick another with --listen"
    )]
    /// The listen address is taken or not allowed.
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the data directory {path}")]
    /// `--data-dir` cannot be created.
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the kubeconfig {path}")]
    /// The kubeconfig cannot be written.
    Kubeconfig {
        /// Where it was to go.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// The certificates or token cannot be made or read.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// `--token-file` cannot be read.
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
    /// `--audit-log` cannot be opened.
    #[error(transparent)]
    AuditLog(#[from] AuditLogError),
    /// The data directory's log cannot be replayed.
    #[error("cannot load stored objects")]
    Store(#[from] store::StoreError),
    /// The replayed objects contradict each other (a damaged log).
    #[error("stored objects are inconsistent: {0}")]
    Inconsistent(String),
}

/// A running sandbox. Dropping it without [`Sandbox::shutdown`] leaves the
/// server running until the runtime stops.
pub struct Sandbox {
    addr: SocketAddr,
    kubeconfig: String,
    kubeconfig_path: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    rollout: tokio::task::JoinHandle<()>,
    api: Arc<api::Api>,
    faults: Faults,
}

impl Sandbox {
    /// Starts the API server (and the simulated rollout) as `config` says.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        if let Some(dir) = &config.data_dir {
            std::fs::create_dir_all(dir).map_err(|source| SandboxError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let store = match &config.data_dir {
            Some(dir) => store::Store::open(&dir.join("objects.jsonl"))?,
            None => store::Store::in_memory(),
        };
        let api =
            Arc::new(api::Api::new(store).map_err(|e| SandboxError::Inconsistent(e.message))?);
        bootstrap(&api);
        workloads::register_node(&api);
        auth::bootstrap(&api);
        let audit = config
            .audit_log
            .as_deref()
            .map(audit::AuditLog::open)
            .transpose()?;
        let mut users = config.users.clone();
        if let Some(path) = &config.token_file {
            users.extend(StaticUser::read_file(path)?);
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| SandboxError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Listen {
                addr: config.listen,
                source,
            })?;
        let credentials = tls::Credentials::load_or_create(config.data_dir.as_deref(), addr)?;
        let host = match addr.ip() {
            ip if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        let server_address = format!("{host}:{}", addr.port());
        let kubeconfig = credentials.kubeconfig(&format!("https://{server_address}"));
        let kubeconfig_path = config
            .kubeconfig_out
            .clone()
            .or_else(|| config.data_dir.as_ref().map(|d| d.join("kubeconfig")));
        if let Some(path) = &kubeconfig_path {
            write_kubeconfig(path, &kubeconfig)?;
        }
        let faults = Faults::default();
        let state = Arc::new(server::ServerState {
            api: api.clone(),
            auth: Arc::new(auth::Auth::new(
                auth::Tokens::new(&credentials.token, &users),
                config.authorization,
            )),
            server_address,
            faults: faults.clone(),
            metrics: metrics::Metrics::default(),
            audit,
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(credentials.server_config()?);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let rollout = tokio::spawn(rollout::run(api.clone(), config.rollout_delay));
        let server = tokio::spawn(serve(listener, acceptor, state, shutdown_rx));
        tracing::info!(%addr, "sandbox API server listening");
        Ok(Sandbox {
            addr,
            kubeconfig,
            kubeconfig_path,
            shutdown,
            server,
            rollout,
            api,
            faults,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://<address>`, as the kubeconfig names the server.
    pub fn server_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The kubeconfig's text, also written to [`Sandbox::kubeconfig_path`] when configured.
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// Where the kubeconfig was written, when it was.
    pub fn kubeconfig_path(&self) -> Option<&Path> {
        self.kubeconfig_path.as_deref()
    }

    /// The chaos switch: errors, slow answers and cut watches on demand
    /// (see [`Faults`]).
    pub fn faults(&self) -> Faults {
        self.faults.clone()
    }

    /// How many objects are stored (benchmarks and tests read this).
    pub fn object_count(&self) -> usize {
        self.api.store.txn(|t| t.object_count())
    }

    /// Stops accepting connections and closes open ones (watches end).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        // A sandbox started again on the same data dir must be the only writer.
        self.rollout.abort();
        let _ = self.rollout.await;
    }
}

fn write_kubeconfig(path: &Path, contents: &str) -> Result<(), SandboxError> {
    let err = |source| SandboxError::Kubeconfig {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::write(path, contents).map_err(err)
}

/// The namespaces every cluster starts with.
fn bootstrap(api: &api::Api) {
    let Some(rt) = api.catalog().lookup("", "v1", "namespaces") else {
        return;
    };
    let scope = api::Scope {
        rt,
        version: "v1".into(),
        namespace: None,
    };
    let opts = api::WriteOptions {
        field_manager: Some("driftless-sandbox".into()),
        ..Default::default()
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if api.get(&scope, name).is_err() {
            let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            if let Err(err) = api.create(&scope, ns, &opts) {
                tracing::warn!(namespace = name, error = %err, "cannot create a built-in namespace");
            }
        }
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<server::ServerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(conn) => conn,
            Err(err) => {
                tracing::warn!(error = %err, "accept failed");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        connections.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(err) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
            };
            let service =
                hyper::service::service_fn(move |req| server::handle(state.clone(), req, peer));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service);
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }
    connections.shutdown().await;
}
