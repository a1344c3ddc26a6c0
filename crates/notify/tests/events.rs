//! Event ingestion, alert matching and metadata, duplicate limiting.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_notify::{
    Admission, AlertFilter, AlertSpec, Clock, DuplicateEventLimiter, EventSource, ProviderGate,
    ProviderType, Severity, exclude_internal_metadata, ingest_event, max_body_bytes, provider_gate,
    rate_limit_key,
};
use support::event;

const FLUX_EVENT: &str = r#"{
  "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
    "uid": "7d0cdc51", "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "resourceVersion": "123"},
  "severity": "info",
  "timestamp": "2024-05-01T12:00:00Z",
  "message": "Applied revision: main@sha1:5394cb7",
  "reason": "ReconciliationSucceeded",
  "metadata": {
    "kustomize.toolkit.fluxcd.io/revision": "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738",
    "kustomize.toolkit.fluxcd.io/digest": "sha256:abc",
    "kustomize.toolkit.fluxcd.io/token": "gen-7",
    "event.toolkit.fluxcd.io/env": "prod",
    "event.toolkit.fluxcd.io/summary": "from annotation",
    "other.io/key": "dropped"
  },
  "reportingController": "kustomize-controller",
  "reportingInstance": "kustomize-controller-7f9"
}"#;

#[test]
fn ingest_keeps_only_flux_metadata_and_round_trips() {
    let event = ingest_event(FLUX_EVENT.as_bytes()).unwrap();
    let keys: Vec<&str> = event.metadata.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "event.toolkit.fluxcd.io/env",
            "event.toolkit.fluxcd.io/summary",
            "kustomize.toolkit.fluxcd.io/revision",
            "kustomize.toolkit.fluxcd.io/token"
        ]
    );
    assert_eq!(event.involved_object.resource_version, "123");
    let again: driftless_notify::Event = serde_json::from_slice(&event.to_json()).unwrap();
    assert_eq!(again, event);
}

#[test]
fn ingest_rejects_bad_bodies() {
    assert_eq!(ingest_event(b"{not json").unwrap_err().status, 400);
    let missing_reason = FLUX_EVENT.replace("\"reason\": \"ReconciliationSucceeded\",", "");
    let err = ingest_event(missing_reason.as_bytes()).unwrap_err();
    assert_eq!(err.status, 400);
    assert!(err.reason.contains("reason"), "{}", err.reason);
    let bad_severity = FLUX_EVENT.replace("\"severity\": \"info\"", "\"severity\": \"loud\"");
    assert_eq!(
        ingest_event(bad_severity.as_bytes()).unwrap_err().status,
        400
    );
    let huge = vec![b' '; max_body_bytes() + 1];
    assert_eq!(ingest_event(&huge).unwrap_err().status, 413);
}

fn alert(sources: Vec<EventSource>) -> AlertSpec {
    AlertSpec {
        namespace: "flux-system".into(),
        event_sources: sources,
        ..Default::default()
    }
}

