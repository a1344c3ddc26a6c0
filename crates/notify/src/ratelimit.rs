//! Duplicate-event rate limiting, as Flux's event server does it: one event
//! per key per interval (default 5 minutes), where the key hashes the
//! involved object, the message and the emitter's revision/token metadata.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::event::{Event, META_ORIGIN_REVISION, META_REVISION, META_TOKEN};

/// Flux's default `--rate-limit-interval`.
pub const DEFAULT_RATE_LIMIT_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// A source of "now", injectable so tests control time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Flux's rate-limit key: hex SHA-256 of
/// `event/name=<n>/namespace=<ns>/kind=<k>/message=<m>` plus, when present,
/// `/originRevision=..`, `/revision=..`, `/token=..` taken from the
/// involved object's group metadata. Compute it on the ingested event
/// (before [`crate::exclude_internal_metadata`] removes the token).
pub fn rate_limit_key(event: &Event) -> String {
    let object = &event.involved_object;
    let mut parts = vec![
        "event".to_string(),
        format!("name={}", object.name),
        format!("namespace={}", object.namespace),
        format!("kind={}", object.kind),
        format!("message={}", event.message),
    ];
    for key in [META_ORIGIN_REVISION, META_REVISION, META_TOKEN] {
        if let Some(value) = event.object_group_metadata(key) {
            parts.push(format!("{key}={value}"));
        }
    }
    hex::encode(Sha256::digest(parts.join("/").as_bytes()))
}

/// Whether an event passes the duplicate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// First of its key in the interval: process it (answer 202).
    Accepted,
    /// A duplicate within the interval: drop it (answer 429).
    Duplicate,
}

/// Admits one event per [`rate_limit_key`] per interval. Thread-safe.
pub struct DuplicateEventLimiter<C: Clock = SystemClock> {
    interval: Duration,
    clock: C,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    window_start: HashMap<String, Instant>,
    last_sweep: Option<Instant>,
}

impl DuplicateEventLimiter<SystemClock> {
    /// A limiter on the system clock.
    pub fn new(interval: Duration) -> Self {
        Self::with_clock(interval, SystemClock)
    }
}

impl<C: Clock> DuplicateEventLimiter<C> {
    /// A limiter on the given clock.
    pub fn with_clock(interval: Duration, clock: C) -> Self {
        Self {
            interval,
            clock,
            state: Mutex::new(LimiterState {
                window_start: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// Checks and records `event`.
    pub fn admit(&self, event: &Event) -> Admission {
        self.admit_key(rate_limit_key(event))
    }

    /// Checks and records a precomputed key.
    pub fn admit_key(&self, key: String) -> Admission {
        let now = self.clock.now();
        // A poisoned lock only means another thread panicked mid-update; the
        // map is still usable.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.sweep(&mut state, now);
        match state.window_start.get(&key) {
            Some(start) if now.duration_since(*start) < self.interval => Admission::Duplicate,
            _ => {
                state.window_start.insert(key, now);
                Admission::Accepted
            }
        }
    }

    /// Number of keys currently remembered.
    pub fn tracked_keys(&self) -> usize {
        self.state.lock().map_or(0, |s| s.window_start.len())
    }

    fn sweep(&self, state: &mut LimiterState, now: Instant) {
        // Forget keys whose window ended long ago, at most once per interval,
        // so memory stays bounded by the event rate.
        if state
            .last_sweep
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            return;
        }
        let interval = self.interval;
        state
            .window_start
            .retain(|_, start| now.duration_since(*start) < interval * 2);
        state.last_sweep = Some(now);
    }
}

impl<C: Clock> std::fmt::Debug for DuplicateEventLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplicateEventLimiter")
            .field("interval", &self.interval)
            .field("tracked_keys", &self.tracked_keys())
            .finish()
    }
}
