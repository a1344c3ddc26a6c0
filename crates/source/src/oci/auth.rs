//! Registry credentials: anonymous, or a user and password taken from a
//! `kubernetes.io/dockerconfigjson` Secret (`spec.secretRef`), matched to the
//! registry host as the kubelet's keyring does.
//!
//! The registry client turns them into basic auth or, when the registry
//! answers `WWW-Authenticate: Bearer`, into a token request. Credentials
//! never appear in `Debug` output or in errors.

use base64::Engine as _;
use serde_json::Value;

use crate::oci::OciError;

/// How to authenticate to the registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum OciAuth {
    /// No credentials (Flux's default, and its fallback when the Secret
    /// holds none for the host).
    #[default]
    Anonymous,
    /// A user and password (basic auth, or exchanged for a bearer token).
    Basic {
        /// The user name.
        username: String,
        /// The password or access token.
        password: String,
    },
}

impl std::fmt::Debug for OciAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OciAuth::Anonymous => f.write_str("Anonymous"),
            OciAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl OciAuth {
    /// The credentials for `registry` (`host[:port]`) in the `.dockerconfigjson`
    /// value of a Secret. An entry's key may be a host, `host:port`, a URL
    /// (`https://host/v1/`, whose path is ignored) or a wildcard
    /// (`*.example.com`); an exact host wins over a wildcard. An entry holds
    /// `auth` (base64 of `user:password`, preferred) or `username` and
    /// `password`. No matching entry means anonymous, as in Flux.
    pub fn from_docker_config(json: &[u8], registry: &str) -> Result<OciAuth, OciError> {
        let problem = |p: String| OciError::DockerConfig { problem: p };
        // Read as an untyped value and walk it by hand, so that no parser
        // message can quote a credential.
        let config: Value = serde_json::from_slice(json).map_err(|e| {
            problem(format!(
                "not JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let auths = config
            .get("auths")
            .and_then(Value::as_object)
            .ok_or_else(|| problem("it has no \"auths\" object".to_owned()))?;
        let wanted = canonical_host(registry);
        let mut wildcard = None;
        let mut exact = None;
        for (key, entry) in auths {
            let host = canonical_host(key_host(key));
            if host == wanted {
                exact = Some((key, entry));
                break;
            }
            if wildcard.is_none() && wildcard_matches(&host, &wanted) {
                wildcard = Some((key, entry));
            }
        }
        let Some((key, entry)) = exact.or(wildcard) else {
            return Ok(OciAuth::Anonymous);
        };
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(encoded) = field("auth") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| problem(format!("auths[{key:?}].auth is not base64")))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| problem(format!("auths[{key:?}].auth is not UTF-8")))?;
            let (username, password) = decoded.split_once(':').ok_or_else(|| {
                problem(format!(
                    "auths[{key:?}].auth is not base64 of user:password"
                ))
            })?;
            return Ok(OciAuth::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            });
        }
        match (field("username"), field("password")) {
            (Some(username), Some(password)) => Ok(OciAuth::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(problem(format!(
                "auths[{key:?}] has neither auth nor username and password"
            ))),
        }
    }

    pub(crate) fn to_client(&self) -> oci_client::secrets::RegistryAuth {
        match self {
            OciAuth::Anonymous => oci_client::secrets::RegistryAuth::Anonymous,
            OciAuth::Basic { username, password } => {
                oci_client::secrets::RegistryAuth::Basic(username.clone(), password.clone())
            }
        }
    }
}

/// The `host[:port]` of a config key that may be a URL with a path.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

/// Lower-cased, with Docker Hub's aliases folded into one name.
fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

/// `*.example.com` matches `a.example.com` (one label, same port), as the kubelet's keyring does.
fn wildcard_matches(pattern: &str, host: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return false;
    };
    host.split_once('.')
        .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> OciAuth {
        OciAuth::Basic {
            username: u.into(),
            password: p.into(),
        }
    }

    #[test]
    fn matches_the_registry_host() {
        let config = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"aHViOmh1YnB3"},
            "127.0.0.1:5000":{"username":"flux","password":"s3cret"},
            "*.example.com":{"auth":"d2lsZDp3aWxkcHc="},
            "ghcr.example.com":{"auth":"ZXhhY3Q6ZXhhY3Rwdw=="}
        }}"#;
        let cases = [
            ("docker.io", basic("hub", "hubpw")),
            ("127.0.0.1:5000", basic("flux", "s3cret")),
            ("127.0.0.1:5001", OciAuth::Anonymous),
            ("a.example.com", basic("wild", "wildpw")),
            ("ghcr.example.com", basic("exact", "exactpw")),
            ("a.b.example.com", OciAuth::Anonymous),
        ];
        for (host, want) in cases {
            let got = OciAuth::from_docker_config(config, host).expect(host);
            assert_eq!(got, want, "{host}");
        }
    }

    #[test]
    fn errors_never_quote_credentials() {
        let cases: [&[u8]; 4] = [
            br#"{"auths":{"h":{"auth":"not base64 s3cret"}}}"#,
            br#"{"auths":{"h":{"auth":"czNjcmV0"}}}"#,
            br#"{"auths":{"h":{"username":"flux"}}}"#,
            br#"{"auths":"s3cret"}"#,
        ];
        for config in cases {
            let err = OciAuth::from_docker_config(config, "h").expect_err("invalid");
            let text = err.to_string();
            assert!(
                !text.contains("s3cret") && !text.contains("czNjcmV0"),
                "{text}"
            );
            assert!(matches!(err, OciError::DockerConfig { .. }), "{text}");
        }
        let err = OciAuth::from_docker_config(b"{\"auths\": s3cret", "h").expect_err("not json");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let debug = format!("{:?}", basic("flux", "s3cret"));
        assert!(!debug.contains("s3cret"), "{debug}");
    }
}
