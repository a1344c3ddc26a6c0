//! An in-process sandbox per test (loopback, its own temp dir and
//! kubeconfig), a kubectl runner for it, and a polling helper. Follows the
//! sandbox crate's test helpers; kept here so no crate depends on another's
//! test code.

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
/// The longest any polled condition or kubectl run may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "driftless-apply-test-{label}-{}-{n}",
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

/// A running sandbox (in memory) with a written kubeconfig.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub dir: TempDir,
}

impl TestSandbox {
    pub async fn start(label: &str) -> TestSandbox {
        let dir = TempDir::new(label);
        let sandbox = Sandbox::start(SandboxConfig {
            listen: "127.0.0.1:0".parse().expect("a loopback address"),
            data_dir: None,
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

    /// A kube-rs client from the written kubeconfig, as a user would load it.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path())
            .expect("the sandbox writes a readable kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("the kubeconfig is usable");
        kube::Client::try_from(config).expect("a client from the kubeconfig")
    }

    /// Runs kubectl with this sandbox's kubeconfig and a fresh discovery
    /// cache, feeding it `stdin`; panics unless it exits 0.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let cache = TempDir::new("kubecache");
        let mut child = tokio::process::Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig_path())
            .env("KUBECACHEDIR", cache.path())
            .env("HOME", cache.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl is installed");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .await
                .expect("kubectl reads its stdin");
            drop(pipe);
        }
        let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in {DEADLINE:?}"))
            .expect("kubectl runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "kubectl {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
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
