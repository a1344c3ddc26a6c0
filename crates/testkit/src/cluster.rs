//! An in-process sandbox API server for integration tests: its own data
//! directory and kubeconfig, a kube client loaded from that kubeconfig as a
//! user's program would, and a `kubectl` runner bound to it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The sandbox's chaos switch, for tests that make the API server misbehave.
pub use driftless_sandbox::{Fault, FaultRule, Faults};
use driftless_sandbox::{Sandbox, SandboxConfig};

/// How long a simulated rollout takes in tests.
pub const ROLLOUT_DELAY: Duration = Duration::from_millis(200);
/// The longest any polled condition may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A running sandbox; stopped when dropped with its runtime.
pub struct TestCluster {
    /// The running API server.
    pub sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl TestCluster {
    /// Starts a sandbox on a free loopback port with its kubeconfig in a temporary directory.
    pub async fn start() -> TestCluster {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sandbox = Sandbox::start(SandboxConfig {
            listen: "127.0.0.1:0".parse().expect("a loopback address"),
            data_dir: None,
            kubeconfig_out: Some(dir.path().join("kubeconfig")),
            rollout_delay: ROLLOUT_DELAY,
            ..Default::default()
        })
        .await
        .expect("the sandbox starts");
        TestCluster { sandbox, dir }
    }

    /// The kubeconfig kubectl and kube-rs use to reach this cluster.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A scratch directory that lives as long as the cluster.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// A kube client from the written kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(self.kubeconfig_path())
            .expect("the sandbox writes a readable kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("the kubeconfig is usable");
        kube::Client::try_from(config).expect("a client from the kubeconfig")
    }

    /// Runs the real kubectl against this cluster; returns (exit code, stdout, stderr).
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        use tokio::io::AsyncWriteExt;
        let cache = self.dir.path().join("kubectl-cache");
        let mut child = tokio::process::Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig_path())
            .env("KUBECACHEDIR", &cache)
            .env("HOME", self.dir.path())
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
                .expect("kubectl reads stdin");
        }
        let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in {DEADLINE:?}"))
            .expect("kubectl runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Polls `check` until it returns `Some`, or panics naming `what` and the
/// last state `describe` reports after [`DEADLINE`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < DEADLINE {
        match check().await {
            Ok(value) => return value,
            Err(state) => last = state,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {DEADLINE:?} waiting for {what}; last seen: {last}");
}

/// A plain HTTP/1.0 GET on a loopback URL: (status code, body).
pub fn http_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url} is not an http:// URL"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream =
        std::net::TcpStream::connect(authority).map_err(|e| format!("connect {authority}: {e}"))?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {authority}\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end in the response")?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status code in {head:?}"))?;
    Ok((code, response[split + 4..].to_vec()))
}
