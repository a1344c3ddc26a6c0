//! GitRepository end to end: `git daemon` on loopback, the sandbox, and the
//! controller in-process. A repository becomes Ready with Flux's revision
//! and a served, verifiable artifact; pushes are picked up on the interval
//! and on a requested reconcile; failures say why and keep the last artifact.

use std::collections::BTreeMap;

use crate::common::{Env, event_messages, ready_of};
use driftless_api::annotations::RECONCILE_REQUESTED_AT;
use driftless_api::meta::LocalObjectReference;
use driftless_api::{GitRepository, GitRepositoryInclude};
use driftless_testkit::cluster::{eventually, http_get};
use driftless_testkit::{Fixture, GitDaemon};
use kube::api::{Api, Patch, PatchParams, PostParams};
use sha2::Digest;

const NS: &str = "default";

struct Repo {
    served: tempfile::TempDir,
    daemon: GitDaemon,
    fixture: Fixture,
}

fn repo_with_app() -> Repo {
    let served = tempfile::tempdir().expect("tempdir");
    let fixture = Fixture::new(served.path(), "app");
    fixture.write(
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  color: blue\n",
    );
    fixture.commit("first");
    let daemon = GitDaemon::start(served.path());
    Repo {
        served,
        daemon,
        fixture,
    }
}

fn git_repository(name: &str, url: &str, branch: &str, interval: &str) -> GitRepository {
    let mut repo = GitRepository::test(name)
        .in_namespace(NS)
        .url(url)
        .branch(branch);
    repo.spec.interval = interval.into();
    repo
}

async fn wait_ready_revision(api: &Api<GitRepository>, name: &str, want: &str) -> GitRepository {
    eventually(&format!("{name} ready at {want}"), || async {
        let repo = api.get(name).await.map_err(|e| e.to_string())?;
        let status = repo.status.clone().unwrap_or_default();
        let ready = ready_of(status.conditions.as_deref().unwrap_or_default());
        let revision = status.artifact.as_ref().map(|a| a.revision.clone());
        match (&ready, &revision) {
            (Some((s, _, _)), Some(r)) if s == "True" && r == want => Ok(repo),
            _ => Err(format!("ready {ready:?}, revision {revision:?}")),
        }
    })
    .await
}

async fn wait_not_ready(api: &Api<GitRepository>, name: &str) -> GitRepository {
    eventually(&format!("{name} not ready"), || async {
        let repo = api.get(name).await.map_err(|e| e.to_string())?;
        let status = repo.status.clone().unwrap_or_default();
        match ready_of(status.conditions.as_deref().unwrap_or_default()) {
            Some((s, _, _)) if s == "False" => Ok(repo),
            other => Err(format!("ready {other:?}")),
        }
    })
    .await
}

/// Creates GitRepository `app` on the daemon (interval 1h) and waits until
/// it is Ready at `commit` on main.
async fn ready_app(env: &Env, git: &Repo, commit: &str) -> (Api<GitRepository>, GitRepository) {
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1h"),
    )
    .await
    .expect("created");
    let repo = wait_ready_revision(&api, "app", &format!("main@sha1:{commit}")).await;
    (api, repo)
}

