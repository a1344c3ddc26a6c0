//! A stand-in for each git host: a loopback HTTP server that keeps pull/
//! merge requests and branches in memory, CHECKS every request against the
//! host's documented API (method, path, auth and media-type headers, JSON
//! body fields, query parameters) and answers in the host's JSON shape.
//! A request that breaks the API is recorded as a violation and answered
//! 400, so tests assert `violations()` is empty. Scripted answers (for
//! rate limits) are served first, before any checking.

#![allow(dead_code)]

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use driftless_changerequest::{
    Host, HostOptions, Pause, ProviderKind, Repository, RetryPolicy, Token,
};
use serde_json::{Value, json};

pub const TOKEN: &str = "tok_9f8e7d6c5b4a";
pub const NOW: u64 = 1_800_000_000;

/// A pull/merge request as the fake host keeps it.
#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub open: bool,
    pub merged: bool,
    /// Opened from a fork's branch of the same name.
    pub fork: bool,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

#[derive(Default)]
struct Forge {
    pulls: Vec<FakePull>,
    branches: BTreeSet<String>,
    comments: Vec<(u64, String)>,
    violations: Vec<String>,
    seen: Vec<Seen>,
    script: VecDeque<(u16, Vec<(String, String)>, String)>,
}

#[derive(Clone)]
struct Shared {
    kind: ProviderKind,
    forge: Arc<Mutex<Forge>>,
}

pub struct FakeHost {
    pub kind: ProviderKind,
    pub addr: SocketAddr,
    forge: Arc<Mutex<Forge>>,
}

impl FakeHost {
    pub async fn start(kind: ProviderKind) -> Self {
        let forge = Arc::new(Mutex::new(Forge::default()));
        let shared = Shared {
            kind,
            forge: forge.clone(),
        };
        let app = Router::new().fallback(handle).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { kind, addr, forge }
    }

    /// The API root, as a user would give it.
    pub fn api_base(&self) -> String {
        let version = match self.kind {
            ProviderKind::GitHub => "v3",
            ProviderKind::GitLab => "v4",
            ProviderKind::Gitea => "v1",
        };
        format!("http://{}/api/{version}", self.addr)
    }

    pub fn git_url(&self) -> &'static str {
        match self.kind {
            ProviderKind::GitHub => "ssh://git@github.example.com/org/app",
            ProviderKind::GitLab => "git@gitlab.example.com:group/sub/app.git",
            ProviderKind::Gitea => "https://gitea.example.com/org/app.git",
        }
    }

    pub fn host(&self, pause: Arc<TestPause>, retry: RetryPolicy) -> Host {
        let repo = Repository::from_git_url(self.kind, self.git_url(), Some(&self.api_base()))
            .expect("repository");
        let options = HostOptions {
            retry,
            pause,
            timeout: Duration::from_secs(10),
        };
        Host::new(repo, Token::new(TOKEN).expect("token"), options).expect("host")
    }

    pub fn push_branch(&self, branch: &str) {
        self.forge
            .lock()
            .unwrap()
            .branches
            .insert(branch.to_owned());
    }

    pub fn branches(&self) -> Vec<String> {
        self.forge
            .lock()
            .unwrap()
            .branches
            .iter()
            .cloned()
            .collect()
    }

    pub fn add_pull(&self, head: &str, open: bool, merged: bool, fork: bool) -> u64 {
        let mut forge = self.forge.lock().unwrap();
        let number = forge.pulls.len() as u64 + 1;
        forge.pulls.push(FakePull {
            number,
            head: head.to_owned(),
            base: "main".to_owned(),
            title: format!("seeded {number}"),
            body: String::new(),
            open,
            merged,
            fork,
        });
        number
    }

    pub fn pulls(&self) -> Vec<FakePull> {
        self.forge.lock().unwrap().pulls.clone()
    }

    pub fn comments(&self) -> Vec<(u64, String)> {
        self.forge.lock().unwrap().comments.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.forge.lock().unwrap().violations.clone()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.forge.lock().unwrap().seen.clone()
    }

    /// Queues an answer served before any checking or routing.
    pub fn script(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.forge.lock().unwrap().script.push_back((
            status,
            headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body.to_owned(),
        ));
    }
}

/// Records waits instead of sleeping; "now" advances by what was waited.
#[derive(Default)]
pub struct TestPause {
    pub waits: Mutex<Vec<Duration>>,
}

impl TestPause {
    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

impl Pause for TestPause {
    fn now(&self) -> SystemTime {
        let waited: Duration = self.waits.lock().unwrap().iter().sum();
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW) + waited
    }

