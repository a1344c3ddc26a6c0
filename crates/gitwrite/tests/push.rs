//! Checkout → edit → commit → push against real servers on loopback (git
//! daemon, lighttpd + git http-backend, sshd), checked with the real `git`.

mod common;

use common::{assert_pushed, available, bump, checkout_main, served, spec};
use driftless_gitwrite::{Error, PushSpec, RefStatus};
use driftless_source::GitAuth;
use driftless_testkit::{
    BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, GitDaemon, HttpServer, SshServer, keygen,
};

fn push_roundtrip(url: &str, auth: Option<GitAuth>, served: &common::Served) {
    let tree = checkout_main(url, &served.dir("checkout"), auth);
    assert_eq!(tree.base(), served.initial);
    // The checkout is the commit's files, modes and links.
    let dir = tree.dir();
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).expect("readme"),
        "fleet\n"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("bin/run.sh"))
            .expect("script")
            .permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "executable bit kept");
    assert_eq!(
        std::fs::read_link(dir.join("current")).expect("symlink"),
        std::path::Path::new("apps/web.yaml")
    );
    // The repository and the transport's credential files stay outside the
    // work tree, so a commit can never pick them up.
    let mut entries: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["README.md", "apps", "bin", "current"]);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("a change");
    let outcome = tree.push(&commit, &PushSpec::default()).expect("push");
    assert_eq!(outcome.updates.len(), 1);
    assert_eq!(outcome.updates[0].reference, "refs/heads/main");
    assert_eq!(
        outcome.updates[0].old.as_deref(),
        Some(served.initial.as_str())
    );
    assert_eq!(outcome.updates[0].status, RefStatus::Updated);
    assert_pushed(served, "main", &commit, &served.initial);
    // Pushing again finds the branch there already.
    let again = tree
        .push(&commit, &PushSpec::default())
        .expect("push again");
    assert_eq!(again.updates[0].status, RefStatus::UpToDate);
}

#[test]
fn push_over_git_daemon() {
    if !available("git", "push_over_git_daemon") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    push_roundtrip(&daemon.url("repo"), None, &served);
}

#[test]
fn push_over_http_anonymous_basic_and_bearer() {
    if !available("git", "push_over_http") || !available("lighttpd", "push_over_http") {
        return;
    }
    for (prefix, auth) in [
        ("anon", None),
        (
            "basic",
            Some(GitAuth::Basic {
                username: BASIC_USER.into(),
                password: BASIC_PASSWORD.into(),
            }),
        ),
        ("bearer", Some(GitAuth::Bearer(BEARER_TOKEN.into()))),
    ] {
        let served = served();
        let http = HttpServer::start(&served.root);
        push_roundtrip(&http.url(prefix, "repo"), auth, &served);
    }
}

#[test]
fn push_over_ssh_with_known_hosts() {
    if !available("git", "push_over_ssh") || !available("ssh-keygen", "push_over_ssh") {
        return;
    }
    let served = served();
    let (private, public) = keygen(&served.dir("client_key"));
    let sshd = SshServer::start(&public);
    let auth = GitAuth::Ssh {
        identity: private,
        known_hosts: sshd.known_hosts(),
    };
    push_roundtrip(&sshd.url(&served.fixture.bare), Some(auth), &served);
}

