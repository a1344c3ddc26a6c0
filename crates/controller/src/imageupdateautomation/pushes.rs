//! The last commit each automation pushed, kept in memory until its status
//! shows it.
//!
//! The status write after a push is conditional on the object's
//! resourceVersion; when it meets a 409 (the copy reconciled was one write
//! behind), the object is reconciled again, finds the branch already
//! carrying every image and pushes nothing. Without this memory that second
//! run would write a status with no trace of the push it never saw.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A pushed commit and when.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LastPush {
    /// The commit's hash.
    pub commit: String,
    /// When it was pushed.
    pub time: Time,
}

/// The last push of every automation this controller ran, by
/// `namespace/name`.
#[derive(Default)]
pub(super) struct Pushes(Mutex<HashMap<String, LastPush>>);

impl Pushes {
    /// Records `pushed` (when this run pushed) and returns the last push
    /// known for `key`: this run's, or an earlier run's whose status write
    /// may not have landed.
    pub fn record(&self, key: &str, pushed: Option<LastPush>) -> Option<LastPush> {
        let mut pushes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match pushed {
            Some(push) => {
                pushes.insert(key.to_owned(), push.clone());
                Some(push)
            }
            None => pushes.get(key).cloned(),
        }
    }

    /// Forgets a deleted automation.
    pub fn forget(&self, key: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(commit: &str) -> LastPush {
        LastPush {
            commit: commit.into(),
            time: Time(k8s_openapi::jiff::Timestamp::from_second(1_765_000_000).expect("time")),
        }
    }

    #[test]
    fn a_run_without_a_push_returns_the_last_one() {
        let pushes = Pushes::default();
        assert_eq!(pushes.record("apps/fleet", None), None);
        assert_eq!(
            pushes.record("apps/fleet", Some(push("aaaa"))),
            Some(push("aaaa"))
        );
        assert_eq!(pushes.record("apps/fleet", None), Some(push("aaaa")));
        assert_eq!(pushes.record("apps/other", None), None);
        assert_eq!(
            pushes.record("apps/fleet", Some(push("bbbb"))),
            Some(push("bbbb"))
        );
        pushes.forget("apps/fleet");
        assert_eq!(pushes.record("apps/fleet", None), None);
    }
}
