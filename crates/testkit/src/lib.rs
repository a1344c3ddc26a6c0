//! Test-only helpers shared by the crates' integration tests, so every
//! suite drives the same real servers the same way.
//!
//! - [`git`]: real git servers on loopback and fixture repositories.
//! - [`cluster`]: an in-process sandbox API server with a kubeconfig and a
//!   kube client, and [`cluster::eventually`] for polling with a deadline.
//! - [`helm_repo`]: a static-file Helm chart repository (lighttpd) on
//!   loopback, and the real `helm` for fixtures.
//! - [`fleet`]: a fleet of Kustomizations over one repository, and the
//!   fault matrix's invariant checker.
//! - [`proxy`]: a TCP proxy that passes, garbles, hangs, refuses or cuts
//!   traffic on demand.
//! - [`registry`]: a real OCI registry (`docker-registry`) on loopback.
//!
//! Never a dependency of product code: it lives in `[dev-dependencies]` only.

pub mod cluster;
pub mod fleet;
pub mod git;
pub mod helm_repo;
pub mod proxy;
pub mod registry;

pub use git::*;
