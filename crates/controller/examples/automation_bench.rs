//! Image automation latency (issue 18, item 8): how long a new tag in the
//! registry takes to become a commit on the environment repository's branch
//! and then the image of the Deployment in the cluster — once by polling
//! alone, once with webhooks — over `BENCH_ROUNDS` tags (default 5),
//! printed as median and max, with the controller's memory.
//!
//! Run `cargo run --release -p driftless-controller --example automation_bench [-- <which>]`
//! with `<which>` one of `polling`, `webhook`, `all` (default). Needs
//! Debian's `docker-registry` and `git` on the PATH.
//!
//! The set-up is the one of `tests/image_automation.rs`, on real parts: a
//! `docker-registry` on loopback (tags pushed as small OCI artifacts), a
//! `git daemon` serving the repository with a marked Deployment, the sandbox
//! in this process and the controller in a child process (the harness in
//! `support/`, shared with `bench.rs`) so that its
//! `/proc/<pid>/status` holds the controller's memory alone. Each round
//! pushes the next `1.<round>.0`, which the `>=1.0.0 <2.0.0` policy elects;
//! a round fails loudly unless exactly one new commit lands, carrying that
//! tag at the marker, and the Deployment then runs it.
//!
//! - **polling**: nothing is asked; every object waits for its interval
//!   (printed). The automation runs when the policy changes (it watches
//!   policies), the Kustomization when its GitRepository has a new revision;
//!   the GitRepository sees the automation's commit at its next poll. A
//!   round ends just after that poll, so round r first waits (r-1)/N of
//!   the GitRepository's interval: the N pushes land evenly over its cycle
//!   (and, 12 s apart for N = 5, over the scan's 10 s cycle too) instead of
//!   all at the worst moment.
//! - **webhook**: intervals of 1h. Right after the push the bench calls a
//!   `harbor` Receiver naming the ImageRepository, as a registry would. The
//!   GitRepository needs its own call: asked at the same moment it would
//!   fetch before the automation has pushed, so a second Receiver (`github`,
//!   `push` events, HMAC-signed) is called as the git host would after the
//!   push — by the bench as soon as it sees the commit on the branch.
//!
//! Flux's figures cannot be measured here (no Flux controllers), so only
//! ours are printed. Not for regression gating: a shared 2-core machine is
//! noisy, and polling figures depend on where in the interval a tag lands.

mod support;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use driftless_api::{GitRepository, ImagePolicy, ImageRepository, ImageUpdateAutomation};
use driftless_api::{Kustomization, Receiver};
use driftless_source::oci::{OciTarget, pack_directory, push_flux_artifact};
use driftless_testkit::registry::{Registry, RegistryOptions};
use driftless_testkit::{Fixture, GitDaemon, git};
use hmac::{KeyInit, Mac};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{Controller, ControllerOptions, mib, millis, secs, start_cluster, wait_until};

const USAGE: &str = "usage: automation_bench [polling|webhook|all]";
const NS: &str = "default";
const TOKEN: &str = "bench-token";
/// The longest one wait may take: two GitRepository polls and a scan.
const DEADLINE: Duration = Duration::from_secs(180);
/// How often the bench looks at the branch and the Deployment.
const POLL: Duration = Duration::from_millis(20);

/// The intervals of one mode's objects.
#[derive(Clone, Copy)]
struct Intervals {
    image_repository: &'static str,
    automation: &'static str,
    git_repository: &'static str,
    kustomization: &'static str,
    /// The GitRepository's poll, over which the rounds' pushes are spread.
    git_poll: Duration,
}

/// Flux's image guide polls the registry often and git every minute.
const POLLING: Intervals = Intervals {
    image_repository: "10s",
    automation: "1m",
    git_repository: "1m",
    kustomization: "1m",
    git_poll: Duration::from_secs(60),
};
const WEBHOOK: Intervals = Intervals {
    image_repository: "1h",
    automation: "1h",
    git_repository: "1h",
    kustomization: "1h",
    git_poll: Duration::ZERO,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = support::child_main(&args) {
        return code;
    }
    let which = args.first().map_or("all", String::as_str);
    if !matches!(which, "polling" | "webhook" | "all") || args.len() > 1 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5);
    support::runtime().block_on(async {
        let mut rows = Vec::new();
        if matches!(which, "polling" | "all") {
            rows.extend(bench(false, rounds).await);
        }
        if matches!(which, "webhook" | "all") {
            rows.extend(bench(true, rounds).await);
        }
        println!("\n## summary ({rounds} rounds; Flux not measurable here: no Flux controllers)\n");
        println!("| figure | median | max |\n|---|---:|---:|");
        for (figure, median, max) in rows {
            println!("| {figure} | {median} | {max} |");
        }
    });
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------- bench --

