//! Rendering: a directory in, an ordered stream of Kubernetes objects out.
//!
//! This crate is a native Kustomize renderer. [`build`] prints, byte for
//! byte, what `kubectl kustomize <dir>` (Kustomize v5.5.0) prints for the
//! same directory, and refuses what it refuses; [`build_as`] follows
//! Kustomize v5.8.1 instead where the releases differ ([`KustomizeVersion`]
//! lists where). [`substitute`] is Flux's post-build variable step.
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
//! kustomization that names a file (Kustomize's root-only load restrictor;
//! Flux builds read anywhere inside the source, as Flux's do),
//! no plugins or exec. A field we do not implement is an error naming the
//! field and the file, never silently ignored.
//!
//! # Flux extras
//! With [`build_with_flux_fallback`], a directory without a
//! `kustomization.yaml` renders every manifest below it, as Flux's
//! generator does ([`build`] refuses it, as Kustomize does). [`build_flux`]
//! is Flux's whole kustomize-controller build as one typed request
//! ([`FluxBuild`]: the path, the Kustomization's overlay fields, post-build
//! substitution and common metadata), shared by the controller and the
//! CLI; it follows Kustomize v5.8.1, as Flux's newest controller does, and
//! writes nothing.
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
//! `configurations`, `openapi` (`path` or `version`), `sortOptions`,
//! `buildMetadata` (`originAnnotations`, `transformerAnnotations`,
//! `managedByLabel`), and `generators`/`transformers` limited to
//! Kustomize's built-in plugins.
//!
//! # Known differences
//! See `tests/known-failing.txt` for the conformance cases we do not match.

mod accumulator;
mod build;
mod builtins;
mod error;
mod fieldspec;
mod flux;
mod flux_scope;
mod generate;
mod hash;
mod kustomization;
mod nameref;
mod openapi;
mod overrides;
mod patch;
mod replace;
mod resource;
mod substitute;
mod transform;
mod vars;
mod version;
pub mod yaml;

pub use error::{BuildError, SubstituteError, YamlError};
pub use flux::{
    CommonMetadata, FluxBuild, FluxBuildError, FluxPatch, ImageOverride, ObjectHook, PatchTarget,
    build_flux, build_flux_with, to_json,
};
pub use overrides::FileOverrides;
pub use substitute::{DISABLE_ANNOTATION, substitute};
pub use version::KustomizeVersion;

/// Builds `dir` and returns the YAML stream `kubectl kustomize dir` prints;
/// fails where it fails (a directory without a kustomization file too).
pub fn build(dir: &std::path::Path) -> Result<String, BuildError> {
    build::build(dir)
}

/// Like [`build`], following the given Kustomize release where releases
/// differ (see [`KustomizeVersion`]); [`build`] follows v5.5.0.
pub fn build_as(dir: &std::path::Path, version: KustomizeVersion) -> Result<String, BuildError> {
    build::build_as(dir, version, false)
}

/// Like [`build`], except that a directory without a kustomization file
/// renders every manifest below it, as Flux's generator does.
pub fn build_with_flux_fallback(dir: &std::path::Path) -> Result<String, BuildError> {
    build::build_with_flux_fallback(dir)
}
