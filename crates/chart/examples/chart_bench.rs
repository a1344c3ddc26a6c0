//! Times `driftless build chart` against `helm template`, process against
//! process, on the largest charts of the shared corpus and on a generated
//! chart at 1×, 10× and 100× their average template count:
//!
//! ```text
//! cargo build --release -p driftless --bin driftless
//! DRIFTLESS_BIN=target/release/driftless \
//!   cargo run --release -p driftless-chart --example chart_bench [CORPUS_DIR]
//! ```
//!
//! `helm` is `$HELM` or `~/.local/oracles/helm`. Per row, each side first
//! runs once under `/usr/bin/time` (when it exists) for its peak RSS;
//! then Helm and our binary run in turn, unwrapped, and the median wall
//! time of each is shown. `lib ms` is our render called in-process, what
//! the controller pays per render, and `lib spd` Helm's process time over
//! it. The load average is read at the start of the row. Without
//! `DRIFTLESS_BIN` our side is timed in-process only (no RSS). Not for
//! CI: the numbers depend on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use driftless_chart::{RenderOptions, TemplateRequest, ValueSources, helm_template};

/// How many corpus charts to time (the largest first).
const CASES: usize = 5;
/// Timed runs per side and row: at least `MIN_RUNS`, then more while the
/// row has taken less than `ROW_BUDGET` (the median is kept).
const MIN_RUNS: usize = 3;
const MAX_RUNS: usize = 15;
const ROW_BUDGET: Duration = Duration::from_secs(20);
/// Scales of the generated chart, in multiples of the corpus charts'
/// average template count.
const SCALES: [usize; 3] = [1, 10, 100];

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
    if ours.is_none() {
        println!("DRIFTLESS_BIN not set: timing our render in-process (no RSS)");
    }
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
    header("case");
    let mut seen = Vec::new();
    let mut template_counts = Vec::new();
    for (case, chart, _) in rows {
        if seen.contains(&chart) || seen.len() == CASES {
            continue;
        }
        let dir = corpus.join("cases").join(&case);
        let Some(req) = request(&corpus, &dir) else {
            continue;
        };
        if let Err(e) = helm_template(&req) {
            println!("{case:<52} does not render: {e}");
            continue;
        }
        template_counts.push(count_templates(&req.chart));
        seen.push(chart);
        row(&case, &helm, ours.as_deref(), &req);
    }
    if template_counts.is_empty() {
        return;
    }
    let base = template_counts.iter().sum::<usize>() / template_counts.len();
    println!();
    println!("generated chart, {base} templates at 1× (the average of the charts above):");
    header("templates");
    let work = std::env::temp_dir().join(format!("driftless-bench-{}", std::process::id()));
    for scale in SCALES {
        let count = base * scale;
        let chart = work.join(format!("gen-{count}"));
        generate_chart(&chart, count);
        let req = TemplateRequest {
            chart: chart.clone(),
            values_files: Vec::new(),
            sources: ValueSources::default(),
            options: RenderOptions {
                release_name: "rel".into(),
                namespace: "ns1".into(),
                ..RenderOptions::default()
            },
            stdin: None,
        };
        row(&format!("{count} ({scale}×)"), &helm, ours.as_deref(), &req);
    }
    let _ = std::fs::remove_dir_all(&work);
}

fn header(first: &str) {
    println!(
        "{first:<52} {:>8} {:>8} {:>8} {:>8} {:>7} {:>5} {:>8} {:>7} {:>5} {:>5}",
        "helm ms",
        "helm MiB",
        "ours ms",
        "ours MiB",
        "speed",
        "mem",
        "lib ms",
        "lib spd",
        "runs",
        "load"
    );
}

/// One row: Helm and our binary run in turn (so a change in the machine's
/// load falls on both), then our render in-process, the time a controller
/// pays per render once it is running.
fn row(label: &str, helm: &Path, ours: Option<&Path>, req: &TemplateRequest) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    let helm_cmd = || command(helm, &["template"], req);
    let helm_rss = peak_rss_kib(helm_cmd());
    let our_rss = ours.and_then(|bin| peak_rss_kib(command(bin, &["build", "chart"], req)));
    let mut helm_times = Vec::new();
    let mut our_times = Vec::new();
    let started = Instant::now();
    while helm_times.len() < MIN_RUNS
        || (helm_times.len() < MAX_RUNS && started.elapsed() < ROW_BUDGET)
    {
        helm_times.push(wall_time(helm_cmd()));
        match ours {
            Some(bin) => our_times.push(wall_time(command(bin, &["build", "chart"], req))),
            None => our_times.push(in_process_time(req)),
        }
    }
    let lib_times: Vec<Duration> = (0..helm_times.len())
        .map(|_| in_process_time(req))
        .collect();
    let runs = helm_times.len();
    let (theirs, mine, lib) = (median(helm_times), median(our_times), median(lib_times));
    let mib = |k: Option<u64>| k.map_or("-".to_string(), |k| format!("{:.1}", kib_to_mib(k)));
    let mem_ratio = match (helm_rss, our_rss) {
        (Some(h), Some(o)) if h > 0 => format!("{:.2}", kib_to_mib(o) / kib_to_mib(h)),
        _ => "-".into(),
    };
    println!(
        "{label:<52} {:>8.1} {:>8} {:>8.1} {:>8} {:>6.1}× {:>5} {:>8.1} {:>6.1}× {runs:>5} {load:>5}",
        ms(theirs),
        mib(helm_rss),
        ms(mine),
        mib(our_rss),
        theirs.as_secs_f64() / mine.as_secs_f64(),
        mem_ratio,
        ms(lib),
        theirs.as_secs_f64() / lib.as_secs_f64(),
    );
}

