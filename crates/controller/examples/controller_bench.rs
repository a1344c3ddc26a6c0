//! The controller's figures: how fast GitRepositories, Kustomizations and
//! HelmReleases become Ready, what a requested reconcile costs, how long a
//! commit takes to reach the cluster (objects, and a HelmRelease's upgrade)
//! and how much memory the controller holds, each
//! beside its peer (the git CLI, `kubectl apply --server-side`) where one
//! can run here.
//!
//! Run `cargo run --release -p driftless-controller --example controller_bench [-- <which>]`
//! with `<which>` one of `sources`, `kustomizations`, `helmreleases`, `all`
//! (default). Needs `git` and `kubectl` on the PATH. `BENCH_FLEET` sets the
//! Kustomization and HelmRelease count of the fleet figures (default 1000);
//! `BENCH_CONCURRENCY` the controller's `concurrency` (default 4, as
//! `ControllerOptions::new`). Flux's own benchmark of 1,000 HelmReleases
//! (flux-benchmark, on a 16-core runner) took 4m39s and 361 MiB.
//!
//! The sandbox runs in this process; the controller runs in a child process
//! (the harness in `support/`) so that its `/proc/<pid>/status` holds the
//! controller's memory alone. The idle
//! figure is a controller started against the same cluster with none of the
//! objects yet; the delta is the memory attributable to tracking them.
//!
//! Not for regression gating: timings on a shared 2-core machine are noisy.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use driftless_api::annotations::RECONCILE_REQUESTED_AT;
use driftless_api::{
    FluxObject, GitRepository, HelmChart, HelmRelease, HelmRepository, Kustomization,
};
use driftless_testkit::cluster::TestCluster;
use driftless_testkit::{Fixture, GitDaemon};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{
    Controller, ControllerOptions, Memory, mib, millis, ms, secs, start_cluster, wait_until,
};

const USAGE: &str = "usage: bench [sources|kustomizations|helmreleases|all]";
const NS: &str = "default";
const SOURCES: usize = 200;
const ROUNDS: usize = 5;
/// Objects of the single large Kustomization: a few namespaces, the rest ConfigMaps.
const BIG_NAMESPACES: usize = 5;
const BIG_OBJECTS: usize = 1_000;
/// Beyond this the fleet figure is also taken at `SMALL_FLEET` (the brief's cut-off).
const SLOW_FLEET: Duration = Duration::from_secs(300);
const SMALL_FLEET: usize = 200;
/// The longest any single wait may take before the figure is reported as partial.
const FLEET_DEADLINE: Duration = Duration::from_secs(15 * 60);
const DEADLINE: Duration = Duration::from_secs(5 * 60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = support::child_main(&args) {
        return code;
    }
    let which = args.first().map_or("all", String::as_str);
    if !matches!(which, "sources" | "kustomizations" | "helmreleases" | "all") || args.len() > 1 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    support::runtime().block_on(async {
        let mut rows = Vec::new();
        if matches!(which, "sources" | "all") {
            sources(&mut rows).await;
        }
        if matches!(which, "kustomizations" | "all") {
            kustomizations(&mut rows).await;
        }
        if matches!(which, "helmreleases" | "all") {
            helm_fleet(&mut rows, fleet_size()).await;
        }
        println!("\n## summary (concurrency {})\n", concurrency());
        print_table(&rows);
    });
    ExitCode::SUCCESS
}

fn concurrency() -> u16 {
    std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ControllerOptions::default().concurrency)
}

/// The child controller of every figure: `BENCH_CONCURRENCY`, no webhooks.
fn options() -> ControllerOptions {
    ControllerOptions {
        concurrency: concurrency(),
        receiver: false,
    }
}