#[test]
fn push_to_another_branch_and_by_refspec() {
    if !available("git", "push_to_another_branch") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let url = daemon.url("repo");
    let tree = checkout_main(&url, &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    let to_branch = PushSpec {
        branch: Some("auto".into()),
        ..PushSpec::default()
    };
    let outcome = tree.push(&commit, &to_branch).expect("push to auto");
    assert_eq!(outcome.updates[0].reference, "refs/heads/auto");
    assert_eq!(outcome.updates[0].old, None, "auto was created");
    assert_pushed(&served, "auto", &commit, &served.initial);
    assert_eq!(served.head("main"), served.initial, "main is untouched");

    let by_refspec = PushSpec {
        refspec: Some("refs/heads/main:refs/heads/review".into()),
        ..PushSpec::default()
    };
    let outcome = tree.push(&commit, &by_refspec).expect("push by refspec");
    assert_eq!(
        outcome
            .updates
            .iter()
            .map(|u| u.reference.as_str())
            .collect::<Vec<_>>(),
        ["refs/heads/review"]
    );
    assert_pushed(&served, "review", &commit, &served.initial);
    assert_eq!(
        served.head("main"),
        served.initial,
        "only the refspec was pushed"
    );
}

#[test]
fn push_options_reach_the_hooks() {
    if !available("git", "push_options_reach_the_hooks") {
        return;
    }
    let served = served();
    let recorded = served.dir("options.txt");
    served.bare_git(&["config", "receive.advertisePushOptions", "true"]);
    write_hook(
        &served,
        &format!(
            "i=0\nwhile [ \"$i\" -lt \"${{GIT_PUSH_OPTION_COUNT:-0}}\" ]; do\n  eval \"echo \\$GIT_PUSH_OPTION_$i\" >> '{}'\n  i=$((i+1))\ndone\n",
            recorded.display()
        ),
    );
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    let with_options = PushSpec {
        options: vec!["ci.skip".into(), "merge_request.create".into()],
        ..PushSpec::default()
    };
    tree.push(&commit, &with_options)
        .expect("push with options");
    assert_eq!(
        std::fs::read_to_string(&recorded).expect("hook ran"),
        "ci.skip\nmerge_request.create\n"
    );
    assert_pushed(&served, "main", &commit, &served.initial);
}

#[test]
fn push_options_without_server_support_fail_before_sending() {
    if !available("git", "push_options_without_server_support") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    let with_options = PushSpec {
        options: vec!["ci.skip".into()],
        ..PushSpec::default()
    };
    let err = tree
        .push(&commit, &with_options)
        .expect_err("no push-options");
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    assert_eq!(served.head("main"), served.initial);
}

fn write_hook(served: &common::Served, body: &str) {
    let hook = served.fixture.bare.join("hooks/pre-receive");
    std::fs::write(&hook, format!("#!/bin/sh\n{body}")).expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod hook");
}

#[test]
fn non_fast_forward_is_rejected_unless_forced() {
    if !available("git", "non_fast_forward") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    // Someone else pushes to main meanwhile.
    served.fixture.write("README.md", "fleet, edited by hand\n");
    let theirs = served.fixture.commit("by hand");
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    let err = tree
        .push(&commit, &PushSpec::default())
        .expect_err("non-fast-forward");
    eprintln!("non-fast-forward: {err}");
    match &err {
        Error::PushRejected {
            reference, reason, ..
        } => {
            assert_eq!(reference, "refs/heads/main");
            assert!(reason.starts_with("non-fast-forward"), "{reason}");
        }
        other => panic!("expected PushRejected, got {other:?}"),
    }
    assert_eq!(served.head("main"), theirs, "remote unchanged");
    let forced = PushSpec {
        force: true,
        ..PushSpec::default()
    };
    tree.push(&commit, &forced).expect("forced push");
    assert_pushed(&served, "main", &commit, &served.initial);
}

#[test]
fn server_rejection_carries_the_hooks_message() {
    if !available("git", "server_rejection") {
        return;
    }
    let served = served();
    write_hook(
        &served,
        "echo 'main is protected: open a pull request' >&2\nexit 1\n",
    );
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    let err = tree
        .push(&commit, &PushSpec::default())
        .expect_err("declined");
    eprintln!("declined: {err}");
    match &err {
        Error::PushRejected {
            reference, reason, ..
        } => {
            assert_eq!(reference, "refs/heads/main");
            assert!(reason.contains("pre-receive hook declined"), "{reason}");
            assert!(
                reason.contains("main is protected: open a pull request"),
                "{reason}"
            );
        }
        other => panic!("expected PushRejected, got {other:?}"),
    }
    assert_eq!(served.head("main"), served.initial, "remote unchanged");
}

#[test]
fn no_change_means_no_commit() {
    if !available("git", "no_change_means_no_commit") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    assert_eq!(tree.commit(&spec("nothing")).expect("commit"), None);
    // Rewriting a file with the same bytes is no change either.
    bump(&tree, "1.0.0");
    assert_eq!(tree.commit(&spec("nothing")).expect("commit"), None);
}

/// The whole error chain, as a person would read it.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[test]
fn wrong_credentials_and_refused_pushes_name_the_url_not_the_secret() {
    if !available("git", "wrong_credentials") || !available("lighttpd", "wrong_credentials") {
        return;
    }
    let served = served();
    let http = HttpServer::start(&served.root);
    let url = http.url("basic", "repo");
    let mut request = driftless_gitwrite::CheckoutRequest::new(
        &url,
        driftless_source::GitReference::Branch("main".into()),
        served.dir("checkout"),
    );
    request.auth = Some(GitAuth::Basic {
        username: BASIC_USER.into(),
        password: "wrong-password-42".into(),
    });
    let err = driftless_gitwrite::checkout(&request).expect_err("wrong password");
    assert!(
        matches!(
            err,
            Error::Remote(driftless_source::Error::AuthFailed { .. })
        ),
        "{err:?}"
    );
    let text = chain(&err);
    eprintln!("wrong password: {text}");
    assert!(text.contains(&url), "{text}");
    assert!(!text.contains("wrong-password-42"), "{text}");
    assert!(!format!("{err:?}").contains("wrong-password-42"));

    // A server that lets us read but not write.
    served.bare_git(&["config", "http.receivepack", "false"]);
    let anon = http.url("anon", "repo");
    let tree = checkout_main(&anon, &served.dir("readonly"), None);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    let err = tree
        .push(&commit, &PushSpec::default())
        .expect_err("read-only");
    eprintln!("read-only: {}", chain(&err));
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
    assert!(chain(&err).contains(&anon), "{}", chain(&err));
    assert_eq!(served.head("main"), served.initial);
}

#[test]
fn unreachable_server_names_the_url() {
    if !available("git", "unreachable_server") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let url = daemon.url("repo");
    let tree = checkout_main(&url, &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    drop(daemon);
    let err = tree
        .push(&commit, &PushSpec::default())
        .expect_err("server gone");
    eprintln!("server gone: {}", chain(&err));
    assert!(
        matches!(
            err,
            Error::Remote(driftless_source::Error::Unreachable { .. })
        ),
        "{err:?}"
    );
    assert!(chain(&err).contains(&url), "{}", chain(&err));
    assert_eq!(served.head("main"), served.initial);
}

#[test]
fn ssh_host_key_mismatch_is_refused() {
    if !available("git", "ssh_host_key_mismatch")
        || !available("ssh-keygen", "ssh_host_key_mismatch")
    {
        return;
    }
    let served = served();
    let (private, public) = keygen(&served.dir("client_key"));
    let (_, other_host) = keygen(&served.dir("other_host"));
    let sshd = SshServer::start(&public);
    let mut request = driftless_gitwrite::CheckoutRequest::new(
        sshd.url(&served.fixture.bare),
        driftless_source::GitReference::Branch("main".into()),
        served.dir("checkout"),
    );
    request.auth = Some(GitAuth::Ssh {
        identity: private.clone(),
        known_hosts: format!("[127.0.0.1]:{} {other_host}\n", sshd.port),
    });
    let err = driftless_gitwrite::checkout(&request).expect_err("host key mismatch");
    assert!(
        matches!(
            err,
            Error::Remote(driftless_source::Error::HostKeyVerification { .. })
        ),
        "{err:?}"
    );
    let text = chain(&err);
    eprintln!("host key: {text}");
    assert!(text.contains(&request.url), "{text}");
    assert!(
        !text.contains(private.lines().nth(1).expect("key body")),
        "{text}"
    );
}

#[test]
fn commit_keeps_gitlinks_and_records_added_and_deleted_files() {
    if !available("git", "commit_keeps_gitlinks") {
        return;
    }
    let served = served();
    // A submodule entry (gitlink) pointing at some commit; its objects need not exist.
    let sub = "0123456789abcdef0123456789abcdef01234567";
    served.fixture.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("160000,{sub},vendor/lib"),
    ]);
    // Not Fixture::commit: its `add -A` drops a gitlink without a checkout.
    served
        .fixture
        .git(&["commit", "-q", "-m", "add a submodule"]);
    served.fixture.git(&["push", "-q", "origin", "main"]);
    let with_gitlink = served.fixture.git(&["rev-parse", "HEAD"]);
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    assert_eq!(tree.base(), with_gitlink);
    assert!(
        tree.dir().join("vendor/lib").is_dir(),
        "an empty directory stands in"
    );
    std::fs::remove_file(tree.dir().join("README.md")).expect("delete");
    std::fs::write(tree.dir().join("apps/api.yaml"), "image: api:2.0.0\n").expect("add");
    let commit = tree
        .commit(&spec("files"))
        .expect("commit")
        .expect("change");
    tree.push(&commit, &PushSpec::default()).expect("push");
    assert_eq!(served.head("main"), commit);
    assert_eq!(
        served.bare_git(&["diff-tree", "--no-commit-id", "--name-status", "-r", "main"]),
        "D\tREADME.md\nA\tapps/api.yaml"
    );
    assert_eq!(
        served.bare_git(&["ls-tree", "main", "vendor/lib"]),
        format!("160000 commit {sub}\tvendor/lib")
    );
}

