//! `bitbucketserver` (Server / Data Center): `POST
//! <context>/rest/api/latest/projects/{project}/repos/{repo}/commits/{sha}/builds`,
//! derived from an `http(s)://host[/context]/scm/{project}/{repo}.git`
//! address; bearer token or basic auth; body `description`, `key` (hex SHA-1
//! of the commit status id), `name` (`kind/name [description]`), `state`, `url`.

use serde_json::json;

use super::git::{commit_target, sha1_hex};
use super::request::basic_auth;
use super::{OutgoingRequest, ProviderConfig};
use crate::error::NotifyError;
use crate::event::{Event, Severity};

pub(super) fn build(
    config: &ProviderConfig,
    event: &Event,
) -> Result<Vec<OutgoingRequest>, NotifyError> {
    let url = config.address_url()?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(config.config_error("address must be an http(s) clone URL"));
    }
    let path = url.path().strip_suffix(".git").unwrap_or(url.path());
    let (context, id) = path
        .rsplit_once("/scm/")
        .ok_or_else(|| config.config_error("address must be an http(s) clone URL with /scm/"))?;
    let (project, repo) = id
        .split_once('/')
        .filter(|(p, r)| !p.is_empty() && !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| config.config_error("address must name /scm/<project>/<repo>"))?;
    let authorization = match (config.token(), config.password.as_deref()) {
        (Some(token), _) => format!("Bearer {token}"),
        (None, Some(password)) if !config.username.is_empty() && !password.is_empty() => {
            basic_auth(&config.username, password)
        }
        _ => {
            return Err(
                config.config_error("bitbucketserver needs a token or username and password")
            );
        }
    };
    let Some(target) = commit_target(config, event, true)? else {
        return Ok(Vec::new());
    };
    let state = if event.severity == Severity::Error {
        "FAILED"
    } else {
        "SUCCESSFUL"
    };
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    base.set_path(&format!(
        "{context}/rest/api/latest/projects/{project}/repos/{repo}/commits/{}/builds",
        target.sha
    ));
    let body = json!({
        "description": target.description,
        "key": sha1_hex(&config.commit_status),
        "name": format!("{} [{}]", target.name, target.description),
        "state": state,
        "url": config.address,
    });
    let request = OutgoingRequest::post_json("post build status", base, &body)
        .header("Authorization", authorization)
        .header("x-atlassian-token", "no-check")
        .header("x-requested-with", "XMLHttpRequest");
    Ok(vec![request])
}
