//! Shared by the commit status providers: repository address parsing,
//! revision to commit SHA, the default status id, and Flux's
//! name/description wording.

use sha1::{Digest, Sha1};

use super::ProviderConfig;
use crate::error::NotifyError;
use crate::event::{Event, REASON_PROGRESSING, Severity};

/// Flux's default commit status id (`generateDefaultCommitStatus`):
/// `<kind>/<name>/<first segment of the Provider's UID>`, lower-cased. It is
/// GitHub's/Gitea's `context`, GitLab's `name`, and hashed into Bitbucket's `key`.
pub fn commit_status_id(kind: &str, name: &str, provider_uid: &str) -> String {
    let uid_head = provider_uid.split('-').next().unwrap_or_default();
    format!("{kind}/{name}/{uid_head}").to_lowercase()
}

/// A git address split into `scheme://host[:port]` and the repository path
/// without leading `/` and trailing `.git`. SSH addresses (URL or scp-like
/// `git@host:org/repo`) map to `https`, as Flux does.
pub(crate) fn parse_git_address(address: &str) -> Option<(String, String)> {
    let address = address.trim();
    let (scheme, rest) = match address.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => {
            // scp-like: [user@]host:path
            let (host_part, path) = address.split_once(':')?;
            let host = host_part.rsplit('@').next()?;
            return Some((format!("https://{host}"), trim_repo_path(path)));
        }
    };
    let scheme = if scheme == "ssh" {
        "https".to_string()
    } else {
        scheme
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit('@').next()?;
    if host.is_empty() {
        return None;
    }
    Some((format!("{scheme}://{host}"), trim_repo_path(path)))
}

fn trim_repo_path(path: &str) -> String {
    let path = path.trim_start_matches('/');
    path.strip_suffix(".git").unwrap_or(path).to_string()
}

/// `owner/repo` from a repository path with exactly two segments.
pub(crate) fn owner_and_repo(id: &str) -> Option<(&str, &str)> {
    let (owner, repo) = id.split_once('/')?;
    (!owner.is_empty() && !repo.is_empty() && !repo.contains('/')).then_some((owner, repo))
}

/// The commit SHA in a Flux revision: `main@sha1:<hex>`, `sha1:<hex>`,
/// `sha256:<hex>`, the legacy `main/<hex>`, or a bare hex SHA.
pub(crate) fn commit_sha(revision: &str) -> Option<String> {
    let after_at = revision.rsplit('@').next().unwrap_or(revision);
    let hash = match after_at.split_once(':') {
        Some((algorithm, hash)) if algorithm == "sha1" || algorithm == "sha256" => hash,
        Some(_) => return None,
        None => after_at.rsplit('/').next().unwrap_or(after_at),
    };
    let valid = matches!(hash.len(), 40 | 64) && hash.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| hash.to_ascii_lowercase())
}

/// Flux's `formatNameAndDescription`: (`kind/name`, reason split at camel
/// case and joined by spaces), both lower-cased.
pub(crate) fn name_and_description(event: &Event) -> (String, String) {
    let o = &event.involved_object;
    let name = format!("{}/{}", o.kind, o.name).to_lowercase();
    let description = split_camel_case(&event.reason).join(" ").to_lowercase();
    (name, description)
}

