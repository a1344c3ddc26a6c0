//! End to end against `git daemon` on loopback: first fetch, no-change polls,
//! pushes, tags, semver, commits, and each bad input leaving the previous
//! artifact as it was.

use driftless_testkit as common;

use std::time::Duration;

use common::{Fixture, GitDaemon, git, list_dir, tar_file, tar_paths};
use driftless_source::{
    Artifact, ArtifactKey, Error, FetchOptions, GitFetcher, GitReference, GitSource, Outcome,
    Storage,
};

struct Env {
    _tmp: tempfile::TempDir,
    served: std::path::PathBuf,
    daemon: GitDaemon,
    fetcher: GitFetcher,
}

fn env() -> Env {
    env_with(FetchOptions::default())
}

fn env_with(options: FetchOptions) -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let daemon = GitDaemon::start(&served);
    let storage = Storage::new(tmp.path().join("storage")).expect("storage");
    Env {
        _tmp: tmp,
        served,
        daemon,
        fetcher: GitFetcher::with_options(storage, options),
    }
}

fn source(url: String, reference: GitReference) -> GitSource {
    let mut s = GitSource::new(url, reference);
    s.timeout = Duration::from_secs(30);
    s
}

fn branch(name: &str) -> GitReference {
    GitReference::Branch(name.to_owned())
}

fn artifact_dir(env: &Env, key: &ArtifactKey) -> std::path::PathBuf {
    env.fetcher
        .storage()
        .root()
        .join(format!("{}/{}/{}", key.kind, key.namespace, key.name))
}

fn read_artifact(env: &Env, a: &Artifact) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = Vec::new();
    env.fetcher
        .storage()
        .open_verified(a)
        .expect("verified")
        .read_to_end(&mut bytes)
        .expect("read");
    bytes
}

fn pack_count(env: &Env) -> usize {
    fn walk(dir: &std::path::Path, n: &mut usize) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.extension().is_some_and(|x| x == "pack") {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(&env.fetcher.storage().root().join(".git-cache"), &mut n);
    n
}

#[test]
fn branch_first_fetch_no_change_and_push() {
    let env = env();
    let fx = Fixture::new(&env.served, "app");
    fx.write("deploy/app.yaml", "kind: ConfigMap\n")
        .write("README.md", "hello\n")
        .write(".github/workflows/ci.yaml", "on: push\n")
        .write("logo.png", "not really a png")
        .write(".sourceignore", "secret/\n")
        .write("secret/key", "nope")
        .write("deploy/.sourceignore", "*.tmp\n")
        .write("deploy/x.tmp", "scratch")
        .symlink("deploy/current", "app.yaml");
    let c1 = fx.commit("one");
    let key = ArtifactKey::git_repository("default", "app");
    let src = source(env.daemon.url("app"), branch("main"));

    let first = env
        .fetcher
        .reconcile(&key, &src, None)
        .expect("first fetch");
    let Outcome::Updated(a1) = first else {
        panic!("first fetch must store an artifact")
    };
    assert_eq!(a1.revision, format!("main@sha1:{c1}"));
    assert!(a1.digest.starts_with("sha256:"));
    assert!(
        a1.path.starts_with("gitrepository/default/app/"),
        "{}",
        a1.path
    );
    let bytes = read_artifact(&env, &a1);
    assert_eq!(bytes.len() as u64, a1.size);
    assert_eq!(
        tar_paths(bytes.as_slice()),
        [
            ".sourceignore",
            "README.md",
            "deploy/",
            "deploy/.sourceignore",
            "deploy/app.yaml",
            "deploy/current"
        ]
    );
    assert_eq!(
        tar_file(bytes.as_slice(), "README.md").as_deref(),
        Some("hello\n")
    );
    // Shallow: the kept repository has exactly the one commit.
    let cache_shallow = walkdir_find(&env.fetcher.storage().root().join(".git-cache"), "shallow");
    assert!(cache_shallow, "the kept repository is shallow");

    // Nothing changed: same artifact, no new file, no new pack.
    let files_before = list_dir(&artifact_dir(&env, &key));
    let packs_before = pack_count(&env);
    let second = env.fetcher.reconcile(&key, &src, Some(&a1)).expect("poll");
    assert_eq!(second, Outcome::Unchanged(a1.clone()));
    assert_eq!(list_dir(&artifact_dir(&env, &key)), files_before);
    assert_eq!(pack_count(&env), packs_before);

    // Same tree from a fresh storage gives the same digest.
    let other = tempfile::tempdir().expect("tempdir");
    let fresh = GitFetcher::new(Storage::new(other.path()).expect("storage"));
    let again = fresh.reconcile(&key, &src, None).expect("fresh fetch");
    assert_eq!(again.artifact().digest, a1.digest);

    // A push is picked up, incrementally.
    fx.write("deploy/app.yaml", "kind: ConfigMap\nv: 2\n");
    let c2 = fx.commit("two");
    let third = env
        .fetcher
        .reconcile(&key, &src, Some(&a1))
        .expect("after push");
    let Outcome::Updated(a2) = third else {
        panic!("push must give a new artifact")
    };
    assert_eq!(a2.revision, format!("main@sha1:{c2}"));
    assert_ne!(a2.digest, a1.digest);
    assert_eq!(
        tar_file(read_artifact(&env, &a2).as_slice(), "deploy/app.yaml").as_deref(),
        Some("kind: ConfigMap\nv: 2\n")
    );
    // The previous artifact is kept (retention 2).
    assert!(env.fetcher.storage().open_verified(&a1).is_ok());
}

fn walkdir_find(dir: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            (p.file_name().is_some_and(|n| n == name)) || (p.is_dir() && walkdir_find(&p, name))
        })
}

