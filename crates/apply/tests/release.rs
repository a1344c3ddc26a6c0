//! Helm release records against the real `helm` (v4 as `helm`, v3.17 as
//! `helm3`) on the in-process sandbox: records we write are what `helm`
//! lists, shows, rolls back and upgrades; records `helm install` writes are
//! read, re-encoded byte for byte, and adopted. Without the oracles or the
//! shared podinfo chart those tests say SKIPPED, unless
//! `DRIFTLESS_REQUIRE_SHARED=1` (CI) makes that a failure. The store's own
//! semantics (labels, stale writes, skipped junk) are tested without helm.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use driftless_apply::release::{
    self, Chart, ChartFile, ChartMetadata, Hook, Info, Release, ReleaseStore, Status, Unlocked,
};
use driftless_testkit::cluster::TestCluster;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// The helm binaries to check against, if installed, or why none.
fn oracles(test: &str) -> Vec<&'static str> {
    let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
    let mut found = Vec::new();
    for program in ["helm", "helm3"] {
        let works = Command::new(program)
            .args(["version", "--short"])
            .output()
            .is_ok_and(|o| o.status.success());
        if works {
            found.push(program);
        } else {
            assert!(
                !required,
                "DRIFTLESS_REQUIRE_SHARED=1 but {program} is not on PATH"
            );
            println!("SKIPPED: {test} with {program}: not on PATH");
        }
    }
    found
}

fn podinfo_chart() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("DRIFTLESS_SHARED_DIR")
        .map_or_else(|| manifest.join("../../../shared"), PathBuf::from);
    let chart = shared.join("helm-conformance/charts/podinfo");
    if chart.join("Chart.yaml").is_file() {
        return Some(chart);
    }
    assert!(
        std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
        "DRIFTLESS_REQUIRE_SHARED=1 but {} is missing",
        chart.display()
    );
    println!("SKIPPED: the podinfo chart is not at {}", chart.display());
    None
}

/// Runs `program` (a helm) against the cluster with its own home.
async fn helm(cluster: &TestCluster, program: &str, args: &[&str]) -> (bool, String, String) {
    let home = cluster.scratch().join(format!("{program}-home"));
    let out = tokio::process::Command::new(program)
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("HOME", &home)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs helm and panics unless it succeeds.
async fn helm_ok(cluster: &TestCluster, program: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = helm(cluster, program, args).await;
    assert!(ok, "{program} {args:?} failed: {stdout}{stderr}");
    stdout
}

/// `args` for a helm operation on objects we applied. Our records say
/// `ssa`, so Helm 4 applies server-side too, as field manager `helm`, and
/// must take the fields over from `helm-controller` (as with Flux's
/// releases); Helm 3 patches client-side and has no such flag.
fn taking_over<'a>(program: &str, args: &[&'a str]) -> Vec<&'a str> {
    let mut args = args.to_vec();
    if program == "helm" {
        args.push("--force-conflicts");
    }
    args
}

async fn helm_json(cluster: &TestCluster, program: &str, args: &[&str]) -> Value {
    let out = helm_ok(cluster, program, args).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{program} {args:?}: {e}: {out}"))
}

async fn namespace(client: &kube::Client, name: &str) {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("the namespace is created");
}

async fn kubectl_apply(cluster: &TestCluster, manifest: &str) {
    // As our controller applies: server-side, as helm-controller.
    let args = [
        "apply",
        "--server-side",
        "--field-manager",
        release::FIELD_MANAGER,
        "-f",
        "-",
    ];
    let (code, out, err) = cluster.kubectl(&args, Some(manifest)).await;
    assert_eq!(code, 0, "kubectl apply: {out}{err}");
}

fn now() -> String {
    release::go_time(OffsetDateTime::now_utc())
}

fn configmap(ns: &str, color: &str) -> String {
    format!(
        "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-settings\n  namespace: {ns}\ndata:\n  color: {color}\n"
    )
}

const DEMO_TEMPLATE: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-settings\ndata:\n  color: {{ .Values.color }}\n";

