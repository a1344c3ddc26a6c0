//! GitRepository end to end: `git daemon` on loopback, the sandbox, and the
//! controller in-process. A repository becomes Ready with Flux's revision
//! and a served, verifiable artifact; pushes are picked up on the interval
//! and on a requested reconcile; failures say why and keep the last artifact.

mod common;

use std::collections::BTreeMap;

use common::{Env, event_messages, ready_of};
use driftless_api::GitRepository;
use driftless_api::annotations::RECONCILE_REQUESTED_AT;
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
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1h"),
    )
    .await
    .expect("created");
    wait_ready_revision(&api, "app", &format!("main@sha1:{first}")).await;

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
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1h"),
    )
    .await
    .expect("created");
    let good = wait_ready_revision(&api, "app", &format!("main@sha1:{head}")).await;
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
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1h"),
    )
    .await
    .expect("created");
    let repo = wait_ready_revision(&api, "app", &format!("main@sha1:{head}")).await;
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
    let mut seen_at = String::new();
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
        seen_at = at;
    }
    assert!(!seen_at.is_empty());
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
    let api: Api<GitRepository> = Api::namespaced(env.client.clone(), NS);
    api.create(
        &PostParams::default(),
        &git_repository("app", &git.daemon.url("app"), "main", "1h"),
    )
    .await
    .expect("created");
    let good = wait_ready_revision(&api, "app", &format!("main@sha1:{head}")).await;
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
