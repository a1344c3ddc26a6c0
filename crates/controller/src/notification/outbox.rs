//! Events out: every event the reconcilers record (and every event other
//! controllers post to the events address) goes to the Alerts that select
//! it and on to their Providers, through the notify crate's bounded
//! dispatcher.
//!
//! A reconcile only puts the event in a bounded queue and never waits on a
//! provider: a slow or failing chat service cannot slow a deploy. Duplicate
//! events are rate limited as Flux does. Provider secrets are read when an
//! event is delivered and never logged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use driftless_api::meta::LocalObjectReference;
use driftless_api::{Alert, EventSeverity, Provider};
use driftless_notify::{
    Admission, AlertFilter, AlertSpec, Dispatcher, DispatcherConfig, DuplicateEventLimiter, Event,
    Notifier, ProviderConfig, ProviderGate, ProviderType, Severity, commit_status_id,
    exclude_internal_metadata, provider_gate,
};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// How long delivery waits for room in the dispatcher's queue before
/// dropping a notification.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// An event and the labels of the object it is about (for `matchLabels`).
pub(crate) struct Outgoing {
    pub event: Event,
    pub labels: BTreeMap<String, String>,
}

/// The sending side, held by the event recorder and the events server.
#[derive(Clone)]
pub(crate) struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    limiter: Arc<DuplicateEventLimiter>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    /// Starts delivery against the Alerts and Providers in the stores.
    pub fn start(
        client: kube::Client,
        alerts: Store<Alert>,
        providers: Store<Provider>,
        metrics: Arc<Metrics>,
    ) -> Outbox {
        let (queue, mut receiver) = mpsc::channel::<Outgoing>(
            // Events waiting for delivery at most; more are dropped and counted.
            driftless_limits::current().queued_notifications.max(1),
        );
        let dispatcher = Dispatcher::start(DispatcherConfig::default());
        metrics.watch_dispatch(dispatcher.metrics());
        tokio::spawn(async move {
            let mut notifiers = Notifiers::default();
            while let Some(outgoing) = receiver.recv().await {
                deliver(
                    &client,
                    &alerts,
                    &providers,
                    &dispatcher,
                    &mut notifiers,
                    outgoing,
                )
                .await;
            }
        });
        Outbox {
            queue,
            limiter: Arc::new(DuplicateEventLimiter::new(
                driftless_notify::DEFAULT_RATE_LIMIT_INTERVAL,
            )),
            metrics,
        }
    }

    /// Queues an event for the Alerts; `false` when it repeats one sent
    /// within the rate-limit interval (Flux answers those 429).
    pub fn send(&self, mut outgoing: Outgoing) -> bool {
        if self.limiter.admit(&outgoing.event) == Admission::Duplicate {
            return false;
        }
        exclude_internal_metadata(&mut outgoing.event);
        if self.queue.try_send(outgoing).is_err() {
            self.metrics.record_event_dropped();
            tracing::warn!(
                "notification queue full; an event was dropped (raise {})",
                driftless_limits::Limit::QueuedNotifications.flag()
            );
        }
        true
    }
}

/// Notifiers already built, by Provider (its resourceVersion included, so
/// an edit takes effect at once) and commit-status key; rebuilt after
/// [`NOTIFIER_TTL`], so a rotated secret is read again. Building one reads
/// the Provider's Secrets and makes an HTTP client: not once per alert.
#[derive(Default)]
struct Notifiers(HashMap<String, (Instant, Notifier)>);

/// How long a built notifier (and the secrets it holds) is reused.
const NOTIFIER_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Built notifiers kept at most; more and the cache starts over.
const NOTIFIERS: usize = 1_000;

impl Notifiers {
    async fn get(
        &mut self,
        client: &kube::Client,
        provider: &Provider,
        event: &Event,
    ) -> Result<Notifier, String> {
        let key = notifier_key(provider, event);
        if let Some((built, notifier)) = self.0.get(&key)
            && built.elapsed() < NOTIFIER_TTL
        {
            return Ok(notifier.clone());
        }
        let notifier = Notifier::new(provider_config(client, provider, event).await?)
            .map_err(|e| e.to_string())?;
        if self.0.len() >= NOTIFIERS {
            self.0.clear();
        }
        self.0.insert(key, (Instant::now(), notifier.clone()));
        Ok(notifier)
    }
}

/// What a notifier is built from, besides the Secrets: the Provider at its
/// resourceVersion and, for commit statuses, the object the status is for.
fn notifier_key(provider: &Provider, event: &Event) -> String {
    let commit_status = provider
        .spec
        .type_
        .as_str()
        .parse::<ProviderType>()
        .is_ok_and(ProviderType::is_commit_status);
    let object = if commit_status {
        format!(
            "{}/{}",
            event.involved_object.kind, event.involved_object.name
        )
    } else {
        String::new()
    };
    format!(
        "{}/{}@{}#{object}",
        provider.namespace().unwrap_or_default(),
        provider.name_any(),
        provider.resource_version().unwrap_or_default()
    )
}

