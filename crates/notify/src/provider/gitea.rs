//! `gitea`: `POST /api/v1/repos/{owner}/{repo}/statuses/{sha}` with
//! `Authorization: token <token>`, body `state` (`pending` for Progressing,
//! else `success`/`failure`), `target_url` (empty), `description`, `context`.

use serde_json::json;

use super::git::{commit_target, owner_and_repo, repository};
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, REASON_PROGRESSING, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let token = config
        .token_or_password()
        .ok_or_else(|| config.config_error("gitea needs a token"))?;
    let (host, id) = repository(config)?;
    let (owner, repo) =
        owner_and_repo(&id).ok_or_else(|| config.config_error("address must name owner/repo"))?;
    let Some(target) = commit_target(config, event, false)? else {
        return Ok(Vec::new());
    };
    let state = match (event.reason.as_str(), event.severity) {
        (REASON_PROGRESSING, _) => "pending",
        (_, Severity::Error) => "failure",
        _ => "success",
    };
    let body = json!({
        "state": state,
        "target_url": "",
        "description": target.description,
        "context": config.commit_status,
    });
    let url = format!("{host}/api/v1/repos/{owner}/{repo}/statuses/{}", target.sha);
    Ok(vec![
        OutgoingRequest::post_json("create commit status", url, &body)
            .header("Authorization", format!("token {token}")),
    ])
}
