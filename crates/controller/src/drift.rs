//! Drift watch: beyond Flux, objects a Kustomization applied are watched,
//! so a manual edit or delete triggers that Kustomization within seconds
//! instead of at its next interval.
//!
//! One metadata-only watch per kind (selected by the ownership label, so
//! only our objects flow), started the first time an inventory holds that
//! kind. A change whose latest writer is our own field manager is our own
//! apply echoing back and triggers nothing.

use std::collections::HashSet;
use std::sync::Mutex;

use driftless_api::Kustomization;
use driftless_api::annotations::{OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL};
use driftless_api::inventory::ResourceRef;
use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::core::GroupVersionKind;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio::sync::mpsc;

pub(crate) struct DriftWatch {
    client: kube::Client,
    field_manager: String,
    sender: mpsc::UnboundedSender<ObjectRef<Kustomization>>,
    /// `group/version/kind` already watched.
    watched: Mutex<HashSet<String>>,
    /// Kustomizations (namespace, name) whose objects drifted since their last reconcile.
    pending: std::sync::Arc<Mutex<HashSet<(String, String)>>>,
    /// The watch tasks; they end with the reconciler that owns this.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for DriftWatch {
    fn drop(&mut self) {
        for task in self.tasks.get_mut().expect("drift lock").drain(..) {
            task.abort();
        }
    }
}

impl DriftWatch {
    pub fn new(
        client: kube::Client,
        field_manager: String,
    ) -> (
        DriftWatch,
        impl Stream<Item = ObjectRef<Kustomization>> + Send + 'static,
    ) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let watch = DriftWatch {
            client,
            field_manager,
            sender,
            watched: Mutex::new(HashSet::new()),
            pending: Default::default(),
            tasks: Mutex::new(Vec::new()),
        };
        let triggers = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        (watch, triggers)
    }

    /// Whether the Kustomization's objects drifted since it last asked; clears the mark.
    pub fn take_pending(&self, namespace: &str, name: &str) -> bool {
        self.pending
            .lock()
            .expect("drift lock")
            .remove(&(namespace.to_owned(), name.to_owned()))
    }

    /// Wakes a Kustomization now, as drift would (another one found a
    /// conflict over an object it holds).
    pub fn nudge(&self, namespace: &str, name: &str) {
        self.pending
            .lock()
            .expect("drift lock")
            .insert((namespace.to_owned(), name.to_owned()));
        // The receiver lives as long as the reconciler; a send after it is
        // gone has nobody to wake.
        let _ = self.sender.send(ObjectRef::new(name).within(namespace));
    }

    /// Makes sure every kind in `entries` is watched.
    pub async fn watch(&self, entries: &[ResourceRef], namespace: &str, name: &str) {
        for entry in entries {
            let Ok(id) = entry.object_id() else { continue };
            let key = format!("{}/{}/{}", id.group, entry.version, id.kind);
            if !self.watched.lock().expect("drift lock").insert(key.clone()) {
                continue;
            }
            let gvk = GroupVersionKind::gvk(&id.group, &entry.version, &id.kind);
            let resource = match kube::discovery::pinned_kind(&self.client, &gvk).await {
                Ok((resource, _)) => resource,
                Err(error) => {
                    tracing::debug!(%key, %error, kustomization = %format!("{namespace}/{name}"), "cannot watch kind for drift");
                    self.watched.lock().expect("drift lock").remove(&key);
                    continue;
                }
            };
            let api: Api<PartialObjectMeta<DynamicObject>> =
                Api::all_with(self.client.clone(), &resource);
            let config = watcher::Config::default().labels(OWNER_NAME_LABEL);
            let sender = self.sender.clone();
            let pending = self.pending.clone();
            let field_manager = self.field_manager.clone();
            let task = tokio::spawn(async move {
                let mut events =
                    crate::watch::recovering(watcher(api, config), key.clone()).boxed();
                let mut listed = false;
                while let Some(event) = events.next().await {
                    let meta = match event {
                        watcher::Event::InitDone => {
                            listed = true;
                            continue;
                        }
                        watcher::Event::Apply(object)
                            if listed && !written_by(&object.metadata, &field_manager) =>
                        {
                            object.metadata
                        }
                        watcher::Event::Delete(object) if listed => object.metadata,
                        _ => continue,
                    };
                    let labels = meta.labels.unwrap_or_default();
                    let (Some(name), Some(namespace)) = (
                        labels.get(OWNER_NAME_LABEL),
                        labels.get(OWNER_NAMESPACE_LABEL),
                    ) else {
                        continue;
                    };
                    tracing::info!(object = %meta.name.unwrap_or_default(), kind = %key, kustomization = %format!("{namespace}/{name}"), "drift detected");
                    pending
                        .lock()
                        .expect("drift lock")
                        .insert((namespace.clone(), name.clone()));
                    if sender.send(ObjectRef::new(name).within(namespace)).is_err() {
                        return;
                    }
                }
            });
            self.tasks
                .lock()
                .expect("drift lock")
                .push(task.abort_handle());
        }
    }
}

/// Whether the latest write to the object was made by `field_manager`.
fn written_by(meta: &ObjectMeta, field_manager: &str) -> bool {
    let entries = meta.managed_fields.as_deref().unwrap_or_default();
    let Some(latest) = entries
        .iter()
        .filter_map(|e| e.time.as_ref())
        .map(|t| t.0)
        .max()
    else {
        return false;
    };
    entries
        .iter()
        .filter(|e| e.time.as_ref().map(|t| t.0) == Some(latest))
        .all(|e| e.manager.as_deref() == Some(field_manager))
}
