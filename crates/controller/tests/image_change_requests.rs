//! driftless's change-request mode end to end: each policy's update is
//! pushed to its own branch of a repository served by `git daemon`, and a
//! pull request is opened through a stand-in for GitHub's REST API (a local
//! server that checks each call's method, path, auth and body as GitHub
//! documents them, and keeps its pull requests in memory; its branches are
//! the bare repository's). A newer tag updates the same request; once the
//! request is merged, its branch is deleted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::common::Env;
use crate::common::image::{branch_head, create, push_tag};
use crate::common::world::NS;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use driftless_api::{GitRepository, ImagePolicy, ImageRepository, ImageUpdateAutomation};
use driftless_testkit::cluster::eventually;
use driftless_testkit::registry::{Registry, RegistryOptions};
use driftless_testkit::{Fixture, GitDaemon, git};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_stand_in_token_0123456789";
const BRANCH: &str = "driftless/default-web";

/// A pull request as the stand-in keeps it.
#[derive(Clone, Debug)]
struct Pull {
    number: u64,
    head: String,
    base: String,
    title: String,
    body: String,
    state: &'static str,
    merged: bool,
}

#[derive(Default)]
struct GitHub {
    pulls: Vec<Pull>,
    /// Calls that broke GitHub's documented format, to fail the test.
    violations: Vec<String>,
    /// Every call, as `METHOD path`.
    calls: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    github: Arc<Mutex<GitHub>>,
    bare: PathBuf,
}

impl Shared {
    fn check(&self, headers: &HeaderMap, call: String) {
        let mut github = self.github.lock().expect("lock");
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {TOKEN}")) {
            github
                .violations
                .push(format!("{call}: authorization {auth:?}"));
        }
        let accept = headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !accept.contains("application/vnd.github") {
            github.violations.push(format!("{call}: accept {accept:?}"));
        }
        github.calls.push(call);
    }
}

fn pull_json(pull: &Pull) -> Value {
    json!({
        "number": pull.number,
        "html_url": format!("https://github.example/org/fleet/pull/{}", pull.number),
        "state": pull.state,
        "merged_at": pull.merged.then_some("2026-12-05T00:00:00Z"),
        "title": pull.title,
        "body": pull.body,
        "head": {"ref": pull.head, "label": format!("org:{}", pull.head)},
        "base": {"ref": pull.base},
    })
}

async fn list_pulls(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    shared.check(&headers, "GET /pulls".into());
    let github = shared.github.lock().expect("lock");
    let state = query.get("state").map_or("open", String::as_str);
    let head = query.get("head").cloned().unwrap_or_default();
    let pulls: Vec<Value> = github
        .pulls
        .iter()
        .filter(|p| format!("org:{}", p.head) == head)
        .filter(|p| state == "all" || p.state == state)
        .map(pull_json)
        .collect();
    Json(Value::Array(pulls))
}

async fn create_pull(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    shared.check(&headers, "POST /pulls".into());
    let mut github = shared.github.lock().expect("lock");
    let field = |k: &str| body[k].as_str().map(str::to_owned);
    let (Some(title), Some(head), Some(base)) = (field("title"), field("head"), field("base"))
    else {
        github
            .violations
            .push(format!("POST /pulls without title/head/base: {body}"));
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Validation Failed"})),
        );
    };
    let pull = Pull {
        number: github.pulls.len() as u64 + 1,
        head,
        base,
        title,
        body: field("body").unwrap_or_default(),
        state: "open",
        merged: false,
    };
    github.pulls.push(pull.clone());
    (StatusCode::CREATED, Json(pull_json(&pull)))
}

async fn edit_pull(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(number): Path<u64>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    shared.check(&headers, format!("PATCH /pulls/{number}"));
    let mut github = shared.github.lock().expect("lock");
    let Some(pull) = github.pulls.iter_mut().find(|p| p.number == number) else {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"})));
    };
    if let Some(title) = body["title"].as_str() {
        pull.title = title.to_owned();
    }
    if let Some(text) = body["body"].as_str() {
        pull.body = text.to_owned();
    }
    if body["state"] == "closed" {
        pull.state = "closed";
    }
    let answer = pull_json(pull);
    (StatusCode::OK, Json(answer))
}

async fn comment(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(number): Path<u64>,
) -> StatusCode {
    shared.check(&headers, format!("POST /issues/{number}/comments"));
    StatusCode::CREATED
}

/// `GET /repos/org/fleet/git/matching-refs/heads/<prefix>`: the bare
/// repository's branches.
async fn matching_refs(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(prefix): Path<String>,
) -> Json<Value> {
    shared.check(&headers, format!("GET /git/matching-refs/heads/{prefix}"));
    let refs = git::git(
        &shared.bare,
        &["for-each-ref", "--format=%(refname)", "refs/heads/"],
    );
    let wanted = format!("refs/heads/{prefix}");
    Json(Value::Array(
        refs.lines()
            .filter(|r| r.starts_with(&wanted))
            .map(|r| json!({"ref": r}))
            .collect(),
    ))
}

async fn delete_ref(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(branch): Path<String>,
) -> StatusCode {
    shared.check(&headers, format!("DELETE /git/refs/heads/{branch}"));
    git::git(
        &shared.bare,
        &["update-ref", "-d", &format!("refs/heads/{branch}")],
    );
    StatusCode::NO_CONTENT
}