async fn deliver(
    client: &kube::Client,
    alerts: &Store<Alert>,
    providers: &Store<Provider>,
    dispatcher: &Dispatcher,
    notifiers: &mut Notifiers,
    outgoing: Outgoing,
) {
    let Outgoing { event, labels } = outgoing;
    for alert in alerts.state() {
        let filter = AlertFilter::new(alert_spec(&alert));
        if !filter.matches(&event, Some(&labels)) {
            continue;
        }
        let namespace = alert.namespace().unwrap_or_default();
        let name = &alert.spec.provider_ref.name;
        let Some(provider) = providers.get(&ObjectRef::new(name).within(&namespace)) else {
            tracing::warn!(alert = %alert.name_any(), %namespace, provider = %name, "the Alert's Provider does not exist; create it or fix spec.providerRef");
            continue;
        };
        if provider.spec.suspend {
            continue;
        }
        let notifier = match notifiers.get(client, &provider, &event).await {
            Ok(notifier) => notifier,
            Err(problem) => {
                tracing::warn!(provider = %provider.name_any(), %namespace, %problem, "cannot send to the Provider");
                continue;
            }
        };
        if provider_gate(notifier.provider_type(), &event) != ProviderGate::Send {
            continue;
        }
        // This task is itself behind a bounded queue, so it may wait for
        // room: a burst of one event to many Alerts is delivered, not dropped.
        let sent = dispatcher
            .send(&notifier, &filter.notification(&event).event, PATIENCE)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        if let Err(problem) = sent {
            tracing::warn!(provider = %provider.name_any(), %namespace, %problem, "cannot queue a notification");
        }
    }
}

/// The parts of an Alert the notify crate matches on.
fn alert_spec(alert: &Alert) -> AlertSpec {
    let spec = &alert.spec;
    AlertSpec {
        namespace: alert.namespace().unwrap_or_default(),
        event_sources: spec
            .event_sources
            .iter()
            .map(|s| driftless_notify::EventSource {
                kind: s.kind.clone(),
                name: s.name.clone(),
                namespace: s.namespace.clone(),
                match_labels: s.match_labels.clone(),
            })
            .collect(),
        event_severity: match spec.event_severity.unwrap_or_default() {
            EventSeverity::Info => Severity::Info,
            EventSeverity::Error => Severity::Error,
        },
        inclusion_list: spec.inclusion_list.clone().unwrap_or_default(),
        exclusion_list: spec.exclusion_list.clone().unwrap_or_default(),
        event_metadata: spec.event_metadata.clone().unwrap_or_default(),
        summary: spec.summary.clone(),
        suspend: spec.suspend,
    }
}

/// A Provider's spec and secrets as the notify crate takes them. The
/// problem it returns names the Provider's field, never a secret's value.
async fn provider_config(
    client: &kube::Client,
    provider: &Provider,
    event: &Event,
) -> Result<ProviderConfig, String> {
    let spec = &provider.spec;
    let namespace = provider.namespace().unwrap_or_default();
    let provider_type: ProviderType = spec.type_.as_str().parse().map_err(|_| {
        format!(
            "spec.type {} is not supported by driftless yet",
            spec.type_.as_str()
        )
    })?;
    let secret = read_secret(
        client,
        &namespace,
        spec.secret_ref.as_ref(),
        "spec.secretRef",
    )
    .await?;
    let value = |key: &str| secret.get(key).cloned();
    let mut config = ProviderConfig::new(
        provider_type,
        value("address")
            .or_else(|| spec.address.clone())
            .unwrap_or_default(),
    );
    config.channel = spec.channel.clone().unwrap_or_default();
    config.username = value("username")
        .or_else(|| spec.username.clone())
        .unwrap_or_default();
    config.token = value("token");
    config.password = value("password");
    if let Some(headers) = value("headers") {
        config.headers = serde_saphyr::from_str(&headers).map_err(|_| {
            "the `headers` key of spec.secretRef is not a YAML map of strings".to_owned()
        })?;
    }
    config.proxy = value("proxy").or_else(|| spec.proxy.clone());
    if let Some(timeout) = &spec.timeout {
        config.timeout = crate::duration_of("timeout", timeout)?;
    }
    let certs = read_secret(
        client,
        &namespace,
        spec.cert_secret_ref.as_ref(),
        "spec.certSecretRef",
    )
    .await?;
    config.tls.ca_pem = certs.get("ca.crt").map(|v| v.clone().into_bytes());
    config.tls.client_cert_pem = certs.get("tls.crt").map(|v| v.clone().into_bytes());
    config.tls.client_key_pem = certs.get("tls.key").map(|v| v.clone().into_bytes());
    // Flux's default commit status key: the object's kind and name, and
    // the Provider's UID, so two Providers on one repository do not clash.
    config.commit_status = commit_status_id(
        &event.involved_object.kind,
        &event.involved_object.name,
        &provider.uid().unwrap_or_default(),
    );
    Ok(config)
}

/// A Secret's values as text; empty when no reference is given.
async fn read_secret(
    client: &kube::Client,
    namespace: &str,
    reference: Option<&LocalObjectReference>,
    field: &str,
) -> Result<BTreeMap<String, String>, String> {
    let Some(reference) = reference else {
        return Ok(BTreeMap::new());
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(&reference.name)
        .await
        .map_err(|e| {
            format!(
                "cannot read Secret {namespace}/{} of {field}: {e}",
                reference.name
            )
        })?
        .ok_or_else(|| format!("Secret {namespace}/{} of {field} not found", reference.name))?;
    let mut values: BTreeMap<String, String> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    values.extend(secret.string_data.unwrap_or_default());
    Ok(values)
}