    fn sleep(
        &self,
        duration: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.waits.lock().unwrap().push(duration);
        Box::pin(async {})
    }
}

fn answer(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    if body.is_null() {
        return status.into_response();
    }
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn query_get(query: &str, key: &str) -> Option<String> {
    query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Checks a JSON body: it must be an object holding every `required` key
/// and no key outside `required` + `optional`.
fn check_fields(body: &Value, required: &[&str], optional: &[&str]) -> Result<(), String> {
    let Some(object) = body.as_object() else {
        return Err(format!("body is not a JSON object: {body}"));
    };
    for key in required {
        if !object.contains_key(*key) {
            return Err(format!("body lacks required field {key:?}"));
        }
    }
    for key in object.keys() {
        if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
            return Err(format!("body has undocumented field {key:?}"));
        }
    }
    Ok(())
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut forge = shared.forge.lock().unwrap();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    forge.seen.push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if let Some((status, extra, text)) = forge.script.pop_front() {
        let mut response = (StatusCode::from_u16(status).expect("status"), text).into_response();
        for (name, value) in extra {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        return response;
    }
    let json: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(_) => return violation(&mut forge, "body is not JSON".into()),
        }
    };
    if !json.is_null() && header(&headers, "content-type") != Some("application/json") {
        return violation(
            &mut forge,
            "JSON body without Content-Type: application/json".into(),
        );
    }
    if header(&headers, "user-agent").is_none_or(str::is_empty) {
        return violation(&mut forge, "no User-Agent".into());
    }
    let checked = match shared.kind {
        ProviderKind::GitHub => github(&mut forge, &method, &path, &query, &headers, &json),
        ProviderKind::GitLab => gitlab(&mut forge, &method, &path, &query, &headers, &json),
        ProviderKind::Gitea => gitea(&mut forge, &method, &path, &query, &headers, &json),
    };
    match checked {
        Ok(response) => response,
        Err(message) => violation(&mut forge, format!("{method} {path}?{query}: {message}")),
    }
}

fn violation(forge: &mut Forge, message: String) -> Response {
    forge.violations.push(message.clone());
    answer(400, json!({ "message": message }))
}

fn require_header(headers: &HeaderMap, name: &str, want: &str) -> Result<(), String> {
    match header(headers, name) {
        Some(value) if value == want => Ok(()),
        Some(value) if name == "authorization" => Err(format!(
            "{name} is not as documented (got {} characters)",
            value.len()
        )),
        other => Err(format!("{name} is {other:?}, documented {want:?}")),
    }
}

fn open_exists(forge: &Forge, head: &str) -> bool {
    forge
        .pulls
        .iter()
        .any(|p| p.open && !p.fork && p.head == head)
}

fn create_pull(forge: &mut Forge, head: &str, base: &str, title: &str, body: &str) -> FakePull {
    let pull = FakePull {
        number: forge.pulls.len() as u64 + 1,
        head: head.to_owned(),
        base: base.to_owned(),
        title: title.to_owned(),
        body: body.to_owned(),
        open: true,
        merged: false,
        fork: false,
    };
    forge.pulls.push(pull.clone());
    pull
}

fn str_field<'a>(json: &'a Value, key: &str) -> Result<&'a str, String> {
    json.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{key} is not a string"))
}

fn pull_mut(forge: &mut Forge, number: &str) -> Result<&mut FakePull, String> {
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{number:?} is not a number"))?;
    forge
        .pulls
        .iter_mut()
        .find(|p| p.number == number)
        .ok_or_else(|| format!("no request {number}"))
}

// ---------------------------------------------------------------- GitHub

fn github_pull(p: &FakePull) -> Value {
    let owner = if p.fork { "forker" } else { "org" };
    json!({
        "number": p.number,
        "html_url": format!("https://github.example.com/org/app/pull/{}", p.number),
        "state": if p.open { "open" } else { "closed" },
        "merged_at": if p.merged { json!("2026-12-01T00:00:00Z") } else { Value::Null },
        "title": p.title,
        "body": if p.body.is_empty() { Value::Null } else { json!(p.body) },
        "head": { "ref": p.head, "label": format!("{owner}:{}", p.head), "repo": { "full_name": format!("{owner}/app") } },
        "base": { "ref": p.base, "label": format!("org:{}", p.base), "repo": { "full_name": "org/app" } },
    })
}

