//! The known GitOps vulnerability classes, one named test each: every
//! attack fails visibly and applies nothing; and one hostile tenant among
//! fifty stops no one else.
//!
//! Every test here starts through [`start`] or [`start_with`], which first
//! installs a process-wide tracing subscriber capturing every log line
//! (driftless crates at debug), so the secret tests can read the logs.

mod common;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use common::world::{NS, World, configmap};
use driftless_testkit::cluster::eventually;
use kube::api::{Api, PostParams};
use serde_json::json;

/// Every log line of this test process.
static LOGS: OnceLock<std::sync::Arc<Mutex<Vec<u8>>>> = OnceLock::new();

/// A writer appending to [`LOGS`].
#[derive(Clone)]
struct Capture(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once, before any controller starts
/// (the common `Env` only installs its own when none is set).
fn capture_logs() -> std::sync::Arc<Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = std::sync::Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,driftless=debug"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
    .clone()
}

/// Everything logged so far, as text.
fn logs() -> String {
    let buffer = capture_logs();
    let bytes = buffer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn start() -> World {
    capture_logs();
    World::start().await
}

async fn start_with(adjust: impl FnOnce(&mut driftless_controller::ControllerOptions)) -> World {
    capture_logs();
    World::start_with(adjust).await
}

/// Waits until the Kustomization failed at `commit`; returns (reason, message).
async fn refused(world: &World, name: &str, commit: &str) -> (String, String) {
    let ks = world.wait_for(name, "False", commit).await;
    let conditions = ks.status.and_then(|s| s.conditions).unwrap_or_default();
    let ready = driftless_api::conditions::find(&conditions, "Ready").expect("Ready");
    (ready.reason.clone(), ready.message.clone())
}

/// Nothing the attack carried reached the cluster.
async fn nothing_applied(world: &World, names: &[&str]) {
    for name in names {
        assert_eq!(world.color(name).await, None, "{name} was applied");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_cve_2022_24877_a_path_climbing_out_of_the_source_is_refused() {
    let world = start().await;
    world.fixture.commit("nothing new");
    world
        .create(World::kustomization("escape", "../../../../etc"))
        .await;
    let message = world.stalled_message("escape").await;
    assert!(message.contains("outside the source"), "{message}");
    nothing_applied(&world, &["red", "blue"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2022_24348_a_kustomization_reading_outside_the_repository_fails() {
    let world = start().await;
    world.fixture.write(
        "steal/kustomization.yaml",
        "resources:\n- ../../../../../../etc/hostname\n- cm.yaml\n",
    );
    world
        .fixture
        .write("steal/cm.yaml", &configmap("stolen", "x"));
    let commit = world.fixture.commit("reads outside");
    world.create(World::kustomization("steal", "./steal")).await;
    let (reason, message) = refused(&world, "steal", &commit).await;
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(message.contains("hostname"), "names the file: {message}");
    nothing_applied(&world, &["stolen"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2022_24904_a_symlink_out_of_the_checkout_never_reaches_a_build() {
    let world = start().await;
    world
        .fixture
        .write("linked/cm.yaml", &configmap("linked", "x"));
    world.fixture.symlink("linked/host.yaml", "/etc/hostname");
    world.fixture.commit("a link out of the tree");
    world
        .create(World::kustomization("linked", "./linked"))
        .await;
    // The source refuses to archive the tree, so no Kustomization sees it.
    let sources = world.sources();
    let message = common::message_when(&sources, "fleet", "Ready", "False").await;
    assert!(message.contains("host.yaml"), "{message}");
    nothing_applied(&world, &["linked"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_cve_2022_24817_a_referenced_kubeconfig_is_refused_not_executed() {
    let world = start().await;
    world.fixture.commit("nothing new");
    let mut ks = World::kustomization("remote", "./deploy");
    ks.spec.kube_config = Some(
        serde_json::from_value(serde_json::json!({"secretRef": {"name": "exec-kubeconfig"}}))
            .expect("a kubeConfig reference"),
    );
    world.create(ks).await;
    let message = world.stalled_message("remote").await;
    assert!(message.contains("spec.kubeConfig"), "{message}");
    nothing_applied(&world, &["red", "blue"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_cve_2021_41254_cross_namespace_sources_are_blocked_when_asked() {
    let world = start_with(|options| options.no_cross_namespace_refs = true).await;
    world.fixture.commit("nothing new");
    let mut ks = World::kustomization("borrowed", "./deploy").in_namespace("tenant");
    ks.spec.source_ref.namespace = Some(NS.to_owned());
    world
        .env
        .cluster
        .kubectl(&["create", "namespace", "tenant"], None)
        .await;
    let tenant: Api<driftless_api::Kustomization> =
        Api::namespaced(world.env.client.clone(), "tenant");
    tenant
        .create(&Default::default(), &ks)
        .await
        .expect("created");
    let message = common::message_when(&tenant, "borrowed", "Stalled", "True").await;
    assert!(
        message.contains("cross-namespace references have been blocked"),
        "{message}"
    );
    nothing_applied(&world, &["red", "blue"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_bases_and_network_access_during_a_build_are_refused() {
    let world = start().await;
    world.fixture.write(
        "remote/kustomization.yaml",
        "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n- cm.yaml\n",
    );
    world
        .fixture
        .write("remote/cm.yaml", &configmap("fetched", "x"));
    let commit = world.fixture.commit("a remote base");
    world
        .create(World::kustomization("remote", "./remote"))
        .await;
    let (reason, message) = refused(&world, "remote", &commit).await;
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(
        message.contains("github.com"),
        "names the remote: {message}"
    );
    nothing_applied(&world, &["fetched"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2021_23135_credentials_in_a_url_reach_no_status_or_event() {
    let world = start().await;
    let secret = "s3cret-in-the-url";
    let mut leaky = driftless_api::GitRepository::test("leaky")
        .in_namespace(NS)
        .url(&format!("http://bot:{secret}@127.0.0.1:1/app.git"))
        .branch("main");
    leaky.spec.interval = "1h".into();
    world
        .sources()
        .create(&Default::default(), &leaky)
        .await
        .expect("created");
    let message = common::message_when(&world.sources(), "leaky", "Ready", "False").await;
    assert!(message.contains("bot:***@127.0.0.1"), "{message}");
    let repo = world.sources().get("leaky").await.expect("source");
    let status = serde_json::to_string(&repo.status).expect("json");
    assert!(!status.contains(secret), "the status leaks: {status}");
    let events = common::event_messages(&world.env.client, NS, "leaky").await;
    assert!(!events.is_empty(), "a Warning event was recorded");
    assert!(events.iter().all(|e| !e.contains(secret)), "{events:?}");
}

/// A "billion laughs" ConfigMap: nine levels of nine aliases each.
fn alias_bomb(name: &str) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
    );
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "  a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
        ));
    }
    text
}

/// The Ready status and last attempted revision of every Kustomization.
async fn readiness(world: &World) -> Vec<(String, String, String, String)> {
    let list = world
        .kustomizations()
        .list(&Default::default())
        .await
        .expect("list");
    list.items
        .into_iter()
        .map(|ks| {
            let name = ks.metadata.name.clone().unwrap_or_default();
            let status = ks.status.unwrap_or_default();
            let conditions = status.conditions.unwrap_or_default();
            let (ready, message) = driftless_api::conditions::find(&conditions, "Ready")
                .map(|c| (c.status.clone(), c.message.clone()))
                .unwrap_or_default();
            let attempted = status.last_attempted_revision.unwrap_or_default();
            (name, ready, attempted, message)
        })
        .collect()
}

/// A git server that accepts connections and never answers.
async fn hanging_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// Issue 17, item 2: one tenant's hostile commit (an alias bomb that once
/// took 7.5 GB) fails that tenant only, and a source that hangs is stopped
/// at the reconcile budget; fifty others converge on their new commit
/// meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hostile_tenant_among_fifty_stops_no_one() {
    const TENANTS: usize = 50;
    let world = start_with(|options| options.reconcile_timeout = Duration::from_secs(10)).await;
    let hang = hanging_server().await;
    let mut hanging = driftless_api::GitRepository::test("hanging")
        .in_namespace(NS)
        .url(&format!("http://{hang}/tenant.git"))
        .branch("main");
    hanging.spec.interval = "1h".into();
    world
        .sources()
        .create(&PostParams::default(), &hanging)
        .await
        .expect("created");
    for i in 0..TENANTS {
        world.fixture.write(
            &format!("tenant-{i}/cm.yaml"),
            &configmap(&format!("tenant-{i}"), "one"),
        );
    }
    world
        .fixture
        .write("hostile/cm.yaml", &configmap("hostile", "one"));
    world
        .fixture
        .write("hostile/bomb.yaml", &alias_bomb("bomb"));
    let first = world.fixture.commit("fifty tenants and a bomb");
    for i in 0..TENANTS {
        world
            .create(World::kustomization(
                &format!("tenant-{i}"),
                &format!("./tenant-{i}"),
            ))
            .await;
    }
    world
        .create(World::kustomization("hostile", "./hostile"))
        .await;
    let converged = |commit: String| {
        let world = &world;
        async move {
            eventually(&format!("every tenant Ready at {commit}"), || async {
                let states = readiness(world).await;
                let waiting: Vec<_> = states
                    .iter()
                    .filter(|(name, ready, attempted, _)| {
                        name.starts_with("tenant-")
                            && !(ready == "True" && attempted.ends_with(&commit))
                    })
                    .map(|(name, ..)| name.clone())
                    .collect();
                let tenants = states.iter().filter(|s| s.0.starts_with("tenant-")).count();
                (tenants == TENANTS && waiting.is_empty())
                    .then_some(())
                    .ok_or(format!("{tenants} tenants, waiting: {waiting:?}"))
            })
            .await;
        }
    };
    converged(first.clone()).await;

    for i in 0..TENANTS {
        world.fixture.write(
            &format!("tenant-{i}/cm.yaml"),
            &configmap(&format!("tenant-{i}"), "two"),
        );
    }
    world
        .fixture
        .write("hostile/cm.yaml", &configmap("hostile", "two"));
    let second = world.fixture.commit("every tenant moves on");
    converged(second.clone()).await;
    for i in 0..TENANTS {
        assert_eq!(
            world.color(&format!("tenant-{i}")).await.as_deref(),
            Some("two")
        );
    }
    let (reason, message) = refused(&world, "hostile", &second).await;
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(message.contains("bomb.yaml"), "names the file: {message}");
    assert!(
        message.contains("--yaml-max-alias-nodes"),
        "names the flag: {message}"
    );
    nothing_applied(&world, &["hostile", "bomb"]).await;
    let message = common::message_when(&world.sources(), "hanging", "Ready", "False").await;
    assert!(
        message.contains("did not finish within 10s") && message.contains("--reconcile-timeout"),
        "{message}"
    );
}

/// An OCIRepository whose layer holds `files` (name, contents) plus a
/// `bomb.yaml` of `bomb_bytes` zeros, packed by `tar | gzip`.
fn tarball_with_bomb(files: &[(&str, &str)], bomb_bytes: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    std::fs::File::create(dir.path().join("bomb.yaml"))
        .and_then(|f| f.set_len(bomb_bytes))
        .expect("a sparse file");
    let out = std::process::Command::new("sh")
        .args(["-c", "tar -cf - * | gzip -1"])
        .current_dir(dir.path())
        .output()
        .expect("tar and gzip run");
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2023_40584_an_archive_bomb_is_refused_before_it_expands() {
    use driftless_source::oci::{OciTarget, push_flux_artifact};
    use driftless_testkit::registry::{Registry, RegistryOptions};
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "archive bomb")
    else {
        return;
    };
    // 64 MiB of zeros gzip to a few hundred KB; the controller allows 8 MiB
    // per file, 32 MiB in all.
    let layer = tarball_with_bomb(&[("cm.yaml", &configmap("bombed", "x"))], 64 << 20);
    assert!(layer.len() < 1 << 20, "the layer is {} bytes", layer.len());
    let mut target = OciTarget::new(registry.url("flux/bomb"), "latest");
    target.insecure = true;
    push_flux_artifact(
        &target,
        layer,
        "https://example.com/fleet",
        "main@sha1:4444444444444444444444444444444444444444",
    )
    .await
    .expect("pushed");
    let world = start_with(|options| {
        options.artifact_limits = driftless_controller::UnpackLimits {
            max_bytes: 32 << 20,
            max_entries: 1_000,
            max_file_bytes: 8 << 20,
        };
    })
    .await;
    let repo: driftless_api::OCIRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": "bomb", "namespace": NS},
        "spec": {"interval": "1h", "url": registry.url("flux/bomb"), "insecure": true,
                 "ref": {"tag": "latest"}},
    }))
    .expect("an OCIRepository");
    let repos: Api<driftless_api::OCIRepository> = Api::namespaced(world.env.client.clone(), NS);
    repos
        .create(&PostParams::default(), &repo)
        .await
        .expect("created");
    let mut ks = World::kustomization("bombed", "./");
    ks.spec.source_ref.kind = driftless_api::SourceKind::OCIRepository;
    ks.spec.source_ref.name = "bomb".into();
    world.create(ks).await;
    let message = common::message_when(&repos, "bomb", "Ready", "False").await;
    assert!(
        message.contains("exceeds the limit of 8388608 bytes in one file"),
        "{message}"
    );
    assert!(
        message.contains("--artifact-max"),
        "names the flags: {message}"
    );
    nothing_applied(&world, &["bombed"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2022_31016_a_huge_manifest_fails_before_it_is_read() {
    let world = start().await;
    let limit = driftless_limits::Limits::DEFAULT.manifest_file_bytes;
    let size = usize::try_from(limit).expect("fits") + (1 << 20);
    let mut huge = configmap("huge", "x");
    huge.push_str("  blob: ");
    huge.push_str(&"a".repeat(size));
    huge.push('\n');
    world.fixture.write("huge/huge.yaml", &huge);
    drop(huge);
    world
        .fixture
        .write("huge/cm.yaml", &configmap("beside-huge", "x"));
    let commit = world.fixture.commit("a manifest over the bound");
    world.create(World::kustomization("huge", "./huge")).await;
    let (reason, message) = refused(&world, "huge", &commit).await;
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(message.contains("huge.yaml"), "names the file: {message}");
    assert!(
        message.contains("--manifest-max-file-size"),
        "names the flag: {message}"
    );
    nothing_applied(&world, &["huge", "beside-huge"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2022_31036_a_relative_link_climbing_out_never_reaches_a_build() {
    let world = start().await;
    world.fixture.write(
        "values/kustomization.yaml",
        "configMapGenerator:\n- name: stolen\n  files:\n  - values.yaml\n",
    );
    // Unlike -24904's absolute link: relative, and read as a generator's file.
    world
        .fixture
        .symlink("values/values.yaml", "../../../../../../../etc/hostname");
    world.fixture.commit("a relative link out of the tree");
    world
        .create(World::kustomization("values", "./values"))
        .await;
    let sources = world.sources();
    let message = common::message_when(&sources, "fleet", "Ready", "False").await;
    assert!(message.contains("values.yaml"), "{message}");
    let stolen: Vec<_> = world
        .configmaps()
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|cm| cm.metadata.name)
        .filter(|name| name.starts_with("stolen"))
        .collect();
    assert!(stolen.is_empty(), "applied: {stolen:?}");
}

/// Everything a user or another tenant can read about `name`: its status,
/// its events, and the controller's logs.
async fn visible_text(world: &World, name: &str) -> Vec<(&'static str, String)> {
    let ks = world.kustomizations().get(name).await.expect("ks");
    let logs = logs();
    assert!(
        logs.contains(&format!("{NS}/{name}")) || logs.contains(&format!("name={name}")),
        "the capture sees the controller's log lines about {name}"
    );
    vec![
        ("status", serde_json::to_string(&ks.status).expect("json")),
        (
            "events",
            common::event_messages(&world.env.client, NS, name)
                .await
                .join("\n"),
        ),
        ("logs", logs),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2025_23216_an_invalid_secret_leaks_no_value_when_its_apply_fails() {
    const CANARY: &str = "hunter2-leak-canary";
    let world = start().await;
    let vars: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "vars", "namespace": NS},
        "stringData": {"PASSWORD": CANARY},
    }))
    .expect("a Secret");
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(world.env.client.clone(), NS)
        .create(&PostParams::default(), &vars)
        .await
        .expect("created");
    world.fixture.write(
        "leak/secret.yaml",
        // An object where a string belongs: the API server refuses the
        // Secret, and nothing of its data may travel with the refusal.
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-creds\n  namespace: default\ntype: Opaque\ndata:\n  password:\n    value: ${PASSWORD}\n",
    );
    world
        .fixture
        .write("leak/cm.yaml", &configmap("beside-secret", "x"));
    let commit = world.fixture.commit("an invalid Secret");
    let mut ks = World::kustomization("leak", "./leak");
    ks.spec.post_build = Some(
        serde_json::from_value(json!({"substituteFrom": [{"kind": "Secret", "name": "vars"}]}))
            .expect("postBuild"),
    );
    world.create(ks).await;
    let (reason, message) = refused(&world, "leak", &commit).await;
    assert_ne!(reason, "ReconciliationSucceeded", "{message}");
    assert!(message.contains("app-creds"), "names the object: {message}");
    // The failure has had time to reach the events and the log.
    eventually("a Warning event", || async {
        let events = common::event_messages(&world.env.client, NS, "leak").await;
        events
            .iter()
            .any(|e| e.starts_with("Warning"))
            .then_some(())
            .ok_or(format!("{events:?}"))
    })
    .await;
    for (what, text) in visible_text(&world, "leak").await {
        assert!(!text.contains(CANARY), "the {what} leak the secret value");
        assert!(
            !text.contains("hunter2"),
            "the {what} leak part of the secret value"
        );
    }
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(world.env.client.clone(), NS);
    assert!(
        secrets.get_opt("app-creds").await.expect("get").is_none(),
        "the invalid Secret was applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cve_2024_40634_oversized_or_unauthenticated_webhooks_reconcile_nothing() {
    use hmac::{KeyInit as _, Mac as _};
    const TOKEN: &str = "receiver-token-never-echoed";
    let receiver_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let world = start_with(|options| options.receiver_listen = Some(receiver_addr)).await;
    let token: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "webhook-token", "namespace": NS},
        "stringData": {"token": TOKEN},
    }))
    .expect("a Secret");
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(world.env.client.clone(), NS)
        .create(&PostParams::default(), &token)
        .await
        .expect("created");
    let receiver: driftless_api::Receiver = serde_json::from_value(json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": "github", "namespace": NS},
        "spec": {"type": "github", "events": ["push"], "secretRef": {"name": "webhook-token"},
                 "resources": [{"kind": "GitRepository", "name": "fleet"}]}
    }))
    .expect("a Receiver");
    let receivers: Api<driftless_api::Receiver> = Api::namespaced(world.env.client.clone(), NS);
    receivers
        .create(&PostParams::default(), &receiver)
        .await
        .expect("created");
    let path = eventually("the webhook path", || async {
        let r = receivers.get("github").await.map_err(|e| e.to_string())?;
        r.status
            .and_then(|s| s.webhook_path)
            .ok_or("no path yet".to_owned())
    })
    .await;
    let url = format!("http://{receiver_addr}{path}");
    let post = |url: String, headers: Vec<(&'static str, String)>, body: Vec<u8>| async move {
        let mut request = reqwest::Client::new().post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request = request.header("Content-Type", "application/json");
        request.send().await.expect("an answer").status().as_u16()
    };
    let sign = |body: &[u8]| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(TOKEN.as_bytes()).expect("key");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    let push = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "after": "0000000000000000000000000000000000000000",
        "repository": {"full_name": "org/fleet"},
        "commits": []
    }))
    .expect("json");
    // A body over the bound, even correctly signed: refused unread.
    let mut huge = push.clone();
    huge.resize(driftless_notify::max_body_bytes() + (1 << 10), b' ');
    let signed_huge = sign(&huge);
    assert_eq!(
        post(
            url.clone(),
            vec![
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", signed_huge)
            ],
            huge
        )
        .await,
        413
    );
    // No signature, a wrong one, a wrong path (the path is derived from the token).
    assert_eq!(
        post(
            url.clone(),
            vec![("X-GitHub-Event", "push".into())],
            push.clone()
        )
        .await,
        400
    );
    let forged = {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"guess").expect("key");
        mac.update(&push);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };
    assert_eq!(
        post(
            url.clone(),
            vec![
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", forged)
            ],
            push.clone()
        )
        .await,
        400
    );
    assert_eq!(
        post(
            format!("http://{receiver_addr}/hook/0000"),
            vec![
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", sign(&push))
            ],
            push.clone()
        )
        .await,
        404
    );
    let repo = world.sources().get("fleet").await.expect("source");
    let annotations = repo.metadata.annotations.unwrap_or_default();
    assert!(
        !annotations.contains_key("reconcile.fluxcd.io/requestedAt"),
        "a refused call requested a reconcile: {annotations:?}"
    );
    // The signed, bounded call is the control: it does request one.
    assert_eq!(
        post(
            url,
            vec![
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", sign(&push))
            ],
            push
        )
        .await,
        200
    );
    eventually("the honest call requests a reconcile", || async {
        let repo = world
            .sources()
            .get("fleet")
            .await
            .map_err(|e| e.to_string())?;
        repo.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("reconcile.fluxcd.io/requestedAt")
            .then_some(())
            .ok_or("not requested".to_owned())
    })
    .await;
    assert!(!logs().contains(TOKEN), "the logs leak the token");
}