/// A controller's memory with no objects yet to track, after it settles.
async fn idle_memory(cluster: &TestCluster, scratch: &Path) -> Memory {
    let controller = Controller::start(cluster, scratch, "idle", options()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let memory = controller.memory();
    controller.stop();
    memory
}

// -------------------------------------------------------------- sources --

async fn sources(rows: &mut Vec<Row>) {
    println!("## sources\n");
    let (cluster, client) = start_cluster().await;
    let scratch = tempfile::tempdir().expect("a temp dir");
    let served = scratch.path().join("served");
    let setup = Instant::now();
    for i in 0..SOURCES {
        let fixture = Fixture::new(&served, &format!("repo-{i:03}"));
        fixture.write("deploy/config.yaml", &configmap(&format!("cm-{i}"), "1"));
        fixture.commit("initial");
    }
    let daemon = GitDaemon::start(&served);
    println!(
        "{SOURCES} repositories (one ConfigMap each), one git daemon; set up in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let idle = idle_memory(&cluster, scratch.path()).await;
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), NS);
    for i in 0..SOURCES {
        let name = format!("repo-{i:03}");
        let repo = GitRepository::test(&name)
            .in_namespace(NS)
            .url(&daemon.url(&name))
            .branch("main");
        repos
            .create(&PostParams::default(), &repo)
            .await
            .expect("GitRepository created");
    }
    let controller = Controller::start(&cluster, scratch.path(), "sources", options()).await;
    let (took, ready) = wait_ready::<GitRepository>(&repos, SOURCES, DEADLINE).await;
    let memory = controller.memory();
    println!(
        "{ready}/{SOURCES} GitRepositories Ready {} after the controller started; {} reconciles",
        secs(took),
        controller.reconciles("GitRepository")
    );
    rows.push(Row::ours(
        &format!("{SOURCES} GitRepositories (1m) all Ready"),
        secs(took),
    ));
    memory_rows(rows, &format!("{SOURCES} GitRepositories"), idle, memory);

    // Poll cost: a requested reconcile of one GitRepository whose branch has
    // not moved, against the git CLI asking the same server for its refs.
    let url = daemon.url("repo-000");
    let mut ours = Vec::new();
    for round in 0..ROUNDS {
        ours.push(request_reconcile(&repos, "repo-000", round).await);
    }
    let mut theirs = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let out = Command::new("git")
            .args(["ls-remote", &url])
            .output()
            .expect("git runs");
        theirs.push(start.elapsed());
        assert!(out.status.success(), "git ls-remote {url} failed");
    }
    rows.push(Row::against(
        &format!("poll, nothing changed (median of {ROUNDS})"),
        median(&ours),
        "git ls-remote",
        median(&theirs),
    ));
    controller.print_warnings();
    controller.stop();
    cluster.sandbox.shutdown().await;
    drop(daemon);
    println!();
}

// ------------------------------------------------------- kustomizations --

