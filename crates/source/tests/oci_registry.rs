//! OCI sources against a real registry (`docker-registry`) on loopback:
//! Flux artifacts pushed by our own `push_flux_artifact`, Helm charts pushed
//! by the real `helm push`; tag, semver and digest references; the
//! unchanged path (no layer downloaded); missing tag, wrong media type and
//! oversized layer errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use driftless_source::oci::{
    FLUX_CONTENT_MEDIA_TYPE, HELM_CHART_LAYER, LayerOperation, OciError, OciFetcher, OciOptions,
    OciOutcome, OciReference, OciSource, OciTarget, pack_directory, push_flux_artifact,
};
use driftless_source::{ArtifactKey, Storage};
use driftless_testkit::registry::{Registry, RegistryOptions};
use driftless_testkit::{tar_file, tar_paths};

/// A gzip tarball of `files`, as `flux push artifact` would build from a directory.
fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        tar.append_data(&mut header, path, content.as_bytes())
            .expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

fn target(registry: &Registry, repo: &str, tag: &str) -> OciTarget {
    let mut t = OciTarget::new(registry.url(repo), tag);
    t.insecure = true;
    t
}

fn source(registry: &Registry, repo: &str, reference: OciReference) -> OciSource {
    let mut s = OciSource::new(registry.url(repo), reference);
    s.insecure = true;
    s
}

fn key(name: &str) -> ArtifactKey {
    ArtifactKey::new("ocirepository", "default", name)
}

fn stored(fetcher: &OciFetcher, out: &OciOutcome) -> Vec<u8> {
    std::fs::read(fetcher.storage().local_path(out.artifact())).expect("artifact file")
}

/// Requests made to the registry since `from` (an index into its log).
fn requests_since(registry: &Registry, from: usize) -> Vec<String> {
    registry.requests().split_off(from)
}

#[tokio::test]
async fn flux_artifact_by_tag_and_digest_and_unchanged() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "oci flux artifact")
    else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let fetcher = OciFetcher::new(Storage::new(tmp.path()).expect("storage"));
    let content = tarball(&[
        ("deploy/app.yaml", "kind: ConfigMap\n"),
        ("deploy/.sourceignore", "*.md\n"),
        ("deploy/notes.md", "ignored by .sourceignore\n"),
        ("scratch/tmp.yaml", "ignored by spec.ignore\n"),
    ]);
    let digest = push_flux_artifact(
        &target(&registry, "flux/app", "latest"),
        content,
        "https://example.com/org/app",
        "main@sha1:1111111111111111111111111111111111111111",
    )
    .await
    .expect("push");

    let mut by_tag = source(&registry, "flux/app", OciReference::default());
    by_tag.ignore = Some("scratch/\n".into());
    let first = fetcher
        .reconcile(&key("app"), &by_tag, None)
        .await
        .expect("pull by tag");
    let OciOutcome::Updated { artifact, metadata } = &first else {
        panic!("expected an update, got {first:?}");
    };
    assert_eq!(artifact.revision, format!("latest@{digest}"));
    assert_eq!(
        metadata
            .get("org.opencontainers.image.source")
            .map(String::as_str),
        Some("https://example.com/org/app")
    );
    assert_eq!(
        metadata
            .get("org.opencontainers.image.revision")
            .map(String::as_str),
        Some("main@sha1:1111111111111111111111111111111111111111")
    );
    let bytes = stored(&fetcher, &first);
    assert_eq!(
        tar_paths(bytes.as_slice()),
        ["deploy/", "deploy/.sourceignore", "deploy/app.yaml"]
    );
    assert_eq!(
        tar_file(bytes.as_slice(), "deploy/app.yaml").as_deref(),
        Some("kind: ConfigMap\n")
    );

    // Same tag, same manifest: one HEAD of the manifest, no blob.
    let before = registry.requests().len();
    let again = fetcher
        .reconcile(&key("app"), &by_tag, Some(first.artifact()))
        .await
        .expect("unchanged");
    assert_eq!(again, OciOutcome::Unchanged(first.artifact().clone()));
    let made = requests_since(&registry, before);
    assert!(
        made.iter().all(|r| !r.contains("/blobs/")),
        "no blob may be fetched when unchanged: {made:?}"
    );
    assert!(
        made.iter()
            .any(|r| r.starts_with("HEAD /v2/flux/app/manifests/latest")),
        "{made:?}"
    );

    // Pinned by digest: the revision is the digest alone; unchanged costs no request.
    let mut by_digest = source(&registry, "flux/app", OciReference::Digest(digest.clone()));
    by_digest.ignore = by_tag.ignore.clone();
    let pinned = fetcher
        .reconcile(&key("pinned"), &by_digest, None)
        .await
        .expect("pull by digest");
    assert_eq!(pinned.artifact().revision, digest);
    assert_eq!(
        pinned.artifact().digest,
        first.artifact().digest,
        "same content, same bytes"
    );
    let before = registry.requests().len();
    let again = fetcher
        .reconcile(&key("pinned"), &by_digest, Some(pinned.artifact()))
        .await
        .expect("unchanged");
    assert!(!again.is_updated());
    assert_eq!(requests_since(&registry, before), Vec::<String>::new());

    // A new push to the tag (packed from a directory) is a new revision.
    let dir = tmp.path().join("to-push");
    std::fs::create_dir_all(dir.join("deploy")).expect("mkdir");
    std::fs::write(dir.join("deploy/app.yaml"), "kind: Secret\n").expect("write");
    let digest2 = push_flux_artifact(
        &target(&registry, "flux/app", "latest"),
        pack_directory(&dir, None, 1 << 20).expect("pack"),
        "https://example.com/org/app",
        "main@sha1:2222222222222222222222222222222222222222",
    )
    .await
    .expect("push again");
    assert_ne!(digest, digest2);
    let second = fetcher
        .reconcile(&key("app"), &by_tag, Some(first.artifact()))
        .await
        .expect("pull new revision");
    assert!(second.is_updated());
    assert_eq!(second.artifact().revision, format!("latest@{digest2}"));
    assert_eq!(
        tar_file(stored(&fetcher, &second).as_slice(), "deploy/app.yaml").as_deref(),
        Some("kind: Secret\n")
    );
}