#[test]
fn tags_semver_name_and_commit() {
    let env = env();
    let fx = Fixture::new(&env.served, "tags");
    fx.write("v.txt", "1.0.0");
    let c100 = fx.commit("1.0.0");
    fx.tag("v1.0.0", false);
    fx.write("v.txt", "1.1.0");
    let c110 = fx.commit("1.1.0");
    fx.tag("v1.1.0", true);
    fx.write("v.txt", "2.0.0");
    let c200 = fx.commit("2.0.0");
    fx.tag("v2.0.0", true);
    fx.tag("not-a-version", false);
    let url = env.daemon.url("tags");
    let fetch = |name: &str, reference: GitReference| {
        let key = ArtifactKey::git_repository("default", name);
        let out = env
            .fetcher
            .reconcile(&key, &source(url.clone(), reference), None);
        out.map(|o| {
            let a = o.artifact().clone();
            let text = tar_file(read_artifact(&env, &a).as_slice(), "v.txt");
            (a.revision, text.unwrap_or_default())
        })
    };

    assert_eq!(
        fetch("tag", GitReference::Tag("v1.0.0".into())).expect("tag"),
        (format!("v1.0.0@sha1:{c100}"), "1.0.0".into())
    );
    // Annotated tags resolve to the commit they point at.
    assert_eq!(
        fetch("semver", GitReference::Semver(">=1.0.0 <2.0.0".into())).expect("semver"),
        (format!("v1.1.0@sha1:{c110}"), "1.1.0".into())
    );
    assert_eq!(
        fetch("semver-any", GitReference::Semver("*".into())).expect("semver *"),
        (format!("v2.0.0@sha1:{c200}"), "2.0.0".into())
    );
    assert_eq!(
        fetch("name", GitReference::Name("refs/heads/main".into())).expect("name"),
        (format!("refs/heads/main@sha1:{c200}"), "2.0.0".into())
    );
    assert_eq!(
        fetch(
            "commit",
            GitReference::Commit {
                sha: c100.clone(),
                branch: None
            }
        )
        .expect("commit"),
        (format!("sha1:{c100}"), "1.0.0".into())
    );
    assert_eq!(
        fetch(
            "commit-branch",
            GitReference::Commit {
                sha: c110.clone(),
                branch: Some("main".into())
            }
        )
        .expect("commit with branch"),
        (format!("main@sha1:{c110}"), "1.1.0".into())
    );
}