async fn kustomizations(rows: &mut Vec<Row>) {
    println!("## kustomizations\n");
    let (cluster, client) = start_cluster().await;
    let scratch = tempfile::tempdir().expect("a temp dir");
    let served = scratch.path().join("served");
    let fixture = Fixture::new(&served, "app");
    for i in 0..10 {
        fixture.write(
            &format!("deploy/cm-{i}.yaml"),
            &configmap(&format!("cm-{i}"), "0"),
        );
    }
    write_big(&fixture.work.join("big"));
    fixture.commit("initial");
    let daemon = GitDaemon::start(&served);

    let repos: Api<GitRepository> = Api::namespaced(client.clone(), NS);
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), NS);
    let mut source = GitRepository::test("app")
        .in_namespace(NS)
        .url(&daemon.url("app"))
        .branch("main");
    source.spec.interval = "1h".into();
    repos
        .create(&PostParams::default(), &source)
        .await
        .expect("GitRepository created");
    let mut ks = Kustomization::test("app")
        .in_namespace(NS)
        .git_source("app")
        .path("./deploy");
    ks.spec.interval = "1h".into();
    kustomizations
        .create(&PostParams::default(), &ks)
        .await
        .expect("Kustomization created");
    let controller = Controller::start(&cluster, scratch.path(), "latency", options()).await;
    wait_ready::<Kustomization>(&kustomizations, 1, DEADLINE).await;

    // Commit to applied: the push is not timed; the clock starts when the
    // source is asked to look, as `reconcile kustomization --with-source` does.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let mut latencies = Vec::new();
    for round in 1..=ROUNDS {
        let value = round.to_string();
        fixture.write("deploy/cm-0.yaml", &configmap("cm-0", &value));
        fixture.commit(&format!("round {round}"));
        let start = Instant::now();
        annotate(&repos, "app", &format!("latency-{round}-{}", nanos())).await;
        wait_until("the commit applied", DEADLINE, ms(10), || async {
            let cm = configmaps.get("cm-0").await.map_err(|e| e.to_string())?;
            let seen = cm.data.and_then(|d| d.get("value").cloned());
            (seen.as_deref() == Some(value.as_str()))
                .then_some(())
                .ok_or(format!("value {seen:?}"))
        })
        .await;
        latencies.push(start.elapsed());
    }
    rows.push(Row::ours(
        &format!("commit to applied, 10 objects (median of {ROUNDS})"),
        millis(median(&latencies)),
    ));

    // 1,000 objects: the first apply through the controller (artifact
    // download, render, staged apply, status) against kubectl applying the
    // same rendered YAML into a second, fresh sandbox.
    let rendered = driftless_render::build(&fixture.work.join("big")).expect("big/ renders");
    let rendered_file = scratch.path().join("big.yaml");
    std::fs::write(&rendered_file, &rendered).expect("writable scratch");
    let mut big = Kustomization::test("big")
        .in_namespace(NS)
        .git_source("app")
        .path("./big");
    big.spec.interval = "1h".into();
    let start = Instant::now();
    kustomizations
        .create(&PostParams::default(), &big)
        .await
        .expect("Kustomization created");
    wait_until("big Ready", DEADLINE, ms(20), || async {
        let ks = kustomizations.get("big").await.map_err(|e| e.to_string())?;
        ks.is_ready()
            .then_some(())
            .ok_or_else(|| format!("{:?}", ks.status.and_then(|s| s.conditions)))
    })
    .await;
    let first_apply = start.elapsed();
    // A Ready this fast must still mean every object is in the cluster.
    let inventory = kustomizations
        .get("big")
        .await
        .expect("big exists")
        .status
        .and_then(|s| s.inventory)
        .map_or(0, |i| i.entries.len());
    let applied: usize = futures::future::join_all((0..BIG_NAMESPACES).map(|n| {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &format!("big-{n}"));
        // Only ours: a namespace may hold ConfigMaps the server adds.
        async move {
            api.list(&ListParams::default()).await.map_or(0, |l| {
                l.items
                    .iter()
                    .filter(|cm| {
                        cm.metadata
                            .name
                            .as_deref()
                            .is_some_and(|n| n.starts_with("cm-"))
                    })
                    .count()
            })
        }
    }))
    .await
    .into_iter()
    .sum();
    assert_eq!(inventory, BIG_OBJECTS, "big's inventory");
    assert_eq!(
        applied,
        BIG_OBJECTS - BIG_NAMESPACES,
        "ConfigMaps applied by big"
    );
    let (peer, _) = start_cluster().await;
    let kubectl_first = kubectl_apply(&peer, &rendered_file, scratch.path());
    rows.push(Row::against(
        &format!("{BIG_OBJECTS} objects, first apply to Ready"),
        first_apply,
        "kubectl apply --server-side",
        kubectl_first,
    ));

    let mut noop = Vec::new();
    for round in 0..ROUNDS {
        noop.push(request_reconcile(&kustomizations, "big", round).await);
    }
    let mut kubectl_noop = Vec::new();
    for _ in 0..ROUNDS {
        kubectl_noop.push(kubectl_apply(&peer, &rendered_file, scratch.path()));
    }
    rows.push(Row::against(
        &format!("{BIG_OBJECTS} objects, no-op reconcile (median of {ROUNDS})"),
        median(&noop),
        "kubectl apply --server-side (no-op)",
        median(&kubectl_noop),
    ));
    println!(
        "latency and {BIG_OBJECTS}-object runs: {} Kustomization reconciles, {} GitRepository reconciles",
        controller.reconciles("Kustomization"),
        controller.reconciles("GitRepository")
    );
    controller.print_warnings();
    controller.stop();
    peer.sandbox.shutdown().await;
    cluster.sandbox.shutdown().await;
    drop(daemon);

    let fleet_size = fleet_size();
    let took = fleet(rows, fleet_size).await;
    if took.is_none_or(|took| took > SLOW_FLEET) && fleet_size > SMALL_FLEET {
        println!(
            "{fleet_size} Kustomizations took over {} s; also measuring {SMALL_FLEET}",
            SLOW_FLEET.as_secs()
        );
        fleet(rows, SMALL_FLEET).await;
    }
}

