//! Registry credentials and TLS against a real `docker-registry` on
//! loopback: htpasswd (bcrypt) with the right password from a
//! `.dockerconfigjson`, a wrong one (never echoed in the error) and none;
//! HTTPS with a certificate made here, trusted only when its CA is given.

use std::error::Error as _;

use base64::Engine as _;
use driftless_source::oci::{
    OciAuth, OciError, OciFetcher, OciReference, OciSource, OciTarget, push_flux_artifact,
};
use driftless_source::{ArtifactKey, Storage};
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

/// The error and all its causes, as a chain printer would show them.
fn chain(e: &OciError) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

fn docker_config(host: &str, user: &str, password: &str) -> Vec<u8> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    serde_json::json!({ "auths": { host: { "auth": auth } } })
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn htpasswd_registry_right_wrong_and_no_credentials() {
    let options = RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..RegistryOptions::default()
    };
    let Some(registry) = Registry::start_or_skip(&options, "oci htpasswd auth") else {
        return;
    };
    let right = OciAuth::from_docker_config(
        &docker_config(&registry.host(), USER, PASSWORD),
        &registry.host(),
    )
    .expect("docker config");
    assert_eq!(
        right,
        OciAuth::Basic {
            username: USER.into(),
            password: PASSWORD.into()
        }
    );

    let mut anonymous_push = OciTarget::new(registry.url("private/app"), "v1");
    anonymous_push.insecure = true;
    let err = push_flux_artifact(&anonymous_push, tarball(), "s", "r")
        .await
        .expect_err("anonymous push");
    assert!(matches!(err, OciError::AuthFailed { .. }), "{err:?}");

    let mut push_target = anonymous_push.clone();
    push_target.auth = right.clone();
    let digest = push_flux_artifact(&push_target, tarball(), "s", "r")
        .await
        .expect("push with credentials");

    let tmp = tempfile::tempdir().expect("tempdir");
    let fetcher = OciFetcher::new(Storage::new(tmp.path()).expect("storage"));
    let key = ArtifactKey::new("ocirepository", "default", "private");
    let mut source = OciSource::new(registry.url("private/app"), OciReference::Tag("v1".into()));
    source.insecure = true;
    source.auth = right;
    let out = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect("pull with credentials");
    assert_eq!(out.artifact().revision, format!("v1@{digest}"));

    source.auth = OciAuth::Basic {
        username: USER.into(),
        password: WRONG.into(),
    };
    let err = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect_err("wrong password");
    assert!(matches!(err, OciError::AuthFailed { .. }), "{err:?}");
    let text = format!("{} {err:?}", chain(&err));
    assert!(
        !text.contains(WRONG) && !text.contains(PASSWORD),
        "no secret in errors: {text}"
    );
    assert!(text.contains(&registry.url("private/app")), "{text}");

    source.auth = OciAuth::Anonymous;
    let err = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect_err("anonymous pull");
    assert!(matches!(err, OciError::AuthFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn tls_registry_is_trusted_through_the_given_ca() {
    let key_pair = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&key_pair)
        .expect("certificate");
    let options = RegistryOptions {
        tls: Some((cert.pem(), key_pair.serialize_pem())),
        ..RegistryOptions::default()
    };
    let Some(registry) = Registry::start_or_skip(&options, "oci TLS") else {
        return;
    };
    let ca = cert.pem().into_bytes();
    let mut push_target = OciTarget::new(registry.url("tls/app"), "v1");
    push_target.ca_pem = Some(ca.clone());
    let digest = push_flux_artifact(&push_target, tarball(), "s", "r")
        .await
        .expect("push over TLS");

    let tmp = tempfile::tempdir().expect("tempdir");
    let fetcher = OciFetcher::new(Storage::new(tmp.path()).expect("storage"));
    let key = ArtifactKey::new("ocirepository", "default", "tls");
    let mut source = OciSource::new(registry.url("tls/app"), OciReference::Tag("v1".into()));
    let err = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect_err("unknown CA");
    assert!(matches!(err, OciError::Unreachable { .. }), "{err:?}");

    source.ca_pem = Some(ca);
    let out = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect("pull with the CA");
    assert_eq!(out.artifact().revision, format!("v1@{digest}"));

    source.ca_pem = Some(b"not a certificate".to_vec());
    let err = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect_err("garbage CA");
    assert!(matches!(err, OciError::InvalidCa { .. }), "{err:?}");
}
