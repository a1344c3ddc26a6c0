//! Notifications out and webhooks in, end to end: a GitHub-format push
//! with its signature, sent to a Receiver, makes the GitRepository fetch
//! and the Kustomization apply at once; a failing Kustomization produces
//! exactly one alert at a generic provider (a local HTTP server checking
//! the request), and the provider's token never shows in the cluster.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::world::{NS, World, configmap};
use axum::body::Bytes;
use axum::http::HeaderMap;
use driftless_api::{Alert, Provider, Receiver};
use driftless_testkit::cluster::eventually;
use hmac::{KeyInit, Mac};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const TOKEN: &str = "s3cr3t-webhook-token-do-not-leak";

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

async fn secret(world: &World, name: &str, data: serde_json::Value) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "stringData": data,
    }))
    .expect("a Secret");
    Api::<Secret>::namespaced(world.env.client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
}

async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> u16 {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_reconciles_the_source_and_the_kustomization_at_once() {
    let receiver_addr = free_addr();
    let world = World::start_with(|options| options.receiver_listen = Some(receiver_addr)).await;
    world
        .fixture
        .write("hooked/cm.yaml", &configmap("hooked", "one"));
    let first = world.fixture.commit("one");
    // Polling once an hour: only the webhook can bring the next change in
    // quickly. Committed first, so the fetch the spec change triggers (or a
    // poll before it) sees the first commit whatever the timing.
    world
        .sources()
        .patch(
            "fleet",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"interval": "1h"}})),
        )
        .await
        .expect("interval");
    world
        .create(World::kustomization("hooked", "./hooked"))
        .await;
    world.wait_for("hooked", "True", &first).await;

    secret(&world, "webhook-token", json!({"token": TOKEN})).await;
    let receiver: Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": "github", "namespace": NS},
        "spec": {
            "type": "github",
            "events": ["push"],
            "secretRef": {"name": "webhook-token"},
            "resources": [{"kind": "GitRepository", "name": "fleet"}]
        }
    }))
    .expect("a Receiver");
    let receivers: Api<Receiver> = Api::namespaced(world.env.client.clone(), NS);
    receivers
        .create(&PostParams::default(), &receiver)
        .await
        .expect("created");
    let path = eventually("the webhook path", || async {
        let r = receivers.get("github").await.map_err(|e| e.to_string())?;
        r.status
            .and_then(|s| s.webhook_path)
            .ok_or("no path yet".to_owned())
    })
    .await;
    let url = format!("http://{receiver_addr}{path}");

    world
        .fixture
        .write("hooked/cm.yaml", &configmap("hooked", "two"));
    let second = world.fixture.commit("two");
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "after": second,
        "repository": {"full_name": "org/fleet"},
        "commits": [{"id": second, "message": "two"}]
    }))
    .expect("json");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).expect("key");
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));

    // Wrong signature, wrong event, unknown path: refused, nothing requested.
    let bad = post(
        &url,
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", "sha256=00"),
            ("Content-Type", "application/json"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(bad, 400);
    let other_event = post(
        &url,
        &[
            ("X-GitHub-Event", "issues"),
            ("X-Hub-Signature-256", &signature),
            ("Content-Type", "application/json"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(other_event, 400);
    let unknown = post(
        &format!("http://{receiver_addr}/hook/0000"),
        &[("X-GitHub-Event", "push")],
        body.clone(),
    )
    .await;
    assert_eq!(unknown, 404);
    let repo = world.sources().get("fleet").await.expect("source");
    assert!(
        !repo
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt"),
        "a refused call requested a reconcile"
    );

    let started = std::time::Instant::now();
    let ok = post(
        &url,
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature),
            ("Content-Type", "application/json"),
        ],
        body,
    )
    .await;
    assert_eq!(ok, 200);
    world.wait_for("hooked", "True", &second).await;
    world.wait_color("hooked", Some("two")).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "push to applied took {:?}",
        started.elapsed()
    );
}

/// A local stand-in for a webhook service: records each request.
async fn provider_server() -> (SocketAddr, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    let seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            async move {
                record.lock().expect("lock").push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_kustomization_sends_one_alert_and_no_secret_leaks() {
    let metrics_addr = free_addr();
    let world = World::start_with(|options| options.metrics_listen = Some(metrics_addr)).await;
    let (addr, seen) = provider_server().await;
    secret(
        &world,
        "hook",
        json!({
            "address": format!("http://{addr}/hook"),
            "headers": format!("Authorization: Bearer {TOKEN}\n"),
        }),
    )
    .await;
    let provider: Provider = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Provider",
        "metadata": {"name": "hook", "namespace": NS},
        "spec": {"type": "generic", "secretRef": {"name": "hook"}}
    }))
    .expect("a Provider");
    Api::<Provider>::namespaced(world.env.client.clone(), NS)
        .create(&PostParams::default(), &provider)
        .await
        .expect("created");
    let alert: Alert = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1beta3",
        "kind": "Alert",
        "metadata": {"name": "on-call", "namespace": NS},
        "spec": {
            "providerRef": {"name": "hook"},
            "eventSeverity": "error",
            "eventSources": [{"kind": "Kustomization", "name": "*"}]
        }
    }))
    .expect("an Alert");
    Api::<Alert>::namespaced(world.env.client.clone(), NS)
        .create(&PostParams::default(), &alert)
        .await
        .expect("created");
    // Give the watches a moment to see the Alert and the Provider.
    tokio::time::sleep(Duration::from_millis(500)).await;

    world
        .fixture
        .write("broken/kustomization.yaml", "resources:\n- missing.yaml\n");
    let commit = world.fixture.commit("broken");
    // Wait for the source to carry the commit, so the first failure is this one.
    eventually("the source has the broken commit", || async {
        let repo = world
            .sources()
            .get("fleet")
            .await
            .map_err(|e| e.to_string())?;
        repo.status
            .and_then(|s| s.artifact)
            .filter(|a| a.revision.ends_with(&commit))
            .map(drop)
            .ok_or("not yet".to_owned())
    })
    .await;
    world
        .create(World::kustomization("broken", "./broken"))
        .await;
    world.wait_for("broken", "False", &commit).await;
    let (headers, body) = eventually("the alert", || async {
        seen.lock()
            .expect("lock")
            .iter()
            .find(|(_, body)| String::from_utf8_lossy(body).contains("BuildFailed"))
            .cloned()
            .ok_or("no alert yet".to_owned())
    })
    .await;
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {TOKEN}").as_str()),
        "the Secret's headers are sent"
    );
    let event: serde_json::Value = serde_json::from_slice(&body).expect("Flux's event JSON");
    assert_eq!(event["involvedObject"]["kind"], "Kustomization");
    assert_eq!(event["involvedObject"]["name"], "broken");
    assert_eq!(event["severity"], "error");
    assert_eq!(event["reason"], "BuildFailed");
    assert_eq!(event["reportingController"], "kustomize-controller");
    assert!(
        event["metadata"]["revision"]
            .as_str()
            .is_some_and(|r| r.ends_with(&commit)),
        "{event}"
    );

    // The same failure again is one alert, not two (rate limited as Flux does).
    world
        .kustomizations()
        .patch(
            "broken",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "again"}}}),
            ),
        )
        .await
        .expect("request");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alerts = seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|(_, body)| String::from_utf8_lossy(body).contains("BuildFailed"))
        .count();
    assert_eq!(alerts, 1, "one failure, one alert");
    let (_, metrics) =
        driftless_testkit::cluster::http_get(&format!("http://{metrics_addr}/metrics"))
            .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains(r#"driftless_notifications{type="generic",result="sent"} 1"#),
        "{metrics}"
    );

    // The token is nowhere in the cluster's events or statuses.
    let events = Api::<Event>::namespaced(world.env.client.clone(), NS)
        .list(&ListParams::default())
        .await
        .expect("events");
    let sources = world
        .sources()
        .list(&ListParams::default())
        .await
        .expect("sources");
    let kustomizations = world
        .kustomizations()
        .list(&ListParams::default())
        .await
        .expect("ks");
    for text in [
        serde_json::to_string(&events.items).expect("json"),
        serde_json::to_string(&sources.items).expect("json"),
        serde_json::to_string(&kustomizations.items).expect("json"),
    ] {
        assert!(!text.contains(TOKEN), "the provider token leaked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_address_takes_flux_events_and_answers_as_flux_does() {
    let events_addr = free_addr();
    let _world = World::start_with(|options| options.events_listen = Some(events_addr)).await;
    let url = format!("http://{events_addr}/");
    let event = serde_json::to_vec(&json!({
        "involvedObject": {"kind": "HelmRelease", "namespace": NS, "name": "podinfo",
                           "apiVersion": "helm.toolkit.fluxcd.io/v2"},
        "severity": "info",
        "timestamp": "2026-12-02T10:00:00Z",
        "message": "Helm install succeeded",
        "reason": "InstallSucceeded",
        "reportingController": "helm-controller"
    }))
    .expect("json");
    assert_eq!(
        post(&url, &[("Content-Type", "application/json")], event.clone()).await,
        202
    );
    assert_eq!(
        post(&url, &[("Content-Type", "application/json")], event).await,
        429,
        "a duplicate within the rate-limit interval"
    );
    assert_eq!(post(&url, &[], b"{not json".to_vec()).await, 400);
    let oversized = vec![b' '; driftless_notify::max_body_bytes() + 10];
    assert_eq!(post(&url, &[], oversized).await, 413);
}
