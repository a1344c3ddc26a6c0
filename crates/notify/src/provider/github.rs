//! `github`: `POST /repos/{owner}/{repo}/statuses/{sha}` on `api.github.com`
//! (or `<host>/api/v3` for GitHub Enterprise), body `state`
//! (`success`/`failure`), `description`, `context` (the commit status id).

use serde_json::json;

use super::git::{commit_target, owner_and_repo, repository};
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let token = config
        .token_or_password()
        .ok_or_else(|| config.config_error("github needs a token"))?;
    let (host, id) = repository(config)?;
    let (owner, repo) =
        owner_and_repo(&id).ok_or_else(|| config.config_error("address must name owner/repo"))?;
    let Some(target) = commit_target(config, event, true)? else {
        return Ok(Vec::new());
    };
    let api = if host == "https://github.com" {
        "https://api.github.com".to_string()
    } else {
        format!("{host}/api/v3")
    };
    let state = if event.severity == Severity::Error {
        "failure"
    } else {
        "success"
    };
    let body =
        json!({"state": state, "description": target.description, "context": config.commit_status});
    let url = format!("{api}/repos/{owner}/{repo}/statuses/{}", target.sha);
    let request = OutgoingRequest::post_json("create commit status", url, &body)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("User-Agent", "driftless-notify")
        .header("Authorization", format!("Bearer {token}"));
    Ok(vec![request])
}
