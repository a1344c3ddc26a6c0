//! The inventory is what a later prune deletes from, so an object must be
//! on it before it is created: an apply cut short (the controller killed,
//! a later stage refused) would otherwise leave objects in the cluster that
//! no inventory lists, and they would stay after leaving git. Each apply
//! stage reports what it is about to write once its dry runs passed; what
//! the inventory lacks is added to it, in the status, before the stage
//! writes. The usual reconcile (nothing new) writes nothing here.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use driftless_api::inventory::ResourceInventory;
use driftless_api::{Kustomization, KustomizationStatus};

use crate::reconciler::{ReconcileError, Run};

/// Records, for one reconcile, what its apply is about to write.
pub(super) struct Intent<'a, 'r> {
    ks: &'a Kustomization,
    run: &'a Run<'r, Kustomization>,
    /// The inventory as recorded so far: the status's, then each stage's
    /// additions.
    listed: Mutex<ResourceInventory>,
    /// Why recording failed, for the reconcile's error.
    failure: Mutex<Option<ReconcileError>>,
}

impl<'a, 'r> Intent<'a, 'r> {
    pub fn new(
        ks: &'a Kustomization,
        run: &'a Run<'r, Kustomization>,
        status: &KustomizationStatus,
    ) -> Intent<'a, 'r> {
        Intent {
            ks,
            run,
            listed: Mutex::new(status.inventory.clone().unwrap_or_default()),
            failure: Mutex::new(None),
        }
    }

    /// Adds the objects of `about` the inventory lacks to it, in the
    /// status, before they are written.
    pub async fn record(&self, about: ResourceInventory) -> Result<(), String> {
        let Some(inventory) = self.extended(about) else {
            return Ok(());
        };
        let patch = serde_json::json!({ "status": { "inventory": inventory } });
        self.run.checkpoint(self.ks, patch).await.map_err(|error| {
            let message = error.message.clone();
            *lock(&self.failure) = Some(error);
            message
        })
    }

    /// Why recording failed, if it did.
    pub fn take_failure(&self) -> Option<ReconcileError> {
        lock(&self.failure).take()
    }

    /// The inventory with `about` added, or `None` when it lists them all.
    fn extended(&self, about: ResourceInventory) -> Option<ResourceInventory> {
        let mut listed = lock(&self.listed);
        let known: HashSet<&str> = listed.entries.iter().map(|e| e.id.as_str()).collect();
        let new: Vec<_> = about
            .entries
            .into_iter()
            .filter(|e| !known.contains(e.id.as_str()))
            .collect();
        if new.is_empty() {
            return None;
        }
        listed.entries.extend(new);
        listed.entries.sort();
        Some(listed.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
