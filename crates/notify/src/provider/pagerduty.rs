//! `pagerduty`: Events API v2 at the address's scheme and host. Errors
//! `trigger` an alert deduplicated by the object UID; info events `resolve`
//! it and also post a change event. `Progressing` events are skipped. The
//! routing key is the provider's `channel`.

use serde_json::{Value, json};

use super::git::name_and_description;
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, REASON_PROGRESSING, Severity, format_timestamp};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    if event.reason == REASON_PROGRESSING {
        return Ok(Vec::new());
    }
    let host = url
        .host_str()
        .ok_or_else(|| config.config_error("address has no host"))?;
    let endpoint = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let (name, description) = name_and_description(event);
    let summary = format!("{description}: {name}");
    let source = format!("Flux {}", event.reporting_controller);
    let metadata = if event.metadata.is_empty() {
        Value::Null
    } else {
        json!(event.metadata)
    };
    let details = json!({"message": event.message, "metadata": metadata});
    let timestamp = format_timestamp(event.timestamp);
    let routing_key = &config.channel;
    let o = &event.involved_object;

    let mut alert = json!({"routing_key": routing_key, "event_action": "resolve"});
    if !o.uid.is_empty() {
        alert["dedup_key"] = json!(o.uid);
    }
    if event.severity == Severity::Error {
        alert["event_action"] = json!("trigger");
        alert["payload"] = json!({
            "summary": summary,
            "source": source,
            "severity": "error",
            "timestamp": timestamp,
            "component": o.name,
            "group": o.kind,
            "custom_details": details,
        });
    }
    let mut requests = vec![OutgoingRequest::post_json(
        "enqueue event",
        format!("{endpoint}/v2/enqueue"),
        &alert,
    )];
    if event.severity == Severity::Info {
        let change = json!({
            "routing_key": routing_key,
            "payload": {"summary": summary, "source": source, "timestamp": timestamp, "custom_details": details},
        });
        requests.push(OutgoingRequest::post_json(
            "enqueue change event",
            format!("{endpoint}/v2/change/enqueue"),
            &change,
        ));
    }
    Ok(requests)
}