fn github(
    forge: &mut Forge,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    json: &Value,
) -> Result<Response, String> {
    require_header(headers, "authorization", &format!("Bearer {TOKEN}"))?;
    require_header(headers, "accept", "application/vnd.github+json")?;
    require_header(headers, "x-github-api-version", "2022-11-28")?;
    let rest = path
        .strip_prefix("/api/v3/repos/org/app/")
        .ok_or("not under /api/v3/repos/org/app/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["pulls"]) => {
            let state = query_get(query, "state").unwrap_or_else(|| "open".into());
            if !["open", "closed", "all"].contains(&state.as_str()) {
                return Err(format!("state {state:?} is not open, closed or all"));
            }
            let head = query_get(query, "head").ok_or("the reconciler must filter by head")?;
            let (owner, branch) = head.split_once(':').ok_or("head is not user:ref-name")?;
            let list: Vec<Value> = forge
                .pulls
                .iter()
                .filter(|p| {
                    p.head == branch
                        && (if p.fork { "forker" } else { "org" }) == owner
                        && (state == "all" || (state == "open") == p.open)
                })
                .map(github_pull)
                .collect();
            Ok(answer(200, Value::Array(list)))
        }
        ("POST", ["pulls"]) => {
            check_fields(
                json,
                &["title", "head", "base"],
                &[
                    "body",
                    "draft",
                    "maintainer_can_modify",
                    "head_repo",
                    "issue",
                ],
            )?;
            let head = str_field(json, "head")?;
            if !forge.branches.contains(head) {
                return Ok(answer(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}]}),
                ));
            }
            if open_exists(forge, head) {
                return Ok(answer(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"message": format!("A pull request already exists for org:{head}.")}]}),
                ));
            }
            let body = json.get("body").and_then(Value::as_str).unwrap_or_default();
            let pull = create_pull(
                forge,
                head,
                str_field(json, "base")?,
                str_field(json, "title")?,
                body,
            );
            Ok(answer(201, github_pull(&pull)))
        }
        ("PATCH", ["pulls", number]) => {
            check_fields(
                json,
                &[],
                &["title", "body", "state", "base", "maintainer_can_modify"],
            )?;
            let pull = pull_mut(forge, number)?;
            apply_edit(pull, json, "body", "base")?;
            if let Some(state) = json.get("state") {
                match state.as_str() {
                    Some("closed") => pull.open = false,
                    Some("open") => pull.open = true,
                    _ => return Err("state must be open or closed".into()),
                }
            }
            let pull = pull.clone();
            Ok(answer(200, github_pull(&pull)))
        }
        ("POST", ["issues", number, "comments"]) => {
            check_fields(json, &["body"], &[])?;
            let number = pull_mut(forge, number)?.number;
            forge
                .comments
                .push((number, str_field(json, "body")?.to_owned()));
            Ok(answer(201, json!({"id": 1, "body": json["body"]})))
        }
        ("GET", ["git", "matching-refs", "heads", rest @ ..]) => {
            let prefix = rest
                .iter()
                .map(|s| percent_decode(s))
                .collect::<Vec<_>>()
                .join("/");
            let refs: Vec<Value> = forge
                .branches
                .iter()
                .filter(|b| b.starts_with(&prefix))
                .map(|b| json!({"ref": format!("refs/heads/{b}"), "object": {"sha": "0".repeat(40), "type": "commit"}}))
                .collect();
            Ok(answer(200, Value::Array(refs)))
        }
        ("DELETE", ["git", "refs", "heads", rest @ ..]) => {
            let branch = rest
                .iter()
                .map(|s| percent_decode(s))
                .collect::<Vec<_>>()
                .join("/");
            if forge.branches.remove(&branch) {
                Ok(answer(204, Value::Null))
            } else {
                Ok(answer(422, json!({"message": "Reference does not exist"})))
            }
        }
        _ => Err("no such GitHub endpoint".into()),
    }
}

fn apply_edit(
    pull: &mut FakePull,
    json: &Value,
    body_key: &str,
    base_key: &str,
) -> Result<(), String> {
    if json.get("title").is_some() {
        pull.title = str_field(json, "title")?.to_owned();
    }
    if json.get(body_key).is_some() {
        pull.body = str_field(json, body_key)?.to_owned();
    }
    if json.get(base_key).is_some() {
        pull.base = str_field(json, base_key)?.to_owned();
    }
    Ok(())
}

// ---------------------------------------------------------------- GitLab

