//! [`Host`]: the two operations the reconciler needs, [`Host::ensure`] and
//! [`Host::clean_up`], written once over the small set of calls each API
//! backend provides ([`Api`]).
//!
//! # Semantics
//!
//! - **ensure**: at most one open request per source branch. If our
//!   repository has an open request from `source_branch`, its title, body
//!   and target are brought to the given ones ([`Outcome::Updated`], or
//!   [`Outcome::Unchanged`] when they already match); otherwise one is
//!   opened ([`Outcome::Opened`]). A newer tag pushed to the same branch
//!   therefore updates the request instead of duplicating it. Requests
//!   from forks with the same branch name are ignored.
//! - **clean_up(prefix, keep)**: looks only at branches whose name starts
//!   with `prefix` and that are not in `keep` (the branches the reconciler
//!   still wants). For each that has requests: open ones are closed with a
//!   comment saying they were superseded, then the branch is deleted;
//!   branches whose requests were all merged or closed are deleted. A
//!   branch without any request is left alone (it may be waiting for its
//!   `ensure`, or not be ours). Branches already gone count as deleted.

use crate::error::Error;
use crate::http::HostOptions;
use crate::repo::{ProviderKind, Repository};
use crate::token::Token;
use crate::{gitea, github, gitlab};

/// The request the reconciler wants to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    /// The branch holding the update (already pushed).
    pub source_branch: String,
    /// The branch to merge into.
    pub target_branch: String,
    /// The title.
    pub title: String,
    /// The description (Markdown).
    pub body: String,
}

/// What [`Host::ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new request was opened.
    Opened {
        /// Its number (GitLab's `iid`).
        number: u64,
        /// Its web page.
        url: String,
    },
    /// The open request of the branch got a new title, body or target.
    Updated {
        /// Its number.
        number: u64,
        /// Its web page.
        url: String,
    },
    /// The open request of the branch already said this.
    Unchanged {
        /// Its number.
        number: u64,
        /// Its web page.
        url: String,
    },
}

impl Outcome {
    /// The request's number.
    pub fn number(&self) -> u64 {
        match self {
            Self::Opened { number, .. }
            | Self::Updated { number, .. }
            | Self::Unchanged { number, .. } => *number,
        }
    }

    /// The request's web page.
    pub fn url(&self) -> &str {
        match self {
            Self::Opened { url, .. } | Self::Updated { url, .. } | Self::Unchanged { url, .. } => {
                url
            }
        }
    }
}

/// A request [`Host::clean_up`] closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedRequest {
    /// Its number.
    pub number: u64,
    /// Its web page.
    pub url: String,
    /// Its source branch.
    pub branch: String,
}

/// What [`Host::clean_up`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanUp {
    /// Open requests closed as superseded.
    pub closed: Vec<ClosedRequest>,
    /// Branches deleted, in the order handled.
    pub deleted_branches: Vec<String>,
}

/// A request's state as the host reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    Closed,
    Merged,
}

/// A request as read from a host.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub number: u64,
    pub url: String,
    pub state: State,
    pub target_branch: String,
    pub title: String,
    pub body: String,
}

/// The calls a backend provides; each names its operation in errors.
pub(crate) trait Api {
    /// The open request from `branch` of our repository, if any.
    async fn open_request(&self, branch: &str) -> Result<Option<Request>, Error>;
    /// Opens a request.
    async fn create(&self, request: &ChangeRequest) -> Result<Request, Error>;
    /// Sets title, body and target of request `number`.
    async fn edit(&self, number: u64, request: &ChangeRequest) -> Result<Request, Error>;
    /// Branch names starting with `prefix` (non-empty).
    async fn branches(&self, prefix: &str) -> Result<Vec<String>, Error>;
    /// Every request, in any state, from `branch` of our repository.
    async fn requests_for(&self, branch: &str) -> Result<Vec<Request>, Error>;
    /// Comments on request `number`, then closes it.
    async fn close(&self, number: u64, comment: &str) -> Result<(), Error>;
    /// Deletes `branch`; a branch already gone is not an error.
    async fn delete_branch(&self, branch: &str) -> Result<(), Error>;
}

enum Backend {
    GitHub(github::GitHub),
    GitLab(gitlab::GitLab),
    Gitea(gitea::Gitea),
}

