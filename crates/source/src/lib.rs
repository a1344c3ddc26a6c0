//! # driftless-source: git, Helm and OCI sources into verified artifacts
//!
//! The source stage of the pipeline. [`helm`] turns Helm HTTP(S)
//! repositories and charts into artifacts (`HelmRepository`, `HelmChart`);
//! [`oci`] pulls OCI repositories; the rest of this page is about git.
//!
//! Given a plain [`GitSource`] request (URL,
//! reference, credentials, ignore rules, timeout) it produces an [`Artifact`]:
//! a deterministic gzip tarball of the tree at the resolved revision, stored
//! content-addressed under a [`Storage`] directory, with a `sha256:` digest
//! that consumers check on read ([`Storage::open_verified`]).
//!
//! OCI repositories (Flux's `OCIRepository`: Flux artifacts and Helm charts
//! in a registry) are pulled by [`oci::OciFetcher`] into the same storage.
//! Semver ranges (git tags, OCI tags, chart versions) are Masterminds' as
//! Flux reads them, from `driftless-semver`.
//!
//! An artifact can also hold the trees of the source's submodules
//! ([`GitSource::recurse_submodules`]) and the content of other stored
//! artifacts ([`GitSource::includes`], Flux's `spec.include`).
//!
//! **Owns:** talking to git servers (gitoxide, blocking), the kept bare
//! repository per source, the tarball format, the storage layout and its
//! garbage collection.
//! **Must not touch:** Kubernetes. This crate knows nothing of the
//! `GitRepository` resource, conditions or events; the controller maps the
//! resource's spec onto [`GitSource`] and the [`Error`] onto a condition
//! (each error names the URL, reference, path or limit, and has a
//! [`hint`](Error::hint)). Serving artifacts over HTTP is also the controller's.
//!
//! Key choice: gitoxide (`gix`) rather than libgit2, so the build has no C
//! library and cheap change checks (`ls-refs` only) are first-class. Its HTTP
//! transport is reqwest with rustls on the `ring` provider, which
//! [`GitFetcher`] installs as the process default if none is set.
//!
//! Revisions follow Flux: `main@sha1:<hash>` (branch), `v1.2.0@sha1:<hash>`
//! (tag or semver), `refs/pull/1/head@sha1:<hash>` (name), `sha1:<hash>`
//! (commit).
//!
//! ```no_run
//! use driftless_source::{ArtifactKey, GitFetcher, GitReference, GitSource, Storage};
//! # fn main() -> Result<(), driftless_source::Error> {
//! let fetcher = GitFetcher::new(Storage::new("/var/lib/driftless")?);
//! let key = ArtifactKey::git_repository("flux-system", "podinfo");
//! let source = GitSource::new("https://example.com/org/repo.git", GitReference::Branch("main".into()));
//! let first = fetcher.reconcile(&key, &source, None)?;
//! // Next interval: one ref advertisement, no transfer if nothing changed.
//! let again = fetcher.reconcile(&key, &source, Some(first.artifact()))?;
//! assert!(!again.is_updated() || again.artifact().revision != first.artifact().revision);
//! # Ok(()) }
//! ```

mod archive;
mod consume;
mod error;
mod git;
pub mod helm;
mod include;
pub mod oci;
mod storage;
mod submodule;

pub use archive::{DEFAULT_IGNORE, SOURCEIGNORE};
pub use consume::{UnpackLimits, unpack_verified};
pub use error::{Cause, Error};
pub use git::{GitAuth, GitReference, GitSource};
pub use include::{ArtifactPath, Include};
pub use storage::{Artifact, ArtifactKey, Storage};

/// The connection setup of the fetch side, for the write side
/// (`driftless-gitwrite`) to connect, authenticate and classify errors the
/// same way; and [`fetch_commit`](transport::fetch_commit) to check out.
pub mod transport {
    pub use crate::git::{classify, fetch_commit, http_options, ssh};

    /// Make `ring` the process-wide rustls provider unless one is set already.
    pub fn install_crypto_provider() {
        crate::install_crypto_provider();
    }
}

/// Limits and retention for [`GitFetcher`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// A file bigger than this fails the archive (default
    /// [`driftless_limits::Limits::git_file_bytes`], `--git-max-file-size`).
    pub max_file_size: u64,
    /// Artifacts kept per source after a new one is stored (default 2, Flux's retention).
    pub keep_artifacts: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_file_size: driftless_limits::current().git_file_bytes,
            keep_artifacts: 2,
        }
    }
}

/// The result of one reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The reference still points at the last artifact's revision; nothing was transferred or written.
    Unchanged(Artifact),
    /// A new artifact was stored (the previous one stays until garbage-collected).
    Updated(Artifact),
}

impl Outcome {
    /// The artifact now in storage (new or unchanged).
    pub fn artifact(&self) -> &Artifact {
        match self {
            Outcome::Unchanged(a) | Outcome::Updated(a) => a,
        }
    }

