//! Files a build reads from memory instead of from the source: the
//! cleartext of encrypted `secretGenerator` sources and patch files, which
//! the decrypt stage hands over so that cleartext never touches disk
//! (Flux's kustomize-controller decrypts those files in place before its
//! build; we keep the source read-only).
//!
//! The overrides are installed with the rest of a Flux build's context
//! ([`crate::flux_scope`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::BuildError;
use crate::kustomization::clean;

/// Cleartext file contents by path, for one build. Prints no content.
#[derive(Clone, Default, PartialEq)]
pub struct FileOverrides(BTreeMap<PathBuf, Arc<[u8]>>);

impl std::fmt::Debug for FileOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileOverrides({} files, <redacted>)", self.0.len())
    }
}

impl FileOverrides {
    /// Serves `bytes` for reads of `path` (an absolute path in the source).
    pub fn insert(&mut self, path: &Path, bytes: Vec<u8>) {
        self.0.insert(clean(path), bytes.into());
    }

    /// Whether `path` is overridden.
    pub fn contains(&self, path: &Path) -> bool {
        self.0.contains_key(&clean(path))
    }

    /// How many files are overridden.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads `path`, from the overrides when it is there, else from disk
/// within the manifest bound.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, BuildError> {
    let overridden =
        crate::flux_scope::current().and_then(|scope| scope.overrides.0.get(&clean(path)).cloned());
    match overridden {
        Some(bytes) => Ok(bytes.to_vec()),
        None => read_disk(path),
    }
}

/// Reads `path` as text, from the overrides when it is there.
pub(crate) fn read_to_string(path: &Path) -> Result<String, BuildError> {
    String::from_utf8(read(path)?).map_err(|e| BuildError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Reads `path` from disk as text, within the manifest bound.
pub(crate) fn read_disk_to_string(path: &Path) -> Result<String, BuildError> {
    String::from_utf8(read_disk(path)?).map_err(|e| BuildError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Reads `path` from disk, refusing a file over
/// [`driftless_limits::Limits::manifest_file_bytes`] before reading it (and
/// reading no further than the bound, should it grow meanwhile), so a
/// hostile 200 MB file costs no memory.
fn read_disk(path: &Path) -> Result<Vec<u8>, BuildError> {
    read_disk_within(path, driftless_limits::current().manifest_file_bytes)
}

fn read_disk_within(path: &Path, limit: u64) -> Result<Vec<u8>, BuildError> {
    use std::io::Read as _;
    let io = |source| BuildError::Read {
        path: path.to_owned(),
        source,
    };
    let too_large = |size| BuildError::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_bound_is_refused_unread_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.yaml");
        // Sparse: a file this size that was read would show in memory.
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(1 << 32))
            .expect("a sparse file");
        let error = read_disk_within(&path, 1 << 20).expect_err("refused");
        assert!(
            matches!(error, BuildError::TooLarge { size, limit, .. } if size == 1 << 32 && limit == 1 << 20),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("big.yaml"), "{message}");
        assert!(message.contains("--manifest-max-file-size"), "{message}");
        std::fs::write(&path, "x: 1\n").expect("write");
        assert_eq!(read_disk_within(&path, 5).expect("at the bound"), b"x: 1\n");
        assert!(read_disk_within(&path, 4).is_err(), "one byte over");
    }
}