#[test]
fn checkout_needs_an_empty_directory() {
    if !available("git", "checkout_needs_an_empty_directory") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let dir = served.dir("busy");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("leftover"), "x").expect("write");
    let request = driftless_gitwrite::CheckoutRequest::new(
        daemon.url("repo"),
        driftless_source::GitReference::Branch("main".into()),
        &dir,
    );
    let err = driftless_gitwrite::checkout(&request).expect_err("not empty");
    assert!(matches!(err, Error::DirectoryNotEmpty(_)), "{err:?}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    if !available("git", "a_server_that_never_answers") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let url = daemon.url("repo");
    let mut request = driftless_gitwrite::CheckoutRequest::new(
        &url,
        driftless_source::GitReference::Branch("main".into()),
        served.dir("checkout"),
    );
    request.timeout = std::time::Duration::from_secs(2);
    let tree = driftless_gitwrite::checkout(&request).expect("checkout");
    bump(&tree, "1.1.0");
    let commit = tree
        .commit(&spec("web to 1.1.0"))
        .expect("commit")
        .expect("change");
    // The daemon goes; a listener that accepts and says nothing takes its port.
    let port = daemon.port;
    drop(daemon);
    let silent = std::net::TcpListener::bind(("127.0.0.1", port)).expect("rebind the port");
    let started = std::time::Instant::now();
    let err = tree
        .push(&commit, &PushSpec::default())
        .expect_err("timeout");
    assert!(
        matches!(err, Error::Remote(driftless_source::Error::Timeout { .. })),
        "{err:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(chain(&err).contains(&url), "{}", chain(&err));
    drop(silent);
    assert_eq!(served.head("main"), served.initial);
}

#[test]
fn a_failed_checkout_leaves_the_directory_for_a_retry() {
    if !available("git", "a_failed_checkout_leaves_the_directory") {
        return;
    }
    let served = served();
    let daemon = GitDaemon::start(&served.root);
    let dir = served.dir("checkout");
    // Flux's order: the push branch when it exists, else the checkout branch.
    let mut request = driftless_gitwrite::CheckoutRequest::new(
        daemon.url("repo"),
        driftless_source::GitReference::Branch("auto".into()),
        &dir,
    );
    let err = driftless_gitwrite::checkout(&request).expect_err("no branch auto");
    assert!(
        matches!(
            err,
            Error::Remote(driftless_source::Error::RefNotFound { .. })
        ),
        "{err:?}"
    );
    assert!(!dir.exists(), "the directory this call made is gone");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let err = driftless_gitwrite::checkout(&request).expect_err("no branch auto");
    assert!(matches!(err, Error::Remote(_)), "{err:?}");
    assert_eq!(
        std::fs::read_dir(&dir).expect("list").count(),
        0,
        "left empty"
    );
    request.reference = driftless_source::GitReference::Branch("main".into());
    let tree = driftless_gitwrite::checkout(&request).expect("checkout main");
    assert_eq!(tree.base(), served.initial);
}
