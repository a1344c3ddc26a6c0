//! `opsgenie`: `POST` an alert (`message` = `Kind/name`, `description` =
//! event message, `details` = metadata + `severity`) with
//! `Authorization: GenieKey <token>`.

use serde_json::json;

use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::Event;

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    let key = config
        .token()
        .ok_or_else(|| config.config_error("opsgenie needs an API key token"))?;
    let mut details = event.metadata.clone();
    details.insert("severity".into(), event.severity.as_str().into());
    let o = &event.involved_object;
    let payload = json!({
        "message": format!("{}/{}", o.kind, o.name),
        "description": event.message,
        "details": details,
    });
    Ok(vec![
        OutgoingRequest::post_json("post alert", url, &payload)
            .header("Authorization", format!("GenieKey {key}")),
    ])
}
