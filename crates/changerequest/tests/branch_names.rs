//! Sanitized branch names checked by the real `git check-ref-format
//! --branch`. Without git it says SKIPPED, unless
//! `DRIFTLESS_REQUIRE_SHARED=1` (CI) makes that a failure.

use std::process::Command;

use driftless_changerequest::{BranchTemplate, PolicyRef, Update, sanitize_branch_name};

fn git_accepts(name: &str) -> bool {
    Command::new("git")
        .args(["check-ref-format", "--branch", name])
        .output()
        .expect("git runs")
        .status
        .success()
}

#[test]
fn git_accepts_every_sanitized_name() {
    if Command::new("git").arg("--version").output().is_err() {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but git is not on PATH"
        );
        println!("SKIPPED: git is not on PATH");
        return;
    }
    let nasty = [
        "driftless/apps-web",
        "a..b",
        "a/.b",
        "a/b.",
        "a/b.lock",
        "a.lock/b",
        "x@{1}",
        "@",
        "-x",
        "/lead/trail/",
        "a//b",
        "sp ace\ttab\nnl",
        "ctl\u{7f}\u{1}",
        "q?s*b[r]\\c:t~h^",
        "ünï/cødé",
        ".../...",
        "x.lock.lock",
        "HEAD/x",
        "refs/heads/main",
        "ghcr.io/org/app:1.2.3+build.4",
    ];
    let mut checked = 0;
    for raw in nasty {
        if let Some(name) = sanitize_branch_name(raw) {
            assert!(git_accepts(&name), "git refuses {name:?} (from {raw:?})");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} names survived sanitizing");

    let template =
        BranchTemplate::parse("bot/{{ .Policy.Namespace }}/{{ .Image }}@{{ .NewTag }}.lock")
            .expect("template");
    let update = Update {
        policy: PolicyRef {
            namespace: "team a".into(),
            name: "web".into(),
        },
        image: "registry.test:5000/org/web".into(),
        old_tag: None,
        new_tag: "..1.2.3".into(),
        files: vec![],
    };
    let name = template.render(&update).expect("renders");
    assert!(git_accepts(&name), "{name}");
    assert_eq!(name, "bot/team-a/registry.test-5000/org/web-.1.2.3-lock");
}
