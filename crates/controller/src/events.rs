//! Kubernetes Events on our objects, as `core/v1` Events so that
//! `kubectl get events`, `kubectl describe` and `driftless events` see them
//! on every API server.
//!
//! A repeat of the same reason and message on the same object bumps the
//! existing Event's count instead of creating another, as client-go's
//! recorder does, so a failing reconcile every minute stays one line.

use std::collections::HashMap;
use std::sync::Mutex;

use driftless_api::managers;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};

use crate::notification::outbox::{Outbox, Outgoing};

/// `Normal` or `Warning`, Kubernetes' two event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// (namespace, involved object's uid, reason).
type EventKey = (String, String, String);

/// The last Event written for a key: its message, name and count.
struct LastEvent {
    message: String,
    name: String,
    count: i32,
}

/// Writes Events; cheap to clone behind an `Arc`.
pub struct Recorder {
    client: Client,
    component: String,
    /// Where the events also go, to the Alerts that select them.
    outbox: Option<Outbox>,
    /// The last Event written per object and reason: a repeat of its
    /// message bumps its count. Keyed without the message, which changes
    /// with every revision, so the cache holds one entry per object and
    /// reason instead of one per message ever sent.
    seen: Mutex<HashMap<EventKey, LastEvent>>,
}

impl Recorder {
    pub fn new(client: Client, component: impl Into<String>) -> Recorder {
        Recorder {
            client,
            component: component.into(),
            outbox: None,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Sends every event to the Alerts too.
    pub fn with_outbox(mut self, outbox: Outbox) -> Recorder {
        self.outbox = Some(outbox);
        self
    }

    /// Records an event on `object` (about the source `revision`, when
    /// known) and hands it to the Alerts. Failing to record is logged,
    /// never fatal: events are a view of the reconcile, not part of it.
    pub async fn publish<K>(
        &self,
        object: &K,
        kind: EventType,
        reason: &str,
        message: &str,
        revision: Option<&str>,
    ) where
        K: Resource<DynamicType = ()>,
    {
        if let Some(outbox) = &self.outbox {
            outbox.send(Outgoing {
                event: flux_event(object, kind, reason, message, revision),
                labels: object.labels().clone(),
            });
        }
        let namespace = object.namespace().unwrap_or_else(|| "default".to_owned());
        let uid = object.uid().unwrap_or_default();
        let key = (namespace.clone(), uid, reason.to_owned());
        let now = Timestamp::now();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let repeat = self
            .seen
            .lock()
            .expect("event cache lock")
            .get(&key)
            .filter(|last| last.message == message)
            .map(|last| (last.name.clone(), last.count));
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({"count": count + 1, "lastTimestamp": Time(now)});
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                self.remember(key, message, name, count + 1);
                return;
            }
        }
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", object.name_any())),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: reference(object),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(kind.as_str().to_owned()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            action: Some(reason.to_owned()),
            reporting_component: Some(self.component.clone()),
            reporting_instance: Some(self.component.clone()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            ..Event::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => self.remember(key, message, created.name_any(), 1),
            Err(error) => tracing::warn!(
                object = %object.name_any(), %namespace, reason, %error,
                "cannot record event"
            ),
        }
    }

    fn remember(&self, key: EventKey, message: &str, name: String, count: i32) {
        let mut seen = self.seen.lock().expect("event cache lock");
        // Bounded even with countless objects coming and going; a fresh
        // table gives the memory back, where `clear` would keep it.
        if seen.len() > 10_000 && !seen.contains_key(&key) {
            *seen = HashMap::new();
        }
        seen.insert(
            key,
            LastEvent {
                message: message.to_owned(),
                name,
                count,
            },
        );
    }
}

/// The event as a Flux controller would post it to notification-controller:
/// the controller named after the object's API group, the revision under
/// `<group>/revision`, and the end of a successful reconcile marked
/// `<group>/commit_status: update`.
fn flux_event<K: Resource<DynamicType = ()>>(
    object: &K,
    kind: EventType,
    reason: &str,
    message: &str,
    revision: Option<&str>,
) -> driftless_notify::Event {
    let api_version = K::api_version(&()).into_owned();
    let group = K::group(&()).into_owned();
    let controller = match group.split('.').next() {
        Some("source") => managers::SOURCE_CONTROLLER,
        Some("notification") => managers::NOTIFICATION_CONTROLLER,
        _ => managers::KUSTOMIZE_CONTROLLER,
    };
    let mut metadata: std::collections::BTreeMap<String, String> = revision
        .map(|r| {
            (
                format!("{group}/{}", driftless_notify::META_REVISION),
                r.to_owned(),
            )
        })
        .into_iter()
        .collect();
    // As Flux's controllers do, the end of a successful reconcile is what
    // commit-status providers report (errors reach them anyway).
    if reason == driftless_api::conditions::reasons::RECONCILIATION_SUCCEEDED {
        metadata.insert(
            format!("{group}/{}", driftless_notify::META_COMMIT_STATUS),
            driftless_notify::META_COMMIT_STATUS_UPDATE.to_owned(),
        );
    }
    driftless_notify::Event {
        involved_object: driftless_notify::InvolvedObject {
            kind: K::kind(&()).into_owned(),
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            uid: object.uid().unwrap_or_default(),
            api_version,
            resource_version: object.resource_version().unwrap_or_default(),
            field_path: String::new(),
        },
        severity: match kind {
            EventType::Normal => driftless_notify::Severity::Info,
            EventType::Warning => driftless_notify::Severity::Error,
        },
        timestamp: time::OffsetDateTime::now_utc(),
        message: message.to_owned(),
        reason: reason.to_owned(),
        metadata,
        reporting_controller: controller.to_owned(),
        reporting_instance: String::new(),
    }
}

fn reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: object.meta().name.clone(),
        namespace: object.meta().namespace.clone(),
        uid: object.meta().uid.clone(),
        resource_version: object.meta().resource_version.clone(),
        field_path: None,
    }
}
