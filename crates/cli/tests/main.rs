//! The `driftless` binary as users run it, one module per suite, in one
//! binary so the test build links the test harness once.

mod common;

mod chart_bounds;
mod chart_flags;
mod decrypt;
mod faults;
mod gitops;
mod helmrelease_chart;
mod images;
mod install;
mod misc;
mod notification;
mod objects;
