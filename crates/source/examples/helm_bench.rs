//! Benchmark: our Helm sources against the real `helm` on the same servers
//! (issue 12, item 8): a chart repository served by lighttpd and an OCI
//! registry (`docker-registry`), both on loopback.
//!
//! Packages the shared podinfo chart at `BENCH_CHART_VERSIONS` versions
//! (default 200), indexes them with `helm repo index`, pushes one with
//! `helm push`, and times, median of `BENCH_ROUNDS` (default 5):
//!
//! | driftless                               | helm                        |
//! |-----------------------------------------|-----------------------------|
//! | HelmRepository index, first fetch       | `helm repo add`             |
//! | HelmRepository poll, nothing changed    | `helm repo update`          |
//! | HelmChart from the repository           | `helm pull REPO/CHART`      |
//! | OCIRepository chart, first pull         | `helm pull oci://…`         |
//! | OCIRepository poll, nothing changed     | `helm pull oci://…`         |
//!
//! Helm has no cheaper "has it changed" request than fetching again, so
//! its poll rows are what a `helm`-driven poll costs; ours ask with the
//! index's ETag (one `304`) and the manifest digest (one `HEAD`). Ours run
//! in this process, as in the controller; helm's include its start-up
//! (about 50 ms here), as every `helm` command pays it.
//!
//! Run: `cargo run --release -p driftless-source --example helm_bench`
//! with `helm` on `PATH`, `docker-registry` and `lighttpd` installed and
//! `../shared` beside the checkout. Not for regression gating (timings on
//! a shared machine are noisy).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use driftless_source::helm::{ChartRequest, HelmFetcher, HelmRepository, LastIndex};
use driftless_source::oci::{
    HELM_CHART_LAYER, LayerOperation, OciFetcher, OciReference, OciSource,
};
use driftless_source::{ArtifactKey, Storage};
use driftless_testkit::helm_repo::{StaticServer, helm_package, helm_repo_index};
use driftless_testkit::registry::{Registry, RegistryOptions};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let versions: usize = env_or("BENCH_CHART_VERSIONS", 200);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let chart = podinfo()?;
    let tmp = tempfile::tempdir()?;
    let served = tmp.path().join("repo");
    let t = Instant::now();
    let mut packages = Vec::new();
    for minor in 0..versions {
        packages.push(helm_package(&chart, Some(&format!("6.{minor}.0")), &served));
    }
    helm_repo_index(&served, None);
    let index_bytes = std::fs::metadata(served.join("index.yaml"))?.len();
    println!(
        "packaged {versions} versions and indexed them in {:.1}s (index.yaml {:.1} KiB)",
        t.elapsed().as_secs_f64(),
        index_bytes as f64 / 1024.0
    );
    let server = StaticServer::start(&served);
    let registry = Registry::start(&RegistryOptions::default())
        .ok_or("docker-registry is not installed (apt-get install -y docker-registry)")?;
    let newest = packages.last().ok_or("no package")?;
    let helm = Helm::new(tmp.path())?;
    helm.run(&[
        "push",
        path_str(newest)?,
        &format!("oci://{}/charts", registry.host()),
        "--plain-http",
    ])?;
    let newest_version = format!("6.{}.0", versions - 1);

    println!("\n| operation | driftless | helm | ratio (helm / ours) |");
    println!("|---|---|---|---|");
    repository_rows(tmp.path(), &server, &helm, &newest_version, rounds)?;
    oci_rows(tmp.path(), &registry, &helm, &newest_version, rounds)?;
    Ok(())
}

