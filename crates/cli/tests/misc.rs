//! `version`, `completion`, `events` and the unreachable-cluster message.

use crate::common::{DEADLINE, TempDir, TestSandbox, run};
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

/// Runs `driftless ARGS` under `/usr/bin/time -v`; returns what it printed
/// and its peak resident memory in KiB, or `None` without `time`.
async fn with_peak_rss(
    args: &[&str],
    home: &std::path::Path,
) -> Option<(crate::common::Output, u64)> {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
        assert!(
            !required,
            "DRIFTLESS_REQUIRE_SHARED=1 but /usr/bin/time is missing"
        );
        println!(
            "SKIPPED: /usr/bin/time is missing (apt-get install time); peak memory is not measured"
        );
        return None;
    }
    let mut full = vec!["-v", env!("CARGO_BIN_EXE_driftless")];
    full.extend_from_slice(args);
    let mut out = run("/usr/bin/time", &full, None, home).await;
    let peak = out
        .stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("time reports the peak: {}", out.stderr));
    // What driftless printed comes before time's report.
    if let Some(at) = out.stderr.find("\tCommand ") {
        out.stderr.truncate(at);
    }
    Some((out, peak))
}

/// Issue 17: a 200 MB value fails at once with small memory (it used to
/// take 1.1 GB), naming the bound and its flag; an alias bomb likewise.
#[tokio::test]
async fn a_200_mb_value_and_an_alias_bomb_fail_fast_with_small_memory() {
    use std::io::Write as _;
    let dir = TempDir::new("huge");
    let big = dir.path().join("big");
    std::fs::create_dir(&big).expect("mkdir");
    std::fs::write(big.join("kustomization.yaml"), "resources:\n- cm.yaml\n").expect("write");
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(big.join("cm.yaml")).expect("create"));
    file.write_all(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  v: ")
        .expect("write");
    let mib = vec![b'a'; 1 << 20];
    for _ in 0..200 {
        file.write_all(&mib).expect("write");
    }
    file.write_all(b"\n").expect("write");
    drop(file);
    let bomb = dir.path().join("bomb");
    std::fs::create_dir(&bomb).expect("mkdir");
    let mut laughs = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        laughs.push_str(&format!(
            "  a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
        ));
    }
    std::fs::write(bomb.join("cm.yaml"), laughs).expect("write");

    let big_path = big.display().to_string();
    let started = std::time::Instant::now();
    let Some((out, peak_kib)) =
        with_peak_rss(&["build", "kustomization", &big_path], dir.path()).await
    else {
        return;
    };
    let took = started.elapsed();
    println!(
        "200 MB value: exit {}, {took:?}, peak RSS {peak_kib} KiB",
        out.code
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains("cm.yaml"),
        "names the file: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--manifest-max-file-size"),
        "names the flag: {}",
        out.stderr
    );
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB for a 200 MB file"
    );

    let bomb_path = bomb.display().to_string();
    let (out, peak_kib) = with_peak_rss(&["build", "kustomization", &bomb_path], dir.path())
        .await
        .expect("time was there a moment ago");
    println!("alias bomb: exit {}, peak RSS {peak_kib} KiB", out.code);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains("--yaml-max-alias-nodes"),
        "names the flag: {}",
        out.stderr
    );
    assert!(
        peak_kib < 128 * 1024,
        "peak RSS {peak_kib} KiB for an alias bomb"
    );

    // The flag moves the bound: a small honest file fails under a tiny one.
    let (out, _) = with_peak_rss(
        &[
            "build",
            "kustomization",
            &bomb_path,
            "--manifest-max-file-size",
            "100",
        ],
        dir.path(),
    )
    .await
    .expect("time was there a moment ago");
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains("more than the 100 a file may have"),
        "{}",
        out.stderr
    );
}
