//! The README's path for a new user, end to end with real processes:
//! `install --export | kubectl apply -f -`, `driftless controller`, two
//! `create` commands against a real git server, then `get`, `reconcile`,
//! `suspend`/`resume`, `tree`, `events` and `check` on the synced result;
//! and `driftless quickstart` (`--once`, and stopped by SIGTERM).

use std::process::Stdio;

use crate::common::{TestSandbox, eventually, run};
use driftless_testkit::{Fixture, GitDaemon};

fn configmap(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  color: {color}\n"
    )
}

/// The color the synced ConfigMap has in the cluster, as kubectl reads it.
async fn color(sandbox: &TestSandbox) -> String {
    let args = [
        "get",
        "configmap",
        "app",
        "-n",
        "default",
        "-o",
        "jsonpath={.data.color}",
    ];
    sandbox.kubectl(&args, None).await.ok().stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_controller_and_create_sync_a_repository() {
    let sandbox = TestSandbox::start("gitops").await;
    let manifests = sandbox
        .driftless(&["install", "--export"])
        .await
        .ok()
        .stdout;
    sandbox
        .kubectl(&["apply", "-f", "-"], Some(&manifests))
        .await
        .ok();

    let served = tempfile::tempdir().expect("tempdir");
    let fixture = Fixture::new(served.path(), "app");
    fixture.write("deploy/app.yaml", &configmap("blue"));
    let first = fixture.commit("blue");
    let daemon = GitDaemon::start(served.path());

    let storage = tempfile::tempdir().expect("tempdir");
    let kubeconfig = sandbox.kubeconfig_path();
    let _controller = tokio::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(["controller", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--storage-dir")
        .arg(storage.path())
        .args([
            "--artifact-listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the controller starts");

    let url = daemon.url("app");
    let created = sandbox
        .driftless(&[
            "-n",
            "default",
            "create",
            "source",
            "git",
            "app",
            "--url",
            &url,
            "--branch",
            "main",
            "--interval",
            "1m",
        ])
        .await
        .ok();
    assert!(
        created.stderr.contains(&first[..7]) || created.stderr.contains("main@sha1"),
        "{created:#?}"
    );
    sandbox
        .driftless(&[
            "-n",
            "default",
            "create",
            "kustomization",
            "app",
            "--source",
            "app",
            "--path",
            "./deploy",
            "--prune",
            "--interval",
            "10m",
        ])
        .await
        .ok();
    assert_eq!(color(&sandbox).await, "blue");

    let table = sandbox
        .driftless(&["-n", "default", "get", "kustomizations"])
        .await
        .ok()
        .stdout;
    assert!(
        table.contains(&format!("main@sha1:{first}")) && table.contains("True"),
        "{table}"
    );

    fixture.write("deploy/app.yaml", &configmap("green"));
    let second = fixture.commit("green");
    let reconciled = sandbox
        .driftless(&[
            "-n",
            "default",
            "reconcile",
            "kustomization",
            "app",
            "--with-source",
        ])
        .await
        .ok();
    assert!(reconciled.stderr.contains(&second), "{reconciled:#?}");
    assert_eq!(color(&sandbox).await, "green");

    let tree = sandbox
        .driftless(&["-n", "default", "tree", "kustomization", "app"])
        .await
        .ok()
        .stdout;
    assert!(tree.contains("ConfigMap/default/app"), "{tree}");
    let events = sandbox
        .driftless(&["-n", "default", "events", "--for", "Kustomization/app"])
        .await
        .ok()
        .stdout;
    assert!(
        events.contains("ConfigMap/default/app configured"),
        "{events}"
    );

    // Suspended, a push is not applied; resumed, it is.
    sandbox
        .driftless(&["-n", "default", "suspend", "kustomization", "app"])
        .await
        .ok();
    fixture.write("deploy/app.yaml", &configmap("red"));
    let third = fixture.commit("red");
    sandbox
        .driftless(&["-n", "default", "reconcile", "source", "git", "app"])
        .await
        .ok();
    assert_eq!(color(&sandbox).await, "green", "suspended: not applied");
    let resumed = sandbox
        .driftless(&["-n", "default", "resume", "kustomization", "app"])
        .await
        .ok();
    assert!(resumed.stderr.contains(&third), "{resumed:#?}");
    assert_eq!(color(&sandbox).await, "red");

    // An ArtifactGenerator has no spec.suspend: suspend sets
    // source-watcher's annotation (shown under SUSPENDED), resume removes it
    // and waits for the generator to reconcile.
    let generator = "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: bundle\n  namespace: default\nspec:\n  sources:\n  - {alias: app, kind: GitRepository, name: app}\n  artifacts:\n  - name: bundle\n    copy:\n    - {from: \"@app/deploy/**\", to: \"@artifact/\"}\n";
    sandbox
        .kubectl(&["apply", "-f", "-"], Some(generator))
        .await
        .ok();
    sandbox
        .driftless(&["-n", "default", "suspend", "artifactgenerator", "bundle"])
        .await
        .ok();
    let annotation = |_: ()| {
        sandbox.kubectl(
            &[
                "-n",
                "default",
                "get",
                "artifactgenerator",
                "bundle",
                "-o",
                "jsonpath={.metadata.annotations.source\\.extensions\\.fluxcd\\.io/reconcile}",
            ],
            None,
        )
    };
    assert_eq!(annotation(()).await.ok().stdout.trim(), "disabled");
    let listed = sandbox
        .driftless(&["-n", "default", "get", "artifactgenerators"])
        .await
        .ok()
        .stdout;
    let column = listed
        .lines()
        .next()
        .and_then(|header| header.find("SUSPENDED"))
        .expect("a SUSPENDED column");
    let row = listed
        .lines()
        .find(|l| l.starts_with("bundle"))
        .expect("the generator is listed");
    assert_eq!(
        row.get(column..).and_then(|r| r.split_whitespace().next()),
        Some("True"),
        "{listed}"
    );
    let resumed = sandbox
        .driftless(&["-n", "default", "resume", "ag", "bundle"])
        .await
        .ok();
    assert!(
        resumed.stderr.contains("generated 1 artifact(s)"),
        "{resumed:#?}"
    );
    assert_eq!(annotation(()).await.ok().stdout.trim(), "");

    // A local change previews as a diff (exit 1); the applied state as none (exit 0).
    let local = tempfile::tempdir().expect("tempdir");
    std::fs::write(local.path().join("app.yaml"), configmap("purple")).expect("write");
    let local_path = local.path().to_string_lossy().into_owned();
    let diff = sandbox
        .driftless(&[
            "-n",
            "default",
            "diff",
            "kustomization",
            "app",
            "--path",
            &local_path,
        ])
        .await
        .code(1);
    assert!(
        diff.stdout.contains("ConfigMap/default/app drifted")
            && diff.stdout.contains("-  color: red")
            && diff.stdout.contains("+  color: purple"),
        "{diff:#?}"
    );
    std::fs::write(local.path().join("app.yaml"), configmap("red")).expect("write");
    let same = sandbox
        .driftless(&[
            "-n",
            "default",
            "diff",
            "kustomization",
            "app",
            "--path",
            &local_path,
        ])
        .await
        .ok();
    assert_eq!(same.stdout, "", "{same:#?}");

    // The controller holds its Lease, so `check` passes.
    eventually("check passes", || async {
        let out = sandbox.driftless(&["check"]).await;
        (out.code == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_walks_through_the_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        env!("CARGO_BIN_EXE_driftless"),
        &[
            "quickstart",
            "--once",
            "--listen",
            "127.0.0.1:0",
            "--dir",
            &dir.path().join("qs").to_string_lossy(),
        ],
        None,
        dir.path(),
    )
    .await;
    assert_eq!(out.code, 0, "{out:#?}");
    for step in [
        "applied revision main@sha1:",
        "greeting says \"hello again\"",
        "drift reverted",
        "rolled back with",
        "kubectl --kubeconfig",
    ] {
        assert!(
            out.stderr.contains(step),
            "missing {step:?} in {}",
            out.stderr
        );
    }
    assert!(
        dir.path().join("qs/kubeconfig").exists(),
        "files kept with --dir"
    );
}

/// SIGTERM (what `kill` and `timeout` send) stops a running quickstart as
/// Ctrl-C does: the controller and sandbox shut down and the temporary
/// directory is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_stops_cleanly_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(["quickstart", "--listen", "127.0.0.1:0"])
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("quickstart starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    let running = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("stderr reads") {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("Press Ctrl-C to stop") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(running, Ok(true)),
        "quickstart did not get running:\n{seen}"
    );
    let pid = child.id().expect("running").to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stderr reads") {
            seen.push_str(&line);
            seen.push('\n');
        }
        child.wait().await.expect("quickstart exits")
    })
    .await
    .unwrap_or_else(|_| panic!("quickstart did not stop on SIGTERM:\n{seen}"));
    assert!(status.success(), "{status}:\n{seen}");
    assert!(seen.contains("temporary files removed"), "{seen}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("tmp reads")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_without_controller_pods_says_where_to_look() {
    let sandbox = TestSandbox::start("logs").await;
    let out = sandbox
        .driftless(&["logs", "--for", "Kustomization/apps"])
        .await
        .code(1);
    assert!(
        out.stderr.contains("no controller pods") && out.stderr.contains("driftless install"),
        "{out:#?}"
    );
    let bad = sandbox
        .driftless(&["logs", "--level", "loud"])
        .await
        .code(1);
    assert!(bad.stderr.contains("unknown --level"), "{bad:#?}");
}
