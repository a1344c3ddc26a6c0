//! The tags each ImageRepository's last scan kept, in memory: what the
//! ImagePolicies choose from.
//!
//! Flux keeps them in a database on disk; here they live as long as the
//! process, and a restarted controller scans every repository again before
//! its policies can choose (they wait as `DependencyNotReady`, as Flux's do
//! on an empty database). Memory is bounded per repository by the scan's
//! tag limit (`ScanOptions::max_tags`), and a deleted repository's entry
//! goes with it.
//!
//! Every scan that changes a repository's tags is announced
//! ([`TagStore::subscribe`]): the ImagePolicy reconciler evaluates the
//! policies of that repository at once, even when the repository's status
//! does not change (the first scan after a restart finds the tags of before).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;

/// Announcements a slow subscriber may fall behind by before it misses
/// some (it then re-reads everything it cares about on its next run).
const ANNOUNCEMENTS: usize = 1024;

/// One repository's last scan.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// `status.lastScanResult.revision` of the scan.
    pub revision: String,
    /// The canonical image name the tags belong to.
    pub canonical: String,
    /// The tags kept (exclusion list applied), in descending order.
    pub tags: Vec<String>,
}

/// Every repository's last scan, by `namespace/name`. Readers get an
/// `Arc`, so a policy evaluating 100 000 tags never holds the lock.
pub(crate) struct TagStore {
    scans: RwLock<HashMap<String, Arc<Scanned>>>,
    changed: broadcast::Sender<(String, String)>,
}

impl Default for TagStore {
    fn default() -> Self {
        TagStore {
            scans: RwLock::default(),
            changed: broadcast::channel(ANNOUNCEMENTS).0,
        }
    }
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl TagStore {
    /// The last scan of `namespace/name`, if it was scanned since the start.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Scanned>> {
        self.scans
            .read()
            .expect("tag store lock")
            .get(&key(namespace, name))
            .cloned()
    }

    /// Records a scan, replacing the previous one; announces it when the
    /// tags (or the image) changed.
    pub fn put(&self, namespace: &str, name: &str, scanned: Scanned) {
        let (revision, canonical) = (scanned.revision.clone(), scanned.canonical.clone());
        let previous = self
            .scans
            .write()
            .expect("tag store lock")
            .insert(key(namespace, name), Arc::new(scanned));
        let same = previous.is_some_and(|p| p.revision == revision && p.canonical == canonical);
        if !same {
            // No subscriber (no policy reconciler running) is fine.
            let _ = self.changed.send((namespace.to_owned(), name.to_owned()));
        }
    }

    /// The `(namespace, name)` of each repository whose tags change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<(String, String)> {
        self.changed.subscribe()
    }

    /// The repository is gone.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.scans
            .write()
            .expect("tag store lock")
            .remove(&key(namespace, name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_are_kept_by_namespace_and_name_until_removed() {
        let store = TagStore::default();
        let mut changes = store.subscribe();
        assert!(store.get("apps", "web").is_none());
        let scan = |revision: &str| Scanned {
            revision: revision.to_owned(),
            canonical: "127.0.0.1:5000/web".to_owned(),
            tags: vec!["v2".to_owned(), "v1".to_owned()],
        };
        store.put("apps", "web", scan("sha256:1"));
        store.put("apps", "web", scan("sha256:1"));
        store.put("apps", "web", scan("sha256:2"));
        let announced: Vec<_> = std::iter::from_fn(|| changes.try_recv().ok()).collect();
        let web = ("apps".to_owned(), "web".to_owned());
        assert_eq!(
            announced,
            [web.clone(), web],
            "the same tags again are not news"
        );
        assert_eq!(
            store.get("apps", "web").map(|s| s.revision.clone()),
            Some("sha256:2".to_owned())
        );
        assert!(store.get("other", "web").is_none());
        store.remove("apps", "web");
        assert!(store.get("apps", "web").is_none());
    }
}
