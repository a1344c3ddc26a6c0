//! `alertmanager`: `POST` a v2 alerts array (`/api/v2/alerts` is part of the
//! address) with one firing alert: metadata as labels plus Flux's fixed
//! labels, `message` (and `summary`) as annotations.

use serde_json::json;

use super::request::basic_auth;
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, META_SUMMARY, format_timestamp};

/// Alertmanager reads a zero `endsAt` as "unknown"; Flux always sends it.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    let mut labels = event.metadata.clone();
    let mut annotations = serde_json::Map::new();
    annotations.insert("message".into(), json!(event.message));
    if let Some(summary) = labels.remove(META_SUMMARY) {
        annotations.insert(META_SUMMARY.into(), json!(summary));
    }
    let o = &event.involved_object;
    let fixed = [
        (
            "alertname",
            format!("Flux{}{}", o.kind, title_case(&event.reason)),
        ),
        ("severity", event.severity.as_str().to_string()),
        ("reason", event.reason.clone()),
        ("kind", o.kind.clone()),
        ("name", o.name.clone()),
        ("namespace", o.namespace.clone()),
        ("reportingcontroller", event.reporting_controller.clone()),
    ];
    for (key, value) in fixed {
        labels.insert(key.to_string(), value);
    }
    let payload = json!([{
        "status": "firing",
        "labels": labels,
        "annotations": annotations,
        "startsAt": format_timestamp(event.timestamp),
        "endsAt": ZERO_TIME,
    }]);
    let mut request = OutgoingRequest::post_json("post alerts", url, &payload);
    if let Some(token) = config.token() {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    // Basic auth replaces a bearer token when both are given, as in Flux.
    if let Some(password) = config
        .password
        .as_deref()
        .filter(|p| !p.is_empty() && !config.username.is_empty())
    {
        request = request.header("Authorization", basic_auth(&config.username, password));
    }
    Ok(vec![request])
}

/// Title-cases words: first letter upper, the rest lower
/// (`ReconciliationSucceeded` → `Reconciliationsucceeded`, like Go's `cases.Title`).
fn title_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_word = false;
    for c in text.chars() {
        if in_word {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        in_word = c.is_alphanumeric() || c == '\'';
    }
    out
}
