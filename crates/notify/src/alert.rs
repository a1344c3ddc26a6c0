//! Alert matching: which alerts take an event, and the event as the
//! provider receives it (Flux's `filterAlertsForEvent` and
//! `combineEventMetadata`). Pure functions; the caller lists the alerts and
//! fetches the involved object's labels when [`AlertFilter::needs_labels`].

use std::collections::BTreeMap;

use regex::Regex;

use crate::event::{EVENT_GROUP, Event, META_SUMMARY, Severity};

/// One entry of an Alert's `spec.eventSources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventSource {
    /// Kind of the involved object, e.g. `Kustomization`.
    pub kind: String,
    /// Name of the object, or `*` for any.
    pub name: String,
    /// Namespace; `None` or empty means the Alert's own namespace.
    pub namespace: Option<String>,
    /// Labels the object must carry; `None` means no label check.
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// The parts of an Alert spec that decide matching and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSpec {
    /// Namespace of the Alert object (default for event sources).
    pub namespace: String,
    /// `spec.eventSources`.
    pub event_sources: Vec<EventSource>,
    /// `spec.eventSeverity`: `Info` takes every severity, `Error` only errors.
    pub event_severity: Severity,
    /// `spec.inclusionList`: regexes; when non-empty the message must match one.
    pub inclusion_list: Vec<String>,
    /// `spec.exclusionList`: regexes; a message matching any is dropped.
    pub exclusion_list: Vec<String>,
    /// `spec.eventMetadata`: added to the metadata sent to the provider.
    pub event_metadata: BTreeMap<String, String>,
    /// `spec.summary` (deprecated in Flux): sent as metadata `summary`.
    pub summary: Option<String>,
    /// `spec.suspend`: a suspended alert takes nothing.
    pub suspend: bool,
}

impl Default for AlertSpec {
    fn default() -> Self {
        Self {
            namespace: String::new(),
            event_sources: Vec::new(),
            event_severity: Severity::Info,
            inclusion_list: Vec::new(),
            exclusion_list: Vec::new(),
            event_metadata: BTreeMap::new(),
            summary: None,
            suspend: false,
        }
    }
}

/// An Alert compiled for matching. Invalid regexes are skipped, as Flux
/// does (it logs and emits a warning event); [`AlertFilter::invalid_patterns`]
/// lists them so the controller can do the same.
#[derive(Debug, Clone)]
pub struct AlertFilter {
    spec: AlertSpec,
    inclusions: Vec<Regex>,
    exclusions: Vec<Regex>,
    invalid: Vec<String>,
}

impl AlertFilter {
    /// Compiles the inclusion and exclusion regexes of `spec`.
    pub fn new(spec: AlertSpec) -> Self {
        let mut invalid = Vec::new();
        let mut compile = |patterns: &[String]| -> Vec<Regex> {
            patterns
                .iter()
                .filter_map(|p| match Regex::new(p) {
                    Ok(re) => Some(re),
                    Err(_) => {
                        invalid.push(p.clone());
                        None
                    }
                })
                .collect()
        };
        let inclusions = compile(&spec.inclusion_list);
        let exclusions = compile(&spec.exclusion_list);
        Self {
            spec,
            inclusions,
            exclusions,
            invalid,
        }
    }

    /// The spec this filter was built from.
    pub fn spec(&self) -> &AlertSpec {
        &self.spec
    }

    /// Regexes that did not compile (ignored when matching).
    pub fn invalid_patterns(&self) -> &[String] {
        &self.invalid
    }

    /// Whether matching `event` needs the involved object's labels: some
    /// source that otherwise matches has `matchLabels`.
    pub fn needs_labels(&self, event: &Event) -> bool {
        self.spec
            .event_sources
            .iter()
            .any(|s| s.match_labels.is_some() && self.source_matches_object(s, event))
    }

