//! Watched configuration: ConfigMaps and Secrets labelled
//! `reconcile.fluxcd.io/watch: Enabled` wake the HelmReleases whose
//! `valuesFrom` and the Kustomizations whose `postBuild.substituteFrom`
//! name them, within seconds instead of at their next interval — as Flux's
//! helm-controller and kustomize-controller do since Flux 2.5 (their
//! `--watch-configs-label-selector` default).
//!
//! Owns the label selector (`--watch-configs-label-selector`, Flux's flag:
//! any Kubernetes label selector, equality or set-based; empty watches
//! every ConfigMap and Secret, as Flux's empty selector matches everything)
//! and the marks that make the next reconcile of a woken object run in
//! full even though its spec and source did not change. Must not read the
//! objects' data: the reconcile does that. The label
//! `reconcile.fluxcd.io/watch: Enabled` means nothing of itself: it is the
//! default selector's match, and with another selector only that selector
//! counts (Flux's rule; e.g. `owner!=helm` watches all but Helm's records).
//!
//! Only matching objects are watched, so the controller holds no other
//! ConfigMap or Secret in memory; another one is read again at the
//! interval, as in Flux.

use std::collections::HashSet;
use std::sync::Mutex;

use kube::Resource;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

/// Flux's default selector of watched ConfigMaps and Secrets.
pub(crate) const WATCH_SELECTOR: &str = "reconcile.fluxcd.io/watch=Enabled";

/// A watcher for the objects `selector` matches (every one when it is
/// empty): the controller's `watch_configs_label_selector`.
pub(crate) fn watched(selector: &str) -> watcher::Config {
    let config = watcher::Config::default();
    if selector.is_empty() {
        config
    } else {
        config.labels(selector)
    }
}

/// ConfigMap or Secret: what a `valuesFrom` or `substituteFrom` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigKind {
    /// A core/v1 ConfigMap.
    ConfigMap,
    /// A core/v1 Secret.
    Secret,
}

/// Objects woken by a watched ConfigMap or Secret whose reconcile has not
/// taken the mark yet, as `namespace/name`.
#[derive(Default)]
pub(crate) struct ConfigWakes(Mutex<HashSet<String>>);

impl ConfigWakes {
    /// Marks `objects` and returns them, for a watch mapper.
    pub(crate) fn wake<K: Resource>(&self, objects: Vec<ObjectRef<K>>) -> Vec<ObjectRef<K>> {
        let mut marks = self.0.lock().expect("config wakes lock");
        for object in &objects {
            marks.insert(format!(
                "{}/{}",
                object.namespace.as_deref().unwrap_or_default(),
                object.name
            ));
        }
        objects
    }

    /// Whether a watched object woke `namespace/name` since the last call;
    /// clears the mark.
    pub(crate) fn take(&self, namespace: &str, name: &str) -> bool {
        self.0
            .lock()
            .expect("config wakes lock")
            .remove(&format!("{namespace}/{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_api::HelmRelease;

    #[test]
    fn an_empty_selector_watches_every_object() {
        assert_eq!(
            watched(WATCH_SELECTOR).label_selector.as_deref(),
            Some(WATCH_SELECTOR)
        );
        let custom = watched("team in (a,b)");
        assert_eq!(custom.label_selector.as_deref(), Some("team in (a,b)"));
        assert_eq!(watched("").label_selector, None, "empty: every object");
    }

    #[test]
    fn a_wake_is_taken_once() {
        let wakes = ConfigWakes::default();
        let woken = wakes.wake(vec![ObjectRef::<HelmRelease>::new("web").within("apps")]);
        assert_eq!(woken.len(), 1);
        assert!(!wakes.take("apps", "other"));
        assert!(wakes.take("apps", "web"));
        assert!(!wakes.take("apps", "web"), "the mark is cleared");
    }
}
