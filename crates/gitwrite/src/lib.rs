//! # driftless-gitwrite: writing to git for image automation
//!
//! The write side of git, for the `ImageUpdateAutomation` reconciler:
//! [`checkout`] a reference into a plain directory, let the caller edit
//! files there, [`WorkTree::commit`] what changed (optionally signed with
//! OpenPGP or SSH), and [`WorkTree::push`] it over git://, smart HTTP (basic
//! or bearer) or SSH with host-key checks.
//!
//! **Owns:** the checkout directory and its repository, tree and commit
//! objects, commit signatures, the pack and the receive-pack conversation,
//! and the push's safety rules (no force unless asked, no empty commits).
//! **Must not touch:** file contents (the setters edit YAML, in another
//! crate), Kubernetes (the reconciler maps `spec.git` onto these requests and
//! errors onto conditions). Time and identity are parameters: nothing here
//! reads a clock.
//!
//! Key choice: fetching, credentials, the transports and the error
//! classification are `driftless-source`'s (gitoxide), so a push fails with
//! the same words as a fetch of the same URL. gitoxide 0.90 cannot push; the
//! send-pack side is small (ref commands, a pack, a status report) and
//! lives in [`push`] on top of gitoxide's transports. No libgit2 and no
//! `git` program.
//!
//! ```no_run
//! use driftless_gitwrite::{checkout, CheckoutRequest, CommitSpec, Identity, PushSpec};
//! use driftless_source::GitReference;
//! # fn main() -> Result<(), driftless_gitwrite::Error> {
//! let request = CheckoutRequest::new(
//!     "ssh://git@example.com/org/fleet.git",
//!     GitReference::Branch("main".into()),
//!     "/tmp/checkout",
//! );
//! let tree = checkout(&request)?;
//! std::fs::write(tree.dir().join("apps/web.yaml"), "image: web:1.2.0\n").ok();
//! let spec = CommitSpec::new(Identity::new("fluxbot", "bot@example.com"), 1_765_000_000, "web to 1.2.0");
//! if let Some(commit) = tree.commit(&spec)? {
//!     tree.push(&commit, &PushSpec::default())?;
//! }
//! # Ok(()) }
//! ```

mod commit;
mod error;
mod pack;
pub mod push;
mod sign;
mod tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use driftless_source::{GitAuth, GitReference, GitSource};

pub use commit::{CommitSpec, Identity};
pub use error::{Cause, Error};
pub use push::{PushOutcome, PushSpec, RefStatus, RefUpdate};
pub use sign::SigningKey;

/// What to check out, and where (Flux's `sourceRef` URL and credentials plus
/// `git.checkout.ref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The repository's URL.
    pub url: String,
    /// The reference to check out: a branch normally; tag, semver, name or commit work too.
    pub reference: GitReference,
    /// Credentials, when the repository needs them.
    pub auth: Option<GitAuth>,
    /// Limit for each network operation (checkout, push); Flux's default is 60s.
    pub timeout: Duration,
    /// Where the files go: a new or empty directory. The repository is kept
    /// beside it, in `<dir>.git`.
    pub dir: PathBuf,
}

impl CheckoutRequest {
    /// A request for `url` at `reference` into `dir`, without credentials, with a 60s timeout.
    pub fn new(url: impl Into<String>, reference: GitReference, dir: impl Into<PathBuf>) -> Self {
        CheckoutRequest {
            url: url.into(),
            reference,
            auth: None,
            timeout: Duration::from_secs(60),
            dir: dir.into(),
        }
    }

    fn source(&self) -> GitSource {
        let mut source = GitSource::new(self.url.clone(), self.reference.clone());
        source.auth.clone_from(&self.auth);
        source.timeout = self.timeout;
        source
    }
}

/// A checked-out commit: its files in a directory, its objects in a
/// repository beside them, and what is needed to push back.
#[derive(Debug)]
pub struct WorkTree {
    request: CheckoutRequest,
    git_dir: PathBuf,
    base: gix::ObjectId,
    base_hex: String,
    revision: String,
}