/// `BENCH_FLEET`, 1,000 by default.
fn fleet_size() -> usize {
    std::env::var("BENCH_FLEET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// `count` Kustomizations of 10 ConfigMaps each, all from one GitRepository
/// whose repository holds `count` directories; returns how long they took
/// to become Ready, or `None` if they did not within [`FLEET_DEADLINE`].
async fn fleet(rows: &mut Vec<Row>, count: usize) -> Option<Duration> {
    let (cluster, client) = start_cluster().await;
    let scratch = tempfile::tempdir().expect("a temp dir");
    let served = scratch.path().join("served");
    let fixture = Fixture::new(&served, "fleet");
    for k in 0..count {
        for i in 0..10 {
            // No namespace: each Kustomization's targetNamespace places them.
            fixture.write(
                &format!("k{k:04}/cm-{i}.yaml"),
                &format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: k{k:04}-cm-{i}\ndata:\n  value: \"{i}\"\n"
                ),
            );
        }
    }
    fixture.commit("fleet");
    let daemon = GitDaemon::start(&served);
    let idle = idle_memory(&cluster, scratch.path()).await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "fleet"}})).expect("a Namespace"),
        )
        .await
        .expect("Namespace created");
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), NS);
    let mut source = GitRepository::test("fleet")
        .in_namespace(NS)
        .url(&daemon.url("fleet"))
        .branch("main");
    source.spec.interval = "1h".into();
    repos
        .create(&PostParams::default(), &source)
        .await
        .expect("GitRepository created");
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), NS);
    for k in 0..count {
        let mut ks = Kustomization::test(&format!("k{k:04}"))
            .in_namespace(NS)
            .git_source("fleet")
            .path(&format!("./k{k:04}"));
        ks.spec.interval = "1h".into();
        ks.spec.target_namespace = Some("fleet".into());
        kustomizations
            .create(&PostParams::default(), &ks)
            .await
            .expect("Kustomization created");
    }

    let controller = Controller::start(
        &cluster,
        scratch.path(),
        &format!("fleet-{count}"),
        options(),
    )
    .await;
    let (took, ready) = wait_ready::<Kustomization>(&kustomizations, count, FLEET_DEADLINE).await;
    let memory = controller.memory();
    let all = ready == count;
    println!(
        "{ready}/{count} Kustomizations (10 ConfigMaps each, one GitRepository) Ready {} after the controller started; {} Kustomization reconciles",
        secs(took),
        controller.reconciles("Kustomization")
    );
    let figure = if all {
        secs(took)
    } else {
        format!("{ready}/{count} in {}", secs(took))
    };
    rows.push(Row::ours(
        &format!("{count} Kustomizations x 10 objects all Ready"),
        figure,
    ));
    memory_rows(rows, &format!("{count} Kustomizations"), idle, memory);
    controller.print_warnings();
    controller.stop();
    cluster.sandbox.shutdown().await;
    drop(daemon);
    println!();
    all.then_some(took)
}

