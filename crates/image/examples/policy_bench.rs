//! Times [`latest`] over 100,000 generated tags for each policy, with and
//! without a tag filter, and prints the figures.
//!
//! Run optimised: `cargo run --release -p driftless-image --example policy_bench`.
//! Not for: comparing machines; it shows the order of magnitude only.

use std::time::{Duration, Instant};

use driftless_image::policy::{Order, Policy, TagFilter, latest};

const TAGS: usize = 100_000;
const RUNS: u32 = 5;

/// A repository's worth of tags in a shuffled order: semver releases and
/// pre-releases, CI build tags `main-<sha>-<timestamp>`, and signatures.
fn tags() -> Vec<String> {
    let mut out = Vec::with_capacity(TAGS);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..TAGS {
        // xorshift: a fixed pseudo-random sequence, no dependency.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = x % 1_000;
        out.push(match i % 4 {
            0 => format!("{}.{}.{}", n / 100, n / 10 % 10, n % 10),
            1 => format!("v{}.{}.{}-rc.{}", n / 100, n / 10 % 10, n % 10, x % 7),
            2 => format!(
                "main-{:07x}-{}",
                x & 0xfff_ffff,
                1_600_000_000 + x % 100_000_000
            ),
            _ => format!("sha256-{x:016x}.sig"),
        });
    }
    out
}

fn time(label: &str, tags: &[String], filter: Option<&TagFilter>, policy: &Policy) {
    let mut best = Duration::MAX;
    let mut chosen = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        chosen = latest(tags, filter, policy).expect("policy applies");
        best = best.min(start.elapsed());
    }
    println!(
        "{label:<44} {:>8.2} ms  -> {}",
        best.as_secs_f64() * 1000.0,
        chosen.as_deref().unwrap_or("(none)")
    );
}

fn main() {
    let tags = tags();
    let builds = TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>\d+)$", "$ts").expect("pattern");
    let releases = TagFilter::new(r"^\d+\.\d+\.\d+$", "").expect("pattern");
    println!("{} tags, best of {RUNS} runs", tags.len());
    let semver = Policy::semver(">=1.0.0 <9.0.0").expect("range");
    time("semver >=1.0.0 <9.0.0", &tags, None, &semver);
    let asc = Policy::Alphabetical { order: Order::Asc };
    time("alphabetical asc", &tags, None, &asc);
    time(
        "alphabetical desc, filter ^\\d+\\.\\d+\\.\\d+$",
        &tags,
        Some(&releases),
        &Policy::Alphabetical { order: Order::Desc },
    );
    let numerical = Policy::Numerical { order: Order::Asc };
    time(
        "numerical asc, filter + extract $ts",
        &tags,
        Some(&builds),
        &numerical,
    );
    time(
        "semver, filter ^\\d+\\.\\d+\\.\\d+$",
        &tags,
        Some(&releases),
        &semver,
    );
}
