//! Differential test against Kustomize: every case in
//! `../shared/kustomize-conformance` and in `tests/cases` is built with our
//! renderer and compared with the output `kubectl kustomize` gave, once as
//! Kustomize v5.5.0 (kubectl 1.32) and once as Kustomize v5.8.1 (kubectl
//! 1.37, what Flux links). A case whose result differs between the two
//! holds the newer one in `expected-v5.8.1.yaml` or `expected_error-v5.8.1`;
//! the shared cases print the same under both (checked with both kubectls),
//! so their one expectation serves both runs.
//!
//! A case with a `flux_fallback` file is built as Flux builds a directory
//! ([`driftless_render::build_with_flux_fallback`]); its expected output
//! is Flux's, not Kustomize's.
//!
//! A case listed in `tests/known-failing.txt` may fail; any other failure
//! fails the test, and so does a listed case that now passes.

use driftless_render::KustomizeVersion;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn trim_trailing(s: &str) -> String {
    s.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// Runs one case; `Ok(())` when our output matches.
///
/// For our own cases (`check_message`), each line of `expected_error` must
/// appear in our error chain; the shared cases hold Kustomize's wording, so
/// there any failure counts.
fn run_case(case: &Path, check_message: bool, version: KustomizeVersion) -> Result<(), String> {
    let build_dir = fs::read_to_string(case.join("build_dir"))
        .map_err(|e| format!("cannot read build_dir: {e}"))?;
    let dir = case.join(build_dir.trim());
    // A case marked `flux_fallback` is built the way Flux builds a
    // directory (one without a kustomization renders its manifests).
    let got = if case.join("flux_fallback").is_file() {
        driftless_render::build_with_flux_fallback(&dir)
    } else {
        driftless_render::build_as(&dir, version)
    };
    // Where the releases differ, the case holds the newer one's result in
    // `expected-v5.8.1.yaml` or `expected_error-v5.8.1`.
    let (expected_yaml, expected_error) = match version {
        KustomizeVersion::V5_8_1
            if case.join("expected-v5.8.1.yaml").is_file()
                || case.join("expected_error-v5.8.1").is_file() =>
        {
            ("expected-v5.8.1.yaml", "expected_error-v5.8.1")
        }
        _ => ("expected.yaml", "expected_error"),
    };
    if let Ok(expected) = fs::read_to_string(case.join(expected_yaml)) {
        match got {
            Ok(out) if trim_trailing(&out) == trim_trailing(&expected) => Ok(()),
            Ok(out) => Err(format!("output differs:\n{}", diff(&expected, &out))),
            Err(e) => Err(format!("build failed: {}", chain(&e))),
        }
    } else {
        let expected = fs::read_to_string(case.join(expected_error))
            .map_err(|e| format!("no expected.yaml nor expected_error: {e}"))?;
        match got {
            Ok(_) => Err(format!(
                "build succeeded, expected error containing {expected:?}"
            )),
            Err(e) => {
                let msg = chain(&e);
                let missing = expected
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .find(|l| !msg.contains(l));
                match missing {
                    Some(m) if check_message => {
                        Err(format!("error {msg:?} does not contain {m:?}"))
                    }
                    _ => Ok(()),
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

fn diff(expected: &str, got: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let first = e
        .iter()
        .zip(g.iter())
        .position(|(a, b)| a.trim_end() != b.trim_end());
    let at = first.unwrap_or(e.len().min(g.len()));
    let lo = at.saturating_sub(3);
    let mut s = format!("first difference at line {}\n", at + 1);
    for i in lo..(at + 4) {
        if let Some(l) = e.get(i) {
            s.push_str(&format!("  expected {:>4}| {l}\n", i + 1));
        }
    }
    for i in lo..(at + 4) {
        if let Some(l) = g.get(i) {
            s.push_str(&format!("  got      {:>4}| {l}\n", i + 1));
        }
    }
    s
}

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("build_dir").is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn kustomize_conformance() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The team's shared directory sits beside the checkout (`../shared`);
    // DRIFTLESS_SHARED_DIR points elsewhere, e.g. from a worktree.
    let shared_dir = std::env::var_os("DRIFTLESS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared"));
    let shared = shared_dir.join("kustomize-conformance/cases");
    // The shared corpus is team material beside the checkout, not part of
    // the product: a clone alone runs our own cases and says what it
    // skipped; CI (DRIFTLESS_REQUIRE_SHARED=1) must have it.
    let have_shared = shared.is_dir();
    if !have_shared {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but the shared Kustomize conformance corpus is missing at {}",
            shared.display()
        );
        println!(
            "SKIPPED: the shared Kustomize conformance cases (not found at {}); only this crate's own cases run",
            shared.display()
        );
        eprintln!(
            "SKIPPED: the shared Kustomize conformance cases (not found at {}); only this crate's own cases run",
            shared.display()
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
    let own = manifest.join("tests/cases");
    let mut all = if have_shared {
        cases_in(&shared)
    } else {
        Vec::new()
    };
    all.extend(cases_in(&own));
    let only = std::env::var("CASE").ok();
    let (mut passed, mut failed, mut known_failed) = (0, 0, 0);
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for case in &all {
        let name = case
            .file_name()
            .expect("case has a name")
            .to_string_lossy()
            .to_string();
        if let Some(o) = &only
            && !name.contains(o.as_str())
        {
            continue;
        }
        seen.push(name.clone());
        for version in [KustomizeVersion::V5_5_0, KustomizeVersion::V5_8_1] {
            let res = std::panic::catch_unwind(|| run_case(case, case.starts_with(&own), version))
                .unwrap_or_else(|_| Err("renderer panicked".to_string()));
            let at = version.name();
            match (res, known.contains_key(&name)) {
                (Ok(()), false) => passed += 1,
                (Ok(()), true) => {
                    passed += 1;
                    problems.push(format!(
                        "{name} ({at}): passes but is listed in known-failing.txt"
                    ));
                }
                (Err(_), true) => known_failed += 1,
                (Err(e), false) => {
                    failed += 1;
                    problems.push(format!("{name} ({at}): {e}"));
                }
            }
        }
    }
    for name in known.keys() {
        if only.is_none() && have_shared && !seen.contains(name) {
            problems.push(format!(
                "{name}: listed in known-failing.txt but no such case"
            ));
        }
    }
    for p in &problems {
        eprintln!("--- {p}");
    }
    println!(
        "kustomize conformance (each case as v5.5.0 and as v5.8.1): {passed} passed, {failed} failed, {known_failed} known-unsupported"
    );
    eprintln!(
        "kustomize conformance (each case as v5.5.0 and as v5.8.1): {passed} passed, {failed} failed, {known_failed} known-unsupported"
    );
    assert!(
        problems.is_empty(),
        "{} conformance problem(s), see above",
        problems.len()
    );
}
