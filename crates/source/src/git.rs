//! The git layer: the request type, reference resolution from the remote's
//! ref advertisement, and shallow fetches into a kept bare repository.
//!
//! One small interface (`resolve_and_fetch`) so the implementation (gitoxide
//! today) can be swapped or extended later. The write side (push, for image
//! automation, in `driftless-gitwrite`) reuses the pieces re-exported in
//! [`crate::transport`], so both directions connect, authenticate and report
//! errors the same way.
//!
//! Cost model: a poll that finds the reference where it was costs one
//! handshake plus `ls-refs`, no object transfer. A change fetches at depth 1
//! with the local repository's objects as haves, so only new objects travel.
//!
//! Everything here is blocking; callers on an async runtime use
//! `spawn_blocking`. The timeout is enforced by running the network part on a
//! helper thread and interrupting it; a server that never answers leaves that
//! thread blocked until the OS gives up on the socket.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use gix::ObjectId;
use gix::protocol::handshake::Ref;
use gix::remote::Direction;

use crate::{Cause, Error};

/// Which revision of the repository to track (Flux's `spec.ref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitReference {
    /// A branch, e.g. `main`.
    Branch(String),
    /// A tag, e.g. `v1.2.0`.
    Tag(String),
    /// The highest tag that is a semantic version inside the range, e.g. `>=1.0.0 <2.0.0`.
    Semver(String),
    /// Any full reference name, e.g. `refs/heads/main` or `refs/pull/42/head`.
    Name(String),
    /// A fixed commit (full hex hash); `branch` only names it in the revision.
    Commit {
        /// The full commit hash.
        sha: String,
        /// The branch the commit is on, for the revision.
        branch: Option<String>,
    },
}

impl Default for GitReference {
    /// Flux's default: the `master` branch.
    fn default() -> Self {
        GitReference::Branch("master".to_owned())
    }
}

impl std::fmt::Display for GitReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitReference::Branch(b) => write!(f, "branch {b:?}"),
            GitReference::Tag(t) => write!(f, "tag {t:?}"),
            GitReference::Semver(r) => write!(f, "semver range {r:?}"),
            GitReference::Name(n) => write!(f, "reference {n:?}"),
            GitReference::Commit { sha, .. } => write!(f, "commit {sha}"),
        }
    }
}

/// Credentials (Flux's `secretRef` contents).
#[derive(Clone, PartialEq, Eq)]
pub enum GitAuth {
    /// HTTP basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
    /// HTTP `Authorization: Bearer <token>`.
    Bearer(String),
    /// SSH private key (OpenSSH/PEM text) and the `known_hosts` lines the server key must match.
    Ssh {
        /// The private key, in OpenSSH format.
        identity: String,
        /// The server's host keys, in known_hosts format.
        known_hosts: String,
    },
}

impl std::fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitAuth::Basic { username, .. } => write!(
                f,
                "Basic {{ username: {username:?}, password: <redacted> }}"
            ),
            GitAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            GitAuth::Ssh { .. } => f.write_str("Ssh { identity: <redacted>, known_hosts }"),
        }
    }
}

/// A request to produce an artifact from a git repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// The repository's or server's URL.
    pub url: String,
    /// The reference as given (branch, tag or name).
    pub reference: GitReference,
    /// Credentials, when the repository needs them.
    pub auth: Option<GitAuth>,
    /// Extra ignore rules (gitignore syntax), applied after `.sourceignore` files.
    pub ignore: Option<String>,
    /// Limit for the network part of one reconcile (Flux's default is 60s).
    pub timeout: Duration,
    /// Stored artifacts copied into this one, in order (Flux's `spec.include`).
    pub includes: Vec<crate::Include>,
    /// Fetch submodules and archive their trees at their paths.
    pub recurse_submodules: bool,
}

impl GitSource {
    /// A request for `url` at `reference`, with no credentials and the defaults.
    pub fn new(url: impl Into<String>, reference: GitReference) -> Self {
        GitSource {
            url: url.into(),
            reference,
            auth: None,
            ignore: None,
            timeout: Duration::from_secs(60),
            includes: Vec::new(),
            recurse_submodules: false,
        }
    }
}

/// What the remote said about the tracked reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The commit asked for.
    pub commit: ObjectId,
    /// Flux's revision string.
    pub revision: String,
}

/// Outcome of [`resolve_and_fetch`].
pub(crate) enum Fetched {
    /// The reference resolves to `known`; nothing was transferred.
    Unchanged,
    /// The commit is in the local repository now.
    Ready(Resolved),
}

