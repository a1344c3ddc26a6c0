//! `--output-dir` against the real `helm template --output-dir`: the same
//! files with the same bytes, and the same `wrote` lines, for the layouts
//! Helm has (plain, `--release-name`, CRDs, test hooks skipped, no hooks).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use driftless_chart::{RenderOptions, TemplateRequest, ValueSources};

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("a directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .expect("inside")
                    .display()
                    .to_string();
                files.insert(name, std::fs::read_to_string(&path).expect("text"));
            }
        }
    }
    files
}

#[test]
fn output_dir_writes_what_helm_writes() {
    let helm_runs = Command::new("helm")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !helm_runs {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH"
        );
        println!("SKIPPED: --output-dir against helm: helm not on PATH");
        return;
    }
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/output-skip-tests/chart");
    let flag_sets: [&[&str]; 4] = [
        &["--include-crds"],
        &["--include-crds", "--release-name"],
        &["--skip-tests", "--release-name"],
        &["--no-hooks"],
    ];
    for flags in flag_sets {
        let tmp = tempfile::tempdir().expect("tmp");
        let theirs = tmp.path().join("out");
        let helm = Command::new("helm")
            .args(["template", "rel"])
            .arg(&chart)
            .arg("--output-dir")
            .arg(&theirs)
            .args(flags)
            .output()
            .expect("helm runs");
        assert!(helm.status.success(), "{flags:?}: {helm:?}");
        // Ours writes to the same place after helm's tree is read, so the
        // `wrote` lines name the same paths.
        let expected_files = tree(&theirs);
        std::fs::remove_dir_all(&theirs).expect("cleared");
        let options = RenderOptions {
            release_name: "rel".into(),
            include_crds: flags.contains(&"--include-crds"),
            skip_tests: flags.contains(&"--skip-tests"),
            no_hooks: flags.contains(&"--no-hooks"),
            ..RenderOptions::default()
        };
        let request = TemplateRequest {
            chart: chart.clone(),
            values_files: Vec::new(),
            sources: ValueSources::default(),
            options,
            stdin: None,
        };
        let rendered = driftless_chart::render_request(&request).expect("renders");
        let mut printed = Vec::new();
        driftless_chart::output_dir::write(
            &rendered,
            &request.options,
            &theirs.display().to_string(),
            flags.contains(&"--release-name"),
            &mut printed,
        )
        .expect("written");
        assert_eq!(
            String::from_utf8(printed).expect("utf8"),
            String::from_utf8(helm.stdout).expect("utf8"),
            "{flags:?}"
        );
        assert_eq!(tree(&theirs), expected_files, "{flags:?}");
    }
}