/// The `demo` chart on disk, for `helm upgrade`.
fn demo_chart(dir: &Path) -> String {
    let chart = dir.join("demo-chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\ndescription: A demo chart\ntype: application\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "color: blue\n").expect("values.yaml");
    std::fs::write(chart.join("templates/cm.yaml"), DEMO_TEMPLATE).expect("template");
    chart.to_str().expect("a UTF-8 path").to_owned()
}

/// A release of a one-template chart `demo` as our controller would record it.
fn demo(ns: &str, version: u32, status: Status, color: &str) -> Release {
    Release {
        name: "demo".into(),
        namespace: ns.into(),
        version,
        manifest: configmap(ns, color),
        apply_method: release::APPLY_METHOD_SSA.into(),
        config: Map::from_iter([("color".to_owned(), json!(color))]),
        chart: Some(Chart {
            metadata: Some(ChartMetadata {
                name: "demo".into(),
                version: "1.2.3".into(),
                app_version: "4.5".into(),
                api_version: "v2".into(),
                description: "A demo chart".into(),
                chart_type: "application".into(),
                ..ChartMetadata::default()
            }),
            templates: Some(vec![ChartFile {
                name: "templates/cm.yaml".into(),
                data: Some(STANDARD.encode(DEMO_TEMPLATE)),
                ..ChartFile::default()
            }]),
            values: Some(Map::from_iter([("color".to_owned(), json!("blue"))])),
            files: Some(Vec::new()),
            ..Chart::default()
        }),
        hooks: vec![Hook {
            name: "demo-test".into(),
            kind: "Pod".into(),
            path: "demo/templates/tests/test.yaml".into(),
            manifest: format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo-test\n  namespace: {ns}\n  annotations:\n    \"helm.sh/hook\": test\nspec:\n  containers:\n    - name: test\n      image: busybox\n  restartPolicy: Never\n"
            ),
            events: vec!["test".into()],
            delete_policies: vec!["before-hook-creation".into()],
            ..Hook::default()
        }],
        info: Some(Info {
            first_deployed: Some(now()),
            last_deployed: Some(now()),
            status,
            description: format!("{status} by driftless"),
            notes: format!("Thanks for installing demo in {ns}."),
            ..Info::default()
        }),
        ..Release::default()
    }
}

/// `(revision, status, description)` of each entry of `helm history -o json`.
async fn history(
    cluster: &TestCluster,
    program: &str,
    ns: &str,
    name: &str,
) -> Vec<(u64, String, String)> {
    let history = helm_json(cluster, program, &["history", name, "-n", ns, "-o", "json"]).await;
    history
        .as_array()
        .expect("a list")
        .iter()
        .map(|h| {
            (
                h["revision"].as_u64().expect("revision"),
                h["status"].as_str().expect("status").to_owned(),
                h["description"].as_str().expect("description").to_owned(),
            )
        })
        .collect()
}

fn entry(revision: u64, status: &str, description: &str) -> (u64, String, String) {
    (revision, status.to_owned(), description.to_owned())
}

