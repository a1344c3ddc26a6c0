//! `discord`: the webhook's Slack-compatible endpoint (`<address>/slack`,
//! appended unless present, as Flux does) with the Slack payload.

use super::{OutgoingRequest, ProviderConfig, slack};
use crate::error::NotifyError;
use crate::event::Event;

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let mut url = config.address_url()?;
    if !url.path().ends_with("/slack") {
        let path = format!("{}/slack", url.path().trim_end_matches('/'));
        url.set_path(&path);
    }
    Ok(vec![OutgoingRequest::post_json(
        "post message",
        url,
        &slack::payload(config, event, false),
    )])
}