/// Downloads the artifact the status names and checks it against the digest.
fn fetch_verified(repo: &GitRepository) -> Vec<u8> {
    let artifact = repo
        .status
        .as_ref()
        .and_then(|s| s.artifact.clone())
        .expect("an artifact");
    let (code, body) = http_get(&artifact.url).expect("the artifact server answers");
    assert_eq!(code, 200, "GET {}", artifact.url);
    let hex: String = sha2::Sha256::digest(&body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let digest = format!("sha256:{hex}");
    assert_eq!(
        Some(digest),
        artifact.digest,
        "served bytes match the status digest"
    );
    assert_eq!(Some(body.len() as i64), artifact.size);
    body
}

fn request_reconcile(at: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"annotations": BTreeMap::from([(RECONCILE_REQUESTED_AT, at)])}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn becomes_ready_serves_the_artifact_and_follows_pushes() {
    let env = Env::start().await;
    let git = repo_with_app();
    let head = git.fixture.commit("second");
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1s"),
    )
    .await
    .expect("created");

    let repo = wait_ready_revision(&api, "app", &format!("main@sha1:{head}")).await;
    let status = repo.status.clone().expect("status");
    let ready = ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
    assert_eq!(ready.1, "Succeeded");
    assert!(ready.2.contains(&head), "{ready:?}");
    assert_eq!(status.observed_generation, repo.metadata.generation);
    assert!(
        repo.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"finalizers.fluxcd.io".to_owned())
    );
    let tarball = fetch_verified(&api.get("app").await.expect("get"));
    assert!(driftless_testkit::tar_paths(&tarball[..]).contains(&"deploy/cm.yaml".to_owned()));

    // A push is picked up on the next interval (1s here).
    git.fixture.write(
        "deploy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  color: green\n",
    );
    let pushed = git.fixture.commit("green");
    wait_ready_revision(&api, "app", &format!("main@sha1:{pushed}")).await;
    let events = event_messages(&env.client, NS, "app").await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Normal NewArtifact") && e.contains(&pushed)),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_reconcile_fetches_at_once_and_is_acknowledged() {
    let env = Env::start().await;
    let git = repo_with_app();
    let first = git.fixture.commit("pinned");
    let (api, _) = ready_app(&env, &git, &first).await;

    let pushed = git.fixture.commit("next");
    let at = "2026-12-02T10:00:00.000000001Z";
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(request_reconcile(at)),
    )
    .await
    .expect("annotated");
    let repo = wait_ready_revision(&api, "app", &format!("main@sha1:{pushed}")).await;
    assert_eq!(
        repo.status
            .and_then(|s| s.last_handled_reconcile_at)
            .as_deref(),
        Some(at)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_branch_fails_visibly_and_keeps_the_last_artifact() {
    let env = Env::start().await;
    let git = repo_with_app();
    let head = git.fixture.commit("good");
    let (api, good) = ready_app(&env, &git, &head).await;
    let before = fetch_verified(&good);

    let patch = serde_json::json!({"spec": {"ref": {"branch": "no-such-branch"}}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
    let failed = wait_not_ready(&api, "app").await;
    let status = failed.status.clone().expect("status");
    let (_, reason, message) =
        ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
    assert_eq!(reason, "GitOperationFailed");
    assert!(
        message.contains("no-such-branch") && message.contains("check spec.ref"),
        "{message}"
    );
    assert_eq!(
        status.artifact,
        good.status.clone().and_then(|s| s.artifact),
        "the last artifact stays in the status"
    );
    assert_eq!(
        fetch_verified(&failed),
        before,
        "and is still served unchanged"
    );
    let events = event_messages(&env.client, NS, "app").await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Warning GitOperationFailed")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_controller_serves_the_kept_artifact_while_the_source_fails() {
    let env = Env::without_controller().await;
    let first = env.spawn_controller(|_| {}).await;
    let git = repo_with_app();
    let head = git.fixture.commit("good");
    let (api, good) = ready_app(&env, &git, &head).await;
    let before = fetch_verified(&good);

    // The controller dies; its successor keeps the storage but serves it
    // on another port, and the next fetch fails.
    first.kill();
    let storage = first.storage().to_owned();
    let _second = env
        .spawn_controller(move |options| options.storage_dir = storage)
        .await;
    let patch = serde_json::json!({"spec": {"ref": {"branch": "no-such-branch"}}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
    let failed = wait_not_ready(&api, "app").await;
    let (kept, was) = (
        failed
            .status
            .clone()
            .and_then(|s| s.artifact)
            .expect("kept"),
        good.status.clone().and_then(|s| s.artifact).expect("was"),
    );
    assert_eq!(kept.revision, was.revision, "the last artifact stays");
    assert_ne!(kept.url, was.url, "its URL names the running controller");
    assert_eq!(
        fetch_verified(&failed),
        before,
        "and it is served unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_and_a_missing_secret_are_reported() {
    let env = Env::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("down", &format!("git://{closed}/app"), "main", "1h"),
    )
    .await
    .expect("created");
    let repo = wait_not_ready(&api, "down").await;
    let (_, reason, message) = ready_of(
        repo.status
            .and_then(|s| s.conditions)
            .as_deref()
            .unwrap_or_default(),
    )
    .expect("Ready");
    assert_eq!(reason, "GitOperationFailed");
    assert!(message.contains("cannot reach"), "{message}");

    let git = repo_with_app();
    let with_secret =
        git_repository("private", &git.daemon.url("app"), "main", "1h").secret("missing-creds");
    api.create(&PostParams::default(), &with_secret)
        .await
        .expect("created");
    let repo = wait_not_ready(&api, "private").await;
    let (_, reason, message) = ready_of(
        repo.status
            .and_then(|s| s.conditions)
            .as_deref()
            .unwrap_or_default(),
    )
    .expect("Ready");
    assert_eq!(reason, "AuthenticationFailed");
    assert!(
        message.contains("secret 'default/missing-creds'"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_removes_the_artifacts() {
    let env = Env::start().await;
    let git = repo_with_app();
    let head = git.fixture.commit("x");
    let (api, repo) = ready_app(&env, &git, &head).await;
    let url = repo.status.and_then(|s| s.artifact).expect("artifact").url;
    api.delete("app", &Default::default())
        .await
        .expect("deleted");
    eventually("the object and its artifact gone", || async {
        let gone = api
            .get_opt("app")
            .await
            .map_err(|e| e.to_string())?
            .is_none();
        let (code, _) = http_get(&url)?;
        (gone && code == 404)
            .then_some(())
            .ok_or(format!("object gone {gone}, artifact status {code}"))
    })
    .await;
}

/// Each bad input ends with Ready=False, a reason, a message naming the
/// problem and what to do, and the previous artifact still served intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_fails_visibly_and_keeps_the_last_artifact() {
    use driftless_testkit::{BASIC_PASSWORD, BASIC_USER, HttpServer};
    use k8s_openapi::api::core::v1::Secret;

    let env = Env::start().await;
    let git = repo_with_app();
    git.fixture.tag("v1.0.0", false);
    let head = git.fixture.commit("good");
    let http = HttpServer::start(git.served.path());
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), NS);
    let basic = |password: &str| -> Secret {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "creds"},
            "stringData": {"username": BASIC_USER, "password": password}
        }))
        .expect("a secret")
    };
    secrets
        .create(&PostParams::default(), &basic(BASIC_PASSWORD))
        .await
        .expect("secret");
    let repo = git_repository("app", &http.url("basic", "app"), "main", "1h").secret("creds");
    api.create(&PostParams::default(), &repo)
        .await
        .expect("created");
    let good = wait_ready_revision(&api, "app", &format!("main@sha1:{head}")).await;
    let artifact = good
        .status
        .clone()
        .and_then(|s| s.artifact)
        .expect("artifact");
    let bytes = fetch_verified(&good);

    // A hanging server: accepts the connection, never answers.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hanging_url = format!("http://{}/app", hanging.local_addr().expect("addr"));

    let daemon_url = git.daemon.url("app");
    let cases: Vec<(&str, serde_json::Value, &str, &str)> = vec![
        (
            "wrong credentials",
            serde_json::json!({}),
            "AuthenticationFailed",
            "authentication",
        ),
        (
            "missing tag",
            serde_json::json!({"spec": {"url": daemon_url, "secretRef": null, "ref": {"tag": "v9.9.9"}}}),
            "GitOperationFailed",
            "v9.9.9",
        ),
        (
            "semver matching nothing",
            serde_json::json!({"spec": {"ref": {"tag": null, "semver": ">=5.0.0"}}}),
            "GitOperationFailed",
            ">=5.0.0",
        ),
        (
            "missing commit",
            serde_json::json!({"spec": {"ref": {"semver": null, "commit": "0123456789abcdef0123456789abcdef01234567"}}}),
            "GitOperationFailed",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        (
            "timeout",
            serde_json::json!({"spec": {"url": hanging_url, "timeout": "1s", "ref": {"commit": null, "branch": "main"}}}),
            "GitOperationFailed",
            "timed out",
        ),
    ];
    for (n, (what, patch, want_reason, want_text)) in cases.into_iter().enumerate() {
        if what == "wrong credentials" {
            secrets
                .replace("creds", &PostParams::default(), &{
                    let mut s = basic("wrong");
                    s.metadata.resource_version = secrets
                        .get("creds")
                        .await
                        .expect("secret")
                        .metadata
                        .resource_version;
                    s
                })
                .await
                .expect("secret replaced");
        }
        let at = format!("2026-12-02T11:00:{n:02}Z");
        let mut patch = patch;
        patch["metadata"] = serde_json::json!({"annotations": {RECONCILE_REQUESTED_AT: at}});
        api.patch("app", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patched");
        let failed = eventually(&format!("{what}: handled and not ready"), || async {
            let repo = api.get("app").await.map_err(|e| e.to_string())?;
            let status = repo.status.clone().unwrap_or_default();
            let ready = ready_of(status.conditions.as_deref().unwrap_or_default());
            match (&ready, status.last_handled_reconcile_at.as_deref()) {
                (Some((s, _, _)), Some(handled)) if s == "False" && handled == at => Ok(repo),
                _ => Err(format!("ready {ready:?}")),
            }
        })
        .await;
        let status = failed.status.clone().expect("status");
        let (_, reason, message) =
            ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
        assert_eq!(reason, want_reason, "{what}: {message}");
        assert!(
            message.to_lowercase().contains(&want_text.to_lowercase()),
            "{what}: {message}"
        );
        assert_eq!(
            status.artifact.as_ref(),
            Some(&artifact),
            "{what}: the status keeps the last artifact"
        );
        assert_eq!(
            fetch_verified(&failed),
            bytes,
            "{what}: the last artifact is still served unchanged"
        );
    }
    let events = event_messages(&env.client, NS, "app").await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Warning AuthenticationFailed")),
        "{events:?}"
    );
    drop(hanging);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_escaping_the_tree_fails_and_keeps_the_last_artifact() {
    let env = Env::start().await;
    let git = repo_with_app();
    let head = git.fixture.commit("good");
    let (api, good) = ready_app(&env, &git, &head).await;
    let bytes = fetch_verified(&good);

    git.fixture.symlink("deploy/passwd", "../../../etc/passwd");
    git.fixture.commit("escape");
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(request_reconcile("2026-12-02T12:00:00Z")),
    )
    .await
    .expect("annotated");
    let failed = wait_not_ready(&api, "app").await;
    let status = failed.status.clone().expect("status");
    let (_, reason, message) =
        ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
    assert_eq!(reason, "ArchiveOperationFailed");
    assert!(
        message.contains("deploy/passwd") && message.contains("outside"),
        "{message}"
    );
    assert_eq!(
        status.artifact,
        good.status.clone().and_then(|s| s.artifact)
    );
    assert_eq!(fetch_verified(&failed), bytes);
}

/// A deploy key over a real `sshd`: Ready with the right revision; a host
/// key that is not the server's is refused with a message saying so, and
/// the artifact stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_a_deploy_key_verifies_the_host_key() {
    use driftless_testkit::{SshServer, keygen};
    use k8s_openapi::api::core::v1::Secret;

    let env = Env::start().await;
    let git = repo_with_app();
    let head = git.fixture.commit("over ssh");
    let keys = tempfile::tempdir().expect("tempdir");
    let (identity, public) = keygen(&keys.path().join("deploy_key"));
    let server = SshServer::start(&public);
    let secret = |known_hosts: String| -> Secret {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "ssh-creds"},
            "stringData": {"identity": identity, "known_hosts": known_hosts}
        }))
        .expect("a secret")
    };
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), NS);
    secrets
        .create(&PostParams::default(), &secret(server.known_hosts()))
        .await
        .expect("secret");
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let repo =
        git_repository("app", &server.url(&git.fixture.bare), "main", "1h").secret("ssh-creds");
    api.create(&PostParams::default(), &repo)
        .await
        .expect("created");
    let good = wait_ready_revision(&api, "app", &format!("main@sha1:{head}")).await;
    let bytes = fetch_verified(&good);

    let (_, other_host) = keygen(&keys.path().join("other_host"));
    let mut changed = secret(format!("[127.0.0.1]:{} {other_host}\n", server.port));
    changed.metadata.resource_version = secrets
        .get("ssh-creds")
        .await
        .expect("secret")
        .metadata
        .resource_version;
    secrets
        .replace("ssh-creds", &PostParams::default(), &changed)
        .await
        .expect("replaced");
    api.patch(
        "app",
        &PatchParams::default(),
        &Patch::Merge(request_reconcile("2026-12-02T13:00:00Z")),
    )
    .await
    .expect("annotated");
    let failed = wait_not_ready(&api, "app").await;
    let status = failed.status.clone().expect("status");
    let (_, reason, message) =
        ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
    assert_eq!(reason, "AuthenticationFailed");
    assert!(message.contains("known_hosts"), "{message}");
    assert_eq!(fetch_verified(&failed), bytes);
}

