//! Events are one set of objects under two APIs, as on a real cluster: what
//! a controller records through events.k8s.io/v1 (kube-rs's `Recorder`,
//! client-go's new recorder) is what `kubectl get events` and `kubectl
//! describe` read through core `v1`, and the other way round; `kubectl
//! events` lists them all.

use crate::common::TestSandbox;
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::api::{Api, ListParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::Value;

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  color: blue
";

const CORE_EVENT: &str = "\
apiVersion: v1
kind: Event
metadata:
  name: settings.by-hand
  namespace: default
involvedObject:
  apiVersion: v1
  kind: ConfigMap
  name: settings
  namespace: default
reason: EditedByHand
message: an operator wrote this through core v1
type: Warning
source:
  component: operator
count: 1
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_recorded_through_either_api_are_read_through_both() {
    let sb = TestSandbox::start("events").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    let client = sb.client().await;
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    let configmap = configmaps.get("settings").await.expect("configmap");

    // A controller records through events.k8s.io/v1.
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "driftless-test".into(),
            instance: None,
        },
    );
    recorder
        .publish(
            &Event {
                type_: EventType::Normal,
                reason: "Reconciled".into(),
                note: Some("applied revision main@sha1:abc".into()),
                action: "Reconcile".into(),
                secondary: None,
            },
            &kube::Resource::object_ref(&configmap, &()),
        )
        .await
        .expect("publish");

    // kubectl reads it through core v1, with core's field names.
    let out = sb
        .kubectl(&[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            "involvedObject.name=settings,reason=Reconciled",
            "-o",
            "json",
        ])
        .run()
        .await
        .ok();
    let items = out.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{items:#?}");
    let core: &Value = &items[0];
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "applied revision main@sha1:abc");
    assert_eq!(core["involvedObject"]["kind"], "ConfigMap");
    assert_eq!(core["reportingComponent"], "driftless-test");
    assert!(core.get("note").is_none() && core.get("regarding").is_none());
    let described = sb
        .kubectl(&["describe", "configmap", "settings", "-n", "default"])
        .run()
        .await
        .ok();
    assert!(
        described.stdout.contains("Reconciled")
            && described.stdout.contains("applied revision main@sha1:abc"),
        "{}",
        described.stdout
    );

    // What is written through core v1 is read through events.k8s.io/v1.
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CORE_EVENT)
        .run()
        .await
        .ok();
    let new: Api<NewEvent> = Api::namespaced(client, "default");
    let listed = new
        .list(&ListParams::default().fields("regarding.name=settings,reason=EditedByHand"))
        .await
        .expect("list events.k8s.io");
    assert_eq!(listed.items.len(), 1);
    let event = &listed.items[0];
    assert_eq!(
        event.note.as_deref(),
        Some("an operator wrote this through core v1")
    );
    assert_eq!(
        event.regarding.as_ref().and_then(|r| r.name.as_deref()),
        Some("settings")
    );
    assert_eq!(event.deprecated_count, Some(1));
    let all = new.list(&ListParams::default()).await.expect("list");
    assert_eq!(all.items.len(), 2, "one set of Events under both APIs");

    // `kubectl events` shows both, oldest first.
    let out = sb
        .kubectl(&["events", "-n", "default", "--for", "configmap/settings"])
        .run()
        .await
        .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[0].starts_with("LAST SEEN"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Reconciled") && out.stdout.contains("EditedByHand"),
        "{}",
        out.stdout
    );
}