/// Resolve the reference; when it differs from `known_revision`, make sure
/// the commit is in the bare repository at `cache_dir`.
pub(crate) fn resolve_and_fetch(
    source: &GitSource,
    cache_dir: &std::path::Path,
    known_revision: Option<&str>,
) -> Result<Fetched, Error> {
    let interrupt = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let job_source = source.clone();
    let job_dir = cache_dir.to_owned();
    let job_known = known_revision.map(str::to_owned);
    let job_interrupt = Arc::clone(&interrupt);
    let spawned = std::thread::Builder::new()
        .name("driftless-git-fetch".to_owned())
        .spawn(move || {
            let result = run(&job_source, &job_dir, job_known.as_deref(), &job_interrupt);
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        return Err(Error::io("spawning git fetch thread for", cache_dir, e));
    }
    match rx.recv_timeout(source.timeout) {
        Ok(result) => result,
        Err(_) => {
            interrupt.store(true, Ordering::Relaxed);
            Err(Error::Timeout {
                url: source.url.clone(),
                timeout: source.timeout,
                during: "talking to the server",
            })
        }
    }
}

/// Fetch the commit `source.reference` names into the bare repository at
/// `repo_dir` (created when missing) at depth 1; returns the commit and
/// Flux's revision string for it (`main@sha1:<hash>`).
pub fn fetch_commit(
    source: &GitSource,
    repo_dir: &std::path::Path,
) -> Result<(ObjectId, String), Error> {
    match resolve_and_fetch(source, repo_dir, None)? {
        Fetched::Ready(resolved) => Ok((resolved.commit, resolved.revision)),
        // Without a known revision there is nothing to be unchanged against.
        Fetched::Unchanged => Err(Error::Git {
            url: source.url.clone(),
            during: "fetch",
            source: "unchanged without a known revision".into(),
        }),
    }
}

fn open_cache(url: &str, dir: &std::path::Path) -> Result<gix::Repository, Error> {
    let git = |source: gix::Error| Error::Git {
        url: url.to_owned(),
        during: "opening the local cache repository",
        source: Box::new(source),
    };
    if !dir.join("HEAD").exists() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating git cache", dir, e))?;
        gix::init_bare(dir).map_err(git)?;
    }
    remove_stale_locks(dir).map_err(|e| Error::io("removing stale lock files in", dir, e))?;
    gix::open_opts(dir, gix::open::Options::isolated()).map_err(git)
}

/// When this process first opened a kept repository: every lock file
/// older than that was left by an earlier process.
static FIRST_OPENED: std::sync::LazyLock<std::time::SystemTime> =
    std::sync::LazyLock::new(std::time::SystemTime::now);

