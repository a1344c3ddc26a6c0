//! The controller end to end, one module per suite: real git servers,
//! registries and Helm repositories, the sandbox, and the controller
//! in-process. The suites share one binary so the test build links the
//! controller once; `attacks` keeps its own, as it captures the whole
//! process's logs.

mod common;

mod artifact_generator;
mod decryption;
mod faults;
mod gitrepository;
mod helm_fleet;
mod helmchart_dependencies;
mod helmrelease;
mod helmrelease_failures;
mod helmrelease_prune;
mod helmrelease_tests;
mod image_automation;
mod image_automation_transports;
mod image_change_requests;
mod image_reflector;
mod kustomization;
mod notification;
mod oci_kustomization;
mod tenancy;
