//! Coalescing updates that arrive close together into one change per
//! policy, so a burst of tags (CI pushing several images, a registry
//! catching up) becomes one push and one API round per policy instead of
//! one per tag.
//!
//! Pure logic with the time passed in (`now`), so tests need no clock.
//! The window is fixed, counted from a policy's first pending update: an
//! update is held at most `window`, however many follow it (a sliding
//! window could hold a busy policy forever). Within a window, the latest
//! update wins its image and new tag, the first keeps its old tag (what
//! git held before the batch), and changed files are merged. A batch whose
//! new tag equals its old tag (a tag and its rollback) is dropped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::update::{PolicyRef, Update};

/// Pending updates per policy.
#[derive(Debug, Clone)]
pub struct Batcher {
    window: Duration,
    pending: BTreeMap<PolicyRef, Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    since: Instant,
    update: Update,
}

impl Batcher {
    /// A batcher holding updates for `window` (zero: each is due at once).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            pending: BTreeMap::new(),
        }
    }

    /// Adds `update`, arrived at `now`, merging it with its policy's
    /// pending one.
    pub fn offer(&mut self, now: Instant, update: Update) {
        match self.pending.get_mut(&update.policy) {
            Some(pending) => {
                let merged = &mut pending.update;
                merged.image = update.image;
                merged.new_tag = update.new_tag;
                if merged.old_tag.is_none() {
                    merged.old_tag = update.old_tag;
                }
                merged.files.extend(update.files);
                merged.files.sort();
                merged.files.dedup();
            }
            None => {
                let mut update = update;
                update.files.sort();
                update.files.dedup();
                self.pending
                    .insert(update.policy.clone(), Pending { since: now, update });
            }
        }
    }

    /// Removes and returns the batches whose window has passed at `now`,
    /// ordered by policy.
    pub fn take_due(&mut self, now: Instant) -> Vec<Update> {
        let window = self.window;
        let due: Vec<PolicyRef> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.since) >= window)
            .map(|(policy, _)| policy.clone())
            .collect();
        due.into_iter()
            .filter_map(|policy| self.pending.remove(&policy))
            .map(|p| p.update)
            .filter(|u| u.old_tag.as_deref() != Some(u.new_tag.as_str()))
            .collect()
    }

    /// When the next batch falls due, for the caller's requeue.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.since + self.window).min()
    }

    /// How many policies have updates pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(policy: &str, old: &str, new: &str, file: &str) -> Update {
        Update {
            policy: PolicyRef {
                namespace: "apps".into(),
                name: policy.into(),
            },
            image: format!("registry.test/{policy}"),
            old_tag: Some(old.into()),
            new_tag: new.into(),
            files: vec![file.into()],
        }
    }

    #[test]
    fn updates_within_the_window_become_one_per_policy() {
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        let mut batcher = Batcher::new(Duration::from_secs(60));
        batcher.offer(at(0), update("web", "1.0.0", "1.1.0", "web.yaml"));
        batcher.offer(at(10), update("api", "2.0.0", "2.0.1", "api.yaml"));
        batcher.offer(at(30), update("web", "1.1.0", "1.2.0", "web-canary.yaml"));
        assert_eq!(batcher.len(), 2);
        assert_eq!(batcher.next_due(), Some(at(60)));
        assert!(batcher.take_due(at(59)).is_empty());

        let due = batcher.take_due(at(60));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].policy.name, "web");
        assert_eq!(due[0].old_tag.as_deref(), Some("1.0.0"));
        assert_eq!(due[0].new_tag, "1.2.0");
        assert_eq!(due[0].files, ["web-canary.yaml", "web.yaml"]);

        assert_eq!(batcher.next_due(), Some(at(70)));
        let due = batcher.take_due(at(70));
        assert_eq!(due[0].new_tag, "2.0.1");
        assert!(batcher.is_empty());
        assert_eq!(batcher.next_due(), None);
    }

    #[test]
    fn the_window_does_not_slide_and_rollbacks_vanish() {
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        let mut batcher = Batcher::new(Duration::from_secs(60));
        for s in (0..=50).step_by(10) {
            batcher.offer(
                at(s),
                update("web", "1.0.0", &format!("1.0.{s}"), "web.yaml"),
            );
        }
        assert_eq!(batcher.take_due(at(60))[0].new_tag, "1.0.50");

        batcher.offer(at(100), update("web", "1.0.50", "1.0.51", "web.yaml"));
        batcher.offer(at(101), update("web", "1.0.51", "1.0.50", "web.yaml"));
        assert!(batcher.take_due(at(200)).is_empty());
        assert!(batcher.is_empty());
    }

    #[test]
    fn a_zero_window_releases_at_once() {
        let now = Instant::now();
        let mut batcher = Batcher::new(Duration::ZERO);
        batcher.offer(now, update("web", "1", "2", "f"));
        assert_eq!(batcher.take_due(now).len(), 1);
    }
}