/// A bad source and a check of the error it must give.
type Case = (GitSource, fn(&Error) -> bool);

/// Each bad input fails with the right error and leaves the previous artifact untouched.
#[test]
fn bad_inputs_keep_the_previous_artifact() {
    let env = env();
    let fx = Fixture::new(&env.served, "repo");
    fx.write("a.yaml", "a: 1\n");
    fx.commit("one");
    fx.tag("v1.0.0", false);
    let url = env.daemon.url("repo");
    let key = ArtifactKey::git_repository("default", "repo");
    let good = env
        .fetcher
        .reconcile(&key, &source(url.clone(), branch("main")), None)
        .expect("good fetch")
        .artifact()
        .clone();
    let files = list_dir(&artifact_dir(&env, &key));
    let bytes = read_artifact(&env, &good);

    // A server that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming() {
            held.push(s);
        }
    });
    // A port nobody listens on.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port();

    let missing_commit = "0123456789abcdef0123456789abcdef01234567".to_owned();
    let cases: Vec<Case> = vec![
        (
            source(url.clone(), branch("nope")),
            |e| matches!(e, Error::RefNotFound { reference, .. } if reference.contains("nope")),
        ),
        (source(url.clone(), GitReference::Tag("v9".into())), |e| {
            matches!(e, Error::RefNotFound { .. })
        }),
        (
            source(url.clone(), GitReference::Semver(">=2.0.0".into())),
            |e| matches!(e, Error::SemverNoMatch { tags: 1, .. }),
        ),
        (
            source(url.clone(), GitReference::Semver("~~nonsense".into())),
            |e| matches!(e, Error::InvalidSemver { .. }),
        ),
        (
            source(
                url.clone(),
                GitReference::Commit {
                    sha: missing_commit,
                    branch: None,
                },
            ),
            |e| matches!(e, Error::CommitNotFound { .. }),
        ),
        (
            source(
                format!("git://127.0.0.1:{closed_port}/repo.git"),
                branch("main"),
            ),
            |e| matches!(e, Error::Unreachable { .. }),
        ),
        (
            GitSource {
                timeout: Duration::from_millis(500),
                ..source(
                    format!("git://127.0.0.1:{silent_port}/repo.git"),
                    branch("main"),
                )
            },
            |e| matches!(e, Error::Timeout { .. }),
        ),
        (
            source(env.daemon.url("no-such-repo"), branch("main")),
            |e| matches!(e, Error::RepositoryNotFound { .. }),
        ),
    ];
    for (src, expected) in cases {
        let started = std::time::Instant::now();
        let err = env
            .fetcher
            .reconcile(&key, &src, Some(&good))
            .expect_err(&format!("{:?} must fail", src.reference));
        let chain = error_chain(&err);
        eprintln!("{chain}");
        assert!(
            expected(&err),
            "{:?} at {}: unexpected error: {chain}",
            src.reference,
            src.url
        );
        assert!(
            err.to_string().contains(&src.url) || matches!(err, Error::InvalidSemver { .. }),
            "{chain}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{chain} took too long"
        );
        assert_eq!(
            list_dir(&artifact_dir(&env, &key)),
            files,
            "storage changed after {chain}"
        );
        assert_eq!(read_artifact(&env, &good), bytes);
    }
}

fn error_chain(err: &Error) -> String {
    let mut s = err.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    if let Some(h) = err.hint() {
        s.push_str(&format!(" (hint: {h})"));
    }
    s
}

