//! Flux's event model (`event.toolkit.fluxcd.io/v1beta1` `Event`) and the
//! ingestion of the event body that Flux controllers `POST /` to the
//! notification endpoint.
//!
//! The JSON shape matches Flux field for field and in field order; metadata
//! is a sorted map, so a serialized event is byte-stable (signatures and the
//! Matrix transaction id depend on that).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The API group of Flux events; metadata keys under `<this>/` come from the
/// involved object's annotations.
pub const EVENT_GROUP: &str = "event.toolkit.fluxcd.io";
/// Metadata key holding the source artifact revision.
pub const META_REVISION: &str = "revision";
/// Metadata key holding the origin revision of a source artifact.
pub const META_ORIGIN_REVISION: &str = "originRevision";
/// Deprecated metadata key holding an artifact checksum (dropped on ingest).
pub const META_CHECKSUM: &str = "checksum";
/// Metadata key holding an artifact digest (dropped on ingest, as Flux does).
pub const META_DIGEST: &str = "digest";
/// Metadata key of an emitter-defined token used only for rate limiting.
pub const META_TOKEN: &str = "token";
/// Metadata key marking a commit status update event.
pub const META_COMMIT_STATUS: &str = "commit_status";
/// Value of [`META_COMMIT_STATUS`] that marks a commit status update.
pub const META_COMMIT_STATUS_UPDATE: &str = "update";
/// Metadata key (under [`EVENT_GROUP`]) holding a commit SHA.
pub const META_COMMIT: &str = "commit";
/// Metadata key set from an Alert's `summary`.
pub const META_SUMMARY: &str = "summary";
/// The `Progressing` reason that commit status and PagerDuty providers skip.
pub const REASON_PROGRESSING: &str = "Progressing";

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Actions taken during reconciliation.
    Trace,
    /// Informational, usually a change.
    Info,
    /// Something went wrong.
    Error,
}

impl Severity {
    /// The wire name: `trace`, `info` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "trace",
            Severity::Info => "info",
            Severity::Error => "error",
        }
    }
}

/// The Kubernetes object an event is about (a `corev1.ObjectReference`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvolvedObject {
    /// Kind, e.g. `Kustomization`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Namespace of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID of the object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// `group/version` of the object, e.g. `kustomize.toolkit.fluxcd.io/v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Resource version of the object when the event was emitted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Field path within the object, rarely set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

impl InvolvedObject {
    /// The API group of the object (`apiVersion` before the `/`; empty for core).
    pub fn group(&self) -> &str {
        match self.api_version.split_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }
}

/// A report of something a Flux controller did (Flux's `Event`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The object this event is about.
    pub involved_object: InvolvedObject,
    /// How serious the event is.
    pub severity: Severity,
    /// When the event was recorded; serialized as RFC 3339 UTC seconds.
    #[serde(with = "rfc3339_seconds")]
    pub timestamp: OffsetDateTime,
    /// Human-readable description.
    pub message: String,
    /// Machine-readable reason, e.g. `ReconciliationSucceeded`.
    pub reason: String,
    /// Extra key/values (revision, summary, `<group>/<key>` annotations...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Name of the emitting controller, e.g. `kustomize-controller`.
    pub reporting_controller: String,
    /// Instance of the emitting controller.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reporting_instance: String,
}

impl Event {
    /// The revision a commit status applies to: `originRevision`, else
    /// `revision` (Flux's `GetRevision`, on the combined metadata).
    pub fn revision(&self) -> Option<&str> {
        self.metadata
            .get(META_ORIGIN_REVISION)
            .or_else(|| self.metadata.get(META_REVISION))
            .map(String::as_str)
    }

    /// The event as JSON bytes, exactly as the generic providers send it.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings, maps and a formatted time cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `kind/namespace/name` of the involved object, for logs.
    pub fn object_ref(&self) -> String {
        let o = &self.involved_object;
        format!("{}/{}/{}", o.kind, o.namespace, o.name)
    }

    /// Metadata value under `<involved object's group>/<key>`.
    pub fn object_group_metadata(&self, key: &str) -> Option<&str> {
        let full = format!("{}/{key}", self.involved_object.group());
        self.metadata.get(&full).map(String::as_str)
    }
}

/// The largest request body the notification endpoints accept
/// ([`driftless_limits::Limits::webhook_body_bytes`], Flux's 3 MiB by
/// default). Callers reading a body must stop at `max_body_bytes() + 1`
/// bytes and answer 413 when over; [`ingest_event`] and the receivers check
/// it again.
#[must_use]
pub fn max_body_bytes() -> usize {
    driftless_limits::current().webhook_body_bytes
}

