//! HTTP for Helm repositories: the client (custom CA, client certificate,
//! skip-verify, timeout), URL joining as Helm and Flux do it, credentials
//! only where Helm sends them, and bounded downloads.
//!
//! Blocking reqwest on rustls with the `ring` provider, the same stack the
//! git transport uses, so no second TLS library enters the build.

use std::io::Read;
use std::time::Duration;

use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_LENGTH, ETAG, IF_NONE_MATCH};

use super::{BasicAuth, HelmError, TlsConfig};

/// A parsed repository URL: where `index.yaml` and relative chart URLs are
/// resolved from.
#[derive(Debug, Clone)]
pub(crate) struct RepoUrl {
    url: Url,
}

impl RepoUrl {
    pub(crate) fn parse(url: &str) -> Result<RepoUrl, HelmError> {
        let invalid = |problem| HelmError::InvalidUrl {
            url: redact(url),
            problem,
        };
        let parsed = Url::parse(url).map_err(|_| invalid("not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        Ok(RepoUrl { url: parsed })
    }

    /// `<url>/index.yaml`: Flux joins the path, so a trailing slash or
    /// none gives the same URL; the query is kept.
    pub(crate) fn index_url(&self) -> Url {
        let mut u = self.url.clone();
        let path = format!("{}/index.yaml", u.path().trim_end_matches('/'));
        u.set_path(&path);
        u
    }

    /// A chart URL from the index: absolute as is, else relative to the
    /// repository URL taken as a directory, with the repository's query
    /// (Helm's `ResolveReferenceURL`).
    pub(crate) fn resolve(&self, reference: &str) -> Result<Url, HelmError> {
        if let Ok(absolute) = Url::parse(reference) {
            return Ok(absolute);
        }
        let mut base = self.url.clone();
        let path = format!("{}/", base.path().trim_end_matches('/'));
        base.set_path(&path);
        let mut joined = base.join(reference).map_err(|_| HelmError::InvalidUrl {
            url: redact(reference),
            problem: "chart URL in the index cannot be resolved",
        })?;
        joined.set_query(self.url.query());
        Ok(joined)
    }

    /// Helm sends the repository's credentials to a URL only on the same
    /// scheme, host and port, unless `passCredentials` says otherwise.
    pub(crate) fn same_origin(&self, other: &Url) -> bool {
        self.url.scheme() == other.scheme()
            && self.url.host_str() == other.host_str()
            && self.url.port_or_known_default() == other.port_or_known_default()
    }

    pub(crate) fn redacted(&self) -> String {
        redact(self.url.as_str())
    }
}

/// The URL without user info (`https://user:pass@host` → `https://host`),
/// for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        // Not a URL: keep only what cannot hold a secret.
        Err(_) => match url.rsplit_once('@') {
            Some((_, rest)) => format!("…@{rest}"),
            None => url.to_string(),
        },
    }
}

/// A client for one repository's TLS settings and timeout.
pub(crate) fn client(
    repo: &RepoUrl,
    tls: &TlsConfig,
    timeout: Duration,
) -> Result<Client, HelmError> {
    crate::install_crypto_provider();
    let invalid = |problem: &str, source: Option<crate::Cause>| HelmError::InvalidTls {
        url: repo.redacted(),
        problem: problem.to_string(),
        source,
    };
    let mut builder = Client::builder().timeout(timeout).connect_timeout(timeout);
    if let Some(ca) = &tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(ca)
            .map_err(|e| invalid("ca.crt is not PEM certificates", Some(Box::new(e))))?;
        if certs.is_empty() {
            return Err(invalid("ca.crt holds no certificate", None));
        }
        // Flux adds the CA to the system's roots rather than replacing them.
        builder = builder.tls_certs_merge(certs);
    }
    match (&tls.cert_pem, &tls.key_pem) {
        (Some(cert), Some(key)) => {
            let mut pem = cert.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key);
            // The key's bytes never reach the message: reqwest's error is
            // about the format only.
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                invalid(
                    "tls.crt/tls.key are not a PEM certificate and key",
                    Some(Box::new(e)),
                )
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err(invalid("tls.crt and tls.key must be given together", None)),
    }
    if tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| invalid("cannot build the HTTP client", Some(Box::new(e))))
}