fn source(kind: &str, name: &str) -> EventSource {
    EventSource {
        kind: kind.into(),
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn matches_sources_wildcards_namespaces_and_severity() {
    let info = event(Severity::Info);
    assert!(AlertFilter::new(alert(vec![source("Kustomization", "*")])).matches(&info, None));
    assert!(AlertFilter::new(alert(vec![source("Kustomization", "apps")])).matches(&info, None));
    assert!(!AlertFilter::new(alert(vec![source("Kustomization", "infra")])).matches(&info, None));
    assert!(!AlertFilter::new(alert(vec![source("HelmRelease", "*")])).matches(&info, None));
    let mut elsewhere = source("Kustomization", "*");
    elsewhere.namespace = Some("team-a".into());
    assert!(!AlertFilter::new(alert(vec![elsewhere])).matches(&info, None));

    let mut errors_only = alert(vec![source("Kustomization", "*")]);
    errors_only.event_severity = Severity::Error;
    let filter = AlertFilter::new(errors_only);
    assert!(!filter.matches(&info, None));
    assert!(filter.matches(&event(Severity::Error), None));

    let mut suspended = alert(vec![source("Kustomization", "*")]);
    suspended.suspend = true;
    assert!(!AlertFilter::new(suspended).matches(&info, None));
}

#[test]
fn match_labels_need_the_objects_labels() {
    let mut labelled = source("Kustomization", "*");
    labelled.match_labels = Some(BTreeMap::from([("team".to_string(), "web".to_string())]));
    let filter = AlertFilter::new(alert(vec![labelled]));
    let info = event(Severity::Info);
    assert!(filter.needs_labels(&info));
    assert!(!filter.matches(&info, None));
    let web = BTreeMap::from([
        ("team".to_string(), "web".to_string()),
        ("x".to_string(), "y".to_string()),
    ]);
    assert!(filter.matches(&info, Some(&web)));
    let ops = BTreeMap::from([("team".to_string(), "ops".to_string())]);
    assert!(!filter.matches(&info, Some(&ops)));
}

#[test]
fn inclusion_and_exclusion_lists() {
    let mut spec = alert(vec![source("Kustomization", "*")]);
    spec.inclusion_list = vec![".*revision.*".into(), "(unclosed".into()];
    spec.exclusion_list = vec!["5394cb7$".into()];
    let filter = AlertFilter::new(spec.clone());
    assert_eq!(filter.invalid_patterns(), ["(unclosed"]);
    assert!(
        !filter.matches(&event(Severity::Info), None),
        "exclusion must win"
    );
    spec.exclusion_list = vec!["^Health check".into()];
    assert!(AlertFilter::new(spec.clone()).matches(&event(Severity::Info), None));
    spec.inclusion_list = vec!["^Health".into()];
    assert!(!AlertFilter::new(spec).matches(&event(Severity::Info), None));
}

#[test]
fn notification_metadata_precedence_like_flux() {
    let mut ingested = ingest_event(FLUX_EVENT.as_bytes()).unwrap();
    exclude_internal_metadata(&mut ingested);
    let mut spec = alert(vec![source("Kustomization", "*")]);
    spec.event_metadata = BTreeMap::from([
        ("env".to_string(), "from-alert".to_string()),
        ("revision".to_string(), "from-alert".to_string()),
        ("cluster".to_string(), "eu-1".to_string()),
    ]);
    spec.summary = Some("from summary".into());
    let notification = AlertFilter::new(spec).notification(&ingested);
    let expected = BTreeMap::from([
        ("cluster".to_string(), "eu-1".to_string()),
        ("env".to_string(), "from-alert".to_string()),
        (
            "revision".to_string(),
            "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738".to_string(),
        ),
        ("summary".to_string(), "from summary".to_string()),
    ]);
    assert_eq!(notification.event.metadata, expected);
    let conflicted: Vec<&str> = notification
        .conflicts
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(conflicted, ["env", "revision", "summary"]);
}

#[test]
fn provider_gate_for_commit_status_events() {
    let mut e = ingest_event(FLUX_EVENT.as_bytes()).unwrap();
    assert_eq!(
        provider_gate(ProviderType::GitHub, &e),
        ProviderGate::DropMissingCommit
    );
    assert_eq!(provider_gate(ProviderType::Slack, &e), ProviderGate::Send);
    e.metadata.insert(
        "kustomize.toolkit.fluxcd.io/commit_status".into(),
        "update".into(),
    );
    assert_eq!(provider_gate(ProviderType::GitHub, &e), ProviderGate::Send);
    assert_eq!(provider_gate(ProviderType::Slack, &e), ProviderGate::Skip);
    assert_eq!(provider_gate(ProviderType::Generic, &e), ProviderGate::Send);
}

#[derive(Clone)]
struct ManualClock(Arc<Mutex<Instant>>);

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

#[test]
fn duplicate_events_are_limited_per_interval() {
    let start = Instant::now();
    let clock = ManualClock(Arc::new(Mutex::new(start)));
    let limiter = DuplicateEventLimiter::with_clock(Duration::from_secs(300), clock.clone());
    let first = ingest_event(FLUX_EVENT.as_bytes()).unwrap();
    assert_eq!(limiter.admit(&first), Admission::Accepted);
    assert_eq!(limiter.admit(&first), Admission::Duplicate);

    let mut new_token = first.clone();
    new_token
        .metadata
        .insert("kustomize.toolkit.fluxcd.io/token".into(), "gen-8".into());
    assert_ne!(rate_limit_key(&new_token), rate_limit_key(&first));
    assert_eq!(limiter.admit(&new_token), Admission::Accepted);

    let mut annotation_only = first.clone();
    annotation_only
        .metadata
        .insert("event.toolkit.fluxcd.io/env".into(), "dev".into());
    assert_eq!(
        limiter.admit(&annotation_only),
        Admission::Duplicate,
        "annotations are not part of the key"
    );

    *clock.0.lock().unwrap() = start + Duration::from_secs(301);
    assert_eq!(limiter.admit(&first), Admission::Accepted);
    *clock.0.lock().unwrap() = start + Duration::from_secs(2000);
    assert_eq!(limiter.admit(&event(Severity::Info)), Admission::Accepted);
    assert_eq!(limiter.tracked_keys(), 1, "old keys are swept");
}

#[test]
fn rate_limit_key_matches_flux_formula() {
    use sha2::Digest;
    let event = ingest_event(FLUX_EVENT.as_bytes()).unwrap();
    let raw = "event/name=apps/namespace=flux-system/kind=Kustomization/message=Applied revision: main@sha1:5394cb7/revision=main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738/token=gen-7";
    assert_eq!(
        rate_limit_key(&event),
        hex::encode(sha2::Sha256::digest(raw.as_bytes()))
    );
}
