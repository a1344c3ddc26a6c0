//! `matrix`: `PUT <homeserver>/_matrix/client/r0/rooms/<room>/send/m.room.message/<txn>`
//! with `Authorization: Bearer <access token>`; the transaction id is the hex
//! SHA-1 of the event JSON, so a retried send is deduplicated by the server.

use serde_json::json;
use sha1::{Digest, Sha1};

use super::{HttpMethod, OutgoingRequest, ProviderConfig, object_title};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    config.address_url()?;
    if config.channel.is_empty() {
        return Err(config.config_error("matrix needs a channel (room id)"));
    }
    let token = config
        .token()
        .ok_or_else(|| config.config_error("matrix needs an access token"))?;
    let txn = hex::encode(Sha1::digest(event.to_json()));
    let url = format!(
        "{}/_matrix/client/r0/rooms/{}/send/m.room.message/{txn}",
        config.address.trim().trim_end_matches('/'),
        config.channel
    );
    let emoji = if event.severity == Severity::Error {
        "🚨"
    } else {
        "💫"
    };
    let metadata: String = event
        .metadata
        .iter()
        .map(|(k, v)| format!("- {k}: {v}\n"))
        .collect();
    let body = format!(
        "{emoji} {}\n{}\n{metadata}",
        object_title(event),
        event.message
    );
    let mut request = OutgoingRequest::post_json(
        "send room message",
        url,
        &json!({"body": body, "msgtype": "m.text"}),
    );
    request.method = HttpMethod::Put;
    Ok(vec![
        request.header("Authorization", format!("Bearer {token}")),
    ])
}