/// Deletes the `*.lock` files an earlier process left in the kept
/// repository at `dir` (its top level and `refs/`). A controller killed
/// mid-fetch leaves them, and git refuses every later fetch while they
/// exist ("could not be obtained immediately"). Locks this process made
/// (a fetch still running on a thread a timeout gave up on) are newer and
/// stay.
fn remove_stale_locks(dir: &std::path::Path) -> std::io::Result<()> {
    let started = *FIRST_OPENED;
    let mut dirs = vec![dir.to_owned(), dir.join("refs")];
    while let Some(current) = dirs.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() && current != dir {
                dirs.push(path);
            } else if kind.is_file()
                && path.extension().is_some_and(|e| e == "lock")
                && entry.metadata()?.modified()? < started
            {
                tracing::warn!(lock = %path.display(), "removing a lock file an earlier process left");
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

fn refspec_for(reference: &GitReference) -> Option<String> {
    match reference {
        GitReference::Branch(b) => Some(format!("+refs/heads/{b}:refs/heads/{b}")),
        GitReference::Tag(t) => Some(format!("+refs/tags/{t}:refs/tags/{t}")),
        GitReference::Semver(_) => Some("+refs/tags/*:refs/tags/*".to_owned()),
        GitReference::Name(n) => Some(format!("+{n}:{n}")),
        GitReference::Commit { .. } => None,
    }
}

fn ref_target(r: &Ref) -> (&[u8], Option<ObjectId>) {
    match r {
        Ref::Peeled {
            full_ref_name,
            object,
            ..
        }
        | Ref::Direct {
            full_ref_name,
            object,
        }
        | Ref::Symbolic {
            full_ref_name,
            object,
            ..
        } => (full_ref_name.as_ref(), Some(*object)),
        Ref::Unborn { full_ref_name, .. } => (full_ref_name.as_ref(), None),
    }
}

/// Pick the commit for `reference` from the advertised refs.
pub(crate) fn pick(url: &str, reference: &GitReference, refs: &[Ref]) -> Result<Resolved, Error> {
    let find = |name: &str| {
        refs.iter()
            .map(ref_target)
            .find(|(n, _)| *n == name.as_bytes())
            .and_then(|(_, id)| id)
    };
    let not_found = || Error::RefNotFound {
        url: url.to_owned(),
        reference: reference.to_string(),
    };
    let resolved = |label: &str, commit: ObjectId| Resolved {
        commit,
        revision: format!("{label}@sha1:{commit}"),
    };
    match reference {
        GitReference::Branch(b) => find(&format!("refs/heads/{b}"))
            .map(|id| resolved(b, id))
            .ok_or_else(not_found),
        GitReference::Tag(t) => find(&format!("refs/tags/{t}"))
            .map(|id| resolved(t, id))
            .ok_or_else(not_found),
        GitReference::Name(n) => find(n).map(|id| resolved(n, id)).ok_or_else(not_found),
        GitReference::Semver(range) => {
            let req = driftless_semver::Constraint::parse(range).map_err(|source| {
                Error::InvalidSemver {
                    range: range.clone(),
                    source,
                }
            })?;
            let mut tags = 0;
            let mut versions = Vec::new();
            for (name, id) in refs.iter().map(ref_target) {
                let Some(tag) = name.strip_prefix(b"refs/tags/") else {
                    continue;
                };
                let (Ok(tag), Some(id)) = (std::str::from_utf8(tag), id) else {
                    continue;
                };
                tags += 1;
                // Flux reads tags strictly: `v1.2.3` or `1.2.3`, never `v1.2`.
                if let Some(version) = driftless_semver::Version::parse_strict(tag) {
                    versions.push((version, (tag.to_owned(), id)));
                }
            }
            driftless_semver::highest_match(&req, versions)
                .map(|(_, (tag, id))| resolved(&tag, id))
                .ok_or_else(|| Error::SemverNoMatch {
                    url: url.to_owned(),
                    range: range.clone(),
                    tags,
                })
        }
        GitReference::Commit { sha, branch } => {
            let commit = parse_commit(url, sha)?;
            Ok(match branch {
                Some(b) => resolved(b, commit),
                None => Resolved {
                    commit,
                    revision: format!("sha1:{commit}"),
                },
            })
        }
    }
}

fn parse_commit(url: &str, sha: &str) -> Result<ObjectId, Error> {
    let bad = || Error::CommitNotFound {
        url: url.to_owned(),
        commit: sha.to_owned(),
        source: Some("not a full 40-character hex object id".into()),
    };
    if sha.len() != 40 {
        return Err(bad());
    }
    ObjectId::from_hex(sha.as_bytes()).map_err(|_| bad())
}

/// Map a gix error to ours by its class, falling back to its text. Numbers
/// are only matched with their words around them: a port like 40153 must not
/// read as HTTP 401.
pub fn classify(url: &str, reference: &GitReference, during: &'static str, e: gix::Error) -> Error {
    use gix::error::Class;
    let text = format!("{e:?}").to_lowercase();
    let class = e.dominant_class();
    let url = url.to_owned();
    if text.contains("host key verification failed")
        || text.contains("remote host identification has changed")
    {
        return Error::HostKeyVerification {
            url,
            source: Some(Box::new(e)),
        };
    }
    let auth = matches!(
        class,
        Some(Class::Unauthenticated | Class::PermissionDenied)
    ) || text.contains("status 401")
        || text.contains("401 unauthorized")
        || text.contains("status 403")
        || text.contains("403 forbidden")
        || text.contains("authentication")
        || text.contains("permission denied (publickey");
    if auth {
        // We send the credentials up front and answer gitoxide's credential
        // callback with none; its text for a refused request then blames a
        // "credential helper", which misleads: say what happened instead.
        let source: Cause = if text.contains("no credentials were returned") {
            "the server refused the credentials sent (HTTP 401)".into()
        } else {
            Box::new(e)
        };
        return Error::AuthFailed {
            url,
            source: Some(source),
        };
    }
    if let GitReference::Commit { sha, .. } = reference {
        let missing = text.contains("not our ref")
            || text.contains("bad object")
            || text.contains("unadvertised object")
            || text.contains("no such object");
        if missing {
            return Error::CommitNotFound {
                url,
                commit: sha.clone(),
                source: Some(Box::new(e)),
            };
        }
    }
    let missing_repo = text.contains("no such repository")
        || text.contains("repository not found")
        || text.contains("does not appear to be a git repository")
        || text.contains("status 404")
        || text.contains("404 not found");
    if missing_repo {
        return Error::RepositoryNotFound {
            url,
            source: Some(Box::new(e)),
        };
    }
    let unreachable = text.contains("connection refused")
        || text.contains("could not resolve")
        || text.contains("failed to lookup address")
        || text.contains("connection reset")
        || text.contains("no route to host")
        || text.contains("error trying to connect")
        || text.contains("could not connect")
        || text.contains("failed to connect")
        || text.contains("connect error")
        || text.contains("io error occurred when talking to the server")
        || (text.contains("connect") && text.contains("os error"));
    if unreachable {
        return Error::Unreachable {
            url,
            source: Box::new(e),
        };
    }
    Error::Git {
        url,
        during,
        source: Box::new(e),
    }
}

/// The HTTP transport options for `source`: timeouts, user agent and the
/// `Authorization` header its credentials call for.
pub fn http_options(
    source: &GitSource,
) -> gix::protocol::transport::client::blocking_io::http::Options {
    let mut opts = gix::protocol::transport::client::blocking_io::http::Options {
        connect_timeout: Some(source.timeout),
        // Abort a transfer that stalls below 1 byte/s for the whole timeout.
        low_speed_limit_bytes_per_second: 1,
        low_speed_time_seconds: source.timeout.as_secs().max(1),
        user_agent: Some(format!("driftless/{}", env!("CARGO_PKG_VERSION"))),
        ..Default::default()
    };
    match &source.auth {
        Some(GitAuth::Basic { username, password }) => {
            let token = base64_encode(format!("{username}:{password}").as_bytes());
            opts.extra_headers
                .push(format!("Authorization: Basic {token}"));
        }
        Some(GitAuth::Bearer(token)) => opts
            .extra_headers
            .push(format!("Authorization: Bearer {token}")),
        Some(GitAuth::Ssh { .. }) | None => {}
    }
    opts
}

fn base64_encode(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// SSH: the system `ssh` program with the source's key and `known_hosts`
/// written to files beside the cache (removed again when dropped), strict
/// host key checking and no user configuration.
pub mod ssh {
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use crate::Error;

    /// The key and `known_hosts` files of one connection; removed on drop.
    pub struct Files(PathBuf);

    impl Files {
        /// Sharpen an error with what `ssh` printed (gix does not capture it).
        pub fn explain(&self, url: &str, err: Error) -> Error {
            let log = std::fs::read_to_string(self.0.join("stderr")).unwrap_or_default();
            let lower = log.to_lowercase();
            let cause = || -> Option<crate::Cause> {
                let last: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
                let tail = last[last.len().saturating_sub(3)..].join("; ");
                (!tail.is_empty()).then(|| format!("ssh: {tail}").into())
            };
            let url = url.to_owned();
            if lower.contains("no user exists for uid") {
                Error::SshUserUnknown {
                    url,
                    source: cause(),
                }
            } else if lower.contains("host key verification failed")
                || lower.contains("remote host identification has changed")
            {
                Error::HostKeyVerification {
                    url,
                    source: cause(),
                }
            } else if lower.contains("permission denied") {
                Error::AuthFailed {
                    url,
                    source: cause(),
                }
            } else if lower.contains("connection refused")
                || lower.contains("could not resolve")
                || lower.contains("connection timed out")
                || lower.contains("no route to host")
            {
                match cause() {
                    Some(source) => Error::Unreachable { url, source },
                    None => err,
                }
            } else {
                err
            }
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write_private(path: &Path, text: &str) -> Result<(), Error> {
        use std::io::Write;
        let mut text = text.to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::io("writing ssh credentials", path, e))
    }

    fn quote(path: &Path) -> String {
        format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
    }

    /// Write the key and `known_hosts` beside `cache_dir` and make `repo`'s
    /// in-memory configuration run `ssh` with them (strict host key checks).
    pub fn configure(
        repo: &mut gix::Repository,
        url: &str,
        cache_dir: &Path,
        identity: &str,
        known_hosts: &str,
        timeout: Duration,
    ) -> Result<Files, Error> {
        let dir = cache_dir.with_extension("ssh");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating ssh directory", &dir, e))?;
        let files = Files(dir.clone());
        let id = dir.join("identity");
        let kh = dir.join("known_hosts");
        write_private(&id, identity)?;
        write_private(&kh, known_hosts)?;
        let command = format!(
            "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null \
             -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout={} \"$@\" 2>>{}",
            quote(&id),
            quote(&kh),
            timeout.as_secs().max(1),
            quote(&dir.join("stderr")),
        );
        let git = |source: gix::Error| Error::Git {
            url: url.to_owned(),
            during: "configuring ssh",
            source: Box::new(source),
        };
        let mut config = repo.config_snapshot_mut();
        config
            .set_value(&gix::config::tree::Core::SSH_COMMAND, command.as_str())
            .map_err(git)?;
        config
            .set_value(&gix::config::tree::Ssh::VARIANT, "ssh")
            .map_err(git)?;
        config.commit().map_err(git)?;
        Ok(files)
    }

    #[cfg(test)]
    mod tests {
        use super::Files;
        use crate::Error;

        /// What OpenSSH's client prints, and exits on, when its UID has no
        /// passwd entry (a container run as a bare UID).
        #[test]
        fn ssh_without_a_passwd_entry_is_named_with_what_to_do() {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("stderr"), "No user exists for uid 65532\n")
                .expect("stderr written");
            let files = Files(dir.path().to_path_buf());
            let url = "ssh://git@example.test/repo.git";
            let not_found = Error::RepositoryNotFound {
                url: url.into(),
                source: None,
            };
            let error = files.explain(url, not_found);
            assert!(matches!(error, Error::SshUserUnknown { .. }), "{error}");
            assert!(error.to_string().contains(url), "{error}");
            assert!(error.hint().expect("a hint").contains("65532"));
        }
    }
}

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

fn run(
    source: &GitSource,
    cache_dir: &std::path::Path,
    known_revision: Option<&str>,
    interrupt: &AtomicBool,
) -> Result<Fetched, Error> {
    crate::install_crypto_provider();
    let url = source.url.as_str();
    let mut repo = open_cache(url, cache_dir)?;
    let ssh_files = match &source.auth {
        Some(GitAuth::Ssh {
            identity,
            known_hosts,
        }) => Some(ssh::configure(
            &mut repo,
            url,
            cache_dir,
            identity,
            known_hosts,
            source.timeout,
        )?),
        _ => None,
    };
    let result = run_with(source, &repo, known_revision, interrupt);
    match (result, ssh_files) {
        (Err(e), Some(files)) => Err(files.explain(url, e)),
        (result, _) => result,
    }
}

fn run_with(
    source: &GitSource,
    repo: &gix::Repository,
    known_revision: Option<&str>,
    interrupt: &AtomicBool,
) -> Result<Fetched, Error> {
    let url = source.url.as_str();
    let invalid_url = |e: gix::Error| Error::InvalidUrl {
        url: url.to_owned(),
        source: Some(Box::new(e)),
    };

    // A fixed commit needs no advertisement: it cannot move.
    if let GitReference::Commit { .. } = &source.reference {
        let resolved = pick(url, &source.reference, &[])?;
        if known_revision == Some(resolved.revision.as_str()) {
            return Ok(Fetched::Unchanged);
        }
        if repo.has_object(resolved.commit) {
            return Ok(Fetched::Ready(resolved));
        }
        let spec = format!("{}", resolved.commit);
        fetch_specs(source, repo, &[spec], interrupt)?;
        if !repo.has_object(resolved.commit) {
            return Err(Error::CommitNotFound {
                url: url.to_owned(),
                commit: resolved.commit.to_string(),
                source: None,
            });
        }
        return Ok(Fetched::Ready(resolved));
    }

    let spec = refspec_for(&source.reference).ok_or_else(|| Error::InvalidUrl {
        url: url.to_owned(),
        source: None,
    })?;
    let remote = repo
        .remote_at(url)
        .map_err(invalid_url)?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs([spec.as_str()], Direction::Fetch)
        .map_err(invalid_url)?;
    let mut connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| classify(url, &source.reference, "connect", e))?;
    configure(source, &mut connection);
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| classify(url, &source.reference, "ref listing", e))?;
    let resolved = pick(url, &source.reference, &prepare.ref_map().remote_refs)?;
    if known_revision == Some(resolved.revision.as_str()) {
        // Dropping `prepare` ends the conversation: no objects were requested.
        return Ok(Fetched::Unchanged);
    }
    if repo.has_object(resolved.commit) {
        return Ok(Fetched::Ready(resolved));
    }
    match &source.reference {
        GitReference::Semver(_) => {
            // Fetch only the chosen tag, not every tag the listing matched.
            drop(prepare);
            let tag = resolved.revision.split('@').next().unwrap_or_default();
            let spec = format!("+refs/tags/{tag}:refs/tags/{tag}");
            fetch_specs(source, repo, &[spec], interrupt)?;
        }
        _ => {
            receive(prepare, source, interrupt)?;
        }
    }
    if !repo.has_object(resolved.commit) {
        // The reference moved between listing and fetching; the next poll catches up.
        return Err(Error::Git {
            url: url.to_owned(),
            during: "fetch",
            source: format!("{} moved while fetching; will retry", source.reference).into(),
        });
    }
    Ok(Fetched::Ready(resolved))
}

type Prepare<'a, 'r> = gix::remote::fetch::Prepare<
    'a,
    'r,
    Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
>;

fn receive(
    prepare: Prepare<'_, '_>,
    source: &GitSource,
    interrupt: &AtomicBool,
) -> Result<(), Error> {
    let depth = std::num::NonZeroU32::MIN;
    prepare
        .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth))
        .with_write_packed_refs_only(true)
        .receive(gix::progress::Discard, interrupt)
        .map_err(|e| classify(&source.url, &source.reference, "fetch", e))?;
    Ok(())
}

