//! Sandbox benchmark: how fast objects are created and listed at 10k and
//! 50k objects, and the server's resident memory once they are stored.
//!
//! Runs the real `driftless sandbox` binary as its own process (so its
//! memory is measured alone) and drives it with kube-rs over loopback.
//! There is no kube-apiserver on our machines to stand beside it, so the
//! figures are ours alone.
//!
//! ```sh
//! cargo build --release -p driftless
//! cargo run --release -p driftless-sandbox --example bench            # 10000 and 50000
//! cargo run --release -p driftless-sandbox --example bench -- 2000    # other counts
//! ```
//!
//! Not for CI: it takes about a minute and measures the machine as much as the code.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

const CONCURRENCY: usize = 16;

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

fn binary() -> PathBuf {
    std::env::var_os("DRIFTLESS_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/driftless"),
        PathBuf::from,
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

async fn start(dir: &std::path::Path) -> (Server, Client) {
    let kubeconfig = dir.join("kubeconfig");
    let server = Server {
        child: Command::new(binary())
            .args(["sandbox", "--listen"])
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e}; build it with `cargo build --release -p driftless`",
                    binary().display()
                )
            }),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(config) = Kubeconfig::read_from(&kubeconfig) {
            let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
                .await
                .expect("the sandbox's kubeconfig is valid");
            let client = Client::try_from(config).expect("a client from the kubeconfig");
            if client.apiserver_version().await.is_ok() {
                return (server, client);
            }
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

async fn run(count: usize) {
    let dir = std::env::temp_dir().join(format!("driftless-bench-{}-{count}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (server, client) = start(&dir).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let baseline = resident_kib(server.child.id());

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
    let create_secs = started.elapsed().as_secs_f64();

    let stored_rss = resident_kib(server.child.id());

    let started = Instant::now();
    let all = api.list(&ListParams::default()).await.expect("list");
    let list_secs = started.elapsed().as_secs_f64();
    assert_eq!(all.items.len(), count);

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
    let paged_secs = started.elapsed().as_secs_f64();
    assert_eq!(paged, count);

    let started = Instant::now();
    let selected = api
        .list(&ListParams::default().labels("shard=3"))
        .await
        .expect("selector list");
    let selector_secs = started.elapsed().as_secs_f64();

    let rss = resident_kib(server.child.id());
    println!(
        "{count:>7} objects | create {:>8.0}/s ({create_secs:.2}s, {CONCURRENCY} concurrent) | list all {:>9.0}/s ({list_secs:.3}s) | list in pages of 500 {:>9.0}/s ({paged_secs:.3}s) | label selector {:>5} of {count} in {selector_secs:.3}s | RSS {:.1} MiB stored, {:.1} MiB after listing (idle {:.1} MiB)",
        count as f64 / create_secs,
        count as f64 / list_secs,
        count as f64 / paged_secs,
        selected.items.len(),
        stored_rss as f64 / 1024.0,
        rss as f64 / 1024.0,
        baseline as f64 / 1024.0,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::main]
async fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let counts = if counts.is_empty() {
        vec![10_000, 50_000]
    } else {
        counts
    };
    println!(
        "driftless sandbox benchmark ({}; no kube-apiserver here to compare against)",
        binary().display()
    );
    for count in counts {
        run(count).await;
    }
}
