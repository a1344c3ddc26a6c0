//! Scanning an image repository, as Flux's `ImageRepository` names it
//! (`spec.image`: `[host[:port]/]path`, no scheme, tag or digest): its tag
//! list ([`scan_tags`]) and the manifest digest of one tag
//! ([`tag_digest`], for an ImagePolicy's `digestReflectionPolicy`).
//!
//! Names are read as go-containerregistry's `name.ParseReference` reads
//! them, which is what Flux's `status.canonicalImageName` shows: the first
//! path element is a registry only when it holds a `.` or a `:`; otherwise
//! the image is on Docker Hub (`index.docker.io`), where a one-element name
//! gets the `library/` prefix (`nginx` → `index.docker.io/library/nginx`).
//!
//! The connection (plain HTTP with `insecure`, an extra CA, the timeout) and
//! the errors are the OCIRepository's: one client, one classification
//! (unreachable, credentials refused, repository not found).

use std::time::Duration;

use oci_client::Reference;

use crate::oci::reference::check_tag_of;
use crate::oci::tags::{self, TagLimits};
use crate::oci::{OciAuth, OciError, Repository, classify, client};

/// Docker Hub, as go-containerregistry names it.
pub const DOCKER_HUB: &str = "index.docker.io";

/// An image repository: a registry host and a path in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// `host` or `host:port`; [`DOCKER_HUB`] when the name has none.
    pub registry: String,
    /// The path below the host, with Docker Hub's `library/` filled in.
    pub repository: String,
}

impl ImageName {
    /// Parses `spec.image`. Refuses a scheme, a tag or a digest (Flux's
    /// messages), and a path that is not lower-case letters, digits, `.`,
    /// `_`, `-` between `/` (2 to 255 characters, as go-containerregistry).
    pub fn parse(image: &str) -> Result<ImageName, OciError> {
        let invalid = |problem: String| OciError::InvalidImage {
            image: image.to_owned(),
            problem,
        };
        if let Some((scheme, _)) = image.split_once("://") {
            return Err(invalid(format!(
                "it must not include a URL scheme; remove '{scheme}://'"
            )));
        }
        if let Some((_, digest)) = image.split_once('@') {
            return Err(invalid(format!(
                "it must not include a digest; remove '@{digest}'"
            )));
        }
        let (registry, path) = match image.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) => (first, rest),
            _ => ("", image),
        };
        if let Some((_, tag)) = path.split_once(':') {
            return Err(invalid(format!(
                "it must not include a tag; remove ':{tag}'"
            )));
        }
        let path_ok = (2..=255).contains(&path.len())
            && path.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                    })
            });
        if !path_ok {
            return Err(invalid(
                "the repository path must be 2 to 255 lower-case letters, digits, '.', '_', '-' between '/'"
                    .to_owned(),
            ));
        }
        let host_ok = registry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(invalid(
                "the host has characters a host cannot have".to_owned(),
            ));
        }
        let registry = match registry {
            "" | "docker.io" => DOCKER_HUB,
            other => other,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        Ok(ImageName {
            registry: registry.to_owned(),
            repository,
        })
    }

    /// `registry/repository`: Flux's `status.canonicalImageName`.
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    fn repo(&self) -> Repository {
        Repository {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
        }
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// How to reach the registry, and how much to read.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Plain HTTP (`spec.insecure`).
    pub insecure: bool,
    /// PEM CA certificate(s) to trust besides the system's (`certSecretRef`'s `ca.crt`).
    pub ca_pem: Option<Vec<u8>>,
    /// The whole operation's deadline (`spec.timeout`, else `spec.interval`).
    pub timeout: Duration,
    /// The most tags a scan reads (default: the process's
    /// [`driftless_limits::Limits::registry_tags`]): more fails the scan
    /// rather than hold an unbounded list in memory.
    pub max_tags: usize,
    /// Tags asked for per request (default 1000; the registry may send fewer, or all).
    pub tag_page_size: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            insecure: false,
            ca_pem: None,
            timeout: Duration::from_secs(60),
            max_tags: driftless_limits::current().registry_tags,
            tag_page_size: 1000,
        }
    }
}

/// Every tag of `image`, in the registry's order, up to `options.max_tags`.
pub async fn scan_tags(
    image: &ImageName,
    auth: &OciAuth,
    options: &ScanOptions,
) -> Result<Vec<String>, OciError> {
    let name = image.canonical();
    within(&name, options.timeout, async {
        let client = client(
            &name,
            options.insecure,
            options.ca_pem.as_deref(),
            options.timeout,
        )?;
        let limits = TagLimits {
            max: options.max_tags,
            page: options.tag_page_size,
        };
        tags::list(&client, &image.repo(), &auth.to_client(), &name, limits).await
    })
    .await
}

