//! Times our render against the `helm template` process on the largest
//! charts of the shared corpus: `cargo run --release -p driftless-chart
//! --example bench [CORPUS_DIR]`.
//!
//! Each case runs once as `helm template` (the oracle, `$HELM` or
//! `~/.local/oracles/helm`) and several times in-process; the ratio is
//! helm's wall time over our median. With `DRIFTLESS_BIN` set to the
//! `driftless` binary, our process (`driftless build chart`) is timed too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use driftless_chart::{RenderOptions, TemplateRequest, helm_template};

/// How many cases to time (the largest first).
const CASES: usize = 5;
/// In-process repetitions per case.
const RUNS: usize = 5;

fn main() {
    let corpus = std::env::args().nth(1).map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/helm-conformance"
            ))
        },
        PathBuf::from,
    );
    let helm = std::env::var("HELM").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".local/oracles/helm"),
        PathBuf::from,
    );
    let ours = std::env::var("DRIFTLESS_BIN").ok().map(PathBuf::from);
    let index =
        std::fs::read_to_string(corpus.join("index.tsv")).expect("the corpus has index.tsv");
    let mut rows: Vec<(String, String, u64)> = index
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((
                f.first()?.to_string(),
                f.get(1)?.to_string(),
                f.get(4)?.parse().ok()?,
            ))
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    let mut seen = Vec::new();
    println!(
        "{:<58} {:>10} {:>10} {:>8} {:>12}",
        "case", "helm ms", "ours ms", "ratio", "our proc ms"
    );
    for (case, chart, _) in rows {
        if seen.contains(&chart) || seen.len() == CASES {
            continue;
        }
        let dir = corpus.join("cases").join(&case);
        let Some(req) = request(&corpus, &dir) else {
            continue;
        };
        if helm_template(&req).is_err() {
            println!("{case:<58} (does not render yet, skipped)");
            continue;
        }
        seen.push(chart);
        let helm_time = time_process(&helm, &["template"], &req);
        let mut ours_times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let _ = helm_template(&req);
                start.elapsed()
            })
            .collect();
        ours_times.sort();
        let median = ours_times[RUNS / 2];
        let proc_time = ours
            .as_ref()
            .map(|bin| time_process(bin, &["build", "chart"], &req));
        println!(
            "{case:<58} {:>10.1} {:>10.2} {:>7.1}x {:>12}",
            ms(helm_time),
            ms(median),
            helm_time.as_secs_f64() / median.as_secs_f64(),
            proc_time.map_or_else(|| "-".to_string(), |t| format!("{:.1}", ms(t)))
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn time_process(bin: &Path, sub: &[&str], req: &TemplateRequest) -> Duration {
    let mut cmd = Command::new(bin);
    cmd.args(sub).arg(&req.options.release_name).arg(&req.chart);
    cmd.arg("--namespace").arg(&req.options.namespace);
    for f in &req.values_files {
        cmd.arg("-f").arg(f);
    }
    if req.options.include_crds {
        cmd.arg("--include-crds");
    }
    if let Some(v) = &req.options.kube_version {
        cmd.arg("--kube-version").arg(v);
    }
    for a in &req.options.api_versions {
        cmd.arg("--api-versions").arg(a);
    }
    let start = Instant::now();
    let out = cmd.output().expect("the renderer runs");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn request(corpus: &Path, dir: &Path) -> Option<TemplateRequest> {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).ok()?).ok()?;
    let mut options = RenderOptions {
        release_name: j["release"].as_str()?.to_string(),
        namespace: j["namespace"].as_str()?.to_string(),
        ..RenderOptions::default()
    };
    let args: Vec<String> = j["args"]
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--include-crds" => options.include_crds = true,
            "--kube-version" => options.kube_version = it.next().cloned(),
            "--api-versions" => options.api_versions.extend(it.next().cloned()),
            _ => return None,
        }
    }
    Some(TemplateRequest {
        chart: corpus.join("charts").join(j["chart"].as_str()?),
        values_files: j["values"]
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str().map(|v| dir.join(v)))
            .collect(),
        sources: driftless_chart::ValueSources::default(),
        options,
    })
}
