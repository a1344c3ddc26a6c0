//! The image reflector's figures (issue 18, item 8): scanning a registry
//! repository of 5,000 tags, alone (`scan_tags`, what one ImageRepository
//! scan costs on the wire) and through the controller (an ImageRepository
//! created in the sandbox until its `lastScanResult` shows the 5,000 tags;
//! then a requested rescan that finds the same tags). An ImagePolicy's
//! evaluation over 100,000 tags is what `driftless_image::policy::latest`
//! computes from the tags held in memory: its figure is that crate's
//! `bench` example.
//!
//! The registry is Debian's `docker-registry` on loopback; the tags are made
//! fast: one manifest pushed, then 4,999 more tags pointed at it through the
//! distribution API (`PUT /v2/<name>/manifests/<tag>`). Flux's own figure
//! cannot be measured here (its controller is not installed), so only ours
//! is printed.
//!
//! Run `cargo run --release -p driftless-controller --example image_bench`.
//! `BENCH_TAGS` changes the tag count. Not for regression gating: timings
//! on a shared 2-core machine are noisy.

use std::time::{Duration, Instant};

use driftless_api::ImageRepository;
use driftless_source::oci::{
    ImageName, OciAuth, OciTarget, PushLayer, ScanOptions, push, scan_tags,
};
use driftless_testkit::cluster::TestCluster;
use driftless_testkit::registry::{Registry, RegistryOptions};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

const ROUNDS: usize = 5;
const DEADLINE: Duration = Duration::from_secs(300);

fn main() {
    let tags: usize = std::env::var("BENCH_TAGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(tags));
}

async fn bench(count: usize) {
    let registry = Registry::start(&RegistryOptions::default())
        .expect("docker-registry is installed (apt-get install -y docker-registry)");
    let started = Instant::now();
    let mut seed = OciTarget::new(registry.url("bench/app"), "seed");
    seed.insecure = true;
    let layer = PushLayer {
        media_type: "application/vnd.bench.layer.v1".to_owned(),
        data: b"bench".to_vec(),
    };
    push(
        &seed,
        "application/vnd.bench.config.v1+json",
        b"{}".to_vec(),
        vec![layer],
        Default::default(),
    )
    .await
    .expect("the seed manifest is pushed");
    let names: Vec<String> = (1..count)
        .map(|i| format!("1.{}.{}", i / 100, i % 100))
        .collect();
    let blocking_registry = &registry;
    tokio::task::block_in_place(|| blocking_registry.tag("bench/app", "seed", &names));
    println!(
        "setup: {count} tags in bench/app in {:.1}s (1 push + {} manifest PUTs)",
        started.elapsed().as_secs_f64(),
        count - 1
    );

    let image = ImageName::parse(&format!("{}/bench/app", registry.host())).expect("an image");
    let options = ScanOptions {
        insecure: true,
        ..ScanOptions::default()
    };
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let before = listings(&registry);
        let started = Instant::now();
        let found = scan_tags(&image, &OciAuth::Anonymous, &options)
            .await
            .expect("a scan");
        times.push(started.elapsed());
        assert_eq!(found.len(), count, "every tag is listed");
        let requests = listings(&registry) - before;
        println!(
            "scan_tags: {} tags in {:.1} ms ({requests} tag-list requests, page size {})",
            found.len(),
            ms(*times.last().expect("a time")),
            options.tag_page_size
        );
    }
    times.sort();
    println!(
        "scan_tags over {ROUNDS} rounds: min {:.1} ms, median {:.1} ms",
        ms(times[0]),
        ms(times[ROUNDS / 2])
    );

    through_the_controller(&registry, count).await;
    println!(
        "Flux's image-reflector-controller is not installed here: no figure of its own to compare."
    );
}

/// An ImageRepository on the 5,000 tags in a sandbox, with the controller
/// running in this process: time to the first scan in the status, and to a
/// requested rescan that finds the same tags.
async fn through_the_controller(registry: &Registry, count: usize) {
    let cluster = TestCluster::start().await;
    let client = cluster.client().await;
    install_crds(&client).await;
    let storage = tempfile::tempdir().expect("storage");
    let kubeconfig =
        kube::config::Kubeconfig::read_from(cluster.kubeconfig_path()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let mut options = driftless_controller::ControllerOptions::new(storage.path());
    options.artifact_listen = "127.0.0.1:0".parse().expect("loopback");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(driftless_controller::run(config, options, async {
        let _ = stopped.await;
    }));

    let api: Api<ImageRepository> = Api::namespaced(client.clone(), "default");
    let object = json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageRepository",
        "metadata": {"name": "bench", "namespace": "default"},
        "spec": {"image": format!("{}/bench/app", registry.host()), "interval": "1h", "insecure": true},
    });
    let started = Instant::now();
    api.patch("bench", &PatchParams::apply("bench"), &Patch::Apply(object))
        .await
        .expect("created");
    wait(&api, "the first scan", |repo| {
        repo.status
            .as_ref()
            .and_then(|s| s.last_scan_result.as_ref())
            .is_some_and(|r| usize::try_from(r.tag_count).ok() == Some(count))
    })
    .await;
    println!(
        "controller: ImageRepository created -> lastScanResult with {count} tags in {:.1} ms",
        ms(started.elapsed())
    );

    for round in 0..ROUNDS {
        let token = format!("bench-{round}");
        let started = Instant::now();
        api.patch(
            "bench",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
            ),
        )
        .await
        .expect("requested");
        wait(&api, "the requested rescan", |repo| {
            repo.status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                == Some(token.as_str())
        })
        .await;
        println!(
            "controller: requested rescan of {count} unchanged tags handled in {:.1} ms",
            ms(started.elapsed())
        );
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), controller).await;
}

async fn wait(api: &Api<ImageRepository>, what: &str, done: impl Fn(&ImageRepository) -> bool) {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if let Ok(repo) = api.get("bench").await
            && done(&repo)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn install_crds(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in driftless_api::crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    let started = Instant::now();
    for crd in driftless_api::crds() {
        let name = crd.metadata.name.clone().expect("a named CRD");
        loop {
            let established = crds
                .get(&name)
                .await
                .ok()
                .and_then(|c| c.status)
                .is_some_and(|s| {
                    s.conditions
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
            if established {
                break;
            }
            assert!(started.elapsed() < DEADLINE, "CRD {name} not established");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn listings(registry: &Registry) -> usize {
    registry
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET ") && r.contains("/tags/list"))
        .count()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
