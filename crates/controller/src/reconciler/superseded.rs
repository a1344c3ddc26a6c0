//! Copies of objects this controller has itself replaced within one run:
//! the copy a run started from, once the run wrote its status, and each
//! [checkpoint](super::Run::checkpoint) but the last write. A trigger that
//! arrives during the run (a retry falling due, a watch event of the first
//! of two writes) starts the next run on whatever the cache holds, which
//! can be a copy from before the run's own writes. That copy is known to be
//! stale: its status predates what the run did (a release it installed, the
//! objects it applied), so reconciling it would act again on old facts and
//! only then fail the conditional status write.

use std::collections::HashMap;
use std::sync::Mutex;

/// The superseded resourceVersions by `namespace/name`.
#[derive(Default)]
pub(crate) struct Superseded(Mutex<HashMap<String, Vec<String>>>);

impl Superseded {
    /// Whether `version` of the object is one this controller replaced;
    /// any other version clears the record.
    pub fn is_stale(&self, key: &str, version: Option<&str>) -> bool {
        let mut versions = self.0.lock().expect("superseded lock");
        match (versions.get(key), version) {
            (Some(stale), Some(version)) if stale.iter().any(|s| s == version) => true,
            (Some(_), _) => {
                versions.remove(key);
                false
            }
            (None, _) => false,
        }
    }

    /// These versions of the object were replaced by later writes of one
    /// run (none: nothing to remember).
    pub fn record(&self, key: &str, versions: impl IntoIterator<Item = String>) {
        let versions: Vec<String> = versions.into_iter().collect();
        if !versions.is_empty() {
            self.0
                .lock()
                .expect("superseded lock")
                .insert(key.to_owned(), versions);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_replaced_version_is_stale_until_a_newer_one_is_seen() {
        let superseded = Superseded::default();
        assert!(!superseded.is_stale("ns/a", Some("5")));
        superseded.record("ns/a", ["4".to_string(), "5".to_string()]);
        assert!(superseded.is_stale("ns/a", Some("4")));
        assert!(superseded.is_stale("ns/a", Some("5")));
        assert!(!superseded.is_stale("ns/b", Some("5")));
        assert!(!superseded.is_stale("ns/a", Some("6")));
        assert!(
            !superseded.is_stale("ns/a", Some("5")),
            "forgotten once a newer copy was seen"
        );
    }
}