/// `count` HelmReleases of one small chart (a ConfigMap and a Service per
/// release), all through `chartRef` to one HelmChart packaged from a
/// GitRepository, each released into namespace `fleet`: how long until all
/// are Ready, and the controller's memory while it tracks them.
async fn helm_fleet(rows: &mut Vec<Row>, count: usize) {
    println!("## helmreleases\n");
    let (cluster, client) = start_cluster().await;
    let scratch = tempfile::tempdir().expect("a temp dir");
    let served = scratch.path().join("served");
    let fixture = Fixture::new(&served, "charts");
    fixture.write(
        "small/Chart.yaml",
        "apiVersion: v2\nname: small\nversion: 1.0.0\nappVersion: \"1.0\"\n",
    );
    fixture.write("small/values.yaml", "n: 0\nport: 80\n");
    fixture.write(
        "small/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    app.kubernetes.io/instance: {{ .Release.Name }}\ndata:\n  n: {{ .Values.n | quote }}\n",
    );
    fixture.write(
        "small/templates/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector:\n    app.kubernetes.io/instance: {{ .Release.Name }}\n  ports:\n    - port: {{ .Values.port }}\n",
    );
    fixture.commit("small chart");
    let daemon = GitDaemon::start(&served);
    let idle = idle_memory(&cluster, scratch.path()).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "fleet"}})).expect("a Namespace"),
        )
        .await
        .expect("Namespace created");
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), NS);
    let mut source = GitRepository::test("charts")
        .in_namespace(NS)
        .url(&daemon.url("charts"))
        .branch("main");
    source.spec.interval = "1h".into();
    repos
        .create(&PostParams::default(), &source)
        .await
        .expect("GitRepository created");
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), NS);
    let chart: HelmChart = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmChart",
        "metadata": {"name": "small", "namespace": NS},
        "spec": {"chart": "./small", "interval": "1h", "sourceRef": {"kind": "GitRepository", "name": "charts"}},
    }))
    .expect("a HelmChart");
    charts
        .create(&PostParams::default(), &chart)
        .await
        .expect("HelmChart created");
    let releases: Api<HelmRelease> = Api::namespaced(client.clone(), NS);
    for k in 0..count {
        let release: HelmRelease = serde_json::from_value(json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": format!("hr{k:04}"), "namespace": NS},
            "spec": {
                "interval": "1h",
                "targetNamespace": "fleet",
                "chartRef": {"kind": "HelmChart", "name": "small"},
                "values": {"n": k},
            },
        }))
        .expect("a HelmRelease");
        releases
            .create(&PostParams::default(), &release)
            .await
            .expect("HelmRelease created");
    }
    let controller = Controller::start(
        &cluster,
        scratch.path(),
        &format!("helm-{count}"),
        options(),
    )
    .await;
    let (took, ready) = wait_ready::<HelmRelease>(&releases, count, FLEET_DEADLINE).await;
    let memory = controller.memory();
    println!(
        "{ready}/{count} HelmReleases (a ConfigMap and a Service each, one HelmChart) Ready {} after the controller started; {} HelmRelease reconciles",
        secs(took),
        controller.reconciles("HelmRelease")
    );
    let figure = if ready == count {
        secs(took)
    } else {
        format!("{ready}/{count} in {}", secs(took))
    };
    rows.push(Row::ours(
        &format!("{count} HelmReleases all Ready"),
        figure,
    ));
    memory_rows(rows, &format!("{count} HelmReleases"), idle, memory);

    // One release's upgrade: a values change in the spec to Ready at the
    // next revision.
    let mut upgrades = Vec::new();
    for round in 1..=ROUNDS {
        let start = Instant::now();
        releases
            .patch(
                "hr0000",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"values": {"n": 10_000 + round}}})),
            )
            .await
            .expect("values changed");
        let revision = i64::try_from(round).expect("small") + 1;
        wait_until("the upgrade", DEADLINE, ms(5), || async {
            let hr = releases.get("hr0000").await.map_err(|e| e.to_string())?;
            let at = hr.latest_snapshot().map(|s| s.version);
            (hr.is_ready() && at == Some(revision))
                .then_some(())
                .ok_or(format!("at {at:?}"))
        })
        .await;
        upgrades.push(start.elapsed());
    }
    let upgrade = median(&upgrades);
    println!(
        "HelmRelease upgrade, values change to Ready (median of {ROUNDS}): {}",
        millis(upgrade)
    );
    rows.push(Row::ours(
        "HelmRelease upgrade, values change to Ready (median)",
        millis(upgrade),
    ));
    helm_commit_to_ready(rows, &fixture, &client).await;
    if let Some(row) = index_poll(&client).await {
        rows.push(row);
    }
    controller.print_warnings();
    controller.stop();
    cluster.sandbox.shutdown().await;
    drop(daemon);
    println!();
}

