//! The fault matrix, in-process cases (issue 17, item 3): a fleet of
//! Kustomizations from one git repository driven through API server faults,
//! git server faults, unwritable artifact storage, two controllers racing
//! for the Lease, and a foreign field manager. Every case checks the same
//! invariants (`driftless_testkit::fleet`): after convergence nothing in git
//! is missing, nothing left in git is pruned, the inventory matches the
//! cluster and the status tells the truth; all along the fault, a sampler
//! checks that nothing still in git disappears and that `Ready=True` is
//! never claimed for a revision not applied.
//!
//! The process-level cases (API server and controller SIGKILLed) are in
//! `crates/cli/tests/faults.rs`.

use std::time::{Duration, Instant};

use crate::common::fleet::{FleetWorld, RECONCILE_TIMEOUT};
use driftless_api::Kustomization;
use driftless_testkit::cluster::{Fault, FaultRule, eventually};
use driftless_testkit::fleet::{NAMESPACE, SOURCE, ready_of};
use driftless_testkit::proxy::Mode;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};

const SAMPLE: Duration = Duration::from_millis(250);

/// (Ready status, message, lastAttemptedRevision) of a Kustomization.
async fn attempt_of(client: &kube::Client, name: &str) -> (String, String, String) {
    let api: Api<Kustomization> = Api::namespaced(client.clone(), NAMESPACE);
    let Ok(ks) = api.get(name).await else {
        return ("unreadable".into(), String::new(), String::new());
    };
    let status = ks.status.unwrap_or_default();
    let (ready, message) =
        crate::common::ready_of(status.conditions.as_deref().unwrap_or_default())
            .map(|(s, _, m)| (s, m))
            .unwrap_or_default();
    (
        ready,
        message,
        status.last_attempted_revision.unwrap_or_default(),
    )
}

