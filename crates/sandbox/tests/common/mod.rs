//! Shared pieces of the conformance suites: an in-process sandbox on a
//! loopback port with its own data directory, and a `kubectl` runner that
//! uses the sandbox's kubeconfig and a discovery cache of its own.
//!
//! Each test starts its own sandbox, so tests share nothing and run in
//! parallel. Nothing here sleeps for a fixed time: [`eventually`] polls
//! with a deadline.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use driftless_sandbox::{Sandbox, SandboxConfig, StaticUser};
use tokio::io::AsyncWriteExt;

/// How long a simulated rollout takes in these tests.
pub const ROLLOUT_DELAY: Duration = Duration::from_millis(200);
/// The longest any polled condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "driftless-sandbox-test-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("the temp dir is writable");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running sandbox with a persistent data dir and a written kubeconfig.
pub struct TestSandbox {
    pub sandbox: Option<Sandbox>,
    pub dir: TempDir,
}

impl TestSandbox {
    pub async fn start(label: &str) -> TestSandbox {
        Self::start_with_users(label, Vec::new()).await
    }

    /// A sandbox that also knows `users` by their tokens (not kept across
    /// [`TestSandbox::restart`]).
    pub async fn start_with_users(label: &str, users: Vec<StaticUser>) -> TestSandbox {
        Self::start_with(label, users, |_| {}).await
    }

    /// A sandbox that knows `users`, with `configure` changing the rest of
    /// its configuration (authorization mode, audit log…).
    pub async fn start_with(
        label: &str,
        users: Vec<StaticUser>,
        configure: impl FnOnce(&mut SandboxConfig),
    ) -> TestSandbox {
        let dir = TempDir::new(label);
        let mut config = config_in(dir.path(), users);
        configure(&mut config);
        let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
        TestSandbox {
            sandbox: Some(sandbox),
            dir,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Stops the server and starts a new one on the same data dir (on a new
    /// port; the kubeconfig is rewritten).
    pub async fn restart(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.shutdown().await;
        }
        self.sandbox = Some(start_in(self.dir.path(), Vec::new()).await);
    }

    /// A kubectl invocation with this sandbox's kubeconfig and a fresh
    /// discovery cache.
    pub fn kubectl(&self, args: &[&str]) -> Kubectl {
        Kubectl {
            kubeconfig: self.kubeconfig_path(),
            args: args.iter().map(std::string::ToString::to_string).collect(),
            stdin: None,
            program: kubectl_program(),
        }
    }

    /// `kubectl get ARGS -o json`, which must succeed, parsed.
    pub async fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        self.kubectl(&all).run().await.ok().json()
    }

    /// `kubectl apply -f -` of `manifest`, which must succeed.
    pub async fn apply(&self, manifest: &str) {
        self.kubectl(&["apply", "-f", "-"])
            .stdin(manifest)
            .run()
            .await
            .ok();
    }

    /// The items of `kubectl get RESOURCE -l SELECTOR`.
    pub async fn items(&self, resource: &str, selector: &str) -> Vec<serde_json::Value> {
        let list = self.get_json(&[resource, "-l", selector]).await;
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// A kube-rs client from the written kubeconfig, as a user would load it.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path())
            .expect("the sandbox writes a readable kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("the kubeconfig is usable");
        kube::Client::try_from(config).expect("a client from the kubeconfig")
    }
}

fn config_in(dir: &Path, users: Vec<StaticUser>) -> SandboxConfig {
    SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        data_dir: Some(dir.join("data")),
        kubeconfig_out: Some(dir.join("kubeconfig")),
        rollout_delay: ROLLOUT_DELAY,
        users,
        ..Default::default()
    }
}

async fn start_in(dir: &Path, users: Vec<StaticUser>) -> Sandbox {
    Sandbox::start(config_in(dir, users))
        .await
        .expect("the sandbox starts")
}

/// What a finished kubectl run printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics with the whole output unless kubectl exited 0.
    #[track_caller]
    pub fn ok(self) -> Output {
        assert_eq!(self.code, 0, "kubectl failed: {self:#?}");
        self
    }

    /// Panics with the whole output unless kubectl exited with `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Output {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("kubectl printed no JSON ({e}): {self:#?}"))
    }
}

pub struct Kubectl {
    kubeconfig: PathBuf,
    args: Vec<String>,
    stdin: Option<String>,
    program: String,
}

/// The kubectl these suites drive: `kubectl` (1.32, on every machine) unless
/// `DRIFTLESS_KUBECTL` names another, as `.ci/run` does to run them again
/// with `kubectl-1.37`.
fn kubectl_program() -> String {
    std::env::var("DRIFTLESS_KUBECTL").unwrap_or_else(|_| "kubectl".to_string())
}

impl Kubectl {
    /// Runs this kubectl binary instead (`kubectl-1.37`…).
    pub fn program(mut self, program: &str) -> Kubectl {
        self.program = program.to_string();
        self
    }

    pub fn stdin(mut self, input: &str) -> Kubectl {
        self.stdin = Some(input.to_string());
        self
    }

    pub async fn run(self) -> Output {
        let cache = TempDir::new("kubecache");
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", cache.path())
            .env("HOME", cache.path())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("kubectl is installed");
        if let Some(input) = &self.stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .await
                .expect("kubectl reads its stdin");
            drop(pipe);
        }
        let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {:?} did not finish in {DEADLINE:?}", self.args))
            .expect("kubectl runs");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts kubectl without waiting (for `get -w`); stdout is piped.
    pub fn spawn(self) -> Running {
        let cache = TempDir::new("kubecache-watch");
        let child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", cache.path())
            .env("HOME", cache.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl is installed");
        Running {
            child,
            _cache: cache,
        }
    }
}

/// A kubectl still running (killed on drop), with its cache dir.
pub struct Running {
    pub child: tokio::process::Child,
    _cache: TempDir,
}

/// Polls `check` until it returns `Some`, failing after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(250));
    }
}

/// The Pods' phases, sorted.
pub fn phases(pods: &[serde_json::Value]) -> Vec<&str> {
    let mut phases: Vec<&str> = pods
        .iter()
        .map(|p| p["status"]["phase"].as_str().unwrap_or_default())
        .collect();
    phases.sort_unstable();
    phases
}
