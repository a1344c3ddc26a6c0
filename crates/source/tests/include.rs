//! Includes against `git daemon` on loopback: another source's stored
//! artifact copied into this one (all of it or one directory, at `toPath`),
//! rebuilt when the included artifact changes, and each bad include failing
//! without touching storage.

use std::time::Duration;

use driftless_source::{
    Artifact, ArtifactKey, ArtifactPath, Error, GitFetcher, GitReference, GitSource, Include,
    Outcome, Storage,
};
use driftless_testkit::{Fixture, GitDaemon, list_dir, tar_file, tar_paths};

struct Env {
    _tmp: tempfile::TempDir,
    served: std::path::PathBuf,
    daemon: GitDaemon,
    fetcher: GitFetcher,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).expect("mkdir");
    let daemon = GitDaemon::start(&served);
    let storage = Storage::new(tmp.path().join("storage")).expect("storage");
    Env {
        _tmp: tmp,
        served,
        daemon,
        fetcher: GitFetcher::new(storage),
    }
}

impl Env {
    fn source(&self, name: &str) -> GitSource {
        let mut s = GitSource::new(
            self.daemon.url(name),
            GitReference::Branch("main".to_owned()),
        );
        s.timeout = Duration::from_secs(30);
        s
    }

    fn fetch(&self, name: &str) -> Artifact {
        let key = ArtifactKey::git_repository("default", name);
        self.fetcher
            .reconcile(&key, &self.source(name), None)
            .expect("fetch")
            .artifact()
            .clone()
    }

    fn bytes(&self, artifact: &Artifact) -> Vec<u8> {
        use std::io::Read;
        let mut bytes = Vec::new();
        self.fetcher
            .storage()
            .open_verified(artifact)
            .expect("verified")
            .read_to_end(&mut bytes)
            .expect("read");
        bytes
    }
}

fn include(artifact: &Artifact, from: &str, to: &str) -> Include {
    Include {
        name: "GitRepository default/shared".to_owned(),
        artifact: artifact.clone(),
        from_path: ArtifactPath::parse("fromPath", from).expect("fromPath"),
        to_path: ArtifactPath::parse("toPath", to).expect("toPath"),
    }
}

fn shared_and_app(env: &Env) -> (Fixture, Fixture) {
    let shared = Fixture::new(&env.served, "shared");
    shared
        .write("base/cm.yaml", "kind: ConfigMap\n")
        .write("base/nested/deep.yaml", "kind: Secret\n")
        .write("README.md", "shared\n");
    shared.commit("shared one");
    let app = Fixture::new(&env.served, "app");
    app.write("deploy/app.yaml", "kind: Deployment\n")
        .write("vendor/stale.yaml", "replaced by the include\n")
        .write("logo.png", "ignored by the defaults");
    app.commit("app one");
    (shared, app)
}

