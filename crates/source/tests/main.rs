//! Every source transport against real servers on loopback (git daemon,
//! git http-backend, sshd, docker-registry, lighttpd), one module per
//! suite, in one binary so the test build links once.

mod helm_common;

mod git_daemon;
mod helm_chart;
mod helm_repository;
mod helm_tls;
mod http_backend;
mod include;
mod oci_auth;
mod oci_registry;
mod oci_scan;
mod ssh;
mod submodules;