#[test]
fn unsafe_trees_and_large_files_are_refused() {
    let env = env_with(FetchOptions {
        max_file_size: 1024,
        ..FetchOptions::default()
    });
    let key = ArtifactKey::git_repository("default", "unsafe");

    // A link climbing out of the tree.
    let fx = Fixture::new(&env.served, "links");
    fx.write("ok.yaml", "x: 1\n")
        .symlink("sub/evil", "../../etc/passwd");
    fx.commit("evil link");
    let err = env
        .fetcher
        .reconcile(&key, &source(env.daemon.url("links"), branch("main")), None)
        .expect_err("escaping link");
    assert!(
        matches!(&err, Error::SymlinkEscape { path, .. } if path == "sub/evil"),
        "{err}"
    );

    // Ignoring the link makes the tree acceptable.
    let mut src = source(env.daemon.url("links"), branch("main"));
    src.ignore = Some("sub/evil\n".into());
    env.fetcher
        .reconcile(&key, &src, None)
        .expect("link ignored");

    // A file over the limit.
    let big = Fixture::new(&env.served, "big");
    big.write("big.bin", &"x".repeat(4096));
    big.commit("big");
    let err = env
        .fetcher
        .reconcile(&key, &source(env.daemon.url("big"), branch("main")), None)
        .expect_err("large file");
    assert!(
        matches!(&err, Error::FileTooLarge { path, size: 4096, limit: 1024 } if path == "big.bin"),
        "{err}"
    );

    // A tree entry named `..`, written by hand (git itself would not make one).
    let bad = Fixture::new(&env.served, "dotdot");
    bad.write("f", "payload\n");
    bad.commit("base");
    let blob = git(&bad.work, &["rev-parse", "HEAD:f"]);
    let mut tree = b"100644 ..\0".to_vec();
    tree.extend(hex_bytes(&blob));
    let tree_file = bad.work.join("tree.bin");
    std::fs::write(&tree_file, tree).expect("write tree");
    let tree_id = git(
        &bad.work,
        &[
            "hash-object",
            "-t",
            "tree",
            "-w",
            "--literally",
            tree_file.to_str().expect("utf8"),
        ],
    );
    let commit = git(&bad.work, &["commit-tree", &tree_id, "-m", "evil"]);
    git(
        &bad.work,
        &["push", "-q", "origin", &format!("{commit}:refs/heads/evil")],
    );
    let err = env
        .fetcher
        .reconcile(
            &key,
            &source(env.daemon.url("dotdot"), branch("evil")),
            None,
        )
        .expect_err("dotdot entry");
    assert!(
        matches!(&err, Error::UnsafePath { path } if path == ".."),
        "{err}"
    );
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Every file and directory under `dir`.
fn paths_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut paths = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(current) = dirs.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths
}

#[test]
fn locks_left_by_a_killed_controller_do_not_stop_later_fetches() {
    let env = env();
    let fx = Fixture::new(&env.served, "app");
    fx.write("app.yaml", "kind: ConfigMap\n");
    fx.commit("one");
    let key = ArtifactKey::git_repository("default", "app");
    let src = source(env.daemon.url("app"), branch("main"));
    let first = env
        .fetcher
        .reconcile(&key, &src, None)
        .expect("first fetch");
    // A process killed mid-fetch leaves its lock files behind (older than
    // this process's first fetch; one this process made would stay).
    let cache = env.fetcher.storage().root().join(".git-cache");
    let repos: Vec<_> = paths_under(&cache)
        .into_iter()
        .filter(|p| p.join("HEAD").is_file())
        .collect();
    assert_eq!(repos.len(), 1, "one kept repository: {repos:?}");
    for stale in [
        "refs/heads/main.lock",
        "shallow.lock",
        "packed-refs.lock",
        "config.lock",
    ] {
        let path = repos[0].join(stale);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("its directory");
        let lock = std::fs::File::create(path).expect("a stale lock");
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        lock.set_modified(an_hour_ago).expect("an old lock");
    }
    fx.write("app.yaml", "kind: Secret\n");
    let c2 = fx.commit("two");
    let second = env
        .fetcher
        .reconcile(&key, &src, Some(first.artifact()))
        .unwrap_or_else(|e| panic!("a fetch after stale locks: {}", error_chain(&e)));
    assert_eq!(second.artifact().revision, format!("main@sha1:{c2}"));
    let left: Vec<_> = paths_under(&cache)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "lock"))
        .collect();
    assert!(left.is_empty(), "stale locks left: {left:?}");
}
