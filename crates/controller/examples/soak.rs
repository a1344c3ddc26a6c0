//! The soak run (issue 17, item 7): a fleet of Kustomizations under a
//! steady stream of commits for minutes, watching that the controller's
//! memory stays flat, that no commit is lost and that commit-to-applied
//! latency stays put.
//!
//! ```sh
//! cargo run --release -p driftless-controller --example soak -- \
//!     [--kustomizations 1000] [--minutes 10] [--commit-every 3s] \
//!     [--repositories N] [--concurrency N] [--rss-tolerance 10]
//! ```
//!
//! Set-up: the sandbox in this process, one `git daemon` serving
//! `--repositories` repositories (default one per 50 Kustomizations), each
//! Kustomization applying its own directory (two ConfigMaps) of one of them
//! into namespace `soak`, and one `generic` Receiver per GitRepository. All
//! intervals are 1h, so every reconcile of the run is driven by a commit:
//! anything lost stays lost. The controller runs in a child process (the
//! harness in `support/`), with the webhook receiver on.
//!
//! Run: every `--commit-every`, the next repository in turn gets a commit
//! that changes a ConfigMap in every directory it holds, and its Receiver
//! is called as a git host would. A new revision of a source reconciles
//! every Kustomization of that source, as in Flux, so the Kustomizations a
//! commit touches are its repository's. A watch on the Kustomizations
//! times each one from the commit's push to the moment its
//! `lastAppliedRevision` reaches that commit (or a later one of the same
//! repository, which supersedes it).
//!
//! Every 30 s a line: elapsed time, the controller's RSS and peak (VmHWM),
//! Kustomization reconciles done (the controller's metrics), commits made,
//! (Kustomization, commit) pairs still pending, and the p50/p90/p99 of the
//! latencies completed in that window. After the last commit it waits for
//! the fleet to catch up (at most [`DRAIN`]) and prints the verdict:
//!
//! - **RSS growth**: the median RSS of the last quarter of the commit phase
//!   against the third quarter's; flat when within `--rss-tolerance`
//!   percent (default 5). The first half is warm-up, not a leak: every
//!   Kustomization keeps its last five revisions in `status.history`, so
//!   the cached objects grow until five intervals have passed. The
//!   first-to-last growth is printed beside it.
//! - **Lost reconciles**: commits some of whose Kustomizations never reached
//!   them, and ConfigMaps whose data is not their repository's last commit.
//!   Must be 0.
//! - **Latency**: p50/p90/p99 of the first and the last window (printed;
//!   on a shared machine they are not a gate).
//!
//! Exit code 1 when a reconcile was lost, RSS grew beyond the tolerance or
//! the controller died; 2 on a usage error. Timings on a shared 2-core
//! machine are noisy: the load average is printed beside each line.

mod support;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_api::{FluxObject, GitRepository, GoDuration, Kustomization, Receiver};
use driftless_testkit::{Fixture, GitDaemon};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use support::{Controller, ControllerOptions, Memory, mib, secs, start_cluster, wait_until};

const USAGE: &str = "usage: soak [--kustomizations 1000] [--minutes 10] [--commit-every 3s] \
                     [--repositories N] [--concurrency N] [--rss-tolerance PERCENT]";
/// Where the Kustomizations, sources and Receivers live.
const NS: &str = "default";
/// Where the Kustomizations apply their ConfigMaps.
const TARGET: &str = "soak";
const TOKEN: &str = "soak-token";
/// Kustomizations per repository when `--repositories` is not given.
const PER_REPOSITORY: usize = 50;
/// How often a line is printed.
const WINDOW: Duration = Duration::from_secs(30);
/// How often memory is sampled.
const SAMPLE: Duration = Duration::from_secs(1);
/// The longest the fleet may take to apply its first revision.
const SETUP: Duration = Duration::from_secs(20 * 60);
/// The longest the fleet may take to catch up after the last commit.
const DRAIN: Duration = Duration::from_secs(3 * 60);

