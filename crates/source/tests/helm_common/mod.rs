//! Shared by the Helm integration tests: podinfo (from the shared corpus)
//! packaged and indexed by the real `helm`, served by lighttpd on
//! loopback. Without `helm` or the corpus, [`podinfo`] prints SKIPPED and
//! returns `None`, unless `DRIFTLESS_REQUIRE_SHARED=1` makes that a failure.

#![allow(dead_code)] // each test file uses its own part of this module

use std::path::{Path, PathBuf};

use driftless_source::helm::{BasicAuth, HelmFetcher, HelmRepository};
use driftless_source::{ArtifactKey, Storage};
use driftless_testkit::BASIC_USER;
use driftless_testkit::helm_repo::{StaticServer, helm_available, helm_package, helm_repo_index};

/// The versions [`env`] packages podinfo at.
pub const VERSIONS: [&str; 4] = ["5.2.0", "6.14.1", "6.15.0", "7.0.0-rc.1"];

/// The shared podinfo chart directory, when `helm` and the corpus are there.
pub fn podinfo() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("DRIFTLESS_SHARED_DIR")
        .map_or_else(|| manifest.join("../../../shared"), PathBuf::from);
    let chart = shared.join("helm-conformance/charts/podinfo");
    let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
    if !helm_available() || !chart.join("Chart.yaml").is_file() {
        assert!(
            !required,
            "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH or {} is missing",
            chart.display()
        );
        println!("SKIPPED: needs helm on PATH and the shared podinfo chart");
        return None;
    }
    Some(chart)
}

/// A served chart repository and a fetcher storing beside it.
pub struct Env {
    /// Holds everything below; removed on drop.
    pub dir: tempfile::TempDir,
    /// The served directory: packages and `index.yaml`.
    pub repo_dir: PathBuf,
    /// lighttpd serving `repo_dir` under `/anon/` and `/basic/`.
    pub server: StaticServer,
    /// Stores under `dir/storage`.
    pub fetcher: HelmFetcher,
}

/// podinfo packaged at [`VERSIONS`] into one directory, indexed with
/// relative URLs (or absolute ones under `base_url`), served.
pub fn env(chart: &Path, base_url: Option<&dyn Fn(u16) -> String>) -> Env {
    env_with(chart, &VERSIONS, base_url)
}

/// [`env`] with other versions.
pub fn env_with(chart: &Path, versions: &[&str], base_url: Option<&dyn Fn(u16) -> String>) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo_dir = dir.path().join("repo");
    for v in versions {
        helm_package(chart, Some(*v), &repo_dir);
    }
    let server = StaticServer::start(&repo_dir);
    let url = base_url.map(|f| f(server.port));
    helm_repo_index(&repo_dir, url.as_deref());
    let fetcher = HelmFetcher::new(Storage::new(dir.path().join("storage")).expect("storage"));
    Env {
        dir,
        repo_dir,
        server,
        fetcher,
    }
}

/// The `HelmRepository` artifact key the tests use.
pub fn repo_key() -> ArtifactKey {
    ArtifactKey::helm_repository("flux-system", "podinfo")
}

/// The `HelmChart` artifact key the tests use.
pub fn chart_key() -> ArtifactKey {
    ArtifactKey::helm_chart("flux-system", "podinfo")
}

/// A repository at `url` with the test server's user and `password`.
pub fn with_auth(url: String, password: &str) -> HelmRepository {
    let mut repo = HelmRepository::new(url);
    repo.auth = Some(BasicAuth::new(BASIC_USER, password));
    repo
}

/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