/// The digest (`sha256:…`) of the manifest `tag` points at in `image` (a
/// `HEAD` of the manifest; an index's own digest for a multi-platform image).
pub async fn tag_digest(
    image: &ImageName,
    tag: &str,
    auth: &OciAuth,
    options: &ScanOptions,
) -> Result<String, OciError> {
    check_tag_of("tag", tag)?;
    let name = image.canonical();
    within(&name, options.timeout, async {
        let client = client(
            &name,
            options.insecure,
            options.ca_pem.as_deref(),
            options.timeout,
        )?;
        let reference = Reference::with_tag(
            image.registry.clone(),
            image.repository.clone(),
            tag.to_owned(),
        );
        client
            .fetch_manifest_digest(&reference, &auth.to_client())
            .await
            .map_err(|e| classify(e, &name, &reference, "resolving the tag"))
    })
    .await
}

async fn within<T>(
    name: &str,
    timeout: Duration,
    work: impl Future<Output = Result<T, OciError>>,
) -> Result<T, OciError> {
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| OciError::Timeout {
            url: name.to_owned(),
            timeout,
        })?
}

impl OciError {
    /// What a person can do about a failed scan, in `ImageRepository`'s
    /// terms (its fields are `spec.image`, `spec.secretRef`…), one short line.
    pub fn scan_hint(&self) -> Option<&'static str> {
        Some(match self {
            OciError::InvalidImage { .. } => return self.hint(),
            OciError::Unreachable { .. } => {
                "check the host in spec.image and that it is up; for a TLS error, spec.certSecretRef (private CA) or spec.insecure (plain HTTP)"
            }
            OciError::AuthFailed { .. } => {
                "check the credentials in spec.secretRef for this registry host"
            }
            OciError::RepositoryNotFound { .. } => {
                "check spec.image, and that an image was pushed to it"
            }
            OciError::TooManyTags { .. } => "remove old tags from the repository",
            OciError::Timeout { .. } => "raise spec.timeout, or check the registry and the network",
            OciError::DockerConfig { .. } | OciError::InvalidCa { .. } => return self.hint(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_go_containerregistry_reads_them() {
        for (image, canonical) in [
            ("nginx", "index.docker.io/library/nginx"),
            ("docker.io/nginx", "index.docker.io/library/nginx"),
            (
                "index.docker.io/library/nginx",
                "index.docker.io/library/nginx",
            ),
            (
                "stefanprodan/podinfo",
                "index.docker.io/stefanprodan/podinfo",
            ),
            (
                "ghcr.io/stefanprodan/podinfo",
                "ghcr.io/stefanprodan/podinfo",
            ),
            ("127.0.0.1:5000/app", "127.0.0.1:5000/app"),
            ("localhost:5000/team/app", "localhost:5000/team/app"),
            // No '.' or ':' in the first element: a Docker Hub path.
            ("localhost/app", "index.docker.io/localhost/app"),
        ] {
            let name = ImageName::parse(image).expect(image);
            assert_eq!(name.canonical(), canonical, "{image}");
        }
    }

    #[test]
    fn schemes_tags_digests_and_bad_paths_are_refused_with_flux_words() {
        for (image, needle) in [
            ("https://ghcr.io/org/app", "remove 'https://'"),
            ("ghcr.io/org/app:v1", "remove ':v1'"),
            ("nginx:1.27", "remove ':1.27'"),
            ("ghcr.io/org/app@sha256:abc", "remove '@sha256:abc'"),
            ("ghcr.io/Org/app", "lower-case"),
            ("ghcr.io/org//app", "lower-case"),
            ("a", "2 to 255"),
            ("", "2 to 255"),
            ("ex%ample.com/app", "host"),
        ] {
            let err = ImageName::parse(image).expect_err(image);
            let text = err.to_string();
            assert!(text.contains(needle), "{image}: {text}");
            assert!(matches!(err, OciError::InvalidImage { .. }), "{image}");
            assert!(err.scan_hint().is_some_and(|h| h.contains("spec.image")));
        }
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_named_with_a_hint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let image = ImageName::parse(&format!("127.0.0.1:{port}/app")).expect("name");
        let options = ScanOptions {
            insecure: true,
            timeout: Duration::from_secs(5),
            ..ScanOptions::default()
        };
        let err = scan_tags(&image, &OciAuth::Anonymous, &options)
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, OciError::Unreachable { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        assert!(err.scan_hint().is_some_and(|h| h.contains("spec.image")));
    }
}
