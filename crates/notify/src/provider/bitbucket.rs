//! `bitbucket` (Cloud): `POST /2.0/repositories/{owner}/{repo}/commit/{sha}/statuses/build`
//! on `api.bitbucket.org` with basic auth from a `<user>:<app password>`
//! token; body `key` (hex SHA-1 of the commit status id), `url`, `state`
//! (`SUCCESSFUL`/`FAILED`), `name`, `description`.

use serde_json::json;

use super::git::{commit_target, owner_and_repo, repository, sha1_hex};
use super::request::basic_auth;
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

const API_BASE: &str = "https://api.bitbucket.org/2.0";

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let token = config
        .token()
        .ok_or_else(|| config.config_error("bitbucket needs a token"))?;
    let (user, password) = token
        .split_once(':')
        .filter(|(_, p)| !p.contains(':'))
        .ok_or_else(|| config.config_error("bitbucket token must be <user>:<password>"))?;
    let (_, id) = repository(config)?;
    let (owner, repo) =
        owner_and_repo(&id).ok_or_else(|| config.config_error("address must name owner/repo"))?;
    let Some(target) = commit_target(config, event, true)? else {
        return Ok(Vec::new());
    };
    let state = if event.severity == Severity::Error {
        "FAILED"
    } else {
        "SUCCESSFUL"
    };
    let body = json!({
        "key": sha1_hex(&config.commit_status),
        "url": "https://bitbucket.org",
        "state": state,
        "name": target.name,
        "description": target.description,
    });
    let base = config
        .api_base_url
        .as_deref()
        .unwrap_or(API_BASE)
        .trim_end_matches('/');
    let url = format!(
        "{base}/repositories/{owner}/{repo}/commit/{}/statuses/build",
        target.sha
    );
    Ok(vec![
        OutgoingRequest::post_json("create build status", url, &body)
            .header("Authorization", basic_auth(user, password)),
    ])
}
