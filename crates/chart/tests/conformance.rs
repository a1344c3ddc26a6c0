//! Differential test against Helm v4.3.1: every case in
//! `../shared/helm-conformance/cases` and in `tests/cases` is rendered with
//! our renderer and compared with what `helm template` printed.
//!
//! Deterministic cases must match byte for byte. Nondeterministic ones use
//! the corpus's `volatile.tsv` rule: same line count and final newline,
//! unlisted lines identical, listed lines keep their prefix and suffix.
//! A case listed in `tests/known-failing.txt` may fail; any other failure
//! fails the test, and so does a listed case that now passes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use driftless_chart::{RenderOptions, TemplateRequest, ValueSources, helm_template};

/// A case's `case.json`, the fields we use.
struct Case {
    chart: PathBuf,
    release: String,
    namespace: String,
    values: Vec<PathBuf>,
    args: Vec<String>,
    deterministic: bool,
}

fn read_case(dir: &Path, charts: &Path) -> Result<Case, String> {
    let text = fs::read_to_string(dir.join("case.json")).map_err(|e| format!("case.json: {e}"))?;
    let j: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("case.json: {e}"))?;
    let s = |k: &str| j[k].as_str().unwrap_or_default().to_string();
    let list = |k: &str| -> Vec<String> {
        j[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let chart_name = s("chart");
    // Our own cases carry their chart inside the case directory.
    let chart = if dir.join("chart").is_dir() {
        dir.join("chart")
    } else {
        charts.join(&chart_name)
    };
    Ok(Case {
        chart,
        release: s("release"),
        namespace: s("namespace"),
        values: list("values").iter().map(|v| dir.join(v)).collect(),
        args: list("args"),
        deterministic: j["deterministic"].as_bool().unwrap_or(true),
    })
}

/// `helm template`'s flags as the cases use them.
fn request(case: &Case, dir: &Path) -> Result<TemplateRequest, String> {
    let mut options = RenderOptions {
        release_name: case.release.clone(),
        namespace: case.namespace.clone(),
        ..RenderOptions::default()
    };
    let mut sources = ValueSources::default();
    let mut values_files = case.values.clone();
    let mut args = case.args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag {
            "--include-crds" => options.include_crds = true,
            "--is-upgrade" => options.is_upgrade = true,
            "--skip-tests" => options.skip_tests = true,
            "--no-hooks" => options.no_hooks = true,
            "--skip-schema-validation" => options.skip_schema_validation = true,
            // Only an install reads it; `helm template` prints the same.
            "--skip-crds" => {}
            "--kube-version" => options.kube_version = Some(value()?),
            "--api-versions" | "-a" => options
                .api_versions
                .extend(value()?.split(',').map(str::to_string)),
            "--namespace" | "-n" => options.namespace = value()?,
            "--show-only" | "-s" => options.show_only.push(value()?),
            "--set" => sources.set.push(value()?),
            "--set-string" => sources.set_string.push(value()?),
            "--set-json" => sources.json.push(value()?),
            "--set-file" => sources.set_file.push(value()?),
            "--set-literal" => sources.set_literal.push(value()?),
            "-f" | "--values" => values_files.push(dir.join(value()?)),
            other => return Err(format!("unsupported argument {other}")),
        }
    }
    Ok(TemplateRequest {
        chart: case.chart.clone(),
        values_files,
        sources,
        options,
        stdin: None,
    })
}