fn gitlab_mr(p: &FakePull) -> Value {
    json!({
        "id": 1000 + p.number,
        "iid": p.number,
        "project_id": 7,
        "web_url": format!("https://gitlab.example.com/group/sub/app/-/merge_requests/{}", p.number),
        "state": if p.merged { "merged" } else if p.open { "opened" } else { "closed" },
        "title": p.title,
        "description": p.body,
        "source_branch": p.head,
        "target_branch": p.base,
        "source_project_id": if p.fork { 8 } else { 7 },
        "target_project_id": 7,
    })
}

fn gitlab(
    forge: &mut Forge,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    json: &Value,
) -> Result<Response, String> {
    if header(headers, "private-token").is_none() {
        require_header(headers, "authorization", &format!("Bearer {TOKEN}"))?;
    } else {
        require_header(headers, "private-token", TOKEN)?;
    }
    // The project is one path segment: its full path, URL-encoded.
    let rest = path
        .strip_prefix("/api/v4/projects/group%2Fsub%2Fapp/")
        .ok_or("not under /api/v4/projects/group%2Fsub%2Fapp/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["merge_requests"]) => {
            let state = query_get(query, "state").unwrap_or_else(|| "all".into());
            if !["opened", "closed", "merged", "locked", "all"].contains(&state.as_str()) {
                return Err(format!("state {state:?} is not a GitLab state"));
            }
            let branch = query_get(query, "source_branch")
                .ok_or("the reconciler must filter by source_branch")?;
            let list: Vec<Value> = forge
                .pulls
                .iter()
                .filter(|p| p.head == branch)
                .map(gitlab_mr)
                .filter(|mr| state == "all" || mr["state"] == state.as_str())
                .collect();
            Ok(answer(200, Value::Array(list)))
        }
        ("POST", ["merge_requests"]) => {
            check_fields(
                json,
                &["source_branch", "target_branch", "title"],
                &[
                    "description",
                    "remove_source_branch",
                    "assignee_id",
                    "labels",
                    "squash",
                    "draft",
                ],
            )?;
            let head = str_field(json, "source_branch")?;
            if !forge.branches.contains(head) {
                return Ok(answer(
                    422,
                    json!({"message": ["Source branch does not exist"]}),
                ));
            }
            if open_exists(forge, head) {
                return Ok(answer(
                    409,
                    json!({"message": ["Another open merge request already exists for this source branch: !1"]}),
                ));
            }
            let body = json
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let pull = create_pull(
                forge,
                head,
                str_field(json, "target_branch")?,
                str_field(json, "title")?,
                body,
            );
            Ok(answer(201, gitlab_mr(&pull)))
        }
        ("PUT", ["merge_requests", iid]) => {
            check_fields(
                json,
                &[],
                &[
                    "title",
                    "description",
                    "target_branch",
                    "state_event",
                    "remove_source_branch",
                ],
            )?;
            let pull = pull_mut(forge, iid)?;
            apply_edit(pull, json, "description", "target_branch")?;
            if let Some(event) = json.get("state_event") {
                match event.as_str() {
                    Some("close") => pull.open = false,
                    Some("reopen") => pull.open = true,
                    _ => return Err("state_event must be close or reopen".into()),
                }
            }
            let pull = pull.clone();
            Ok(answer(200, gitlab_mr(&pull)))
        }
        ("POST", ["merge_requests", iid, "notes"]) => {
            check_fields(json, &["body"], &["created_at", "internal"])?;
            let number = pull_mut(forge, iid)?.number;
            forge
                .comments
                .push((number, str_field(json, "body")?.to_owned()));
            Ok(answer(201, json!({"id": 1, "body": json["body"]})))
        }
        ("GET", ["repository", "branches"]) => {
            let search = query_get(query, "search").unwrap_or_default();
            let list: Vec<Value> = forge
                .branches
                .iter()
                .filter(|b| match search.strip_prefix('^') {
                    Some(prefix) => b.starts_with(prefix),
                    None => b.contains(&search),
                })
                .map(|b| json!({"name": b, "merged": false, "protected": false}))
                .collect();
            Ok(answer(200, Value::Array(list)))
        }
        ("DELETE", ["repository", "branches", branch]) => {
            if forge.branches.remove(&percent_decode(branch)) {
                Ok(answer(204, Value::Null))
            } else {
                Ok(answer(404, json!({"message": "404 Branch Not Found"})))
            }
        }
        _ => Err("no such GitLab endpoint (a branch name must be one encoded segment)".into()),
    }
}

// ---------------------------------------------------------------- Gitea