fn repository_rows(
    tmp: &Path,
    server: &StaticServer,
    helm: &Helm,
    version: &str,
    rounds: usize,
) -> Result<(), BoxError> {
    let fetcher = HelmFetcher::new(Storage::new(tmp.join("storage"))?);
    let url = server.url("anon", "");
    let repo = HelmRepository::new(url.clone());
    let key = ArtifactKey::helm_repository("flux-system", "bench");

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut first = None;
    for _ in 0..rounds {
        ours.push(time(|| {
            first = Some(fetcher.reconcile_index(&key, &repo, None)?);
            Ok(())
        })?);
        theirs.push(time(|| {
            helm.run(&["repo", "add", "bench", &url, "--force-update"])
        })?);
    }
    report("HelmRepository index, first fetch", &ours, &theirs);

    let first = first.ok_or("no rounds")?;
    let last = LastIndex::from(&first);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(time(|| {
            fetcher.reconcile_index(&key, &repo, Some(&last))?;
            Ok(())
        })?);
        theirs.push(time(|| helm.run(&["repo", "update", "bench"]))?);
    }
    report("HelmRepository poll, nothing changed", &ours, &theirs);

    let index = fetcher.load_index(first.artifact())?;
    let request = ChartRequest::new("podinfo", version);
    let chart_key = ArtifactKey::new("helmchart", "flux-system", "bench-podinfo");
    let pulled = tmp.join("pulled");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(time(|| {
            fetcher.reconcile_chart(&chart_key, &repo, &index, &request, None)?;
            Ok(())
        })?);
        theirs.push(time(|| {
            fresh_dir(&pulled)?;
            helm.run(&[
                "pull",
                "bench/podinfo",
                "--version",
                version,
                "-d",
                path_str(&pulled)?,
            ])
        })?);
    }
    report("HelmChart from the repository", &ours, &theirs);
    Ok(())
}

fn oci_rows(
    tmp: &Path,
    registry: &Registry,
    helm: &Helm,
    version: &str,
    rounds: usize,
) -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let fetcher = OciFetcher::new(Storage::new(tmp.join("oci-storage"))?);
    let mut source = OciSource::new(
        registry.url("charts/podinfo"),
        OciReference::Tag(version.to_owned()),
    );
    source.insecure = true;
    source.layer.media_type = Some(HELM_CHART_LAYER.into());
    source.layer.operation = LayerOperation::Copy;
    let key = ArtifactKey::new("ocirepository", "flux-system", "podinfo");
    let reference = format!("oci://{}/charts/podinfo", registry.host());
    let pulled = tmp.join("oci-pulled");
    let helm_pull = || {
        fresh_dir(&pulled)?;
        helm.run(&[
            "pull",
            &reference,
            "--version",
            version,
            "--plain-http",
            "-d",
            path_str(&pulled)?,
        ])
    };

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut first = None;
    for _ in 0..rounds {
        ours.push(time(|| {
            first = Some(runtime.block_on(fetcher.reconcile(&key, &source, None))?);
            Ok(())
        })?);
        theirs.push(time(helm_pull)?);
    }
    report("OCIRepository chart, first pull", &ours, &theirs);

    let last = first.ok_or("no rounds")?.artifact().clone();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(time(|| {
            runtime.block_on(fetcher.reconcile(&key, &source, Some(&last)))?;
            Ok(())
        })?);
        theirs.push(time(helm_pull)?);
    }
    report("OCIRepository poll, nothing changed", &ours, &theirs);
    Ok(())
}

/// The real `helm`, with its configuration, cache and data kept in a
/// directory of its own.
struct Helm {
    home: PathBuf,
}

impl Helm {
    fn new(tmp: &Path) -> Result<Helm, BoxError> {
        let home = tmp.join("helm-home");
        std::fs::create_dir_all(&home)?;
        Ok(Helm { home })
    }

    fn run(&self, args: &[&str]) -> Result<(), BoxError> {
        let out = Command::new("helm")
            .args(args)
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .output()?;
        if !out.status.success() {
            return Err(format!(
                "helm {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(())
    }
}

/// An empty directory at `dir` (`helm pull -d` writes into an existing one).
fn fresh_dir(dir: &Path) -> Result<(), BoxError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

fn time(f: impl FnOnce() -> Result<(), BoxError>) -> Result<Duration, BoxError> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

fn report(what: &str, ours: &[Duration], theirs: &[Duration]) {
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "| {what} | {:.1} ms | {:.1} ms | {:.1}× |",
        ours * 1e3,
        theirs * 1e3,
        theirs / ours
    );
}

fn median(d: &[Duration]) -> f64 {
    let mut s: Vec<f64> = d.iter().map(Duration::as_secs_f64).collect();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn path_str(p: &Path) -> Result<&str, BoxError> {
    p.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", p.display()).into())
}

/// The shared corpus's podinfo chart.
fn podinfo() -> Result<PathBuf, BoxError> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("DRIFTLESS_SHARED_DIR")
        .map_or_else(|| manifest.join("../../../shared"), PathBuf::from);
    let chart = shared.join("helm-conformance/charts/podinfo");
    if chart.join("Chart.yaml").is_file() {
        Ok(chart)
    } else {
        Err(format!(
            "{} is missing: put ../shared beside the checkout",
            chart.display()
        )
        .into())
    }
}
