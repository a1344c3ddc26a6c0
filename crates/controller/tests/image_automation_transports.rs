//! Image automation through every git transport a GitRepository can use,
//! and its bad input, end to end on real parts: a registry
//! (`docker-registry`) holding the tags, lighttpd + `git http-backend`
//! (basic and bearer auth) and `sshd` (deploy key, host key checked)
//! serving the repository, credentials from the GitRepository's Secret.
//! (git:// is covered by `image_automation.rs`.)
//!
//! Bad input fails visibly and never writes a wrong commit: wrong
//! credentials (password, token, host key) leave the automation not Ready
//! with a message naming the URL and never the secret, until the Secret is
//! fixed; a malformed marker is left alone and named in a Warning event
//! while the good one next to it is committed; a policy whose
//! ImageRepository is absent or whose registry is unreachable elects
//! nothing, so nothing is committed; a registry going down after an update
//! leaves the last good commit alone.

use std::path::Path;
use std::time::Duration;

use crate::common::image::{create, head, push_tag};
use crate::common::world::{NS, World};
use crate::common::{Env, event_messages, ready_of};
use driftless_api::{GitRepository, ImagePolicy, ImageRepository, ImageUpdateAutomation};
use driftless_testkit::cluster::eventually;
use driftless_testkit::registry::{Registry, RegistryOptions};
use driftless_testkit::{
    BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, Fixture, HttpServer, SshServer, git, keygen,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;

/// A Deployment whose image line carries the marker of policy `default:web`.
fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {image} # {{\"$imagepolicy\": \"default:web\"}}\n"
    )
}

async fn image_repository(client: &kube::Client, name: &str, image: &str) {
    create::<ImageRepository>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"image": image, "interval": "1s", "insecure": true, "timeout": "2s"},
        }),
    )
    .await;
}

/// A `1.x` semver policy `name` on the ImageRepository `repository`.
async fn policy(client: &kube::Client, name: &str, repository: &str) {
    create::<ImagePolicy>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"imageRepositoryRef": {"name": repository}, "policy": {"semver": {"range": ">=1.0.0 <2.0.0"}}},
        }),
    )
    .await;
}

/// An automation of the GitRepository `fleet`, pushing to `main` every second.
async fn automation(client: &kube::Client) {
    create::<ImageUpdateAutomation>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "fleet", "namespace": NS},
            "spec": {
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "interval": "1s",
                "git": {
                    "checkout": {"ref": {"branch": "main"}},
                    "commit": {"author": {"name": "driftless", "email": "bot@example.com"},
                               "messageTemplate": "web to {{ range .Changed.Changes }}{{ .NewValue }}{{ end }}"},
                    "push": {"branch": "main"},
                },
                "update": {"path": "./apps", "strategy": "Setters"},
            },
        }),
    )
    .await;
}

/// The image objects on `registry`: repository `web`, policy `web`, and
/// the automation.
async fn automate(client: &kube::Client, registry: &Registry) {
    image_repository(client, "web", &format!("{}/apps/web", registry.host())).await;
    policy(client, "web", "web").await;
    automation(client).await;
}

async fn automation_status(client: &kube::Client) -> driftless_api::ImageUpdateAutomationStatus {
    Api::<ImageUpdateAutomation>::namespaced(client.clone(), NS)
        .get("fleet")
        .await
        .expect("automation")
        .status
        .unwrap_or_default()
}

