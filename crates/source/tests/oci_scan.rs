//! Scanning an image repository's tags and reading one tag's digest, as
//! ImageRepository and ImagePolicy do, against a real `docker-registry` on
//! loopback with htpasswd auth: right credentials list every pushed tag and
//! give the digest the push returned; wrong ones and a missing repository
//! fail with errors that say so (and never hold the password).

use std::error::Error as _;

use driftless_source::oci::{
    ImageName, OciAuth, OciError, OciTarget, ScanOptions, push_flux_artifact, scan_tags, tag_digest,
};
use driftless_testkit::registry::{Registry, RegistryOptions};

const USER: &str = "flux";
const PASSWORD: &str = "correct-horse-battery";
const WRONG: &str = "wrong-password-zebra";

fn tarball() -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(3);
    tar.append_data(&mut header, "a.yaml", &b"a: 1"[..3])
        .expect("append");
    tar.into_inner().expect("tar").finish().expect("gzip")
}

fn chain(e: &OciError) -> String {
    let mut text = format!("{e} {e:?}");
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

#[tokio::test]
async fn oci_scan_lists_tags_and_digests_with_credentials() {
    let options = RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..RegistryOptions::default()
    };
    let Some(registry) = Registry::start_or_skip(&options, "oci scan") else {
        return;
    };
    let right = OciAuth::Basic {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let mut digests = Vec::new();
    for tag in ["1.0.0", "1.1.0", "latest"] {
        let mut target = OciTarget::new(registry.url("team/app"), tag);
        target.insecure = true;
        target.auth = right.clone();
        let revision = format!("main@sha1:{}", "1".repeat(40));
        // The tag as the source annotation: each manifest, and digest, differs.
        let digest = push_flux_artifact(&target, tarball(), tag, &revision)
            .await
            .expect("pushed");
        digests.push((tag, digest));
    }

    let image = ImageName::parse(&format!("{}/team/app", registry.host())).expect("name");
    let scan = ScanOptions {
        insecure: true,
        tag_page_size: 2,
        ..ScanOptions::default()
    };
    let mut tags = scan_tags(&image, &right, &scan).await.expect("scan");
    tags.sort();
    assert_eq!(tags, ["1.0.0", "1.1.0", "latest"]);
    for (tag, digest) in &digests {
        let got = tag_digest(&image, tag, &right, &scan)
            .await
            .expect("digest");
        assert_eq!(&got, digest, "{tag}");
    }

    let wrong = OciAuth::Basic {
        username: USER.into(),
        password: WRONG.into(),
    };
    for err in [
        scan_tags(&image, &wrong, &scan).await.expect_err("wrong"),
        scan_tags(&image, &OciAuth::Anonymous, &scan)
            .await
            .expect_err("anonymous"),
        tag_digest(&image, "1.0.0", &wrong, &scan)
            .await
            .expect_err("wrong"),
    ] {
        let text = chain(&err);
        assert!(matches!(err, OciError::AuthFailed { .. }), "{text}");
        assert!(!text.contains(WRONG) && !text.contains(PASSWORD), "{text}");
        assert!(text.contains(&image.canonical()), "{text}");
    }

    let missing = ImageName::parse(&format!("{}/team/nothing", registry.host())).expect("name");
    let err = scan_tags(&missing, &right, &scan)
        .await
        .expect_err("no such repository");
    assert!(
        matches!(err, OciError::RepositoryNotFound { .. }),
        "{}",
        chain(&err)
    );
    assert!(err.to_string().contains("team/nothing"), "{err}");
    let err = tag_digest(&image, "9.9.9", &right, &scan)
        .await
        .expect_err("no such tag");
    assert!(matches!(err, OciError::NotFound { .. }), "{}", chain(&err));

    let few = ScanOptions {
        max_tags: 2,
        ..scan.clone()
    };
    let err = scan_tags(&image, &right, &few)
        .await
        .expect_err("over the limit");
    assert!(
        matches!(err, OciError::TooManyTags { limit: 2, .. }),
        "{err}"
    );
}
