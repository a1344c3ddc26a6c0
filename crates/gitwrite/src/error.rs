//! Errors of the write side: one enum, each variant naming the URL, the
//! reference, the path or the key it is about, with the cause as `#[source]`.
//!
//! Talking to the server (unreachable, credentials, host key, timeout) fails
//! with the fetch side's classified error inside [`Error::Remote`], so both
//! directions say the same thing about the same server. No variant carries
//! a password, token or key: the URL and names only.

use std::path::PathBuf;

pub use driftless_source::Cause;

/// Everything that can go wrong while checking out, committing or pushing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Fetching, connecting or authenticating failed (names the URL).
    #[error("git server error")]
    Remote(#[from] driftless_source::Error),
    /// The checkout directory exists and is not empty.
    #[error("checkout directory {0:?} is not empty")]
    DirectoryNotEmpty(PathBuf),
    /// Reading or writing a local file failed.
    #[error("{during} {path:?}")]
    Io {
        /// What was being done.
        during: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A path in the repository tree cannot be written safely (e.g. `..`, `.git`).
    #[error("path {path:?} in commit {commit} is unsafe to check out")]
    UnsafePath {
        /// The path in the tree.
        path: String,
        /// The commit being checked out.
        commit: String,
    },
    /// Reading or writing the local repository failed.
    #[error("git {during} in {path:?} failed")]
    Repository {
        /// What was being done.
        during: &'static str,
        /// The repository directory.
        path: PathBuf,
        /// The gitoxide error.
        #[source]
        source: Cause,
    },
    /// The signing key could not be read or used.
    #[error("{kind} signing key cannot be used")]
    SigningKey {
        /// `OpenPGP` or `SSH`.
        kind: &'static str,
        /// What the key parser or signer said (never the key).
        #[source]
        source: Cause,
    },
    /// The push spec asks for something we cannot do (bad refspec, no branch).
    #[error("invalid push spec: {0}")]
    InvalidPushSpec(String),
    /// The commit to push is not in the local repository.
    #[error("commit {0} is not in the local repository")]
    UnknownCommit(String),
    /// The server or our own fast-forward check refused to move the reference.
    #[error("push of {reference} to {url} rejected: {reason}")]
    PushRejected {
        /// The repository's URL.
        url: String,
        /// The remote reference, e.g. `refs/heads/main`.
        reference: String,
        /// Why: `non-fast-forward …`, or the server's reason and messages.
        reason: String,
    },
    /// The server answered something we do not understand, or failed to unpack.
    #[error("push to {url} failed: {reason}")]
    Protocol {
        /// The repository's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// What a person can do about it, when there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::Remote(e) => return e.hint(),
            Error::DirectoryNotEmpty(_) => "check out into a new or empty directory",
            Error::Io { .. } => "check the directory's permissions and free space",
            Error::UnsafePath { .. } => "rename the path in the repository",
            Error::Repository { .. } => "remove the checkout directory and check out again",
            Error::SigningKey { .. } => {
                "check signingKey.secretRef: an armored OpenPGP private key (git.asc) or an OpenSSH private key, and its passphrase"
            }
            Error::InvalidPushSpec(_) => {
                "set git.push.branch to a branch name, or git.push.refspec like refs/heads/main:refs/heads/auto"
            }
            Error::UnknownCommit(_) => "push a commit made on this checkout",
            Error::PushRejected { .. } => {
                "check out again and retry (someone else pushed), or allow the push on the server"
            }
            Error::Protocol { .. } => "check the server's logs; retry",
        })
    }

    pub(crate) fn io(during: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            during,
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn repo(
        during: &'static str,
        path: &std::path::Path,
        source: impl Into<Cause>,
    ) -> Self {
        Error::Repository {
            during,
            path: path.to_owned(),
            source: source.into(),
        }
    }
}
