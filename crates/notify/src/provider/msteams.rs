//! `msteams`: an Adaptive Card message for Workflows / Power Automate URLs
//! (Flux's default), or the legacy `MessageCard` when the address host ends
//! in `.webhook.office.com` (retired Office 365 connectors).

use serde_json::{Value, json};

use super::{OutgoingRequest, ProviderConfig, object_title};
use crate::error::NotifyError;
use crate::event::{Event, META_SUMMARY, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    let legacy = url
        .host_str()
        .is_some_and(|h| h.ends_with(".webhook.office.com"));
    let payload = if legacy {
        message_card(event)
    } else {
        adaptive_card(event)
    };
    Ok(vec![OutgoingRequest::post_json(
        "post message",
        url,
        &payload,
    )])
}

fn message_card(event: &Event) -> Value {
    let title = object_title(event);
    let facts: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let color = if event.severity == Severity::Error {
        "FF0000"
    } else {
        "0076D7"
    };
    json!({
        "@type": "MessageCard",
        "@context": "http://schema.org/extensions",
        "themeColor": color,
        "summary": title,
        "sections": [{"activityTitle": event.message, "activitySubtitle": title, "facts": facts}],
    })
}

fn adaptive_card(event: &Event) -> Value {
    // `summary` first, then the other keys sorted (the map is sorted).
    let summary = event
        .metadata
        .get(META_SUMMARY)
        .map(|v| json!({"title": META_SUMMARY, "value": v}));
    let facts: Vec<Value> = summary
        .into_iter()
        .chain(
            event
                .metadata
                .iter()
                .filter(|(k, _)| k.as_str() != META_SUMMARY)
                .map(|(k, v)| json!({"title": k, "value": v})),
        )
        .collect();
    let message = if event.severity == Severity::Error {
        json!({"type": "TextBlock", "text": event.message, "color": "attention", "wrap": true})
    } else {
        json!({"type": "TextBlock", "text": event.message, "wrap": true})
    };
    let mut fact_set = json!({"type": "FactSet"});
    if !facts.is_empty() {
        fact_set["facts"] = Value::Array(facts);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{
                    "type": "Container",
                    "items": [
                        {"type": "TextBlock", "text": object_title(event), "size": "large", "weight": "bolder", "wrap": true},
                        message,
                        fact_set,
                    ],
                }],
                "msteams": {"width": "Full"},
            },
        }],
    })
}