/// The command line, validated.
struct Args {
    kustomizations: usize,
    duration: Duration,
    commit_every: Duration,
    repositories: usize,
    concurrency: u16,
    rss_tolerance: f64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = support::child_main(&args) {
        return code;
    }
    match parse(&args) {
        Ok(args) => support::runtime().block_on(soak(&args)),
        Err(error) => {
            eprintln!("error: {error}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut kustomizations: usize = 1_000;
    let mut minutes: f64 = 10.0;
    let mut commit_every = Duration::from_secs(3);
    let mut repositories = None;
    let mut concurrency = ControllerOptions::default().concurrency;
    let mut rss_tolerance: f64 = 5.0;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--kustomizations" => kustomizations = value.parse().map_err(|e| bad(&e))?,
            "--minutes" => minutes = value.parse().map_err(|e| bad(&e))?,
            "--commit-every" => {
                commit_every = GoDuration::from(value.as_str())
                    .to_std()
                    .map_err(|e| bad(&e))?;
            }
            "--repositories" => repositories = Some(value.parse().map_err(|e| bad(&e))?),
            "--concurrency" => concurrency = value.parse().map_err(|e| bad(&e))?,
            "--rss-tolerance" => rss_tolerance = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let repositories = repositories.unwrap_or(kustomizations.div_ceil(PER_REPOSITORY));
    if kustomizations == 0 || repositories == 0 || repositories > kustomizations {
        return Err("need 1 <= --repositories <= --kustomizations".into());
    }
    if !minutes.is_finite() || minutes <= 0.0 || commit_every.is_zero() || concurrency == 0 {
        return Err("--minutes, --commit-every and --concurrency must be positive".into());
    }
    Ok(Args {
        kustomizations,
        duration: Duration::from_secs_f64(minutes * 60.0),
        commit_every,
        repositories,
        concurrency,
        rss_tolerance,
    })
}

async fn soak(args: &Args) -> ExitCode {
    let (cluster, client) = start_cluster().await;
    let scratch = tempfile::tempdir().expect("a temp dir");
    let served = scratch.path().join("served");
    let setup = Instant::now();
    let repos: Vec<Fixture> = (0..args.repositories)
        .map(|r| Fixture::new(&served, &repo_name(r)))
        .collect();
    let mut heads = Vec::new();
    for (r, fixture) in repos.iter().enumerate() {
        for k in (r..args.kustomizations).step_by(args.repositories) {
            fixture.write(&format!("{}/static.yaml", ks_name(k)), &static_cm(k));
            fixture.write(&format!("{}/value.yaml", ks_name(k)), &value_cm(k, 0));
        }
        heads.push(fixture.commit("initial"));
    }
    let daemon = GitDaemon::start(&served);
    let options = ControllerOptions {
        concurrency: args.concurrency,
        receiver: true,
    };
    let mut controller = Controller::start(&cluster, scratch.path(), "soak", options).await;
    let idle = controller.memory();
    let hooks = create_fleet(&client, &daemon, &controller, args).await;

    let tracker = Arc::new(Mutex::new(Tracker::new(args, &heads)));
    let watch = tokio::spawn(watch(client.clone(), tracker.clone()));
    wait_until(
        "every Kustomization applied its first revision",
        SETUP,
        Duration::from_secs(1),
        || async {
            let t = tracker.lock().expect("tracker lock");
            let behind = t.applied.iter().filter(|a| a.is_none()).count();
            (behind == 0)
                .then_some(())
                .ok_or(format!("{behind} behind"))
        },
    )
    .await;
    println!(
        "set-up: {} Kustomizations over {} repositories (two ConfigMaps each), {} GitRepositories \
         with a generic Receiver each; all applied {} after the controller started (controller \
         concurrency {}, idle RSS {}, now {}).",
        args.kustomizations,
        args.repositories,
        args.repositories,
        secs(setup.elapsed()),
        args.concurrency,
        mib(idle.rss),
        mib(controller.memory().rss),
    );
    println!(
        "soak: a commit every {} for {}, each to the next repository in turn ({} Kustomizations \
         each)\n",
        secs(args.commit_every),
        secs(args.duration),
        args.kustomizations / args.repositories,
    );

    let start = Instant::now();
    tracker.lock().expect("tracker lock").start = start;
    let committer = tokio::spawn(commit_loop(
        repos,
        hooks,
        tracker.clone(),
        args.duration,
        args.commit_every,
    ));
    let mut report = Report::default();
    let mut next_line = start + WINDOW;
    let mut reconciles = controller.reconciles("Kustomization");
    let end_of_drain = loop {
        tokio::time::sleep(SAMPLE).await;
        if let Some(status) = controller.exited() {
            println!(
                "FAIL: the controller exited ({status}); log: {}",
                controller.log.display()
            );
            return ExitCode::FAILURE;
        }
        let memory = controller.memory();
        let elapsed = start.elapsed();
        report.rss.push((elapsed, memory.rss));
        let done = committer.is_finished();
        let caught_up = done && tracker.lock().expect("tracker lock").pending() == 0;
        let drained = done && elapsed > args.duration + DRAIN;
        if Instant::now() >= next_line || caught_up || drained {
            let now = controller.reconciles("Kustomization");
            report.line(&tracker, elapsed, memory, now.saturating_sub(reconciles));
            reconciles = now;
            next_line += WINDOW;
        }
        if caught_up || drained {
            break elapsed;
        }
    };
    committer.await.expect("the commit loop does not panic");
    watch.abort();
    let verdict = report.verdict(&tracker.lock().expect("tracker lock"), args, end_of_drain);
    let expected = tracker.lock().expect("tracker lock").last_commits();
    let wrong = check_content(&client, &expected).await;
    println!(
        "content: {wrong} of {} value ConfigMaps differ from their repository's last commit",
        args.kustomizations
    );
    controller.print_warnings();
    println!(
        "controller: {} Kustomization and {} GitRepository reconciles in all",
        controller.reconciles("Kustomization"),
        controller.reconciles("GitRepository")
    );
    controller.stop();
    cluster.sandbox.shutdown().await;
    drop(daemon);
    if verdict && wrong == 0 {
        println!("PASS");
        ExitCode::SUCCESS
    } else {
        println!("FAIL");
        ExitCode::FAILURE
    }
}

fn repo_name(r: usize) -> String {
    format!("r{r:02}")
}

fn ks_name(k: usize) -> String {
    format!("k{k:04}")
}

fn static_cm(k: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}-static\ndata:\n  owner: {}\n",
        ks_name(k),
        ks_name(k)
    )
}

/// The ConfigMap every commit to `k`'s repository changes: `seq` is that
/// commit's number in its repository.
fn value_cm(k: usize, seq: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}-value\ndata:\n  seq: \"{seq}\"\n",
        ks_name(k)
    )
}