/// `(line number, prefix, suffix)` of each volatile line.
fn volatile(dir: &Path) -> Vec<(usize, String, String)> {
    let Ok(text) = fs::read_to_string(dir.join("volatile.tsv")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let n = parts.next()?.parse().ok()?;
            Some((
                n,
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

fn compare(expected: &str, got: &str, volatile: &[(usize, String, String)]) -> Result<(), String> {
    if volatile.is_empty() {
        return if expected == got {
            Ok(())
        } else {
            Err(diff(expected, got))
        };
    }
    let e: Vec<&str> = expected.split('\n').collect();
    let g: Vec<&str> = got.split('\n').collect();
    if e.len() != g.len() {
        return Err(format!(
            "line count {} != expected {}\n{}",
            g.len(),
            e.len(),
            diff(expected, got)
        ));
    }
    for (i, (a, b)) in e.iter().zip(&g).enumerate() {
        if a == b {
            continue;
        }
        let listed = volatile.iter().find(|(n, _, _)| *n == i + 1);
        match listed {
            Some((_, pre, suf))
                if b.len() >= pre.len() + suf.len()
                    && b.starts_with(pre.as_str())
                    && b.ends_with(suf.as_str()) => {}
            _ => {
                return Err(format!(
                    "line {} differs\n  expected| {a}\n  got     | {b}",
                    i + 1
                ));
            }
        }
    }
    Ok(())
}

fn diff(expected: &str, got: &str) -> String {
    let e: Vec<&str> = expected.split('\n').collect();
    let g: Vec<&str> = got.split('\n').collect();
    let at = e
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(e.len().min(g.len()));
    let lo = at.saturating_sub(3);
    let mut s = format!(
        "first difference at line {} (expected {} lines, got {})\n",
        at + 1,
        e.len(),
        g.len()
    );
    for i in lo..at + 4 {
        if let Some(l) = e.get(i) {
            s.push_str(&format!("  expected {:>5}| {l}\n", i + 1));
        }
    }
    for i in lo..at + 4 {
        if let Some(l) = g.get(i) {
            s.push_str(&format!("  got      {:>5}| {l}\n", i + 1));
        }
    }
    s
}

fn run_case(dir: &Path, charts: &Path) -> Result<(), String> {
    let case = read_case(dir, charts)?;
    let req = request(&case, dir)?;
    let expected_path = dir.join("expected.yaml");
    let got = helm_template(&req);
    match fs::read_to_string(&expected_path) {
        Ok(expected) => {
            let got = got.map_err(|e| format!("render failed: {}", chain(&e)))?;
            let vol = if case.deterministic {
                Vec::new()
            } else {
                volatile(dir)
            };
            compare(&expected, &got, &vol)
        }
        Err(_) => {
            let expected = fs::read_to_string(dir.join("expected_error"))
                .map_err(|_| "no expected.yaml nor expected_error".to_string())?;
            match got {
                Ok(_) => Err(format!(
                    "render succeeded, expected an error containing {:?}",
                    expected.trim()
                )),
                Err(e) => {
                    let msg = chain(&e);
                    match expected
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .find(|l| !msg.contains(l))
                    {
                        Some(missing) => Err(format!("error {msg:?} does not contain {missing:?}")),
                        None => Ok(()),
                    }
                }
            }
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("case.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn helm_conformance() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = manifest.join("../../../shared/helm-conformance");
    let have_shared = corpus.join("cases").is_dir();
    if !have_shared {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but the shared Helm conformance corpus is missing at {}",
            corpus.display()
        );
        println!(
            "SKIPPED: the shared Helm conformance cases (not found at {}); only this crate's own cases run",
            corpus.display()
        );
        eprintln!(
            "SKIPPED: the shared Helm conformance cases (not found at {}); only this crate's own cases run",
            corpus.display()
        );
    }
    let known_text = fs::read_to_string(manifest.join("tests/known-failing.txt"))
        .expect("tests/known-failing.txt is checked in");
    let known: BTreeMap<String, String> = known_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| match l.split_once('#') {
            Some((name, why)) => (name.trim().to_string(), why.trim().to_string()),
            None => (l.trim().to_string(), String::new()),
        })
        .collect();
    let charts = corpus.join("charts");
    let mut all = if have_shared {
        cases_in(&corpus.join("cases"))
    } else {
        Vec::new()
    };
    all.extend(cases_in(&manifest.join("tests/cases")));
    let only = std::env::var("CASE").ok();
    let (mut passed, mut failed, mut known_failed) = (0, 0, 0);
    let mut problems = Vec::new();
    // `WRITE_KNOWN_FAILING=1` rewrites the list from this run, each reason
    // the first line of the failure (edit them into something better).
    let rewrite = std::env::var("WRITE_KNOWN_FAILING").as_deref() == Ok("1");
    let mut now_failing: Vec<String> = Vec::new();
    for dir in &all {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let result = std::panic::catch_unwind(|| run_case(dir, &charts))
            .unwrap_or_else(|_| Err("panicked".into()));
        if let Err(e) = &result {
            let why = known
                .get(&name)
                .cloned()
                .unwrap_or_else(|| e.lines().next().unwrap_or("").chars().take(160).collect());
            now_failing.push(format!("{name}  # {why}"));
        }
        match (result, known.contains_key(&name)) {
            (Ok(()), false) => passed += 1,
            (Ok(()), true) => problems.push(format!(
                "{name}: passes now; remove it from tests/known-failing.txt"
            )),
            (Err(_), true) => known_failed += 1,
            (Err(e), false) => {
                failed += 1;
                problems.push(format!("{name}: {e}"));
            }
        }
    }
    if rewrite {
        let header: String = known_text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(
            manifest.join("tests/known-failing.txt"),
            header + &now_failing.join("\n") + "\n",
        )
        .expect("writes the list");
        return;
    }
    println!(
        "helm conformance: {passed} passed, {known_failed} known failing, {failed} failed of {}",
        passed + known_failed + failed
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