    /// Whether this alert takes `event`. `object_labels` are the involved
    /// object's labels, `None` when not fetched or the object is gone (a
    /// source with `matchLabels` then does not match, as in Flux).
    pub fn matches(&self, event: &Event, object_labels: Option<&BTreeMap<String, String>>) -> bool {
        if self.spec.suspend {
            return false;
        }
        let source_ok = self.spec.event_sources.iter().any(|source| {
            self.source_matches_object(source, event)
                && match &source.match_labels {
                    None => true,
                    Some(wanted) => object_labels
                        .is_some_and(|have| wanted.iter().all(|(k, v)| have.get(k) == Some(v))),
                }
        });
        source_ok && self.message_included(&event.message) && !self.message_excluded(&event.message)
    }

    fn source_matches_object(&self, source: &EventSource, event: &Event) -> bool {
        let object = &event.involved_object;
        let namespace = source
            .namespace
            .as_deref()
            .filter(|ns| !ns.is_empty())
            .unwrap_or(&self.spec.namespace);
        let severity_ok = self.spec.event_severity == Severity::Info
            || event.severity == self.spec.event_severity;
        object.namespace == namespace
            && object.kind == source.kind
            && severity_ok
            && (source.name == "*" || source.name == object.name)
    }

    fn message_included(&self, message: &str) -> bool {
        // A non-empty list whose patterns are all invalid matches nothing.
        self.spec.inclusion_list.is_empty() || self.inclusions.iter().any(|re| re.is_match(message))
    }

    fn message_excluded(&self, message: &str) -> bool {
        self.exclusions.iter().any(|re| re.is_match(message))
    }

    /// The event as sent to this alert's provider (Flux's
    /// `combineEventMetadata`). Metadata keys lose their group prefix and are
    /// merged in increasing precedence: involved object annotations
    /// (`event.toolkit.fluxcd.io/<key>`), then the Alert's `eventMetadata`,
    /// then `summary`, then the emitting controller's `<object group>/<key>`.
    /// So the Alert overrides annotations but never the controller's keys.
    pub fn notification(&self, event: &Event) -> Notification {
        let mut metadata = BTreeMap::new();
        let mut sources: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        let mut put = |key: &str, value: &str, source: &'static str| {
            metadata.insert(key.to_string(), value.to_string());
            sources.entry(key.to_string()).or_default().push(source);
        };
        let event_prefix = format!("{EVENT_GROUP}/");
        for (key, value) in &event.metadata {
            if let Some(short) = key.strip_prefix(&event_prefix) {
                put(short, value, "involved object annotations");
            }
        }
        for (key, value) in &self.spec.event_metadata {
            put(key, value, "Alert object .spec.eventMetadata");
        }
        if let Some(summary) = self.spec.summary.as_deref().filter(|s| !s.is_empty()) {
            put(META_SUMMARY, summary, "Alert object .spec.summary");
        }
        let object_prefix = format!("{}/", event.involved_object.group());
        for (key, value) in &event.metadata {
            if let Some(short) = key.strip_prefix(&object_prefix) {
                put(short, value, "involved object controller metadata");
            }
        }
        let conflicts = sources
            .into_iter()
            .filter(|(_, from)| from.len() > 1)
            .map(|(key, from)| MetadataConflict { key, sources: from })
            .collect();
        let mut sent = event.clone();
        if !metadata.is_empty() {
            sent.metadata = metadata;
        }
        Notification {
            event: sent,
            conflicts,
        }
    }
}

/// A metadata key set by more than one source (Flux warns with a
/// `MetadataAppendFailed` event on the Alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataConflict {
    /// The key, without group prefix.
    pub key: String,
    /// Where it came from, lowest precedence first.
    pub sources: Vec<&'static str>,
}

/// The event to send plus the metadata conflicts met while building it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The event with combined metadata.
    pub event: Event,
    /// Keys set by several sources (the last one won).
    pub conflicts: Vec<MetadataConflict>,
}