#[tokio::test]
async fn helm_shows_and_rolls_back_the_records_we_write() {
    let programs = oracles("helm_shows_and_rolls_back_the_records_we_write");
    if programs.is_empty() {
        return;
    }
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    for program in programs {
        let ns = format!("ours-{program}");
        namespace(&client, &ns).await;
        let store = ReleaseStore::new(client.clone(), &ns);

        let v1 = demo(&ns, 1, Status::PendingInstall, "green");
        let stored = store.create(&v1, 10).await.expect("v1 is stored");
        kubectl_apply(&cluster, &v1.manifest).await;
        let deployed = store
            .mark_deployed(stored, "Install complete")
            .await
            .expect("v1 is deployed");

        let list = helm_json(&cluster, program, &["list", "-n", &ns, "-o", "json"]).await;
        let list = list.as_array().expect("a list");
        assert_eq!(list.len(), 1, "{program}: {list:?}");
        for (field, want) in [
            ("name", "demo"),
            ("namespace", ns.as_str()),
            ("revision", "1"),
            ("status", "deployed"),
            ("chart", "demo-1.2.3"),
            ("app_version", "4.5"),
        ] {
            assert_eq!(list[0][field], json!(want), "{program} list: {field}");
        }
        let values = helm_json(
            &cluster,
            program,
            &["get", "values", "demo", "-n", &ns, "-o", "json"],
        )
        .await;
        assert_eq!(values, json!({"color": "green"}), "{program}");
        let all = helm_json(
            &cluster,
            program,
            &["get", "values", "demo", "-n", &ns, "--all", "-o", "json"],
        )
        .await;
        assert_eq!(all, json!({"color": "green"}), "{program}");
        let manifest = helm_ok(&cluster, program, &["get", "manifest", "demo", "-n", &ns]).await;
        assert_eq!(manifest.trim_end(), v1.manifest.trim_end(), "{program}");
        let notes = helm_ok(&cluster, program, &["get", "notes", "demo", "-n", &ns]).await;
        assert_eq!(
            notes.trim_end(),
            format!("NOTES:\nThanks for installing demo in {ns}."),
            "{program}"
        );
        let status = helm_json(
            &cluster,
            program,
            &["status", "demo", "-n", &ns, "-o", "json"],
        )
        .await;
        // `helm status` prints the record without its chart; Helm 4 adds
        // the live objects of the manifest, Helm 3 the unset times it
        // always writes as "" and not Helm 4's apply_method.
        let mut ours = serde_json::to_value(&deployed.release).expect("plain data");
        ours.as_object_mut().expect("an object").remove("chart");
        let mut theirs = status.clone();
        if program == "helm" {
            let info = theirs["info"].as_object_mut().expect("info");
            let live = info.remove("resources").expect("helm 4 shows resources");
            assert_eq!(live["v1/ConfigMap"][0]["data"], json!({"color": "green"}));
        } else {
            let info = theirs["info"].as_object_mut().expect("info");
            assert_eq!(info.remove("deleted"), Some(json!("")), "{program}");
            let run = theirs["hooks"][0]["last_run"]
                .as_object_mut()
                .expect("last_run");
            assert_eq!(run.remove("started_at"), Some(json!("")), "{program}");
            assert_eq!(run.remove("completed_at"), Some(json!("")), "{program}");
            // Helm 3 does not know Helm 4's field (and drops it if it
            // rewrites the record).
            ours.as_object_mut()
                .expect("an object")
                .remove("apply_method");
        }
        assert_eq!(theirs, ours, "{program}: helm status shows another record");
        let hooks = helm_ok(&cluster, program, &["get", "hooks", "demo", "-n", &ns]).await;
        assert_eq!(
            hooks.trim_end(),
            format!(
                "---\n# Source: {}\n{}",
                v1.hooks[0].path, v1.hooks[0].manifest
            )
            .trim_end(),
            "{program}"
        );
        let all = helm_ok(&cluster, program, &["get", "all", "demo", "-n", &ns]).await;
        for part in [&v1.manifest, &v1.hooks[0].manifest, "color: green"] {
            assert!(
                all.contains(part.trim_end()),
                "{program}: get all lacks {part}: {all}"
            );
        }

        let v2 = demo(&ns, 2, Status::PendingUpgrade, "red");
        let stored = store.create(&v2, 10).await.expect("v2 is stored");
        kubectl_apply(&cluster, &v2.manifest).await;
        store
            .mark_deployed(stored, "Upgrade complete")
            .await
            .expect("v2 is deployed");
        assert_eq!(
            history(&cluster, program, &ns, "demo").await,
            vec![
                entry(1, "superseded", "Install complete"),
                entry(2, "deployed", "Upgrade complete"),
            ],
            "{program}"
        );

        let rollback = taking_over(program, &["rollback", "demo", "1", "-n", &ns]);
        let (ok, out, err) = helm(&cluster, program, &rollback).await;
        assert!(ok, "{program} rollback failed: {out}{err}");
        assert_eq!(
            history(&cluster, program, &ns, "demo").await,
            vec![
                entry(1, "superseded", "Install complete"),
                entry(2, "superseded", "Upgrade complete"),
                entry(3, "deployed", "Rollback to 1"),
            ],
            "{program}"
        );
        // The revision helm wrote reads back as ours do.
        let last = store
            .last("demo")
            .await
            .expect("readable")
            .expect("a release");
        assert_eq!(last.release.version, 3);
        assert_eq!(last.release.status(), Status::Deployed);
        assert_eq!(last.release.config, v1.config);
        let (code, data, err) = cluster
            .kubectl(
                &[
                    "get",
                    "configmap",
                    "demo-settings",
                    "-n",
                    &ns,
                    "-o",
                    "jsonpath={.data.color}",
                ],
                None,
            )
            .await;
        assert_eq!((code, data.as_str()), (0, "green"), "{program}: {err}");

        // helm uninstalls what we installed: the objects, then every record.
        let (ok, out, err) = helm(&cluster, program, &["uninstall", "demo", "-n", &ns]).await;
        assert!(ok, "{program} uninstall: {out}{err}");
        let left = store.history("demo").await.expect("lists");
        assert!(left.is_empty(), "{program}: records left after uninstall");
        let (code, _, _) = cluster
            .kubectl(&["get", "configmap", "demo-settings", "-n", &ns], None)
            .await;
        assert_ne!(code, 0, "{program}: the ConfigMap outlived the uninstall");
    }
}

