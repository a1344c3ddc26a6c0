//! Prometheus metrics, named as Flux's controllers name theirs so existing
//! dashboards and alerts keep working: `gotk_reconcile_duration_seconds`
//! (histogram) and `gotk_reconcile_condition` (one gauge per object,
//! condition type and status), plus `driftless_applied_objects_total` by
//! action.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

pub struct Metrics {
    registry: Registry,
    reconcile_duration: Family<Labels, Histogram, fn() -> Histogram>,
    condition: Family<Labels, Gauge>,
    applied: Family<Labels, Counter>,
    requests: Family<Labels, Counter>,
    request_duration: Family<Labels, Histogram, fn() -> Histogram>,
    notifications: Family<Labels, Gauge>,
    events_dropped: Counter,
    dispatch: std::sync::OnceLock<std::sync::Arc<driftless_notify::DispatchMetrics>>,
    encode_lock: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let reconcile_duration =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram as fn() -> Histogram,
            );
        let condition = Family::<Labels, Gauge>::default();
        let applied = Family::<Labels, Counter>::default();
        let requests = Family::<Labels, Counter>::default();
        let request_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram as fn() -> Histogram,
        );
        registry.register(
            "gotk_reconcile_duration_seconds",
            "The duration in seconds of a reconcile",
            reconcile_duration.clone(),
        );
        registry.register(
            "gotk_reconcile_condition",
            "The current condition status of a reconciled object",
            condition.clone(),
        );
        registry.register(
            "driftless_applied_objects",
            "Objects the Kustomization reconciler created, configured or deleted",
            applied.clone(),
        );
        registry.register(
            "rest_client_requests",
            "Requests to the Kubernetes API, by verb, resource and status code",
            requests.clone(),
        );
        registry.register(
            "rest_client_request_duration_seconds",
            "Latency of requests to the Kubernetes API (to the response headers), by verb and resource",
            request_duration.clone(),
        );
        let notifications = Family::<Labels, Gauge>::default();
        let events_dropped = Counter::default();
        registry.register(
            "driftless_notifications",
            "Notifications since start, by provider type and result (sent, failed, dropped, retried)",
            notifications.clone(),
        );
        registry.register(
            "driftless_events_dropped",
            "Events not sent to Alerts because the notification queue was full",
            events_dropped.clone(),
        );
        Metrics {
            registry,
            reconcile_duration,
            condition,
            applied,
            requests,
            request_duration,
            notifications,
            events_dropped,
            dispatch: std::sync::OnceLock::new(),
            encode_lock: Mutex::new(()),
        }
    }
}

impl Metrics {
    pub fn record_reconcile(&self, kind: &str, namespace: &str, name: &str, took: Duration) {
        self.reconcile_duration
            .get_or_create(&object_labels(kind, namespace, name))
            .observe(took.as_secs_f64());
    }

    /// Sets the gauge of `type_` to 1 for `status` and 0 for the other two.
    pub fn record_condition(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        type_: &str,
        status: &str,
    ) {
        for candidate in ["True", "False", "Unknown"] {
            let mut labels = object_labels(kind, namespace, name);
            labels.push(("type", type_.to_owned()));
            labels.push(("status", candidate.to_owned()));
            self.condition
                .get_or_create(&labels)
                .set(i64::from(candidate == status));
        }
    }

    /// Drops every series of a deleted object.
    pub fn forget(&self, kind: &str, namespace: &str, name: &str) {
        self.reconcile_duration
            .remove(&object_labels(kind, namespace, name));
        for type_ in ["Ready", "Healthy"] {
            for status in ["True", "False", "Unknown"] {
                let mut labels = object_labels(kind, namespace, name);
                labels.push(("type", type_.to_owned()));
                labels.push(("status", status.to_owned()));
                self.condition.remove(&labels);
            }
        }
    }

    pub fn record_applied(&self, action: &str, count: u64) {
        if count > 0 {
            self.applied
                .get_or_create(&vec![("action", action.to_owned())])
                .inc_by(count);
        }
    }

    /// One request to the Kubernetes API and how long its answer took.
    pub fn record_request(&self, verb: &str, resource: &str, code: &str, took: Duration) {
        let labels = vec![("verb", verb.to_owned()), ("resource", resource.to_owned())];
        self.request_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        let mut labels = labels;
        labels.push(("code", code.to_owned()));
        self.requests.get_or_create(&labels).inc();
    }

    /// Reports the notification dispatcher's counters from now on.
    pub fn watch_dispatch(&self, dispatch: std::sync::Arc<driftless_notify::DispatchMetrics>) {
        let _ = self.dispatch.set(dispatch);
    }

    /// An event that found the notification queue full.
    pub fn record_event_dropped(&self) {
        self.events_dropped.inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let _guard = self.encode_lock.lock().expect("metrics lock");
        if let Some(dispatch) = self.dispatch.get() {
            for (provider, sent, failed, dropped, retries) in dispatch.snapshot() {
                for (result, count) in [
                    ("sent", sent),
                    ("failed", failed),
                    ("dropped", dropped),
                    ("retried", retries),
                ] {
                    if count > 0 {
                        let labels = vec![
                            ("type", provider.as_str().to_owned()),
                            ("result", result.to_owned()),
                        ];
                        self.notifications
                            .get_or_create(&labels)
                            .set(i64::try_from(count).unwrap_or(i64::MAX));
                    }
                }
            }
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

fn object_labels(kind: &str, namespace: &str, name: &str) -> Labels {
    vec![
        ("kind", kind.to_owned()),
        ("name", name.to_owned()),
        ("namespace", namespace.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_flux_named_series() {
        let metrics = Metrics::default();
        metrics.record_reconcile(
            "Kustomization",
            "flux-system",
            "apps",
            Duration::from_millis(30),
        );
        metrics.record_condition("Kustomization", "flux-system", "apps", "Ready", "True");
        metrics.record_applied("created", 3);
        metrics.record_request("get", "configmaps", "200", Duration::from_millis(2));
        let text = metrics.encode();
        assert!(text.contains("gotk_reconcile_duration_seconds_count{kind=\"Kustomization\",name=\"apps\",namespace=\"flux-system\"} 1"), "{text}");
        assert!(text.contains("gotk_reconcile_condition{kind=\"Kustomization\",name=\"apps\",namespace=\"flux-system\",type=\"Ready\",status=\"True\"} 1"), "{text}");
        assert!(text.contains("gotk_reconcile_condition{kind=\"Kustomization\",name=\"apps\",namespace=\"flux-system\",type=\"Ready\",status=\"False\"} 0"), "{text}");
        assert!(
            text.contains("driftless_applied_objects_total{action=\"created\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "rest_client_requests_total{verb=\"get\",resource=\"configmaps\",code=\"200\"} 1"
            ),
            "{text}"
        );
    }
}
