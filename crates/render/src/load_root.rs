//! Where a build may read the files its kustomizations name.
//!
//! `kubectl kustomize` runs Kustomize's default load restrictor
//! (`LoadRestrictionsRootOnly`): a file (a resource file, a patch, a
//! generator source, an openapi schema…) must sit in or below the directory
//! of the kustomization that names it. Flux's kustomize-controller builds
//! with `LoadRestrictionsNone` on a filesystem rooted at the source, so a
//! kustomization may name `../common/patch.yaml` as long as the file stays
//! inside the repository; existing Flux repositories rely on that. The
//! Flux build installs the source root here for the length of one build on
//! the building thread (a build is synchronous and never spawns threads),
//! the same way the decrypted file overrides are installed.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

thread_local! {
    static SOURCE_ROOT: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// Runs `build` with file reads allowed anywhere inside `source_root`.
pub(crate) fn scoped<T>(source_root: &Path, build: impl FnOnce() -> T) -> T {
    struct Restore(Option<PathBuf>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            SOURCE_ROOT.with(|root| *root.borrow_mut() = previous);
        }
    }
    let previous = SOURCE_ROOT.with(|root| root.borrow_mut().replace(source_root.to_owned()));
    let _restore = Restore(previous);
    build()
}

/// The directory the files named by the kustomization in `dir` must stay in.
pub(crate) fn for_files_of(dir: &Path) -> PathBuf {
    SOURCE_ROOT
        .with(|root| root.borrow().clone())
        .unwrap_or_else(|| dir.to_owned())
}