    /// Whether a new artifact was stored.
    pub fn is_updated(&self) -> bool {
        matches!(self, Outcome::Updated(_))
    }
}

/// Fetches git sources and stores their artifacts. Blocking: call it from
/// `spawn_blocking` on an async runtime.
#[derive(Debug, Clone)]
pub struct GitFetcher {
    storage: Storage,
    options: FetchOptions,
}

impl GitFetcher {
    /// A fetcher storing artifacts in `storage`, with default options.
    pub fn new(storage: Storage) -> Self {
        Self::with_options(storage, FetchOptions::default())
    }

    /// A fetcher storing artifacts in `storage`, with `options`.
    pub fn with_options(storage: Storage, options: FetchOptions) -> Self {
        install_crypto_provider();
        GitFetcher { storage, options }
    }

    /// Where the artifacts are stored.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Bring the artifact of `key` up to date with `source`.
    ///
    /// `last` is the artifact recorded in the object's status. When the
    /// remote still points at its revision and its file is present, it is
    /// returned as [`Outcome::Unchanged`] after one ref advertisement. The
    /// revision is all this compares: when anything else that goes into the
    /// artifact changed (ignore rules, an include or its artifact), pass
    /// `None` to have it rebuilt. On any error nothing in storage changes:
    /// the previous artifact stays as it was.
    ///
    /// The artifact holds the tree at the revision followed by
    /// `source.includes`, each read from this fetcher's storage after
    /// checking its digest.
    pub fn reconcile(
        &self,
        key: &ArtifactKey,
        source: &GitSource,
        last: Option<&Artifact>,
    ) -> Result<Outcome, Error> {
        let known = last
            .filter(|a| self.storage.looks_present(a))
            .map(|a| a.revision.as_str());
        let cache = self.storage.git_cache_dir(key, &source.url)?;
        let resolved = match git::resolve_and_fetch(source, &cache, known)? {
            git::Fetched::Unchanged => {
                let last = last.cloned().ok_or_else(|| Error::Git {
                    url: source.url.clone(),
                    during: "comparing revisions",
                    source: "unchanged without a previous artifact".into(),
                })?;
                return Ok(Outcome::Unchanged(last));
            }
            git::Fetched::Ready(resolved) => resolved,
        };
        let repo =
            gix::open_opts(&cache, gix::open::Options::isolated()).map_err(|e| Error::Git {
                url: source.url.clone(),
                during: "opening the local cache repository",
                source: Box::new(e),
            })?;
        let tree = repo
            .find_commit(resolved.commit)
            .and_then(|c| c.tree_id())
            .map_err(|e| Error::Git {
                url: source.url.clone(),
                during: "reading the fetched commit",
                source: Box::new(e),
            })?
            .detach();
        let fetch_submodule =
            |url: &str, commit: gix::ObjectId| self.fetch_submodule(key, source, url, commit);
        let own = archive::collect_tree(
            repo,
            &source.url,
            tree,
            source.ignore.as_deref(),
            source
                .recurse_submodules
                .then_some(&fetch_submodule as archive::FetchSubmodule<'_>),
        )?;
        let mut included = Vec::with_capacity(source.includes.len());
        for include in &source.includes {
            let tarball =
                self.storage
                    .open_verified(&include.artifact)
                    .map_err(|e| Error::Include {
                        include: include.name.clone(),
                        source: Box::new(e),
                    })?;
            let entries = include::entries(include, tarball, self.options.max_file_size)?;
            included.push((include.to_path.clone(), entries));
        }
        let entries = include::overlay(own.entries, included);
        let artifact = self.storage.store(key, &resolved.revision, |out| {
            archive::write_entries(&own.repos, entries, self.options.max_file_size, out)
        })?;
        if let Err(e) = self.storage.gc(key, self.options.keep_artifacts, &artifact) {
            tracing::warn!(%key, error = %e, "garbage collection of old artifacts failed");
        }
        Ok(Outcome::Updated(artifact))
    }
}

impl GitFetcher {
    /// Makes `commit` of the submodule at `url` available in its own kept
    /// repository (beside the source's, keyed by URL) and opens that.
    fn fetch_submodule(
        &self,
        key: &ArtifactKey,
        source: &GitSource,
        url: &str,
        commit: gix::ObjectId,
    ) -> Result<gix::Repository, Error> {
        let mut request = GitSource::new(
            url,
            GitReference::Commit {
                sha: commit.to_string(),
                branch: None,
            },
        );
        request.timeout = source.timeout;
        if submodule::same_server(&source.url, url) {
            request.auth = source.auth.clone();
        }
        let cache = self.storage.git_cache_dir(key, url)?;
        git::resolve_and_fetch(&request, &cache, None)?;
        gix::open_opts(&cache, gix::open::Options::isolated()).map_err(|e| Error::Git {
            url: url.to_owned(),
            during: "opening the local cache repository",
            source: Box::new(e),
        })
    }
}

/// Make `ring` the process-wide rustls provider unless one is set already.
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