#[test]
fn includes_copy_content_to_their_paths_and_rebuild_on_change() {
    let env = env();
    let (shared, app) = shared_and_app(&env);
    let s1 = env.fetch("shared");
    let key = ArtifactKey::git_repository("default", "app");
    let mut src = env.source("app");
    src.includes = vec![
        include(&s1, "base", "vendor"),
        include(&s1, "", "./all/"),
        include(&s1, "README.md", "docs/SHARED.md"),
    ];

    let Outcome::Updated(a1) = env.fetcher.reconcile(&key, &src, None).expect("build") else {
        panic!("the first build stores an artifact")
    };
    let head = app.git(&["rev-parse", "HEAD"]);
    assert_eq!(
        a1.revision,
        format!("main@sha1:{head}"),
        "the revision stays the own commit"
    );
    let bytes = env.bytes(&a1);
    assert_eq!(
        tar_paths(bytes.as_slice()),
        [
            "all/",
            "all/README.md",
            "all/base/",
            "all/base/cm.yaml",
            "all/base/nested/",
            "all/base/nested/deep.yaml",
            "deploy/",
            "deploy/app.yaml",
            "docs/",
            "docs/SHARED.md",
            "vendor/",
            "vendor/cm.yaml",
            "vendor/nested/",
            "vendor/nested/deep.yaml",
        ]
    );
    assert_eq!(
        tar_file(bytes.as_slice(), "vendor/cm.yaml").as_deref(),
        Some("kind: ConfigMap\n")
    );

    // Same inputs from a fresh storage: the same bytes.
    let other = tempfile::tempdir().expect("tempdir");
    let fresh = GitFetcher::new(Storage::new(other.path()).expect("storage"));
    let s1_again = fresh
        .reconcile(
            &ArtifactKey::git_repository("default", "shared"),
            &env.source("shared"),
            None,
        )
        .expect("shared again")
        .artifact()
        .clone();
    let mut again = src.clone();
    again.includes = vec![
        include(&s1_again, "base", "vendor"),
        include(&s1_again, "", "./all/"),
        include(&s1_again, "README.md", "docs/SHARED.md"),
    ];
    assert_eq!(
        fresh
            .reconcile(&key, &again, None)
            .expect("fresh build")
            .artifact()
            .digest,
        a1.digest
    );

    // The own revision alone decides "unchanged" ...
    assert_eq!(
        env.fetcher.reconcile(&key, &src, Some(&a1)).expect("poll"),
        Outcome::Unchanged(a1.clone())
    );
    // ... so when the included artifact changes the caller asks for a rebuild.
    shared.write("base/cm.yaml", "kind: ConfigMap\nv: 2\n");
    shared.commit("shared two");
    let s2 = env.fetch("shared");
    src.includes = vec![include(&s2, "base", "vendor")];
    let Outcome::Updated(a2) = env.fetcher.reconcile(&key, &src, None).expect("rebuild") else {
        panic!("a rebuild stores an artifact")
    };
    assert_eq!(a2.revision, a1.revision);
    assert_ne!(a2.digest, a1.digest);
    assert_eq!(
        tar_file(env.bytes(&a2).as_slice(), "vendor/cm.yaml").as_deref(),
        Some("kind: ConfigMap\nv: 2\n")
    );
}

#[test]
fn bad_includes_fail_and_leave_storage_alone() {
    let env = env();
    let (shared, _app) = shared_and_app(&env);
    shared.symlink("base/up", "../README.md");
    shared.commit("a link that climbs out of base/");
    let s1 = env.fetch("shared");
    let key = ArtifactKey::git_repository("default", "app");
    let mut src = env.source("app");
    let good = env
        .fetcher
        .reconcile(&key, &src, None)
        .expect("own tree alone")
        .artifact()
        .clone();
    let files = list_dir(
        &env.fetcher
            .storage()
            .root()
            .join("gitrepository/default/app"),
    );

    let mut tampered = s1.clone();
    tampered.digest = format!("sha256:{}", "0".repeat(64));
    type Expect = fn(&Error) -> bool;
    let cases: Vec<(Include, Expect)> = vec![
        (
            include(&s1, "no/such/dir", "x"),
            |e| matches!(e, Error::IncludeFromPathNotFound { from_path, .. } if from_path == "no/such/dir"),
        ),
        (
            include(&tampered, "", "x"),
            |e| matches!(e, Error::Include { source, .. } if matches!(**source, Error::DigestMismatch { .. })),
        ),
        // Fine inside `shared`, but `up` climbs above the root once base/ is the root.
        (
            include(&s1, "base", ""),
            |e| matches!(e, Error::SymlinkEscape { path, .. } if path == "up"),
        ),
        (include(&s1, "README.md", ""), |e| {
            matches!(e, Error::InvalidIncludePath { .. })
        }),
    ];
    for (bad, expected) in cases {
        src.includes = vec![bad.clone()];
        let err = env
            .fetcher
            .reconcile(&key, &src, None)
            .expect_err("a bad include");
        assert!(expected(&err), "{bad:?}: {err}");
        assert!(err.hint().is_some(), "{err} has a hint");
        assert_eq!(
            list_dir(
                &env.fetcher
                    .storage()
                    .root()
                    .join("gitrepository/default/app")
            ),
            files,
            "storage changed after {err}"
        );
    }
    assert!(env.fetcher.storage().open_verified(&good).is_ok());
}
