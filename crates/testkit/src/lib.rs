//! Test-only helpers shared by the crates' integration tests, so every
//! suite drives the same real servers the same way.
//!
//! - [`git`]: real git servers on loopback and fixture repositories.
//! - [`cluster`]: an in-process sandbox API server with a kubeconfig and a
//!   kube client, and [`cluster::eventually`] for polling with a deadline.
//!
//! Never a dependency of product code: it lives in `[dev-dependencies]` only.

pub mod cluster;
pub mod git;
pub mod helm_repo;

pub use git::*;
