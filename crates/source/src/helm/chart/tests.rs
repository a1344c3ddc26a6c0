//! Local chart builds from a directory standing in for an unpacked source
//! artifact: packaging, `.helmignore`, values files, revision metadata,
//! reuse and the paths that are refused.

use super::*;
use crate::Storage;

struct Fixture {
    _dir: tempfile::TempDir,
    source: PathBuf,
    fetcher: HelmFetcher,
    key: ArtifactKey,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source");
    let write = |rel: &str, text: &str| {
        let path = source.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "charts/demo/Chart.yaml",
        "apiVersion: v2\nname: demo\nversion: 1.2.0\n",
    );
    write(
        "charts/demo/values.yaml",
        "replicas: 1\nimage:\n  tag: old\n  repo: r\n",
    );
    write("charts/demo/templates/deploy.yaml", "kind: Deployment\n");
    write("charts/demo/templates/.hidden", "x");
    write("charts/demo/notes.tmp", "scratch");
    write("charts/demo/.helmignore", "*.tmp\n");
    write("env/prod.yaml", "image:\n  tag: new\n");
    write("env/more.yaml", "replicas: 3\n");
    let fetcher = HelmFetcher::new(Storage::new(dir.path().join("storage")).expect("storage"));
    Fixture {
        source,
        fetcher,
        key: ArtifactKey::helm_chart("ns", "demo"),
        _dir: dir,
    }
}

fn unpack(fx: &Fixture, artifact: &Artifact) -> ChartFiles {
    let bytes = std::fs::read(fx.fetcher.storage().local_path(artifact)).expect("artifact");
    ChartFiles::from_archive(&bytes, "test", &super::super::HelmLimits::default()).expect("package")
}

fn text(files: &ChartFiles, path: &str) -> String {
    String::from_utf8(files.get(path).expect(path).to_vec()).expect("utf-8")
}

#[test]
fn a_directory_is_packaged_with_helmignore_and_the_chart_version() {
    let fx = fixture();
    let out = fx
        .fetcher
        .reconcile_local_chart(
            &fx.key,
            &fx.source,
            &LocalChartRequest::new("./charts/demo"),
            None,
        )
        .expect("build");
    let ChartOutcome::Updated(build) = &out else {
        panic!("first build stores")
    };
    assert_eq!(build.artifact.revision, "1.2.0");
    assert_eq!(build.artifact.path, "helmchart/ns/demo/demo-1.2.0.tgz");
    assert!(build.packaged && build.values_files.is_empty());
    let files = unpack(&fx, &build.artifact);
    let names: Vec<&str> = files.files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "Chart.yaml",
            "values.yaml",
            ".helmignore",
            "templates/deploy.yaml"
        ]
    );
    // Unchanged Chart.yaml is kept byte for byte.
    assert_eq!(
        text(&files, "Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 1.2.0\n"
    );

    // Same name and version: reused, nothing written, even after a change.
    std::fs::write(
        fx.source.join("charts/demo/templates/deploy.yaml"),
        "kind: Changed\n",
    )
    .expect("edit");
    let again = fx
        .fetcher
        .reconcile_local_chart(
            &fx.key,
            &fx.source,
            &LocalChartRequest::new("charts/demo"),
            Some(&build.artifact),
        )
        .expect("again");
    assert!(!again.is_updated());
    assert_eq!(again.build().artifact, build.artifact);
}

#[test]
fn revision_strategy_and_values_files_set_build_metadata() {
    let fx = fixture();
    let mut request = LocalChartRequest::new("charts/demo");
    request.revision_metadata = Some(git_revision_metadata(
        "main@sha1:0123456789abcdef0123456789abcdef01234567",
    ));
    request.values_files = vec![
        "env/prod.yaml".into(),
        "env/missing.yaml".into(),
        "env/more.yaml".into(),
    ];
    request.ignore_missing_values_files = true;
    request.generation = 4;
    let out = fx
        .fetcher
        .reconcile_local_chart(&fx.key, &fx.source, &request, None)
        .expect("build");
    let build = out.build();
    assert_eq!(build.version, "1.2.0+0123456789ab.4");
    assert_eq!(build.artifact.revision, "1.2.0+0123456789ab.4");
    assert_eq!(
        build.artifact.path,
        "helmchart/ns/demo/demo-1.2.0+0123456789ab.4.tgz"
    );
    assert_eq!(build.values_files, ["env/prod.yaml", "env/more.yaml"]);
    let files = unpack(&fx, &build.artifact);
    let chart: serde_json::Value =
        serde_saphyr::from_str(&text(&files, "Chart.yaml")).expect("yaml");
    assert_eq!(chart["version"], "1.2.0+0123456789ab.4");
    // Flux replaces values.yaml with the merge of the listed files only.
    let values: serde_json::Value =
        serde_saphyr::from_str(&text(&files, "values.yaml")).expect("yaml");
    assert_eq!(
        values,
        serde_json::json!({"image": {"tag": "new"}, "replicas": 3})
    );

    request.ignore_missing_values_files = false;
    let err = fx
        .fetcher
        .reconcile_local_chart(&fx.key, &fx.source, &request, None)
        .expect_err("missing values file");
    assert!(err.to_string().contains("env/missing.yaml"), "{err}");
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("ignoreMissingValuesFiles"))
    );
}