/// Why an event body was refused. `status` is the HTTP status to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event rejected ({status}): {reason}")]
pub struct IngestError {
    /// 400 (malformed) or 413 (too large).
    pub status: u16,
    /// What was wrong, without echoing the body.
    pub reason: String,
}

/// Parses and validates the body of a `POST /` to the events endpoint, and
/// keeps only the metadata Flux keeps (keys under [`EVENT_GROUP`] or the
/// involved object's group, minus that group's `checksum` and `digest`).
///
/// Answering, for the lead's HTTP handler (Flux's semantics):
/// - `Err` → answer `err.status` (400 for invalid JSON or a missing required
///   field, 413 over [`max_body_bytes`]).
/// - `Ok` → check [`crate::DuplicateEventLimiter`]; a duplicate within the
///   interval is answered **429** and dropped. Otherwise answer **202
///   Accepted** whether or not any alert matched; delivery is asynchronous
///   and its failures never reach the emitting controller.
pub fn ingest_event(body: &[u8]) -> Result<Event, IngestError> {
    let limit = max_body_bytes();
    if body.len() > limit {
        return Err(IngestError {
            status: 413,
            reason: format!(
                "body exceeds {limit} bytes (raise {})",
                driftless_limits::Limit::WebhookBodyBytes.flag()
            ),
        });
    }
    let mut event: Event = serde_json::from_slice(body).map_err(|err| IngestError {
        status: 400,
        reason: format!("invalid event JSON: {}", describe_json_error(&err)),
    })?;
    let missing = [
        ("involvedObject.kind", event.involved_object.kind.is_empty()),
        ("involvedObject.name", event.involved_object.name.is_empty()),
        ("reason", event.reason.is_empty()),
        ("reportingController", event.reporting_controller.is_empty()),
    ];
    if let Some((field, _)) = missing.iter().find(|(_, empty)| *empty) {
        return Err(IngestError {
            status: 400,
            reason: format!("missing required field {field}"),
        });
    }
    clean_metadata(&mut event);
    Ok(event)
}

/// Flux's `cleanupMetadata`: keep only `event.toolkit.fluxcd.io/*` and
/// `<object group>/*` keys, minus the object group's checksum and digest.
pub fn clean_metadata(event: &mut Event) {
    let event_prefix = format!("{EVENT_GROUP}/");
    let object_prefix = format!("{}/", event.involved_object.group());
    let excluded = [
        format!("{object_prefix}{META_CHECKSUM}"),
        format!("{object_prefix}{META_DIGEST}"),
    ];
    event.metadata.retain(|key, _| {
        !excluded.iter().any(|x| x.eq_ignore_ascii_case(key))
            && (key.starts_with(&event_prefix) || key.starts_with(&object_prefix))
    });
}

/// Flux's `excludeInternalMetadata`: drop `<object group>/token`, which only
/// serves rate limiting. Call after [`crate::DuplicateEventLimiter::admit`].
pub fn exclude_internal_metadata(event: &mut Event) {
    let key = format!("{}/{META_TOKEN}", event.involved_object.group());
    event.metadata.remove(&key);
}

/// Describes a JSON error by category, position and (for a missing field)
/// the field name; serde_json's own message can quote an unexpected value.
fn describe_json_error(err: &serde_json::Error) -> String {
    let category = match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "wrong or missing field",
        serde_json::error::Category::Eof => "unexpected end of input",
    };
    let detail = err.to_string();
    let field = detail
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(|f| format!(" `{f}`"))
        .unwrap_or_default();
    format!(
        "{category}{field} at line {} column {}",
        err.line(),
        err.column()
    )
}

mod rfc3339_seconds {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map_err(|_| D::Error::custom("timestamp is not RFC 3339"))
    }

    /// Kubernetes `metav1.Time` form: UTC, whole seconds, `Z`.
    pub fn format(t: OffsetDateTime) -> String {
        let utc = t.to_offset(UtcOffset::UTC);
        let whole = utc.replace_nanosecond(0).unwrap_or(utc);
        whole.format(&Rfc3339).unwrap_or_default()
    }
}

/// `timestamp` in Kubernetes' `metav1.Time` form (UTC seconds, `Z`).
pub fn format_timestamp(t: OffsetDateTime) -> String {
    rfc3339_seconds::format(t)
}