/// The answer to a bounded GET.
pub(crate) enum Body {
    /// 304 to `If-None-Match`: nothing was read.
    NotModified,
    /// The body, and the server's `ETag` if it sent one.
    Full {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
}

/// GET `url`, reading at most `limit` bytes (an announced larger
/// `Content-Length` fails before reading). `what` names the body in errors.
pub(crate) fn get(
    client: &Client,
    url: &Url,
    auth: Option<&BasicAuth>,
    if_none_match: Option<&str>,
    limit: u64,
    what: &'static str,
    timeout: Duration,
) -> Result<Body, HelmError> {
    let shown = redact(url.as_str());
    let mut request = client.get(url.clone());
    if let Some(auth) = auth {
        request = request.basic_auth(&auth.username, Some(&auth.password));
    }
    if let Some(etag) = if_none_match {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let transport = |e: reqwest::Error, shown: &str| {
        if e.is_timeout() {
            HelmError::Timeout {
                url: shown.to_string(),
                timeout,
            }
        } else {
            // reqwest's message may hold the URL; strip user info from it.
            HelmError::Unreachable {
                url: shown.to_string(),
                source: Box::new(e.without_url()),
            }
        }
    };
    let mut response = request.send().map_err(|e| transport(e, &shown))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED && if_none_match.is_some() {
        return Ok(Body::NotModified);
    }
    if matches!(status.as_u16(), 401 | 403) {
        return Err(HelmError::AuthFailed {
            url: shown,
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        return Err(HelmError::HttpStatus {
            url: shown,
            status: status.as_u16(),
        });
    }
    let too_large = || HelmError::TooLarge {
        what,
        url: shown.clone(),
        limit,
    };
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut bytes = Vec::new();
    (&mut response)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            {
                Some(inner) if inner.is_timeout() => HelmError::Timeout {
                    url: shown.clone(),
                    timeout,
                },
                _ => HelmError::Unreachable {
                    url: shown.clone(),
                    source: Box::new(e),
                },
            }
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(Body::Full { bytes, etag })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(u: &str) -> RepoUrl {
        RepoUrl::parse(u).expect(u)
    }

    #[test]
    fn index_url_joins_like_flux() {
        assert_eq!(
            repo("http://h/charts").index_url().as_str(),
            "http://h/charts/index.yaml"
        );
        assert_eq!(
            repo("http://h/charts/").index_url().as_str(),
            "http://h/charts/index.yaml"
        );
        assert_eq!(repo("http://h").index_url().as_str(), "http://h/index.yaml");
        assert_eq!(
            repo("http://h/c?x=1").index_url().as_str(),
            "http://h/c/index.yaml?x=1"
        );
    }

    #[test]
    fn chart_urls_resolve_like_helm() {
        let r = repo("http://h:8080/charts?token=t");
        assert_eq!(
            r.resolve("podinfo-6.0.0.tgz").expect("relative").as_str(),
            "http://h:8080/charts/podinfo-6.0.0.tgz?token=t"
        );
        assert_eq!(
            r.resolve("../other/a.tgz").expect("relative").as_str(),
            "http://h:8080/other/a.tgz?token=t"
        );
        assert_eq!(
            r.resolve("https://cdn.example/a.tgz")
                .expect("absolute")
                .as_str(),
            "https://cdn.example/a.tgz"
        );
    }

    #[test]
    fn credentials_stay_on_the_repository_origin() {
        let r = repo("https://h/charts");
        assert!(r.same_origin(&Url::parse("https://h:443/x.tgz").expect("url")));
        assert!(!r.same_origin(&Url::parse("http://h/x.tgz").expect("url")));
        assert!(!r.same_origin(&Url::parse("https://h:8443/x.tgz").expect("url")));
        assert!(!r.same_origin(&Url::parse("https://cdn/x.tgz").expect("url")));
    }

    #[test]
    fn urls_are_checked_and_redacted() {
        assert_eq!(redact("https://u:secret@h/c"), "https://h/c");
        let err = RepoUrl::parse("oci://u:secret@h/c").expect_err("oci");
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(RepoUrl::parse("not a url").is_err());
    }
}