/// A repository on a git host, with the token to act on it.
pub struct Host {
    repository: Repository,
    backend: Backend,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host client for `repository`, authenticating with `token`.
    pub fn new(repository: Repository, token: Token, options: HostOptions) -> Result<Self, Error> {
        let base = repository.api_base().clone();
        let backend = match repository.kind() {
            ProviderKind::GitHub => {
                let (owner, name) = repository.owner_and_name();
                Backend::GitHub(github::GitHub::new(token, options, base, owner, name)?)
            }
            ProviderKind::GitLab => Backend::GitLab(gitlab::GitLab::new(
                token,
                options,
                base,
                repository.path(),
            )?),
            ProviderKind::Gitea => {
                let (owner, name) = repository.owner_and_name();
                Backend::Gitea(gitea::Gitea::new(token, options, base, owner, name)?)
            }
        };
        Ok(Self {
            repository,
            backend,
        })
    }

    /// The repository this host acts on.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// Opens the request for `request.source_branch`, or updates the open
    /// one (see the module doc).
    pub async fn ensure(&self, request: &ChangeRequest) -> Result<Outcome, Error> {
        match &self.backend {
            Backend::GitHub(api) => ensure(api, request).await,
            Backend::GitLab(api) => ensure(api, request).await,
            Backend::Gitea(api) => ensure(api, request).await,
        }
    }

    /// Closes superseded requests and deletes finished branches among
    /// those named `branch_prefix…` that are not in `keep` (see the module
    /// doc).
    pub async fn clean_up(&self, branch_prefix: &str, keep: &[String]) -> Result<CleanUp, Error> {
        match &self.backend {
            Backend::GitHub(api) => clean_up(api, branch_prefix, keep).await,
            Backend::GitLab(api) => clean_up(api, branch_prefix, keep).await,
            Backend::Gitea(api) => clean_up(api, branch_prefix, keep).await,
        }
    }
}

async fn ensure<A: Api>(api: &A, request: &ChangeRequest) -> Result<Outcome, Error> {
    let invalid = |reason| Error::InvalidRequest {
        branch: request.source_branch.clone(),
        reason,
    };
    if request.source_branch.trim().is_empty() || request.target_branch.trim().is_empty() {
        return Err(invalid("source and target branch must both be set"));
    }
    if request.source_branch == request.target_branch {
        return Err(invalid("the source branch is the target branch"));
    }
    if request.title.trim().is_empty() {
        return Err(invalid("the title is empty"));
    }
    match api.open_request(&request.source_branch).await? {
        None => {
            let opened = api.create(request).await?;
            Ok(Outcome::Opened {
                number: opened.number,
                url: opened.url,
            })
        }
        Some(open) if says_the_same(&open, request) => Ok(Outcome::Unchanged {
            number: open.number,
            url: open.url,
        }),
        Some(open) => {
            let updated = api.edit(open.number, request).await?;
            Ok(Outcome::Updated {
                number: updated.number,
                url: updated.url,
            })
        }
    }
}

/// Hosts may store the body with CRLF line ends or trimmed.
fn says_the_same(open: &Request, wanted: &ChangeRequest) -> bool {
    let normal = |text: &str| text.replace("\r\n", "\n").trim().to_owned();
    open.title.trim() == wanted.title.trim()
        && open.target_branch == wanted.target_branch
        && normal(&open.body) == normal(&wanted.body)
}

/// The comment left on a request closed by [`clean_up`].
pub(crate) const SUPERSEDED_COMMENT: &str = "Superseded: driftless no longer updates this branch \
(the update now goes to another branch, or the policy no longer applies). \
Closing this request and deleting its branch.";

async fn clean_up<A: Api>(api: &A, prefix: &str, keep: &[String]) -> Result<CleanUp, Error> {
    if prefix.trim().is_empty() {
        return Err(Error::EmptyPrefix);
    }
    let mut branches: Vec<String> = api
        .branches(prefix)
        .await?
        .into_iter()
        .filter(|b| b.starts_with(prefix) && !keep.contains(b))
        .collect();
    branches.sort();
    branches.dedup();
    let mut done = CleanUp::default();
    for branch in branches {
        let requests = api.requests_for(&branch).await?;
        if requests.is_empty() {
            continue;
        }
        for open in requests.iter().filter(|r| r.state == State::Open) {
            api.close(open.number, SUPERSEDED_COMMENT).await?;
            done.closed.push(ClosedRequest {
                number: open.number,
                url: open.url.clone(),
                branch: branch.clone(),
            });
        }
        api.delete_branch(&branch).await?;
        tracing::info!(branch = %branch, "deleted change-request branch");
        done.deleted_branches.push(branch);
    }
    Ok(done)
}