/// The JSON inside a storage Secret, as helm wrote it.
fn stored_json(secret: &Secret) -> Vec<u8> {
    let text = &secret.data.as_ref().expect("data")["release"].0;
    let gz = STANDARD.decode(text).expect("base64");
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .expect("gzip");
    json
}

fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (common < a.len().max(b.len())).then_some(common)
}

fn excerpt(bytes: &[u8], at: usize) -> String {
    let from = at.saturating_sub(120);
    let to = (at + 120).min(bytes.len());
    String::from_utf8_lossy(&bytes[from.min(to)..to]).into_owned()
}

#[tokio::test]
async fn a_helm_installed_release_reads_back_byte_for_byte_and_is_adopted() {
    let test = "a_helm_installed_release_reads_back_byte_for_byte_and_is_adopted";
    let programs = oracles(test);
    let Some(chart) = podinfo_chart() else {
        return;
    };
    if programs.is_empty() {
        return;
    }
    let chart = chart.to_str().expect("a UTF-8 path");
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    for program in programs {
        let ns = format!("adopt-{program}");
        namespace(&client, &ns).await;
        helm_ok(
            &cluster,
            program,
            &[
                "install",
                "podinfo",
                chart,
                "-n",
                &ns,
                "--set",
                "replicaCount=2",
            ],
        )
        .await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let secret = secrets
            .get("sh.helm.release.v1.podinfo.v1")
            .await
            .expect("helm stored revision 1");
        assert_eq!(secret.type_.as_deref(), Some(release::SECRET_TYPE));
        let labels = secret.metadata.labels.clone().expect("labels");
        for (key, want) in [
            ("name", "podinfo"),
            ("owner", "helm"),
            ("status", "deployed"),
            ("version", "1"),
        ] {
            assert_eq!(
                labels.get(key).map(String::as_str),
                Some(want),
                "{program}: label {key}"
            );
        }
        // helm install creates the record pending, then updates it.
        assert!(labels.contains_key("modifiedAt"), "{program}: {labels:?}");

        let helm_json_bytes = stored_json(&secret);
        let text = &secret.data.as_ref().expect("data")["release"].0;
        let decoded = release::decode("v1", text).expect("helm's record decodes");
        let reencoded = release::to_go_json(&decoded).expect("encodes");
        if let Some(at) = first_difference(&reencoded, &helm_json_bytes) {
            panic!(
                "{program}: our JSON differs from helm's at byte {at}:\n ours: {}\nhelm's: {}",
                excerpt(&reencoded, at),
                excerpt(&helm_json_bytes, at)
            );
        }
        assert_eq!(decoded.status(), Status::Deployed);
        assert_eq!(
            decoded.config,
            Map::from_iter([("replicaCount".to_owned(), json!(2))])
        );
        assert!(
            !decoded.hooks.is_empty(),
            "{program}: podinfo has test hooks"
        );

        // Adopt: revision 2 from revision 1, as the controller's upgrade would.
        let store = ReleaseStore::new(client.clone(), &ns);
        let last = store
            .last("podinfo")
            .await
            .expect("readable")
            .expect("a release");
        assert_eq!(last.release, decoded);
        let mut next = last.release.clone();
        next.version = 2;
        next.config = Map::from_iter([("replicaCount".to_owned(), json!(3))]);
        let info = next.info.as_mut().expect("info");
        info.last_deployed = Some(now());
        info.status = Status::PendingUpgrade;
        info.description = "Preparing upgrade".into();
        let stored = store.create(&next, 10).await.expect("revision 2 is stored");
        store
            .mark_deployed(stored, "Upgrade complete")
            .await
            .expect("revision 2 is deployed");
        assert_eq!(
            history(&cluster, program, &ns, "podinfo").await,
            vec![
                entry(1, "superseded", "Install complete"),
                entry(2, "deployed", "Upgrade complete"),
            ],
            "{program}"
        );
        let values = helm_json(
            &cluster,
            program,
            &["get", "values", "podinfo", "-n", &ns, "-o", "json"],
        )
        .await;
        assert_eq!(values, json!({"replicaCount": 3}), "{program}");
        let old = helm_json(
            &cluster,
            program,
            &[
                "get",
                "values",
                "podinfo",
                "-n",
                &ns,
                "--revision",
                "1",
                "-o",
                "json",
            ],
        )
        .await;
        assert_eq!(old, json!({"replicaCount": 2}), "{program}");
        let hooks = helm_ok(&cluster, program, &["get", "hooks", "podinfo", "-n", &ns]).await;
        assert!(hooks.contains("helm.sh/hook"), "{program}: {hooks}");
        // Helm's update relabels: status follows the record, modifiedAt
        // replaces createdAt.
        let v1 = secrets
            .get("sh.helm.release.v1.podinfo.v1")
            .await
            .expect("still there");
        let labels = v1.metadata.labels.expect("labels");
        assert_eq!(labels.get("status").map(String::as_str), Some("superseded"));
        assert!(
            labels.contains_key("modifiedAt") && !labels.contains_key("createdAt"),
            "{labels:?}"
        );
    }
}