/// The figures of one mode: `(figure, median, max)` rows.
async fn bench(webhook: bool, rounds: usize) -> Vec<(String, String, String)> {
    let (mode, intervals) = if webhook {
        ("webhook", WEBHOOK)
    } else {
        ("polling", POLLING)
    };
    println!(
        "## {mode}: ImageRepository {}, ImageUpdateAutomation {}, GitRepository {}, Kustomization {}\n",
        intervals.image_repository,
        intervals.automation,
        intervals.git_repository,
        intervals.kustomization
    );
    let registry = Registry::start(&RegistryOptions::default())
        .expect("docker-registry is installed (apt-get install -y docker-registry)");
    let image = |tag: &str| format!("{}/apps/web:{tag}", registry.host());
    push_tag(&registry, "1.0.0").await;
    let (cluster, client) = start_cluster().await;
    let scratch = tempfile::tempdir().expect("a temp dir");
    let fixture = Fixture::new(&scratch.path().join("served"), "fleet");
    fixture.write("apps/web.yaml", &deployment(&image("1.0.0")));
    fixture.commit("web at 1.0.0");
    let daemon = GitDaemon::start(&scratch.path().join("served"));
    let options = ControllerOptions {
        receiver: true,
        ..ControllerOptions::default()
    };
    let controller = Controller::start(&cluster, scratch.path(), mode, options).await;
    create_objects(&client, &daemon.url("fleet"), &registry, intervals).await;
    let hooks = if webhook {
        Some(receivers(&client, &controller).await)
    } else {
        None
    };
    // Round 1 starts from a settled state: 1.0.0 applied and the
    // automation's first run (which commits nothing) done.
    let automations: Api<ImageUpdateAutomation> = Api::namespaced(client.clone(), NS);
    wait_until(
        "the automation observes web at 1.0.0",
        DEADLINE,
        POLL,
        || async {
            let a = automations.get("fleet").await.map_err(|e| e.to_string())?;
            let tag = a
                .status
                .and_then(|s| s.observed_policies.get("web").map(|r| r.tag.clone()));
            (tag.as_deref() == Some("1.0.0"))
                .then_some(())
                .ok_or(format!("{tag:?}"))
        },
    )
    .await;
    wait_deployed(&client, &image("1.0.0")).await;

    let http = reqwest::Client::new();
    let bare = &fixture.bare;
    let (mut to_commit, mut to_applied) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let tag = format!("1.{round}.0");
        // A round ends just after a GitRepository poll; pushing at once
        // would always wait the whole poll. Round r waits (r-1)/rounds of
        // it first, so the pushes land evenly over the poll's cycle.
        let offset = intervals.git_poll * u32::try_from(round - 1).expect("few rounds")
            / u32::try_from(rounds).expect("few rounds");
        tokio::time::sleep(offset).await;
        let before = head(bare);
        push_tag(&registry, &tag).await;
        let pushed = Instant::now();
        if let Some(hooks) = &hooks {
            hooks.registry(&http, &registry, &tag).await;
        }
        let commit = wait_until(&format!("a commit for {tag}"), DEADLINE, POLL, || async {
            let now = head(bare);
            (now != before)
                .then_some(now)
                .ok_or("branch unmoved".to_owned())
        })
        .await;
        let committed = pushed.elapsed();
        if let Some(hooks) = &hooks {
            hooks.git(&http, &commit).await;
        }
        check_commit(bare, &commit, &before, &image(&tag));
        wait_deployed(&client, &image(&tag)).await;
        let applied = pushed.elapsed();
        println!(
            "round {round}: {tag} pushed {} after the previous round, committed after {}, running after {}",
            secs(offset),
            millis(committed),
            millis(applied)
        );
        to_commit.push(committed);
        to_applied.push(applied);
    }
    let memory = controller.memory();
    println!(
        "controller RSS {} at the end, peak (VmHWM) {}",
        mib(memory.rss),
        mib(memory.peak)
    );
    controller.print_warnings();
    controller.stop();
    cluster.sandbox.shutdown().await;
    drop(daemon);
    println!();
    vec![
        row(
            &format!("{mode}: tag pushed to commit on the branch"),
            &to_commit,
        ),
        row(
            &format!("{mode}: tag pushed to Deployment running it"),
            &to_applied,
        ),
        (
            format!("{mode}: controller peak RSS (VmHWM, set-up and rounds)"),
            mib(memory.peak),
            "-".to_owned(),
        ),
    ]
}