/// (status, reason, message) of a condition of `repo`.
fn condition(repo: &GitRepository, type_: &str) -> Option<(String, String, String)> {
    repo.conditions()
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn include(name: &str, from: Option<&str>, to: Option<&str>) -> GitRepositoryInclude {
    GitRepositoryInclude {
        repository: LocalObjectReference {
            name: name.to_owned(),
        },
        from_path: from.map(str::to_owned),
        to_path: to.map(str::to_owned),
    }
}

/// `app` (with deploy/cm.yaml) and `shared` (base/common.yaml, README.md),
/// served by one daemon.
struct TwoRepos {
    _served: tempfile::TempDir,
    daemon: GitDaemon,
    app: Fixture,
    shared: Fixture,
}

fn two_repos() -> TwoRepos {
    let served = tempfile::tempdir().expect("tempdir");
    let app = Fixture::new(served.path(), "app");
    app.write("deploy/cm.yaml", "kind: ConfigMap\n");
    app.commit("app");
    let shared = Fixture::new(served.path(), "shared");
    shared
        .write("base/common.yaml", "kind: Namespace\n")
        .write("README.md", "shared\n");
    shared.commit("shared");
    let daemon = GitDaemon::start(served.path());
    TwoRepos {
        _served: served,
        daemon,
        app,
        shared,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn includes_copy_other_artifacts_and_follow_their_changes() {
    let env = Env::start().await;
    let git = two_repos();
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let shared_head = git.shared.git(&["rev-parse", "HEAD"]);
    api.create(
        &PostParams::default(),
        &git_repository("shared", &git.daemon.url("shared"), "main", "1s"),
    )
    .await
    .expect("created");
    let shared = wait_ready_revision(&api, "shared", &format!("main@sha1:{shared_head}")).await;

    // A long interval: the rebuild below can only come from watching `shared`.
    let mut app = git_repository("app", &git.daemon.url("app"), "main", "1h");
    app.spec.include = Some(vec![
        include("shared", Some("base"), Some("vendor/base")),
        include("shared", None, None),
    ]);
    api.create(&PostParams::default(), &app)
        .await
        .expect("created");
    let app_head = git.app.git(&["rev-parse", "HEAD"]);
    let revision = format!("main@sha1:{app_head}");
    let ready = wait_ready_revision(&api, "app", &revision).await;
    let tarball = fetch_verified(&ready);
    assert_eq!(
        driftless_testkit::tar_paths(&tarball[..]),
        [
            "deploy/",
            "deploy/cm.yaml",
            "shared/",
            "shared/README.md",
            "shared/base/",
            "shared/base/common.yaml",
            "vendor/",
            "vendor/base/",
            "vendor/base/common.yaml",
        ]
    );
    let status = ready.status.clone().expect("status");
    let shared_artifact = shared.artifact().cloned().expect("shared artifact");
    assert_eq!(
        status.included_artifacts,
        Some(vec![shared_artifact.clone(), shared_artifact.clone()])
    );
    assert_eq!(status.observed_include, app.spec.include);

    // A push to the included repository rebuilds the including artifact:
    // same own revision, new content, new digest.
    git.shared.write(
        "base/common.yaml",
        "kind: Namespace\nmetadata: {name: v2}\n",
    );
    let pushed = git.shared.commit("shared v2");
    wait_ready_revision(&api, "shared", &format!("main@sha1:{pushed}")).await;
    let rebuilt = eventually("app rebuilt with the new shared artifact", || async {
        let repo = api.get("app").await.map_err(|e| e.to_string())?;
        let digest = repo.artifact().and_then(|a| a.digest.clone());
        (digest != ready.artifact().and_then(|a| a.digest.clone()))
            .then_some(repo)
            .ok_or(format!("digest still {digest:?}"))
    })
    .await;
    assert_eq!(
        rebuilt.artifact().map(|a| a.revision.clone()),
        Some(revision)
    );
    assert_eq!(
        driftless_testkit::tar_file(&fetch_verified(&rebuilt)[..], "vendor/base/common.yaml")
            .as_deref(),
        Some("kind: Namespace\nmetadata: {name: v2}\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_include_is_reported_and_the_last_artifact_kept_until_it_appears() {
    let env = Env::start().await;
    let git = two_repos();
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let app_head = git.app.git(&["rev-parse", "HEAD"]);
    let revision = format!("main@sha1:{app_head}");
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1h"),
    )
    .await
    .expect("created");
    let good = wait_ready_revision(&api, "app", &revision).await;
    let before = fetch_verified(&good);

    let patch = serde_json::json!({"spec": {"include": [{"repository": {"name": "shared"}}]}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
    let failed = wait_not_ready(&api, "app").await;
    let (_, reason, message) = ready_of(failed.conditions()).expect("Ready");
    assert_eq!(reason, "NotFound");
    assert!(
        message.contains("GitRepository 'default/shared'")
            && message.contains("spec.include[0]")
            && message.contains("not found"),
        "{message}"
    );
    assert_eq!(
        condition(&failed, "IncludeUnavailable"),
        Some(("True".to_owned(), reason.clone(), message.clone()))
    );
    assert_eq!(condition(&failed, "Stalled"), None, "it is retried");
    assert_eq!(
        failed.artifact(),
        good.artifact(),
        "the last artifact stays"
    );
    assert_eq!(fetch_verified(&failed), before, "and is still served");
    let events = event_messages(&env.client, NS, "app").await;
    assert!(
        events.iter().any(|e| e.starts_with("Warning NotFound")),
        "{events:?}"
    );

    // Once the included repository exists and has an artifact, the
    // including one recovers without being touched.
    api.create(
        &PostParams::default(),
        &git_repository("shared", &git.daemon.url("shared"), "main", "1h"),
    )
    .await
    .expect("created");
    let recovered = eventually("app ready with the include", || async {
        let repo = api.get("app").await.map_err(|e| e.to_string())?;
        let ready = ready_of(repo.conditions());
        let included = repo
            .status
            .as_ref()
            .and_then(|s| s.included_artifacts.clone());
        match (&ready, &included) {
            (Some((s, _, _)), Some(_)) if s == "True" => Ok(repo),
            _ => Err(format!("ready {ready:?}, included {included:?}")),
        }
    })
    .await;
    assert_eq!(condition(&recovered, "IncludeUnavailable"), None);
    assert!(
        driftless_testkit::tar_paths(&fetch_verified(&recovered)[..])
            .contains(&"shared/base/common.yaml".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_include_path_that_leaves_the_artifact_is_refused() {
    let env = Env::start().await;
    let git = two_repos();
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let shared_head = git.shared.git(&["rev-parse", "HEAD"]);
    api.create(
        &PostParams::default(),
        &git_repository("shared", &git.daemon.url("shared"), "main", "1h"),
    )
    .await
    .expect("created");
    wait_ready_revision(&api, "shared", &format!("main@sha1:{shared_head}")).await;
    let mut app = git_repository("app", &git.daemon.url("app"), "main", "1h");
    app.spec.include = Some(vec![include("shared", None, Some("../../escape"))]);
    api.create(&PostParams::default(), &app)
        .await
        .expect("created");
    let failed = wait_not_ready(&api, "app").await;
    let (_, reason, message) = ready_of(failed.conditions()).expect("Ready");
    assert_eq!(reason, "InvalidPath");
    assert!(
        message.contains(r#"spec.include[0].toPath "../../escape""#)
            && message.contains("without `..`"),
        "{message}"
    );
    assert_eq!(
        condition(&failed, "Stalled").map(|c| c.0),
        Some("True".to_owned()),
        "retrying cannot help until the spec changes"
    );
    assert!(
        condition(&failed, "IncludeUnavailable").is_some(),
        "{:?}",
        failed.conditions()
    );
    assert_eq!(failed.artifact(), None, "nothing was built");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurse_submodules_archives_them_and_switching_it_rebuilds() {
    let env = Env::start().await;
    let git = two_repos();
    // `app` gets `shared` as a submodule at vendor/shared (by relative URL,
    // resolved against the daemon's URL of `app`).
    git.app.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        "../shared.git",
        "vendor/shared",
    ]);
    let head = git.app.commit("shared as a submodule");
    let revision = format!("main@sha1:{head}");
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let mut app = git_repository("app", &git.daemon.url("app"), "main", "1h");
    app.spec.recurse_submodules = true;
    api.create(&PostParams::default(), &app)
        .await
        .expect("created");
    let ready = wait_ready_revision(&api, "app", &revision).await;
    assert_eq!(
        driftless_testkit::tar_paths(&fetch_verified(&ready)[..]),
        [
            "deploy/",
            "deploy/cm.yaml",
            "vendor/",
            "vendor/shared/",
            "vendor/shared/README.md",
            "vendor/shared/base/",
            "vendor/shared/base/common.yaml",
        ]
    );
    assert!(
        ready
            .status
            .as_ref()
            .expect("status")
            .observed_recurse_submodules
    );

    // Same revision, other setting: the artifact is rebuilt without them.
    let patch = serde_json::json!({"spec": {"recurseSubmodules": false}});
    api.patch("app", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
    let flat = eventually("app rebuilt without submodules", || async {
        let repo = api.get("app").await.map_err(|e| e.to_string())?;
        let recursed = repo.status.as_ref().map(|s| s.observed_recurse_submodules);
        (recursed == Some(false))
            .then_some(repo)
            .ok_or(format!("observedRecurseSubmodules {recursed:?}"))
    })
    .await;
    assert_eq!(flat.artifact().map(|a| a.revision.clone()), Some(revision));
    assert_eq!(
        driftless_testkit::tar_paths(&fetch_verified(&flat)[..]),
        ["deploy/", "deploy/cm.yaml"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_of_includes_is_refused() {
    let env = Env::start().await;
    let git = two_repos();
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    // Each new artifact of one would change the other's, forever.
    for (name, other) in [("app", "shared"), ("shared", "app")] {
        let mut repo = git_repository(name, &git.daemon.url(name), "main", "1h");
        repo.spec.include = Some(vec![include(other, None, None)]);
        api.create(&PostParams::default(), &repo)
            .await
            .expect("created");
    }
    for name in ["app", "shared"] {
        // The first one created may first report its include missing: the
        // cycle only exists once both do.
        let failed = eventually(&format!("{name} refused as a cycle"), || async {
            let repo = api.get(name).await.map_err(|e| e.to_string())?;
            match ready_of(repo.conditions()) {
                Some((status, reason, _)) if status == "False" && reason == "IncludeCycle" => {
                    Ok(repo)
                }
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        let (_, _, message) = ready_of(failed.conditions()).expect("Ready");
        assert!(
            message.contains(&format!("GitRepository 'default/{name}' includes itself")),
            "{message}"
        );
        assert_eq!(
            condition(&failed, "Stalled").map(|c| c.0),
            Some("True".to_owned())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_verification_is_refused_rather_than_skipped() {
    let env = Env::start().await;
    let git = repo_with_app();
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    let mut repo: serde_json::Value =
        serde_json::to_value(git_repository("app", &git.daemon.url("app"), "main", "1h"))
            .expect("json");
    repo["spec"]["verify"] = serde_json::json!({"mode": "HEAD", "secretRef": {"name": "pgp-keys"}});
    api.create(
        &PostParams::default(),
        &serde_json::from_value(repo).expect("typed"),
    )
    .await
    .expect("created");
    let failed = wait_not_ready(&api, "app").await;
    let (_, reason, message) = ready_of(failed.conditions()).expect("Ready");
    assert_eq!(reason, "UnsupportedField");
    assert!(
        message.contains("spec.verify is not supported"),
        "{message}"
    );
    assert!(
        failed.artifact().is_none(),
        "no unverified artifact was produced"
    );
}
