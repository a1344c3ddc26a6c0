//! `HelmRepository`: fetch `index.yaml`, check it parses, store it.

use std::io::Read;

use sha2::{Digest, Sha256};

use super::http::{self, Body, RepoUrl};
use super::{HelmError, HelmFetcher, HelmRepository, IndexFile};
use crate::{Artifact, ArtifactKey};

/// What the last reconcile left: the artifact in the object's status and
/// the server's `ETag` for it (kept by the controller, in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastIndex {
    /// The stored index.
    pub artifact: Artifact,
    /// The `ETag` the server sent with it, if any.
    pub etag: Option<String>,
}

impl From<&IndexOutcome> for LastIndex {
    fn from(outcome: &IndexOutcome) -> Self {
        LastIndex {
            artifact: outcome.artifact().clone(),
            etag: outcome.etag().map(str::to_string),
        }
    }
}

/// The result of one index reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexOutcome {
    /// The server answered `304 Not Modified` to the last `ETag`: no body
    /// was downloaded, nothing written.
    NotModified {
        /// The last artifact, still current.
        artifact: Artifact,
        /// The `ETag` sent.
        etag: Option<String>,
    },
    /// Downloaded, but the same revision as the last artifact: nothing written.
    Unchanged {
        /// The last artifact, still current.
        artifact: Artifact,
        /// The server's `ETag`, if any.
        etag: Option<String>,
    },
    /// A new index artifact was stored.
    Updated {
        /// The new artifact.
        artifact: Artifact,
        /// The server's `ETag`, if any.
        etag: Option<String>,
    },
}

impl IndexOutcome {
    /// The artifact now current.
    pub fn artifact(&self) -> &Artifact {
        match self {
            IndexOutcome::NotModified { artifact, .. }
            | IndexOutcome::Unchanged { artifact, .. }
            | IndexOutcome::Updated { artifact, .. } => artifact,
        }
    }

    /// The `ETag` to send next time.
    pub fn etag(&self) -> Option<&str> {
        match self {
            IndexOutcome::NotModified { etag, .. }
            | IndexOutcome::Unchanged { etag, .. }
            | IndexOutcome::Updated { etag, .. } => etag.as_deref(),
        }
    }

    /// Whether a new artifact was stored.
    pub fn is_updated(&self) -> bool {
        matches!(self, IndexOutcome::Updated { .. })
    }
}

impl HelmFetcher {
    /// Bring the index artifact of `key` up to date with `repo`.
    ///
    /// With `last` present in storage, its `ETag` goes out as
    /// `If-None-Match`; a `304` returns [`IndexOutcome::NotModified`]
    /// without a body. A downloaded index with the last revision is
    /// [`IndexOutcome::Unchanged`]. Otherwise the index is parsed (a bad
    /// one fails here, naming the URL) and stored. On any error storage is
    /// left as it was.
    pub fn reconcile_index(
        &self,
        key: &ArtifactKey,
        repo: &HelmRepository,
        last: Option<&LastIndex>,
    ) -> Result<IndexOutcome, HelmError> {
        let base = RepoUrl::parse(&repo.url)?;
        let client = http::client(&base, &repo.tls, repo.timeout)?;
        let url = base.index_url();
        let last = last.filter(|l| self.storage.looks_present(&l.artifact));
        let if_none_match = last.and_then(|l| l.etag.as_deref());
        let body = http::get(
            &client,
            &url,
            repo.auth.as_ref(),
            if_none_match,
            self.limits.max_index_size,
            "index",
            repo.timeout,
        )?;
        let (bytes, etag) = match body {
            Body::NotModified => {
                let last = last.expect("If-None-Match is only sent with a last artifact");
                return Ok(IndexOutcome::NotModified {
                    artifact: last.artifact.clone(),
                    etag: last.etag.clone(),
                });
            }
            Body::Full { bytes, etag } => (bytes, etag),
        };
        let revision_hex = hex::encode(Sha256::digest(&bytes));
        let revision = format!("sha256:{revision_hex}");
        if let Some(last) = last.filter(|l| l.artifact.revision == revision) {
            return Ok(IndexOutcome::Unchanged {
                artifact: last.artifact.clone(),
                etag,
            });
        }
        let index = IndexFile::parse(&bytes, &http::redact(url.as_str()))?;
        let json = index.to_json();
        let artifact = self.storage.store_named(
            key,
            &revision,
            |_| format!("index-{revision_hex}.yaml"),
            |out| {
                out.write_all(&json)
                    .map_err(|e| crate::Error::io("writing index artifact", key.to_string(), e))
            },
        )?;
        self.gc(key, &artifact);
        Ok(IndexOutcome::Updated { artifact, etag })
    }

    /// Read a stored index artifact back, after checking its digest.
    ///
    /// # Errors
    /// A missing or corrupt artifact, one over the index size limit, or one
    /// that no longer parses.
    pub fn load_index(&self, artifact: &Artifact) -> Result<IndexFile, HelmError> {
        let file = self.storage.open_verified(artifact)?;
        let mut bytes = Vec::new();
        let limit = self.limits.max_index_size;
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| crate::Error::io("reading index artifact", &artifact.path, e))?;
        if bytes.len() as u64 > limit {
            return Err(HelmError::TooLarge {
                what: "index",
                url: artifact.path.clone(),
                limit,
            });
        }
        IndexFile::parse(&bytes, &artifact.path)
    }
}
