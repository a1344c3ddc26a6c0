//! Pushing artifacts: any config and layers ([`push`]), or Flux's artifact
//! format ([`push_flux_artifact`]: an empty JSON config of
//! [`FLUX_CONFIG_MEDIA_TYPE`], one gzip tarball layer of
//! [`FLUX_CONTENT_MEDIA_TYPE`], and the `created`, `source` and `revision`
//! annotations on the manifest, as `flux push artifact` writes them).
//!
//! The manifest is serialized here, so the digest returned is the digest of
//! the bytes the registry stores, i.e. what a pull resolves the tag to.

use std::collections::BTreeMap;
use std::time::Duration;

use oci_client::Reference;
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use sha2::{Digest as _, Sha256};

use crate::oci::reference::{Repository, check_tag};
use crate::oci::{OciAuth, OciError, classify};

/// Flux's artifact config media type.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// Flux's artifact content (layer) media type.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";

/// Where to push: a repository URL and a tag, with the connection settings of a pull.
#[derive(Debug, Clone)]
pub struct OciTarget {
    /// `oci://host[:port]/repository`.
    pub url: String,
    /// The tag to point at the pushed manifest.
    pub tag: String,
    /// Plain HTTP.
    pub insecure: bool,
    /// Credentials.
    pub auth: OciAuth,
    /// PEM CA certificate(s) to trust besides the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// The whole push's deadline.
    pub timeout: Duration,
}

impl OciTarget {
    /// `url:tag`, anonymous, HTTPS, 60 s timeout.
    pub fn new(url: impl Into<String>, tag: impl Into<String>) -> Self {
        OciTarget {
            url: url.into(),
            tag: tag.into(),
            insecure: false,
            auth: OciAuth::Anonymous,
            ca_pem: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// One layer to push.
#[derive(Debug, Clone)]
pub struct PushLayer {
    /// Its media type.
    pub media_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

fn descriptor(media_type: &str, data: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(data))),
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        urls: None,
        annotations: None,
        artifact_type: None,
    }
}

/// Pushes `config` and `layers` and a manifest with `annotations` to
/// `target`; returns the manifest's digest (`sha256:…`).
pub async fn push(
    target: &OciTarget,
    config_media_type: &str,
    config: Vec<u8>,
    layers: Vec<PushLayer>,
    annotations: BTreeMap<String, String>,
) -> Result<String, OciError> {
    let url = target.url.as_str();
    tokio::time::timeout(target.timeout, async {
        let repo = Repository::parse(url)?;
        check_tag(&target.tag)?;
        let client = super::client(
            url,
            target.insecure,
            target.ca_pem.as_deref(),
            target.timeout,
        )?;
        let image = Reference::with_tag(repo.registry, repo.repository, target.tag.clone());
        let auth = target.auth.to_client();
        client
            .auth(&image, &auth, oci_client::RegistryOperation::Push)
            .await
            .map_err(|e| classify(e, url, &image, "authenticating"))?;
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
            config: descriptor(config_media_type, &config),
            layers: layers
                .iter()
                .map(|l| descriptor(&l.media_type, &l.data))
                .collect(),
            subject: None,
            artifact_type: None,
            annotations: (!annotations.is_empty()).then_some(annotations),
        };
        let blobs = layers
            .into_iter()
            .map(|l| l.data)
            .zip(manifest.layers.iter().map(|d| d.digest.clone()))
            .chain([(config, manifest.config.digest.clone())]);
        for (data, digest) in blobs {
            client
                .push_blob(&image, data, &digest)
                .await
                .map_err(|e| classify(e, url, &image, "uploading a blob"))?;
        }
        let body = serde_json::to_vec(&manifest).map_err(|e| OciError::Registry {
            url: url.to_owned(),
            during: "serializing the manifest",
            source: Box::new(e),
        })?;
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
        client
            .push_manifest_raw(&image, body, http_header(OCI_IMAGE_MEDIA_TYPE))
            .await
            .map_err(|e| classify(e, url, &image, "uploading the manifest"))?;
        Ok(digest)
    })
    .await
    .map_err(|_| OciError::Timeout {
        url: url.to_owned(),
        timeout: target.timeout,
    })?
}

fn http_header(value: &'static str) -> reqwest::header::HeaderValue {
    reqwest::header::HeaderValue::from_static(value)
}

/// Pushes `content` (a gzip tarball) as a Flux artifact with `source` and
/// `revision` (e.g. `main@sha1:…`) in its annotations; returns the
/// manifest's digest.
pub async fn push_flux_artifact(
    target: &OciTarget,
    content: Vec<u8>,
    source: &str,
    revision: &str,
) -> Result<String, OciError> {
    let created = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| OciError::Registry {
            url: target.url.clone(),
            during: "formatting the creation time",
            source: Box::new(e),
        })?;
    let annotations = BTreeMap::from([
        ("org.opencontainers.image.created".to_owned(), created),
        (
            "org.opencontainers.image.source".to_owned(),
            source.to_owned(),
        ),
        (
            "org.opencontainers.image.revision".to_owned(),
            revision.to_owned(),
        ),
    ]);
    push(
        target,
        FLUX_CONFIG_MEDIA_TYPE,
        b"{}".to_vec(),
        vec![PushLayer {
            media_type: FLUX_CONTENT_MEDIA_TYPE.to_owned(),
            data: content,
        }],
        annotations,
    )
    .await
}
