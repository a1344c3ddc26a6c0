//! How fast `Applier::apply` puts 1,000 objects into a cluster, next to
//! `kubectl apply --server-side` of the same manifests, and how cheap a
//! no-op reconcile of them is.
//!
//! Both run against their own in-process sandbox on loopback, so neither
//! sees the other's objects. Run with
//! `cargo run --release -p driftless-apply --example apply_bench`; needs
//! `kubectl` on the PATH. Not a test of correctness: the tests are.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use driftless_apply::{Action, Applier, ApplyOptions};
use driftless_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const NAMESPACES: usize = 5;
const OBJECTS: usize = 1_000;

fn namespace(i: usize) -> String {
    format!("bench-{i}")
}

/// 1,000 objects: 40% ConfigMaps, 30% Services, 30% Deployments.
fn objects() -> Vec<Value> {
    (0..OBJECTS)
        .map(|i| {
            let ns = namespace(i % NAMESPACES);
            let name = format!("app-{i}");
            match i % 10 {
                0..=3 => json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": ns},
                    "data": {"index": i.to_string(), "color": "blue", "size": "large"},
                }),
                4..=6 => json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"selector": {"app": name},
                             "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                }),
                _ => json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [{
                                "name": "web", "image": "nginx:1.27",
                                "ports": [{"containerPort": 8080}],
                                "env": [{"name": "INDEX", "value": i.to_string()}],
                            }]},
                        },
                    },
                }),
            }
        })
        .collect()
}

async fn start(dir: &Path) -> Sandbox {
    Sandbox::start(SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        data_dir: None,
        kubeconfig_out: Some(dir.join("kubeconfig")),
        rollout_delay: Duration::from_millis(500),
        ..Default::default()
    })
    .await
    .expect("the sandbox starts")
}

async fn client(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("a usable kubeconfig");
    kube::Client::try_from(config).expect("a client")
}

/// Runs kubectl against `dir`'s kubeconfig with a fresh discovery cache,
/// as a first run on a new machine would.
fn kubectl(dir: &Path, args: &[&str]) -> Duration {
    let cache = dir.join(format!("cache-{}", Instant::now().elapsed().as_nanos()));
    let start = Instant::now();
    let output = std::process::Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("KUBECACHEDIR", &cache)
        .env("HOME", dir)
        .output()
        .expect("kubectl is installed");
    let took = start.elapsed();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let root = std::env::temp_dir().join(format!("driftless-apply-bench-{}", std::process::id()));
    let (dir_a, dir_b): (PathBuf, PathBuf) = (root.join("a"), root.join("b"));
    std::fs::create_dir_all(&dir_a).expect("writable temp dir");
    std::fs::create_dir_all(&dir_b).expect("writable temp dir");
    let sandbox_a = start(&dir_a).await;
    let sandbox_b = start(&dir_b).await;

    let namespaces: Vec<Value> = (0..NAMESPACES)
        .map(|i| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace(i)}}))
        .collect();
    let set = objects();
    // JSON is YAML; each document opens with `---` so that kubectl reads
    // the file as a YAML stream rather than as one JSON object.
    let to_yaml = |objects: &[Value]| {
        objects
            .iter()
            .map(|o| format!("---\n{}\n", serde_json::to_string(o).expect("serializable")))
            .collect::<String>()
    };
    let ns_file = root.join("namespaces.yaml");
    let set_file = root.join("objects.yaml");
    std::fs::write(&ns_file, to_yaml(&namespaces)).expect("writable");
    std::fs::write(&set_file, to_yaml(&set)).expect("writable");

    let applier = Applier::new(
        client(&dir_a.join("kubeconfig")).await,
        ApplyOptions::default(),
    );
    applier.apply(namespaces).await.expect("namespaces apply");
    kubectl(
        &dir_b,
        &[
            "apply",
            "--server-side",
            "-f",
            ns_file.to_str().expect("utf-8"),
        ],
    );

    let start = Instant::now();
    let first = applier
        .apply(set.clone())
        .await
        .expect("the apply succeeds");
    let ours = start.elapsed();
    assert_eq!(first.entries.len(), OBJECTS);
    assert!(first.entries.iter().all(|c| c.action == Action::Created));

    let server_side = [
        "apply",
        "--server-side",
        "-f",
        set_file.to_str().expect("utf-8"),
    ];
    let theirs = kubectl(&dir_b, &server_side);

    let start = Instant::now();
    let second = applier.apply(set).await.expect("the no-op apply succeeds");
    let noop = start.elapsed();
    let unchanged = second
        .entries
        .iter()
        .filter(|c| c.action == Action::Unchanged)
        .count();
    let theirs_noop = kubectl(&dir_b, &server_side);

    println!(
        "{OBJECTS} objects (400 ConfigMaps, 300 Services, 300 Deployments) in {NAMESPACES} namespaces"
    );
    println!();
    println!("| run                                   | time      | per object |");
    println!("|---------------------------------------|-----------|------------|");
    let row = |what: &str, d: Duration| {
        println!(
            "| {what:<37} | {:>9} | {:>7.2} ms |",
            ms(d),
            d.as_secs_f64() * 1000.0 / OBJECTS as f64
        );
    };
    row("Applier::apply (create)", ours);
    row("kubectl apply --server-side (create)", theirs);
    row("Applier::apply (no-op, all unchanged)", noop);
    row("kubectl apply --server-side (no-op)", theirs_noop);
    println!();
    println!(
        "create: Applier takes {:.2}x kubectl's time; no-op: {unchanged}/{OBJECTS} unchanged",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    assert_eq!(unchanged, OBJECTS, "the second apply changed objects");

    sandbox_a.shutdown().await;
    sandbox_b.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}
