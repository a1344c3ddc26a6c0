//! Benchmark: our renderer against `kubectl kustomize`, process against process.
//!
//! Generates a 3-level overlay stack (base → mid → top: generators, hashed
//! names followed into Deployments, SMP and JSON patches, images, replicas,
//! prefixes, labels, namespace) at about 500, 1,000 and 2,000 objects in a
//! temporary directory, then times, as separate processes:
//! - this example re-run as a renderer (`bench --render <dir> <version>`),
//! - the `driftless` binary if found (`$DRIFTLESS_BIN`, or
//!   `target/release/driftless`): `driftless build kustomization <dir>`,
//! - `<kubectl> kustomize <dir>`,
//!
//! with wall time and peak RSS from `/usr/bin/time`, checks that the outputs
//! are identical, and prints the ratio with the machine's load average.
//!
//! Run with `cargo run --release -p driftless-render --example render_bench`; pass
//! sizes to override (`-- 500 1000`). `--kubectl CMD` (or `$BENCH_KUBECTL`)
//! picks the kubectl to race, e.g. `--kubectl kubectl-1.37` for Kustomize
//! v5.8.1; its `version --client` says which Kustomize it links, and our
//! side follows that release. `--runs N` times our process N times and
//! reports the median (the machine may be shared). Not for CI: kubectl
//! alone needs about a minute at 2,000 objects on a 2-core machine.

use driftless_render::KustomizeVersion;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What the command line asked for.
struct Options {
    sizes: Vec<usize>,
    kubectl: String,
    runs: usize,
}

fn parse_options(args: &[String]) -> Options {
    let mut options = Options {
        sizes: Vec::new(),
        kubectl: std::env::var("BENCH_KUBECTL").unwrap_or_else(|_| "kubectl".into()),
        runs: 1,
    };
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--kubectl" => options.kubectl = args.next().expect("--kubectl CMD").clone(),
            "--runs" => {
                options.runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--runs N, N a number");
            }
            size => options.sizes.push(size.parse().expect("sizes are numbers")),
        }
    }
    if options.sizes.is_empty() {
        options.sizes = vec![500, 1000, 2000];
    }
    options
}

/// The Kustomize release a kubectl links, from `kubectl version --client`.
fn kustomize_of(kubectl: &str) -> KustomizeVersion {
    let out = Command::new(kubectl)
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{kubectl} version: {e}"));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("kubectl version prints JSON");
    match json["kustomizeVersion"].as_str() {
        Some("v5.5.0") => KustomizeVersion::V5_5_0,
        Some("v5.8.1") => KustomizeVersion::V5_8_1,
        other => panic!("{kubectl} links Kustomize {other:?}; we follow v5.5.0 and v5.8.1"),
    }
}

fn version_arg(version: KustomizeVersion) -> &'static str {
    match version {
        KustomizeVersion::V5_5_0 => "v5.5.0",
        KustomizeVersion::V5_8_1 => "v5.8.1",
    }
}

