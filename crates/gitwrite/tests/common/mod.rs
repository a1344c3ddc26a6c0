//! Shared setup for the push tests: a served repository with a few files,
//! a checkout of it, and the real `git` to look at what arrived.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use driftless_gitwrite::{CheckoutRequest, CommitSpec, Identity, WorkTree, checkout};
use driftless_source::GitReference;
use driftless_testkit::{Fixture, git};

/// Whether `program` runs; prints SKIPPED (or fails under
/// `DRIFTLESS_REQUIRE_SHARED=1`) when it does not.
pub fn available(program: &str, test: &str) -> bool {
    // Found on PATH (or in /usr/sbin, where sshd and lighttpd live); not
    // every tool has a `--version` to ask.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .any(|dir| dir.join(program).is_file());
    if !found {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "{test}: {program} is required (DRIFTLESS_REQUIRE_SHARED=1)"
        );
        eprintln!("SKIPPED: {test}: {program} not found");
    }
    found
}

/// A temporary served root with repository `repo` (on `main`) holding a
/// manifest, a script, a symlink and a README.
pub struct Served {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub fixture: Fixture,
    pub initial: String,
}

pub fn served() -> Served {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("served");
    std::fs::create_dir_all(&root).expect("mkdir served");
    let fixture = Fixture::new(&root, "repo");
    fixture
        .write(
            "apps/web.yaml",
            "image: web:1.0.0 # {\"$imagepolicy\": \"apps:web\"}\n",
        )
        .write("README.md", "fleet\n")
        .write("bin/run.sh", "#!/bin/sh\necho run\n")
        .symlink("current", "apps/web.yaml");
    let script = fixture.work.join("bin/run.sh");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let initial = fixture.commit("initial");
    Served {
        tmp,
        root,
        fixture,
        initial,
    }
}

impl Served {
    /// A fresh checkout directory under the temporary root.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `git` in the bare repository.
    pub fn bare_git(&self, args: &[&str]) -> String {
        git(&self.fixture.bare, args)
    }

    /// The hash `refs/heads/<branch>` has in the bare repository.
    pub fn head(&self, branch: &str) -> String {
        self.bare_git(&["rev-parse", &format!("refs/heads/{branch}")])
    }
}

/// Check out `url` at `main` into `dir`.
pub fn checkout_main(url: &str, dir: &Path, auth: Option<driftless_source::GitAuth>) -> WorkTree {
    let mut request = CheckoutRequest::new(url, GitReference::Branch("main".into()), dir);
    request.auth = auth;
    request.timeout = std::time::Duration::from_secs(30);
    checkout(&request).expect("checkout")
}

/// The commit spec the tests use: a fixed bot and time.
pub fn spec(message: &str) -> CommitSpec {
    let mut spec = CommitSpec::new(
        Identity::new("fluxbot", "bot@example.com"),
        1_765_000_000,
        message,
    );
    spec.utc_offset = 3600;
    spec
}

/// Edit the manifest in `tree` to `tag`.
pub fn bump(tree: &WorkTree, tag: &str) {
    std::fs::write(
        tree.dir().join("apps/web.yaml"),
        format!("image: web:{tag} # {{\"$imagepolicy\": \"apps:web\"}}\n"),
    )
    .expect("edit manifest");
}

/// Assert that `branch` in `served` is exactly `commit`: child of `parent`,
/// by fluxbot at the fixed time, changing only the manifest.
pub fn assert_pushed(served: &Served, branch: &str, commit: &str, parent: &str) {
    assert_eq!(served.head(branch), commit, "{branch} is our commit");
    let reference = format!("refs/heads/{branch}");
    assert_eq!(
        served.bare_git(&["log", "-1", "--format=%P|%an <%ae>|%at %ai|%s", &reference]),
        format!(
            "{parent}|fluxbot <bot@example.com>|1765000000 2025-12-06 06:46:40 +0100|web to 1.1.0"
        )
    );
    assert_eq!(
        served.bare_git(&[
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            &reference
        ]),
        "apps/web.yaml"
    );
    assert_eq!(
        served.bare_git(&["show", &format!("{reference}:apps/web.yaml")]),
        "image: web:1.1.0 # {\"$imagepolicy\": \"apps:web\"}"
    );
    // The repository is whole: git finds nothing missing or corrupt.
    served.bare_git(&["fsck", "--no-dangling", "--strict"]);
}