/// The namespace, the sources, their Receivers and the Kustomizations;
/// returns each repository's webhook URL.
async fn create_fleet(
    client: &kube::Client,
    daemon: &GitDaemon,
    controller: &Controller,
    args: &Args,
) -> Vec<String> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = json!({"metadata": {"name": TARGET}});
    namespaces
        .create(&PostParams::default(), &from_json(namespace))
        .await
        .expect("Namespace created");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let secret =
        json!({"metadata": {"name": "hook", "namespace": NS}, "stringData": {"token": TOKEN}});
    secrets
        .create(&PostParams::default(), &from_json(secret))
        .await
        .expect("Secret created");
    let sources: Api<GitRepository> = Api::namespaced(client.clone(), NS);
    let receivers: Api<Receiver> = Api::namespaced(client.clone(), NS);
    for r in 0..args.repositories {
        let name = repo_name(r);
        let mut source = GitRepository::test(&name)
            .in_namespace(NS)
            .url(&daemon.url(&name))
            .branch("main");
        source.spec.interval = "1h".into();
        sources
            .create(&PostParams::default(), &source)
            .await
            .expect("GitRepository created");
        let receiver = json!({
            "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "generic", "secretRef": {"name": "hook"},
                     "resources": [{"kind": "GitRepository", "name": name}]},
        });
        receivers
            .create(&PostParams::default(), &from_json(receiver))
            .await
            .expect("Receiver created");
    }
    let kustomizations: Api<Kustomization> = Api::namespaced(client.clone(), NS);
    for k in 0..args.kustomizations {
        let mut ks = Kustomization::test(&ks_name(k))
            .in_namespace(NS)
            .git_source(&repo_name(k % args.repositories))
            .path(&format!("./{}", ks_name(k)));
        ks.spec.interval = "1h".into();
        ks.spec.target_namespace = Some(TARGET.into());
        kustomizations
            .create(&PostParams::default(), &ks)
            .await
            .expect("Kustomization created");
    }
    let base = controller
        .receiver
        .clone()
        .expect("the controller serves webhooks");
    let mut hooks = Vec::new();
    for r in 0..args.repositories {
        let name = repo_name(r);
        let path = wait_until(
            &format!("Receiver {name}'s webhook path"),
            SETUP,
            Duration::from_millis(100),
            || async {
                let receiver = receivers.get(&name).await.map_err(|e| e.to_string())?;
                receiver
                    .status
                    .and_then(|s| s.webhook_path)
                    .ok_or("none yet".to_owned())
            },
        )
        .await;
        hooks.push(format!("{base}{path}"));
    }
    hooks
}

