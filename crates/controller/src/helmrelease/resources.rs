//! The objects a release record's manifest names, and which of them a Helm
//! action may delete: Helm's `helm.sh/resource-policy: keep`.
//!
//! Owns turning a manifest into inventory entries (the scope of each kind
//! from discovery, so a cluster-scoped object gets no namespace and a
//! namespaced one without a namespace gets the release's) and the two keep
//! rules Helm has, which differ (helm/helm `pkg/kube/client.go` `Update`,
//! `pkg/action/resource_policy.go`):
//! - an upgrade or rollback deletes what the current release had and the
//!   new one has not, unless the *live* object is annotated exactly `keep`;
//! - an uninstall reads the annotation from the *manifest*, trimmed and in
//!   any case; an object whose policy is some other value is neither kept
//!   nor deleted (Helm leaves it out of both lists), and so stays.
//!
//! Must not delete anything itself: `release` prunes what this leaves.

use std::collections::{BTreeSet, HashMap};

use driftless_api::conditions::reasons;
use driftless_api::inventory::{ObjectId, ResourceRef};
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::discovery::{ApiResource, Scope};
use serde_json::Value as Json;

use crate::reconciler::ReconcileError;

/// Helm's resource policy annotation.
pub(super) const RESOURCE_POLICY: &str = "helm.sh/resource-policy";
/// The policy that keeps an object when Helm would delete it.
pub(super) const KEEP: &str = "keep";

/// One object of a manifest and its resource policy there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ManifestObject {
    pub entry: ResourceRef,
    /// `helm.sh/resource-policy` as the manifest sets it.
    pub policy: Option<String>,
}

/// Kinds looked up once per action: the resource serving each
/// (apiVersion, kind), `None` when the cluster serves no such kind.
pub(super) struct Kinds<'a> {
    client: &'a kube::Client,
    known: HashMap<(String, String), Option<(ApiResource, bool)>>,
}

