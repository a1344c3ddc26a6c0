//! The real Helm against the sandbox: `helm` (v4) and `helm3` (v3) install,
//! upgrade, roll back and uninstall the podinfo chart of the shared Helm
//! corpus with `--wait`, and the cluster holds what a real one would after
//! each step (ReplicaSets owned by the Deployment, Pods owned by them, the
//! release Secrets). Helm 3's wait finds the Deployment's new ReplicaSet and
//! counts its ready replicas; Helm 4's reads kstatus; both must finish.
//!
//! Charts made here check Helm 3's wait for a StatefulSet (ready replicas,
//! updated replicas, current = update revision) and for a DaemonSet
//! (updated Pods scheduled on the Node).
//!
//! Without the Helm binaries (on PATH or in `$HOME/.local/oracles`) or the
//! shared corpus the tests say SKIPPED, unless `DRIFTLESS_REQUIRE_SHARED=1`
//! makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::common::{DEADLINE, TempDir, TestSandbox, eventually};
use serde_json::Value;

/// Where the shared corpus is: `DRIFTLESS_SHARED_DIR`, or beside the checkout.
fn podinfo_chart() -> PathBuf {
    std::env::var_os("DRIFTLESS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("helm-conformance/charts/podinfo")
}

fn find_program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".local/oracles"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The Helm binary and the chart, or `None` after saying SKIPPED.
fn prerequisites(program: &str) -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
    let chart = podinfo_chart();
    let helm = find_program(program);
    match (helm, chart.join("Chart.yaml").is_file()) {
        (Some(helm), true) => Some((helm, chart)),
        (helm, _) => {
            let missing = if helm.is_none() {
                format!("{program} is neither on PATH nor in $HOME/.local/oracles")
            } else {
                format!("the podinfo chart is not at {}", chart.display())
            };
            assert!(!required, "DRIFTLESS_REQUIRE_SHARED=1 but {missing}");
            println!("SKIPPED: {missing}");
            None
        }
    }
}

/// One Helm client with its own config, cache and data directories.
struct Helm {
    program: PathBuf,
    kubeconfig: PathBuf,
    home: TempDir,
}

impl Helm {
    /// Runs Helm, which must succeed; returns its stdout.
    async fn run(&self, args: &[&str]) -> String {
        let output = self.output(args).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{} {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
            self.program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// Runs Helm, which must fail; returns its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let output = self.output(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !output.status.success(),
            "{} {args:?} succeeded:\nstdout: {}\nstderr: {stderr}",
            self.program.display(),
            String::from_utf8_lossy(&output.stdout),
        );
        stderr
    }

    async fn output(&self, args: &[&str]) -> std::process::Output {
        let home = self.home.path();
        let run = tokio::process::Command::new(&self.program)
            .args(args)
            .args(["--namespace", "default"])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", home)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        tokio::time::timeout(DEADLINE * 2, run)
            .await
            .unwrap_or_else(|_| panic!("{} {args:?} did not finish", self.program.display()))
            .expect("helm runs")
    }
}

async fn list(sb: &TestSandbox, resource: &str, selector: &str) -> Vec<Value> {
    let out = sb
        .kubectl(&[
            "get", resource, "-n", "default", "-l", selector, "-o", "json",
        ])
        .run()
        .await
        .ok()
        .json();
    out["items"].as_array().cloned().unwrap_or_default()
}

fn name(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

fn controller_uid(object: &Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)?["uid"]
        .as_str()
}

