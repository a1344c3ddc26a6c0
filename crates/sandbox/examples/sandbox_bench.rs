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
//! cargo run --release -p driftless-sandbox --example sandbox_bench            # 10000 and 50000
//! cargo run --release -p driftless-sandbox --example sandbox_bench -- 2000    # other counts
//! cargo run --release -p driftless-sandbox --example sandbox_bench -- --as-user 10000
//! ```
//!
//! By default the client is the administrator, in `system:masters`, whom
//! authorization lets through at once. `--as-user` runs the same requests
//! as a user from `--token-file` whose rights come from a RoleBinding of
//! `edit`, so that every request is evaluated by RBAC.
//!
//! Not for CI: it takes about a minute and measures the machine as much as the code.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::RoleBinding;
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

/// The bench user's token, group and binding, for `--as-user`.
const USER_TOKEN: &str = "bench-user-token";

async fn client_from(kubeconfig: &std::path::Path) -> Option<Client> {
    let config = Kubeconfig::read_from(kubeconfig).ok()?;
    let config = Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .expect("the sandbox's kubeconfig is valid");
    Some(Client::try_from(config).expect("a client from the kubeconfig"))
}

/// A client for the bench user, allowed what `edit` allows in `default`.
async fn user_client(admin: Client, dir: &std::path::Path) -> Client {
    let binding: RoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "benchers-edit", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "benchers"}],
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

async fn start(dir: &std::path::Path, as_user: bool) -> (Server, Client) {
    let kubeconfig = dir.join("kubeconfig");
    let mut command = Command::new(binary());
    if as_user {
        let tokens = dir.join("tokens.csv");
        std::fs::write(&tokens, format!("{USER_TOKEN},bench,1,\"benchers\"\n"))
            .expect("write the token file");
        command.arg("sandbox").arg("--token-file").arg(tokens);
    } else {
        command.arg("sandbox");
    }
    let server = Server {
        child: command
            .arg("--listen")
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
        if let Some(client) = client_from(&kubeconfig).await
            && client.apiserver_version().await.is_ok()
        {
            if as_user {
                return (server, user_client(client, dir).await);
            }
            return (server, client);
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

async fn run(count: usize, as_user: bool) {
    let dir = std::env::temp_dir().join(format!("driftless-bench-{}-{count}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (server, client) = start(&dir, as_user).await;
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
        "{count:>7} objects as {} | create {:>8.0}/s ({create_secs:.2}s, {CONCURRENCY} concurrent) | list all {:>9.0}/s ({list_secs:.3}s) | list in pages of 500 {:>9.0}/s ({paged_secs:.3}s) | label selector {:>5} of {count} in {selector_secs:.3}s | RSS {:.1} MiB stored, {:.1} MiB after listing (idle {:.1} MiB)",
        if as_user {
            "a user (RBAC)"
        } else {
            "the admin"
        },
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
    let as_user = std::env::args().any(|a| a == "--as-user");
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
        run(count, as_user).await;
    }
}
