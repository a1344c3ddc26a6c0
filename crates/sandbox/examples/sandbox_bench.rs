//! Sandbox benchmark: create, get, list and watch throughput and the
//! server's memory at 10k and 50k objects, with RBAC on and with
//! authorization off (`AlwaysAllow`), side by side with their ratio — the
//! cost of authorizing every request. Besides throughput it reads the
//! server's own CPU time per create and per GET from `/proc`, which other
//! work on a shared machine disturbs far less than wall time.
//!
//! Each server runs as its own process (this example started again with
//! `--serve`, the sandbox library inside), so its memory is measured alone;
//! kube-rs drives it over loopback TLS. Both modes serve the same client: a
//! user from a token file whose rights come from a RoleBinding of `edit`,
//! so that with RBAC on every request is evaluated by the rules (the
//! administrator, in `system:masters`, would skip them). There is no
//! kube-apiserver on our machines to stand beside it, so the figures are
//! ours alone.
//!
//! ```sh
//! cargo run --release -p driftless-sandbox --example sandbox_bench            # 10000 and 50000
//! cargo run --release -p driftless-sandbox --example sandbox_bench -- 2000    # other counts
//! ```
//!
//! Not for CI: it takes minutes and measures the machine as much as the code.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use driftless_sandbox::{Authorization, Sandbox, SandboxConfig, StaticUser};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

const CONCURRENCY: usize = 16;
/// How many single-object GETs each run makes: enough requests that
/// authorization, paid once per request, shows.
const GETS: usize = 20_000;
/// Runs per count and mode, alternating modes; the table keeps each
/// figure's best, since other work on the machine only ever slows a run.
const ROUNDS: usize = 3;
/// Linux reports process CPU time in clock ticks of 1/100 s (`USER_HZ`).
const TICK_MICROS: f64 = 10_000.0;
/// The bench user's token; its group is bound to `edit` in `default`.
const USER_TOKEN: &str = "bench-user-token";
const USER_GROUP: &str = "benchers";

/// The sandbox process; killed when dropped, whatever happens in between.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mode_name(mode: Authorization) -> &'static str {
    match mode {
        Authorization::Rbac => "RBAC",
        Authorization::AlwaysAllow => "AlwaysAllow",
    }
}

/// `--serve DIR MODE`: the server side, until killed.
async fn serve(dir: &Path, mode: &str) {
    let sandbox = Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        kubeconfig_out: Some(dir.join("kubeconfig")),
        users: vec![StaticUser {
            token: USER_TOKEN.into(),
            name: "bench".into(),
            uid: "1".into(),
            groups: vec![USER_GROUP.into()],
        }],
        authorization: if mode == "AlwaysAllow" {
            Authorization::AlwaysAllow
        } else {
            Authorization::Rbac
        },
        ..Default::default()
    })
    .await
    .expect("the sandbox starts");
    std::future::pending::<()>().await;
    drop(sandbox);
}

/// Kernel figures for a process, in KiB (`VmRSS`, `VmHWM`: now and peak).
fn memory_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

/// The server's CPU time so far (user + system, all threads), in ticks:
/// less disturbed by other work on the machine than wall time.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which ends with the last ')'.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

async fn client_from(kubeconfig: &Path) -> Option<Client> {
    let config = Kubeconfig::read_from(kubeconfig).ok()?;
    let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .ok()?;
    Client::try_from(config).ok()
}

/// A client for the bench user, allowed what `edit` allows in `default`.
async fn user_client(admin: Client, dir: &Path) -> Client {
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "benchers-edit", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": USER_GROUP}],
    }))
    .expect("a valid RoleBinding");
    Api::<RoleBinding>::namespaced(admin, "default")
        .create(&PostParams::default(), &binding)
        .await
        .expect("the binding is created");
    let admin_config = std::fs::read_to_string(dir.join("kubeconfig")).expect("kubeconfig");
    let token_line = admin_config
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .expect("the kubeconfig has a token");
    let user_config = admin_config.replace(token_line, &format!("    token: {USER_TOKEN}"));
    let path = dir.join("kubeconfig-user");
    std::fs::write(&path, user_config).expect("write the user's kubeconfig");
    client_from(&path)
        .await
        .expect("the user's kubeconfig is valid")
}

