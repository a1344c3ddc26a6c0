//! GitLab REST v4: merge requests under
//! `/projects/{url-encoded path}/merge_requests` (listed by
//! `source_branch`, closed with `state_event`, commented through `notes`),
//! branches under `/repository/branches` (the branch name is one encoded
//! path segment). The token goes in `Authorization: Bearer`, which GitLab
//! accepts for personal, project and group access tokens as well as OAuth
//! tokens, where `PRIVATE-TOKEN` covers only the former.

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::json;

use crate::error::Error;
use crate::host::{Api, ChangeRequest, Request, State};
use crate::http::{Auth, HostOptions, Transport, endpoint, paged, with_query};
use crate::token::Token;

const PER_PAGE: usize = 100;

pub(crate) struct GitLab {
    transport: Transport,
    base: Url,
    project: String,
}

#[derive(Deserialize)]
struct MergeRequest {
    iid: u64,
    web_url: String,
    state: String,
    target_branch: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    source_project_id: u64,
    target_project_id: u64,
}

#[derive(Deserialize)]
struct BranchInfo {
    name: String,
}

impl From<MergeRequest> for Request {
    fn from(mr: MergeRequest) -> Self {
        let state = match mr.state.as_str() {
            "opened" => State::Open,
            "merged" => State::Merged,
            // "closed", and "locked" (a transient state while merging).
            _ => State::Closed,
        };
        Request {
            number: mr.iid,
            url: mr.web_url,
            state,
            target_branch: mr.target_branch,
            title: mr.title,
            body: mr.description.unwrap_or_default(),
        }
    }
}

impl GitLab {
    pub(crate) fn new(
        token: Token,
        options: HostOptions,
        base: Url,
        project: &str,
    ) -> Result<Self, Error> {
        let transport = Transport::new(
            token,
            Auth::Bearer,
            &[("accept", "application/json")],
            options,
        )?;
        Ok(Self {
            transport,
            base,
            project: project.to_owned(),
        })
    }

    fn op(&self, what: &str) -> String {
        format!("gitlab {}: {what}", self.project)
    }

    /// `…/projects/{group%2Fproject}/rest…`.
    fn project_url<'a>(&'a self, rest: impl IntoIterator<Item = &'a str>) -> Url {
        endpoint(
            &self.base,
            ["projects", self.project.as_str()].into_iter().chain(rest),
        )
    }

    async fn merge_requests(
        &self,
        operation: &str,
        branch: &str,
        state: &str,
    ) -> Result<Vec<Request>, Error> {
        let found: Vec<MergeRequest> = paged(&self.transport, operation, PER_PAGE, |page| {
            with_query(
                self.project_url(["merge_requests"]),
                &[
                    ("state", state),
                    ("source_branch", branch),
                    ("per_page", "100"),
                    ("page", page),
                ],
            )
        })
        .await?;
        Ok(found
            .into_iter()
            // Requests from a fork's branch of the same name are not ours.
            .filter(|mr| mr.source_project_id == mr.target_project_id)
            .map(Request::from)
            .collect())
    }

    async fn put_merge_request(
        &self,
        operation: &str,
        iid: u64,
        body: &serde_json::Value,
    ) -> Result<Request, Error> {
        let iid = iid.to_string();
        let mr: MergeRequest = self
            .transport
            .call_json(
                operation,
                Method::PUT,
                self.project_url(["merge_requests", &iid]),
                Some(body),
            )
            .await?;
        Ok(mr.into())
    }
}

impl Api for GitLab {
    async fn open_request(&self, branch: &str) -> Result<Option<Request>, Error> {
        let operation = self.op(&format!("find open merge request for {branch}"));
        Ok(self
            .merge_requests(&operation, branch, "opened")
            .await?
            .into_iter()
            .next())
    }

    async fn create(&self, request: &ChangeRequest) -> Result<Request, Error> {
        let operation = self.op(&format!("open merge request for {}", request.source_branch));
        let body = json!({
            "source_branch": request.source_branch,
            "target_branch": request.target_branch,
            "title": request.title,
            "description": request.body,
            // GitLab deletes the branch itself once merged.
            "remove_source_branch": true,
        });
        let mr: MergeRequest = self
            .transport
            .call_json(
                &operation,
                Method::POST,
                self.project_url(["merge_requests"]),
                Some(&body),
            )
            .await?;
        Ok(mr.into())
    }

    async fn edit(&self, number: u64, request: &ChangeRequest) -> Result<Request, Error> {
        let operation = self.op(&format!("update merge request !{number}"));
        let body = json!({
            "title": request.title,
            "description": request.body,
            "target_branch": request.target_branch,
        });
        self.put_merge_request(&operation, number, &body).await
    }

    async fn branches(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let operation = self.op(&format!("list branches starting with {prefix}"));
        // `^term` asks GitLab for names beginning with term.
        let search = format!("^{prefix}");
        let found: Vec<BranchInfo> = paged(&self.transport, &operation, PER_PAGE, |page| {
            with_query(
                self.project_url(["repository", "branches"]),
                &[("search", &search), ("per_page", "100"), ("page", page)],
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
        let operation = self.op(&format!("list merge requests for {branch}"));
        self.merge_requests(&operation, branch, "all").await
    }

    async fn close(&self, number: u64, comment: &str) -> Result<(), Error> {
        let iid = number.to_string();
        let operation = self.op(&format!("comment on merge request !{number}"));
        let reply = self
            .transport
            .call(
                &operation,
                Method::POST,
                self.project_url(["merge_requests", &iid, "notes"]),
                Some(&json!({ "body": comment })),
            )
            .await?;
        self.transport.check(&operation, &reply)?;
        let operation = self.op(&format!("close merge request !{number}"));
        self.put_merge_request(&operation, number, &json!({ "state_event": "close" }))
            .await
            .map(drop)
    }

    async fn delete_branch(&self, branch: &str) -> Result<(), Error> {
        let operation = self.op(&format!("delete branch {branch}"));
        let url = self.project_url(["repository", "branches", branch]);
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