/// A values change committed to git, to its HelmRelease Ready at the next
/// revision: the GitRepository fetch, the Kustomization applying the
/// changed HelmRelease, the upgrade. The push is not timed; the clock
/// starts when the source is asked to look, as `reconcile source git` does.
async fn helm_commit_to_ready(rows: &mut Vec<Row>, fixture: &Fixture, client: &kube::Client) {
    let release = |n: usize| {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: via-git\n  namespace: {NS}\nspec:\n  interval: 1h\n  targetNamespace: fleet\n  chartRef:\n    kind: HelmChart\n    name: small\n  values:\n    n: {n}\n"
        )
    };
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), NS);
    let releases: Api<HelmRelease> = Api::namespaced(client.clone(), NS);
    let at_revision = |revision: i64| {
        let releases = releases.clone();
        async move {
            let hr = releases.get("via-git").await.map_err(|e| e.to_string())?;
            let at = hr.latest_snapshot().map(|s| s.version);
            (hr.is_ready() && at == Some(revision))
                .then_some(())
                .ok_or(format!("at {at:?}"))
        }
    };
    fixture.write("releases/via-git.yaml", &release(0));
    fixture.commit("a release through git");
    annotate(&repos, "charts", &format!("via-git-{}", nanos())).await;
    let mut ks = Kustomization::test("releases")
        .in_namespace(NS)
        .git_source("charts")
        .path("./releases");
    ks.spec.interval = "1h".into();
    Api::<Kustomization>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &ks)
        .await
        .expect("Kustomization created");
    wait_until("the release through git", DEADLINE, ms(10), || {
        at_revision(1)
    })
    .await;
    let mut latencies = Vec::new();
    for round in 1..=ROUNDS {
        fixture.write("releases/via-git.yaml", &release(round));
        fixture.commit(&format!("values round {round}"));
        let start = Instant::now();
        annotate(&repos, "charts", &format!("via-git-{round}-{}", nanos())).await;
        let revision = i64::try_from(round).expect("small") + 1;
        wait_until("the upgrade through git", DEADLINE, ms(5), || {
            at_revision(revision)
        })
        .await;
        latencies.push(start.elapsed());
    }
    let latency = median(&latencies);
    println!(
        "HelmRelease upgrade, values commit to Ready through git (median of {ROUNDS}): {}",
        millis(latency)
    );
    rows.push(Row::ours(
        "HelmRelease upgrade, commit to Ready through git (median)",
        millis(latency),
    ));
}

