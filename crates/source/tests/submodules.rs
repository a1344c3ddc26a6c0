//! Submodules against `git daemon` on loopback: with `recurse_submodules`
//! each gitlink becomes the tree of its commit (nested ones too, under the
//! same ignore rules); without, it is left out; a submodule on the local
//! file system is refused.

use std::time::Duration;

use driftless_source::{
    Artifact, ArtifactKey, Error, GitFetcher, GitReference, GitSource, Storage,
};
use driftless_testkit::{Fixture, GitDaemon, tar_file, tar_paths};

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
    fn source(&self, name: &str, recurse: bool) -> GitSource {
        let mut s = GitSource::new(
            self.daemon.url(name),
            GitReference::Branch("main".to_owned()),
        );
        s.timeout = Duration::from_secs(30);
        s.recurse_submodules = recurse;
        s
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

/// `git submodule add` from the local bare repositories (git refuses the
/// file transport for submodules unless told).
fn add_submodule(fx: &Fixture, url: &str, path: &str) {
    fx.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        url,
        path,
    ]);
}

#[test]
fn submodules_are_archived_at_their_paths_when_asked() {
    let env = env();
    let leaf = Fixture::new(&env.served, "leaf");
    leaf.write("leaf.yaml", "kind: Leaf\n");
    leaf.commit("leaf");
    let lib = Fixture::new(&env.served, "lib");
    lib.write("lib.yaml", "kind: Lib\n")
        .write("logo.png", "excluded by the default rules")
        .write(".sourceignore", "private/\n")
        .write("private/key", "excluded by lib's own .sourceignore");
    add_submodule(&lib, "../leaf.git", "deps/leaf");
    lib.commit("lib with a nested submodule");
    let app = Fixture::new(&env.served, "app");
    app.write("deploy/app.yaml", "kind: App\n");
    add_submodule(&app, "../lib.git", "vendor/lib");
    let head = app.commit("app with a submodule");

    let key = ArtifactKey::git_repository("default", "app");
    let flat = env
        .fetcher
        .reconcile(&key, &env.source("app", false), None)
        .expect("without submodules")
        .artifact()
        .clone();
    assert_eq!(
        tar_paths(env.bytes(&flat).as_slice()),
        ["deploy/", "deploy/app.yaml"],
        "gitlinks are left out"
    );

    let deep = env
        .fetcher
        .reconcile(&key, &env.source("app", true), None)
        .expect("with submodules")
        .artifact()
        .clone();
    assert_eq!(deep.revision, format!("main@sha1:{head}"));
    let bytes = env.bytes(&deep);
    assert_eq!(
        tar_paths(bytes.as_slice()),
        [
            "deploy/",
            "deploy/app.yaml",
            "vendor/",
            "vendor/lib/",
            "vendor/lib/.sourceignore",
            "vendor/lib/deps/",
            "vendor/lib/deps/leaf/",
            "vendor/lib/deps/leaf/leaf.yaml",
            "vendor/lib/lib.yaml",
        ]
    );

    // A new submodule commit recorded in the superproject is a new revision.
    lib.write("lib.yaml", "kind: Lib\nv: 2\n");
    lib.commit("lib v2");
    app.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "update",
        "-q",
        "--remote",
        "vendor/lib",
    ]);
    app.commit("bump lib");
    let bumped = env
        .fetcher
        .reconcile(&key, &env.source("app", true), Some(&deep))
        .expect("after the bump");
    assert!(bumped.is_updated());
    assert_eq!(
        tar_file(
            env.bytes(bumped.artifact()).as_slice(),
            "vendor/lib/lib.yaml"
        )
        .as_deref(),
        Some("kind: Lib\nv: 2\n")
    );
}

#[test]
fn a_submodule_on_the_local_file_system_is_refused() {
    let env = env();
    let lib = Fixture::new(&env.served, "lib");
    lib.write("lib.yaml", "kind: Lib\n");
    lib.commit("lib");
    let app = Fixture::new(&env.served, "app");
    let local = lib.bare.to_str().expect("utf8").to_owned();
    add_submodule(&app, &local, "vendor/lib");
    app.commit("a submodule by local path");

    let key = ArtifactKey::git_repository("default", "app");
    let err = env
        .fetcher
        .reconcile(&key, &env.source("app", true), None)
        .expect_err("a local submodule");
    assert!(
        matches!(&err, Error::SubmoduleConfig { path, problem }
            if path == "vendor/lib" && problem.contains("local file system")),
        "{err}"
    );
    assert!(err.hint().is_some());
    assert!(
        !env.fetcher
            .storage()
            .root()
            .join("gitrepository/default/app")
            .exists(),
        "nothing was stored"
    );
}
