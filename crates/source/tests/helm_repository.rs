//! Helm repositories over real HTTP: charts packaged and indexed by the
//! real `helm` (the shared podinfo chart), served by lighttpd on loopback,
//! with and without basic auth. Without `helm` or the shared corpus each
//! test prints SKIPPED, unless `DRIFTLESS_REQUIRE_SHARED=1` makes that a
//! failure.

use std::path::{Path, PathBuf};

use driftless_source::helm::{
    BasicAuth, ChartOutcome, ChartRequest, HelmError, HelmFetcher, HelmLimits, HelmRepository,
    IndexOutcome, LastIndex, LocalChartRequest,
};
use driftless_source::{ArtifactKey, Storage};
use driftless_testkit::helm_repo::{
    StaticServer, helm_available, helm_package, helm_pull_version, helm_repo_index, helm_template,
};
use driftless_testkit::{BASIC_PASSWORD, BASIC_USER, tar_paths};
use sha2::{Digest, Sha256};

const VERSIONS: [&str; 4] = ["5.2.0", "6.14.1", "6.15.0", "7.0.0-rc.1"];

fn podinfo() -> Option<PathBuf> {
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

struct Env {
    dir: tempfile::TempDir,
    repo_dir: PathBuf,
    server: StaticServer,
    fetcher: HelmFetcher,
}

/// podinfo packaged at [`VERSIONS`] into one directory, indexed with
/// relative URLs (or absolute ones under `base_url`), served.
fn env(chart: &Path, base_url: Option<&dyn Fn(u16) -> String>) -> Env {
    env_with(chart, &VERSIONS, base_url)
}

fn env_with(chart: &Path, versions: &[&str], base_url: Option<&dyn Fn(u16) -> String>) -> Env {
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

fn repo_key() -> ArtifactKey {
    ArtifactKey::helm_repository("flux-system", "podinfo")
}

fn chart_key() -> ArtifactKey {
    ArtifactKey::helm_chart("flux-system", "podinfo")
}

fn with_auth(url: String, password: &str) -> HelmRepository {
    let mut repo = HelmRepository::new(url);
    repo.auth = Some(BasicAuth::new(BASIC_USER, password));
    repo
}

#[test]
fn index_is_stored_then_not_modified_then_unchanged() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let first = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("first fetch");
    let IndexOutcome::Updated { artifact, etag } = &first else {
        panic!("first fetch stores: {first:?}")
    };
    let served = std::fs::read(env.repo_dir.join("index.yaml")).expect("index");
    let revision_hex = hex::encode(Sha256::digest(&served));
    assert_eq!(artifact.revision, format!("sha256:{revision_hex}"));
    assert_eq!(
        artifact.path,
        format!("helmrepository/flux-system/podinfo/index-{revision_hex}.yaml")
    );
    assert!(etag.is_some(), "lighttpd sends an ETag");
    let stored = env
        .fetcher
        .storage()
        .open_verified(artifact)
        .expect("digest checks");
    drop(stored);
    let index = env
        .fetcher
        .load_index(artifact)
        .expect("stored index reads");
    let versions: Vec<&str> = index.entries["podinfo"]
        .iter()
        .map(|c| c.version.as_str())
        .collect();
    assert_eq!(versions, ["7.0.0-rc.1", "6.15.0", "6.14.1", "5.2.0"]);

    let last = LastIndex::from(&first);
    let second = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, Some(&last))
        .expect("second fetch");
    assert!(
        matches!(&second, IndexOutcome::NotModified { artifact: a, .. } if a == artifact),
        "{second:?}"
    );

    // Without the ETag the index is downloaded, found the same, not stored again.
    let no_etag = LastIndex {
        artifact: artifact.clone(),
        etag: None,
    };
    let third = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, Some(&no_etag))
        .expect("third fetch");
    assert!(matches!(third, IndexOutcome::Unchanged { .. }), "{third:?}");

    // The ETag is not trusted when the artifact's file is gone: downloaded and stored again.
    std::fs::remove_file(env.fetcher.storage().local_path(artifact)).expect("remove");
    let fourth = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, Some(&last))
        .expect("fourth fetch");
    assert!(
        matches!(&fourth, IndexOutcome::Updated { artifact: a, .. } if a.revision == artifact.revision),
        "{fourth:?}"
    );
    assert!(env.fetcher.storage().looks_present(fourth.artifact()));
}