/// A HelmRepository poll that finds the index unchanged (a requested
/// reconcile, handled: `If-None-Match` → `304`) beside `helm repo update`
/// against the same lighttpd; `None` (said) without `helm` or lighttpd.
async fn index_poll(client: &kube::Client) -> Option<Row> {
    let chart = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-conformance/charts/podinfo");
    if !driftless_testkit::helm_repo::helm_available() || !chart.is_dir() {
        println!(
            "(no index poll figure: helm not on PATH or {} missing)",
            chart.display()
        );
        return None;
    }
    let root = tempfile::tempdir().expect("a temp dir");
    driftless_testkit::helm_repo::helm_package(&chart, None, root.path());
    driftless_testkit::helm_repo::helm_repo_index(root.path(), None);
    let server = driftless_testkit::helm_repo::StaticServer::start(root.path());
    let url = server.url("anon", "");
    let repos: Api<HelmRepository> = Api::namespaced(client.clone(), NS);
    let repo: HelmRepository = serde_json::from_value(json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
        "metadata": {"name": "podinfo", "namespace": NS},
        "spec": {"interval": "1h", "url": url},
    }))
    .expect("a HelmRepository");
    repos
        .create(&PostParams::default(), &repo)
        .await
        .expect("HelmRepository created");
    wait_ready::<HelmRepository>(&repos, 1, DEADLINE).await;
    let mut ours = Vec::new();
    for round in 0..ROUNDS {
        ours.push(request_reconcile(&repos, "podinfo", round).await);
    }
    let home = tempfile::tempdir().expect("helm home");
    let helm = |args: &[&str]| {
        let started = Instant::now();
        let out = Command::new("helm")
            .args(args)
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_CACHE_HOME", home.path().join("cache"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .output()
            .expect("helm runs");
        assert!(
            out.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    };
    helm(&["repo", "add", "podinfo", &url]);
    let theirs: Vec<Duration> = (0..ROUNDS)
        .map(|_| helm(&["repo", "update", "podinfo"]))
        .collect();
    Some(Row::against(
        "HelmRepository poll, index unchanged (median)",
        median(&ours),
        "helm repo update",
        median(&theirs),
    ))
}

/// `big/`: a kustomization.yaml over [`BIG_NAMESPACES`] Namespaces and
/// ConfigMaps spread over them, [`BIG_OBJECTS`] objects in all.
fn write_big(dir: &Path) {
    std::fs::create_dir_all(dir).expect("writable work tree");
    let namespaces: String = (0..BIG_NAMESPACES)
        .map(|n| format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: big-{n}\n"))
        .collect();
    std::fs::write(dir.join("namespaces.yaml"), namespaces).expect("writable work tree");
    let mut resources = vec!["namespaces.yaml".to_owned()];
    let configmaps = BIG_OBJECTS - BIG_NAMESPACES;
    for (file, chunk) in (0..configmaps).collect::<Vec<_>>().chunks(100).enumerate() {
        let text: String = chunk
            .iter()
            .map(|i| {
                format!(
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:04}\n  namespace: big-{}\ndata:\n  index: \"{i}\"\n  color: blue\n",
                    i % BIG_NAMESPACES
                )
            })
            .collect();
        let name = format!("configmaps-{file}.yaml");
        std::fs::write(dir.join(&name), text).expect("writable work tree");
        resources.push(name);
    }
    let mut kustomization = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for r in resources {
        kustomization.push_str(&format!("- {r}\n"));
    }
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("writable work tree");
}

/// `kubectl apply --server-side -f file` against `cluster`, with a fresh
/// discovery cache as a first run on a new machine would have.
fn kubectl_apply(cluster: &TestCluster, file: &Path, scratch: &Path) -> Duration {
    let cache = scratch.join(format!("kubectl-cache-{}", nanos()));
    let start = Instant::now();
    let out = Command::new("kubectl")
        .args(["apply", "--server-side", "-f"])
        .arg(file)
        .env("KUBECONFIG", cluster.kubeconfig_path())
        .env("KUBECACHEDIR", &cache)
        .env("HOME", scratch)
        .output()
        .expect("kubectl is installed");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

// --------------------------------------------------------------- helpers --

fn configmap(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {NS}\ndata:\n  value: \"{value}\"\n"
    )
}

/// Waits until `count` objects of `api` are Ready, or `deadline` passes;
/// returns the time taken and how many were Ready. Lists every second at
/// most, so that polling takes little CPU from the controller.
async fn wait_ready<K>(api: &Api<K>, count: usize, deadline: Duration) -> (Duration, usize)
where
    K: kube::Resource + FluxObject + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let start = Instant::now();
    let poll = if count > 10 { ms(1000) } else { ms(20) };
    let mut reported = Instant::now();
    loop {
        let ready = api
            .list(&ListParams::default())
            .await
            .map_or(0, |l| l.items.iter().filter(|o| o.is_ready()).count());
        if ready >= count || start.elapsed() > deadline {
            return (start.elapsed(), ready);
        }
        if reported.elapsed() > Duration::from_secs(30) {
            eprintln!(
                "  ... {ready}/{count} Ready after {}",
                secs(start.elapsed())
            );
            reported = Instant::now();
        }
        tokio::time::sleep(poll).await;
    }
}

