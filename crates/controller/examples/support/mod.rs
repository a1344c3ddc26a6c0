//! The harness the controller examples share (`bench`, `automation_bench`,
//! `soak`): the controller as a child process, its memory and metrics, a
//! sandbox with the CRDs established, polling and formatting helpers.
//!
//! The controller runs in a child process — the example's own binary again,
//! in its hidden [`CHILD_MODE`] — so that the child's `/proc/<pid>/status`
//! holds the controller's memory alone, while the sandbox, the git servers
//! and the measuring run in the parent. The child stops when its stdin
//! closes, so it also stops when the parent dies.
//!
//! Each example uses a different part of this module, hence the
//! `dead_code` allowance below (the pattern of `crates/cli/tests/common`).
#![allow(
    dead_code,
    reason = "each example binary uses a different part of the shared harness"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use driftless_testkit::cluster::{TestCluster, http_get};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};

/// The first argument that turns an example's binary into the controller.
pub const CHILD_MODE: &str = "__controller";
/// How long the controller may take to serve metrics, and the CRDs to be
/// established.
const START_DEADLINE: Duration = Duration::from_secs(5 * 60);

/// Runs the controller when `args` (without the program name) start with
/// [`CHILD_MODE`]; `None` otherwise, for the example's own `main` to go on.
pub fn child_main(args: &[String]) -> Option<ExitCode> {
    (args.first().map(String::as_str) == Some(CHILD_MODE)).then(|| controller_main(&args[1..]))
}

/// `__controller <kubeconfig> <storage> <metrics port> <receiver port|-> <concurrency>`.
fn controller_main(args: &[String]) -> ExitCode {
    let [kubeconfig, storage, metrics, receiver, concurrency] = args else {
        eprintln!(
            "usage: {CHILD_MODE} <kubeconfig> <storage> <metrics port> <receiver port|-> <concurrency>"
        );
        return ExitCode::from(2);
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        let mut options = driftless_controller::ControllerOptions::new(storage);
        options.artifact_listen = "127.0.0.1:0".parse()?;
        options.metrics_listen = Some(format!("127.0.0.1:{metrics}").parse()?);
        if receiver != "-" {
            options.receiver_listen = Some(format!("127.0.0.1:{receiver}").parse()?);
        }
        options.concurrency = concurrency.parse()?;
        driftless_controller::run(config, options, async {
            let _ = tokio::task::spawn_blocking(|| {
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
            })
            .await;
        })
        .await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// How the child controller is started.
#[derive(Clone, Copy)]
pub struct ControllerOptions {
    /// `ControllerOptions::concurrency` of the controller.
    pub concurrency: u16,
    /// Whether it serves Receivers' webhooks (on a free loopback port).
    pub receiver: bool,
}

impl Default for ControllerOptions {
    /// The controller's own default concurrency, no webhooks.
    fn default() -> Self {
        ControllerOptions {
            concurrency: driftless_controller::ControllerOptions::new("").concurrency,
            receiver: false,
        }
    }
}

/// The controller in its child process.
pub struct Controller {
    child: Child,
    metrics: String,
    /// `http://127.0.0.1:<port>` of the webhook receiver, when it serves one.
    pub receiver: Option<String>,
    /// Its stderr (the tracing log).
    pub log: PathBuf,
}

/// VmRSS and VmHWM (peak) of a process, in KiB.
#[derive(Clone, Copy)]
pub struct Memory {
    /// Resident now.
    pub rss: u64,
    /// The most it has been resident since it started.
    pub peak: u64,
}

impl Memory {
    /// The memory of process `pid` (`self` for this one).
    pub fn of(pid: &str) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e} (is the process running?)"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} kB figure in /proc/{pid}/status"))
        };
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }
}

impl Controller {
    /// Starts the controller on `cluster`, its storage and log under
    /// `scratch` named by `label`, and waits until it serves metrics.
    pub async fn start(
        cluster: &TestCluster,
        scratch: &Path,
        label: &str,
        options: ControllerOptions,
    ) -> Controller {
        let storage = scratch.join(format!("storage-{label}"));
        std::fs::create_dir_all(&storage).expect("a writable scratch dir");
        let log = scratch.join(format!("controller-{label}.log"));
        let metrics = free_port();
        let receiver = options.receiver.then(free_port);
        let child = Command::new(std::env::current_exe().expect("this binary's path"))
            .arg(CHILD_MODE)
            .arg(cluster.kubeconfig_path())
            .arg(&storage)
            .arg(metrics.to_string())
            .arg(receiver.map_or("-".to_owned(), |p| p.to_string()))
            .arg(options.concurrency.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a writable log"))
            .spawn()
            .expect("the controller process starts");
        let controller = Controller {
            child,
            metrics: format!("http://127.0.0.1:{metrics}/metrics"),
            receiver: receiver.map(|p| format!("http://127.0.0.1:{p}")),
            log,
        };
        wait_until(
            "the controller serves metrics",
            START_DEADLINE,
            ms(20),
            || async {
                http_get(&controller.metrics)
                    .and_then(|(code, _)| (code == 200).then_some(()).ok_or(code.to_string()))
            },
        )
        .await;
        controller
    }

    /// The controller's memory now.
    pub fn memory(&self) -> Memory {
        Memory::of(&self.child.id().to_string())
    }

    /// Whether the controller process has exited (crashed: only
    /// [`Controller::stop`] ends it on purpose).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Reconciles of `kind` that ran to the end (the early "not due yet"
    /// returns are not counted), from `gotk_reconcile_duration_seconds`.
    pub fn reconciles(&self, kind: &str) -> u64 {
        let (_, body) = http_get(&self.metrics).expect("the controller serves metrics");
        let needle = format!("kind=\"{kind}\"");
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| {
                l.starts_with("gotk_reconcile_duration_seconds_count{") && l.contains(&needle)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// The WARN and ERROR lines the controller logged.
    pub fn warnings(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .map(str::to_owned)
            .collect()
    }

    /// Prints how many WARN/ERROR lines the controller logged, and the
    /// first three: the log lives in a temporary directory removed at the end.
    pub fn print_warnings(&self) {
        let warnings = self.warnings();
        if !warnings.is_empty() {
            println!(
                "controller logged {} WARN/ERROR lines, e.g.:",
                warnings.len()
            );
            for line in warnings.iter().take(3) {
                println!("  {line}");
            }
        }
    }

    /// Closes the child's stdin and waits for it to exit; kills it after 10 s.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(ms(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox with the CRDs established, and a client for it.
pub async fn start_cluster() -> (TestCluster, kube::Client) {
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in driftless_api::crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    for crd in driftless_api::crds() {
        let name = crd.metadata.name.clone().expect("a named CRD");
        wait_until(
            &format!("CRD {name} established"),
            START_DEADLINE,
            ms(20),
            || async {
                let crd = crds.get(&name).await.map_err(|e| e.to_string())?;
                crd.status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
                    .ok_or_else(|| "not established".to_owned())
            },
        )
        .await;
    }
    (cluster, client)
}

/// Polls `check` every `poll` until it succeeds; panics after `deadline`
/// with the last state it reported.
pub async fn wait_until<T, F, Fut>(
    what: &str,
    deadline: Duration,
    poll: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) if start.elapsed() > deadline => {
                panic!("timed out after {deadline:?} waiting for {what}; last seen: {state}")
            }
            Err(_) => tokio::time::sleep(poll).await,
        }
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A multi-threaded tokio runtime for an example's `main`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
