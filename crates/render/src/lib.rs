//! Rendering: a directory in, an ordered stream of Kubernetes objects out.
//!
//! This crate is a native Kustomize renderer. [`build`] prints, byte for
//! byte, what `kubectl kustomize <dir>` (Kustomize v5.5.0) prints for the
//! same directory, and [`substitute`] is Flux's post-build variable step.
//!
//! # Why our own renderer
//! - **Exact output control.** Kustomize's bytes come from go-yaml's emitter
//!   (sorted keys, go-yaml quoting, 80-column folding, block scalars). No
//!   Rust YAML serializer prints that, so [`yaml`] carries its own emitter.
//! - **No subprocess.** Shelling out to `kustomize` means a binary to ship,
//!   a process per build and errors scraped from stderr.
//! - **Speed.** Kustomize's cost grows faster than linearly with the number
//!   of objects; this pipeline stays linear-ish in-process.
//!
//! # What it must not do
//! No network (a URL in `resources` is an error), no reading outside the
//! kustomization that names a file (Kustomize's root-only load restrictor),
//! no plugins or exec. A field we do not implement is an error naming the
//! field and the file, never silently ignored.
//!
//! # Flux extras
//! A directory without a `kustomization.yaml` renders every manifest below
//! it, as Flux's generator does.
//!
//! ```no_run
//! let yaml = driftless_render::build(std::path::Path::new("deploy/overlays/prod"))?;
//! print!("{yaml}");
//! # Ok::<(), driftless_render::BuildError>(())
//! ```
//!
//! # Supported
//! `resources` (files, directories, nested kustomizations), `components`,
//! `namespace`, `namePrefix`/`nameSuffix`, `labels`, `commonLabels`,
//! `commonAnnotations`, `images`, `replicas`, `patches`,
//! `patchesStrategicMerge`, `patchesJson6902`, `configMapGenerator`,
//! `secretGenerator`, `generatorOptions`, `replacements`, `vars`, `crds`,
//! `configurations`, `openapi` (path), `sortOptions`,
//! `buildMetadata: [originAnnotations]`, and `generators`/`transformers`
//! limited to Kustomize's built-in plugins.
//!
//! # Known differences
//! `buildMetadata: [transformerAnnotations]` is refused with an error; see
//! `tests/known-failing.txt` for the conformance cases we do not match.

mod build;
mod builtins;
mod error;
mod generate;
mod hash;
mod nameref;
mod patch;
mod replace;
mod resource;
mod substitute;
mod transform;
mod vars;
pub mod yaml;

pub use error::{BuildError, SubstituteError, YamlError};
pub use substitute::{DISABLE_ANNOTATION, substitute};

/// The kustomization.yaml Flux's generator writes into a directory that has
/// none (every manifest below it as a resource), or `None` when `dir` has
/// its own. For overlays that must name such a directory as a resource.
pub fn generated_kustomization(dir: &std::path::Path) -> Result<Option<String>, BuildError> {
    build::generated_kustomization(dir)
}

/// Builds `dir` and returns the YAML stream `kubectl kustomize dir` prints.
pub fn build(dir: &std::path::Path) -> Result<String, BuildError> {
    build::build(dir)
}
