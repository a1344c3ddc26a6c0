//! One pull/merge request per image update: the part of the image
//! automation that talks to git hosts' APIs — GitHub (and Enterprise
//! Server), GitLab, Gitea/Forgejo — plus the pure logic that goes with it:
//! branch names from a template, batching of updates, rate-limit backoff.
//!
//! It owns: reading the host and repository from a GitRepository URL
//! ([`Repository`]), opening/updating a request per source branch
//! ([`Host::ensure`]), closing superseded requests and deleting finished
//! branches ([`Host::clean_up`]), naming branches ([`BranchTemplate`]),
//! the request text ([`Update::title`], [`Update::body`]) and coalescing
//! bursts ([`Batcher`]). It must not touch git itself (commits and pushes
//! belong to the git push crate; the branch must be pushed before
//! [`Host::ensure`]) nor Kubernetes (the caller reads the Secret and
//! passes a [`Token`], and writes status and events).
//!
//! The APIs are spoken directly with reqwest rather than through a
//! per-host SDK crate: we need seven calls per host, the SDKs are large,
//! host-specific and bring their own TLS stacks, while reqwest (on rustls
//! with `ring`) is already in the workspace.
//!
//! Tokens never appear in errors, `Debug` output or logs: [`Token`] hides
//! itself, the auth header is marked sensitive, URLs in errors lose their
//! user-info, and text echoed by a host has the token masked.
//!
//! ```no_run
//! use driftless_changerequest::{
//!     BranchTemplate, DEFAULT_BRANCH_TEMPLATE, Host, HostOptions, PolicyRef, ProviderKind,
//!     Repository, Token, Update,
//! };
//! # async fn run() -> Result<(), driftless_changerequest::Error> {
//! let repo = Repository::from_git_url(ProviderKind::GitHub, "ssh://git@github.com/org/env", None)?;
//! let host = Host::new(repo, Token::new("from the Secret's token key")?, HostOptions::default())?;
//! let template = BranchTemplate::parse(DEFAULT_BRANCH_TEMPLATE)?;
//! let update = Update {
//!     policy: PolicyRef { namespace: "apps".into(), name: "web".into() },
//!     image: "ghcr.io/org/web".into(),
//!     old_tag: Some("1.0.0".into()),
//!     new_tag: "1.1.0".into(),
//!     files: vec!["deploy/web.yaml".into()],
//! };
//! let request = update.change_request(&template, "main", None)?;
//! // ... commit the update and push request.source_branch, then:
//! let outcome = host.ensure(&request).await?;
//! println!("request #{} at {}", outcome.number(), outcome.url());
//! host.clean_up(template.prefix(), &[request.source_branch.clone()]).await?;
//! # Ok(()) }
//! ```
//!
//! See [`host`] for the exact semantics of `ensure` and `clean_up`,
//! [`ratelimit`] for backoff, [`batch`] for batching, [`branch`] for names.

pub mod batch;
pub mod branch;
mod error;
mod gitea;
mod github;
mod gitlab;
pub mod host;
mod http;
pub mod ratelimit;
mod repo;
mod token;
mod update;

pub use batch::Batcher;
pub use branch::{BranchTemplate, DEFAULT_BRANCH_TEMPLATE, sanitize_branch_name};
pub use error::{Error, TransportKind};
pub use host::{ChangeRequest, CleanUp, ClosedRequest, Host, Outcome};
pub use http::HostOptions;
pub use ratelimit::{Pause, RealPause, RetryPolicy};
pub use repo::{ProviderKind, Repository};
pub use token::Token;
pub use update::{PolicyRef, Update};
