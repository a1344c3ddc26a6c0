//! The crate's one error type. Every variant names the host, the
//! repository and the step (or the input at fault); none carries a token:
//! URLs lose their user-info, and text echoed from a host is cut short and
//! has the token masked before it is kept.

use std::time::Duration;

/// How a request failed before any answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// No connection (refused, DNS, TLS handshake).
    Connect,
    /// No answer within the client's timeout.
    Timeout,
    /// The answer's body could not be read, or was larger than allowed.
    Body,
    /// Anything else reqwest reports.
    Other,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Body => "answer unreadable or too large",
            TransportKind::Other => "request failed",
        })
    }
}

/// A change-request failure. `operation` reads like
/// `github org/app: open pull request for driftless/apps-web`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The GitRepository URL does not name a repository on a host.
    #[error("repository URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL without user-info.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The explicit API base URL is not usable.
    #[error("API base URL {url:?}: {reason}")]
    InvalidApiBase {
        /// The URL without user-info.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The provider kind is none of ours.
    #[error("unknown git provider {0:?}")]
    UnknownProvider(String),
    /// The token is empty or cannot be sent in a header.
    #[error("token: {0}")]
    InvalidToken(&'static str),
    /// The HTTP client could not be built.
    #[error("HTTP client could not be built")]
    Client,
    /// No answer from the host.
    #[error("{operation}: {kind}")]
    Transport {
        /// What was being done.
        operation: String,
        /// How it failed.
        kind: TransportKind,
    },
    /// The host answered with an error status.
    #[error("{operation}: HTTP status {status}{}", message_suffix(.message))]
    Status {
        /// What was being done.
        operation: String,
        /// The HTTP status code.
        status: u16,
        /// The host's own message (cut short, token masked), if any.
        message: String,
    },
    /// The host kept answering "rate limited" past the retry budget.
    #[error("{operation}: rate limited by the host after {attempts} attempt(s){}", retry_suffix(*.retry_after))]
    RateLimited {
        /// What was being done.
        operation: String,
        /// How many requests were sent.
        attempts: u32,
        /// How long the host asked to wait before the next try, if it said.
        retry_after: Option<Duration>,
    },
    /// The host answered 2xx with a body we cannot read.
    #[error("{operation}: unexpected answer: {reason}")]
    UnexpectedAnswer {
        /// What was being done.
        operation: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A listing went on for more pages than we read.
    #[error("{operation}: more than {pages} pages of results")]
    TooManyPages {
        /// What was being done.
        operation: String,
        /// The page bound.
        pages: u32,
    },
    /// The change request itself is not usable.
    #[error("change request for branch {branch:?}: {reason}")]
    InvalidRequest {
        /// Its source branch.
        branch: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `clean_up` was given an empty branch prefix, which would take every
    /// branch of the repository for ours.
    #[error("clean-up needs a non-empty branch prefix")]
    EmptyPrefix,
    /// The branch template does not parse.
    #[error("branch template {template:?} does not parse")]
    TemplateParse {
        /// The template text.
        template: String,
        /// The parser's error.
        #[source]
        source: Box<driftless_gotemplate::ParseError>,
    },
    /// The branch template failed while rendering.
    #[error("branch template {template:?} failed")]
    TemplateExec {
        /// The template text.
        template: String,
        /// The execution error.
        #[source]
        source: Box<driftless_gotemplate::ExecError>,
    },
    /// The rendered branch name is unusable even after sanitizing.
    #[error("branch template {template:?} rendered {rendered:?}: {reason}")]
    BranchName {
        /// The template text.
        template: String,
        /// What it rendered (before sanitizing).
        rendered: String,
        /// What is wrong.
        reason: &'static str,
    },
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

fn retry_suffix(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |wait| {
        format!(" (host asks to wait {}s)", wait.as_secs())
    })
}

impl Error {
    /// What a person can do about it, one short line.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::InvalidUrl { .. } => {
                "use https://host/owner/repo, ssh://git@host/owner/repo or git@host:owner/repo (GitLab allows subgroups)"
            }
            Error::InvalidApiBase { .. } => {
                "give the API root as an http(s) URL, e.g. https://ghe.example.com/api/v3, https://gitlab.example.com/api/v4 or https://gitea.example.com/api/v1"
            }
            Error::UnknownProvider(_) => "use github, gitlab, gitea or forgejo",
            Error::InvalidToken(_) => "put the API token in the Secret's `token` key",
            Error::Status { status: 401, .. } => {
                "the token was refused: check the Secret's `token`"
            }
            Error::Status { status: 403, .. } => {
                "the token lacks permission: it needs write access to pull/merge requests and branches"
            }
            Error::Status { status: 404, .. } => {
                "check the repository URL, the provider kind and the API base URL; hosts answer 404 to tokens without access"
            }
            Error::Status {
                status: 409 | 422, ..
            } => "check that the source branch was pushed and differs from the target branch",
            Error::RateLimited { .. } => "retry after the wait the host asked for",
            Error::Transport { .. } => "check the API base URL and that this host can reach it",
            Error::TooManyPages { .. } => "close or merge old requests and delete stale branches",
            Error::EmptyPrefix => "give the branch template a literal prefix, e.g. driftless/",
            Error::TemplateParse { .. } | Error::TemplateExec { .. } | Error::BranchName { .. } => {
                "the template sees .Policy.Namespace, .Policy.Name, .Image, .OldTag and .NewTag"
            }
            _ => return None,
        })
    }

    /// The wait a rate-limited host asked for, for a caller that requeues.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
