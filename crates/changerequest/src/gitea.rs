//! Gitea and Forgejo REST v1: pull requests under
//! `/repos/{owner}/{repo}/pulls`, comments through the issues API,
//! branches under `/branches`. The list of pulls cannot be filtered by
//! head branch, so it is read page by page (50, Gitea's default maximum)
//! and filtered here; the page bound of [`crate::http`] applies. The token
//! goes in `Authorization: token …`.

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::host::{Api, ChangeRequest, Request, State};
use crate::http::{Auth, HostOptions, Transport, endpoint, paged, with_query};
use crate::token::Token;

const PER_PAGE: usize = 50;

pub(crate) struct Gitea {
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
    merged: bool,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    head: BranchInfo,
    base: BranchInfo,
}

#[derive(Deserialize)]
struct BranchInfo {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    repo_id: u64,
}

#[derive(Deserialize)]
struct Branch {
    name: String,
}

impl Pull {
    /// From `branch` of the base repository itself (not a fork).
    fn is_ours_from(&self, branch: &str) -> bool {
        self.head.name == branch && self.head.repo_id == self.base.repo_id
    }
}

impl From<Pull> for Request {
    fn from(pull: Pull) -> Self {
        let state = match (pull.state.as_str(), pull.merged) {
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

impl Gitea {
    pub(crate) fn new(
        token: Token,
        options: HostOptions,
        base: Url,
        owner: &str,
        name: &str,
    ) -> Result<Self, Error> {
        let transport = Transport::new(
            token,
            Auth::TokenScheme,
            &[("accept", "application/json")],
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
        format!("gitea {}/{}: {what}", self.owner, self.name)
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
        let limit = PER_PAGE.to_string();
        let pulls: Vec<Pull> = paged(&self.transport, operation, PER_PAGE, |page| {
            with_query(
                self.repo_url(["pulls"]),
                &[("state", state), ("page", page), ("limit", &limit)],
            )
        })
        .await?;
        Ok(pulls
            .into_iter()
            .filter(|p| p.is_ours_from(branch))
            .map(Request::from)
            .collect())
    }

    async fn patch_pull(
        &self,
        operation: &str,
        number: u64,
        body: &serde_json::Value,
    ) -> Result<Request, Error> {
        let n = number.to_string();
        let pull: Pull = self
            .transport
            .call_json(
                operation,
                Method::PATCH,
                self.repo_url(["pulls", &n]),
                Some(body),
            )
            .await?;
        Ok(pull.into())
    }
}

impl Api for Gitea {
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
            "head": request.source_branch,
            "base": request.target_branch,
            "title": request.title,
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
        self.patch_pull(&operation, number, &body).await
    }

    async fn branches(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let operation = self.op(&format!("list branches starting with {prefix}"));
        let limit = PER_PAGE.to_string();
        let found: Vec<Branch> = paged(&self.transport, &operation, PER_PAGE, |page| {
            with_query(
                self.repo_url(["branches"]),
                &[("page", page), ("limit", &limit)],
            )
        })
        .await?;
        Ok(found
            .into_iter()
            .map(|b| b.name)
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
        self.patch_pull(&operation, number, &json!({ "state": "closed" }))
            .await
            .map(drop)
    }

    async fn delete_branch(&self, branch: &str) -> Result<(), Error> {
        let operation = self.op(&format!("delete branch {branch}"));
        let url = self.repo_url(["branches"].into_iter().chain(branch.split('/')));
        let reply = self
            .transport
            .call(&operation, Method::DELETE, url, None)
            .await?;
        if reply.status == 404 {
            return Ok(());
        }
        self.transport.check(&operation, &reply)
    }
}
