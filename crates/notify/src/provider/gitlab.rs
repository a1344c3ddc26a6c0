//! `gitlab`: `POST /api/v4/projects/{url-encoded path}/statuses/{sha}` with
//! `PRIVATE-TOKEN`, body `state` (`success`/`failed`), `name` (the commit
//! status id), `description`.

use serde_json::json;

use super::git::{commit_target, repository};
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let token = config
        .token_or_password()
        .ok_or_else(|| config.config_error("gitlab needs a token"))?;
    let (host, project) = repository(config)?;
    if project.is_empty() {
        return Err(config.config_error("address must name a project"));
    }
    let Some(target) = commit_target(config, event, true)? else {
        return Ok(Vec::new());
    };
    let state = if event.severity == Severity::Error {
        "failed"
    } else {
        "success"
    };
    let body =
        json!({"state": state, "name": config.commit_status, "description": target.description});
    let url = format!(
        "{host}/api/v4/projects/{}/statuses/{}",
        encode_path_segment(&project),
        target.sha
    );
    Ok(vec![
        OutgoingRequest::post_json("set commit status", url, &body).header("PRIVATE-TOKEN", token),
    ])
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so
/// `group/sub/repo` becomes one path segment `group%2Fsub%2Frepo`.
fn encode_path_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
