//! The known GitOps vulnerability classes, one named test each: every
//! attack fails visibly and applies nothing. (Archive bombs are refused
//! where artifacts are unpacked: `driftless-source`'s `consume` tests.)

mod common;

use common::world::{NS, World, configmap};
use driftless_testkit::cluster::eventually;
use kube::api::Api;

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
    let world = World::start().await;
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
    let world = World::start().await;
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
    let world = World::start().await;
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
    let message = eventually("the source refuses the link", || async {
        let repo = sources.get("fleet").await.map_err(|e| e.to_string())?;
        let conditions = repo.status.and_then(|s| s.conditions).unwrap_or_default();
        match driftless_api::conditions::find(&conditions, "Ready") {
            Some(ready) if ready.status == "False" => Ok(ready.message.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(message.contains("host.yaml"), "{message}");
    nothing_applied(&world, &["linked"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_cve_2022_24817_a_referenced_kubeconfig_is_refused_not_executed() {
    let world = World::start().await;
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
    let world = World::start_with(|options| options.no_cross_namespace_refs = true).await;
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
    let message = eventually("the reference is blocked", || async {
        let ks = tenant.get("borrowed").await.map_err(|e| e.to_string())?;
        let conditions = ks.status.and_then(|s| s.conditions).unwrap_or_default();
        match driftless_api::conditions::find(&conditions, "Stalled") {
            Some(stalled) if stalled.status == "True" => Ok(stalled.message.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(
        message.contains("cross-namespace references have been blocked"),
        "{message}"
    );
    nothing_applied(&world, &["red", "blue"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_bases_and_network_access_during_a_build_are_refused() {
    let world = World::start().await;
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
    let world = World::start().await;
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
    let message = eventually("the fetch fails", || async {
        let repo = world
            .sources()
            .get("leaky")
            .await
            .map_err(|e| e.to_string())?;
        let conditions = repo.status.and_then(|s| s.conditions).unwrap_or_default();
        match driftless_api::conditions::find(&conditions, "Ready") {
            Some(ready) if ready.status == "False" => Ok(ready.message.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(message.contains("bot:***@127.0.0.1"), "{message}");
    let repo = world.sources().get("leaky").await.expect("source");
    let status = serde_json::to_string(&repo.status).expect("json");
    assert!(!status.contains(secret), "the status leaks: {status}");
    let events = common::event_messages(&world.env.client, NS, "leaky").await;
    assert!(!events.is_empty(), "a Warning event was recorded");
    assert!(events.iter().all(|e| !e.contains(secret)), "{events:?}");
}