/// What differs from the chain Deployment → ReplicaSets → Pods of a
/// settled release: `replicas` Running Pods, all owned by the one
/// ReplicaSet not scaled to zero, itself owned by the Deployment.
async fn workload_mismatch(sb: &TestSandbox, replicas: usize) -> Option<String> {
    let selector = "app.kubernetes.io/name=web-podinfo";
    let deployments = list(sb, "deployments", selector).await;
    if deployments.len() != 1 {
        return Some(format!("one Deployment expected: {deployments:#?}"));
    }
    let deployment = &deployments[0];
    let status = &deployment["status"];
    for field in [
        "replicas",
        "readyReplicas",
        "availableReplicas",
        "updatedReplicas",
    ] {
        if status[field] != replicas {
            return Some(format!("status.{field} is not {replicas}: {status:#}"));
        }
    }
    if status["observedGeneration"] != deployment["metadata"]["generation"] {
        return Some(format!("generation not observed: {deployment:#}"));
    }
    let uid = deployment["metadata"]["uid"].as_str();
    let sets = list(sb, "replicasets", selector).await;
    if !sets.iter().all(|rs| controller_uid(rs) == uid) {
        return Some(format!(
            "ReplicaSets not all owned by the Deployment: {sets:#?}"
        ));
    }
    let active: Vec<&Value> = sets
        .iter()
        .filter(|rs| rs["spec"]["replicas"] != 0)
        .collect();
    let [rs] = active.as_slice() else {
        return Some(format!("one active ReplicaSet expected: {sets:#?}"));
    };
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap_or_default();
    if hash.is_empty() || name(rs) != format!("web-podinfo-{hash}") {
        return Some(format!(
            "ReplicaSet not named by its pod-template-hash: {rs:#}"
        ));
    }
    let pods = list(sb, "pods", selector).await;
    if pods.len() != replicas {
        return Some(format!("{replicas} Pods expected: {pods:#?}"));
    }
    pods.iter()
        .find(|pod| {
            controller_uid(pod) != rs["metadata"]["uid"].as_str()
                || pod["status"]["phase"] != "Running"
                || pod["metadata"]["labels"]["pod-template-hash"] != hash
        })
        .map(|pod| format!("Pod not Running under {}: {pod:#}", name(rs)))
}

