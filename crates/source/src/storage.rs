//! The storage directory: content-addressed artifacts, verify-on-read and
//! garbage collection. Also hosts the per-source git caches.
//!
//! Layout under the root:
//!
//! ```text
//! <kind>/<namespace>/<name>/<sha256-hex>.tar.gz   git artifacts (content-addressed)
//! helmrepository/<namespace>/<name>/index-<revision-hex>.yaml   Helm indexes (Flux's names)
//! helmchart/<namespace>/<name>/<chart>-<version>.tgz   Helm charts (Flux's names)
//! .git-cache/<kind>/<namespace>/<name>/<url-hash>.git   bare repositories kept for incremental fetches
//! ```
//!
//! Files are written to a temporary name in the same directory and renamed
//! into place, so a reader never sees half an artifact. Owns nothing else on
//! disk; serving artifacts over HTTP is the controller's job.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::Error;

/// Names the object an artifact belongs to, e.g. `gitrepository/flux-system/podinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactKey {
    /// Lower-case kind, e.g. `gitrepository`.
    pub kind: String,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ArtifactKey {
    /// The key of the artifacts of `kind` `namespace/name`.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        ArtifactKey {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// A key for a `GitRepository`.
    pub fn git_repository(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new("gitrepository", namespace, name)
    }

    /// A key for a `HelmRepository`.
    pub fn helm_repository(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new("helmrepository", namespace, name)
    }

    /// A key for a `HelmChart`.
    pub fn helm_chart(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self::new("helmchart", namespace, name)
    }

    /// The relative directory, checked so that no part can climb out of the root.
    fn rel_dir(&self) -> Result<String, Error> {
        for part in [&self.kind, &self.namespace, &self.name] {
            let bad = part.is_empty()
                || part == "."
                || part == ".."
                || part.starts_with('.')
                || part.contains(['/', '\\', '\0']);
            if bad {
                return Err(Error::UnsafePath { path: part.clone() });
            }
        }
        Ok(format!("{}/{}/{}", self.kind, self.namespace, self.name))
    }
}

impl std::fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// A stored tarball of a source at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the storage root, `/`-separated.
    pub path: String,
    /// Flux's revision form, e.g. `main@sha1:<hash>`, `v1.2.0@sha1:<hash>`, `sha1:<hash>`.
    pub revision: String,
    /// `sha256:<hex>` of the tarball bytes.
    pub digest: String,
    /// Size of the tarball in bytes.
    pub size: u64,
    /// When it was stored.
    pub last_update_time: OffsetDateTime,
}

/// The storage directory.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The directory it must stay in.
    root: PathBuf,
}

