//! The sandbox: an embedded Kubernetes API server.
pub mod merge;