/// The 1-minute load average, to read each figure against.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--render" {
        let version = match args[3].as_str() {
            "v5.8.1" => KustomizeVersion::V5_8_1,
            _ => KustomizeVersion::V5_5_0,
        };
        match driftless_render::build_as(Path::new(&args[2]), version) {
            Ok(out) => print!("{out}"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let options = parse_options(&args[1..]);
    let skip_kubectl = std::env::var_os("BENCH_SKIP_KUBECTL").is_some();
    let version = if skip_kubectl {
        KustomizeVersion::V5_5_0
    } else {
        kustomize_of(&options.kubectl)
    };
    let me = std::env::current_exe().expect("own path");
    let driftless = std::env::var_os("DRIFTLESS_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/driftless");
            p.is_file().then_some(p)
        });
    println!(
        "{:>7} {:>9} {:>8} {:>8} {:>11} {:>11} {:>11} {:>7} {:>10} {:>5}  same",
        "objects",
        "ours ms",
        "ours cpu",
        "ours MiB",
        "kubectl ms",
        "kubectl cpu",
        "kubectl MiB",
        "ratio",
        "in-proc ms",
        "load"
    );
    let mut summary = Vec::new();
    for n in options.sizes {
        let dir = std::env::temp_dir().join(format!("driftless-bench-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        generate(&dir, n);
        let top = dir.join("top");
        // In-process, best of 3.
        let mut best = f64::MAX;
        let mut ours_out = String::new();
        for _ in 0..3 {
            let t = Instant::now();
            ours_out = driftless_render::build_as(&top, version).expect("our build succeeds");
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        }
        let objects = ours_out.matches("\n---\n").count() + 1;
        let mut runs: Vec<Run> = (0..options.runs.max(1))
            .map(|_| {
                timed(
                    Command::new(&me)
                        .arg("--render")
                        .arg(&top)
                        .arg(version_arg(version)),
                )
            })
            .collect();
        runs.sort_by(|a, b| a.wall_ms.total_cmp(&b.wall_ms));
        let run_count = runs.len();
        let ours = runs.swap_remove(run_count / 2);
        let ours_load = load();
        if let Some(bin) = &driftless {
            match try_timed(Command::new(bin).args(["build", "kustomization"]).arg(&top)) {
                Ok(run) => println!(
                    "  driftless binary: {:.0} ms, {:.1} MiB, same output: {}",
                    run.wall_ms,
                    run.kb as f64 / 1024.0,
                    run.stdout == ours_out
                ),
                Err(e) => println!(
                    "  driftless binary skipped: {}",
                    e.lines().next().unwrap_or_default()
                ),
            }
        }
        let ours_mib = ours.kb as f64 / 1024.0;
        if skip_kubectl {
            println!(
                "{objects:>7} {:>9.0} {:>8.0} {ours_mib:>8.1} {:>11} {:>11} {:>11} {:>7} {best:>10.1} {ours_load:>5}",
                ours.wall_ms, ours.cpu_ms, "-", "-", "-", "-"
            );
            let _ = std::fs::remove_dir_all(&dir);
            continue;
        }
        let k = timed(Command::new(&options.kubectl).arg("kustomize").arg(&top));
        let k_load = load();
        let k_mib = k.kb as f64 / 1024.0;
        let ratio = k.wall_ms / ours.wall_ms;
        let same = k.stdout == ours_out;
        println!(
            "{objects:>7} {:>9.0} {:>8.0} {ours_mib:>8.1} {:>11.0} {:>11.0} {k_mib:>11.1} {ratio:>6.0}x {best:>10.1} {k_load:>5}  {same}",
            ours.wall_ms, ours.cpu_ms, k.wall_ms, k.cpu_ms
        );
        summary.push(format!(
            "{objects} objects: driftless {:.0} ms ({:.0} ms CPU), {ours_mib:.1} MiB (median of {run_count} runs, load {ours_load}); \
             {} ({}) {:.0} ms ({:.0} ms CPU), {k_mib:.1} MiB (load {k_load}): {ratio:.0}x faster, \
             {:.0}x less CPU, {:.2}x the memory, same output: {same}",
            ours.wall_ms,
            ours.cpu_ms,
            version.name(),
            options.kubectl,
            k.wall_ms,
            k.cpu_ms,
            k.cpu_ms / ours.cpu_ms.max(1.0),
            ours_mib / k_mib,
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
    for line in summary {
        println!("{line}");
    }
}

/// One timed process: wall and CPU (user + system) time, peak RSS, stdout.
struct Run {
    wall_ms: f64,
    cpu_ms: f64,
    kb: u64,
    stdout: String,
}

/// Runs a command under `/usr/bin/time`.
fn timed(cmd: &mut Command) -> Run {
    try_timed(cmd).unwrap_or_else(|e| panic!("{e}"))
}

fn try_timed(cmd: &mut Command) -> Result<Run, String> {
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(std::borrow::ToOwned::to_owned).collect();
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%U %S %M")
        .arg(&prog)
        .args(&args)
        .output()
        .expect("/usr/bin/time runs");
    let wall_ms = t.elapsed().as_secs_f64() * 1000.0;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{prog:?} failed: {stderr}"));
    }
    let figures: Vec<f64> = stderr
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [user, system, kb] = figures[..] else {
        return Err(format!("/usr/bin/time printed no figures: {stderr}"));
    };
    Ok(Run {
        wall_ms,
        cpu_ms: (user + system) * 1000.0,
        kb: kb as u64,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// About `n` objects: n/3 apps of Deployment + Service + generated ConfigMap.
fn generate(dir: &Path, n: usize) {
    let apps = n.div_ceil(3);
    let mut res = String::new();
    let mut kust = String::from("resources:\n- apps.yaml\nconfigMapGenerator:\n");
    for i in 0..apps {
        let _ = write!(
            res,
            r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: app{i}
  labels:
    app: app{i}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app{i}
  template:
    metadata:
      labels:
        app: app{i}
    spec:
      containers:
      - name: main
        image: registry.example.com/app:1.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: app{i}-config
        volumeMounts:
        - name: cfg
          mountPath: /etc/app
      volumes:
      - name: cfg
        configMap:
          name: app{i}-config
---
apiVersion: v1
kind: Service
metadata:
  name: app{i}
spec:
  selector:
    app: app{i}
  ports:
  - port: 80
    targetPort: 8080
---
"#
        );
        let _ = write!(
            kust,
            "- name: app{i}-config\n  literals:\n  - INDEX={i}\n  - MODE=base\n"
        );
    }
    write(&dir.join("base/apps.yaml"), &res);
    write(&dir.join("base/kustomization.yaml"), &kust);
    write(
        &dir.join("mid/kustomization.yaml"),
        r#"resources:
- ../base
namePrefix: mid-
commonLabels:
  tier: backend
images:
- name: registry.example.com/app
  newTag: "2.0"
patches:
- target:
    kind: Deployment
  patch: |
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: main
            resources:
              limits:
                memory: 256Mi
"#,
    );
    let mut top = String::from(
        r#"resources:
- ../mid
namespace: prod
commonAnnotations:
  team: platform
patches:
- target:
    kind: Service
  patch: |
    - op: add
      path: /spec/type
      value: ClusterIP
configMapGenerator:
- name: app0-config
  behavior: merge
  literals:
  - MODE=prod
replicas:
"#,
    );
    for i in 0..apps.min(50) {
        let _ = writeln!(top, "- name: mid-app{i}\n  count: 3");
    }
    write(&dir.join("top/kustomization.yaml"), &top);
}