async fn start(dir: &Path, mode: Authorization) -> (Server, Client) {
    let me = std::env::current_exe().expect("this example's path");
    let server = Server {
        child: Command::new(me)
            .arg("--serve")
            .arg(dir)
            .arg(mode_name(mode))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the example runs again as the server"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(client) = client_from(&dir.join("kubeconfig")).await
            && client.apiserver_version().await.is_ok()
        {
            return (server, user_client(client, dir).await);
        }
        assert!(
            Instant::now() < deadline,
            "the sandbox did not come up within 20s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config_map(i: usize) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("bench-{i:06}"), "labels": {"bench": "yes", "shard": (i % 10).to_string()}},
        "data": {"payload": "x".repeat(64)},
    }))
    .expect("a valid ConfigMap")
}

/// One run's figures.
struct Row {
    count: usize,
    mode: Authorization,
    create_per_s: f64,
    /// Server CPU per create, in µs.
    create_cpu_us: f64,
    get_per_s: f64,
    /// Server CPU per GET, in µs.
    get_cpu_us: f64,
    list_all_s: f64,
    paged_per_s: f64,
    watch_per_s: f64,
    stored_mib: f64,
    peak_mib: f64,
}

async fn run(count: usize, mode: Authorization) -> Row {
    let dir = std::env::temp_dir().join(format!(
        "driftless-bench-{}-{count}-{}",
        std::process::id(),
        mode_name(mode)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (server, client) = start(&dir, mode).await;
    let pid = server.child.id();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let ticks = cpu_ticks(pid);
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &config_map(i)).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("every create succeeds");
    let create_per_s = count as f64 / started.elapsed().as_secs_f64();
    let create_cpu_us = (cpu_ticks(pid) - ticks) as f64 * TICK_MICROS / count as f64;
    let stored_mib = memory_kib(pid, "VmRSS:") as f64 / 1024.0;

    let gets = GETS;
    let ticks = cpu_ticks(pid);
    let started = Instant::now();
    futures::stream::iter(0..gets)
        .map(|i| {
            let api = api.clone();
            async move { api.get(&format!("bench-{:06}", i % count)).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("every get succeeds");
    let get_per_s = gets as f64 / started.elapsed().as_secs_f64();
    let get_cpu_us = (cpu_ticks(pid) - ticks) as f64 * TICK_MICROS / gets as f64;

    let started = Instant::now();
    let all = api.list(&ListParams::default()).await.expect("list");
    let list_all_s = started.elapsed().as_secs_f64();
    assert_eq!(all.items.len(), count);
    drop(all);

    let started = Instant::now();
    let mut paged = 0;
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.expect("paged list");
        paged += page.items.len();
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    let paged_per_s = count as f64 / started.elapsed().as_secs_f64();
    assert_eq!(paged, count);

    // A watch from "0" replays every stored object as ADDED.
    let started = Instant::now();
    let mut events = api
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    let mut added = 0;
    while added < count {
        match events.next().await {
            Some(Ok(WatchEvent::Added(_))) => added += 1,
            Some(Ok(_)) => {}
            other => panic!("the watch ended after {added} of {count} objects: {other:?}"),
        }
    }
    let watch_per_s = count as f64 / started.elapsed().as_secs_f64();
    drop(events);

    let peak_mib = memory_kib(pid, "VmHWM:") as f64 / 1024.0;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Row {
        count,
        mode,
        create_per_s,
        create_cpu_us,
        get_per_s,
        get_cpu_us,
        list_all_s,
        paged_per_s,
        watch_per_s,
        stored_mib,
        peak_mib,
    }
}

impl Row {
    /// Each figure's best of two runs of the same count and mode.
    fn best(self, other: Row) -> Row {
        Row {
            create_per_s: self.create_per_s.max(other.create_per_s),
            create_cpu_us: self.create_cpu_us.min(other.create_cpu_us),
            get_per_s: self.get_per_s.max(other.get_per_s),
            get_cpu_us: self.get_cpu_us.min(other.get_cpu_us),
            list_all_s: self.list_all_s.min(other.list_all_s),
            paged_per_s: self.paged_per_s.max(other.paged_per_s),
            watch_per_s: self.watch_per_s.max(other.watch_per_s),
            stored_mib: self.stored_mib.min(other.stored_mib),
            peak_mib: self.peak_mib.min(other.peak_mib),
            ..self
        }
    }
}

fn print_row(label: &str, mode: &str, cells: [String; 9]) {
    println!(
        "| {label:>7} | {mode:<13} | {} |",
        cells
            .iter()
            .map(|c| format!("{c:>12}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

fn print_table(rows: &[Row]) {
    print_row(
        "objects",
        "authorization",
        [
            "create/s",
            "CPU/create µs",
            "get/s",
            "CPU/get µs",
            "list all (s)",
            "paged obj/s",
            "watch ev/s",
            "stored MiB",
            "peak MiB",
        ]
        .map(str::to_string),
    );
    println!("|{}|", ["---------"; 11].join("|"));
    for pair in rows.chunks(2) {
        for row in pair {
            print_row(
                &row.count.to_string(),
                mode_name(row.mode),
                [
                    format!("{:.0}", row.create_per_s),
                    format!("{:.0}", row.create_cpu_us),
                    format!("{:.0}", row.get_per_s),
                    format!("{:.1}", row.get_cpu_us),
                    format!("{:.3}", row.list_all_s),
                    format!("{:.0}", row.paged_per_s),
                    format!("{:.0}", row.watch_per_s),
                    format!("{:.1}", row.stored_mib),
                    format!("{:.1}", row.peak_mib),
                ],
            );
        }
        if let [rbac, open] = pair {
            let ratio = |a: f64, b: f64| format!("{:.2}x", a / b);
            print_row(
                &rbac.count.to_string(),
                "RBAC ÷ open",
                [
                    ratio(rbac.create_per_s, open.create_per_s),
                    ratio(rbac.create_cpu_us, open.create_cpu_us),
                    ratio(rbac.get_per_s, open.get_per_s),
                    ratio(rbac.get_cpu_us, open.get_cpu_us),
                    ratio(rbac.list_all_s, open.list_all_s),
                    ratio(rbac.paged_per_s, open.paged_per_s),
                    ratio(rbac.watch_per_s, open.watch_per_s),
                    ratio(rbac.stored_mib, open.stored_mib),
                    ratio(rbac.peak_mib, open.peak_mib),
                ],
            );
        }
    }
    println!();
    for pair in rows.chunks(2) {
        if let [rbac, open] = pair {
            println!(
                "{} objects: RBAC costs the server {:.1} µs more CPU per GET and {:.1} µs per create than AlwaysAllow",
                rbac.count,
                rbac.get_cpu_us - open.get_cpu_us,
                rbac.create_cpu_us - open.create_cpu_us,
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir, mode] = args.as_slice()
        && flag == "--serve"
    {
        return serve(&PathBuf::from(dir), mode).await;
    }
    let counts: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() {
        vec![10_000, 50_000]
    } else {
        counts
    };
    println!(
        "driftless sandbox benchmark: a user bound to `edit`, {CONCURRENCY} concurrent requests, kube-rs over loopback TLS, best of {ROUNDS} alternating runs (no kube-apiserver here to compare against); ratios are RBAC over AlwaysAllow"
    );
    let mut rows: Vec<Row> = Vec::new();
    for count in counts {
        let mut best: [Option<Row>; 2] = [None, None];
        for _ in 0..ROUNDS {
            for (slot, mode) in [Authorization::Rbac, Authorization::AlwaysAllow]
                .into_iter()
                .enumerate()
            {
                let row = run(count, mode).await;
                best[slot] = Some(match best[slot].take() {
                    Some(previous) => previous.best(row),
                    None => row,
                });
            }
        }
        rows.extend(best.into_iter().flatten());
    }
    print_table(&rows);
}