fn configure(
    source: &GitSource,
    connection: &mut gix::remote::Connection<
        '_,
        '_,
        '_,
        Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
    >,
) {
    if is_http(&source.url) {
        connection.set_transport_options(Box::new(http_options(source)));
    }
    // Never ask a terminal or a credential helper.
    connection.set_credentials(|_action| Ok(None));
}

fn fetch_specs(
    source: &GitSource,
    repo: &gix::Repository,
    specs: &[String],
    interrupt: &AtomicBool,
) -> Result<(), Error> {
    let url = source.url.as_str();
    let invalid_url = |e: gix::Error| Error::InvalidUrl {
        url: url.to_owned(),
        source: Some(Box::new(e)),
    };
    let remote = repo
        .remote_at(url)
        .map_err(invalid_url)?
        .with_fetch_tags(gix::remote::fetch::Tags::None)
        .with_refspecs(specs.iter().map(String::as_str), Direction::Fetch)
        .map_err(invalid_url)?;
    let mut connection = remote
        .connect(Direction::Fetch)
        .map_err(|e| classify(url, &source.reference, "connect", e))?;
    configure(source, &mut connection);
    let prepare = connection
        .prepare_fetch(gix::progress::Discard, Default::default())
        .map_err(|e| classify(url, &source.reference, "ref listing", e))?;
    receive(prepare, source, interrupt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn revision_formats() {
        let id = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").expect("hex");
        let refs = vec![
            Ref::Direct {
                full_ref_name: "refs/heads/main".into(),
                object: id,
            },
            Ref::Direct {
                full_ref_name: "refs/tags/v1.2.0".into(),
                object: id,
            },
            Ref::Direct {
                full_ref_name: "refs/tags/v1.10.0".into(),
                object: id,
            },
            Ref::Direct {
                full_ref_name: "refs/tags/v2.0.0-rc.1".into(),
                object: id,
            },
        ];
        let r = |reference| pick("git://x", &reference, &refs).map(|r| r.revision);
        let h = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            r(GitReference::Branch("main".into())).expect("branch"),
            format!("main@sha1:{h}")
        );
        assert_eq!(
            r(GitReference::Tag("v1.2.0".into())).expect("tag"),
            format!("v1.2.0@sha1:{h}")
        );
        assert_eq!(
            r(GitReference::Name("refs/heads/main".into())).expect("name"),
            format!("refs/heads/main@sha1:{h}")
        );
        assert_eq!(
            r(GitReference::Semver(">=1.0.0 <2.0.0".into())).expect("semver"),
            format!("v1.10.0@sha1:{h}")
        );
        assert_eq!(
            r(GitReference::Commit {
                sha: h.into(),
                branch: None
            })
            .expect("commit"),
            format!("sha1:{h}")
        );
        assert!(matches!(
            r(GitReference::Branch("nope".into())),
            Err(Error::RefNotFound { .. })
        ));
        assert!(matches!(
            r(GitReference::Semver(">=3".into())),
            Err(Error::SemverNoMatch { tags: 3, .. })
        ));
        assert!(matches!(
            r(GitReference::Commit {
                sha: "abc".into(),
                branch: None
            }),
            Err(Error::CommitNotFound { .. })
        ));
    }
}
