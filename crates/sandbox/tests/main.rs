//! The sandbox under real clients (kubectl, helm, kube-rs), one module per
//! suite, in one binary so the test build links the sandbox once.
//! `openapi_data` keeps its own binary: it needs the `openapi-gen` feature.

mod common;

mod access;
mod authorization_mode;
mod daemonsets;
mod events;
mod helm;
mod jobs;
mod kube_client;
mod kubectl;
mod observe;
mod openapi;
mod workloads;