/// Clone `req.url` at `req.reference` into `req.dir`: the files of that
/// commit as a plain directory tree (regular files, executable bits,
/// symlinks; submodules as empty directories), plus a repository beside it
/// in `<dir>.git` holding the commit's objects (fetched at depth 1). The
/// repository and the transport's credential files (an SSH key, its
/// `known_hosts`) stay outside the work tree, so no commit can pick them up.
///
/// On failure the directory is left as it was found (removed when this call
/// created it). Flux commits on top of `git.push.branch` when that branch
/// exists: check it out first, and on [`driftless_source::Error::RefNotFound`]
/// check out `git.checkout.ref` instead. The history is shallow, so a push
/// to a branch that is behind the base but not at it counts as
/// non-fast-forward; checking out the push branch avoids that.
pub fn checkout(req: &CheckoutRequest) -> Result<WorkTree, Error> {
    driftless_source::transport::install_crypto_provider();
    let dir = &req.dir;
    let created = match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::DirectoryNotEmpty(dir.clone()));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
            true
        }
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    let result = fill(req);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(git_dir_of(dir));
        // Leave the directory as we found it, so the caller can retry
        // (e.g. the push branch first, then the checkout branch).
        let _ = if created {
            std::fs::remove_dir_all(dir)
        } else {
            empty(dir)
        };
    }
    result
}

/// Where the repository of a checkout in `dir` lives: `<dir>.git`.
fn git_dir_of(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_owned();
    name.push(".git");
    dir.with_file_name(name)
}

/// Fetch into `<req.dir>.git` (a fresh repository: a previous checkout's is
/// ours to replace) and write the commit's files into `req.dir`.
fn fill(req: &CheckoutRequest) -> Result<WorkTree, Error> {
    let dir = &req.dir;
    let git_dir = git_dir_of(dir);
    if let Err(e) = std::fs::remove_dir_all(&git_dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(Error::io("removing the previous repository", &git_dir, e));
    }
    let (base, revision) = driftless_source::transport::fetch_commit(&req.source(), &git_dir)?;
    let repo = open(&git_dir)?;
    let tree = repo
        .find_commit(base)
        .and_then(|c| c.tree_id())
        .map_err(|e| Error::repo("reading the checked-out commit", &git_dir, e))?
        .detach();
    let base_hex = base.to_string();
    tree::materialize(&repo, tree, dir, &base_hex)?;
    Ok(WorkTree {
        request: req.clone(),
        git_dir,
        base,
        base_hex,
        revision,
    })
}

/// Remove everything inside `dir`.
fn empty(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn open(git_dir: &Path) -> Result<gix::Repository, Error> {
    gix::open_opts(git_dir, gix::open::Options::isolated())
        .map_err(|e| Error::repo("opening the repository", git_dir, e))
}

impl WorkTree {
    /// Where the files are; the setters edit files here.
    pub fn dir(&self) -> &Path {
        &self.request.dir
    }

    /// Hex of the checked-out commit.
    pub fn base(&self) -> &str {
        &self.base_hex
    }

    /// Flux's revision string of the checked-out commit, e.g. `main@sha1:<hash>`.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// Compare the directory with the base commit's tree; when nothing
    /// changed return `Ok(None)` (no empty commits). Otherwise write the
    /// blobs, trees and a commit whose parent is the base, with `spec`'s
    /// identities, time, message and signature; returns its hash. The parent
    /// is always the base: a second call replaces the first commit rather
    /// than stacking on it.
    pub fn commit(&self, spec: &CommitSpec) -> Result<Option<String>, Error> {
        let repo = open(&self.git_dir)?;
        commit::commit(&repo, self.base, &self.request.dir, spec)
    }

    /// Push `commit` (made by [`commit`](Self::commit)) to the remote branch
    /// `spec.branch` (default: the checked-out branch) and/or `spec.refspec`,
    /// with `spec.options` as push options. Refuses a non-fast-forward unless
    /// `spec.force`; a server's refusal is [`Error::PushRejected`] with its reason.
    pub fn push(&self, commit: &str, spec: &PushSpec) -> Result<PushOutcome, Error> {
        push::push(
            &self.request.source(),
            &self.git_dir,
            self.base,
            commit,
            spec,
        )
    }
}