fn gitea_pull(p: &FakePull) -> Value {
    json!({
        "id": 500 + p.number,
        "number": p.number,
        "html_url": format!("https://gitea.example.com/org/app/pulls/{}", p.number),
        "state": if p.open { "open" } else { "closed" },
        "merged": p.merged,
        "title": p.title,
        "body": p.body,
        "head": { "label": p.head, "ref": p.head, "repo_id": if p.fork { 4 } else { 3 } },
        "base": { "label": p.base, "ref": p.base, "repo_id": 3 },
    })
}

fn page_of<T: Clone>(items: &[T], query: &str) -> Result<Vec<T>, String> {
    let page: usize = query_get(query, "page")
        .unwrap_or_else(|| "1".into())
        .parse()
        .map_err(|_| "page is not a number")?;
    let limit: usize = query_get(query, "limit")
        .unwrap_or_else(|| "30".into())
        .parse()
        .map_err(|_| "limit is not a number")?;
    if page == 0 || limit == 0 || limit > 50 {
        return Err("page starts at 1 and limit is 1..=50 (Gitea's default maximum)".into());
    }
    Ok(items
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .cloned()
        .collect())
}

fn gitea(
    forge: &mut Forge,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    json: &Value,
) -> Result<Response, String> {
    require_header(headers, "authorization", &format!("token {TOKEN}"))?;
    let rest = path
        .strip_prefix("/api/v1/repos/org/app/")
        .ok_or("not under /api/v1/repos/org/app/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["pulls"]) => {
            let state = query_get(query, "state").unwrap_or_else(|| "open".into());
            if !["open", "closed", "all"].contains(&state.as_str()) {
                return Err(format!("state {state:?} is not open, closed or all"));
            }
            let all: Vec<Value> = forge
                .pulls
                .iter()
                .filter(|p| state == "all" || (state == "open") == p.open)
                .map(gitea_pull)
                .collect();
            Ok(answer(200, Value::Array(page_of(&all, query)?)))
        }
        ("POST", ["pulls"]) => {
            check_fields(
                json,
                &["head", "base"],
                &[
                    "title",
                    "body",
                    "assignee",
                    "assignees",
                    "labels",
                    "milestone",
                    "due_date",
                ],
            )?;
            let head = str_field(json, "head")?;
            if !forge.branches.contains(head) {
                return Ok(answer(
                    404,
                    json!({"message": "The target couldn't be found."}),
                ));
            }
            if open_exists(forge, head) {
                return Ok(answer(
                    409,
                    json!({"message": "pull request already exists for these targets"}),
                ));
            }
            let body = json.get("body").and_then(Value::as_str).unwrap_or_default();
            let pull = create_pull(
                forge,
                head,
                str_field(json, "base")?,
                str_field(json, "title")?,
                body,
            );
            Ok(answer(201, gitea_pull(&pull)))
        }
        ("PATCH", ["pulls", number]) => {
            check_fields(
                json,
                &[],
                &[
                    "title",
                    "body",
                    "base",
                    "state",
                    "assignee",
                    "assignees",
                    "labels",
                    "milestone",
                    "due_date",
                    "unset_due_date",
                    "allow_maintainer_edit",
                ],
            )?;
            let pull = pull_mut(forge, number)?;
            apply_edit(pull, json, "body", "base")?;
            if let Some(state) = json.get("state") {
                match state.as_str() {
                    Some("closed") => pull.open = false,
                    Some("open") => pull.open = true,
                    _ => return Err("state must be open or closed".into()),
                }
            }
            let pull = pull.clone();
            Ok(answer(201, gitea_pull(&pull)))
        }
        ("POST", ["issues", number, "comments"]) => {
            check_fields(json, &["body"], &[])?;
            let number = pull_mut(forge, number)?.number;
            forge
                .comments
                .push((number, str_field(json, "body")?.to_owned()));
            Ok(answer(201, json!({"id": 1, "body": json["body"]})))
        }
        ("GET", ["branches"]) => {
            let all: Vec<Value> = forge.branches.iter().map(|b| json!({"name": b})).collect();
            Ok(answer(200, Value::Array(page_of(&all, query)?)))
        }
        ("DELETE", ["branches", rest @ ..]) => {
            let branch = rest
                .iter()
                .map(|s| percent_decode(s))
                .collect::<Vec<_>>()
                .join("/");
            if forge.branches.remove(&branch) {
                Ok(answer(204, Value::Null))
            } else {
                Ok(answer(404, json!({"message": "branch not found"})))
            }
        }
        _ => Err("no such Gitea endpoint".into()),
    }
}
