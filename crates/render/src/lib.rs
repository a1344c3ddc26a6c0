//! Rendering: a directory in, an ordered stream of Kubernetes objects out.

pub mod yaml;