#[test]
fn basic_auth_is_sent_and_a_wrong_password_names_no_secret() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let url = env.server.url("basic", "");
    let ok = env
        .fetcher
        .reconcile_index(&repo_key(), &with_auth(url.clone(), BASIC_PASSWORD), None)
        .expect("with credentials");
    assert!(ok.is_updated());

    let wrong = "not-the-password-42";
    let repo = with_auth(url.clone(), wrong);
    let err = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect_err("wrong password");
    assert!(
        matches!(err, HelmError::AuthFailed { status: 401, .. }),
        "{err:?}"
    );
    let shown = format!("{err} {err:?} {:?} {repo:?}", err.hint());
    assert!(!shown.contains(wrong), "{shown}");
    assert!(!shown.contains(BASIC_PASSWORD), "{shown}");

    let anonymous = HelmRepository::new(url);
    let err = env
        .fetcher
        .reconcile_index(&repo_key(), &anonymous, None)
        .expect_err("no credentials");
    assert!(matches!(err, HelmError::AuthFailed { .. }), "{err:?}");

    // The chart, on the repository's own host, gets the credentials.
    let repo = with_auth(env.server.url("basic", ""), BASIC_PASSWORD);
    let index = env.fetcher.load_index(ok.artifact()).expect("index");
    let built = env
        .fetcher
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "6.14.x"),
            None,
        )
        .expect("chart over basic auth");
    assert_eq!(built.build().version, "6.14.1");
}

#[test]
fn versions_are_selected_downloaded_and_reused() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    for (range, expected) in [
        ("", "6.15.0"),
        ("*", "6.15.0"),
        ("6.x", "6.15.0"),
        ("~6.14", "6.14.1"),
        ("6.14.1", "6.14.1"),
        ("<6", "5.2.0"),
        (">=7.0.0-0", "7.0.0-rc.1"),
    ] {
        let out = env
            .fetcher
            .reconcile_chart(
                &chart_key(),
                &repo,
                &index,
                &ChartRequest::new("podinfo", range),
                None,
            )
            .unwrap_or_else(|e| panic!("{range:?}: {e}"));
        let ChartOutcome::Updated(build) = out else {
            panic!("{range:?}: a build without last stores")
        };
        assert_eq!(build.version, expected, "{range:?}");
        assert_eq!(build.artifact.revision, expected);
        assert_eq!(
            build.artifact.path,
            format!("helmchart/flux-system/podinfo/podinfo-{expected}.tgz")
        );
        assert!(!build.packaged);
        // Stored as downloaded: the bytes helm packaged.
        let served =
            std::fs::read(env.repo_dir.join(format!("podinfo-{expected}.tgz"))).expect("package");
        let stored =
            std::fs::read(env.fetcher.storage().local_path(&build.artifact)).expect("artifact");
        assert!(
            served == stored,
            "{range:?}: artifact differs from the package"
        );
        assert_eq!(
            build.artifact.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&served)))
        );
    }

    let request = ChartRequest::new("podinfo", "6.x");
    let first = env
        .fetcher
        .reconcile_chart(&chart_key(), &repo, &index, &request, None)
        .expect("build");
    // Stop the server: a reuse must not need it.
    drop(env.server);
    let again = env
        .fetcher
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &request,
            Some(&first.build().artifact),
        )
        .expect("reused without the server");
    assert!(!again.is_updated());
    assert_eq!(again.build().artifact, first.build().artifact);
    drop(env.dir);
}

#[test]
fn a_missing_version_lists_what_exists() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let err = env
        .fetcher
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "8.x"),
            None,
        )
        .expect_err("no 8.x");
    assert_eq!(
        err.to_string(),
        format!(
            "no chart version found for podinfo-8.x in {} (available: 7.0.0-rc.1, 6.15.0, 6.14.1, 5.2.0)",
            env.server.url("anon", "")
        )
    );
}

