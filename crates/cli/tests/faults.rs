//! The fault matrix, process cases (issue 17, item 3): the real `driftless`
//! binary as the API server (`driftless sandbox --data-dir`) and as the
//! controller, SIGKILLed mid-reconcile and started again. Each case drives
//! a fleet of Kustomizations (`driftless_testkit::fleet`) through commits
//! that change, add and remove objects, samples the invariants all along
//! (nothing still in git disappears; `Ready=True` only for the revision
//! attempted) and checks the full set after convergence (nothing missing,
//! nothing left over, the inventory is the cluster, Ready at the head).
//!
//! The in-process cases (API errors, git server faults, storage, leader
//! election, a foreign field manager) are in
//! `crates/controller/tests/faults.rs`.

use std::time::Duration;

use crate::common::TempDir;
use crate::common::processes::{Random, SandboxProcess, controller, free_address, install_crds};
use driftless_testkit::GitDaemon;
use driftless_testkit::cluster::TestCluster;
use driftless_testkit::fleet::Fleet;

const SAMPLE: Duration = Duration::from_millis(300);

/// The API server is killed a few times right after a commit and restarted
/// on its data. It found two holes, both closed. A controller whose cached
/// copy of a Kustomization was behind the restarted server wrote its status
/// from that copy, putting an older inventory back, so an object created in
/// between and later removed from git was never pruned; status writes are
/// now conditional on the resourceVersion the reconcile read. And the
/// restarted server answers each resumed watch 410 (its history starts at
/// its newest version, as kube-apiserver's watch cache does), which
/// kube-runtime's shared backoff turned into waits of 12 s and more (up
/// to a minute at its cap) before the relist; the
/// controller's watches now relist at once (`driftless-controller`'s
/// `watch` module). Replay a run with `DRIFTLESS_FAULT_SEED`; keep its logs
/// with `DRIFTLESS_KEEP_TEMP=1` and choose their level with
/// `DRIFTLESS_FAULT_LOG` (a `RUST_LOG` value for both children).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_killed_mid_apply_and_restarted() {
    let mut random = Random::from_env_or_clock();
    let dir = TempDir::new("faults-apiserver");
    let served = dir.path().join("git");
    let mut fleet = Fleet::new(&served, 4, 3);
    let daemon = GitDaemon::start(&served);
    let mut sandbox = SandboxProcess::start(&free_address(), &dir.path().join("sandbox")).await;
    let client = sandbox.client().await;
    install_crds(&client).await;
    fleet
        .create(&client, &daemon.url("fleet"), "1s", "5s", "3s")
        .await;
    let mut controller = controller(&sandbox.kubeconfig(), &dir.path().join("storage"), "10s");
    fleet.converged(&client).await;
    let sampler = fleet.sample(&client, SAMPLE);
    for round in 0..3 {
        fleet.change(&format!("round {round}"));
        // The GitRepository polls every second: the kill lands somewhere in
        // the fetch, the applies or the status writes that follow.
        let wait = Duration::from_millis(500 + random.below(2000));
        tokio::time::sleep(wait).await;
        println!("round {round}: API server killed {wait:?} after the commit");
        sandbox = sandbox
            .kill_and_restart(Duration::from_millis(random.below(1500)))
            .await;
        fleet.converged(&client).await;
        controller.assert_running();
    }
    println!("{} samples of the invariants", sampler.finish());
    fleet.converged(&client).await;
    controller.kill().await;
    sandbox.process.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_killed_at_random_points_many_times() {
    const KILLS: usize = 20;
    let mut random = Random::from_env_or_clock();
    let dir = TempDir::new("faults-controller");
    let served = dir.path().join("git");
    let mut fleet = Fleet::new(&served, 10, 2);
    let daemon = GitDaemon::start(&served);
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    install_crds(&client).await;
    fleet
        .create(&client, &daemon.url("fleet"), "1s", "5s", "3s")
        .await;
    let storage = dir.path().join("storage");
    let kubeconfig = cluster.kubeconfig_path();
    let mut running = controller(&kubeconfig, &storage, "10s");
    fleet.converged(&client).await;
    let sampler = fleet.sample(&client, SAMPLE);
    for kill in 0..KILLS {
        if kill % 2 == 0 {
            fleet.change(&format!("commit before kill {kill}"));
        }
        let wait = Duration::from_millis(200 + random.below(2500));
        tokio::time::sleep(wait).await;
        running.kill().await;
        println!("kill {kill}: controller SIGKILLed after {wait:?}");
        running = controller(&kubeconfig, &storage, "10s");
        if kill == KILLS / 2 {
            fleet.converged(&client).await;
        }
    }
    fleet.converged(&client).await;
    println!("{} samples of the invariants", sampler.finish());
    running.kill().await;
}
