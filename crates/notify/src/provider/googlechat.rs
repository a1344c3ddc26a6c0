//! `googlechat`: a card webhook message (header, message paragraph red on
//! errors, metadata as key/value widgets), as Flux sends it.

use serde_json::{Value, json};

use super::{OutgoingRequest, ProviderConfig, object_title};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    let text = if event.severity == Severity::Error {
        format!("<font color=\"#ff0000\">{}</font>", event.message)
    } else {
        event.message.clone()
    };
    let mut sections = vec![json!({
        "header": "",
        "widgets": [{"textParagraph": {"text": text}, "keyValue": null}],
    })];
    if !event.metadata.is_empty() {
        let widgets: Vec<Value> = event
            .metadata
            .iter()
            .map(|(k, v)| {
                json!({"textParagraph": null, "keyValue": {
                    "topLabel": k, "content": v, "contentMultiline": false, "bottomLabel": null, "icon": null,
                }})
            })
            .collect();
        sections.push(json!({"header": "", "widgets": widgets}));
    }
    let payload = json!({"cards": [{
        "header": {
            "title": object_title(event),
            "subtitle": event.reporting_controller,
            "imageUrl": null,
            "imageStyle": null,
        },
        "sections": sections,
    }]});
    Ok(vec![OutgoingRequest::post_json(
        "post message",
        url,
        &payload,
    )])
}
