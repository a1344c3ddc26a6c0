//! The shared test cluster (driftless-testkit) with the two shapes these
//! tests use: kubectl that must succeed, and polling until `Some`.

use std::future::Future;

use driftless_testkit::cluster::TestCluster;

/// An in-process sandbox per test.
pub struct TestSandbox(TestCluster);

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        TestSandbox(TestCluster::start().await)
    }

    pub async fn client(&self) -> kube::Client {
        self.0.client().await
    }

    pub fn kubeconfig_path(&self) -> std::path::PathBuf {
        self.0.kubeconfig_path()
    }

    /// Runs kubectl against this sandbox; panics unless it exits 0.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        let (code, stdout, stderr) = self.0.kubectl(args, stdin).await;
        assert_eq!(code, 0, "kubectl {args:?} failed: {stdout}{stderr}");
        stdout
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