async fn github(shared: Shared) -> String {
    let repo = "/api/v3/repos/org/fleet";
    let app = Router::new()
        .route(&format!("{repo}/pulls"), get(list_pulls).post(create_pull))
        .route(&format!("{repo}/pulls/{{number}}"), patch(edit_pull))
        .route(&format!("{repo}/issues/{{number}}/comments"), post(comment))
        .route(
            &format!("{repo}/git/matching-refs/heads/{{*prefix}}"),
            get(matching_refs),
        )
        .route(
            &format!("{repo}/git/refs/heads/{{*branch}}"),
            delete(delete_ref),
        )
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/api/v3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_update_gets_one_pull_request_updated_then_cleaned_up() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "change requests")
    else {
        return;
    };
    push_tag(&registry, "1.0.0").await;
    let served = tempfile::tempdir().expect("served");
    std::fs::create_dir_all(served.path().join("org")).expect("org dir");
    let fixture = Fixture::new(served.path(), "org/fleet");
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    fixture.write(
        "apps/web.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {} # {{\"$imagepolicy\": \"default:web\"}}\n",
            image("1.0.0")
        ),
    );
    let main = fixture.commit("web at 1.0.0");
    let daemon = GitDaemon::start(served.path());
    let state = Shared {
        github: Arc::default(),
        bare: fixture.bare.clone(),
    };
    let api = github(state.clone()).await;

    let mut env = Env::without_controller().await;
    env.start_controller(|_| {}).await;
    let client = env.client.clone();
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "github", "namespace": NS},
        "stringData": {"token": TOKEN},
    }))
    .expect("secret");
    Api::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
    create::<GitRepository>(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "fleet", "namespace": NS},
            "spec": {"url": daemon.url("org/fleet"), "interval": "1m", "ref": {"branch": "main"}},
        }),
    )
    .await;
    create::<ImageRepository>(&client, json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"image": format!("{}/apps/web", registry.host()), "interval": "1s", "insecure": true},
    }))
    .await;
    create::<ImagePolicy>(
        &client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"imageRepositoryRef": {"name": "web"}, "policy": {"semver": {"range": "1.x"}}},
        }),
    )
    .await;
    create::<ImageUpdateAutomation>(&client, json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
        "metadata": {"name": "fleet", "namespace": NS},
        "spec": {
            "sourceRef": {"kind": "GitRepository", "name": "fleet"},
            "interval": "1s",
            "git": {
                "checkout": {"ref": {"branch": "main"}},
                "commit": {"author": {"name": "driftless", "email": "bot@example.com"}},
                "push": {"changeRequest": {"provider": "github", "apiUrl": api, "secretRef": {"name": "github"}}},
            },
        },
    }))
    .await;

    push_tag(&registry, "1.1.0").await;
    let automations = Api::<ImageUpdateAutomation>::namespaced(client.clone(), NS);
    let first = eventually("a pull request for 1.1.0", || async {
        let pulls = state.github.lock().expect("lock").pulls.clone();
        match pulls.as_slice() {
            [pull] if pull.title.ends_with("1.1.0") => Ok(pull.clone()),
            other => {
                let automation = automations.get("fleet").await.map_err(|e| e.to_string())?;
                Err(format!("{other:?}; automation {:?}", automation.status))
            }
        }
    })
    .await;
    assert_eq!((first.head.as_str(), first.base.as_str()), (BRANCH, "main"));
    assert!(
        first.body.contains("1.0.0") && first.body.contains("apps/web.yaml"),
        "{}",
        first.body
    );
    let on_branch = git::git(&fixture.bare, &["show", &format!("{BRANCH}:apps/web.yaml")]);
    assert!(on_branch.contains(&image("1.1.0")), "{on_branch}");
    assert_eq!(
        branch_head(&fixture.bare, "main").as_deref(),
        Some(main.as_str())
    );

    // A newer tag supersedes: same branch, same request, updated.
    push_tag(&registry, "1.2.0").await;
    eventually("the request updated to 1.2.0", || async {
        let github = state.github.lock().expect("lock");
        match github.pulls.as_slice() {
            [pull] if pull.title.ends_with("1.2.0") && pull.state == "open" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let on_branch = git::git(&fixture.bare, &["show", &format!("{BRANCH}:apps/web.yaml")]);
    assert!(on_branch.contains(&image("1.2.0")), "{on_branch}");

    // Merged (as the host would): main moves to the branch's commit.
    let merged = branch_head(&fixture.bare, BRANCH).expect("branch");
    git::git(&fixture.bare, &["update-ref", "refs/heads/main", &merged]);
    {
        let mut github = state.github.lock().expect("lock");
        github.pulls[0].state = "closed";
        github.pulls[0].merged = true;
    }
    eventually("the merged request's branch is deleted", || async {
        match branch_head(&fixture.bare, BRANCH) {
            None => Ok(()),
            Some(head) => Err(format!("{BRANCH} still at {head}")),
        }
    })
    .await;
    let github = state.github.lock().expect("lock");
    assert!(github.violations.is_empty(), "{:#?}", github.violations);
    assert_eq!(github.pulls.len(), 1, "no duplicate request");
    assert!(
        github.calls.iter().any(|c| c == "PATCH /pulls/1"),
        "{:?}",
        github.calls
    );
}
