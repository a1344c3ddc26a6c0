//! Benchmark: driftless-source against the git CLI on the same `git daemon`.
//!
//! Generates a repository (default 20,000 files, 5,000 commits; override with
//! `BENCH_FILES` / `BENCH_COMMITS`) with `git fast-import`, serves it with
//! `git daemon` on loopback, and times:
//!
//! | driftless                       | git CLI                          |
//! |---------------------------------|----------------------------------|
//! | first artifact (fetch + tarball) | `git clone --depth 1` (+checkout) |
//! | poll, nothing changed            | `git ls-remote`                  |
//! | pick up one new commit           | `git fetch --depth 1`            |
//!
//! Run: `cargo run --release -p driftless-source --example source_bench`.
//! Not for: regression gating (timings on a shared machine are noisy).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use driftless_source::{ArtifactKey, GitFetcher, GitReference, GitSource, Storage};

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let files: usize = env_or("BENCH_FILES", 20_000);
    let commits: usize = env_or("BENCH_COMMITS", 5_000);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let tmp = tempfile::tempdir()?;
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served)?;
    let bare = served.join("big.git");

    let t = Instant::now();
    generate(&bare, files, commits)?;
    let size = dir_size(&bare);
    println!(
        "generated {files} files, {commits} commits in {:.1}s ({:.1} MiB packed)",
        t.elapsed().as_secs_f64(),
        size as f64 / 1048576.0
    );

    // The testkit's daemon runs git-daemon itself, so it is gone when dropped.
    let daemon = driftless_testkit::GitDaemon::start(&served);
    run(tmp.path(), &bare, &daemon.url("big"), rounds)
}

fn run(tmp: &Path, bare: &Path, url: &str, rounds: usize) -> Result<(), BoxError> {
    let source = GitSource::new(url, GitReference::Branch("main".into()));
    let key = ArtifactKey::git_repository("bench", "big");

    // First artifact, each round on fresh storage; the same for git clone --depth 1.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut last = None;
    let mut fetcher = None;
    for i in 0..rounds.clamp(1, 3) {
        let storage_dir = tmp.join(format!("storage-{i}"));
        let f = GitFetcher::new(Storage::new(&storage_dir)?);
        let t = Instant::now();
        let out = f.reconcile(&key, &source, None)?;
        ours.push(t.elapsed());
        last = Some(out.artifact().clone());
        fetcher = Some(f);

        let clone_dir = tmp.join(format!("clone-{i}"));
        let t = Instant::now();
        git(
            tmp,
            &["clone", "-q", "--depth", "1", url, path_str(&clone_dir)?],
        )?;
        theirs.push(t.elapsed());
    }
    let (Some(fetcher), Some(mut last)) = (fetcher, last) else {
        return Err("no rounds ran".into());
    };
    println!("artifact: {} bytes, {}", last.size, last.digest);
    report("first artifact vs git clone --depth 1", &ours, &theirs);

    // Nothing changed.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let out = fetcher.reconcile(&key, &source, Some(&last))?;
        ours.push(t.elapsed());
        if out.is_updated() {
            return Err("nothing changed, yet a new artifact".into());
        }
        let t = Instant::now();
        git(tmp, &["ls-remote", url, "refs/heads/main"])?;
        theirs.push(t.elapsed());
    }
    report("nothing changed vs git ls-remote", &ours, &theirs);

    // One new commit, each round.
    let clone_dir = tmp.join("clone-0");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for i in 0..rounds {
        add_commit(bare, i)?;
        let t = Instant::now();
        let out = fetcher.reconcile(&key, &source, Some(&last))?;
        ours.push(t.elapsed());
        if !out.is_updated() {
            return Err("new commit not picked up".into());
        }
        last = out.artifact().clone();
        let t = Instant::now();
        git(
            &clone_dir,
            &["fetch", "-q", "--depth", "1", "origin", "main"],
        )?;
        theirs.push(t.elapsed());
    }
    report("one new commit vs git fetch --depth 1", &ours, &theirs);

    // Where the time of a change goes: the same revision again with no
    // previous artifact, its commit already local, costs one advertisement
    // plus the tarball of the whole tree.
    let mut ours = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        fetcher.reconcile(&key, &source, None)?;
        ours.push(t.elapsed());
    }
    println!(
        "{:<42} driftless {:>8.1} ms   (ls-refs + tarball of {} bytes, no fetch)",
        "re-archive the current tree",
        median(&ours) * 1e3,
        last.size
    );
    Ok(())
}

