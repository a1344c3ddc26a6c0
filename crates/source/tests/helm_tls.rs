//! Helm repository TLS over loopback (lighttpd with mod_openssl): a
//! private CA from `ca.crt`, a client certificate from `tls.crt`/`tls.key`,
//! skip-verify, and the refusals. Certificates are made here with rcgen.

use std::path::Path;

use driftless_source::helm::{HelmError, HelmFetcher, HelmRepository, IndexOutcome, TlsConfig};
use driftless_source::{ArtifactKey, Storage};
use driftless_testkit::helm_repo::{ServerTls, StaticServer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Pki {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("CA");
    Pki {
        ca_pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `names` signed by `pki`: (cert PEM, key PEM).
fn leaf(pki: &Pki, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(names.iter().map(ToString::to_string).collect::<Vec<_>>())
        .expect("params");
    let cert = params.signed_by(&key, &pki.issuer).expect("signed");
    (cert.pem(), key.serialize_pem())
}

const INDEX: &str = "apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    urls: [demo-1.0.0.tgz]\n";

struct Env {
    _dir: tempfile::TempDir,
    server: StaticServer,
    fetcher: HelmFetcher,
    server_ca: String,
    client: (String, String),
}

fn env(require_client_cert: bool) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::write(root.join("index.yaml"), INDEX).expect("index");
    let server_pki = ca("server-ca");
    let client_pki = ca("client-ca");
    let (cert, key) = leaf(&server_pki, &["127.0.0.1", "localhost"]);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let tls = ServerTls {
        // The chain, so lighttpd need not build it from the client CA store.
        cert: write("server.crt", &format!("{cert}{}", server_pki.ca_pem)),
        key: write("server.key", &key),
        client_ca: require_client_cert.then(|| write("client-ca.crt", &client_pki.ca_pem)),
    };
    let server = StaticServer::start_tls(&root, &tls);
    let fetcher = HelmFetcher::new(Storage::new(dir.path().join("storage")).expect("storage"));
    Env {
        client: leaf(&client_pki, &["client"]),
        server_ca: server_pki.ca_pem,
        _dir: dir,
        server,
        fetcher,
    }
}

fn fetch(env: &Env, tls: TlsConfig) -> Result<IndexOutcome, HelmError> {
    let mut repo = HelmRepository::new(env.server.url("anon", ""));
    repo.tls = tls;
    env.fetcher
        .reconcile_index(&ArtifactKey::helm_repository("ns", "tls"), &repo, None)
}

fn lighttpd_has_openssl() -> bool {
    let found = Path::new("/usr/lib/lighttpd/mod_openssl.so").exists();
    if !found {
        let required = std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() == Ok("1");
        assert!(
            !required,
            "DRIFTLESS_REQUIRE_SHARED=1 but lighttpd's mod_openssl is missing"
        );
        println!(
            "SKIPPED: lighttpd's mod_openssl is missing (apt-get install lighttpd-mod-openssl)"
        );
    }
    found
}

#[test]
fn a_private_ca_is_trusted_only_when_given() {
    if !lighttpd_has_openssl() {
        return;
    }
    let env = env(false);
    let err = fetch(&env, TlsConfig::default()).expect_err("unknown issuer");
    assert!(matches!(err, HelmError::Unreachable { .. }), "{err:?}");
    let ok = fetch(
        &env,
        TlsConfig {
            ca_pem: Some(env.server_ca.clone().into_bytes()),
            ..TlsConfig::default()
        },
    )
    .expect("trusted through ca.crt");
    assert!(ok.is_updated());
    fetch(
        &env,
        TlsConfig {
            insecure_skip_verify: true,
            ..TlsConfig::default()
        },
    )
    .expect("skip-verify");
}

#[test]
fn a_client_certificate_is_presented_when_required() {
    if !lighttpd_has_openssl() {
        return;
    }
    let env = env(true);
    let trusted = TlsConfig {
        ca_pem: Some(env.server_ca.clone().into_bytes()),
        ..TlsConfig::default()
    };
    let err = fetch(&env, trusted.clone()).expect_err("no client certificate");
    assert!(matches!(err, HelmError::Unreachable { .. }), "{err:?}");
    let with_cert = TlsConfig {
        cert_pem: Some(env.client.0.clone().into_bytes()),
        key_pem: Some(env.client.1.clone().into_bytes()),
        ..trusted.clone()
    };
    fetch(&env, with_cert).expect("client certificate accepted");

    let half = TlsConfig {
        cert_pem: Some(env.client.0.clone().into_bytes()),
        ..trusted
    };
    let err = fetch(&env, half).expect_err("certificate without key");
    assert!(matches!(err, HelmError::InvalidTls { .. }), "{err:?}");
    let garbage = TlsConfig {
        ca_pem: Some(b"not a certificate".to_vec()),
        key_pem: Some(env.client.1.clone().into_bytes()),
        cert_pem: Some(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec()),
        insecure_skip_verify: false,
    };
    let err = fetch(&env, garbage.clone()).expect_err("garbage");
    let shown = format!("{err} {err:?} {garbage:?}");
    assert!(matches!(err, HelmError::InvalidTls { .. }), "{err:?}");
    assert!(
        !shown.contains("PRIVATE KEY"),
        "the key never shows: {shown}"
    );
}
