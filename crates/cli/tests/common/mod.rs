//! Shared pieces of the CLI tests: an in-process sandbox on a loopback port,
//! the `driftless` binary and `kubectl` pointed at it, and a polling helper.
//!
//! Each test starts its own sandbox, so tests share nothing and run in
//! parallel. Nothing sleeps for a fixed time: [`eventually`] polls with a
//! deadline.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use driftless_sandbox::{Sandbox, SandboxConfig};
use tokio::io::AsyncWriteExt;

/// How long a simulated rollout takes in these tests.
pub const ROLLOUT_DELAY: Duration = Duration::from_millis(200);
/// The longest any polled condition or command may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "driftless-cli-test-{label}-{}-{n}",
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

/// A running sandbox with a written kubeconfig.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub dir: TempDir,
}

impl TestSandbox {
    pub async fn start(label: &str) -> TestSandbox {
        let dir = TempDir::new(label);
        let sandbox = Sandbox::start(SandboxConfig {
            listen: "127.0.0.1:0".parse().expect("a loopback address"),
            data_dir: Some(dir.path().join("data")),
            kubeconfig_out: Some(dir.path().join("kubeconfig")),
            rollout_delay: ROLLOUT_DELAY,
        })
        .await
        .expect("the sandbox starts");
        TestSandbox { sandbox, dir }
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// `driftless <args>` against this sandbox.
    pub async fn driftless(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig_path();
        let mut all = vec![
            "--kubeconfig",
            kubeconfig.to_str().expect("a UTF-8 temp path"),
        ];
        all.extend_from_slice(args);
        run(env!("CARGO_BIN_EXE_driftless"), &all, None, self.dir.path()).await
    }

    /// `kubectl <args>` against this sandbox, with `stdin` if given.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let kubeconfig = self.kubeconfig_path();
        let mut all = vec![
            "--kubeconfig",
            kubeconfig.to_str().expect("a UTF-8 temp path"),
        ];
        all.extend_from_slice(args);
        run("kubectl", &all, stdin, self.dir.path()).await
    }

    /// A kube-rs client from the written kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path())
            .expect("the sandbox writes a readable kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("the kubeconfig is usable");
        kube::Client::try_from(config).expect("a client from the kubeconfig")
    }
}

/// Runs a program (no terminal, no colour) and collects its output.
pub async fn run(program: &str, args: &[&str], stdin: Option<&str>, home: &Path) -> Output {
    let cache = TempDir::new("home");
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", cache.path())
        .env("KUBECACHEDIR", cache.path())
        .env("NO_COLOR", "1")
        .current_dir(home)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes())
            .await
            .expect("the program reads its stdin");
        drop(pipe);
    }
    let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish in {DEADLINE:?}"))
        .expect("the program runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// What a finished run printed and returned.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panics with the whole output unless the exit code is 0.
    #[track_caller]
    pub fn ok(self) -> Output {
        assert_eq!(self.code, 0, "the command failed: {self:#?}");
        self
    }

    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Output {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {self:#?}"))
    }
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

/// A Ready condition as the controller writes it.
pub fn ready_condition(status: &str, reason: &str, message: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "observedGeneration": 1,
    })
}
