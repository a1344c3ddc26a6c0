//! Image automation end to end, on real parts: tags pushed to a real
//! registry (`docker-registry`), an ImageRepository scanning it, a semver
//! ImagePolicy, and an ImageUpdateAutomation committing the elected tag at
//! the setter marker of a Deployment in a repository served by `git daemon`
//! — which a Kustomization then applies. A tag outside the range changes
//! nothing; a push the server refuses fails visibly and leaves the branch
//! as it was; a registry's webhook to a Receiver brings a tag in without
//! waiting for the scan's interval.

use std::time::Duration;

use crate::common::image::{branch_head, create, head, push_tag};
use crate::common::world::{NS, World};
use crate::common::{Env, ready_of};
use driftless_api::{ImagePolicy, ImageRepository, ImageUpdateAutomation};
use driftless_testkit::cluster::eventually;
use driftless_testkit::git;
use driftless_testkit::registry::{Registry, RegistryOptions};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::json;

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        # the marker below is what the automation rewrites\n        image: {image} # {{\"$imagepolicy\": \"default:web\"}}\n"
    )
}

/// The image objects: a repository scanned every `interval`, a `1.x`
/// policy, and an automation pushing to `main` every `interval`.
async fn automate(client: &kube::Client, registry: &Registry, interval: &str) {
    let image = format!("{}/apps/web", registry.host());
    create::<ImageRepository>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"image": image, "interval": interval, "insecure": true},
        }),
    )
    .await;
    create::<ImagePolicy>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"imageRepositoryRef": {"name": "web"}, "policy": {"semver": {"range": ">=1.0.0 <2.0.0"}}},
        }),
    )
    .await;
    create::<ImageUpdateAutomation>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "fleet", "namespace": NS},
            "spec": {
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "interval": interval,
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

async fn deployed_image(client: &kube::Client) -> Option<String> {
    let deployment = Api::<Deployment>::namespaced(client.clone(), NS)
        .get_opt("web")
        .await
        .ok()??;
    deployment
        .spec?
        .template
        .spec?
        .containers
        .first()?
        .image
        .clone()
}

async fn wait_deployed(client: &kube::Client, want: &str) {
    eventually(&format!("deployment web runs {want}"), || async {
        let image = deployed_image(client).await;
        (image.as_deref() == Some(want))
            .then_some(())
            .ok_or(format!("image {image:?}"))
    })
    .await;
}

async fn automation_ready(client: &kube::Client) -> Option<(String, String, String)> {
    let automation = Api::<ImageUpdateAutomation>::namespaced(client.clone(), NS)
        .get("fleet")
        .await
        .ok()?;
    ready_of(automation.conditions())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_tags_in_range_are_committed_at_the_marker_and_applied() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "image automation")
    else {
        return;
    };
    push_tag(&registry, "1.0.0").await;
    let world = World::around(Env::without_controller().await).await;
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    world
        .fixture
        .write("apps/web.yaml", &deployment(&image("1.0.0")));
    world.fixture.commit("web at 1.0.0");
    let mut env = world.env;
    env.start_controller(|o| o.dependency_requeue = Duration::from_millis(500))
        .await;
    let client = env.client.clone();
    let mut ks = World::kustomization("apps", "./apps");
    ks.spec.interval = "1s".into();
    Api::<driftless_api::Kustomization>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &ks)
        .await
        .expect("kustomization");
    automate(&client, &registry, "1s").await;
    wait_deployed(&client, &image("1.0.0")).await;

    push_tag(&registry, "1.1.0").await;
    wait_deployed(&client, &image("1.1.0")).await;
    let bare = &world.fixture.bare;
    let commit = head(bare);
    let diff = git::git(
        bare,
        &["show", "--format=%an <%ae>%n%s", "--unified=0", &commit],
    );
    let header = format!("driftless <bot@example.com>\nweb to {}\n", image("1.1.0"));
    assert!(diff.starts_with(&header), "{diff}");
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        [
            format!(
                "-        image: {} # {{\"$imagepolicy\": \"default:web\"}}",
                image("1.0.0")
            ),
            format!(
                "+        image: {} # {{\"$imagepolicy\": \"default:web\"}}",
                image("1.1.0")
            ),
        ],
        "only the marked line changes: {diff}"
    );
    let automation = Api::<ImageUpdateAutomation>::namespaced(client.clone(), NS)
        .get("fleet")
        .await
        .expect("automation");
    let status = automation.status.expect("status");
    assert_eq!(status.last_push_commit.as_deref(), Some(commit.as_str()));
    assert_eq!(status.observed_policies["web"].tag, "1.1.0");

    push_tag(&registry, "1.2.0").await;
    wait_deployed(&client, &image("1.2.0")).await;
    let at_1_2 = head(bare);

    // Outside the range: scanned, not elected, nothing committed.
    push_tag(&registry, "2.0.0").await;
    let repositories = Api::<ImageRepository>::namespaced(client.clone(), NS);
    eventually("the scan sees 2.0.0", || async {
        let repo = repositories.get("web").await.map_err(|e| e.to_string())?;
        let count = repo
            .status
            .and_then(|s| s.last_scan_result)
            .map_or(0, |r| r.tag_count);
        (count == 4).then_some(()).ok_or(format!("{count} tags"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        head(bare),
        at_1_2,
        "no commit for a tag the policy excludes"
    );
    assert_eq!(deployed_image(&client).await, Some(image("1.2.0")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_push_fails_visibly_and_leaves_the_branch() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "image automation")
    else {
        return;
    };
    push_tag(&registry, "1.0.0").await;
    let world = World::around(Env::without_controller().await).await;
    let image = format!("{}/apps/web", registry.host());
    world
        .fixture
        .write("apps/web.yaml", &deployment(&format!("{image}:0.9.0")));
    world.fixture.commit("web at 0.9.0");
    // The branch is protected: the server refuses every push.
    let hook = world.fixture.bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n").expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("executable hook");
    let before = head(&world.fixture.bare);
    let mut env = world.env;
    env.start_controller(|_| {}).await;
    let client = env.client.clone();
    automate(&client, &registry, "1s").await;
    let (status, reason, message) = eventually("the automation fails", || async {
        match automation_ready(&client).await {
            Some(ready) if ready.0 == "False" => Ok(ready),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "GitOperationFailed")
    );
    assert!(message.contains("main is protected"), "{message}");
    assert_eq!(head(&world.fixture.bare), before, "the branch is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_commits_go_to_the_push_branch_and_build_on_it() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "image automation")
    else {
        return;
    };
    if std::process::Command::new("ssh-keygen")
        .arg("-?")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("DRIFTLESS_REQUIRE_SHARED").is_none(),
            "ssh-keygen is required"
        );
        eprintln!("SKIPPED: signed commits: ssh-keygen is not installed");
        return;
    }
    push_tag(&registry, "1.0.0").await;
    let world = World::around(Env::without_controller().await).await;
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    world
        .fixture
        .write("apps/web.yaml", &deployment(&image("1.0.0")));
    let main_head = world.fixture.commit("web at 1.0.0");
    let keys = tempfile::tempdir().expect("key dir");
    let (private, public) = git::keygen(&keys.path().join("signing"));
    let mut env = world.env;
    env.start_controller(|_| {}).await;
    let client = env.client.clone();
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "signing", "namespace": NS},
        "stringData": {"identity": private},
    }))
    .expect("secret");
    Api::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await
        .expect("secret created");
    automate(&client, &registry, "1s").await;
    let automations = Api::<ImageUpdateAutomation>::namespaced(client.clone(), NS);
    automations
        .patch(
            "fleet",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"git": {
                "push": {"branch": "auto"},
                "commit": {"signingKey": {"secretRef": {"name": "signing"}, "type": "ssh"}},
            }}})),
        )
        .await
        .expect("patched");

    let bare = world.fixture.bare.clone();
    let auto_head = |bare: std::path::PathBuf| async move {
        eventually("a commit on branch auto", || async {
            branch_head(&bare, "auto").ok_or("no branch auto yet".to_owned())
        })
        .await
    };
    push_tag(&registry, "1.1.0").await;
    let first = auto_head(bare.clone()).await;
    assert_eq!(head(&bare), main_head, "main is not the push branch");
    assert_eq!(
        git::git(&bare, &["rev-parse", &format!("{first}^")]),
        main_head
    );

    let signers = keys.path().join("allowed_signers");
    std::fs::write(&signers, format!("bot@example.com {public}\n")).expect("signers");
    let verified = std::process::Command::new("git")
        .arg("-C")
        .arg(&bare)
        .args([
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
            "verify-commit",
            &first,
        ])
        .output()
        .expect("git verify-commit runs");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    // The push branch exists now: the next update builds on it.
    push_tag(&registry, "1.2.0").await;
    let second = eventually("a second commit on auto", || async {
        let head = branch_head(&bare, "auto");
        head.filter(|h| *h != first)
            .ok_or("auto unchanged".to_owned())
    })
    .await;
    assert_eq!(
        git::git(&bare, &["rev-parse", &format!("{second}^")]),
        first
    );
    let content = git::git(&bare, &["show", &format!("{second}:apps/web.yaml")]);
    assert!(content.contains(&image("1.2.0")), "{content}");
}