fn from_json<K: serde::de::DeserializeOwned>(value: serde_json::Value) -> K {
    serde_json::from_value(value).expect("a valid object")
}

/// Commits to each repository in turn every `every` until `duration` has
/// passed, recording each commit before calling its webhook.
async fn commit_loop(
    repos: Vec<Fixture>,
    hooks: Vec<String>,
    tracker: Arc<Mutex<Tracker>>,
    duration: Duration,
    every: Duration,
) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let repos = Arc::new(repos);
    for turn in 0.. {
        tick.tick().await;
        if start.elapsed() >= duration {
            break;
        }
        let r = turn % repos.len();
        let (members, seq) = {
            let t = tracker.lock().expect("tracker lock");
            (t.members(r), t.commits[r].len())
        };
        let fixtures = repos.clone();
        let sha = tokio::task::spawn_blocking(move || {
            let fixture = &fixtures[r];
            for k in members {
                fixture.write(&format!("{}/value.yaml", ks_name(k)), &value_cm(k, seq));
            }
            fixture.commit(&format!("seq {seq}"))
        })
        .await
        .expect("git commits");
        tracker
            .lock()
            .expect("tracker lock")
            .commit(r, sha, Instant::now());
        let response = http
            .post(&hooks[r])
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await;
        match response {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => println!("webhook {}: HTTP {}", hooks[r], answer.status()),
            Err(e) => println!("webhook {}: {e}", hooks[r]),
        }
    }
}

/// Feeds every Kustomization event to the tracker.
async fn watch(client: kube::Client, tracker: Arc<Mutex<Tracker>>) {
    let api: Api<Kustomization> = Api::namespaced(client, NS);
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    while let Some(event) = events.next().await {
        let ks = match event {
            Ok(watcher::Event::Apply(ks) | watcher::Event::InitApply(ks)) => ks,
            Ok(_) => continue,
            Err(error) => {
                println!("watch: {error}");
                continue;
            }
        };
        let index = ks
            .metadata
            .name
            .as_deref()
            .and_then(|n| n.strip_prefix('k')?.parse::<usize>().ok());
        if let (Some(k), Some(revision)) = (index, ks.revision()) {
            tracker
                .lock()
                .expect("tracker lock")
                .observe(k, revision, Instant::now());
        }
    }
}

/// Counts the value ConfigMaps whose `seq` is not `expected[k]`, their
/// repository's last commit (the cluster does not hold what git says).
async fn check_content(client: &kube::Client, expected: &[usize]) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), TARGET);
    let seen: HashMap<String, String> = api
        .list(&ListParams::default())
        .await
        .expect("ConfigMaps listed")
        .items
        .into_iter()
        .filter_map(|cm| {
            let seq = cm.data?.get("seq")?.clone();
            Some((cm.metadata.name?, seq))
        })
        .collect();
    expected
        .iter()
        .enumerate()
        .filter(|&(k, last)| seen.get(&format!("{}-value", ks_name(k))) != Some(&last.to_string()))
        .count()
}

// -------------------------------------------------------------- tracker --

/// One commit: when it was pushed, and how many of its repository's
/// Kustomizations have not reached it yet.
struct Commit {
    at: Instant,
    remaining: usize,
}

