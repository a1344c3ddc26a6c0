//! Shared objects are never silent. When an object this Kustomization
//! renders is also in the inventory of another Kustomization that is up to
//! date with its source (so it still renders the object), the two would
//! overwrite each other at every reconcile. Instead:
//!
//! - the current owner — the one named by the object's ownership labels —
//!   keeps it, and says so (a condition and a Warning event naming the
//!   other Kustomization and the object);
//! - the other leaves the object alone (never applies nor prunes it), fails
//!   its reconcile with `OwnershipConflict` naming the owner and the object,
//!   and wakes the owner so both report the conflict until git resolves it.
//!
//! An owner that is behind its source is in the middle of a hand-over (the
//! object moved to this Kustomization in one commit): then the object is
//! taken over as before, and the old owner's prune skips it because its
//! labels name the new owner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use driftless_api::annotations::{OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL};
use driftless_api::inventory::{ObjectId, ResourceInventory};
use driftless_api::{FluxObject, GitRepository, Kustomization};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::Value;

/// One object rendered by two Kustomizations.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Contest {
    /// `Kind/namespace/name` of the object.
    pub object: String,
    /// The Kustomization holding it (`namespace/name`).
    pub owner: String,
    /// The Kustomization that also renders it.
    pub intruder: String,
}

impl Contest {
    /// The line conditions and events carry.
    pub fn describe(&self) -> String {
        format!(
            "{} is rendered by Kustomization {} and by Kustomization {}; {} keeps it until one of them stops rendering it in git",
            self.object, self.owner, self.intruder, self.owner
        )
    }
}

/// The outcome of the check for one reconcile.
pub(super) struct Checked {
    /// What this Kustomization may apply.
    pub objects: Vec<Value>,
    /// Objects another Kustomization holds: not applied here.
    pub yielded: Vec<Contest>,
    /// Objects this Kustomization holds that another one renders too.
    pub held: Vec<Contest>,
}

/// Who lists which object in its inventory, and the conflicts
/// Kustomizations found as intruders (by intruder, so that the owner, whose
/// inventory no longer shows the other, can report them).
#[derive(Default)]
pub(super) struct Ownership {
    inventories: Mutex<Option<InventoryIndex>>,
    yielded: Mutex<HashMap<String, Vec<Contest>>>,
}

/// Every Kustomization's inventory, indexed by object: seeded once from the
/// watch cache, then kept current by each successful reconcile, so a
/// reconcile looks up its objects instead of scanning the whole fleet.
#[derive(Default)]
struct InventoryIndex {
    /// Object id → the Kustomizations (`namespace/name`) listing it.
    listed_by: HashMap<String, Vec<String>>,
    /// Kustomization → the object ids in its inventory.
    lists: HashMap<String, Vec<String>>,
}

impl InventoryIndex {
    fn seeded(store: &Store<Kustomization>) -> InventoryIndex {
        let mut index = InventoryIndex::default();
        for ks in store.state() {
            let ids = ks
                .status
                .as_ref()
                .and_then(|s| s.inventory.as_ref())
                .map(|i| i.entries.iter().map(|e| e.id.clone()).collect())
                .unwrap_or_default();
            index.set(&key(&ks), ids);
        }
        index
    }

    fn set(&mut self, kustomization: &str, ids: Vec<String>) {
        for old in self.lists.remove(kustomization).unwrap_or_default() {
            if let Some(owners) = self.listed_by.get_mut(&old) {
                owners.retain(|o| o != kustomization);
                if owners.is_empty() {
                    self.listed_by.remove(&old);
                }
            }
        }
        for id in &ids {
            self.listed_by
                .entry(id.clone())
                .or_default()
                .push(kustomization.to_owned());
        }
        if !ids.is_empty() {
            self.lists.insert(kustomization.to_owned(), ids);
        }
    }

    /// Another Kustomization than `me` listing `id`.
    fn other(&self, id: &str, me: &str) -> Option<&str> {
        self.listed_by
            .get(id)?
            .iter()
            .find(|o| o.as_str() != me)
            .map(String::as_str)
    }
}

impl Ownership {
    /// Splits `objects` into those `ks` may apply and those another,
    /// up-to-date Kustomization holds.
    pub async fn check(
        &self,
        ks: &Kustomization,
        objects: Vec<Value>,
        store: &Store<Kustomization>,
        client: &kube::Client,
    ) -> Checked {
        let me = key(ks);
        let rivals: Vec<Option<Arc<Kustomization>>> = {
            let mut index = self.inventories.lock().expect("ownership lock");
            let index = index.get_or_insert_with(|| InventoryIndex::seeded(store));
            objects
                .iter()
                .map(|object| {
                    let other = index.other(&object_id(object).to_string(), &me)?;
                    let (namespace, name) = other.split_once('/')?;
                    store.get(&ObjectRef::new(name).within(namespace))
                })
                .collect()
        };
        let mut checked = Checked {
            objects: Vec::with_capacity(objects.len()),
            yielded: Vec::new(),
            held: self.against(&me),
        };
        for (object, rival) in objects.into_iter().zip(rivals) {
            let Some(rival) = rival else {
                checked.objects.push(object);
                continue;
            };
            if !up_to_date(&rival, client).await {
                // A hand-over in progress: take it, as Flux does.
                checked.objects.push(object);
                continue;
            }
            let contest = |owner: String, intruder: String| Contest {
                object: driftless_apply::subject(&object_id(&object)),
                owner,
                intruder,
            };
            match live_owner(&object, client).await {
                Some(owner) if owner == key(&rival) => {
                    checked.yielded.push(contest(owner, me.clone()));
                }
                _ => {
                    checked.held.push(contest(me.clone(), key(&rival)));
                    checked.objects.push(object);
                }
            }
        }
        // The same conflict may be both remembered and seen again.
        checked.held.sort();
        checked.held.dedup();
        checked
    }