/// Sets a new `requestedAt` on `name` and times until its status says it
/// handled that request.
async fn request_reconcile<K>(api: &Api<K>, name: &str, round: usize) -> Duration
where
    K: kube::Resource + FluxObject + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let value = format!("bench-{round}-{}", nanos());
    let start = Instant::now();
    annotate(api, name, &value).await;
    wait_until(
        &format!("{name} handles {value}"),
        DEADLINE,
        ms(5),
        || async {
            let object = api.get(name).await.map_err(|e| e.to_string())?;
            (object.last_handled_reconcile_at() == Some(value.as_str()))
                .then_some(())
                .ok_or_else(|| format!("last handled {:?}", object.last_handled_reconcile_at()))
        },
    )
    .await;
    start.elapsed()
}

async fn annotate<K>(api: &Api<K>, name: &str, value: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {RECONCILE_REQUESTED_AT: value}}})),
    )
    .await
    .expect("requestedAt set");
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos()
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

// ---------------------------------------------------------------- table --

struct Row {
    figure: String,
    ours: String,
    peer: String,
    theirs: String,
    ratio: String,
}

impl Row {
    /// A figure with no peer that can run here.
    fn ours(figure: &str, ours: String) -> Row {
        Row {
            figure: figure.to_owned(),
            ours,
            peer: "-".into(),
            theirs: "-".into(),
            ratio: "-".into(),
        }
    }

    fn against(figure: &str, ours: Duration, peer: &str, theirs: Duration) -> Row {
        let row = Row {
            figure: figure.to_owned(),
            ours: millis(ours),
            peer: peer.to_owned(),
            theirs: millis(theirs),
            ratio: format!("{:.2}x", ours.as_secs_f64() / theirs.as_secs_f64()),
        };
        print_table(std::slice::from_ref(&row));
        row
    }
}

fn memory_rows(rows: &mut Vec<Row>, what: &str, idle: Memory, tracking: Memory) {
    let new = [
        Row::ours("controller RSS, idle (no objects)", mib(idle.rss)),
        Row::ours(
            &format!("controller RSS, tracking {what}"),
            mib(tracking.rss),
        ),
        Row::ours(
            &format!("controller RSS delta for {what}"),
            mib(tracking.rss.saturating_sub(idle.rss)),
        ),
        Row::ours(
            &format!("controller peak RSS (VmHWM), {what}"),
            mib(tracking.peak),
        ),
    ];
    print_table(&new);
    rows.extend(new);
}

fn print_table(rows: &[Row]) {
    let width = |f: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).len())
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let w = [
        width(|r| &r.figure, "figure"),
        width(|r| &r.ours, "driftless"),
        width(|r| &r.peer, "peer"),
        width(|r| &r.theirs, "peer's"),
        width(|r| &r.ratio, "ratio"),
    ];
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "| {:<a$} | {:>b$} | {:<c$} | {:>d$} | {:>e$} |",
        "figure",
        "driftless",
        "peer",
        "peer's",
        "ratio",
        a = w[0],
        b = w[1],
        c = w[2],
        d = w[3],
        e = w[4]
    );
    let _ = writeln!(
        out,
        "|{}|{}:|{}|{}:|{}:|",
        "-".repeat(w[0] + 2),
        "-".repeat(w[1] + 1),
        "-".repeat(w[2] + 2),
        "-".repeat(w[3] + 1),
        "-".repeat(w[4] + 1)
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {:<a$} | {:>b$} | {:<c$} | {:>d$} | {:>e$} |",
            r.figure,
            r.ours,
            r.peer,
            r.theirs,
            r.ratio,
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3],
            e = w[4]
        );
    }
}
