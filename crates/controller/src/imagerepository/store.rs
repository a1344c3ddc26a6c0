//! The tags each ImageRepository's last scan kept, in memory: what the
//! ImagePolicies choose from.
//!
//! Flux keeps them in a database on disk; here they live as long as the
//! process, and a restarted controller scans every repository again before
//! its policies can choose (they wait as `DependencyNotReady`, as Flux's do
//! on an empty database). Memory is bounded per repository by the scan's
//! tag limit (`ScanOptions::max_tags`), and a deleted repository's entry
//! goes with it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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
#[derive(Default)]
pub(crate) struct TagStore(RwLock<HashMap<String, Arc<Scanned>>>);

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl TagStore {
    /// The last scan of `namespace/name`, if it was scanned since the start.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Scanned>> {
        self.0
            .read()
            .expect("tag store lock")
            .get(&key(namespace, name))
            .cloned()
    }

    /// Records a scan, replacing the previous one.
    pub fn put(&self, namespace: &str, name: &str, scanned: Scanned) {
        self.0
            .write()
            .expect("tag store lock")
            .insert(key(namespace, name), Arc::new(scanned));
    }

    /// The repository is gone.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.0
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
        assert!(store.get("apps", "web").is_none());
        let scan = |revision: &str| Scanned {
            revision: revision.to_owned(),
            canonical: "127.0.0.1:5000/web".to_owned(),
            tags: vec!["v2".to_owned(), "v1".to_owned()],
        };
        store.put("apps", "web", scan("sha256:1"));
        store.put("apps", "web", scan("sha256:2"));
        assert_eq!(
            store.get("apps", "web").map(|s| s.revision.clone()),
            Some("sha256:2".to_owned())
        );
        assert!(store.get("other", "web").is_none());
        store.remove("apps", "web");
        assert!(store.get("apps", "web").is_none());
    }
}