#[test]
fn a_digest_mismatch_is_refused() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let index_path = env.repo_dir.join("index.yaml");
    let text = std::fs::read_to_string(&index_path).expect("index");
    let served = std::fs::read(env.repo_dir.join("podinfo-6.15.0.tgz")).expect("package");
    let real = hex::encode(Sha256::digest(&served));
    assert!(text.contains(&real), "helm repo index writes the digest");
    std::fs::write(&index_path, text.replace(&real, &"0".repeat(64))).expect("tamper");

    let repo = HelmRepository::new(env.server.url("anon", ""));
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let err = env
        .fetcher
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "6.15.0"),
            None,
        )
        .expect_err("digest differs");
    assert!(
        matches!(&err, HelmError::DigestMismatch { actual, .. } if *actual == real),
        "{err:?}"
    );
    assert!(
        driftless_testkit::list_dir(&env.dir.path().join("storage/helmchart/flux-system/podinfo"))
            .iter()
            .all(|f| f.starts_with('.')),
        "nothing stored"
    );
}

#[test]
fn an_oversized_index_or_chart_is_refused() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let small = HelmFetcher::with_limits(
        env.fetcher.storage().clone(),
        HelmLimits {
            max_index_size: 100,
            max_chart_size: 1000,
            ..HelmLimits::default()
        },
    );
    let err = small
        .reconcile_index(&repo_key(), &repo, None)
        .expect_err("index too large");
    assert!(
        matches!(
            err,
            HelmError::TooLarge {
                what: "index",
                limit: 100,
                ..
            }
        ),
        "{err:?}"
    );
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let err = small
        .reconcile_chart(
            &chart_key(),
            &repo,
            &index,
            &ChartRequest::new("podinfo", "*"),
            None,
        )
        .expect_err("chart too large");
    assert!(
        matches!(err, HelmError::TooLarge { what: "chart", .. }),
        "{err:?}"
    );
}

#[test]
fn charts_on_another_host_get_credentials_only_with_pass_credentials() {
    let Some(chart) = podinfo() else { return };
    // The index names the charts by absolute URLs on `localhost`, another
    // host name than the repository's 127.0.0.1, both behind basic auth.
    let other_host = |port: u16| format!("http://localhost:{port}/basic");
    let env = env(&chart, Some(&other_host));
    let mut repo = with_auth(env.server.url("basic", ""), BASIC_PASSWORD);
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    assert!(index.entries["podinfo"][0].urls[0].starts_with("http://localhost:"));
    let request = ChartRequest::new("podinfo", "6.15.0");
    let err = env
        .fetcher
        .reconcile_chart(&chart_key(), &repo, &index, &request, None)
        .expect_err("no credentials for another host");
    assert!(
        matches!(&err, HelmError::AuthFailed { url, status: 401 } if url.starts_with("http://localhost:")),
        "{err:?}"
    );
    repo.pass_credentials = true;
    let built = env
        .fetcher
        .reconcile_chart(&chart_key(), &repo, &index, &request, None)
        .expect("passCredentials sends them");
    assert_eq!(built.build().version, "6.15.0");
}

