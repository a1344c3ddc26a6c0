//! When each object last ran in full, so that the status writes and watch
//! echoes a reconcile causes do not start another one inside its interval.
//!
//! In memory only: after a restart everything runs once, as in Flux.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Last full run by `namespace/name`.
#[derive(Default)]
pub(crate) struct Schedule(Mutex<HashMap<String, Instant>>);

impl Schedule {
    /// `Ok` when `interval` has passed since the last full run (or there was
    /// none); otherwise the time left.
    pub fn remaining(&self, key: &str, interval: Duration) -> Result<(), Duration> {
        let last = self.0.lock().expect("schedule lock").get(key).copied();
        match last {
            Some(last) if last.elapsed() < interval => Err(interval - last.elapsed()),
            _ => Ok(()),
        }
    }

    /// A full run starts now.
    pub fn record(&self, key: &str) {
        self.0
            .lock()
            .expect("schedule lock")
            .insert(key.to_owned(), Instant::now());
    }

    /// The object is gone.
    pub fn forget(&self, key: &str) {
        self.0.lock().expect("schedule lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_the_interval_passed() {
        let schedule = Schedule::default();
        assert_eq!(schedule.remaining("ns/a", Duration::from_secs(60)), Ok(()));
        schedule.record("ns/a");
        assert!(schedule.remaining("ns/a", Duration::from_secs(60)).is_err());
        assert_eq!(schedule.remaining("ns/a", Duration::ZERO), Ok(()));
        schedule.forget("ns/a");
        assert_eq!(schedule.remaining("ns/a", Duration::from_secs(60)), Ok(()));
    }
}