/// The objects of `tests/image_automation.rs` with `intervals`: a
/// GitRepository and a Kustomization applying `./apps`, an ImageRepository
/// on the registry, a `1.x` semver ImagePolicy and an automation pushing
/// to `main`.
async fn create_objects(
    client: &kube::Client,
    url: &str,
    registry: &Registry,
    intervals: Intervals,
) {
    let mut source = GitRepository::test("fleet")
        .in_namespace(NS)
        .url(url)
        .branch("main");
    source.spec.interval = intervals.git_repository.into();
    create(client, &source).await;
    let mut ks = Kustomization::test("apps")
        .in_namespace(NS)
        .git_source("fleet")
        .path("./apps");
    ks.spec.interval = intervals.kustomization.into();
    create(client, &ks).await;
    create_json::<ImageRepository>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"image": format!("{}/apps/web", registry.host()),
                     "interval": intervals.image_repository, "insecure": true},
        }),
    )
    .await;
    create_json::<ImagePolicy>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"imageRepositoryRef": {"name": "web"},
                     "policy": {"semver": {"range": ">=1.0.0 <2.0.0"}}},
        }),
    )
    .await;
    create_json::<ImageUpdateAutomation>(
        client,
        json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageUpdateAutomation",
            "metadata": {"name": "fleet", "namespace": NS},
            "spec": {
                "sourceRef": {"kind": "GitRepository", "name": "fleet"},
                "interval": intervals.automation,
                "git": {
                    "checkout": {"ref": {"branch": "main"}},
                    "commit": {"author": {"name": "driftless", "email": "bot@example.com"}},
                    "push": {"branch": "main"},
                },
                "update": {"path": "./apps", "strategy": "Setters"},
            },
        }),
    )
    .await;
}

/// The two webhook URLs of the webhook mode.
struct Hooks {
    registry: String,
    git: String,
}

/// A `harbor` Receiver for the ImageRepository and a `github` one for the
/// GitRepository, sharing one token; their URLs once published.
async fn receivers(client: &kube::Client, controller: &Controller) -> Hooks {
    create_json::<Secret>(
        client,
        json!({"metadata": {"name": "hook", "namespace": NS}, "stringData": {"token": TOKEN}}),
    )
    .await;
    let receiver = |name: &str, type_: &str, kind: &str, target: &str| {
        json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": type_, "events": if type_ == "github" { json!(["push"]) } else { json!([]) },
                     "secretRef": {"name": "hook"},
                     "resources": [{"kind": kind, "name": target}]},
        })
    };
    create_json::<Receiver>(
        client,
        receiver("registry", "harbor", "ImageRepository", "web"),
    )
    .await;
    create_json::<Receiver>(client, receiver("git", "github", "GitRepository", "fleet")).await;
    let api: Api<Receiver> = Api::namespaced(client.clone(), NS);
    let path = |name: &'static str| {
        let api = api.clone();
        async move {
            wait_until(
                &format!("Receiver {name}'s webhook path"),
                DEADLINE,
                POLL,
                || async {
                    let r = api.get(name).await.map_err(|e| e.to_string())?;
                    r.status
                        .and_then(|s| s.webhook_path)
                        .ok_or("none yet".to_owned())
                },
            )
            .await
        }
    };
    let base = controller
        .receiver
        .as_deref()
        .expect("the controller serves webhooks");
    Hooks {
        registry: format!("{base}{}", path("registry").await),
        git: format!("{base}{}", path("git").await),
    }
}