#[test]
fn existing_metadata_is_replaced_and_the_short_id_is_twelve_hex() {
    assert_eq!(
        git_revision_metadata("sha1:0123456789abcdef"),
        "0123456789ab"
    );
    assert_eq!(
        git_revision_metadata("v1@sha1:fedcba9876543210"),
        "fedcba987654"
    );
    assert_eq!(
        versioned("v1.0.0+old", "abc", "c").expect("valid"),
        "1.0.0+abc"
    );
    assert_eq!(versioned("v1.0", "", "c").expect("kept"), "v1.0");
}

#[test]
fn paths_may_not_leave_the_source() {
    let fx = fixture();
    for (path, values) in [
        ("../../etc", None),
        ("charts/demo", Some("../../../etc/passwd")),
    ] {
        let mut request = LocalChartRequest::new(path);
        if let Some(v) = values {
            request.values_files = vec![v.into()];
        }
        let err = fx
            .fetcher
            .reconcile_local_chart(&fx.key, &fx.source, &request, None)
            .expect_err(path);
        let msg = err.to_string();
        assert!(!msg.contains("root:"), "{msg}");
    }
    assert_eq!(
        inside(Path::new("/r"), "../../a/./b").expect("clamped"),
        Path::new("/r/a/b")
    );
    assert!(inside(Path::new("/r"), "/etc").is_none());
}

#[test]
fn dependencies_are_vendored_read_from_the_source_or_refused() {
    let fx = fixture();
    let chart = fx.source.join("charts/demo/Chart.yaml");
    let with_deps = |deps: &str| {
        std::fs::write(
            &chart,
            format!("apiVersion: v2\nname: demo\nversion: 1.2.0\ndependencies:\n{deps}"),
        )
        .expect("write");
    };
    let build = |fx: &Fixture| {
        fx.fetcher.reconcile_local_chart(
            &fx.key,
            &fx.source,
            &LocalChartRequest::new("charts/demo"),
            None,
        )
    };

    with_deps("- name: redis\n  version: 1.x\n  repository: \"@stable\"\n");
    let err = build(&fx).expect_err("alias repositories are not supported");
    assert!(
        err.to_string().contains("\"redis\"") && err.to_string().contains("@stable"),
        "{err}"
    );

    // Vendored in charts/: kept as it is, nothing fetched.
    let sub = fx.source.join("charts/demo/charts/redis");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(
        sub.join("Chart.yaml"),
        "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
    )
    .expect("write");
    let out = build(&fx).expect("vendored");
    assert!(
        unpack(&fx, &out.build().artifact)
            .get("charts/redis/Chart.yaml")
            .is_some()
    );

    // file:// beside the chart, inside the source.
    let common = fx.source.join("charts/common");
    std::fs::create_dir_all(common.join("templates")).expect("mkdir");
    std::fs::write(
        common.join("Chart.yaml"),
        "apiVersion: v2\nname: common\nversion: 0.1.0\ntype: library\n",
    )
    .expect("write");
    std::fs::write(
        common.join("templates/_helpers.tpl"),
        "{{- define \"x\" }}{{ end }}",
    )
    .expect("write");
    with_deps("- name: common\n  version: 0.1.0\n  repository: file://../common\n");
    let out = build(&fx).expect("file:// dependency");
    let files = unpack(&fx, &out.build().artifact);
    assert!(files.get("charts/common/Chart.yaml").is_some());
    assert!(files.get("charts/common/templates/_helpers.tpl").is_some());

    with_deps("- name: other\n  version: 0.1.0\n  repository: file://../common\n");
    let err = build(&fx).expect_err("wrong name");
    assert!(err.to_string().contains("holds chart \"common\""), "{err}");
    with_deps("- name: common\n  version: 0.1.0\n  repository: file://../../../../../../etc\n");
    let err = build(&fx).expect_err("clamped inside the source, where nothing is");
    assert!(err.to_string().contains("no chart directory"), "{err}");
}

#[test]
fn a_package_in_the_source_is_kept_unless_changed() {
    let fx = fixture();
    let first = fx
        .fetcher
        .reconcile_local_chart(
            &fx.key,
            &fx.source,
            &LocalChartRequest::new("charts/demo"),
            None,
        )
        .expect("packaged");
    let package =
        std::fs::read(fx.fetcher.storage().local_path(&first.build().artifact)).expect("artifact");
    std::fs::write(fx.source.join("demo-1.2.0.tgz"), &package).expect("write");
    let key = ArtifactKey::helm_chart("ns", "from-package");
    let kept = fx
        .fetcher
        .reconcile_local_chart(
            &key,
            &fx.source,
            &LocalChartRequest::new("demo-1.2.0.tgz"),
            None,
        )
        .expect("kept");
    assert!(!kept.build().packaged);
    assert_eq!(kept.build().artifact.digest, first.build().artifact.digest);

    let mut request = LocalChartRequest::new("demo-1.2.0.tgz");
    request.revision_metadata = Some("abcdef123456".into());
    let changed = fx
        .fetcher
        .reconcile_local_chart(&key, &fx.source, &request, None)
        .expect("repackaged");
    assert!(changed.build().packaged);
    assert_eq!(changed.build().version, "1.2.0+abcdef123456");
}

#[test]
fn a_bad_chart_is_named() {
    let fx = fixture();
    std::fs::write(
        fx.source.join("charts/demo/Chart.yaml"),
        "name: demo\nversion: latest\n",
    )
    .expect("write");
    let err = fx
        .fetcher
        .reconcile_local_chart(
            &fx.key,
            &fx.source,
            &LocalChartRequest::new("charts/demo"),
            None,
        )
        .expect_err("bad version");
    assert_eq!(
        err.to_string(),
        "chart charts/demo is invalid: Chart.yaml version \"latest\" is not a semantic version"
    );
}
