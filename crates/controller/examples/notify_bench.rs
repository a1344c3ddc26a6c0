//! Notifications and webhooks, measured: how long a signed GitHub push
//! takes through a Receiver to the change applied in the cluster (p50/p99
//! over `BENCH_PUSHES` pushes, default 100), and how fast one event fans
//! out to 100 Alerts on one generic provider (a local HTTP server counting
//! requests).
//!
//! Run `cargo run --release -p driftless-controller --example notify_bench`.
//! Needs `git` on the PATH. The controller runs in this process. Flux's
//! answer to the first figure is the same hook path; without a webhook the
//! latency is the poll interval (Flux's default: 1 minute).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use driftless_api::{GitRepository, Kustomization};
use driftless_testkit::cluster::{TestCluster, eventually};
use driftless_testkit::{Fixture, GitDaemon};
use hmac::{KeyInit, Mac};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use serde_json::json;

const NS: &str = "default";
const TOKEN: &str = "bench-token";
const ALERTS: usize = 100;
const EVENTS: usize = 100;

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

async fn create<K>(client: &kube::Client, object: serde_json::Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let object: K = serde_json::from_value(object).expect("a valid object");
    Api::<K>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &object)
        .await
        .expect("created");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let pushes: usize = std::env::var("BENCH_PUSHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in driftless_api::crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let served = tempfile::tempdir().expect("a temp dir");
    let fixture = Fixture::new(served.path(), "app");
    fixture.write("deploy/cm.yaml", &configmap(0));
    fixture.commit("0");
    let daemon = GitDaemon::start(served.path());

    let (receiver_addr, events_addr) = (free_addr(), free_addr());
    let storage = tempfile::tempdir().expect("a temp dir");
    let mut options = driftless_controller::ControllerOptions::new(storage.path());
    options.artifact_listen = "127.0.0.1:0".parse().expect("loopback");
    options.receiver_listen = Some(receiver_addr);
    options.events_listen = Some(events_addr);
    let kubeconfig =
        kube::config::Kubeconfig::read_from(cluster.kubeconfig_path()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    tokio::spawn(driftless_controller::run(
        config,
        options,
        std::future::pending(),
    ));

    let mut source = GitRepository::test("app")
        .in_namespace(NS)
        .url(&daemon.url("app"))
        .branch("main");
    source.spec.interval = "1h".into();
    create::<GitRepository>(&client, serde_json::to_value(&source).expect("json")).await;
    let mut ks = Kustomization::test("app")
        .in_namespace(NS)
        .git_source("app")
        .path("./deploy");
    ks.spec.interval = "1h".into();
    create::<Kustomization>(&client, serde_json::to_value(&ks).expect("json")).await;
    create::<Secret>(
        &client,
        json!({"metadata": {"name": "hook", "namespace": NS}, "stringData": {"token": TOKEN}}),
    )
    .await;
    create::<driftless_api::Receiver>(
        &client,
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "github", "namespace": NS},
            "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "hook"},
                     "resources": [{"kind": "GitRepository", "name": "app"}]}
        }),
    )
    .await;
    let receivers: Api<driftless_api::Receiver> = Api::namespaced(client.clone(), NS);
    let path = eventually("the webhook path", || async {
        let r = receivers.get("github").await.map_err(|e| e.to_string())?;
        r.status
            .and_then(|s| s.webhook_path)
            .ok_or("none yet".to_owned())
    })
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let value = |cm: Option<ConfigMap>| {
        cm.and_then(|c| c.data)
            .and_then(|d| d.get("round").cloned())
    };
    eventually("the first revision applied", || async {
        (value(
            configmaps
                .get_opt("bench")
                .await
                .map_err(|e| e.to_string())?,
        )
        .as_deref()
            == Some("0"))
        .then_some(())
        .ok_or("not yet".to_owned())
    })
    .await;

    let http = reqwest::Client::new();
    let url = format!("http://{receiver_addr}{path}");
    let mut latencies = Vec::with_capacity(pushes);
    for round in 1..=pushes {
        fixture.write("deploy/cm.yaml", &configmap(round));
        let commit = fixture.commit(&round.to_string());
        let body =
            serde_json::to_vec(&json!({"ref": "refs/heads/main", "after": commit})).expect("json");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).expect("key");
        mac.update(&body);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let started = Instant::now();
        let status = http
            .post(&url)
            .header("X-GitHub-Event", "push")
            .header("X-Hub-Signature-256", signature)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the receiver answers")
            .status();
        assert_eq!(status.as_u16(), 200, "the push was accepted");
        let want = round.to_string();
        loop {
            if value(configmaps.get_opt("bench").await.expect("get")).as_deref()
                == Some(want.as_str())
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round} not applied"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "| push to applied via a Receiver ({pushes} pushes) | p50 {:.0} ms, p99 {:.0} ms | Flux | same hook path; 1m poll without |",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );

    // Fan-out: 100 Alerts on one generic provider.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let provider_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    create::<driftless_api::Provider>(
        &client,
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
            "metadata": {"name": "sink", "namespace": NS},
            "spec": {"type": "generic", "address": format!("http://{provider_addr}/hook")}
        }),
    )
    .await;
    for i in 0..ALERTS {
        create::<driftless_api::Alert>(
            &client,
            json!({
                "apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
                "metadata": {"name": format!("alert-{i}"), "namespace": NS},
                "spec": {"providerRef": {"name": "sink"},
                         "eventSources": [{"kind": "HelmRelease", "name": "*"}]}
            }),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    for i in 0..EVENTS {
        let event = json!({
            "involvedObject": {"kind": "HelmRelease", "namespace": NS, "name": format!("release-{i}"),
                               "apiVersion": "helm.toolkit.fluxcd.io/v2"},
            "severity": "info", "timestamp": "2026-12-02T10:00:00Z",
            "message": format!("upgrade {i} succeeded"), "reason": "UpgradeSucceeded",
            "reportingController": "helm-controller"
        });
        let status = http
            .post(format!("http://{events_addr}/"))
            .header("Content-Type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .expect("the events address answers")
            .status();
        assert_eq!(status.as_u16(), 202);
    }
    let want = ALERTS * EVENTS;
    while received.load(Ordering::Relaxed) < want && started.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    let got = received.load(Ordering::Relaxed);
    println!(
        "| fan-out: {EVENTS} events x {ALERTS} Alerts on one generic provider | {got}/{want} delivered in {:.2} s ({:.0}/s) | - | - |",
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );
}

fn configmap(round: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\n  namespace: default\ndata:\n  round: \"{round}\"\n"
    )
}