/// Which revision each Kustomization has applied, and the latencies.
struct Tracker {
    /// The soak's start: latencies are filed by when they completed.
    start: Instant,
    repo_of: Vec<usize>,
    /// Per repository, its commits by number (0: the initial one).
    commits: Vec<Vec<Commit>>,
    by_sha: HashMap<String, (usize, usize)>,
    /// Per Kustomization, the newest commit number it applied.
    applied: Vec<Option<usize>>,
    /// (completed at, from the soak's start; latency).
    samples: Vec<(Duration, Duration)>,
    /// A Kustomization seen at an older commit than before.
    regressions: usize,
    /// Revisions that are no commit of the Kustomization's repository.
    unknown: usize,
}

impl Tracker {
    fn new(args: &Args, heads: &[String]) -> Tracker {
        let now = Instant::now();
        let repo_of: Vec<usize> = (0..args.kustomizations)
            .map(|k| k % args.repositories)
            .collect();
        Tracker {
            start: now,
            commits: heads
                .iter()
                .map(|_| {
                    vec![Commit {
                        at: now,
                        remaining: 0,
                    }]
                })
                .collect(),
            by_sha: heads
                .iter()
                .enumerate()
                .map(|(r, sha)| (sha.clone(), (r, 0)))
                .collect(),
            applied: vec![None; repo_of.len()],
            repo_of,
            samples: Vec::new(),
            regressions: 0,
            unknown: 0,
        }
    }

    fn members(&self, repo: usize) -> Vec<usize> {
        (0..self.repo_of.len())
            .filter(|&k| self.repo_of[k] == repo)
            .collect()
    }

    fn commit(&mut self, repo: usize, sha: String, at: Instant) {
        let remaining = self.repo_of.iter().filter(|&&r| r == repo).count();
        self.by_sha.insert(sha, (repo, self.commits[repo].len()));
        self.commits[repo].push(Commit { at, remaining });
    }

    /// Kustomization `k` reports `revision` (`<branch>@sha1:<hash>`) applied at `now`.
    fn observe(&mut self, k: usize, revision: &str, now: Instant) {
        let sha = revision.rsplit(':').next().unwrap_or(revision);
        let Some(&(repo, seq)) = self.by_sha.get(sha) else {
            self.unknown += 1;
            return;
        };
        if repo != self.repo_of[k] {
            self.unknown += 1;
            return;
        }
        let from = match self.applied[k] {
            Some(at) if at > seq => {
                self.regressions += 1;
                return;
            }
            Some(at) => at + 1,
            None => 0,
        };
        for commit in &mut self.commits[repo][from..=seq] {
            if commit.remaining > 0 {
                commit.remaining -= 1;
                self.samples
                    .push((now - self.start, now.saturating_duration_since(commit.at)));
            }
        }
        self.applied[k] = Some(seq);
    }

    /// Per Kustomization, the number of its repository's last commit.
    fn last_commits(&self) -> Vec<usize> {
        self.repo_of
            .iter()
            .map(|&r| self.commits[r].len() - 1)
            .collect()
    }

    /// (Kustomization, commit) pairs not reached yet.
    fn pending(&self) -> usize {
        self.commits.iter().flatten().map(|c| c.remaining).sum()
    }

    /// The latencies that completed in `[from, to)`, sorted.
    fn window(&self, from: Duration, to: Duration) -> Vec<Duration> {
        let mut window: Vec<Duration> = self
            .samples
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, latency)| *latency)
            .collect();
        window.sort();
        window
    }
}

// --------------------------------------------------------------- report --

#[derive(Default)]
struct Report {
    /// (since the soak's start, controller VmRSS in KiB), every [`SAMPLE`].
    rss: Vec<(Duration, u64)>,
    /// The end of the previous line's window.
    last_line: Duration,
}