#[tokio::test]
async fn a_release_left_pending_is_unlocked_as_flux_does() {
    let programs = oracles("a_release_left_pending_is_unlocked_as_flux_does");
    if programs.is_empty() {
        return;
    }
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    for program in programs {
        let ns = format!("pending-{program}");
        namespace(&client, &ns).await;
        let store = ReleaseStore::new(client.clone(), &ns);
        assert_eq!(
            store.unlock("demo").await.expect("no release is fine"),
            None
        );
        let v1 = demo(&ns, 1, Status::PendingInstall, "green");
        kubectl_apply(&cluster, &v1.manifest).await;
        let stored = store.create(&v1, 10).await.expect("v1 is stored");
        store
            .mark_deployed(stored, "Install complete")
            .await
            .expect("deployed");
        assert_eq!(
            store.unlock("demo").await.expect("reads"),
            None,
            "deployed is not locked"
        );
        // A crash mid-upgrade leaves revision 2 pending.
        store
            .create(&demo(&ns, 2, Status::PendingUpgrade, "red"), 10)
            .await
            .expect("v2 is stored");
        let chart = demo_chart(cluster.scratch());
        let upgrade = taking_over(
            program,
            &["upgrade", "demo", &chart, "-n", &ns, "--set", "color=red"],
        );
        let (ok, out, err) = helm(&cluster, program, &upgrade).await;
        assert!(
            !ok,
            "{program} upgrade should refuse a pending release: {out}"
        );
        assert!(
            err.contains("another operation (install/upgrade/rollback) is in progress"),
            "{program}: {err}"
        );

        let unlocked = store.unlock("demo").await.expect("unlocks");
        assert_eq!(
            unlocked,
            Some(Unlocked {
                version: 2,
                was: Status::PendingUpgrade
            })
        );
        assert_eq!(
            history(&cluster, program, &ns, "demo").await,
            vec![
                entry(1, "deployed", "Install complete"),
                entry(
                    2,
                    "failed",
                    "Release unlocked from stale 'pending-upgrade' state"
                ),
            ],
            "{program}"
        );
        assert_eq!(store.unlock("demo").await.expect("reads"), None);
        helm_ok(&cluster, program, &upgrade).await;
        assert_eq!(
            history(&cluster, program, &ns, "demo").await[2],
            entry(3, "deployed", "Upgrade complete"),
            "{program}"
        );
    }
}

#[tokio::test]
async fn max_history_prunes_around_the_deployed_revision_and_uninstall_records() {
    let programs = oracles("max_history_prunes_around_the_deployed_revision_and_uninstall_records");
    if programs.is_empty() {
        return;
    }
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    for program in programs {
        let ns = format!("prune-{program}");
        namespace(&client, &ns).await;
        let store = ReleaseStore::new(client.clone(), &ns);
        let stored = store
            .create(&demo(&ns, 1, Status::PendingInstall, "green"), 2)
            .await
            .expect("v1");
        store
            .mark_deployed(stored, "Install complete")
            .await
            .expect("deployed");
        for version in 2..=4 {
            let stored = store
                .create(&demo(&ns, version, Status::PendingUpgrade, "red"), 2)
                .await
                .expect("stored");
            store
                .mark_failed(stored, "Upgrade failed: boom")
                .await
                .expect("failed");
        }
        // Keeping 2 with v4: v1 is the last deployed, so v2 and v3 went.
        assert_eq!(
            history(&cluster, program, &ns, "demo").await,
            vec![
                entry(1, "deployed", "Install complete"),
                entry(4, "failed", "Upgrade failed: boom"),
            ],
            "{program}"
        );

        let kept = store
            .uninstall("demo", true, OffsetDateTime::now_utc())
            .await
            .expect("recorded");
        assert_eq!(kept, vec![4]);
        let listed = helm_json(
            &cluster,
            program,
            &["list", "-n", &ns, "--uninstalled", "-o", "json"],
        )
        .await;
        assert_eq!(
            listed[0]["status"],
            json!("uninstalled"),
            "{program}: {listed}"
        );
        let status = helm_json(
            &cluster,
            program,
            &["status", "demo", "-n", &ns, "-o", "json"],
        )
        .await;
        assert!(
            status
                .pointer("/info/deleted")
                .and_then(Value::as_str)
                .is_some_and(|d| d.starts_with('2')),
            "{program}: {status}"
        );

        let deleted = store
            .uninstall("demo", false, OffsetDateTime::now_utc())
            .await
            .expect("purged");
        assert_eq!(deleted, vec![1, 4]);
        let (found, out, err) = helm(&cluster, program, &["history", "demo", "-n", &ns]).await;
        assert!(!found && err.contains("not found"), "{program}: {out}{err}");
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let left = secrets.list(&Default::default()).await.expect("lists");
        assert!(left.items.is_empty(), "{program}: records left after purge");
    }
}