/// Waits for the release's workload to settle: Helm 3's wait is content
/// with `replicas - maxUnavailable` ready Pods of the new ReplicaSet (none,
/// for podinfo's single replica), so the last Pods may still be starting.
async fn assert_workload(sb: &TestSandbox, replicas: usize) {
    let start = std::time::Instant::now();
    while let Some(mismatch) = workload_mismatch(sb, replicas).await {
        assert!(start.elapsed() < DEADLINE, "{mismatch}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Release Secrets of `web`, by name.
async fn release_secrets(sb: &TestSandbox) -> Vec<String> {
    let mut names: Vec<String> = list(sb, "secrets", "owner=helm,name=web")
        .await
        .iter()
        .map(|s| name(s).to_string())
        .collect();
    names.sort();
    names
}

async fn release_lifecycle(program: &str) {
    let Some((helm, chart)) = prerequisites(program) else {
        return;
    };
    let sb = TestSandbox::start(program).await;
    let helm = Helm {
        program: helm,
        kubeconfig: sb.kubeconfig_path(),
        home: TempDir::new(&format!("{program}-home")),
    };
    let chart = chart.to_str().expect("a UTF-8 chart path");
    let wait = ["--wait", "--timeout", "60s"];

    let out = helm
        .run(&[&["install", "web", chart][..], &wait].concat())
        .await;
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert_workload(&sb, 1).await;
    assert_eq!(release_secrets(&sb).await, ["sh.helm.release.v1.web.v1"]);

    helm.run(
        &[
            &["upgrade", "web", chart, "--set", "replicaCount=2"][..],
            &wait,
        ]
        .concat(),
    )
    .await;
    assert_workload(&sb, 2).await;
    let values = helm.run(&["get", "values", "web", "-o", "json"]).await;
    let values: Value = serde_json::from_str(&values).expect("values as JSON");
    assert_eq!(values, serde_json::json!({"replicaCount": 2}));

    let history = helm.run(&["history", "web", "-o", "json"]).await;
    let history: Value = serde_json::from_str(&history).expect("history as JSON");
    let revisions: Vec<(i64, &str)> = history
        .as_array()
        .expect("a list of revisions")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or(0),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(revisions, [(1, "superseded"), (2, "deployed")]);

    helm.run(&[&["rollback", "web", "1"][..], &wait].concat())
        .await;
    assert_workload(&sb, 1).await;

    let listed = helm.run(&["list", "-o", "json"]).await;
    let listed: Value = serde_json::from_str(&listed).expect("list as JSON");
    assert_eq!(listed[0]["name"], "web", "{listed:#}");
    assert_eq!(listed[0]["revision"], "3", "{listed:#}");
    assert_eq!(listed[0]["status"], "deployed", "{listed:#}");
    let status = helm.run(&["status", "web"]).await;
    assert!(status.contains("STATUS: deployed"), "{status}");
    assert!(status.contains("REVISION: 3"), "{status}");
    assert_eq!(
        release_secrets(&sb).await,
        [
            "sh.helm.release.v1.web.v1",
            "sh.helm.release.v1.web.v2",
            "sh.helm.release.v1.web.v3"
        ]
    );

    let out = helm.run(&["uninstall", "web"]).await;
    assert!(out.contains("release \"web\" uninstalled"), "{out}");
    assert!(release_secrets(&sb).await.is_empty());
    // Background propagation: the ReplicaSets and Pods go with the Deployment.
    let selector = "app.kubernetes.io/name=web-podinfo";
    eventually("the release's objects to be gone", || async {
        let mut left = Vec::new();
        for resource in ["deployments", "replicasets", "pods", "services"] {
            left.extend(list(&sb, resource, selector).await);
        }
        left.is_empty().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm4_installs_upgrades_rolls_back_and_uninstalls() {
    release_lifecycle("helm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm3_installs_upgrades_rolls_back_and_uninstalls() {
    release_lifecycle("helm3").await;
}

const STATEFUL_TEMPLATE: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas | default 2 }}
  serviceName: {{ .Release.Name }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: db
        image: {{ .Values.image | default \"postgres:16\" }}
";

/// The Helm binary `name` (`helm`, `helm3`), or `None` after saying SKIPPED.
fn helm_binary(name: &str) -> Option<PathBuf> {
    let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
    let program = find_program(name);
    if program.is_none() {
        assert!(
            !required,
            "DRIFTLESS_REQUIRE_SHARED=1 but {name} is missing"
        );
        println!("SKIPPED: {name} is neither on PATH nor in $HOME/.local/oracles");
    }
    program
}

/// A chart named `name` whose one template is `template`.
fn one_template_chart(name: &str, template: &str) -> TempDir {
    let chart = TempDir::new(&format!("{name}-chart"));
    std::fs::create_dir_all(chart.path().join("templates")).expect("chart dir");
    let meta = format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n");
    std::fs::write(chart.path().join("Chart.yaml"), meta).expect("Chart.yaml");
    std::fs::write(chart.path().join("templates/workload.yaml"), template).expect("template");
    chart
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm3_waits_for_a_stateful_set() {
    let Some(program) = helm_binary("helm3") else {
        return;
    };
    let chart = one_template_chart("db", STATEFUL_TEMPLATE);
    let sb = TestSandbox::start("helm3-sts").await;
    let helm = Helm {
        program,
        kubeconfig: sb.kubeconfig_path(),
        home: TempDir::new("helm3-sts-home"),
    };
    let chart = chart.path().to_str().expect("a UTF-8 chart path");
    let wait = ["--wait", "--timeout", "60s"];
    helm.run(&[&["install", "db", chart][..], &wait].concat())
        .await;
    // Helm 3 returned only once the set reported both Pods ready.
    let set = list(&sb, "statefulsets", "app=db").await;
    assert_eq!(set[0]["status"]["readyReplicas"], 2, "{set:#?}");
    helm.run(
        &[
            &["upgrade", "db", chart, "--set", "image=postgres:17"][..],
            &wait,
        ]
        .concat(),
    )
    .await;
    let set = list(&sb, "statefulsets", "app=db").await;
    let status = &set[0]["status"];
    assert_eq!(
        status["currentRevision"], status["updateRevision"],
        "{status:#}"
    );
    let pods = list(&sb, "pods", "app=db").await;
    assert_eq!(pods.len(), 2, "{pods:#?}");
    assert!(
        pods.iter().all(|p| {
            p["spec"]["containers"][0]["image"] == "postgres:17"
                && p["metadata"]["labels"]["controller-revision-hash"] == status["updateRevision"]
        }),
        "{pods:#?}"
    );
}

const DAEMON_SET_TEMPLATE: &str = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
  annotations: {sandbox.driftless.dev/rollout: {{ .Values.rollout | default \"succeed\" }}}
spec:
  {{- if .Values.surge }}
  updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  {{- end }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
      - name: agent
        image: {{ .Values.image | default \"agent:1\" }}
";

/// Installs and upgrades a DaemonSet chart with `--wait` (Helm 3 counts
/// the set's scheduled and ready Pods, Helm 4 reads kstatus), then
/// upgrades it to a template whose Pod hangs: Helm 4 fails, Helm 3 only
/// when a surge leaves it no unavailable Pod to tolerate.
async fn daemon_set_release(name: &str) {
    let Some(program) = helm_binary(name) else {
        return;
    };
    let chart = one_template_chart("agent", DAEMON_SET_TEMPLATE);
    let sb = TestSandbox::start(&format!("{name}-ds")).await;
    let helm = Helm {
        program,
        kubeconfig: sb.kubeconfig_path(),
        home: TempDir::new(&format!("{name}-ds-home")),
    };
    let chart = chart.path().to_str().expect("a UTF-8 chart path");
    let wait = ["--wait", "--timeout", "60s"];
    helm.run(&[&["install", "agent", chart][..], &wait].concat())
        .await;
    // Helm returned only once the set's Pod on the Node was scheduled.
    let set = list(&sb, "daemonsets", "app=agent").await;
    assert_eq!(set[0]["status"]["desiredNumberScheduled"], 1, "{set:#?}");
    assert_eq!(set[0]["status"]["updatedNumberScheduled"], 1, "{set:#?}");
    helm.run(
        &[
            &["upgrade", "agent", chart, "--set", "image=agent:2"][..],
            &wait,
        ]
        .concat(),
    )
    .await;
    let set = list(&sb, "daemonsets", "app=agent").await;
    assert_eq!(set[0]["status"]["observedGeneration"], 2, "{set:#?}");
    let pods = list(&sb, "pods", "app=agent").await;
    assert_eq!(pods.len(), 1, "{pods:#?}");
    assert_eq!(pods[0]["spec"]["containers"][0]["image"], "agent:2");
    assert_eq!(pods[0]["spec"]["nodeName"], "sandbox");

    let hang = [
        "upgrade",
        "agent",
        chart,
        "--set",
        "image=agent:3",
        "--set",
        "rollout=hang",
        "--wait",
        "--timeout",
        "3s",
    ];
    if name == "helm3" {
        // Helm 3 wants `desired - maxUnavailable` ready Pods: none, with
        // the default of 1 on one Node, as on a one-node cluster.
        helm.run(&hang).await;
    } else {
        let err = helm.fails(&hang).await;
        assert!(err.contains("DaemonSet/default/agent not ready"), "{err}");
    }
    // Helm 3 returns without waiting, maybe before the old Pod is replaced.
    eventually("one hanging agent Pod", || async {
        let pods = list(&sb, "pods", "app=agent").await;
        (pods.len() == 1 && pods[0]["status"]["phase"] == "Pending").then_some(())
    })
    .await;
    if name == "helm3" {
        // With a surge (and no unavailability allowed) Helm 3 waits for the
        // new Pod, which hangs too.
        let surge = ["--set", "surge=true", "--set", "image=agent:4"];
        let err = helm.fails(&[&hang[..], &surge].concat()).await;
        assert!(err.contains("context deadline exceeded"), "{err}");
        let set = list(&sb, "daemonsets", "app=agent").await;
        assert_eq!(set[0]["status"]["updatedNumberScheduled"], 0, "{set:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm3_waits_for_a_daemon_set() {
    daemon_set_release("helm3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm4_waits_for_a_daemon_set() {
    daemon_set_release("helm").await;
}
