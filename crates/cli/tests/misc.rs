//! `version`, `completion`, `events` and the unreachable-cluster message.

mod common;

use common::{DEADLINE, TempDir, TestSandbox, run};
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

#[tokio::test]
async fn version_prints_the_client_and_the_server() {
    let sb = TestSandbox::start("version").await;
    let out = sb.driftless(&["version"]).await.ok();
    assert!(
        out.stdout
            .starts_with(&format!("driftless: v{}\n", env!("CARGO_PKG_VERSION"))),
        "{out:#?}"
    );
    assert!(out.stdout.contains("server: v1.32"), "{out:#?}");
    let json = sb
        .driftless(&["version", "--client", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(
        json,
        serde_json::json!({"client": format!("v{}", env!("CARGO_PKG_VERSION"))})
    );
}

#[tokio::test]
async fn completion_scripts_complete_driftless() {
    let dir = TempDir::new("completion");
    let bin = env!("CARGO_BIN_EXE_driftless");
    let bash = run(bin, &["completion", "bash"], None, dir.path())
        .await
        .ok();
    assert!(
        bash.stdout.contains("complete") && bash.stdout.contains("driftless"),
        "{bash:#?}"
    );
    assert!(
        bash.stdout.contains("reconcile"),
        "subcommands are completed"
    );
    run(bin, &["completion", "zsh"], None, dir.path())
        .await
        .ok();
    run(bin, &["completion", "fish"], None, dir.path())
        .await
        .ok();
    run(bin, &["completion", "tcsh"], None, dir.path())
        .await
        .code(2);
}

#[tokio::test]
async fn an_unreachable_cluster_is_one_clear_error() {
    let dir = TempDir::new("unreachable");
    // A loopback port nobody listens on: bind, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
        ),
    )
    .expect("write the kubeconfig");
    let kubeconfig = kubeconfig.to_str().expect("a UTF-8 path");
    for args in [&["get", "ks"][..], &["check"], &["reconcile", "ks", "apps"]] {
        let mut all = vec!["--kubeconfig", kubeconfig];
        all.extend_from_slice(args);
        let out = run(env!("CARGO_BIN_EXE_driftless"), &all, None, dir.path())
            .await
            .code(1);
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.contains(&format!("cannot reach the cluster at https://127.0.0.1:{port}/: is the cluster running? check --kubeconfig/--context")),
            "{args:?}: {out:#?}"
        );
    }
    // An unknown context names itself and the flag.
    let out = run(
        env!("CARGO_BIN_EXE_driftless"),
        &["--kubeconfig", kubeconfig, "--context", "nope", "get", "ks"],
        None,
        dir.path(),
    )
    .await
    .code(1);
    assert!(
        out.stderr
            .contains("cannot use the kubeconfig context nope; check --context"),
        "{out:#?}"
    );
    // A missing kubeconfig names the file and the flag.
    let out = run(
        env!("CARGO_BIN_EXE_driftless"),
        &["--kubeconfig", "/nonexistent/kc", "get", "ks"],
        None,
        dir.path(),
    )
    .await
    .code(1);
    assert!(
        out.stderr
            .contains("cannot read the kubeconfig /nonexistent/kc; check --kubeconfig"),
        "{out:#?}"
    );
}

fn event(
    name: &str,
    kind: &str,
    object: &str,
    reason: &str,
    message: &str,
    seconds_ago: i64,
) -> Event {
    let at = Time(Timestamp::now() - SignedDuration::from_secs(seconds_ago));
    Event {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some(kind.to_string()),
            name: Some(object.to_string()),
            namespace: Some("flux-system".to_string()),
            ..Default::default()
        },
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some("Normal".to_string()),
        first_timestamp: Some(at.clone()),
        last_timestamp: Some(at),
        ..Default::default()
    }
}

