//! HelmChart artifacts over real HTTP: repository charts selected,
//! downloaded, verified and reused; credentials only where Helm sends them;
//! values files; chart directories packaged as Helm packages them, with
//! their dependencies. `helm` checks what we build. Fixtures: `helm_common`.

use crate::helm_common::{chart_key, copy_dir, env, podinfo, repo_key, with_auth};
use driftless_source::Storage;
use driftless_source::helm::{
    ChartOutcome, ChartRequest, HelmError, HelmFetcher, HelmRepository, LocalChartRequest,
};
use driftless_testkit::BASIC_PASSWORD;
use driftless_testkit::helm_repo::{helm_package, helm_template};
use driftless_testkit::tar_paths;
use sha2::{Digest, Sha256};

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
    assert!(
        matches!(&err, HelmError::Dependency { dependency, source, .. }
            if dependency == "podinfo" && matches!(**source, HelmError::AuthFailed { .. })),
        "{err:?}"
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("HelmRepository with this URL")),
        "{:?}",
        err.hint()
    );

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