#[expect(clippy::cast_precision_loss, reason = "RSS in KiB fits an f64 exactly")]
fn kib_to_mib(k: u64) -> f64 {
    k as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn in_process_time(req: &TemplateRequest) -> Duration {
    let start = Instant::now();
    let _ = helm_template(req);
    start.elapsed()
}

/// `bin sub RELEASE CHART flags`, as the case asks.
fn command(bin: &Path, sub: &[&str], req: &TemplateRequest) -> Command {
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
    cmd
}

/// The wall time of one run, the process alone: no wrapper, output read
/// through a pipe as a caller would.
fn wall_time(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("the renderer runs");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Peak RSS of one run under `/usr/bin/time` (also the run that warms the
/// page cache), or `None` without it. Timed runs go without the wrapper,
/// whose own start would count on both sides.
fn peak_rss_kib(cmd: Command) -> Option<u64> {
    let gnu_time = Path::new("/usr/bin/time");
    let rss_file = std::env::temp_dir().join(format!("driftless-bench-rss-{}", std::process::id()));
    let wrapped = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file);
        c.arg(cmd.get_program()).args(cmd.get_args());
        c
    } else {
        cmd
    };
    wall_time(wrapped);
    let peak = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.trim().lines().last()?.trim().parse::<u64>().ok());
    let _ = std::fs::remove_file(&rss_file);
    peak
}

/// Template files of a chart and its vendored subcharts.
fn count_templates(chart: &Path) -> usize {
    let mut count = 0;
    let mut dirs = vec![chart.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .parent()
                .is_some_and(|p| p.components().any(|c| c.as_os_str() == "templates"))
            {
                count += 1;
            }
        }
    }
    count
}

/// A chart of `count` templates shaped like real ones: helpers through
/// `include`, `toYaml` of values, `range`, `with`, `tpl`, `default`.
fn generate_chart(dir: &Path, count: usize) {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).expect("creates the generated chart");
    let write = |path: PathBuf, text: &str| std::fs::write(path, text).expect("writes the chart");
    write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: gen\nversion: 1.0.0\nappVersion: \"2.3.4\"\n",
    );
    write(dir.join("values.yaml"), GENERATED_VALUES);
    write(templates.join("_helpers.tpl"), GENERATED_HELPERS);
    for i in 0..count {
        let kind = if i % 2 == 0 {
            "ConfigMap"
        } else {
            "Deployment"
        };
        write(
            templates.join(format!("t{i:05}.yaml")),
            &GENERATED_TEMPLATE
                .replace("@INDEX@", &i.to_string())
                .replace("@KIND@", kind),
        );
    }
}

const GENERATED_VALUES: &str = r#"image:
  repository: example/app
  tag: ""
  pullPolicy: IfNotPresent
replicas: 2
podAnnotations:
  checksum: "{{ .Release.Name }}-{{ .Chart.Version }}"
env:
  - name: A
    value: "1"
  - name: B
    value: two
  - name: C
    value: "true"
resources:
  limits:
    cpu: 500m
    memory: 256Mi
  requests:
    cpu: 100m
    memory: 128Mi
nodeSelector:
  kubernetes.io/os: linux
extraLabels:
  team: platform
  tier: backend
"#;

const GENERATED_HELPERS: &str = r#"{{- define "gen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "gen.fullname" -}}
{{- printf "%s-%s" .Release.Name (include "gen.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "gen.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "gen.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.extraLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}
"#;

const GENERATED_TEMPLATE: &str = r#"apiVersion: {{ if eq "@KIND@" "Deployment" }}apps/v1{{ else }}v1{{ end }}
kind: @KIND@
metadata:
  name: {{ include "gen.fullname" . }}-@INDEX@
  labels:
    {{- include "gen.labels" . | nindent 4 }}
  annotations:
    {{- range $k, $v := .Values.podAnnotations }}
    {{ $k }}: {{ tpl $v $ | quote }}
    {{- end }}
{{- if eq "@KIND@" "Deployment" }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          env:
            {{- range .Values.env }}
            - name: {{ .name }}
              value: {{ .value | quote }}
            {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- else }}
data:
  index: "@INDEX@"
  {{- range $i, $e := .Values.env }}
  {{ $e.name | lower }}: {{ $e.value | quote }}
  {{- end }}
{{- end }}
"#;

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
        sources: ValueSources::default(),
        options,
        stdin: None,
    })
}