impl Hooks {
    /// Harbor's `PUSH_ARTIFACT` call, authorised by the shared token.
    async fn registry(&self, http: &reqwest::Client, registry: &Registry, tag: &str) {
        let body = json!({
            "type": "PUSH_ARTIFACT", "occur_at": 0, "operator": "ci",
            "event_data": {
                "resources": [{"tag": tag, "resource_url": format!("{}/apps/web:{tag}", registry.host())}],
                "repository": {"name": "web", "namespace": "apps", "repo_full_name": "apps/web"},
            },
        });
        let request = http
            .post(&self.registry)
            .header("Authorization", TOKEN)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        send(request, "the registry's webhook").await;
    }

    /// GitHub's `push` event for `commit`, signed with the shared token.
    async fn git(&self, http: &reqwest::Client, commit: &str) {
        let body = json!({"ref": "refs/heads/main", "after": commit}).to_string();
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).expect("any key length");
        mac.update(body.as_bytes());
        let request = http
            .post(&self.git)
            .header("X-GitHub-Event", "push")
            .header(
                "X-Hub-Signature-256",
                format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            )
            .header("Content-Type", "application/json")
            .body(body);
        send(request, "the git host's webhook").await;
    }
}

async fn send(request: reqwest::RequestBuilder, what: &str) {
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(response.status().as_u16(), 200, "{what} was not accepted");
}

/// Fails loudly unless `commit` is one commit on top of `before` whose
/// manifest runs `image` at the marker.
fn check_commit(bare: &Path, commit: &str, before: &str, image: &str) {
    let parent = git::git(bare, &["rev-parse", &format!("{commit}^")]);
    assert_eq!(
        parent, before,
        "{commit} is not one commit on top of {before}"
    );
    let manifest = git::git(bare, &["show", &format!("{commit}:apps/web.yaml")]);
    let marker = format!("image: {image} # {{\"$imagepolicy\": \"default:web\"}}");
    assert!(
        manifest.contains(&marker),
        "{commit} does not set {image}:\n{manifest}"
    );
}

// -------------------------------------------------------------- helpers --

/// Pushes a small artifact to `<registry>/apps/web:<tag>`.
async fn push_tag(registry: &Registry, tag: &str) {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("tag"), tag).expect("a writable temp dir");
    let content = pack_directory(dir.path(), None, 1 << 20).expect("a packable directory");
    let mut target = OciTarget::new(registry.url("apps/web"), tag);
    target.insecure = true;
    push_flux_artifact(&target, content, "https://example.com/web", tag)
        .await
        .unwrap_or_else(|e| panic!("pushing {tag}: {e}"));
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: {image} # {{\"$imagepolicy\": \"default:web\"}}\n"
    )
}

async fn wait_deployed(client: &kube::Client, want: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
    wait_until(
        &format!("Deployment web running {want}"),
        DEADLINE,
        POLL,
        || async {
            let deployment = api.get_opt("web").await.map_err(|e| e.to_string())?;
            let image =
                deployment.and_then(|d| d.spec?.template.spec?.containers.first()?.image.clone());
            (image.as_deref() == Some(want))
                .then_some(())
                .ok_or(format!("image {image:?}"))
        },
    )
    .await;
}

/// The branch's head in the bare repository.
fn head(bare: &Path) -> String {
    git::git(bare, &["rev-parse", "main"])
}

async fn create<K>(client: &kube::Client, object: &K)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + serde::Serialize
        + Clone
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), object)
        .await
        .unwrap_or_else(|e| panic!("creating {}: {e}", K::kind(&())));
}

async fn create_json<K>(client: &kube::Client, object: serde_json::Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + serde::de::DeserializeOwned
        + serde::Serialize
        + Clone
        + std::fmt::Debug,
{
    let object: K =
        serde_json::from_value(object).unwrap_or_else(|e| panic!("a valid {}: {e}", K::kind(&())));
    create(client, &object).await;
}

/// `(figure, median, max)` of `samples`.
fn row(figure: &str, samples: &[Duration]) -> (String, String, String) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let max = *sorted.last().expect("at least one round");
    (
        figure.to_owned(),
        millis(sorted[sorted.len() / 2]),
        millis(max),
    )
}
