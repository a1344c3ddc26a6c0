//! Registry credentials and TLS against a real `docker-registry` on
//! loopback: htpasswd (bcrypt) with the right password from a
//! `.dockerconfigjson`, a wrong one (never echoed in the error) and none;
//! HTTPS with a certificate made here, trusted only when its CA is given;
//! and the bearer-token flow against a small stand-in registry (the real
//! one's token auth needs a separate signing service).

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

/// A registry that wants bearer tokens, as ghcr.io and Docker Hub do:
/// `/v2/` answers 401 with a `WWW-Authenticate: Bearer` challenge, `/token`
/// trades the basic credentials for a token, and everything else needs that
/// token. distribution's own token auth needs a signing service; this
/// stand-in serves one artifact (`r:v1`) and records what it was sent.
mod token_registry {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use sha2::Digest as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    pub const TOKEN: &str = "issued-token-123";

    pub struct Served {
        pub host: String,
        pub manifest_digest: String,
        /// `METHOD target authorization-scheme` per request.
        pub seen: Arc<Mutex<Vec<String>>>,
    }

    fn digest(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
    }

    pub async fn start(user: &str, password: &str, layer: Vec<u8>) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let config = b"{}".to_vec();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": super::FLUX_CONFIG, "digest": digest(&config), "size": config.len()},
            "layers": [{"mediaType": super::FLUX_CONTENT, "digest": digest(&layer), "size": layer.len()}],
        })
        .to_string()
        .into_bytes();
        let manifest_digest = digest(&manifest);
        let mut routes: HashMap<String, (Vec<u8>, &'static str)> = HashMap::new();
        let manifest_type = "application/vnd.oci.image.manifest.v1+json";
        routes.insert(
            "/v2/r/manifests/v1".into(),
            (manifest.clone(), manifest_type),
        );
        routes.insert(
            format!("/v2/r/manifests/{manifest_digest}"),
            (manifest, manifest_type),
        );
        routes.insert(
            format!("/v2/r/blobs/{}", digest(&layer)),
            (layer, "application/octet-stream"),
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let realm = format!("http://{host}/token");
        let digest_header = manifest_digest.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 16 * 1024];
                let Ok(n) = conn.read(&mut buf).await else {
                    continue;
                };
                let request = String::from_utf8_lossy(&buf[..n]).into_owned();
                let mut words = request.split_whitespace();
                let (method, target) = (
                    words.next().unwrap_or("").to_owned(),
                    words.next().unwrap_or("").to_owned(),
                );
                let authorization = request
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization")
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                let scheme = authorization.split(' ').next().unwrap_or("none").to_owned();
                log.lock()
                    .expect("log")
                    .push(format!("{method} {target} {scheme}"));
                let challenge =
                    format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"stand-in\"\r\n");
                let (status, headers, body) = if target.starts_with("/token") {
                    if authorization == basic {
                        let body = serde_json::json!({ "token": TOKEN }).to_string();
                        ("200 OK", String::new(), body.into_bytes())
                    } else {
                        (
                            "401 Unauthorized",
                            String::new(),
                            b"{\"details\":\"bad credentials\"}".to_vec(),
                        )
                    }
                } else if authorization != format!("Bearer {TOKEN}") {
                    ("401 Unauthorized", challenge, b"{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"token required\"}]}".to_vec())
                } else if target == "/v2/" {
                    ("200 OK", String::new(), b"{}".to_vec())
                } else if let Some((body, content_type)) = routes.get(&target) {
                    let headers = format!(
                        "Content-Type: {content_type}\r\nDocker-Content-Digest: {}\r\n",
                        if target.contains("/manifests/") {
                            digest_header.clone()
                        } else {
                            digest(body)
                        }
                    );
                    ("200 OK", headers, body.clone())
                } else {
                    (
                        "404 Not Found",
                        String::new(),
                        b"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"unknown\"}]}"
                            .to_vec(),
                    )
                };
                let mut response = format!(
                    "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                if method != "HEAD" {
                    response.extend_from_slice(&body);
                }
                let _ = conn.write_all(&response).await;
                let _ = conn.shutdown().await;
            }
        });
        Served {
            host,
            manifest_digest,
            seen,
        }
    }
}

const FLUX_CONFIG: &str = driftless_source::oci::FLUX_CONFIG_MEDIA_TYPE;
const FLUX_CONTENT: &str = driftless_source::oci::FLUX_CONTENT_MEDIA_TYPE;

#[tokio::test]
async fn bearer_token_flow_trades_the_docker_config_credentials_for_a_token() {
    let served = token_registry::start(USER, PASSWORD, tarball()).await;
    let url = format!("oci://{}/r", served.host);
    let tmp = tempfile::tempdir().expect("tempdir");
    let fetcher = OciFetcher::new(Storage::new(tmp.path()).expect("storage"));
    let key = ArtifactKey::new("ocirepository", "default", "token");
    let mut source = OciSource::new(url.clone(), OciReference::Tag("v1".into()));
    source.insecure = true;
    source.auth =
        OciAuth::from_docker_config(&docker_config(&served.host, USER, PASSWORD), &served.host)
            .expect("docker config");
    let out = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect("pull through the token flow");
    assert_eq!(
        out.artifact().revision,
        format!("v1@{}", served.manifest_digest)
    );
    let seen = served.seen.lock().expect("log").clone();
    assert!(
        seen.iter().any(|r| r.starts_with("GET /token?")
            && r.contains("scope=repository%3Ar%3Apull")
            && r.ends_with(" Basic")),
        "the credentials go to the token endpoint only: {seen:?}"
    );
    assert!(
        seen.iter()
            .filter(|r| r.contains("/v2/r/"))
            .all(|r| r.ends_with(" Bearer")),
        "the registry sees the token, never the password: {seen:?}"
    );

    source.auth = OciAuth::Basic {
        username: USER.into(),
        password: WRONG.into(),
    };
    let err = fetcher
        .reconcile(&key, &source, None)
        .await
        .expect_err("token refused");
    assert!(matches!(err, OciError::AuthFailed { .. }), "{err:?}");
    let text = format!("{} {err:?}", chain(&err));
    assert!(!text.contains(WRONG), "no secret in errors: {text}");
}