/// The store on its own (no helm needed): what Helm's storage driver would
/// leave in the Secrets, and the errors a concurrent writer meets.
#[tokio::test]
async fn the_store_keeps_helms_labels_and_refuses_stale_writes() {
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    let ns = "store";
    namespace(&client, ns).await;
    let store = ReleaseStore::new(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    assert_eq!(store.last("demo").await.expect("empty is fine"), None);
    let err = store
        .history("demo,owner!=helm")
        .await
        .expect_err("bad name");
    assert!(
        matches!(err, release::ReleaseError::InvalidName { .. }),
        "{err}"
    );

    let mut v1 = demo(ns, 1, Status::PendingInstall, "green");
    v1.labels.insert("team".into(), "web".into());
    let stored = store.create(&v1, 0).await.expect("v1");
    let secret = secrets
        .get("sh.helm.release.v1.demo.v1")
        .await
        .expect("stored");
    assert_eq!(secret.type_.as_deref(), Some(release::SECRET_TYPE));
    let labels = secret.metadata.labels.clone().expect("labels");
    assert_eq!(
        labels.get("status").map(String::as_str),
        Some("pending-install")
    );
    assert_eq!(labels.get("team").map(String::as_str), Some("web"));
    assert!(labels.contains_key("createdAt"), "{labels:?}");
    let managers: Vec<_> = secret
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec![release::FIELD_MANAGER.to_owned()]);

    let err = store.create(&v1, 0).await.expect_err("v1 exists");
    assert!(matches!(err, release::ReleaseError::Exists { .. }), "{err}");
    let deployed = store
        .mark_deployed(stored.clone(), "Install complete")
        .await
        .expect("deployed");
    // `stored` is now stale: its resourceVersion predates the update.
    let err = store.update(&stored).await.expect_err("stale");
    assert!(
        matches!(err, release::ReleaseError::Changed { .. }),
        "{err}"
    );
    let read = store.deployed("demo").await.expect("reads").expect("one");
    assert_eq!(read, deployed, "the stored revision reads back as written");
    assert_eq!(
        read.release.labels.get("team").map(String::as_str),
        Some("web")
    );

    let v2 = store
        .create(&demo(ns, 2, Status::PendingUpgrade, "red"), 0)
        .await
        .expect("v2");
    store
        .mark_deployed(v2, "Upgrade complete")
        .await
        .expect("v2 deployed");
    let statuses: Vec<_> = store
        .history("demo")
        .await
        .expect("reads")
        .iter()
        .map(|s| (s.release.version, s.release.status()))
        .collect();
    assert_eq!(
        statuses,
        vec![(1, Status::Superseded), (2, Status::Deployed)]
    );
    let v1 = secrets
        .get("sh.helm.release.v1.demo.v1")
        .await
        .expect("kept");
    let labels = v1.metadata.labels.expect("labels");
    assert_eq!(labels.get("status").map(String::as_str), Some("superseded"));
    assert!(labels.contains_key("modifiedAt") && !labels.contains_key("createdAt"));

    // A record that is not Helm's is skipped, as helm skips it.
    let junk = Secret {
        metadata: ObjectMeta {
            name: Some("sh.helm.release.v1.demo.v9".into()),
            labels: Some(
                [("owner", "helm"), ("name", "demo")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        string_data: Some([("release".to_owned(), "%%%".to_owned())].into()),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &junk)
        .await
        .expect("junk stored");
    let last = store.last("demo").await.expect("reads").expect("some");
    assert_eq!(last.release.version, 2);
}