fn report(what: &str, ours: &[Duration], theirs: &[Duration]) {
    let (a, b) = (median(ours), median(theirs));
    println!(
        "{what:<42} driftless {:>8.1} ms   git {:>8.1} ms   ratio {:.2}x  (median of {})",
        a * 1e3,
        b * 1e3,
        a / b,
        ours.len()
    );
}

fn median(d: &[Duration]) -> f64 {
    let mut v: Vec<f64> = d.iter().map(Duration::as_secs_f64).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn path_str(p: &Path) -> Result<&str, BoxError> {
    p.to_str().ok_or_else(|| "non-UTF-8 temp path".into())
}

fn git(dir: &Path, args: &[&str]) -> Result<String, BoxError> {
    let out = Command::new("git").args(args).current_dir(dir).output()?;
    if !out.status.success() {
        return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn file_content(i: usize, rev: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: bench\ndata:\n  rev: \"{rev}\"\n  payload: \"{}\"\n",
        "x".repeat(64 + i % 64)
    )
}

fn file_path(i: usize) -> String {
    format!("apps/d{:03}/cm-{i:05}.yaml", i / 200)
}

/// Build the repository in one `git fast-import` stream: the first commit adds
/// every file, each later commit changes four of them.
fn generate(bare: &Path, files: usize, commits: usize) -> Result<(), BoxError> {
    let parent = bare.parent().ok_or("no parent")?;
    git(
        parent,
        &["init", "-q", "--bare", "-b", "main", path_str(bare)?],
    )?;
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(bare)
        .stdin(Stdio::piped())
        .spawn()?;
    let mut stdin = std::io::BufWriter::new(child.stdin.take().ok_or("no stdin")?);
    for c in 0..commits.max(1) {
        let msg = format!("commit {c}\n");
        writeln!(stdin, "commit refs/heads/main\nmark :{}", c + 1)?;
        writeln!(
            stdin,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + c
        )?;
        write!(stdin, "data {}\n{msg}", msg.len())?;
        if c > 0 {
            writeln!(stdin, "from :{c}")?;
        }
        let changed: Vec<usize> = if c == 0 {
            (0..files).collect()
        } else {
            (0..4)
                .map(|k| (c * 7919 + k * 104_729) % files.max(1))
                .collect()
        };
        for i in changed {
            let content = file_content(i, c);
            write!(
                stdin,
                "M 100644 inline {}\ndata {}\n{content}\n",
                file_path(i),
                content.len()
            )?;
        }
    }
    drop(stdin);
    if !child.wait()?.success() {
        return Err("git fast-import failed".into());
    }
    git(bare, &["repack", "-adq"])?;
    Ok(())
}

/// One more commit on `main` of the served repository, changing one file.
fn add_commit(bare: &Path, round: usize) -> Result<(), BoxError> {
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet", "--force"])
        .current_dir(bare)
        .stdin(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let content = file_content(round, 1_000_000 + round);
    let msg = format!("bench round {round}\n");
    write!(
        stdin,
        "commit refs/heads/main\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{msg}from refs/heads/main^0\nM 100644 inline {}\ndata {}\n{content}\n",
        1_800_000_000 + round,
        msg.len(),
        file_path(round),
        content.len()
    )?;
    drop(stdin);
    if !child.wait()?.success() {
        return Err("git fast-import (new commit) failed".into());
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            total += dir_size(&p);
        } else if let Ok(m) = e.metadata() {
            total += m.len();
        }
    }
    total
}