/// Waits until the automation's Ready condition has `want`; returns
/// (reason, message).
async fn wait_ready(client: &kube::Client, want: &str) -> (String, String) {
    eventually(&format!("the automation is Ready={want}"), || async {
        let status = automation_status(client).await;
        match ready_of(status.conditions.as_deref().unwrap_or_default()) {
            Some((s, reason, message)) if s == want => Ok((reason, message)),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Checks `main` stays at `at` for three seconds, looking five times a
/// second, so that a commit appearing and then replaced is seen too.
async fn stays_at(bare: &Path, at: &str, why: &str) {
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(head(bare), at, "{why}");
    }
}

fn on_path(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the servers and tools a transport needs are installed; says
/// `SKIPPED` (or fails under `DRIFTLESS_REQUIRE_SHARED=1`) when not.
fn tools_or_skip(test: &str, transport: Transport) -> bool {
    let missing: Vec<&str> = match transport {
        Transport::Basic | Transport::Bearer => ["lighttpd"]
            .into_iter()
            .filter(|t| !on_path(t) && !Path::new("/usr/sbin").join(t).exists())
            .collect(),
        Transport::Ssh => ["ssh", "ssh-keygen"]
            .into_iter()
            .filter(|t| !on_path(t))
            .chain((!Path::new("/usr/sbin/sshd").exists()).then_some("sshd"))
            .collect(),
    };
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
        "DRIFTLESS_REQUIRE_SHARED=1 but {missing:?} not installed \
         (apt-get install -y lighttpd openssh-server openssh-client)"
    );
    println!("SKIPPED: {test}: {missing:?} not installed");
    false
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    /// Smart HTTP, `username`/`password`.
    Basic,
    /// Smart HTTP, `bearerToken`.
    Bearer,
    /// SSH, `identity` + `known_hosts`.
    Ssh,
}

/// A password nothing accepts; it must never show in a status.
const WRONG_PASSWORD: &str = "wrong-Pa55word-4711";
/// A token nothing accepts; it must never show in a status.
const WRONG_TOKEN: &str = "wrong-token-4711";

/// A repository `fleet` served over one transport, with the Secret data
/// that opens it and data the server refuses.
struct Served {
    fixture: Fixture,
    url: String,
    right: serde_json::Value,
    wrong: serde_json::Value,
    _server: Box<dyn std::any::Any>,
    _dirs: Vec<tempfile::TempDir>,
}

/// `apps/web.yaml` at `image`, committed and served over `transport`.
fn serve(transport: Transport, image: &str) -> Served {
    let root = tempfile::tempdir().expect("served dir");
    let fixture = Fixture::new(root.path(), "fleet");
    fixture.write("apps/web.yaml", &deployment(image));
    fixture.commit("web at 1.0.0");
    let http = || HttpServer::start(root.path());
    let (url, right, wrong, server, dirs): (_, _, _, Box<dyn std::any::Any>, _) = match transport {
        Transport::Basic => {
            let server = http();
            (
                server.url("basic", "fleet"),
                json!({"username": BASIC_USER, "password": BASIC_PASSWORD}),
                json!({"username": BASIC_USER, "password": WRONG_PASSWORD}),
                Box::new(server),
                vec![root],
            )
        }
        Transport::Bearer => {
            let server = http();
            (
                server.url("bearer", "fleet"),
                json!({"bearerToken": BEARER_TOKEN}),
                json!({"bearerToken": WRONG_TOKEN}),
                Box::new(server),
                vec![root],
            )
        }
        Transport::Ssh => {
            let keys = tempfile::tempdir().expect("key dir");
            let (identity, public) = keygen(&keys.path().join("deploy"));
            let server = SshServer::start(&public);
            // The key of another host, listed for this server's address.
            let (_, other) = keygen(&keys.path().join("other_host"));
            let other = format!("[127.0.0.1]:{} {other}\n", server.port);
            (
                server.url(&fixture.bare),
                json!({"identity": identity, "known_hosts": server.known_hosts()}),
                json!({"identity": identity, "known_hosts": other}),
                Box::new(server),
                vec![root, keys],
            )
        }
    };
    Served {
        fixture,
        url,
        right,
        wrong,
        _server: server,
        _dirs: dirs,
    }
}

/// The Secret `git-auth` holding `data`.
fn secret(data: &serde_json::Value) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "git-auth", "namespace": NS},
        "stringData": data,
    }))
    .expect("secret")
}

/// The Secret `git-auth` with `data` and the GitRepository `fleet` reading it.
async fn source(client: &kube::Client, served: &Served, data: &serde_json::Value) {
    Api::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret(data))
        .await
        .expect("secret created");
    let mut repo = GitRepository::test("fleet")
        .in_namespace(NS)
        .url(&served.url)
        .branch("main")
        .secret("git-auth");
    repo.spec.interval = "1s".into();
    Api::<GitRepository>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &repo)
        .await
        .expect("source created");
}

/// The lines a commit adds or removes.
fn changed_lines(bare: &Path, commit: &str) -> Vec<String> {
    git::git(bare, &["show", "--format=", "--unified=0", commit])
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .map(str::to_owned)
        .collect()
}

