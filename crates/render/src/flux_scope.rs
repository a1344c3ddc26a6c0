//! What one Flux build reads differently from `kubectl kustomize`: where
//! its kustomizations may read files, and which files it reads from memory.
//!
//! `kubectl kustomize` runs Kustomize's default load restrictor
//! (`LoadRestrictionsRootOnly`): a file (a resource file, a patch, a
//! generator source, an openapi schema…) must sit in or below the directory
//! of the kustomization that names it. Flux's kustomize-controller builds
//! with `LoadRestrictionsNone` on a filesystem rooted at the source, so a
//! kustomization may name `../common/patch.yaml` as long as the file stays
//! inside the repository; existing Flux repositories rely on that. The
//! decrypted files ([`FileOverrides`]) are the other difference.
//!
//! Both are installed for the length of one build on the building thread
//! (a build is synchronous and never spawns threads), so the loader's many
//! file reads need no extra parameter.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::overrides::FileOverrides;

/// The context of one Flux build.
pub(crate) struct FluxScope {
    /// Reads are allowed anywhere inside this directory.
    pub source_root: PathBuf,
    /// Files served from memory instead of from disk.
    pub overrides: FileOverrides,
}

thread_local! {
    static ACTIVE: RefCell<Option<Arc<FluxScope>>> = const { RefCell::new(None) };
}

/// Runs `build` inside `scope`, restoring the previous scope afterwards
/// (also when `build` panics).
pub(crate) fn scoped<T>(scope: FluxScope, build: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<FluxScope>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ACTIVE.with(|active| *active.borrow_mut() = previous);
        }
    }
    let previous = ACTIVE.with(|active| active.borrow_mut().replace(Arc::new(scope)));
    let _restore = Restore(previous);
    build()
}

/// The scope in force on this thread, if a Flux build is running.
pub(crate) fn current() -> Option<Arc<FluxScope>> {
    ACTIVE.with(|active| active.borrow().clone())
}

/// The directory the files named by the kustomization in `dir` must stay in.
pub(crate) fn for_files_of(dir: &Path) -> PathBuf {
    current().map_or_else(|| dir.to_owned(), |scope| scope.source_root.clone())
}
