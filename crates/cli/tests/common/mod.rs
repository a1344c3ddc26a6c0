//! Shared pieces of the CLI tests: an in-process sandbox on a loopback port,
//! the `driftless` binary and `kubectl` pointed at it, a polling helper, and
//! the controller's part played by the test (status writes, answers to
//! reconcile requests).
//!
//! Each test starts its own sandbox, so tests share nothing and run in
//! parallel. Nothing sleeps for a fixed time: [`eventually`] polls with a
//! deadline.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod processes;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use driftless_api::annotations;
pub use driftless_testkit::cluster::DEADLINE;
use driftless_testkit::cluster::TestCluster;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("driftless-cli-test-{label}-"))
            .disable_cleanup(std::env::var_os("DRIFTLESS_KEEP_TEMP").is_some())
            .tempdir()
            .expect("the temp dir is writable");
        if std::env::var_os("DRIFTLESS_KEEP_TEMP").is_some() {
            println!("{label}: kept in {}", dir.path().display());
        }
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// The shared in-process test cluster, with the binary and kubectl bound to it.
pub struct TestSandbox {
    pub cluster: TestCluster,
}

impl TestSandbox {
    /// `_label` only documents the call site; each sandbox is independent.
    pub async fn start(_label: &str) -> TestSandbox {
        TestSandbox {
            cluster: TestCluster::start().await,
        }
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.cluster.kubeconfig_path()
    }

    /// `driftless <args>` against this sandbox.
    pub async fn driftless(&self, args: &[&str]) -> Output {
        let kubeconfig = self.kubeconfig_path();
        let mut all = vec![
            "--kubeconfig",
            kubeconfig.to_str().expect("a UTF-8 temp path"),
        ];
        all.extend_from_slice(args);
        run(
            env!("CARGO_BIN_EXE_driftless"),
            &all,
            None,
            self.cluster.scratch(),
        )
        .await
    }

    /// `kubectl <args>` against this sandbox, with `stdin` if given.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let kubeconfig = self.kubeconfig_path();
        let mut all = vec![
            "--kubeconfig",
            kubeconfig.to_str().expect("a UTF-8 temp path"),
        ];
        all.extend_from_slice(args);
        run("kubectl", &all, stdin, self.cluster.scratch()).await
    }

    /// A kube-rs client from the written kubeconfig.
    pub async fn client(&self) -> kube::Client {
        self.cluster.client().await
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

/// Polls `check` until it returns `Some`, failing after the testkit's deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    driftless_testkit::cluster::eventually(what, || {
        let attempt = check();
        async move { attempt.await.ok_or_else(|| "not yet".to_owned()) }
    })
    .await
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

/// A sandbox with driftless installed and the `flux-system` namespace.
pub async fn installed(label: &str) -> TestSandbox {
    let sb = TestSandbox::start(label).await;
    sb.driftless(&["install", "--no-wait"]).await.ok();
    sb.kubectl(&["create", "namespace", "flux-system"], None)
        .await
        .ok();
    sb
}

/// Writes a status through the status subresource, as the controller does.
pub async fn set_status<K>(sb: &TestSandbox, name: &str, status: Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(sb.client().await, "flux-system");
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .expect("patch the status");
}

/// Plays the controller once: waits for a reconcile request on `name`,
/// then reports it handled with the given Ready status and message.
pub async fn answer_reconcile<K>(
    sb: &TestSandbox,
    name: &str,
    ready: &str,
    message: &str,
    extra: Value,
) where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + serde::Serialize,
{
    let api: Api<K> = Api::namespaced(sb.client().await, "flux-system");
    let requested = eventually("a reconcile request", || async {
        let object = api.get(name).await.ok()?;
        let status = serde_json::to_value(&object).ok()?["status"].take();
        let handled = status["lastHandledReconcileAt"].as_str();
        annotations::pending_reconcile_request(object.meta(), handled).map(str::to_string)
    })
    .await;
    let reason = if ready == "True" {
        "ReconciliationSucceeded"
    } else {
        "ReconciliationFailed"
    };
    let mut status = json!({
        "lastHandledReconcileAt": requested,
        "conditions": [ready_condition(ready, reason, message)],
    });
    if let (Some(status), Some(extra)) = (status.as_object_mut(), extra.as_object()) {
        status.extend(extra.clone());
    }
    set_status::<K>(sb, name, status).await;
}
