//! Health after an apply: `wait` checks everything applied, `healthChecks`
//! the listed objects, each by kstatus (the apply crate's rules).

use std::time::{Duration, Instant};

use driftless_api::Kustomization;
use driftless_api::inventory::{ObjectId, ResourceInventory, ResourceRef};
use kube::ResourceExt;

use super::identity::applier_for;
use crate::Context;

/// `wait` checks everything applied; `healthChecks` the listed objects.
pub(super) async fn check_health(
    ks: &Kustomization,
    context: &Context,
    inventory: &ResourceInventory,
) -> Result<Option<Duration>, String> {
    let targets: Vec<ResourceRef> = if ks.spec.wait {
        inventory.entries.clone()
    } else {
        let own_namespace = ks.namespace().unwrap_or_default();
        ks.spec
            .health_checks
            .iter()
            .flatten()
            .map(|check| {
                let (group, version) = match check
                    .api_version
                    .as_deref()
                    .unwrap_or("v1")
                    .rsplit_once('/')
                {
                    Some((group, version)) => (group.to_owned(), version.to_owned()),
                    None => (
                        String::new(),
                        check.api_version.clone().unwrap_or_else(|| "v1".to_owned()),
                    ),
                };
                let namespace = check
                    .namespace
                    .clone()
                    .unwrap_or_else(|| own_namespace.clone());
                ResourceRef::new(
                    &ObjectId::new(namespace, check.name.clone(), group, check.kind.clone()),
                    version,
                )
            })
            .collect()
    };
    if targets.is_empty() {
        return Ok(None);
    }
    let timeout = ks.timeout().unwrap_or(Duration::from_secs(300));
    let started = Instant::now();
    applier_for(ks, context)
        .map_err(|error| error.message)?
        .wait_healthy(&targets, timeout)
        .await
        .map(|()| Some(started.elapsed()))
        .map_err(|e| e.to_string())
}