#[tokio::test]
async fn events_are_listed_oldest_first_and_filtered_by_object() {
    let sb = TestSandbox::start("events").await;
    sb.kubectl(&["create", "namespace", "flux-system"], None)
        .await
        .ok();
    let events: Api<Event> = Api::namespaced(sb.client().await, "flux-system");
    for e in [
        event(
            "a",
            "Kustomization",
            "apps",
            "ReconciliationSucceeded",
            "Applied revision: main@sha1:1",
            30,
        ),
        event(
            "b",
            "GitRepository",
            "fleet",
            "NewArtifact",
            "stored artifact for main@sha1:1",
            300,
        ),
        event(
            "c",
            "Kustomization",
            "infra",
            "HealthCheckFailed",
            "Deployment/infra/web not ready",
            10,
        ),
    ] {
        events
            .create(&PostParams::default(), &e)
            .await
            .expect("create the event");
    }
    // The controller's recorder writes events.k8s.io/v1 Events; they are
    // listed alongside.
    let recorded: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(sb.client().await, "flux-system");
    recorded
        .create(
            &PostParams::default(),
            &k8s_openapi::api::events::v1::Event {
                metadata: ObjectMeta {
                    name: Some("d".to_string()),
                    ..Default::default()
                },
                event_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                    Timestamp::now() - SignedDuration::from_secs(20),
                )),
                regarding: Some(ObjectReference {
                    kind: Some("Kustomization".to_string()),
                    name: Some("apps".to_string()),
                    namespace: Some("flux-system".to_string()),
                    ..Default::default()
                }),
                reason: Some("Progressing".to_string()),
                note: Some("Deployment/apps/web configured".to_string()),
                type_: Some("Normal".to_string()),
                action: Some("Reconcile".to_string()),
                reporting_controller: Some("driftless-controller".to_string()),
                reporting_instance: Some("driftless-controller-0".to_string()),
                ..Default::default()
            },
        )
        .await
        .expect("create the events.k8s.io event");

    let out = sb.driftless(&["events"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert_eq!(lines.len(), 5, "{out:#?}");
    assert!(
        lines[1].contains("gitrepository/fleet"),
        "oldest first: {out:#?}"
    );
    assert!(
        lines[3].contains("Deployment/apps/web configured"),
        "{out:#?}"
    );
    assert!(lines[4].contains("kustomization/infra"), "{out:#?}");

    let out = sb
        .driftless(&["events", "--for", "Kustomization/apps"])
        .await
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:#?}");
    assert!(
        lines[1].contains("ReconciliationSucceeded") && lines[1].contains("kustomization/apps")
    );
    assert!(lines[1].contains("Applied revision: main@sha1:1"));
    assert!(lines[2].contains("Progressing"), "{out:#?}");

    let out = sb
        .driftless(&["events", "-A", "--for", "GitRepository/fleet"])
        .await
        .ok();
    assert!(out.stdout.starts_with("NAMESPACE"), "{out:#?}");
    assert!(
        out.stdout.contains("flux-system") && out.stdout.contains("NewArtifact"),
        "{out:#?}"
    );

    let bad = sb.driftless(&["events", "--for", "apps"]).await.code(2);
    assert!(bad.stderr.contains("<Kind>/<name>"), "{bad:#?}");
}

#[tokio::test]
async fn events_watch_prints_new_events_as_they_come() {
    use tokio::io::AsyncBufReadExt;
    let sb = TestSandbox::start("events-watch").await;
    sb.kubectl(&["create", "namespace", "flux-system"], None)
        .await
        .ok();
    let events: Api<Event> = Api::namespaced(sb.client().await, "flux-system");
    events
        .create(
            &PostParams::default(),
            &event("old", "Kustomization", "apps", "Progressing", "first", 60),
        )
        .await
        .expect("create the event");
    let kubeconfig = sb.kubeconfig_path();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(["--kubeconfig", kubeconfig.to_str().expect("a UTF-8 path")])
        .args(["events", "--watch", "--for", "Kustomization/apps"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("driftless runs");
    let mut lines =
        tokio::io::BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let mut next_line = async || {
        tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("a line in time")
            .expect("stdout is readable")
            .expect("the watch goes on")
    };
    assert!(next_line().await.starts_with("LAST SEEN"));
    assert!(
        next_line().await.contains("Progressing"),
        "the existing event comes first"
    );
    // Another object's event is filtered out; the next line is the new one.
    events
        .create(
            &PostParams::default(),
            &event("other", "Kustomization", "infra", "Ignored", "no", 0),
        )
        .await
        .expect("create the event");
    events
        .create(
            &PostParams::default(),
            &event(
                "new",
                "Kustomization",
                "apps",
                "ReconciliationSucceeded",
                "second",
                0,
            ),
        )
        .await
        .expect("create the event");
    let line = next_line().await;
    assert!(
        line.contains("ReconciliationSucceeded") && line.contains("second"),
        "{line}"
    );
}

#[tokio::test]
async fn build_kustomization_still_renders_locally() {
    let dir = TempDir::new("build");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "namePrefix: dev-\nresources:\n- cm.yaml\n",
    )
    .expect("write the kustomization");
    std::fs::write(
        dir.path().join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n",
    )
    .expect("write the manifest");
    let path = dir.path().to_str().expect("a UTF-8 path");
    let out = run(
        env!("CARGO_BIN_EXE_driftless"),
        &["build", "kustomization", path],
        None,
        dir.path(),
    )
    .await
    .ok();
    assert!(out.stdout.contains("name: dev-settings"), "{out:#?}");
}
