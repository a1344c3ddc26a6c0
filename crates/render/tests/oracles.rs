//! Both Kustomize releases as live oracles: every case (our own and the
//! shared corpus) is built by the real `kubectl kustomize` (Kustomize
//! v5.5.0) and `kubectl-1.37 kustomize` (v5.8.1), and our renderer, told
//! to follow that release, must print the same bytes, or fail where it
//! fails. Without the oracles it says SKIPPED, unless
//! `DRIFTLESS_REQUIRE_SHARED=1` (CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use driftless_render::{KustomizeVersion, build_as};

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut cases: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("build_dir").is_file())
        .collect();
    cases.sort();
    cases
}

fn available(program: &str) -> bool {
    Command::new(program)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compares us with `program kustomize` on `cases`; returns the mismatches.
fn compare(program: &str, version: KustomizeVersion, cases: &[PathBuf]) -> Vec<String> {
    let mut mismatches = Vec::new();
    for case in cases {
        let build_dir = std::fs::read_to_string(case.join("build_dir")).expect("build_dir");
        let dir = case.join(build_dir.trim());
        let theirs = Command::new(program)
            .arg("kustomize")
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let ours = build_as(&dir, version);
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        match (theirs.status.success(), ours) {
            (true, Ok(out)) if out.as_bytes() == theirs.stdout => {}
            (false, Err(_)) => {}
            (true, Ok(_)) => mismatches.push(format!("{name}: output differs from {program}")),
            (true, Err(e)) => mismatches.push(format!("{name}: we fail ({e}), {program} builds")),
            (false, Ok(_)) => mismatches.push(format!(
                "{name}: we build, {program} fails: {}",
                String::from_utf8_lossy(&theirs.stderr).trim()
            )),
        }
    }
    mismatches
}

#[test]
fn both_kustomize_releases_agree_with_us() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared_dir = std::env::var_os("DRIFTLESS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../../shared"));
    let mut cases = cases_in(&manifest.join("tests/cases"));
    cases.extend(cases_in(&shared_dir.join("kustomize-conformance/cases")));
    let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
    let mut ran = 0;
    for (program, version) in [
        ("kubectl", KustomizeVersion::V5_5_0),
        ("kubectl-1.37", KustomizeVersion::V5_8_1),
    ] {
        if !available(program) {
            assert!(
                !required,
                "DRIFTLESS_REQUIRE_SHARED=1 but {program} is not on PATH"
            );
            println!("SKIPPED: {program} is not on PATH; its Kustomize release is not compared");
            continue;
        }
        let mismatches = compare(program, version, &cases);
        assert!(
            mismatches.is_empty(),
            "{} cases differ:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
        ran += cases.len();
    }
    println!("{ran} builds compared with the real Kustomize");
}
