//! GitHub REST v3 (github.com and Enterprise Server at `…/api/v3`):
//! pull requests under `/repos/{owner}/{repo}/pulls` (listed by
//! `head=owner:branch`), comments through the issues API, branches through
//! `git/matching-refs` and `git/refs`. Every call carries `Authorization:
//! Bearer`, `Accept: application/vnd.github+json` and the pinned
//! `X-GitHub-Api-Version`.

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::host::{Api, ChangeRequest, Request, State};
use crate::http::{Auth, HostOptions, Transport, endpoint, paged, with_query};
use crate::token::Token;

/// The REST API version these calls are written against.
pub(crate) const API_VERSION: &str = "2022-11-28";
const PER_PAGE: usize = 100;

pub(crate) struct GitHub {
    transport: Transport,
    base: Url,
    owner: String,
    name: String,
}

#[derive(Deserialize)]
struct Pull {
    number: u64,
    html_url: String,
    state: String,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    base: Branch,
}

#[derive(Deserialize)]
struct Branch {
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct GitRef {
    #[serde(rename = "ref")]
    name: String,
}

impl From<Pull> for Request {
    fn from(pull: Pull) -> Self {
        let state = match (pull.state.as_str(), pull.merged_at.is_some()) {
            (_, true) => State::Merged,
            ("open", false) => State::Open,
            _ => State::Closed,
        };
        Request {
            number: pull.number,
            url: pull.html_url,
            state,
            target_branch: pull.base.name,
            title: pull.title,
            body: pull.body.unwrap_or_default(),
        }
    }
}

impl GitHub {
    pub(crate) fn new(
        token: Token,
        options: HostOptions,
        base: Url,
        owner: &str,
        name: &str,
    ) -> Result<Self, Error> {
        let transport = Transport::new(
            token,
            Auth::Bearer,
            &[
                ("accept", "application/vnd.github+json"),
                ("x-github-api-version", API_VERSION),
            ],
            options,
        )?;
        Ok(Self {
            transport,
            base,
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    fn op(&self, what: &str) -> String {
        format!("github {}/{}: {what}", self.owner, self.name)
    }

    fn repo_url<'a>(&'a self, rest: impl IntoIterator<Item = &'a str>) -> Url {
        endpoint(
            &self.base,
            ["repos", self.owner.as_str(), self.name.as_str()]
                .into_iter()
                .chain(rest),
        )
    }

    async fn pulls(
        &self,
        operation: &str,
        branch: &str,
        state: &str,
    ) -> Result<Vec<Request>, Error> {
        let head = format!("{}:{branch}", self.owner);
        let pulls: Vec<Pull> = paged(&self.transport, operation, PER_PAGE, |page| {
            with_query(
                self.repo_url(["pulls"]),
                &[
                    ("state", state),
                    ("head", &head),
                    ("per_page", "100"),
                    ("page", page),
                ],
            )
        })
        .await?;
        Ok(pulls.into_iter().map(Request::from).collect())
    }
}

impl Api for GitHub {
    async fn open_request(&self, branch: &str) -> Result<Option<Request>, Error> {
        let operation = self.op(&format!("find open pull request for {branch}"));
        Ok(self
            .pulls(&operation, branch, "open")
            .await?
            .into_iter()
            .next())
    }

    async fn create(&self, request: &ChangeRequest) -> Result<Request, Error> {
        let operation = self.op(&format!("open pull request for {}", request.source_branch));
        let body = json!({
            "title": request.title,
            "head": request.source_branch,
            "base": request.target_branch,
            "body": request.body,
        });
        let pull: Pull = self
            .transport
            .call_json(
                &operation,
                Method::POST,
                self.repo_url(["pulls"]),
                Some(&body),
            )
            .await?;
        Ok(pull.into())
    }

    async fn edit(&self, number: u64, request: &ChangeRequest) -> Result<Request, Error> {
        let operation = self.op(&format!("update pull request #{number}"));
        let body = json!({
            "title": request.title,
            "body": request.body,
            "base": request.target_branch,
        });
        let number = number.to_string();
        let pull: Pull = self
            .transport
            .call_json(
                &operation,
                Method::PATCH,
                self.repo_url(["pulls", &number]),
                Some(&body),
            )
            .await?;
        Ok(pull.into())
    }

    async fn branches(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let operation = self.op(&format!("list branches starting with {prefix}"));
        // matching-refs matches by string prefix; an empty last segment
        // (a prefix ending in `/`) is left out and filtered below instead.
        let segments = prefix.split('/').filter(|s| !s.is_empty());
        let url = self.repo_url(
            ["git", "matching-refs", "heads"]
                .into_iter()
                .chain(segments),
        );
        let refs: Vec<GitRef> = self
            .transport
            .call_json(&operation, Method::GET, url, None)
            .await?;
        Ok(refs
            .into_iter()
            .filter_map(|r| r.name.strip_prefix("refs/heads/").map(str::to_owned))
            .filter(|b| b.starts_with(prefix))
            .collect())
    }

    async fn requests_for(&self, branch: &str) -> Result<Vec<Request>, Error> {
        let operation = self.op(&format!("list pull requests for {branch}"));
        self.pulls(&operation, branch, "all").await
    }

    async fn close(&self, number: u64, comment: &str) -> Result<(), Error> {
        let n = number.to_string();
        let operation = self.op(&format!("comment on pull request #{number}"));
        let reply = self
            .transport
            .call(
                &operation,
                Method::POST,
                self.repo_url(["issues", &n, "comments"]),
                Some(&json!({ "body": comment })),
            )
            .await?;
        self.transport.check(&operation, &reply)?;
        let operation = self.op(&format!("close pull request #{number}"));
        let reply = self
            .transport
            .call(
                &operation,
                Method::PATCH,
                self.repo_url(["pulls", &n]),
                Some(&json!({ "state": "closed" })),
            )
            .await?;
        self.transport.check(&operation, &reply)
    }

    async fn delete_branch(&self, branch: &str) -> Result<(), Error> {
        let operation = self.op(&format!("delete branch {branch}"));
        let url = self.repo_url(
            ["git", "refs", "heads"]
                .into_iter()
                .chain(branch.split('/')),
        );
        let reply = self
            .transport
            .call(&operation, Method::DELETE, url, None)
            .await?;
        // 422 "Reference does not exist": already deleted (e.g. on merge).
        if matches!(reply.status, 404 | 422) {
            return Ok(());
        }
        self.transport.check(&operation, &reply)
    }
}