impl Report {
    fn line(
        &mut self,
        tracker: &Mutex<Tracker>,
        elapsed: Duration,
        memory: Memory,
        reconciles: u64,
    ) {
        let t = tracker.lock().expect("tracker lock");
        let window = t.window(self.last_line, elapsed + Duration::from_millis(1));
        let commits: usize = t.commits.iter().map(|c| c.len() - 1).sum();
        println!(
            "t={:>5.0}s  rss {:>9}  hwm {:>9}  reconciles +{reconciles:<5} commits {commits:<4} pending {:<5} latency {}  sandbox {}  load {}",
            elapsed.as_secs_f64(),
            mib(memory.rss),
            mib(memory.peak),
            t.pending(),
            percentiles(&window),
            mib(Memory::of("self").rss),
            load_average(),
        );
        self.last_line = elapsed;
    }

    /// Prints the verdict; `true` when it passes (nothing lost, RSS flat).
    fn verdict(&self, tracker: &Tracker, args: &Args, end: Duration) -> bool {
        let quarter = args.duration / 4;
        let medians: Vec<u64> = (0..4u32)
            .map(|q| median_rss(&self.rss, quarter * q, quarter * (q + 1)))
            .collect();
        let growth = |from: u64, to: u64| (to as f64 - from as f64) / from as f64 * 100.0;
        let settled = growth(medians[2], medians[3]);
        let flat = settled <= args.rss_tolerance;
        println!("\n## verdict\n");
        println!(
            "RSS: median {} in the third quarter, {} in the last: {settled:+.1}% ({}, tolerance {}%); {:+.1}% since the first quarter (warm-up included)",
            mib(medians[2]),
            mib(medians[3]),
            if flat { "flat" } else { "GREW" },
            args.rss_tolerance,
            growth(medians[0], medians[3]),
        );
        let quarters: Vec<String> = medians.iter().map(|&m| mib(m)).collect();
        println!("RSS median by quarter: {}", quarters.join(", "));
        let lost: Vec<(usize, usize, usize)> = tracker
            .commits
            .iter()
            .enumerate()
            .flat_map(|(r, commits)| {
                commits
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.remaining > 0)
                    .map(move |(seq, c)| (r, seq, c.remaining))
            })
            .collect();
        let commits: usize = tracker.commits.iter().map(|c| c.len() - 1).sum();
        println!(
            "lost reconciles: {} of {commits} commits not reached by all their Kustomizations {} after the soak began ({} pairs); {} regressions, {} unknown revisions",
            lost.len(),
            secs(end),
            tracker.pending(),
            tracker.regressions,
            tracker.unknown
        );
        for (r, seq, remaining) in lost.iter().take(5) {
            println!(
                "  {} seq {seq}: {remaining} Kustomizations never reached it",
                repo_name(*r)
            );
        }
        let first = tracker.window(Duration::ZERO, WINDOW);
        let last_from = args.duration.saturating_sub(WINDOW);
        let last = tracker.window(last_from, args.duration);
        let all = tracker.window(Duration::ZERO, Duration::MAX);
        println!("latency, first window (0-30 s):  {}", percentiles(&first));
        println!(
            "latency, last window ({:.0}-{:.0} s): {}",
            last_from.as_secs_f64(),
            args.duration.as_secs_f64(),
            percentiles(&last)
        );
        println!(
            "latency, whole run ({} samples): {}",
            all.len(),
            percentiles(&all)
        );
        flat && lost.is_empty() && tracker.regressions == 0 && tracker.unknown == 0
    }
}

/// The median of the RSS samples taken in `[from, to)`.
fn median_rss(samples: &[(Duration, u64)], from: Duration, to: Duration) -> u64 {
    let mut window: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= from && *at < to)
        .map(|(_, rss)| *rss)
        .collect();
    window.sort_unstable();
    window.get(window.len() / 2).copied().unwrap_or(0)
}

/// `p50 … p90 … p99 …` of sorted latencies (nearest rank).
fn percentiles(sorted: &[Duration]) -> String {
    if sorted.is_empty() {
        return "p50 -      p90 -      p99 -     (n 0)".into();
    }
    let at = |p: f64| {
        let rank = ((sorted.len() as f64) * p).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    };
    format!(
        "p50 {:>6} p90 {:>6} p99 {:>6} (n {})",
        secs(at(0.50)),
        secs(at(0.90)),
        secs(at(0.99)),
        sorted.len()
    )
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
