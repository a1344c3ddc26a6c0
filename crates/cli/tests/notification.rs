//! `create alert-provider|alert|receiver`, `get alert-providers|alerts|
//! receivers` and `suspend`/`resume` of them, against the sandbox.

use crate::common::{TestSandbox, ready_condition};
use driftless_api::{Alert, Provider, ProviderType, Receiver, ReceiverType};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn notification_objects_are_created_listed_and_suspended() {
    let sb = TestSandbox::start("notification").await;
    sb.driftless(&["install", "--no-wait"]).await.ok();
    sb.kubectl(&["create", "namespace", "flux-system"], None)
        .await
        .ok();

    let out = sb
        .driftless(&[
            "create",
            "alert-provider",
            "hooks",
            "--type=generic-hmac",
            "--secret-ref=hook-secret",
            "--export",
        ])
        .await
        .ok();
    let exported: Provider =
        serde_saphyr::from_str(out.stdout.strip_prefix("---\n").expect("a YAML document"))
            .expect("a Provider");
    assert_eq!(exported.spec.type_, ProviderType::GenericHmac);
    assert!(out.stdout.contains("type: generic-hmac"), "{out:#?}");

    sb.driftless(&[
        "create",
        "alert-provider",
        "hooks",
        "--type=generic-hmac",
        "--secret-ref=hook-secret",
    ])
    .await
    .ok();
    sb.driftless(&[
        "create",
        "alert",
        "on-call",
        "--provider-ref=hooks",
        "--event-source=Kustomization/*,GitRepository/fleet.flux-system",
        "--event-severity=error",
    ])
    .await
    .ok();
    sb.driftless(&[
        "create",
        "receiver",
        "github",
        "--type=github",
        "--event=ping,push",
        "--secret-ref=webhook-token",
        "--resource=GitRepository/fleet",
        "--no-wait",
    ])
    .await
    .ok();

    let client = sb.client().await;
    let alert = Api::<Alert>::namespaced(client.clone(), "flux-system")
        .get("on-call")
        .await
        .expect("the Alert exists");
    assert_eq!(alert.spec.event_sources.len(), 2);
    assert_eq!(alert.spec.event_sources[0].name, "*");
    assert_eq!(
        alert.spec.event_sources[1].namespace.as_deref(),
        Some("flux-system")
    );
    let receivers = Api::<Receiver>::namespaced(client.clone(), "flux-system");
    let receiver = receivers.get("github").await.expect("the Receiver exists");
    assert_eq!(receiver.spec.type_, ReceiverType::Github);
    assert_eq!(
        receiver.spec.events.as_deref(),
        Some(&["ping".to_string(), "push".to_string()][..])
    );

    let out = sb.driftless(&["get", "alerts"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SUSPENDED", "AGE"],
        "{out:#?}"
    );
    assert!(lines[1].starts_with("on-call"), "{out:#?}");

    receivers
        .patch_status(
            "github",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "conditions": [ready_condition("True", "Succeeded", "Receiver initialized for path: /hook/abc")],
                "webhookPath": "/hook/abc",
            }})),
        )
        .await
        .expect("status written");
    let out = sb.driftless(&["get", "receivers"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SUSPENDED", "READY", "MESSAGE", "AGE"],
        "{out:#?}"
    );
    assert!(
        lines[1].contains("Receiver initialized for path: /hook/abc"),
        "{out:#?}"
    );

    sb.driftless(&["suspend", "alert", "on-call"]).await.ok();
    let alert = Api::<Alert>::namespaced(client.clone(), "flux-system")
        .get("on-call")
        .await
        .expect("the Alert exists");
    assert!(alert.spec.suspend);
    // Nothing reconciles Alerts: resume returns without waiting.
    sb.driftless(&["resume", "alert", "on-call"]).await.ok();
    let alert = Api::<Alert>::namespaced(client, "flux-system")
        .get("on-call")
        .await
        .expect("the Alert exists");
    assert!(!alert.spec.suspend);
}
