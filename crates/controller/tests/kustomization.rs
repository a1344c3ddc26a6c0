//! Kustomization end to end: a real git server, the sandbox and the
//! controller in-process. Commits are applied, changes updated, removals
//! pruned, manual edits and deletes reverted; broken commits fail visibly
//! and prune nothing; dependencies, suspend, health, deletion policies and
//! leader election behave as Flux's do.

use std::time::Duration;

use crate::common::world::{NS, World, condition_of, configmap, deployment};
use crate::common::{Env, event_messages, ready_of};
use driftless_api::DeletionPolicy;
use driftless_testkit::cluster::{Fault, FaultRule, eventually};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{Api, Patch, PatchParams, PostParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_applied_updated_and_pruned() {
    let world = World::start().await;
    let head = world.fixture.commit("nothing new");
    world.create(World::kustomization("apps", "./deploy")).await;
    let ks = world.wait_for("apps", "True", &head).await;
    let status = ks.status.clone().expect("status");
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(format!("main@sha1:{head}").as_str())
    );
    let (_, reason, message) =
        ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
    assert_eq!(reason, "ReconciliationSucceeded");
    assert_eq!(message, format!("Applied revision: main@sha1:{head}"));
    let ids: Vec<String> = status
        .inventory
        .expect("inventory")
        .entries
        .into_iter()
        .map(|e| format!("{} {}", e.id, e.version))
        .collect();
    assert_eq!(
        ids,
        ["default_blue__ConfigMap v1", "default_red__ConfigMap v1"]
    );
    let red = world.configmaps().get("red").await.expect("red applied");
    let labels = red.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("apps")
    );
    assert_eq!(
        labels
            .get("kustomize.toolkit.fluxcd.io/namespace")
            .map(String::as_str),
        Some("default")
    );
    let managers: Vec<_> = red
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["kustomize-controller"]);

    world
        .fixture
        .write("deploy/red.yaml", &configmap("red", "crimson"));
    world.fixture.commit("crimson");
    world.wait_color("red", Some("crimson")).await;

    world.fixture.git(&["rm", "-q", "deploy/blue.yaml"]);
    let removed = world.fixture.commit("remove blue");
    world.wait_for("apps", "True", &removed).await;
    world.wait_color("blue", None).await;
    let events = event_messages(&world.env.client, NS, "apps").await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("ConfigMap/default/blue deleted")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.contains("ConfigMap/default/red configured")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_edits_and_deletes_are_reverted_within_seconds() {
    let world = World::start().await;
    let head = world.fixture.commit("x");
    world.create(World::kustomization("apps", "./deploy")).await;
    world.wait_for("apps", "True", &head).await;

    let (code, _, stderr) = world
        .env
        .cluster
        .kubectl(
            &[
                "patch",
                "configmap",
                "red",
                "-n",
                NS,
                "--type=merge",
                "-p",
                r#"{"data":{"color":"hacked"}}"#,
            ],
            None,
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    world.wait_color("red", Some("red")).await;

    let (code, _, stderr) = world
        .env
        .cluster
        .kubectl(&["delete", "configmap", "blue", "-n", NS], None)
        .await;
    assert_eq!(code, 0, "{stderr}");
    world.wait_color("blue", Some("blue")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_commit_fails_visibly_and_prunes_nothing() {
    let world = World::start().await;
    let good = world.fixture.commit("good");
    world.create(World::kustomization("apps", "./deploy")).await;
    world.wait_for("apps", "True", &good).await;

    // Malformed YAML, and a file removed in the same commit: the removal must not be pruned.
    world.fixture.write(
        "deploy/red.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n",
    );
    world.fixture.git(&["rm", "-q", "deploy/blue.yaml"]);
    let bad = world.fixture.commit("broken yaml");
    let ks = world.wait_for("apps", "False", &bad).await;
    let status = ks.status.expect("status");
    let (_, reason, message) =
        ready_of(status.conditions.as_deref().unwrap_or_default()).expect("Ready");
    assert_eq!(reason, "BuildFailed");
    assert!(
        message.contains("red.yaml"),
        "the message names the file: {message}"
    );
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(format!("main@sha1:{good}").as_str())
    );
    assert_eq!(
        status.inventory.expect("inventory").entries.len(),
        2,
        "the inventory keeps the last good set"
    );
    assert_eq!(
        world.color("blue").await.as_deref(),
        Some("blue"),
        "nothing was pruned"
    );
    let events = event_messages(&world.env.client, NS, "apps").await;
    assert!(
        events.iter().any(|e| e.starts_with("Warning BuildFailed")),
        "{events:?}"
    );

    // An unknown kind fails the apply the same way.
    world.fixture.write(
        "deploy/red.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n",
    );
    let unknown = world.fixture.commit("unknown kind");
    let ks = world.wait_for("apps", "False", &unknown).await;
    let (_, reason, message) = ready_of(
        ks.status
            .clone()
            .expect("status")
            .conditions
            .as_deref()
            .unwrap_or_default(),
    )
    .expect("Ready");
    assert_eq!(reason, "ReconciliationFailed");
    assert!(message.contains("Widget"), "{message}");
    assert_eq!(
        world.color("blue").await.as_deref(),
        Some("blue"),
        "still nothing pruned"
    );

    // A failing patch in the spec: BuildFailed, still nothing pruned.
    world
        .fixture
        .write("deploy/red.yaml", &configmap("red", "red"));
    let fixed = world.fixture.commit("fixed");
    world.wait_for("apps", "True", &fixed).await;
    world.wait_color("blue", None).await;
}

/// An apply refused halfway has already created the objects of its first
/// stage: they go into the inventory before the apply starts, so once git
/// drops them they are pruned like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_created_by_an_apply_refused_halfway_are_pruned_later() {
    let world = World::start().await;
    let good = world.fixture.commit("good");
    world.create(World::kustomization("apps", "./deploy")).await;
    world.wait_for("apps", "True", &good).await;

    // The ClusterRole is applied in the first stage; the unknown kind then
    // fails the apply before the status could list what it created.
    world.fixture.write(
        "deploy/role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cut-short\nrules: []\n",
    );
    world.fixture.write(
        "deploy/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n",
    );
    let refused = world.fixture.commit("a cluster role and an unknown kind");
    let ks = world.wait_for("apps", "False", &refused).await;
    let roles: Api<ClusterRole> = Api::all(world.env.client.clone());
    assert!(
        roles.get_opt("cut-short").await.expect("get").is_some(),
        "the first stage was applied"
    );
    let status = ks.status.expect("status");
    let listed: Vec<String> = status
        .inventory
        .expect("inventory")
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(
        listed.contains(&"_cut-short_rbac.authorization.k8s.io_ClusterRole".to_string()),
        "the inventory lists what the apply was about to create: {listed:?}"
    );
    assert_eq!(
        status.last_applied_revision.as_deref(),
        Some(format!("main@sha1:{good}").as_str())
    );

    world
        .fixture
        .git(&["rm", "-q", "deploy/role.yaml", "deploy/widget.yaml"]);
    let dropped = world.fixture.commit("both dropped");
    let ks = world.wait_for("apps", "True", &dropped).await;
    eventually("the cluster role is pruned", || async {
        match roles.get_opt("cut-short").await {
            Ok(None) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let listed = ks.status.and_then(|s| s.inventory).expect("inventory");
    assert_eq!(listed.entries.len(), 2, "{listed:?}");
}

/// The objects an apply is about to create go on record first; while the
/// status cannot be written, none is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_new_is_applied_while_the_inventory_cannot_be_recorded() {
    let world = World::start().await;
    let good = world.fixture.commit("good");
    world.create(World::kustomization("apps", "./deploy")).await;
    world.wait_for("apps", "True", &good).await;

    let faults = world.env.cluster.sandbox.faults();
    faults.set(
        FaultRule::new(Fault::InternalError)
            .writes_only()
            .on_path("/kustomizations/apps/status"),
    );
    world
        .fixture
        .write("deploy/green.yaml", &configmap("green", "green"));
    let head = world.fixture.commit("a new object");
    eventually("the controller says it cannot record", || async {
        let events = event_messages(&world.env.client, NS, "apps").await;
        events
            .iter()
            .any(|e| e.contains("cannot record the status before acting on it"))
            .then_some(())
            .ok_or(format!("{events:?}"))
    })
    .await;
    assert_eq!(world.color("green").await, None, "nothing new was applied");
    assert_eq!(world.color("blue").await.as_deref(), Some("blue"));

    faults.clear();
    world.wait_for("apps", "True", &head).await;
    world.wait_color("green", Some("green")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_patch_reports_build_failed() {
    let world = World::start().await;
    let head = world.fixture.commit("x");
    let mut ks = World::kustomization("apps", "./deploy");
    ks.spec.patches = Some(vec![driftless_api::kustomize::Patch {
        patch: "- op: replace\n  path: /data/missing/deeper\n  value: x\n".into(),
        target: Some(driftless_api::kustomize::Selector {
            kind: Some("ConfigMap".into()),
            name: Some("red".into()),
            ..Default::default()
        }),
    }]);
    world.create(ks).await;
    let ks = world.wait_for("apps", "False", &head).await;
    let (_, reason, _) = ready_of(
        ks.status
            .expect("status")
            .conditions
            .as_deref()
            .unwrap_or_default(),
    )
    .expect("Ready");
    assert_eq!(reason, "BuildFailed");
    assert_eq!(world.color("red").await, None, "nothing applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_overrides_and_substitution_are_applied() {
    let world = World::start().await;
    world.fixture.write("deploy/red.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: red\ndata:\n  color: ${color}\n  size: ${size:=large}\n");
    let head = world.fixture.commit("vars");
    let (code, _, stderr) = world
        .env
        .cluster
        .kubectl(&["create", "namespace", "staging"], None)
        .await;
    assert_eq!(code, 0, "{stderr}");
    let mut ks = World::kustomization("apps", "./deploy");
    ks.spec.target_namespace = Some("staging".into());
    ks.spec.name_prefix = Some("pre-".into());
    ks.spec.post_build = Some(driftless_api::PostBuild {
        substitute: Some([("color".to_owned(), "teal".to_owned())].into()),
        substitute_from: None,
    });
    ks.spec.common_metadata = Some(driftless_api::CommonMetadata {
        labels: Some([("team".to_owned(), "web".to_owned())].into()),
        annotations: None,
    });
    world.create(ks).await;
    world.wait_for("apps", "True", &head).await;
    let staged: Api<ConfigMap> = Api::namespaced(world.env.client.clone(), "staging");
    let red = staged
        .get("pre-red")
        .await
        .expect("prefixed, in the target namespace");
    let data = red.data.unwrap_or_default();
    assert_eq!(data.get("color").map(String::as_str), Some("teal"));
    assert_eq!(data.get("size").map(String::as_str), Some("large"));
    assert_eq!(
        red.metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("web")
    );

    // An undefined variable without a default fails the build, as in current Flux.
    world.fixture.write("deploy/red.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: red\ndata:\n  color: ${undefined_var}\n");
    let bad = world.fixture.commit("undefined var");
    let ks = world.wait_for("apps", "False", &bad).await;
    let (_, reason, message) = ready_of(
        ks.status
            .expect("status")
            .conditions
            .as_deref()
            .unwrap_or_default(),
    )
    .expect("Ready");
    assert_eq!(reason, "BuildFailed");
    assert!(message.contains("undefined_var"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_waits_and_suspend_holds_changes() {
    let world = World::start().await;
    world
        .fixture
        .write("later/green.yaml", &configmap("green", "green"));
    let head = world.fixture.commit("two paths");
    world
        .create(World::kustomization("base", "./deploy").suspended())
        .await;
    world
        .create(World::kustomization("later", "./later").depends_on("base"))
        .await;

    let later = eventually("later waits for base", || async {
        let ks = world
            .kustomizations()
            .get("later")
            .await
            .map_err(|e| e.to_string())?;
        let ready = ready_of(
            ks.status
                .and_then(|s| s.conditions)
                .as_deref()
                .unwrap_or_default(),
        );
        match ready {
            Some((s, reason, message)) if s == "False" && reason == "DependencyNotReady" => {
                Ok(message)
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(
        later.contains("dependency 'default/base' is not ready"),
        "{later}"
    );
    assert_eq!(
        world.color("green").await,
        None,
        "nothing applied before the dependency is ready"
    );
    assert_eq!(world.color("red").await, None, "suspended: nothing applied");

    world
        .kustomizations()
        .patch(
            "base",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"suspend": false}})),
        )
        .await
        .expect("resumed");
    world.wait_for("base", "True", &head).await;
    world.wait_for("later", "True", &head).await;
    assert_eq!(world.color("green").await.as_deref(), Some("green"));

    // Suspended again: a new commit is not applied until resumed.
    world
        .kustomizations()
        .patch(
            "base",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"suspend": true}})),
        )
        .await
        .expect("suspended");
    world
        .fixture
        .write("deploy/red.yaml", &configmap("red", "maroon"));
    let held = world.fixture.commit("held");
    eventually("the source at the held commit", || async {
        let source = world
            .sources()
            .get("fleet")
            .await
            .map_err(|e| e.to_string())?;
        let revision = source
            .status
            .and_then(|s| s.artifact)
            .map(|a| a.revision)
            .unwrap_or_default();
        revision.ends_with(&held).then_some(()).ok_or(revision)
    })
    .await;
    // A negative: give the controller time to (wrongly) apply, then check.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        world.color("red").await.as_deref(),
        Some("red"),
        "the suspended Kustomization did not apply"
    );
    world
        .kustomizations()
        .patch(
            "base",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"suspend": false}})),
        )
        .await
        .expect("resumed");
    world.wait_color("red", Some("maroon")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollout_is_unhealthy_and_named() {
    let world = World::start().await;
    world.fixture.write("apps/web.yaml", &deployment("web", ""));
    world.fixture.write(
        "apps/broken.yaml",
        &deployment(
            "broken",
            "  annotations:\n    sandbox.driftless.dev/rollout: fail\n",
        ),
    );
    let head = world.fixture.commit("workloads");
    let mut ks = World::kustomization("apps", "./apps").waiting();
    ks.spec.timeout = Some("5s".into());
    world.create(ks).await;
    let ks = world.wait_for("apps", "False", &head).await;
    let conditions = ks.status.expect("status").conditions.unwrap_or_default();
    let healthy =
        driftless_api::conditions::find(&conditions, "Healthy").expect("Healthy condition");
    assert_eq!(
        (healthy.status.as_str(), healthy.reason.as_str()),
        ("False", "HealthCheckFailed")
    );
    assert!(
        healthy.message.contains("Deployment/default/broken"),
        "{}",
        healthy.message
    );
    assert!(
        !healthy.message.contains("Deployment/default/web"),
        "web is healthy: {}",
        healthy.message
    );
    let deployments: Api<Deployment> = Api::namespaced(world.env.client.clone(), NS);
    assert!(
        deployments.get_opt("web").await.expect("get").is_some(),
        "applied even though unhealthy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policies_delete_or_orphan() {
    let world = World::start().await;
    world
        .fixture
        .write("orphans/keep.yaml", &configmap("keep", "keep"));
    let head = world.fixture.commit("two sets");
    world
        .create(World::kustomization("deleting", "./deploy"))
        .await;
    let mut orphaning = World::kustomization("orphaning", "./orphans");
    orphaning.spec.deletion_policy = Some(DeletionPolicy::Orphan);
    world.create(orphaning).await;
    world.wait_for("deleting", "True", &head).await;
    world.wait_for("orphaning", "True", &head).await;

    world
        .kustomizations()
        .delete("deleting", &Default::default())
        .await
        .expect("deleted");
    world
        .kustomizations()
        .delete("orphaning", &Default::default())
        .await
        .expect("deleted");
    world.wait_color("red", None).await;
    world.wait_color("blue", None).await;
    eventually("both Kustomizations gone", || async {
        let left = world
            .kustomizations()
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?
            .items
            .len();
        (left == 0).then_some(()).ok_or(format!("{left} left"))
    })
    .await;
    assert_eq!(
        world.color("keep").await.as_deref(),
        Some("keep"),
        "orphaned objects stay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_applies() {
    let env = Env::without_controller().await;
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "driftless-system");
    let (code, _, stderr) = env
        .cluster
        .kubectl(&["create", "namespace", "driftless-system"], None)
        .await;
    assert_eq!(code, 0, "{stderr}");
    let held = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "driftless-controller", "namespace": "driftless-system"},
        "spec": {"holderIdentity": "other-replica", "leaseDurationSeconds": 3600,
                 "renewTime": k8s_openapi::jiff::Timestamp::now().to_string()}
    });
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(held).expect("lease"),
        )
        .await
        .expect("lease created");
    let mut env = env;
    env.start_controller(|options| {
        options.leader_election_namespace = Some("driftless-system".into());
        options.identity = "replica-b".into();
    })
    .await;
    let world = World::around(env).await;
    let head = world.fixture.commit("x");
    world.create(World::kustomization("apps", "./deploy")).await;

    // Give a non-leader every chance to misbehave, then check it did not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        world.color("red").await,
        None,
        "a replica that is not the leader applied"
    );
    let source = world.sources().get("fleet").await.expect("get");
    assert!(
        source.status.and_then(|s| s.artifact).is_none(),
        "nor fetched"
    );

    // The other replica goes away (its Lease is released): this one takes over.
    leases
        .patch(
            "driftless-controller",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"holderIdentity": null, "leaseDurationSeconds": 1}}),
            ),
        )
        .await
        .expect("released");
    world.wait_for("apps", "True", &head).await;
    let lease = leases.get("driftless-controller").await.expect("lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("replica-b")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_is_impersonated_and_unsupported_fields_are_refused() {
    let world = World::start().await;
    let head = world.fixture.commit("x");
    let mut ks = World::kustomization("as-deployer", "./deploy");
    ks.spec.service_account_name = Some("deployer".into());
    world.create(ks).await;
    // The sandbox enforces RBAC: the account may do nothing yet, and the
    // refusal names it (as the controller itself, the admin, it would apply).
    let refused = world.wait_for("as-deployer", "False", &head).await;
    let conditions = refused
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    let message = driftless_api::conditions::find(&conditions, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains(r#"User "system:serviceaccount:default:deployer" cannot"#),
        "{message}"
    );
    assert_eq!(world.color("red").await, None);
    let binding = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer\n  namespace: {NS}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: edit\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: {NS}\n"
    );
    let (code, _, stderr) = world
        .env
        .cluster
        .kubectl(&["apply", "-f", "-"], Some(&binding))
        .await;
    assert_eq!(code, 0, "{stderr}");
    world
        .kustomizations()
        .patch(
            "as-deployer",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "bound"}}})),
        )
        .await
        .expect("reconcile requested");
    world.wait_for("as-deployer", "True", &head).await;
    assert_eq!(world.color("red").await.as_deref(), Some("red"));

    let mut ks = World::kustomization("remote", "./deploy");
    ks.spec.kube_config = Some(Default::default());
    world.create(ks).await;
    let refused = world.stalled_message("remote").await;
    assert!(
        refused.contains("spec.kubeConfig is not supported"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_are_served() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let world = World::start_with(|options| options.metrics_listen = Some(addr)).await;
    let head = world.fixture.commit("x");
    world.create(World::kustomization("apps", "./deploy")).await;
    world.wait_for("apps", "True", &head).await;
    let get = |path: &str| driftless_testkit::cluster::http_get(&format!("http://{addr}{path}"));
    assert_eq!(get("/healthz").expect("healthz").0, 200);
    assert_eq!(get("/readyz").expect("readyz").0, 200);
    let metrics = eventually("metrics for the Kustomization", || async {
        let (code, body) = get("/metrics")?;
        let text = String::from_utf8_lossy(&body).into_owned();
        (code == 200 && text.contains(r#"gotk_reconcile_condition{kind="Kustomization",name="apps",namespace="default",type="Ready",status="True"} 1"#))
            .then_some(text.clone())
            .ok_or(text)
    })
    .await;
    assert!(metrics.contains(r#"gotk_reconcile_duration_seconds_count{kind="Kustomization",name="apps",namespace="default"}"#), "{metrics}");
    assert!(
        metrics.contains(r#"driftless_applied_objects_total{action="created"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"kind="GitRepository",name="fleet""#),
        "{metrics}"
    );
    // The API load is counted: the status writes of this very reconcile.
    assert!(
        metrics.contains(r#"rest_client_requests_total{verb="patch",resource="kustomizations/status",code="200"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_ignore_rules_leave_fields_alone_and_correct_the_rest() {
    let world = World::start().await;
    world.fixture.write("apps/web.yaml", &deployment("web", ""));
    let head = world.fixture.commit("web");
    let mut ks = World::kustomization("apps", "./apps");
    ks.spec.drift_ignore_rules = Some(vec![driftless_api::DriftIgnoreRule {
        paths: vec!["/spec/replicas".into()],
        target: Some(driftless_api::kustomize::Selector {
            kind: Some("Deployment".into()),
            ..Default::default()
        }),
    }]);
    world.create(ks).await;
    world.wait_for("apps", "True", &head).await;
    let deployments: Api<Deployment> = Api::namespaced(world.env.client.clone(), NS);

    // An autoscaler (here kubectl scale) owns replicas; someone also edits the image.
    let cluster = &world.env.cluster;
    let (code, _, stderr) = cluster
        .kubectl(
            &["scale", "deployment", "web", "-n", NS, "--replicas=5"],
            None,
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = cluster
        .kubectl(
            &[
                "set",
                "image",
                "deployment/web",
                "-n",
                NS,
                "app=nginx:hacked",
            ],
            None,
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    let image_of = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|p| p.containers[0].image.clone().unwrap_or_default())
    };
    eventually("the image edit reverted", || async {
        let web = deployments.get("web").await.map_err(|e| e.to_string())?;
        let image = image_of(&web);
        (image.as_deref() == Some("nginx:1.27"))
            .then_some(())
            .ok_or(format!("{image:?}"))
    })
    .await;
    // And a requested reconcile after it still leaves the replicas alone.
    let at = "2026-12-02T14:00:00Z";
    world
        .kustomizations()
        .patch("apps", &PatchParams::default(), &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": at}}})))
        .await
        .expect("annotated");
    eventually("the requested reconcile handled", || async {
        let ks = world
            .kustomizations()
            .get("apps")
            .await
            .map_err(|e| e.to_string())?;
        let handled = ks.status.and_then(|s| s.last_handled_reconcile_at);
        (handled.as_deref() == Some(at))
            .then_some(())
            .ok_or(format!("{handled:?}"))
    })
    .await;
    let web = deployments.get("web").await.expect("web");
    assert_eq!(
        web.spec.and_then(|s| s.replicas),
        Some(5),
        "the ignored field kept its live value"
    );

    // A path that is not a JSON pointer is refused.
    world
        .kustomizations()
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(
                serde_json::json!({"spec": {"driftIgnoreRules": [{"paths": ["spec.replicas"]}]}}),
            ),
        )
        .await
        .expect("patched");
    let stalled = world.stalled_message("apps").await;
    assert!(
        stalled.contains("spec.driftIgnoreRules") && stalled.contains("/spec/replicas"),
        "{stalled}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_controllers_only_the_leader_reconciles_and_a_standby_takes_over() {
    let env = Env::without_controller().await;
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), "driftless-system");
    let holder = || async {
        leases
            .get_opt("driftless-controller")
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
    };
    let elect = |identity: &'static str| {
        move |options: &mut driftless_controller::ControllerOptions| {
            options.leader_election_namespace = Some("driftless-system".into());
            options.identity = identity.into();
        }
    };
    let first = env.spawn_controller(elect("replica-a")).await;
    eventually("replica-a leads", || async {
        let who = holder().await;
        (who.as_deref() == Some("replica-a"))
            .then_some(())
            .ok_or(format!("{who:?}"))
    })
    .await;
    let second = env.spawn_controller(elect("replica-b")).await;
    let world = World::around(env).await;
    let head = world.fixture.commit("x");
    world.create(World::kustomization("apps", "./deploy")).await;
    world.wait_for("apps", "True", &head).await;
    let artifacts_of = |storage: &std::path::Path| storage.join("gitrepository").exists();
    assert!(artifacts_of(first.storage()), "the leader fetched");
    assert!(
        !artifacts_of(second.storage()),
        "the standby did not reconcile"
    );
    assert_eq!(holder().await.as_deref(), Some("replica-a"));

    // The leader stops (and releases the Lease): the standby takes over.
    first.stop().await;
    world
        .fixture
        .write("deploy/red.yaml", &configmap("red", "scarlet"));
    world.fixture.commit("scarlet");
    world.wait_color("red", Some("scarlet")).await;
    assert_eq!(holder().await.as_deref(), Some("replica-b"));
    assert!(artifacts_of(second.storage()), "the new leader fetched");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_termination_holds_the_kustomization_until_its_objects_are_gone() {
    let world = World::start().await;
    world.fixture.write(
        "held/held.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: default\n  finalizers:\n  - example.com/hold\ndata:\n  color: held\n",
    );
    let head = world.fixture.commit("held");
    let mut ks = World::kustomization("waiting", "./held");
    ks.spec.deletion_policy = Some(DeletionPolicy::WaitForTermination);
    world.create(ks).await;
    world.wait_for("waiting", "True", &head).await;

    world
        .kustomizations()
        .delete("waiting", &Default::default())
        .await
        .expect("deleted");
    eventually("the ConfigMap terminating", || async {
        let cm = world
            .configmaps()
            .get("held")
            .await
            .map_err(|e| e.to_string())?;
        cm.metadata
            .deletion_timestamp
            .map(|_| ())
            .ok_or_else(|| "not yet".to_owned())
    })
    .await;
    // A negative: without the wait it would be gone within milliseconds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        world
            .kustomizations()
            .get_opt("waiting")
            .await
            .expect("get")
            .is_some(),
        "the Kustomization waits while its object terminates"
    );
    world
        .configmaps()
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .expect("finalizer removed");
    eventually("the Kustomization gone", || async {
        let left = world
            .kustomizations()
            .get_opt("waiting")
            .await
            .map_err(|e| e.to_string())?;
        left.is_none()
            .then_some(())
            .ok_or_else(|| "still there".to_owned())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kustomizations_rendering_one_object_say_so_and_stop_fighting() {
    let world = World::start().await;
    world
        .fixture
        .write("one/shared.yaml", &configmap("shared", "one"));
    world
        .fixture
        .write("two/shared.yaml", &configmap("shared", "two"));
    let head = world.fixture.commit("two directories render one ConfigMap");
    world.create(World::kustomization("one", "./one")).await;
    world.wait_for("one", "True", &head).await;
    world.create(World::kustomization("two", "./two")).await;

    // The newcomer yields: it fails naming the owner and the object.
    let (status, reason, message) = condition_of(&world, "two", "Ready").await;
    let (status, reason, message) = if status == "False" {
        (status, reason, message)
    } else {
        world.wait_for("two", "False", &head).await;
        condition_of(&world, "two", "Ready").await
    };
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "OwnershipConflict")
    );
    assert!(
        message.contains("ConfigMap/default/shared")
            && message.contains("Kustomization default/one")
            && message.contains("Kustomization default/two"),
        "{message}"
    );
    // The owner keeps it and says so too.
    let (status, reason, message) = condition_of(&world, "one", "OwnershipConflict").await;
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "OwnershipConflict")
    );
    assert!(message.contains("Kustomization default/two"), "{message}");
    let one = world.wait_for("one", "True", &head).await;
    assert!(
        event_messages(&world.env.client, NS, "one")
            .await
            .iter()
            .any(|m| m.contains("ConfigMap/default/shared")),
        "a Warning event on the owner"
    );
    assert!(one.status.is_some());

    // No tug of war: the object stays the owner's, untouched.
    assert_eq!(world.color("shared").await.as_deref(), Some("one"));
    let version = |cm: ConfigMap| cm.metadata.resource_version.unwrap_or_default();
    let before = version(world.configmaps().get("shared").await.expect("shared"));
    for name in ["one", "two"] {
        world
            .kustomizations()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"annotations": {
                    "reconcile.fluxcd.io/requestedAt": "again"
                }}})),
            )
            .await
            .expect("request a reconcile");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = version(world.configmaps().get("shared").await.expect("shared"));
    assert_eq!(before, after, "the ConfigMap was written again");
    assert_eq!(world.color("shared").await.as_deref(), Some("one"));

    // Resolved in git: the conflict goes away on both.
    world.fixture.git(&["rm", "-q", "two/shared.yaml"]);
    world
        .fixture
        .write("two/other.yaml", &configmap("other", "two"));
    let fixed = world.fixture.commit("two stops rendering it");
    world.wait_for("two", "True", &fixed).await;
    world
        .kustomizations()
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {
                "reconcile.fluxcd.io/requestedAt": "resolved"
            }}})),
        )
        .await
        .expect("request a reconcile");
    eventually("one's conflict cleared", || async {
        let ks = world
            .kustomizations()
            .get("one")
            .await
            .map_err(|e| e.to_string())?;
        let conditions = ks.status.and_then(|s| s.conditions).unwrap_or_default();
        match driftless_api::conditions::find(&conditions, "OwnershipConflict") {
            None => Ok(()),
            Some(c) => Err(c.message.clone()),
        }
    })
    .await;
    assert_eq!(world.color("shared").await.as_deref(), Some("one"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_an_object_between_kustomizations_in_one_commit_is_a_clean_hand_over() {
    let world = World::start().await;
    world
        .fixture
        .write("one/moving.yaml", &configmap("moving", "one"));
    world
        .fixture
        .write("two/stays.yaml", &configmap("stays", "two"));
    let head = world.fixture.commit("moving lives in one");
    world.create(World::kustomization("one", "./one")).await;
    world.create(World::kustomization("two", "./two")).await;
    world.wait_for("one", "True", &head).await;
    world.wait_for("two", "True", &head).await;

    world.fixture.git(&["rm", "-q", "one/moving.yaml"]);
    world
        .fixture
        .write("one/keep.yaml", &configmap("keep", "one"));
    world
        .fixture
        .write("two/moving.yaml", &configmap("moving", "two"));
    let moved = world.fixture.commit("moving moves to two");
    world.wait_for("two", "True", &moved).await;
    world.wait_for("one", "True", &moved).await;
    world.wait_color("moving", Some("two")).await;
    let cm = world.configmaps().get("moving").await.expect("still there");
    assert_eq!(
        cm.metadata
            .labels
            .unwrap_or_default()
            .get("kustomize.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("two")
    );
    for name in ["one", "two"] {
        let ks = world.kustomizations().get(name).await.expect("ks");
        let conditions = ks.status.and_then(|s| s.conditions).unwrap_or_default();
        assert!(
            driftless_api::conditions::find(&conditions, "OwnershipConflict").is_none(),
            "{name}: {conditions:?}"
        );
    }
}

const FLUX_WATCH_LABEL: (&str, &str) = ("reconcile.fluxcd.io/watch", "Enabled");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_substitution_configmap_is_watched() {
    substitution_configmap_watch(None, FLUX_WATCH_LABEL, None).await;
}

/// `--watch-configs-label-selector` replaces Flux's label: a set-based
/// selector is honoured, and Flux's label alone no longer wakes anything.
/// A selector the API server refuses stops the controller at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_watch_selector_is_honoured() {
    let world = substitution_configmap_watch(
        Some("team in (platform,web)"),
        ("team", "platform"),
        Some(FLUX_WATCH_LABEL),
    )
    .await;
    let kubeconfig = kube::config::Kubeconfig::read_from(world.env.cluster.kubeconfig_path())
        .expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let storage = tempfile::tempdir().expect("storage");
    let mut options = world.env.options(storage.path());
    options.watch_configs_label_selector = "team in (platform".into();
    let refused = tokio::time::timeout(
        Duration::from_secs(30),
        driftless_controller::run(config, options, std::future::pending()),
    )
    .await
    .expect("the start fails at once");
    match refused {
        Err(error @ driftless_controller::ControllerError::WatchSelector { .. }) => {
            assert!(error.to_string().contains("team in (platform"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

/// A Kustomization substitutes from ConfigMap `vars` labelled `watched`
/// (with `selector` as the controller's flag, Flux's default when `None`):
/// a change to it is applied at once, not at the hour-long interval. With
/// `watched` replaced by `unwatched` (or by no label) a change waits.
async fn substitution_configmap_watch(
    selector: Option<&str>,
    watched: (&str, &str),
    unwatched: Option<(&str, &str)>,
) -> World {
    let world = World::start_with(|options| {
        if let Some(selector) = selector {
            options.watch_configs_label_selector = selector.to_owned();
        }
    })
    .await;
    world.fixture.write(
        "deploy/red.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: red\n  namespace: default\ndata:\n  color: ${color}\n",
    );
    let head = world.fixture.commit("a variable");
    let configmaps = world.configmaps();
    configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_value::<ConfigMap>(serde_json::json!({
                "metadata": {"name": "vars", "namespace": NS, "labels": {watched.0: watched.1}},
                "data": {"color": "teal"},
            }))
            .expect("a ConfigMap"),
        )
        .await
        .expect("vars created");
    let mut ks = World::kustomization("apps", "./deploy");
    ks.spec.post_build = Some(driftless_api::PostBuild {
        substitute: None,
        substitute_from: Some(vec![driftless_api::SubstituteReference {
            kind: driftless_api::SubstituteKind::ConfigMap,
            name: "vars".into(),
            optional: false,
        }]),
    });
    world.create(ks).await;
    world.wait_for("apps", "True", &head).await;
    world.wait_color("red", Some("teal")).await;

    // The Kustomization's interval is an hour: only the watch can apply this.
    configmaps
        .patch(
            "vars",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"color": "plum"}})),
        )
        .await
        .expect("vars changed");
    world.wait_color("red", Some("plum")).await;

    // Without a matching label a change waits for the interval. (Taking
    // the label off is itself seen, as the object leaving the watch; let it
    // pass.)
    let mut labels = serde_json::json!({watched.0: null});
    if let Some((key, value)) = unwatched {
        labels[key] = value.into();
    }
    configmaps
        .patch(
            "vars",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": labels}})),
        )
        .await
        .expect("vars relabelled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    configmaps
        .patch(
            "vars",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"color": "gold"}})),
        )
        .await
        .expect("vars changed");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(world.color("red").await.as_deref(), Some("plum"));
    world
}