    /// Remembers what `intruder` yielded this run (replacing its last
    /// run's), and returns the owners to wake.
    pub fn record(&self, intruder: &str, yielded: &[Contest]) -> Vec<String> {
        let mut all = self.yielded.lock().expect("ownership lock");
        if yielded.is_empty() {
            all.remove(intruder);
        } else {
            all.insert(intruder.to_owned(), yielded.to_vec());
        }
        yielded.iter().map(|c| c.owner.clone()).collect()
    }

    /// `kustomization` now lists these objects (its new inventory).
    pub fn listed(&self, kustomization: &str, inventory: &ResourceInventory) {
        if let Some(index) = self.inventories.lock().expect("ownership lock").as_mut() {
            index.set(
                kustomization,
                inventory.entries.iter().map(|e| e.id.clone()).collect(),
            );
        }
    }

    /// Forgets a deleted Kustomization's inventory and conflicts.
    pub fn forget(&self, kustomization: &str) {
        self.listed(kustomization, &ResourceInventory::default());
        self.yielded
            .lock()
            .expect("ownership lock")
            .remove(kustomization);
    }

    /// The objects `owner` holds that others yielded.
    fn against(&self, owner: &str) -> Vec<Contest> {
        self.yielded
            .lock()
            .expect("ownership lock")
            .values()
            .flatten()
            .filter(|c| c.owner == owner)
            .cloned()
            .collect()
    }
}

/// `namespace/name`.
pub(super) fn key(ks: &Kustomization) -> String {
    format!("{}/{}", ks.namespace().unwrap_or_default(), ks.name_any())
}

/// The inventory id of a rendered object (its namespace as written).
fn object_id(object: &Value) -> ObjectId {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let api_version = text("/apiVersion");
    let group = api_version
        .rsplit_once('/')
        .map(|(group, _)| group.to_owned())
        .unwrap_or_default();
    ObjectId::new(
        text("/metadata/namespace"),
        text("/metadata/name"),
        group,
        text("/kind"),
    )
}

/// Whether `ks` has applied its source's current revision, so that its
/// inventory is what it renders now.
async fn up_to_date(ks: &Kustomization, client: &kube::Client) -> bool {
    let Some(applied) = ks.revision() else {
        return false;
    };
    if !ks.is_ready() {
        return false;
    }
    let reference = &ks.spec.source_ref;
    let namespace = reference
        .namespace
        .clone()
        .unwrap_or_else(|| ks.namespace().unwrap_or_default());
    let sources: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    match sources.get_opt(&reference.name).await {
        Ok(Some(source)) => source.revision() == Some(applied),
        _ => false,
    }
}

/// The Kustomization named by the live object's ownership labels.
async fn live_owner(object: &Value, client: &kube::Client) -> Option<String> {
    let id = object_id(object);
    let api_version = object.get("apiVersion")?.as_str()?;
    let version = api_version.rsplit('/').next()?;
    let gvk = GroupVersionKind::gvk(&id.group, version, &id.kind);
    let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk).await.ok()?;
    let api: Api<DynamicObject> = if capabilities.scope == kube::discovery::Scope::Namespaced {
        Api::namespaced_with(client.clone(), &id.namespace, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    let live = api.get_opt(&id.name).await.ok()??;
    let labels = live.metadata.labels?;
    Some(format!(
        "{}/{}",
        labels.get(OWNER_NAMESPACE_LABEL)?,
        labels.get(OWNER_NAME_LABEL)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contest(owner: &str, intruder: &str) -> Contest {
        Contest {
            object: "ConfigMap/default/shared".into(),
            owner: owner.into(),
            intruder: intruder.into(),
        }
    }

    #[test]
    fn owners_see_what_intruders_yielded_until_they_stop() {
        let ownership = Ownership::default();
        let wake = ownership.record("default/b", &[contest("default/a", "default/b")]);
        assert_eq!(wake, ["default/a"]);
        assert_eq!(
            ownership.against("default/a"),
            [contest("default/a", "default/b")]
        );
        assert!(ownership.against("default/b").is_empty());
        ownership.record("default/b", &[]);
        assert!(ownership.against("default/a").is_empty());
    }

    #[test]
    fn the_index_follows_inventories() {
        let mut index = InventoryIndex::default();
        index.set("ns/a", vec!["default_x__ConfigMap".into()]);
        index.set(
            "ns/b",
            vec!["default_x__ConfigMap".into(), "default_y__ConfigMap".into()],
        );
        assert_eq!(index.other("default_x__ConfigMap", "ns/a"), Some("ns/b"));
        assert_eq!(index.other("default_y__ConfigMap", "ns/b"), None);
        index.set("ns/b", vec!["default_y__ConfigMap".into()]);
        assert_eq!(index.other("default_x__ConfigMap", "ns/a"), None);
        index.set("ns/b", Vec::new());
        index.set("ns/a", Vec::new());
        assert!(index.listed_by.is_empty() && index.lists.is_empty());
    }

    #[test]
    fn ids_come_from_the_rendered_object() {
        let object = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}
        });
        assert_eq!(object_id(&object).to_string(), "prod_web_apps_Deployment");
        let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}});
        assert_eq!(object_id(&namespace).to_string(), "_prod__Namespace");
    }

    #[test]
    fn the_message_names_both_and_the_object() {
        let text = contest("default/a", "default/b").describe();
        assert!(text.contains("ConfigMap/default/shared"), "{text}");
        assert!(
            text.contains("Kustomization default/a") && text.contains("Kustomization default/b"),
            "{text}"
        );
    }
}
