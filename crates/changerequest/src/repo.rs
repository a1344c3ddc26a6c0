//! Which host and repository a GitRepository URL names, and the API root
//! to call: `https://host/owner/repo(.git)`, `ssh://git@host[:port]/owner/repo`
//! and scp-like `git@host:owner/repo`. GitLab paths may hold subgroups
//! (`group/sub/repo`); GitHub and Gitea paths are exactly `owner/repo`.
//!
//! The default API root is `https://api.github.com` for github.com,
//! `https://HOST/api/v3` for GitHub Enterprise, `https://HOST/api/v4` for
//! GitLab and `https://HOST/api/v1` for Gitea/Forgejo, where HOST keeps the
//! port of an http(s) URL and drops an SSH port (it is not the web port).
//! A host served under a sub-path, or on another port, needs the explicit
//! API base URL.

use std::str::FromStr;

use reqwest::Url;

use crate::error::Error;

/// The git host's API flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// GitHub and GitHub Enterprise Server (REST v3).
    GitHub,
    /// GitLab (REST v4).
    GitLab,
    /// Gitea and Forgejo (REST v1; Forgejo keeps Gitea's API).
    Gitea,
}

impl FromStr for ProviderKind {
    type Err = Error;

    /// `github`, `gitlab`, `gitea` or `forgejo`, in any case.
    fn from_str(text: &str) -> Result<Self, Error> {
        match text.to_ascii_lowercase().as_str() {
            "github" => Ok(Self::GitHub),
            "gitlab" => Ok(Self::GitLab),
            "gitea" | "forgejo" => Ok(Self::Gitea),
            _ => Err(Error::UnknownProvider(text.to_owned())),
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Gitea => "gitea",
        })
    }
}

/// A repository on a git host and the API root that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    kind: ProviderKind,
    api_base: Url,
    path: String,
}

impl Repository {
    /// Reads the host and repository path from `git_url`; `api_base`, when
    /// given, replaces the default API root (see the module doc).
    pub fn from_git_url(
        kind: ProviderKind,
        git_url: &str,
        api_base: Option<&str>,
    ) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidUrl {
            url: without_userinfo(git_url),
            reason,
        };
        let parts = split_git_url(git_url.trim()).ok_or_else(|| invalid("no host in the URL"))?;
        let segments: Vec<&str> = parts.path.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(invalid(
                "the repository path is empty or has empty segments",
            ));
        }
        match kind {
            ProviderKind::GitLab if segments.len() < 2 => {
                return Err(invalid(
                    "a GitLab path is group/project (subgroups allowed)",
                ));
            }
            ProviderKind::GitHub | ProviderKind::Gitea if segments.len() != 2 => {
                return Err(invalid("the repository path must be owner/repo"));
            }
            _ => {}
        }
        let api_base = match api_base.map(str::trim).filter(|b| !b.is_empty()) {
            Some(base) => parse_api_base(base)?,
            None => {
                let default = default_api_base(kind, &parts);
                Url::parse(&default).map_err(|_| invalid("the host is not a valid host name"))?
            }
        };
        Ok(Self {
            kind,
            api_base,
            path: parts.path,
        })
    }

    /// The provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The API root requests are built on.
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// The repository path: `owner/repo`, or `group/sub/project` on GitLab.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `owner` and `repo` of a two-segment path.
    pub(crate) fn owner_and_name(&self) -> (&str, &str) {
        self.path
            .split_once('/')
            .expect("paths have two or more segments: checked when parsed")
    }
}

/// A git URL cut into its parts.
struct GitUrlParts {
    /// `http` only for a plain-HTTP git URL; `https` otherwise.
    web_scheme: &'static str,
    /// Host, with the port of an http(s) URL.
    host_port: String,
    /// The bare host, lower-cased.
    host: String,
    path: String,
}

fn split_git_url(url: &str) -> Option<GitUrlParts> {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        // scp-like: [user@]host:path
        None => {
            let (authority, path) = url.split_once(':')?;
            let host = authority.rsplit('@').next()?.to_ascii_lowercase();
            return (!host.is_empty() && !host.contains('/')).then(|| GitUrlParts {
                web_scheme: "https",
                host_port: host.clone(),
                host,
                path: trim_path(path),
            });
        }
    };
    let web_scheme = match scheme.as_str() {
        "https" | "ssh" | "git+ssh" | "ssh+git" => "https",
        "http" => "http",
        _ => return None,
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit('@').next()?.to_ascii_lowercase();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next()?),
        None => host_port.split(':').next()?.to_owned(),
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let host_port = if web_scheme == "https" && scheme != "https" {
        host.clone()
    } else {
        host_port
    };
    Some(GitUrlParts {
        web_scheme,
        host_port,
        host,
        path: trim_path(path.split(['?', '#']).next().unwrap_or_default()),
    })
}

fn trim_path(path: &str) -> String {
    let path = path.trim_matches('/');
    path.strip_suffix(".git").unwrap_or(path).to_owned()
}

fn default_api_base(kind: ProviderKind, parts: &GitUrlParts) -> String {
    let GitUrlParts {
        web_scheme,
        host_port,
        host,
        ..
    } = parts;
    match kind {
        ProviderKind::GitHub if host == "github.com" || host == "www.github.com" => {
            "https://api.github.com".to_owned()
        }
        ProviderKind::GitHub => format!("{web_scheme}://{host_port}/api/v3"),
        ProviderKind::GitLab => format!("{web_scheme}://{host_port}/api/v4"),
        ProviderKind::Gitea => format!("{web_scheme}://{host_port}/api/v1"),
    }
}

fn parse_api_base(base: &str) -> Result<Url, Error> {
    let invalid = |reason| Error::InvalidApiBase {
        url: without_userinfo(base),
        reason,
    };
    let url = Url::parse(base).map_err(|_| invalid("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only http and https are supported"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials belong in the token, not in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the API root takes no query or fragment"));
    }
    Ok(url)
}

/// `url` with any `user:password@` removed, for error messages.
pub(crate) fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}