/// A new tag becomes one commit on `main`, pushed over `transport` with
/// the Secret's credentials, changing only the marked line.
async fn new_tag_is_pushed_over(transport: Transport) {
    let test = format!("automation over {transport:?}");
    if !tools_or_skip(&test, transport) {
        return;
    }
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), &test) else {
        return;
    };
    push_tag(&registry, "1.0.0").await;
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    let served = serve(transport, &image("1.0.0"));
    let bare = &served.fixture.bare;
    let env = Env::start().await;
    let client = env.client.clone();
    source(&client, &served, &served.right).await;
    automate(&client, &registry).await;
    // Up to date at 1.0.0: the checkout over this transport works.
    eventually("the automation observes web at 1.0.0", || async {
        let status = automation_status(&client).await;
        let tag = status.observed_policies.get("web").map(|i| i.tag.clone());
        let ready = ready_of(status.conditions.as_deref().unwrap_or_default());
        match (&tag, &ready) {
            (Some(tag), Some((s, _, _))) if tag == "1.0.0" && s == "True" => Ok(()),
            _ => Err(format!("tag {tag:?}, ready {ready:?}")),
        }
    })
    .await;
    let before = head(bare);

    push_tag(&registry, "1.1.0").await;
    let commit = eventually("a commit on main", || async {
        let now = head(bare);
        (now != before)
            .then_some(now)
            .ok_or_else(|| "main unchanged".to_owned())
    })
    .await;
    assert_eq!(
        git::git(bare, &["rev-parse", &format!("{commit}^")]),
        before,
        "one commit on top of the branch"
    );
    // Only the marked file: nothing of the checkout's own (the SSH key
    // and known_hosts are written beside the repository while fetching).
    assert_eq!(
        git::git(bare, &["show", "--format=", "--name-only", &commit]),
        "apps/web.yaml"
    );
    let marker = "# {\"$imagepolicy\": \"default:web\"}";
    assert_eq!(
        changed_lines(bare, &commit),
        [
            format!("-        image: {} {marker}", image("1.0.0")),
            format!("+        image: {} {marker}", image("1.1.0")),
        ],
        "only the marked line changes"
    );
    eventually("status.lastPushCommit is the commit", || async {
        let pushed = automation_status(&client).await.last_push_commit;
        (pushed.as_deref() == Some(commit.as_str()))
            .then_some(())
            .ok_or(format!("lastPushCommit {pushed:?}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_tag_is_pushed_over_http_with_basic_auth() {
    new_tag_is_pushed_over(Transport::Basic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_tag_is_pushed_over_http_with_a_bearer_token() {
    new_tag_is_pushed_over(Transport::Bearer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_tag_is_pushed_over_ssh_with_a_deploy_key() {
    new_tag_is_pushed_over(Transport::Ssh).await;
}

/// Credentials the server refuses: not Ready, the message names the URL
/// and not the secret, and nothing is pushed although an update is due —
/// until the Secret is fixed.
async fn wrong_credentials_over(transport: Transport, expect_in_message: &str) {
    let test = format!("wrong credentials over {transport:?}");
    if !tools_or_skip(&test, transport) {
        return;
    }
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), &test) else {
        return;
    };
    push_tag(&registry, "1.1.0").await;
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    let served = serve(transport, &image("1.0.0"));
    let bare = &served.fixture.bare;
    let before = head(bare);
    let env = Env::start().await;
    let client = env.client.clone();
    source(&client, &served, &served.wrong).await;
    automate(&client, &registry).await;
    let (reason, message) = wait_ready(&client, "False").await;
    assert_eq!(reason, "AuthenticationFailed", "{message}");
    assert!(message.contains(&served.url), "names the URL: {message}");
    assert!(
        message.contains(expect_in_message),
        "says why ({expect_in_message}): {reason}: {message}"
    );
    // Neither in the status nor in the events of the automation and of the
    // GitRepository (both named `fleet`).
    let events = eventually("the failure is an event too", || async {
        let events = event_messages(&client, NS, "fleet").await;
        if events.iter().any(|e| e.contains(&served.url)) {
            Ok(events)
        } else {
            Err(format!("{events:?}"))
        }
    })
    .await;
    for secret in [WRONG_PASSWORD, BASIC_PASSWORD, WRONG_TOKEN, BEARER_TOKEN] {
        assert!(!message.contains(secret), "a secret in: {message}");
        for event in &events {
            assert!(!event.contains(secret), "a secret in: {event}");
        }
    }
    // The update is due (1.1.0 elected) and still nothing is pushed.
    let policies = Api::<ImagePolicy>::namespaced(client.clone(), NS);
    eventually("policy web elects 1.1.0", || async {
        let policy = policies.get("web").await.map_err(|e| e.to_string())?;
        let tag = policy.latest_ref().map(|r| r.tag.clone());
        (tag.as_deref() == Some("1.1.0"))
            .then_some(())
            .ok_or(format!("{tag:?}"))
    })
    .await;
    stays_at(bare, &before, "nothing is pushed with wrong credentials").await;
    let status = automation_status(&client).await;
    assert_eq!(status.last_push_commit, None);
    let ready = ready_of(status.conditions.as_deref().unwrap_or_default());
    assert_eq!(ready.map(|r| r.0).as_deref(), Some("False"));

    // With the right credentials the same automation pushes the update.
    let secrets = Api::<Secret>::namespaced(client.clone(), NS);
    let mut fixed = secret(&served.right);
    fixed.metadata.resource_version = secrets
        .get("git-auth")
        .await
        .expect("secret")
        .metadata
        .resource_version;
    secrets
        .replace("git-auth", &PostParams::default(), &fixed)
        .await
        .expect("secret replaced");
    let commit = eventually("a commit on main", || async {
        let now = head(bare);
        (now != before)
            .then_some(now)
            .ok_or_else(|| "main unchanged".to_owned())
    })
    .await;
    let content = git::git(bare, &["show", &format!("{commit}:apps/web.yaml")]);
    assert!(content.contains(&image("1.1.0")), "{content}");
    wait_ready(&client, "True").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_password_fails_visibly_and_pushes_nothing() {
    wrong_credentials_over(Transport::Basic, "credentials").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_bearer_token_fails_visibly_and_pushes_nothing() {
    wrong_credentials_over(Transport::Bearer, "credentials").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_host_key_not_in_known_hosts_fails_visibly_and_pushes_nothing() {
    wrong_credentials_over(Transport::Ssh, "known_hosts").await;
}

/// A file with two malformed markers (no namespace; not JSON) beside a
/// good one: the good one is committed, the bad file is untouched, and a
/// Warning event names the file and each line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_markers_are_named_and_left_while_the_good_one_is_committed() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "malformed markers")
    else {
        return;
    };
    push_tag(&registry, "1.1.0").await;
    let world = World::around(Env::without_controller().await).await;
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    let bad = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: default\ndata:\n  \
         no-namespace: {old} # {{\"$imagepolicy\": \"web\"}}\n  \
         not-json: {old} # {{\"$imagepolicy\": default:web}}\n",
        old = image("1.0.0")
    );
    world
        .fixture
        .write("apps/web.yaml", &deployment(&image("1.0.0")));
    world.fixture.write("apps/bad.yaml", &bad);
    let before = world.fixture.commit("web and bad at 1.0.0");
    let bare = world.fixture.bare.clone();
    let mut env = world.env;
    env.start_controller(|_| {}).await;
    let client = env.client.clone();
    automate(&client, &registry).await;

    let commit = eventually("a commit on main", || async {
        let now = head(&bare);
        (now != before)
            .then_some(now)
            .ok_or_else(|| "main unchanged".to_owned())
    })
    .await;
    assert_eq!(
        git::git(&bare, &["show", "--format=", "--name-only", &commit]),
        "apps/web.yaml",
        "only the good file is committed"
    );
    assert_eq!(
        git::git(&bare, &["show", &format!("{commit}:apps/bad.yaml")]),
        bad.trim_end(),
        "the bad file is untouched"
    );
    let content = git::git(&bare, &["show", &format!("{commit}:apps/web.yaml")]);
    assert!(content.contains(&image("1.1.0")), "{content}");
    let warning = eventually("a Warning event naming apps/bad.yaml", || async {
        let events = event_messages(&client, NS, "fleet").await;
        events
            .iter()
            .find(|e| e.starts_with("Warning ") && e.contains("apps/bad.yaml"))
            .cloned()
            .ok_or(format!("{events:?}"))
    })
    .await;
    for line in ["apps/bad.yaml:7:", "apps/bad.yaml:8:"] {
        assert!(warning.contains(line), "names {line}: {warning}");
    }
    assert!(!warning.contains("apps/web.yaml"), "{warning}");
}

/// Policies whose ImageRepository does not exist, or whose registry does
/// not answer, elect nothing: they are not Ready, the automation runs and
/// commits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn policies_without_a_scan_commit_nothing() {
    let world = World::around(Env::without_controller().await).await;
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let down = format!("127.0.0.1:{closed}/apps/api");
    world.fixture.write(
        "apps/web.yaml",
        &format!(
            "{}      - name: api\n        image: {down}:1.0.0 # {{\"$imagepolicy\": \"default:api\"}}\n",
            deployment("example.com/apps/web:1.0.0")
        ),
    );
    let before = world.fixture.commit("web and api at 1.0.0");
    let bare = world.fixture.bare.clone();
    let mut env = world.env;
    env.start_controller(|_| {}).await;
    let client = env.client.clone();
    image_repository(&client, "down", &down).await;
    policy(&client, "web", "missing").await;
    policy(&client, "api", "down").await;
    automation(&client).await;

    let policies = Api::<ImagePolicy>::namespaced(client.clone(), NS);
    for name in ["web", "api"] {
        let (status, reason, message) = eventually(&format!("policy {name} fails"), || async {
            let policy = policies.get(name).await.map_err(|e| e.to_string())?;
            match ready_of(policy.conditions()) {
                Some(ready) if ready.0 == "False" => Ok(ready),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert_eq!(status, "False", "{name}: {reason}: {message}");
        let policy = policies.get(name).await.expect("policy");
        assert_eq!(
            policy.status.and_then(|s| s.latest_ref),
            None,
            "{name} elects nothing"
        );
    }
    let repositories = Api::<ImageRepository>::namespaced(client.clone(), NS);
    let (status, _, message) = eventually("the unreachable registry fails", || async {
        let repo = repositories.get("down").await.map_err(|e| e.to_string())?;
        match ready_of(repo.conditions()) {
            Some(ready) if ready.0 == "False" => Ok(ready),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(status, "False");
    assert!(
        message.contains(&format!("127.0.0.1:{closed}")),
        "{message}"
    );
    // The automation has run over the repository, and keeps running.
    eventually("the automation has run", || async {
        let status = automation_status(&client).await;
        status
            .last_automation_run_time
            .ok_or(format!("{:?}", status.conditions))
    })
    .await;
    stays_at(&bare, &before, "no policy elected an image, no commit").await;
    let status = automation_status(&client).await;
    assert!(status.observed_policies.is_empty(), "{status:?}");
    assert_eq!(status.last_push_commit, None);
}

/// A registry that goes away after an update was committed: the scan
/// fails visibly and the automation writes nothing more — the branch keeps
/// the last good commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_going_down_after_an_update_writes_nothing_more() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "registry down")
    else {
        return;
    };
    push_tag(&registry, "1.1.0").await;
    let host = registry.host();
    let world = World::around(Env::without_controller().await).await;
    world.fixture.write(
        "apps/web.yaml",
        &deployment(&format!("{host}/apps/web:1.0.0")),
    );
    let before = world.fixture.commit("web at 1.0.0");
    let bare = world.fixture.bare.clone();
    let mut env = world.env;
    env.start_controller(|_| {}).await;
    let client = env.client.clone();
    automate(&client, &registry).await;
    let updated = eventually("a commit on main", || async {
        let now = head(&bare);
        (now != before)
            .then_some(now)
            .ok_or_else(|| "main unchanged".to_owned())
    })
    .await;

    drop(registry);
    let repositories = Api::<ImageRepository>::namespaced(client.clone(), NS);
    let message = eventually("the scan fails", || async {
        let repo = repositories.get("web").await.map_err(|e| e.to_string())?;
        match ready_of(repo.conditions()) {
            Some((status, _, message)) if status == "False" => Ok(message),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(message.contains(&host), "names the registry: {message}");
    stays_at(&bare, &updated, "no commit while the registry is down").await;
    let content = git::git(&bare, &["show", "main:apps/web.yaml"]);
    assert!(
        content.contains(&format!("{host}/apps/web:1.1.0 ")),
        "{content}"
    );
}