impl<'a> Kinds<'a> {
    pub(super) fn new(client: &'a kube::Client) -> Kinds<'a> {
        Kinds {
            client,
            known: HashMap::new(),
        }
    }

    /// The resource serving `kind` at `api_version` and whether it is
    /// namespaced; `None` when the cluster does not serve it (its objects
    /// cannot exist, so there is nothing to delete).
    async fn resolve(
        &mut self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<(ApiResource, bool)>, ReconcileError> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(known) = self.known.get(&key) {
            return Ok(known.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = match kube::discovery::pinned_kind(self.client, &gvk).await {
            Ok((resource, capabilities)) => {
                Some((resource, capabilities.scope == Scope::Namespaced))
            }
            Err(kube::Error::Discovery(_)) => None,
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(error) => {
                return Err(ReconcileError::retryable(
                    reasons::RECONCILIATION_FAILED,
                    format!("cannot discover {kind} in {api_version}: {error}"),
                ));
            }
        };
        self.known.insert(key, found.clone());
        Ok(found)
    }

    /// The objects `manifest` names, with namespaced objects without a
    /// namespace in `release_namespace`. Objects of kinds the cluster does
    /// not serve are left out.
    pub(super) async fn manifest_objects(
        &mut self,
        manifest: &str,
        release_namespace: &str,
    ) -> Result<Vec<ManifestObject>, ReconcileError> {
        let docs = driftless_render::yaml::parse_manifests(manifest).map_err(|e| {
            ReconcileError::retryable(
                reasons::RECONCILIATION_FAILED,
                format!("a release manifest is not YAML: {e}"),
            )
        })?;
        let mut objects = Vec::new();
        for doc in docs {
            let object = driftless_render::to_json(&doc);
            let text = |pointer: &str| object.pointer(pointer).and_then(Json::as_str);
            let (Some(api_version), Some(kind), Some(name)) =
                (text("/apiVersion"), text("/kind"), text("/metadata/name"))
            else {
                continue;
            };
            let Some((_, namespaced)) = self.resolve(api_version, kind).await? else {
                continue;
            };
            let namespace = if namespaced {
                text("/metadata/namespace").unwrap_or(release_namespace)
            } else {
                ""
            };
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            objects.push(ManifestObject {
                entry: ResourceRef::new(&ObjectId::new(namespace, name, group, kind), version),
                policy: object
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(RESOURCE_POLICY))
                    .and_then(Json::as_str)
                    .map(str::to_owned),
            });
        }
        Ok(objects)
    }

    /// Splits `stale` into what an upgrade or rollback deletes and what it
    /// keeps because the live object says `helm.sh/resource-policy: keep`
    /// (exactly, as Helm compares it). Objects already gone are left in the
    /// first list; prune counts them as deleted.
    pub(super) async fn without_kept_live(
        &mut self,
        stale: Vec<ResourceRef>,
    ) -> Result<(Vec<ResourceRef>, Vec<ResourceRef>), ReconcileError> {
        let (mut delete, mut keep) = (Vec::new(), Vec::new());
        for entry in stale {
            if self.live_policy(&entry).await?.as_deref() == Some(KEEP) {
                keep.push(entry);
            } else {
                delete.push(entry);
            }
        }
        Ok((delete, keep))
    }

    /// The live object's resource policy, `None` when it has none or is gone.
    async fn live_policy(&mut self, entry: &ResourceRef) -> Result<Option<String>, ReconcileError> {
        let Ok(id) = entry.object_id() else {
            return Ok(None);
        };
        let api_version = if id.group.is_empty() {
            entry.version.clone()
        } else {
            format!("{}/{}", id.group, entry.version)
        };
        let Some((resource, namespaced)) = self.resolve(&api_version, &id.kind).await? else {
            return Ok(None);
        };
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(self.client.clone(), &id.namespace, &resource)
        } else {
            Api::all_with(self.client.clone(), &resource)
        };
        let live = api.get_opt(&id.name).await.map_err(|e| {
            ReconcileError::retryable(
                reasons::RECONCILIATION_FAILED,
                format!(
                    "cannot read {} to check its {RESOURCE_POLICY}: {e}",
                    driftless_apply::subject(&id)
                ),
            )
        })?;
        Ok(live.and_then(|object| {
            object
                .metadata
                .annotations
                .and_then(|mut a| a.remove(RESOURCE_POLICY))
        }))
    }
}

/// What an uninstall deletes of `inventory` and of the last record's
/// `manifest`, by Helm's uninstall rule (the manifest's annotation): the
/// entries to delete, and the manifest's objects kept by `keep`.
pub(super) fn uninstall_split(
    inventory: &[ResourceRef],
    manifest: &[ManifestObject],
) -> (Vec<ResourceRef>, Vec<ResourceRef>) {
    let mut spared = BTreeSet::new();
    let mut kept = Vec::new();
    for object in manifest {
        if let Some(policy) = &object.policy {
            spared.insert(object.entry.id.clone());
            if policy.trim().eq_ignore_ascii_case(KEEP) {
                kept.push(object.entry.clone());
            }
        }
    }
    let delete = union(inventory, manifest.iter().map(|o| &o.entry))
        .into_iter()
        .filter(|entry| !spared.contains(&entry.id))
        .collect();
    (delete, kept)
}

/// `first` then the entries of `more` whose id it does not have.
pub(super) fn union<'a>(
    first: &[ResourceRef],
    more: impl IntoIterator<Item = &'a ResourceRef>,
) -> Vec<ResourceRef> {
    let mut seen: BTreeSet<String> = first.iter().map(|e| e.id.clone()).collect();
    let mut all = first.to_vec();
    for entry in more {
        if seen.insert(entry.id.clone()) {
            all.push(entry.clone());
        }
    }
    all
}

/// `kept` as Helm lists kept resources: `[Kind] name`, one a line.
pub(super) fn kept_list(kept: &[ResourceRef]) -> String {
    kept.iter()
        .filter_map(|entry| entry.object_id().ok())
        .map(|id| format!("[{}] {}", id.kind, id.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(namespace: &str, name: &str) -> ResourceRef {
        ResourceRef::new(&ObjectId::new(namespace, name, "", "ConfigMap"), "v1")
    }

    fn object(name: &str, policy: Option<&str>) -> ManifestObject {
        ManifestObject {
            entry: entry("apps", name),
            policy: policy.map(str::to_owned),
        }
    }

    #[test]
    fn uninstall_keeps_by_the_manifest_and_spares_other_policies() {
        let inventory = [entry("apps", "a"), entry("apps", "only-in-inventory")];
        let manifest = [
            object("a", None),
            object("kept", Some(" Keep ")),
            object("odd", Some("delete")),
            object("new", None),
        ];
        let (delete, kept) = uninstall_split(&inventory, &manifest);
        let ids = |list: &[ResourceRef]| list.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&delete),
            [
                "apps_a__ConfigMap",
                "apps_only-in-inventory__ConfigMap",
                "apps_new__ConfigMap"
            ]
        );
        assert_eq!(ids(&kept), ["apps_kept__ConfigMap"]);
        assert_eq!(kept_list(&kept), "[ConfigMap] kept");
    }

    #[test]
    fn union_keeps_the_first_order_and_drops_repeats() {
        let all = union(
            &[entry("a", "x"), entry("a", "y")],
            &[entry("a", "y"), entry("b", "x")],
        );
        assert_eq!(all, [entry("a", "x"), entry("a", "y"), entry("b", "x")]);
    }
}
