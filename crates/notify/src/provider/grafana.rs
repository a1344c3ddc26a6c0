//! `grafana`: `POST` to the annotations API (the address, e.g.
//! `https://grafana/api/annotations`) with `when` (Unix seconds, as Flux
//! sends), a `kind/name.namespace` text and tags; bearer token, or basic
//! auth when only username and password are given.

use serde_json::json;

use super::request::basic_auth;
use super::{OutgoingRequest, ProviderConfig, object_title};
use crate::error::NotifyError;
use crate::event::Event;

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    let o = &event.involved_object;
    // Grafana tags are `key:value`-parsed, so colons inside become `|`.
    let mut tags = vec!["flux".to_string(), event.reporting_controller.clone()];
    tags.extend(
        event
            .metadata
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace(':', "|"), v.replace(':', "|"))),
    );
    tags.push(format!("kind: {}", o.kind));
    tags.push(format!("name: {}", o.name));
    tags.push(format!("namespace: {}", o.namespace));
    let payload = json!({"when": event.timestamp.unix_timestamp(), "text": object_title(event), "tags": tags});
    let mut request = OutgoingRequest::post_json("post annotation", url, &payload);
    match (
        config.token(),
        config.password.as_deref().filter(|p| !p.is_empty()),
    ) {
        (Some(token), _) => request = request.header("Authorization", format!("Bearer {token}")),
        (None, Some(password)) if !config.username.is_empty() => {
            request = request.header("Authorization", basic_auth(&config.username, password));
        }
        _ => {}
    }
    Ok(vec![request])
}