impl Storage {
    /// Use (and create if needed) `root` as the storage directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| Error::io("creating storage directory", &root, e))?;
        Ok(Storage { root })
    }

    /// The storage directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of an artifact's tarball.
    pub fn local_path(&self, artifact: &Artifact) -> PathBuf {
        self.root.join(&artifact.path)
    }

    /// True when the artifact's file is present with the recorded size (cheap; no hashing).
    pub fn looks_present(&self, artifact: &Artifact) -> bool {
        fs::metadata(self.local_path(artifact))
            .is_ok_and(|m| m.is_file() && m.len() == artifact.size)
    }

    /// Directory of the kept bare repository for `key` fetching from `url`.
    pub(crate) fn git_cache_dir(&self, key: &ArtifactKey, url: &str) -> Result<PathBuf, Error> {
        let hash = hex::encode(Sha256::digest(url.as_bytes()));
        Ok(self
            .root
            .join(".git-cache")
            .join(key.rel_dir()?)
            .join(format!("{}.git", &hash[..16])))
    }

    /// Store a tarball produced by `write` under `key`, content-addressed by its digest.
    pub(crate) fn store(
        &self,
        key: &ArtifactKey,
        revision: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<Artifact, Error> {
        self.store_named(key, revision, |hex| format!("{hex}.tar.gz"), write)
    }

    /// Stores `tarball` (an archive packed by this crate, e.g. with
    /// [`pack_directory`](crate::oci::pack_directory)) under `key`,
    /// content-addressed; `revision` is given the tarball's `sha256:`
    /// digest, for revisions that name it (`latest@sha256:<hex>`).
    pub fn store_tarball(
        &self,
        key: &ArtifactKey,
        revision: impl FnOnce(&str) -> String,
        tarball: &[u8],
    ) -> Result<Artifact, Error> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(tarball)));
        self.store(key, &revision(&digest), |out| {
            out.write_all(tarball)
                .map_err(|e| Error::io("writing", key.to_string(), e))
        })
    }

    /// Store what `write` produces under `key`, in the file `name` gives for
    /// the content's sha256 hex (Flux's names: `index-<hex>.yaml`,
    /// `<chart>-<version>.tgz`). A file of that name is replaced atomically.
    pub(crate) fn store_named(
        &self,
        key: &ArtifactKey,
        revision: &str,
        name: impl FnOnce(&str) -> String,
        write: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<Artifact, Error> {
        let rel_dir = key.rel_dir()?;
        let dir = self.root.join(&rel_dir);
        fs::create_dir_all(&dir).map_err(|e| Error::io("creating artifact directory", &dir, e))?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        let file = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        let mut out = HashingWriter {
            inner: io::BufWriter::new(file),
            hasher: Sha256::new(),
            size: 0,
        };
        let written = write(&mut out).and_then(|()| {
            out.inner
                .flush()
                .and_then(|()| out.inner.get_ref().sync_all())
                .map_err(|e| Error::io("writing", &tmp, e))
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let hex_digest = hex::encode(out.hasher.finalize());
        let file_name = name(&hex_digest);
        if file_name.is_empty()
            || file_name.starts_with('.')
            || file_name.contains(['/', '\\', '\0'])
        {
            let _ = fs::remove_file(&tmp);
            return Err(Error::UnsafePath { path: file_name });
        }
        let target = dir.join(&file_name);
        fs::rename(&tmp, &target).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("renaming artifact into", &target, e)
        })?;
        Ok(Artifact {
            path: format!("{rel_dir}/{file_name}"),
            revision: revision.to_owned(),
            digest: format!("sha256:{hex_digest}"),
            size: out.size,
            last_update_time: OffsetDateTime::now_utc(),
        })
    }

    /// Open an artifact after checking its size and digest; the file is at offset 0.
    pub fn open_verified(&self, artifact: &Artifact) -> Result<File, Error> {
        let path = self.local_path(artifact);
        let mut file = File::open(&path).map_err(|e| Error::io("opening artifact", &path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::io("reading artifact", &path, e))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != artifact.digest || size != artifact.size {
            return Err(Error::DigestMismatch {
                path,
                expected: format!("{} ({} bytes)", artifact.digest, artifact.size),
                actual: format!("{actual} ({size} bytes)"),
            });
        }
        file.rewind()
            .map_err(|e| Error::io("rewinding artifact", &path, e))?;
        Ok(file)
    }

    /// Remove every artifact and the git cache of `key` (its object was deleted).
    pub fn remove_all(&self, key: &ArtifactKey) -> Result<(), Error> {
        let rel_dir = key.rel_dir()?;
        for dir in [
            self.root.join(&rel_dir),
            self.root.join(".git-cache").join(&rel_dir),
        ] {
            match fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(Error::io("removing", &dir, e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Remove all but the newest `keep` artifacts of `key` (by modification
    /// time), never removing `current`. Returns the removed paths.
    pub fn gc(
        &self,
        key: &ArtifactKey,
        keep: usize,
        current: &Artifact,
    ) -> Result<Vec<PathBuf>, Error> {
        let dir = self.root.join(key.rel_dir()?);
        let current = self.local_path(current);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", &dir, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
            let path = entry.path();
            // Every visible file is an artifact; temporary files start with a dot.
            let is_artifact = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'));
            if !is_artifact || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .map_err(|e| Error::io("reading metadata of", &path, e))?;
            found.push((modified, path));
        }
        // Newest first; the name breaks ties so the order is stable.
        found.sort_by(|a, b| b.cmp(a));
        let mut removed = Vec::new();
        let mut kept = usize::from(found.iter().any(|(_, p)| *p == current));
        for (_, path) in found {
            if path == current {
                continue;
            }
            if kept < keep {
                kept += 1;
                continue;
            }
            fs::remove_file(&path).map_err(|e| Error::io("removing old artifact", &path, e))?;
            removed.push(path);
        }
        Ok(removed)
    }
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    /// Its size in bytes.
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_bytes(storage: &Storage, key: &ArtifactKey, bytes: &[u8]) -> Artifact {
        storage
            .store(key, "main@sha1:0", |w| {
                w.write_all(bytes)
                    .map_err(|e| Error::io("writing", "test", e))
            })
            .expect("store")
    }

    #[test]
    fn content_addressed_and_verified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::new(dir.path()).expect("storage");
        let key = ArtifactKey::git_repository("ns", "app");
        let a = store_bytes(&storage, &key, b"hello");
        assert_eq!(
            a.digest,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(
            a.path,
            "gitrepository/ns/app/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.tar.gz"
        );
        let mut s = String::new();
        storage
            .open_verified(&a)
            .expect("verified")
            .read_to_string(&mut s)
            .expect("read");
        assert_eq!(s, "hello");

        fs::write(storage.local_path(&a), b"hellp").expect("tamper");
        let err = storage.open_verified(&a).expect_err("tampered");
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    }

    #[test]
    fn tarballs_are_stored_with_a_revision_naming_their_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::new(dir.path()).expect("storage");
        let key = ArtifactKey::new("externalartifact", "ns", "app");
        let a = storage
            .store_tarball(&key, |digest| format!("latest@{digest}"), b"hello")
            .expect("stored");
        assert_eq!(a.revision, format!("latest@{}", a.digest));
        assert!(a.path.starts_with("externalartifact/ns/app/"));
        assert!(storage.open_verified(&a).is_ok());
    }

    #[test]
    fn gc_keeps_newest_and_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::new(dir.path()).expect("storage");
        let key = ArtifactKey::git_repository("ns", "app");
        let mut all = Vec::new();
        for i in 0..4u8 {
            let a = store_bytes(&storage, &key, &[i]);
            let t = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1000 + u64::from(i));
            File::options()
                .write(true)
                .open(storage.local_path(&a))
                .and_then(|f| f.set_modified(t))
                .expect("set mtime");
            all.push(a);
        }
        // Current is the oldest one (e.g. a rollback): it survives, plus the newest other.
        let removed = storage.gc(&key, 2, &all[0]).expect("gc");
        assert_eq!(removed.len(), 2);
        assert!(storage.looks_present(&all[0]));
        assert!(storage.looks_present(&all[3]));
        assert!(!storage.looks_present(&all[1]));
        assert!(!storage.looks_present(&all[2]));
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = Storage::new(dir.path()).expect("storage");
        let key = ArtifactKey::git_repository("..", "app");
        let err = storage.store(&key, "r", |_| Ok(())).expect_err("unsafe");
        assert!(matches!(err, Error::UnsafePath { .. }));
    }
}
