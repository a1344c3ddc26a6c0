//! Helm charts rendered the way `helm template` (Helm v4.3.1) renders them:
//! charts and values loaded and coalesced as Helm does, templates executed
//! through the Go `text/template` engine (`driftless-gotemplate`) with
//! Helm's own functions, and the output assembled byte for byte.
//!
//! Module map: `loader` (directories and archives, safety limits),
//! `ignore` (.helmignore), `chart` (the loaded shape, Chart.yaml),
//! `yaml` (Helm's YAML reading), `values` (coalescing), `strvals`
//! (`--set` syntax), `semver` (constraints).

pub mod chart;
pub mod dependencies;
pub mod error;
pub mod ignore;
pub mod loader;
pub mod manifests;
pub mod semver;
pub mod strvals;
pub mod values;
pub mod yaml;

pub use chart::{Chart, ChartFile, Dependency, Metadata};
pub use error::ChartError;
pub use loader::load;
pub use values::ValueSources;