/// Splits `ReconciliationSucceeded` into `Reconciliation`, `Succeeded`
/// (runs of lower/upper/digit/other; an upper run followed by lower keeps
/// its last letter for the next word, so `HTTPServer` → `HTTP`, `Server`).
pub(crate) fn split_camel_case(text: &str) -> Vec<String> {
    fn class(c: char) -> u8 {
        if c.is_lowercase() {
            1
        } else if c.is_uppercase() {
            2
        } else if c.is_numeric() {
            3
        } else {
            4
        }
    }
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = 0;
    for c in text.chars() {
        let current = class(c);
        match runs.last_mut() {
            Some(run) if current == last => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = current;
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i][0].is_uppercase() && runs[i + 1][0].is_lowercase();
        if upper_then_lower && let Some(moved) = runs[i].pop() {
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// Hex SHA-1 of a string (Bitbucket's status `key`).
pub(crate) fn sha1_hex(text: &str) -> String {
    hex::encode(Sha1::digest(text.as_bytes()))
}

/// What a commit status provider needs from an event.
pub(crate) struct CommitTarget {
    /// The commit SHA.
    pub sha: String,
    /// `kind/name`, lower-cased.
    pub name: String,
    /// The reason in words, lower-cased.
    pub description: String,
}

/// The commit to set a status on, or `None` for a `Progressing` event when
/// `skip_progressing` (every git provider but Gitea, which posts `pending`).
/// Errors without naming the revision value's source URL or any secret.
pub(crate) fn commit_target(
    config: &ProviderConfig,
    event: &Event,
    skip_progressing: bool,
) -> Result<Option<CommitTarget>, NotifyError> {
    if skip_progressing && event.reason == REASON_PROGRESSING {
        return Ok(None);
    }
    if config.commit_status.is_empty() {
        return Err(config.config_error("commit status id is empty"));
    }
    let revision = event
        .revision()
        .ok_or_else(|| config.event_error("missing revision metadata"))?;
    let sha =
        commit_sha(revision).ok_or_else(|| config.event_error("revision holds no commit SHA"))?;
    if event.severity == Severity::Trace {
        return Err(config.event_error("trace events have no commit state"));
    }
    let (name, description) = name_and_description(event);
    Ok(Some(CommitTarget {
        sha,
        name,
        description,
    }))
}

/// The repository host and path of the provider address.
pub(crate) fn repository(config: &ProviderConfig) -> Result<(String, String), NotifyError> {
    parse_git_address(&config.address)
        .ok_or_else(|| config.config_error("address is not a git repository URL"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_camel_case_like_flux() {
        assert_eq!(
            split_camel_case("ReconciliationSucceeded"),
            ["Reconciliation", "Succeeded"]
        );
        assert_eq!(
            split_camel_case("HTTPServerError"),
            ["HTTP", "Server", "Error"]
        );
        assert_eq!(split_camel_case("Progressing"), ["Progressing"]);
    }

    #[test]
    fn extracts_commit_sha_from_revision_forms() {
        let sha = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";
        assert_eq!(
            commit_sha(&format!("main@sha1:{sha}")).as_deref(),
            Some(sha)
        );
        assert_eq!(commit_sha(&format!("sha1:{sha}")).as_deref(), Some(sha));
        assert_eq!(commit_sha(&format!("main/{sha}")).as_deref(), Some(sha));
        assert_eq!(
            commit_sha(&format!("refs/pull/1/head@sha1:{sha}")).as_deref(),
            Some(sha)
        );
        assert_eq!(commit_sha("main@sha1:nothex"), None);
        assert_eq!(commit_sha("v1.0.0"), None);
    }

    #[test]
    fn parses_git_addresses() {
        let cases = [
            (
                "https://github.com/org/repo",
                "https://github.com",
                "org/repo",
            ),
            (
                "https://github.com/org/repo.git",
                "https://github.com",
                "org/repo",
            ),
            (
                "ssh://git@gitlab.com/group/sub/repo.git",
                "https://gitlab.com",
                "group/sub/repo",
            ),
            (
                "git@github.com:org/repo.git",
                "https://github.com",
                "org/repo",
            ),
            (
                "http://127.0.0.1:8080/org/repo",
                "http://127.0.0.1:8080",
                "org/repo",
            ),
        ];
        for (address, host, id) in cases {
            assert_eq!(
                parse_git_address(address),
                Some((host.to_string(), id.to_string())),
                "{address}"
            );
        }
    }

    #[test]
    fn default_commit_status_id() {
        let id = commit_status_id(
            "Kustomization",
            "Apps",
            "0c9c2e41-d2f9-4f9b-9c41-2131a4b0aecb",
        );
        assert_eq!(id, "kustomization/apps/0c9c2e41");
    }
}
