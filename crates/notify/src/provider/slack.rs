//! `slack`: an incoming webhook URL, or `https://slack.com/api/chat.postMessage`
//! with a bot token (`Authorization: Bearer`) and `channel`. Payload: one
//! legacy attachment (color, author, text, metadata fields), as Flux sends.

use serde_json::{Value, json};

use super::{OutgoingRequest, ProviderConfig, object_title};
use crate::error::NotifyError;
use crate::event::{Event, Severity};
use crate::provider::request::ResponseCheck;

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    // The Web API answers 200 with {"ok": false} on errors; webhooks use statuses.
    let web_api = url.path().ends_with("/api/chat.postMessage");
    let mut request =
        OutgoingRequest::post_json("post message", url, &payload(config, event, true));
    if let Some(token) = config.token() {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if web_api {
        request.check = ResponseCheck::SlackOk;
    }
    Ok(vec![request])
}

/// The Slack-format payload; Discord's `/slack` endpoint takes it too
/// (without `fallback` text and channel, as Flux sends it there).
pub(super) fn payload(
    config: &ProviderConfig,
    event: &Event,
    with_channel_and_fallback: bool,
) -> Value {
    let username = if config.username.is_empty() {
        &event.reporting_controller
    } else {
        &config.username
    };
    let color = if event.severity == Severity::Error {
        "danger"
    } else {
        "good"
    };
    let author = object_title(event);
    let fields: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v, "short": false}))
        .collect();
    let first_line = event.message.split('\n').next().unwrap_or_default();
    let fallback = if with_channel_and_fallback {
        format!("{author}: {first_line}")
    } else {
        String::new()
    };
    let channel = if with_channel_and_fallback {
        config.channel.as_str()
    } else {
        ""
    };
    json!({
        "channel": channel,
        "username": username,
        "icon_url": "",
        "icon_emoji": "",
        "attachments": [{
            "fallback": fallback,
            "color": color,
            "author_name": author,
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }],
    })
}