/// A registry's webhook: with the scan and the automation an hour apart,
/// a `harbor` call to a Receiver naming the ImageRepository gets the new
/// tag scanned, elected by the policy and committed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_registry_webhook_gets_the_new_tag_committed_without_a_poll() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "image automation")
    else {
        return;
    };
    push_tag(&registry, "1.0.0").await;
    let receiver_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port");
    let world = World::around(Env::without_controller().await).await;
    let image = format!("{}/apps/web", registry.host());
    world
        .fixture
        .write("apps/web.yaml", &deployment(&format!("{image}:1.0.0")));
    world.fixture.commit("web at 1.0.0");
    let mut env = world.env;
    env.start_controller(|o| o.receiver_listen = Some(receiver_addr))
        .await;
    let client = env.client.clone();
    automate(&client, &registry, "1h").await;
    create::<k8s_openapi::api::core::v1::Secret>(
        &client,
        json!({"metadata": {"name": "hook", "namespace": NS}, "stringData": {"token": "s3cret"}}),
    )
    .await;
    create::<driftless_api::Receiver>(
        &client,
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": "registry", "namespace": NS},
            "spec": {"type": "harbor", "secretRef": {"name": "hook"},
                     "resources": [{"kind": "ImageRepository", "name": "web"}]},
        }),
    )
    .await;
    let receivers = Api::<driftless_api::Receiver>::namespaced(client.clone(), NS);
    let path = eventually("the receiver's webhook path", || async {
        let r = receivers.get("registry").await.map_err(|e| e.to_string())?;
        r.status
            .and_then(|s| s.webhook_path)
            .ok_or("none yet".to_owned())
    })
    .await;
    let automations = Api::<ImageUpdateAutomation>::namespaced(client.clone(), NS);
    eventually("the automation's first run", || async {
        let a = automations.get("fleet").await.map_err(|e| e.to_string())?;
        let tag = a
            .status
            .and_then(|s| s.observed_policies.get("web").map(|r| r.tag.clone()));
        (tag.as_deref() == Some("1.0.0"))
            .then_some(())
            .ok_or(format!("{tag:?}"))
    })
    .await;
    let bare = &world.fixture.bare;
    let before = head(bare);

    push_tag(&registry, "1.1.0").await;
    let status = reqwest::Client::new()
        .post(format!("http://{receiver_addr}{path}"))
        .header("Authorization", "s3cret")
        .header("Content-Type", "application/json")
        .body(r#"{"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag": "1.1.0"}]}}"#)
        .send()
        .await
        .expect("the receiver answers")
        .status();
    assert_eq!(status.as_u16(), 200);
    let commit = eventually("a commit for 1.1.0", || async {
        let now = head(bare);
        (now != before)
            .then_some(now)
            .ok_or("branch unmoved".to_owned())
    })
    .await;
    let manifest = git::git(bare, &["show", &format!("{commit}:apps/web.yaml")]);
    assert!(
        manifest.contains(&format!("image: {image}:1.1.0 #")),
        "{manifest}"
    );
}