/// Waits until every Kustomization attempted `head` and reports
/// `Ready=False` with a message containing `cause`.
async fn all_failing(world: &FleetWorld, head: &str, cause: &str) {
    for name in world.fleet.names() {
        let message = eventually(
            &format!("{name} fails on {head} naming {cause}"),
            || async {
                let (ready, message, attempted) = attempt_of(world.client(), &name).await;
                (ready == "False" && attempted.ends_with(head) && message.contains(cause))
                    .then_some(message.clone())
                    .ok_or(format!("Ready={ready} ({message}) at {attempted}"))
            },
        )
        .await;
        println!("{name}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_errors_slow_answers_and_cut_watches() {
    let mut world = FleetWorld::start(3, 3).await;
    let _controller = world.controller(|_| {}).await;
    let client = world.client().clone();
    world.fleet.converged(&client).await;
    let faults = world.env.cluster.sandbox.faults();
    let sampler = world.fleet.sample(&client, SAMPLE);

    // Every apply and prune answered 500: each Kustomization says so and
    // keeps what it had (status writes still get through).
    faults.set(
        FaultRule::new(Fault::InternalError)
            .writes_only()
            .on_path("/configmaps"),
    );
    let head = world.fleet.change("a change the API server refuses");
    all_failing(&world, &head, "injected fault: internal error").await;
    faults.clear();
    world.fleet.converged(&client).await;

    // Every other request answered 429 with Retry-After: the client waits
    // and retries, and the fleet converges.
    let before = faults.injected();
    faults.set(
        FaultRule::new(Fault::TooManyRequests {
            retry_after_seconds: 1,
        })
        .every(2),
    );
    world.fleet.change("a change under throttling");
    world.fleet.converged(&client).await;
    faults.clear();
    assert!(faults.injected() > before, "no request was throttled");

    // Slow answers (under the reconcile timeout) and watches cut every
    // half second while two commits land.
    faults.set(FaultRule::new(Fault::Slow(Duration::from_millis(150))));
    world.fleet.change("a change under slow answers");
    let cutter = {
        let faults = faults.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                faults.cut_watches();
            }
        })
    };
    world.fleet.converged(&client).await;
    world.fleet.change("a change while watches are cut");
    world.fleet.converged(&client).await;
    cutter.abort();
    faults.clear();
    println!("{} samples of the invariants", sampler.finish());
    world.fleet.converged(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_server_dies_garbles_and_hangs() {
    let mut world = FleetWorld::start(3, 2).await;
    let _controller = world.controller(|_| {}).await;
    let client = world.client().clone();
    world.fleet.converged(&client).await;
    let sampler = world.fleet.sample(&client, SAMPLE);
    let cases = [
        (Mode::Refuse, "a dead server"),
        (Mode::CutAfter(300), "a server killed mid-fetch"),
        (Mode::Junk, "a server answering junk"),
        (Mode::Hang, "a server that never answers"),
    ];
    for (mode, what) in cases {
        let good = world.fleet.head();
        let (_, good_message) = ready_of(&client, "GitRepository", SOURCE).await;
        world.proxy.set(mode);
        let started = Instant::now();
        let head = world.fleet.change(what);
        let message = eventually(&format!("the GitRepository fails on {what}"), || async {
            let (ready, message) = ready_of(&client, "GitRepository", SOURCE).await;
            (ready == "False" && message != good_message)
                .then_some(message.clone())
                .ok_or(format!("Ready={ready} ({message})"))
        })
        .await;
        println!("{what}: failed after {:?}: {message}", started.elapsed());
        assert!(
            started.elapsed() < RECONCILE_TIMEOUT + Duration::from_secs(6),
            "{what}: the failure took {:?}",
            started.elapsed()
        );
        assert!(
            message.contains("fleet.git") || message.contains("127.0.0.1"),
            "{what}: the message names no server: {message}"
        );
        // The last good revision stays applied, nothing pruned, for a while.
        for _ in 0..4 {
            world
                .fleet
                .check_applied(&client, &good)
                .await
                .unwrap_or_else(|e| {
                    panic!("{what}: the last good revision {good} is no longer applied: {e}")
                });
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        world.proxy.set(Mode::Pass);
        world.fleet.converged(&client).await;
        assert_eq!(world.fleet.head(), head);
    }
    println!("{} samples of the invariants", sampler.finish());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_storage_unwritable() {
    let mut world = FleetWorld::start(3, 2).await;
    let controller = world.controller(|_| {}).await;
    let client = world.client().clone();
    world.fleet.converged(&client).await;
    let sampler = world.fleet.sample(&client, SAMPLE);
    let good = world.fleet.head();
    // Root ignores permission bits, so a file where the artifact directory
    // belongs is what makes every write there fail.
    let dir = controller
        .storage()
        .join("gitrepository")
        .join(NAMESPACE)
        .join(SOURCE);
    let aside = dir.with_extension("aside");
    std::fs::rename(&dir, &aside).expect("the artifact directory moves");
    std::fs::write(&dir, "not a directory").expect("a file in its place");
    world.fleet.change("a change that cannot be stored");
    let message = eventually("the GitRepository fails to store its artifact", || async {
        let (ready, message) = ready_of(&client, "GitRepository", SOURCE).await;
        (ready == "False")
            .then_some(message.clone())
            .ok_or(format!("Ready={ready} ({message})"))
    })
    .await;
    println!("storage unwritable: {message}");
    assert!(
        message.contains(&format!("gitrepository/{NAMESPACE}/{SOURCE}")),
        "the message names no path: {message}"
    );
    for _ in 0..6 {
        world
            .fleet
            .check_objects(&client, &good)
            .await
            .unwrap_or_else(|e| {
                panic!("the last good revision {good} lost objects while storage failed: {e}")
            });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    std::fs::remove_file(&dir).expect("the file goes");
    std::fs::rename(&aside, &dir).expect("the directory comes back");
    world.fleet.converged(&client).await;
    println!("{} samples of the invariants", sampler.finish());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_started_together_elect_one_leader() {
    let mut world = FleetWorld::start(3, 2).await;
    let elected = |identity: &'static str| {
        move |options: &mut driftless_controller::ControllerOptions| {
            options.leader_election_namespace = Some(NAMESPACE.to_owned());
            options.identity = identity.to_owned();
        }
    };
    let (first, second) = tokio::join!(
        world.controller(elected("replica-a")),
        world.controller(elected("replica-b"))
    );
    let client = world.client().clone();
    world.fleet.converged(&client).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let holder = |lease: Lease| {
        lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default()
    };
    let leader = holder(
        leases
            .get(driftless_controller::LEASE_NAME)
            .await
            .expect("a Lease"),
    );
    let (leader, follower) = match leader.as_str() {
        "replica-a" => (first, second),
        "replica-b" => (second, first),
        other => panic!("the Lease is held by {other:?}, not one of the replicas"),
    };
    // Only the leader reconciles: only its storage holds artifacts.
    let artifacts =
        |c: &crate::common::RunningController| c.storage().join("gitrepository").exists();
    assert!(artifacts(&leader), "the leader stored no artifact");
    assert!(!artifacts(&follower), "the follower reconciled too");
    // No tug of war: the applied objects stay put while both run.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let first_object = world.fleet.model()["k0"]
        .keys()
        .next()
        .cloned()
        .expect("an object");
    let version = |cm: ConfigMap| cm.metadata.resource_version.unwrap_or_default();
    let before = version(configmaps.get(&first_object).await.expect("applied"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = version(configmaps.get(&first_object).await.expect("applied"));
    assert_eq!(
        before, after,
        "{first_object} was rewritten while nothing changed"
    );

    // The leader dies without releasing the Lease; the follower takes over
    // once it expires and deploys the next commit.
    leader.kill();
    world.fleet.change("a change after the leader died");
    world.fleet.converged(&client).await;
    let new = holder(
        leases
            .get(driftless_controller::LEASE_NAME)
            .await
            .expect("a Lease"),
    );
    assert!(artifacts(&follower), "the follower never reconciled");
    assert_ne!(new, "", "nobody holds the Lease");
    println!("the Lease passed to {new}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_manager_fighting_over_a_field_is_corrected() {
    let world = FleetWorld::start(2, 2).await;
    let _controller = world.controller(|_| {}).await;
    let client = world.client().clone();
    world.fleet.converged(&client).await;
    let sampler = world.fleet.sample(&client, SAMPLE);
    let name = world.fleet.model()["k0"]
        .keys()
        .next()
        .cloned()
        .expect("an object");
    let want = world.fleet.model()["k0"][&name].clone();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let intruder = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"value": "hijacked", "extra": "kept"},
    });
    for round in 0..3 {
        configmaps
            .patch(
                &name,
                &PatchParams::apply("intruder").force(),
                &Patch::Apply(&intruder),
            )
            .await
            .expect("the intruder force-applies");
        let corrected = eventually(&format!("round {round}: {name} corrected"), || async {
            let cm = configmaps.get(&name).await.map_err(|e| e.to_string())?;
            let data = cm.data.clone().unwrap_or_default();
            (data.get("value") == Some(&want))
                .then_some(cm.clone())
                .ok_or(format!("{data:?}"))
        })
        .await;
        let data = corrected.data.clone().unwrap_or_default();
        assert_eq!(
            data.get("extra").map(String::as_str),
            Some("kept"),
            "round {round}: the intruder's own field was dropped"
        );
        let managers: Vec<(String, String)> = corrected
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let fields = m.fields_v1.map(|f| f.0.to_string()).unwrap_or_default();
                (m.manager.unwrap_or_default(), fields)
            })
            .collect();
        let owns = |who: &str, field: &str| {
            managers
                .iter()
                .any(|(m, fields)| m == who && fields.contains(field))
        };
        assert!(owns("intruder", "f:extra"), "{managers:#?}");
        assert!(!owns("intruder", "f:value"), "{managers:#?}");
        assert!(
            owns(driftless_api::managers::KUSTOMIZE_CONTROLLER, "f:value"),
            "{managers:#?}"
        );
    }
    let events = crate::common::event_messages(&client, NAMESPACE, "k0").await;
    assert!(
        events
            .iter()
            .any(|e| e.contains(&name) && e.contains("configured")),
        "the correction was not reported: {events:#?}"
    );
    world.fleet.converged(&client).await;
    println!("{} samples of the invariants", sampler.finish());
}