#[test]
fn values_files_repackage_a_repository_chart() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let repo = HelmRepository::new(env.server.url("anon", ""));
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let mut request = ChartRequest::new("podinfo", "6.14.1");
    request.values_files = vec![
        "values.yaml".into(),
        "values-prod.yaml".into(),
        "nope.yaml".into(),
    ];
    request.ignore_missing_values_files = true;
    request.generation = 2;
    let built = env
        .fetcher
        .reconcile_chart(&chart_key(), &repo, &index, &request, None)
        .expect("packaged");
    let build = built.build();
    assert_eq!(build.version, "6.14.1+2");
    assert_eq!(
        build.artifact.path,
        "helmchart/flux-system/podinfo/podinfo-6.14.1+2.tgz"
    );
    assert_eq!(build.values_files, ["values.yaml", "values-prod.yaml"]);
    assert!(build.packaged);
    let bytes = std::fs::read(env.fetcher.storage().local_path(&build.artifact)).expect("artifact");
    let chart_yaml =
        driftless_testkit::tar_file(bytes.as_slice(), "podinfo/Chart.yaml").expect("Chart.yaml");
    assert!(chart_yaml.contains("version: 6.14.1+2"), "{chart_yaml}");
    // The merge is what helm itself computes for `-f values.yaml -f values-prod.yaml`.
    let values =
        driftless_testkit::tar_file(bytes.as_slice(), "podinfo/values.yaml").expect("values");
    let merged: serde_json::Value = serde_saphyr::from_str(&values).expect("yaml");
    let prod: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(chart.join("values-prod.yaml")).expect("prod values"),
    )
    .expect("yaml");
    assert_eq!(merged["replicaCount"], prod["replicaCount"]);
    assert_eq!(merged["image"]["repository"], prod["image"]["repository"]);
    // Helm reads the repackaged chart, rewritten Chart.yaml included.
    let manifests = helm_template(
        "web",
        &env.fetcher.storage().local_path(&build.artifact),
        &[],
    );
    assert!(
        manifests.contains("helm.sh/chart: podinfo-6.14.1_2"),
        "{manifests}"
    );
    // And renders what helm renders from the original package given the
    // same files with -f, but for the version label.
    let values_dir = env.dir.path().join("values");
    std::fs::create_dir_all(&values_dir).expect("mkdir");
    for file in ["values.yaml", "values-prod.yaml"] {
        std::fs::copy(chart.join(file), values_dir.join(file)).expect("copy");
    }
    let (v, p) = (
        values_dir.join("values.yaml"),
        values_dir.join("values-prod.yaml"),
    );
    let expected = helm_template(
        "web",
        &env.repo_dir.join("podinfo-6.14.1.tgz"),
        &[
            "-f",
            &v.display().to_string(),
            "-f",
            &p.display().to_string(),
        ],
    );
    // Test pods get random names (randAlphaNum); leave those lines out.
    let stable = |text: &str| -> String {
        text.lines()
            .filter(|l| !(l.starts_with("  name: ") && l.contains("-test-")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        stable(&manifests.replace("podinfo-6.14.1_2", "podinfo-6.14.1")),
        stable(&expected)
    );

    request.ignore_missing_values_files = false;
    let err = env
        .fetcher
        .reconcile_chart(&chart_key(), &repo, &index, &request, None)
        .expect_err("missing values file");
    assert!(err.to_string().contains("nope.yaml"), "{err}");
}

#[test]
fn a_chart_directory_packages_the_files_helm_packages() {
    let Some(chart) = podinfo() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source");
    let copy = source.join("charts/podinfo");
    copy_dir(&chart, &copy);
    // Files .helmignore leaves out must stay out.
    std::fs::write(copy.join("scratch.orig"), "x").expect("write");
    std::fs::create_dir_all(copy.join(".git")).expect("mkdir");
    std::fs::write(copy.join(".git/HEAD"), "ref").expect("write");

    let helm_out = helm_package(&copy, None, &dir.path().join("helm"));
    let mut expected = tar_paths(std::fs::File::open(&helm_out).expect("helm package"));
    expected.sort();

    let fetcher = HelmFetcher::new(Storage::new(dir.path().join("storage")).expect("storage"));
    let mut request = LocalChartRequest::new("charts/podinfo");
    request.revision_metadata = Some("0123456789ab".into());
    let built = fetcher
        .reconcile_local_chart(&chart_key(), &source, &request, None)
        .expect("packaged");
    assert_eq!(built.build().artifact.revision, "6.14.1+0123456789ab");
    let mut ours = tar_paths(
        std::fs::File::open(fetcher.storage().local_path(&built.build().artifact))
            .expect("artifact"),
    );
    ours.sort();
    assert_eq!(ours, expected);
}

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn a_silent_server_times_out() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        std::thread::sleep(std::time::Duration::from_secs(2));
        drop(stream);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let fetcher = HelmFetcher::new(Storage::new(dir.path()).expect("storage"));
    let mut repo = HelmRepository::new(format!("http://127.0.0.1:{port}/charts"));
    repo.timeout = std::time::Duration::from_millis(300);
    let err = fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect_err("timeout");
    assert!(
        matches!(&err, HelmError::Timeout { url, .. } if url.ends_with("/charts/index.yaml")),
        "{err:?}"
    );
    held.join().expect("server thread");
}

