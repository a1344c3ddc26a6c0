//! `telegram`: bot API `sendMessage` at `https://api.telegram.org/bot<token>/sendMessage`
//! with MarkdownV2 text escaped as Flux escapes it; `channel` is the chat id,
//! optionally `<chat id>:<thread id>` for forum topics.

use serde_json::json;

use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

const API_BASE: &str = "https://api.telegram.org";

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    if config.channel.is_empty() {
        return Err(config.config_error("telegram needs a channel (chat id)"));
    }
    let token = config
        .token()
        .ok_or_else(|| config.config_error("telegram needs a bot token"))?;
    let base = config
        .api_base_url
        .as_deref()
        .unwrap_or(API_BASE)
        .trim_end_matches('/');
    let url = format!("{base}/bot{token}/sendMessage");
    let o = &event.involved_object;
    let emoji = if event.severity == Severity::Error {
        "🚨"
    } else {
        "💫"
    };
    let heading = format!(
        "{emoji} {}/{}/{}",
        o.kind.to_lowercase(),
        o.name,
        o.namespace
    );
    let metadata: String = event
        .metadata
        .iter()
        .map(|(k, v)| {
            format!(
                "\\- *{}*: {}\n",
                escape_markdown_v2(k),
                escape_markdown_v2(v)
            )
        })
        .collect();
    let text = format!(
        "*{}*\n{}\n{metadata}",
        escape_markdown_v2(&heading),
        escape_markdown_v2(&event.message)
    );
    let mut payload = json!({"chat_id": config.channel, "text": text, "parse_mode": "MarkdownV2"});
    if let Some((chat, thread)) = config.channel.split_once(':') {
        payload = json!({"chat_id": chat, "message_thread_id": thread, "text": text, "parse_mode": "MarkdownV2"});
    }
    Ok(vec![OutgoingRequest::post_json(
        "send message",
        url,
        &payload,
    )])
}

/// Backslash-escapes the characters MarkdownV2 reserves (Flux's set).
pub(crate) fn escape_markdown_v2(text: &str) -> String {
    const RESERVED: &str = "\\.-_[]()~>`#+=|{}!*";
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if RESERVED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_reserved_characters() {
        assert_eq!(super::escape_markdown_v2("a.b-c_d!"), "a\\.b\\-c\\_d\\!");
        assert_eq!(super::escape_markdown_v2("back\\slash"), "back\\\\slash");
    }
}
