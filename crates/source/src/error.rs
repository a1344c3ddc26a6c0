//! Errors of the source stage: one enum, each variant carrying the URL, the
//! reference, the path or the limit it is about, with the cause as `#[source]`.
//!
//! `Display` states this level only (a chain printer shows the causes);
//! [`Error::hint`] says what a person can do about it.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed cause from a lower layer (gix, I/O) kept for the error chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while turning a git source into an artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed or uses a scheme we do not speak.
    #[error("invalid git URL {url:?}")]
    InvalidUrl {
        /// The repository's or server's URL.
        url: String,
        /// What the transport reported, when it said.
        #[source]
        source: Option<Cause>,
    },
    /// The server did not answer: refused connection, unknown host, reset.
    #[error("cannot reach git server at {url}")]
    Unreachable {
        /// The repository's or server's URL.
        url: String,
        /// What the transport reported.
        #[source]
        source: Cause,
    },
    /// The operation did not finish within the source's timeout.
    #[error("git operation on {url} timed out after {}s while {during}", timeout.as_secs_f64())]
    Timeout {
        /// The repository's or server's URL.
        url: String,
        /// The limit that passed.
        timeout: Duration,
        /// What was being done.
        during: &'static str,
    },
    /// `ssh` would not start: the UID this process runs as has no passwd
    /// entry, which OpenSSH's client requires.
    #[error("ssh cannot connect to {url}: the user this process runs as has no passwd entry")]
    SshUserUnknown {
        /// The repository's or server's URL.
        url: String,
        /// What `ssh` printed.
        #[source]
        source: Option<Cause>,
    },
    /// The server refused our credentials, or wanted some and had none.
    #[error("authentication to {url} failed")]
    AuthFailed {
        /// The repository's or server's URL.
        url: String,
        /// What the transport reported, when it said.
        #[source]
        source: Option<Cause>,
    },
    /// The SSH server's host key is not the one in `known_hosts`.
    #[error("host key of {url} does not match known_hosts")]
    HostKeyVerification {
        /// The repository's or server's URL.
        url: String,
        /// What the transport reported, when it said.
        #[source]
        source: Option<Cause>,
    },
    /// The server has no repository at that path.
    #[error("repository {url} not found")]
    RepositoryNotFound {
        /// The repository's or server's URL.
        url: String,
        /// What the transport reported, when it said.
        #[source]
        source: Option<Cause>,
    },
    /// The branch, tag or named reference is not advertised by the server.
    #[error("{reference} not found in {url}")]
    RefNotFound {
        /// The repository's or server's URL.
        url: String,
        /// The reference as given (branch, tag or name).
        reference: String,
    },
    /// The semver range is not valid.
    #[error("invalid semver range {range:?}")]
    InvalidSemver {
        /// The range as given.
        range: String,
        /// The parser's complaint.
        #[source]
        source: driftless_semver::ParseError,
    },
    /// No tag on the server is a version inside the range.
    #[error("no tag in {url} matches semver range {range:?} ({tags} tags seen)")]
    SemverNoMatch {
        /// The repository's or server's URL.
        url: String,
        /// The range as given.
        range: String,
        /// How many tags the repository has.
        tags: usize,
    },
    /// The commit is malformed or the server does not have it.
    #[error("commit {commit} not found in {url}")]
    CommitNotFound {
        /// The repository's or server's URL.
        url: String,
        /// The commit asked for.
        commit: String,
        /// What the transport reported, when it said.
        #[source]
        source: Option<Cause>,
    },
    /// Any other failure of the git layer.
    #[error("git {during} on {url} failed")]
    Git {
        /// The repository's or server's URL.
        url: String,
        /// What was being done.
        during: &'static str,
        /// What the transport reported.
        #[source]
        source: Cause,
    },
    /// A symbolic link in the tree points outside of it.
    #[error("symlink {path:?} points outside the repository tree (target {target:?})")]
    SymlinkEscape {
        /// The path in the repository tree.
        path: String,
        /// Where it points.
        target: String,
    },
    /// A path in the tree would escape the artifact directory when unpacked.
    #[error("path {path:?} in the repository tree is unsafe")]
    UnsafePath {
        /// The path in the repository tree.
        path: String,
    },
    /// A file is bigger than the configured limit.
    #[error("file {path:?} is {size} bytes, over the limit of {limit} bytes")]
    FileTooLarge {
        /// The path in the repository tree.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An ignore pattern (spec `ignore` or a `.sourceignore` file) is invalid.
    #[error("invalid ignore pattern in {origin}")]
    IgnorePattern {
        /// Where it comes from.
        origin: String,
        /// The pattern parser's complaint.
        #[source]
        source: ignore::Error,
    },
    /// A `fromPath` or `toPath` of an include is absolute or climbs out of the artifact.
    #[error("{field} {path:?} {problem}")]
    InvalidIncludePath {
        /// The field, as written.
        field: String,
        /// The path in the repository tree.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The included artifact has nothing at `fromPath`.
    #[error("fromPath {from_path:?} not found in the artifact of {include}")]
    IncludeFromPathNotFound {
        /// The included repository.
        include: String,
        /// The `fromPath` asked for.
        from_path: String,
    },
    /// Reading an included artifact failed (the cause says how).
    #[error("cannot include the artifact of {include}")]
    Include {
        /// The included repository.
        include: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// A submodule's entry in `.gitmodules` is missing or unusable.
    #[error("submodule {path:?} {problem}")]
    SubmoduleConfig {
        /// The path in the repository tree.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Fetching or reading a submodule failed (the cause says how).
    #[error("cannot fetch submodule {path:?} from {url}")]
    Submodule {
        /// The path in the repository tree.
        path: String,
        /// The repository's or server's URL.
        url: String,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
    /// Reading or writing the storage directory failed.
    #[error("{action} {path:?} failed")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// The artifact on disk is not the one recorded.
    #[error("artifact {path:?} is corrupt: expected {expected}, found {actual}")]
    DigestMismatch {
        /// The file or directory.
        path: PathBuf,
        /// The digest recorded.
        expected: String,
        /// The digest of the bytes found.
        actual: String,
    },
    /// An artifact being unpacked exceeds one of the [`UnpackLimits`].
    ///
    /// [`UnpackLimits`]: crate::UnpackLimits
    #[error("artifact {origin} exceeds the limit of {limit} {what}")]
    ArchiveTooLarge {
        /// Where it comes from.
        origin: String,
        /// What the limit counts.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// An artifact holds an entry that is not a plain file or directory
    /// (a link, a device) or whose path leaves the artifact.
    #[error("artifact {origin} holds {path:?}, {problem}")]
    ArchiveEntry {
        /// Where it comes from.
        origin: String,
        /// The path in the repository tree.
        path: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl Error {
    /// What a person can do about it, one short line.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            Error::InvalidUrl { .. } => {
                "use an https://, http://, ssh://, git:// or file:// URL, or scp-like git@host:path"
            }
            Error::Unreachable { .. } => {
                "check the URL, that the server is up and that this host can reach it"
            }
            Error::Timeout { .. } => "raise spec.timeout, or check the server and the network",
            Error::AuthFailed { .. } => {
                "check the credentials in spec.secretRef (username/password, bearerToken or identity)"
            }
            Error::SshUserUnknown { .. } => {
                "run the controller as a UID its image defines (driftless's image defines 65532), or give this UID a passwd entry"
            }
            Error::HostKeyVerification { .. } => {
                "put the server's current host key in known_hosts of spec.secretRef (ssh-keyscan), after checking it"
            }
            Error::RepositoryNotFound { .. } => "check the repository path in spec.url",
            Error::RefNotFound { .. } => "check spec.ref: push the branch or tag, or fix the name",
            Error::InvalidSemver { .. } => "write the range like \">=1.0.0 <2.0.0\" or \"~1.2\"",
            Error::SemverNoMatch { .. } => "push a tag inside the range, or widen spec.ref.semver",
            Error::CommitNotFound { .. } => {
                "check spec.ref.commit: a full 40-character hash of a pushed commit"
            }
            Error::SymlinkEscape { .. } => {
                "make the link relative and inside the repository, or exclude it in spec.ignore"
            }
            Error::UnsafePath { .. } => "rename the path, or exclude it in spec.ignore",
            Error::FileTooLarge { .. } => {
                "exclude the file in spec.ignore or .sourceignore, or raise the controller's --git-max-file-size"
            }
            Error::IgnorePattern { .. } => "fix the pattern (gitignore syntax)",
            Error::DigestMismatch { .. } => "the artifact will be rebuilt on the next reconcile",
            Error::ArchiveTooLarge { .. } => {
                "make the source smaller (spec.ignore, or split it), or raise the controller's --artifact-max-* flags"
            }
            Error::ArchiveEntry { .. } => {
                "artifacts hold only files and directories inside them; rebuild the artifact without it"
            }
            Error::InvalidIncludePath { .. } => {
                "use a relative path inside the artifact, without `..`"
            }
            Error::IncludeFromPathNotFound { .. } => {
                "check fromPath against the files of the included repository's artifact"
            }
            Error::Include { source, .. } => return source.hint(),
            Error::SubmoduleConfig { .. } => {
                "fix .gitmodules (a network URL for each submodule path), or set spec.recurseSubmodules to false"
            }
            Error::Submodule { .. } => {
                "check the submodule's URL and that it is reachable; spec.secretRef is only sent to the server of spec.url"
            }
            Error::Git { .. } | Error::Io { .. } => return None,
        })
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
