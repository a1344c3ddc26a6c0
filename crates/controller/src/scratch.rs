//! Working directories of a reconcile: an unpacked artifact, a
//! post-render tree, a generator's staging tree.
//!
//! They live under `<storage>/.scratch`, never in the system temp dir: the
//! installed Deployment runs with a read-only root filesystem and writes
//! only to its storage volume. The artifact server never serves them (it
//! refuses dot-prefixed paths). A controller killed mid-reconcile cannot
//! remove its directories, so each start empties the tree first; the
//! storage directory belongs to one controller, so nothing else's work is
//! lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where this controller's working directories are made.
#[derive(Clone, Debug)]
pub(crate) struct Scratch(Arc<PathBuf>);

impl Scratch {
    /// `<storage>/.scratch`, emptied of what an earlier run left.
    pub(crate) fn prepare(storage: &Path) -> std::io::Result<Scratch> {
        let root = storage.join(".scratch");
        match std::fs::remove_dir_all(&root) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&root)?;
        Ok(Scratch(Arc::new(root)))
    }

    /// A fresh directory named `<prefix>XXXXXX`, removed when dropped.
    pub(crate) fn dir(&self, prefix: &str) -> std::io::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(self.path())
    }

    /// The tree's root.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn a_start_removes_what_a_killed_run_left_and_drops_remove_their_dirs() {
        let storage = tempfile::tempdir().expect("tempdir");
        let left = storage.path().join(".scratch/artifact-old/apps");
        std::fs::create_dir_all(&left).expect("an earlier run's leftovers");
        let scratch = Scratch::prepare(storage.path()).expect("prepares");
        assert!(!left.exists(), "leftovers are removed");
        let dir = scratch.dir("artifact-").expect("a working dir");
        assert!(dir.path().starts_with(storage.path().join(".scratch")));
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists(), "a dropped working dir is removed");
    }
}
