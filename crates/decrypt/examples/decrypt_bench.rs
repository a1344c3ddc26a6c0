//! Decrypting a Kustomization of 1,000 SOPS-encrypted Secrets: `driftless
//! build kustomization DIR --decrypt-key-file KEY` (one process, build and
//! decryption) against `sops --decrypt` run on each file, process against
//! process, wall time and peak memory (GNU time's maximum RSS).
//!
//! Needs `sops`, `age-keygen` and `/usr/bin/time`, and a release build of
//! the binary: `cargo build --release -p driftless && cargo run --release
//! -p driftless-decrypt --example decrypt_bench [-- COUNT]`. The encrypted files are
//! made once by the real `sops` and kept under `target/sops-bench/`.
//! Not for CI: it times, it does not assert.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `count` encrypted Secrets and a kustomization listing them, made once.
fn corpus(count: usize) -> (PathBuf, PathBuf) {
    let dir = workspace().join(format!("target/sops-bench/{count}"));
    let key = dir.join("bench.agekey");
    if dir.join("kustomization.yaml").exists() {
        return (dir, key);
    }
    std::fs::create_dir_all(&dir).expect("bench dir");
    run(Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .stderr(Stdio::null()));
    let recipient = run(Command::new("age-keygen").arg("-y").arg(&key))
        .trim()
        .to_owned();
    let mut resources = String::from("resources:\n");
    for i in 0..count {
        let plain = dir.join(format!("plain-{i}.yaml"));
        std::fs::write(
            &plain,
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-{i}\n  namespace: bench\ntype: Opaque\nstringData:\n  username: user-{i}\n  password: password-{i}-with-some-length\n  token: {}\n  url: https://db-{i}.example.invalid:5432/app\n",
                "t".repeat(64)
            ),
        )
        .expect("plain");
        let encrypted = run(Command::new("sops")
            .args([
                "--encrypt",
                "--age",
                &recipient,
                "--encrypted-regex",
                "^(data|stringData)$",
            ])
            .arg(&plain));
        std::fs::remove_file(&plain).expect("remove plain");
        std::fs::write(dir.join(format!("secret-{i}.yaml")), encrypted).expect("encrypted");
        resources.push_str(&format!("- secret-{i}.yaml\n"));
    }
    std::fs::write(dir.join("kustomization.yaml"), resources).expect("kustomization");
    (dir, key)
}

/// Runs `command` under GNU time: (seconds, peak RSS in KiB).
fn timed(program: &str, args: &[&str], env: &[(&str, &Path)]) -> (f64, u64) {
    let report = tempfile_path();
    let mut command = Command::new("/usr/bin/time");
    command
        .args(["-f", "%e %M", "-o"])
        .arg(&report)
        .arg(program)
        .args(args)
        .stdout(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let status = command.status().expect("time");
    assert!(status.success(), "{program} {args:?} failed");
    let text = std::fs::read_to_string(&report).expect("time report");
    let mut fields = text.split_whitespace();
    let seconds = fields.next().and_then(|s| s.parse().ok()).expect("seconds");
    let kib = fields.next().and_then(|s| s.parse().ok()).expect("rss");
    (seconds, kib)
}

fn tempfile_path() -> PathBuf {
    std::env::temp_dir().join(format!("sops-bench-time-{}", std::process::id()))
}

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let binary = workspace().join("target/release/driftless");
    assert!(
        binary.exists(),
        "build it first: cargo build --release -p driftless"
    );
    let (dir, key) = corpus(count);
    let dir_arg = dir.to_string_lossy().into_owned();
    let key_arg = key.to_string_lossy().into_owned();

    let (ours_s, ours_kib) = timed(
        &binary.to_string_lossy(),
        &[
            "build",
            "kustomization",
            &dir_arg,
            "--decrypt-key-file",
            &key_arg,
        ],
        &[],
    );

    let started = Instant::now();
    let mut sops_peak = 0;
    for i in 0..count {
        let file = dir.join(format!("secret-{i}.yaml"));
        let (_, kib) = timed(
            "sops",
            &["--decrypt", &file.to_string_lossy()],
            &[("SOPS_AGE_KEY_FILE", &key)],
        );
        sops_peak = sops_peak.max(kib);
    }
    let sops_s = started.elapsed().as_secs_f64();

    println!(
        "| {count} encrypted Secrets | driftless build --decrypt-key-file | sops --decrypt per file | ratio |"
    );
    println!("|---|--:|--:|--:|");
    println!(
        "| wall time | {ours_s:.2} s | {sops_s:.2} s | {:.3}x |",
        ours_s / sops_s
    );
    println!(
        "| peak RSS | {:.1} MiB (one process) | {:.1} MiB (largest of {count} processes) | {:.2}x |",
        ours_kib as f64 / 1024.0,
        sops_peak as f64 / 1024.0,
        ours_kib as f64 / sops_peak as f64
    );
}