#[tokio::test]
async fn semver_picks_the_highest_tag_in_range() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "oci semver") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let fetcher = OciFetcher::new(Storage::new(tmp.path()).expect("storage"));
    let mut digests = BTreeMap::new();
    for tag in ["1.0.0", "1.2.0", "v1.3.0", "1.4.0-rc.1", "2.0.0", "latest"] {
        let content = tarball(&[("version.txt", tag)]);
        let digest = push_flux_artifact(&target(&registry, "flux/sv", tag), content, "s", "r")
            .await
            .expect("push");
        digests.insert(tag, digest);
    }
    let cases = [
        (">=1.0.0 <2.0.0", None, "v1.3.0"),
        ("~1.2", None, "1.2.0"),
        (">=1.0.0", Some("^1\\."), "1.2.0"),
        ("*", None, "2.0.0"),
    ];
    for (range, filter, want) in cases {
        let reference = OciReference::Semver {
            range: range.into(),
            filter: filter.map(str::to_owned),
        };
        let out = fetcher
            .reconcile(&key("sv"), &source(&registry, "flux/sv", reference), None)
            .await
            .unwrap_or_else(|e| panic!("{range}: {e}"));
        assert_eq!(
            out.artifact().revision,
            format!("{want}@{}", digests[want]),
            "{range} {filter:?}"
        );
        assert_eq!(
            tar_file(stored(&fetcher, &out).as_slice(), "version.txt").as_deref(),
            Some(want)
        );
    }
    // Two tags per request. distribution 2.8 ignores `n` and sends all six;
    // the listing must still ask with `last` and stop when nothing new comes.
    let paged = OciFetcher::with_options(
        fetcher.storage().clone(),
        OciOptions {
            tag_page_size: 2,
            ..OciOptions::default()
        },
    );
    let before = registry.requests().len();
    let all = OciReference::Semver {
        range: "*".into(),
        filter: None,
    };
    let out = paged
        .reconcile(&key("paged"), &source(&registry, "flux/sv", all), None)
        .await
        .expect("paged listing");
    assert_eq!(
        out.artifact().revision,
        format!("2.0.0@{}", digests["2.0.0"])
    );
    let listings: Vec<String> = requests_since(&registry, before)
        .into_iter()
        .filter(|r| r.contains("/tags/list"))
        .collect();
    assert_eq!(
        listings,
        [
            "GET /v2/flux/sv/tags/list?n=2",
            "GET /v2/flux/sv/tags/list?n=2&last=v1.3.0"
        ]
    );

    let none = OciReference::Semver {
        range: ">=3.0.0".into(),
        filter: None,
    };
    let err = fetcher
        .reconcile(&key("sv"), &source(&registry, "flux/sv", none), None)
        .await
        .expect_err("no match");
    assert!(
        matches!(&err, OciError::SemverNoMatch { tags: 6, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(">=3.0.0"), "{err}");
}

#[tokio::test]
async fn missing_tag_wrong_media_type_and_oversized_layer() {
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "oci errors") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let storage = Storage::new(tmp.path()).expect("storage");
    let fetcher = OciFetcher::new(storage.clone());
    let url = registry.url("flux/errs");
    push_flux_artifact(
        &target(&registry, "flux/errs", "v1"),
        tarball(&[("a.yaml", &"x".repeat(4096))]),
        "s",
        "r",
    )
    .await
    .expect("push");

    let missing = source(&registry, "flux/errs", OciReference::Tag("nope".into()));
    let err = fetcher
        .reconcile(&key("errs"), &missing, None)
        .await
        .expect_err("missing tag");
    assert!(matches!(err, OciError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("tag \"nope\"") && err.to_string().contains(&url),
        "{err}"
    );

    let mut helm = source(&registry, "flux/errs", OciReference::Tag("v1".into()));
    helm.layer.media_type = Some(HELM_CHART_LAYER.into());
    let err = fetcher
        .reconcile(&key("errs"), &helm, None)
        .await
        .expect_err("wrong media type");
    assert!(matches!(err, OciError::LayerNotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains(HELM_CHART_LAYER)
            && err.to_string().contains(FLUX_CONTENT_MEDIA_TYPE),
        "the error names what was asked and what exists: {err}"
    );

    let small = OciFetcher::with_options(
        storage.clone(),
        OciOptions {
            max_layer_bytes: 64,
            ..OciOptions::default()
        },
    );
    let before = registry.requests().len();
    let v1 = source(&registry, "flux/errs", OciReference::Tag("v1".into()));
    let err = small
        .reconcile(&key("errs"), &v1, None)
        .await
        .expect_err("oversized");
    assert!(
        matches!(err, OciError::LayerTooLarge { limit: 64, .. }),
        "{err:?}"
    );
    let made = requests_since(&registry, before);
    assert!(made.iter().all(|r| !r.contains("/blobs/")), "{made:?}");

    // The same layer passes under the default limits.
    assert!(
        fetcher
            .reconcile(&key("errs"), &v1, None)
            .await
            .expect("default limits")
            .is_updated()
    );
}

fn helm_available() -> bool {
    Command::new("helm")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn helm(home: &Path, args: &[&str]) -> String {
    let out = Command::new("helm")
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "helm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn helm_pushed_chart_is_copied_as_is() {
    let chart_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-conformance/charts/podinfo");
    let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
    if !helm_available() || !chart_dir.is_dir() {
        assert!(
            !required,
            "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH or {chart_dir:?} is missing"
        );
        println!("SKIPPED: helm chart push: helm not on PATH or {chart_dir:?} missing");
        return;
    }
    let Some(registry) = Registry::start_or_skip(&RegistryOptions::default(), "oci helm chart")
    else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let packaged = tmp.path().join("packaged");
    helm(
        tmp.path(),
        &[
            "package",
            chart_dir.to_str().expect("utf8"),
            "-d",
            packaged.to_str().expect("utf8"),
        ],
    );
    let tgz = std::fs::read_dir(&packaged)
        .expect("packaged dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .expect("a .tgz");
    let version = tgz
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("podinfo-"))
        .expect("podinfo-<version>.tgz")
        .to_owned();
    let pushed = helm(
        tmp.path(),
        &[
            "push",
            tgz.to_str().expect("utf8"),
            &format!("oci://{}/charts", registry.host()),
            "--plain-http",
        ],
    );
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("helm push printed no digest: {pushed}"))
        .to_owned();

    let fetcher = OciFetcher::new(Storage::new(tmp.path().join("storage")).expect("storage"));
    let mut chart = source(
        &registry,
        "charts/podinfo",
        OciReference::Semver {
            range: "*".into(),
            filter: None,
        },
    );
    chart.layer.media_type = Some(HELM_CHART_LAYER.into());
    chart.layer.operation = LayerOperation::Copy;
    let out = fetcher
        .reconcile(&key("podinfo"), &chart, None)
        .await
        .expect("pull chart");
    assert_eq!(out.artifact().revision, format!("{version}@{digest}"));
    assert_eq!(
        stored(&fetcher, &out),
        std::fs::read(&tgz).expect("tgz"),
        "copy stores the chart layer byte for byte"
    );
    assert!(
        tar_paths(stored(&fetcher, &out).as_slice()).contains(&"podinfo/Chart.yaml".to_owned())
    );
}
