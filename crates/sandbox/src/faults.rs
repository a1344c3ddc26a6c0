//! The chaos switch: faults a test injects into the API server to see how a
//! client copes — error answers (500, 429 with `Retry-After`), slow answers,
//! and watch streams cut mid-flight.
//!
//! The sandbox is our development and test API server, so this is one of
//! its features, not a test double: a real API server under load or in a
//! rolling upgrade does all of these, and the controller's fault-matrix
//! tests need them on demand and on a loopback address they can reach. It is
//! reached only through [`crate::Sandbox::faults`] (in-process): nothing on
//! the wire or the command line turns it on, and with no rule set every
//! request is served as usual.
//!
//! Owns the decision "does this request get a fault, and which"; `server`
//! applies it before routing, and ends open watches when they are cut.
//!
//! ```no_run
//! # async fn demo(sandbox: &driftless_sandbox::Sandbox) {
//! use driftless_sandbox::{Fault, FaultRule};
//! let faults = sandbox.faults();
//! // Every second write to a ConfigMap is refused with 429, retry after 1s.
//! faults.set(FaultRule::new(Fault::TooManyRequests { retry_after_seconds: 1 })
//!     .writes_only()
//!     .on_path("/configmaps")
//!     .every(2));
//! faults.cut_watches();
//! faults.clear();
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::Method;
use tokio::sync::watch;

/// What an affected request gets instead of (or before) its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A 500 Internal Server Error (a Kubernetes Status body).
    InternalError,
    /// A 429 Too Many Requests with `Retry-After: <seconds>`, as the API
    /// server's priority and fairness answers an overload.
    TooManyRequests {
        /// The `Retry-After` header's value.
        retry_after_seconds: u32,
    },
    /// The request is served, but only after this delay.
    Slow(Duration),
}

/// Which requests get a [`Fault`]: all API requests by default (health
/// checks never), narrowed by method and path, thinned to every n-th match.
#[derive(Clone, Debug)]
pub struct FaultRule {
    fault: Fault,
    writes_only: bool,
    path_contains: Option<String>,
    every: u64,
}

impl FaultRule {
    /// `fault` for every API request.
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            writes_only: false,
            path_contains: None,
            every: 1,
        }
    }

    /// Only POST, PUT, PATCH and DELETE requests.
    #[must_use]
    pub fn writes_only(mut self) -> FaultRule {
        self.writes_only = true;
        self
    }

    /// Only requests whose path contains `part` (e.g. `/configmaps`), so
    /// that a client's status writes can get through while its applies fail.
    #[must_use]
    pub fn on_path(mut self, part: &str) -> FaultRule {
        self.path_contains = Some(part.to_owned());
        self
    }

    /// Only every `n`-th matching request (1: each one; 0 counts as 1).
    #[must_use]
    pub fn every(mut self, n: u64) -> FaultRule {
        self.every = n.max(1);
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        let write = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        (!self.writes_only || write)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|part| path.contains(part))
    }
}

/// The switch itself; clones share it. See the module docs.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

struct Inner {
    /// The rule in force and how many requests it has matched so far.
    rule: Mutex<Option<(FaultRule, u64)>>,
    injected: AtomicU64,
    /// Bumped by [`Faults::cut_watches`]; every open watch ends when it changes.
    cuts: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            inner: Arc::new(Inner {
                rule: Mutex::new(None),
                injected: AtomicU64::new(0),
                cuts: watch::channel(0).0,
            }),
        }
    }
}

impl Faults {
    /// Puts `rule` in force, replacing any other.
    pub fn set(&self, rule: FaultRule) {
        *self.lock() = Some((rule, 0));
    }

    /// Serves every request as usual again.
    pub fn clear(&self) {
        *self.lock() = None;
    }

    /// How many requests got a fault since the sandbox started.
    pub fn injected(&self) -> u64 {
        self.inner.injected.load(Ordering::Relaxed)
    }

    /// Ends every watch stream open now, as a dropped connection or an API
    /// server restart does; clients must watch again.
    pub fn cut_watches(&self) {
        self.inner.cuts.send_modify(|n| *n += 1);
    }

    /// A receiver that changes when watches are cut.
    pub(crate) fn cuts(&self) -> watch::Receiver<u64> {
        self.inner.cuts.subscribe()
    }

    /// The fault this request gets, if any (and counts it).
    pub(crate) fn decide(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut rule = self.lock();
        let (current, matched) = rule.as_mut()?;
        if !current.matches(method, path) {
            return None;
        }
        *matched += 1;
        if *matched % current.every != 0 {
            return None;
        }
        self.inner.injected.fetch_add(1, Ordering::Relaxed);
        Some(current.fault.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(FaultRule, u64)>> {
        // A panic while holding this lock leaves a valid rule behind.
        self.inner
            .rule
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rule_no_fault() {
        let faults = Faults::default();
        assert_eq!(faults.decide(&Method::GET, "/api/v1/pods"), None);
        assert_eq!(faults.injected(), 0);
    }

    #[test]
    fn every_nth_matching_request_gets_the_fault() {
        let faults = Faults::default();
        faults.set(
            FaultRule::new(Fault::InternalError)
                .writes_only()
                .on_path("/configmaps")
                .every(2),
        );
        let path = "/api/v1/namespaces/default/configmaps/a";
        assert_eq!(faults.decide(&Method::GET, path), None, "reads pass");
        assert_eq!(
            faults.decide(&Method::PATCH, "/api/v1/namespaces/default/secrets/a"),
            None,
            "other paths pass"
        );
        assert_eq!(faults.decide(&Method::PATCH, path), None, "first match");
        assert_eq!(
            faults.decide(&Method::PATCH, path),
            Some(Fault::InternalError)
        );
        assert_eq!(faults.decide(&Method::POST, path), None);
        assert_eq!(
            faults.decide(&Method::DELETE, path),
            Some(Fault::InternalError)
        );
        assert_eq!(faults.injected(), 2);
        faults.clear();
        assert_eq!(faults.decide(&Method::PATCH, path), None);
    }

    #[test]
    fn cutting_watches_wakes_every_receiver() {
        let faults = Faults::default();
        let mut first = faults.cuts();
        let second = faults.clone().cuts();
        faults.cut_watches();
        assert!(first.has_changed().expect("sender alive"));
        assert!(second.has_changed().expect("sender alive"));
        first.mark_unchanged();
        assert!(!first.has_changed().expect("sender alive"));
    }
}
