//! Deleting what a previous apply created and the new set no longer has.
//! Reads nothing but the stale inventory entries and the live objects they
//! name; refuses objects that are not ours any more.

use driftless_api::annotations;
use driftless_api::inventory::{ObjectId, ResourceRef};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject};
use serde_json::Value;

use crate::Applier;
use crate::apply::{api_error, reconcile_disabled, to_value};
use crate::changeset::{Action, Change, ChangeSet, subject};
use crate::error::ApplyError;
use crate::order::{Stage, rank};

/// The batches stale objects are deleted in, first to last: the reverse of
/// the apply order, with Namespaces on their own at the very end so that
/// their contents go first and CRDs go after their custom resources.
fn batch(id: &ObjectId) -> u8 {
    match Stage::of(&id.group, &id.kind) {
        Stage::Rest => 0,
        Stage::Class => 1,
        Stage::Cluster if id.kind == "Namespace" => 3,
        Stage::Cluster => 2,
    }
}

/// Whether a failed delete stops the batches after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterFailure {
    /// Flux's prune: what depends on a failed batch's kinds stays.
    Stop,
    /// Helm's: every delete is tried.
    Continue,
}

impl Applier {
    /// Deletes the objects of a previous inventory that the new set no
    /// longer has, in reverse dependency order (custom resources before
    /// their CRDs, Namespaces last), with background propagation.
    ///
    /// Objects annotated `kustomize.toolkit.fluxcd.io/prune: disabled` or
    /// `kustomize.toolkit.fluxcd.io/reconcile: disabled`, and objects that
    /// no longer carry every owner label (someone else owns them now), are
    /// skipped with the reason. Objects already gone,
    /// including those whose kind is no longer served, count as deleted.
    pub async fn prune(&self, stale: &[ResourceRef]) -> Result<ChangeSet, ApplyError> {
        let (changes, mut failures) = self.delete_in_batches(stale, AfterFailure::Stop).await?;
        if failures.is_empty() {
            Ok(changes)
        } else {
            Err(failures.swap_remove(0))
        }
    }

    /// Deletes like [`Applier::prune`], but tries every delete even after
    /// one failed, as Helm does when an upgrade, rollback or uninstall
    /// removes a release's objects; the failures come back together
    /// ([`ApplyError::Deletes`] when more than one).
    ///
    /// # Errors
    /// A malformed inventory entry, or the deletes that failed.
    pub async fn prune_every(&self, stale: &[ResourceRef]) -> Result<ChangeSet, ApplyError> {
        let (changes, mut failures) = self
            .delete_in_batches(stale, AfterFailure::Continue)
            .await?;
        match failures.len() {
            0 => Ok(changes),
            1 => Err(failures.swap_remove(0)),
            _ => Err(ApplyError::Deletes(failures)),
        }
    }

    /// The deletes of `stale`, batch by batch; what was done and what
    /// failed. With [`AfterFailure::Stop`] no later batch starts once one
    /// failed (an unreachable kind stops at once).
    async fn delete_in_batches(
        &self,
        stale: &[ResourceRef],
        after_failure: AfterFailure,
    ) -> Result<(ChangeSet, Vec<ApplyError>), ApplyError> {
        let mut refs: Vec<(ObjectId, String)> = stale
            .iter()
            .map(|r| Ok((r.object_id()?, r.version.clone())))
            .collect::<Result<_, _>>()
            .map_err(ApplyError::Inventory)?;
        refs.sort_by(|(a, _), (b, _)| {
            (batch(a), std::cmp::Reverse(rank(&a.kind)), a).cmp(&(
                batch(b),
                std::cmp::Reverse(rank(&b.kind)),
                b,
            ))
        });
        let mut changes = ChangeSet::default();
        let mut failures = Vec::new();
        for current in 0..=3 {
            let mut apis = Vec::new();
            for (id, version) in refs.iter().filter(|(id, _)| batch(id) == current) {
                match self.api_for(id, version).await {
                    Ok(api) => apis.push((id.clone(), version.clone(), api)),
                    Err(error) if after_failure == AfterFailure::Stop => {
                        failures.push(error);
                        return Ok((changes, failures));
                    }
                    Err(error) => failures.push(error),
                }
            }
            let results: Vec<Result<Change, ApplyError>> =
                futures::stream::iter(apis.into_iter().map(|(id, version, api)| async move {
                    let action = match api {
                        Some(api) => self.prune_one(&id, &api).await?,
                        None => Action::Deleted,
                    };
                    Ok(Change {
                        id,
                        version,
                        action,
                    })
                }))
                .buffered(self.concurrency())
                .collect()
                .await;
            for result in results {
                match result {
                    Ok(change) => changes.entries.push(change),
                    Err(error) => failures.push(error),
                }
            }
            if after_failure == AfterFailure::Stop && !failures.is_empty() {
                break;
            }
        }
        Ok((changes, failures))
    }

    async fn prune_one(
        &self,
        id: &ObjectId,
        api: &Api<DynamicObject>,
    ) -> Result<Action, ApplyError> {
        let object = subject(id);
        let Some(live) = api
            .get_opt(&id.name)
            .await
            .map_err(|e| api_error(&object, "read", e))?
            .map(to_value)
        else {
            return Ok(Action::Deleted);
        };
        if reconcile_disabled(&live) {
            return Ok(Action::Skipped(format!(
                "{}: {}",
                annotations::RECONCILE,
                annotations::DISABLED
            )));
        }
        let annotation = live
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(annotations::PRUNE))
            .and_then(Value::as_str);
        if annotation.is_some_and(|v| v.eq_ignore_ascii_case(annotations::DISABLED)) {
            return Ok(Action::Skipped(format!(
                "{}: {}",
                annotations::PRUNE,
                annotations::DISABLED
            )));
        }
        let labels = live.pointer("/metadata/labels");
        for (key, value) in &self.options.owner_labels {
            if labels.and_then(|l| l.get(key)).and_then(Value::as_str) != Some(value) {
                return Ok(Action::Skipped(format!(
                    "not owned any more: label {key}={value} is missing"
                )));
            }
        }
        tracing::debug!(object = %object, "pruning");
        match api.delete(&id.name, &DeleteParams::background()).await {
            Ok(_) => Ok(Action::Deleted),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::Deleted),
            Err(err) => Err(api_error(&object, "delete", err)),
        }
    }

    /// The API of an inventory entry's kind, or `None` when the cluster no
    /// longer serves it.
    pub(crate) async fn api_for(
        &self,
        id: &ObjectId,
        version: &str,
    ) -> Result<Option<Api<DynamicObject>>, ApplyError> {
        let api_version = if id.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", id.group)
        };
        let resolved = self
            .kinds
            .resolve(&self.client, &api_version, &id.kind)
            .await
            .map_err(|source| ApplyError::Api {
                object: subject(id),
                action: "discovery",
                source,
            })?;
        Ok(resolved.map(|r| {
            if r.namespaced {
                Api::namespaced_with(self.client.clone(), &id.namespace, &r.resource)
            } else {
                Api::all_with(self.client.clone(), &r.resource)
            }
        }))
    }
}