#[test]
fn a_chart_directory_gets_its_repository_dependencies() {
    let Some(chart) = podinfo() else { return };
    let env = env(&chart, None);
    let source = env.dir.path().join("source");
    let umbrella = source.join("umbrella");
    std::fs::create_dir_all(umbrella.join("templates")).expect("mkdir");
    let repo_url = env.server.url("basic", "");
    std::fs::write(
        umbrella.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: podinfo\n  version: \"~6.14\"\n  repository: {repo_url}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        umbrella.join("values.yaml"),
        "podinfo:\n  replicaCount: 2\n",
    )
    .expect("write");

    // Without the repository's credentials the download is refused.
    let request = LocalChartRequest::new("umbrella");
    let err = env
        .fetcher
        .reconcile_local_chart(&chart_key(), &source, &request, None)
        .expect_err("anonymous");
    assert!(matches!(err, HelmError::AuthFailed { .. }), "{err:?}");

    let mut request = LocalChartRequest::new("umbrella");
    request.dependency_repositories = vec![with_auth(repo_url, BASIC_PASSWORD)];
    let built = env
        .fetcher
        .reconcile_local_chart(&chart_key(), &source, &request, None)
        .expect("dependency fetched");
    let bytes =
        std::fs::read(env.fetcher.storage().local_path(&built.build().artifact)).expect("artifact");
    let mut paths = tar_paths(bytes.as_slice());
    paths.sort();
    assert_eq!(
        paths,
        [
            "umbrella/Chart.yaml",
            "umbrella/charts/podinfo-6.14.1.tgz",
            "umbrella/values.yaml"
        ]
    );
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    let mut vendored = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        if entry.path().expect("path").ends_with("podinfo-6.14.1.tgz") {
            std::io::Read::read_to_end(&mut entry, &mut vendored).expect("read");
        }
    }
    let served = std::fs::read(env.repo_dir.join("podinfo-6.14.1.tgz")).expect("package");
    assert!(
        vendored == served,
        "the dependency is the package helm made"
    );
}

#[test]
fn ranges_pick_what_helm_pull_picks() {
    let Some(chart) = podinfo() else { return };
    let versions = [
        "5.2.0",
        "6.0.0-rc.1",
        "6.0.0",
        "6.14.1",
        "6.15.0",
        "6.15.1-beta.1",
        "7.0.0-rc.1",
    ];
    let env = env_with(&chart, &versions, None);
    let url = env.server.url("anon", "");
    let repo = HelmRepository::new(url.clone());
    let fetched = env
        .fetcher
        .reconcile_index(&repo_key(), &repo, None)
        .expect("index");
    let index = env.fetcher.load_index(fetched.artifact()).expect("index");
    let ranges = [
        "*",
        "6.x",
        "6.14.x",
        "~6.14",
        "~6",
        "^6.14.1",
        "^5",
        "<=6.14",
        "<6.15",
        ">6.14",
        ">=6.0.0-0 <7",
        ">=6.0.0-0 <7.0.0-0",
        "<7.0.0-0",
        ">=7.0.0-0",
        "~6.15.1-0",
        "6.0.0-rc.1",
        "!=6.15.0",
        "5.x || 7.x",
        "6.0 - 6.14",
        ">= 6.14.1, < 6.15.1",
        "^0",
        "8.x",
        "v6.14.1",
        "=6.15.0",
    ];
    let mut differ = Vec::new();
    let mut helm_found = 0;
    for range in ranges {
        let ours = index
            .select("podinfo", range, &url)
            .ok()
            .map(|cv| cv.version.clone());
        let helm = helm_pull_version(&url, "podinfo", range);
        helm_found += usize::from(helm.is_some());
        if ours != helm {
            differ.push(format!("{range:?}: ours {ours:?}, helm {helm:?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "selection differs from helm pull:\n{}",
        differ.join("\n")
    );
    // Only "^0" and "8.x" have no match; helm must really have pulled the rest.
    assert_eq!(helm_found, ranges.len() - 2);
}
