//! Remediation of a failed install or upgrade, as the HelmRelease's
//! `remediation` says: roll back to the last deployed revision (recorded as
//! Helm records "Rollback to N") or uninstall. Either one deletes what the
//! failed revision's manifest has (objects it created before it failed)
//! and the revision rolled back to has not, as Helm's do.

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_api::helmrelease::{ReleaseAction, RemediationStrategy, Snapshot};
use driftless_api::inventory::ResourceInventory;
use driftless_apply::release::{Status, StoredRelease};
use kube::ResourceExt;

use super::release::{self, ReleaseTarget};
use super::status;

/// Rolls back to the last deployed revision, or uninstalls, as the
/// remediation strategy says. A remediation that fails is logged and
/// leaves the failed release as it is.
pub(super) async fn remediate(
    hr: &HelmRelease,
    target: &ReleaseTarget<'_>,
    action: ReleaseAction,
    strategy: RemediationStrategy,
    deployed: Option<&StoredRelease>,
    previous_inventory: &ResourceInventory,
    failed: Option<&StoredRelease>,
) -> Option<(Snapshot, &'static str, String)> {
    let timeout = hr.timeout();
    let outcome = match (action, strategy, deployed) {
        (ReleaseAction::Upgrade, RemediationStrategy::Rollback, Some(deployed)) => {
            let version = failed.map_or(deployed.release.version + 1, |f| f.release.version + 1);
            release::rollback(
                target,
                deployed,
                version,
                (previous_inventory, failed.map(|f| &f.release)),
                timeout,
                hr.max_history(),
            )
            .await
            .map(|record| {
                let message = format!(
                    "Helm rollback to previous release {}/{}.v{} with chart {} succeeded",
                    deployed.release.namespace,
                    deployed.release.name,
                    deployed.release.version,
                    chart_label(&deployed.release)
                );
                (
                    status::snapshot(&record.release, "", None),
                    reasons::ROLLBACK_SUCCEEDED,
                    message,
                )
            })
        }
        _ => {
            let name = target.name;
            let manifest = failed.map_or("", |f| f.release.manifest.as_str());
            release::uninstall(
                target,
                (previous_inventory, manifest),
                None,
                false,
                true,
                timeout,
            )
            .await
            .map(|()| {
                let message = format!(
                    "Helm uninstall for release {}/{name} succeeded",
                    hr.release_namespace()
                );
                let record = failed.map_or_else(Default::default, |f| {
                    let mut release = f.release.clone();
                    release.set_status(Status::Uninstalled, "Uninstallation complete");
                    release
                });
                (
                    status::snapshot(&record, "", None),
                    reasons::UNINSTALL_SUCCEEDED,
                    message,
                )
            })
        }
    };
    match outcome {
        Ok(done) => Some(done),
        Err(error) => {
            tracing::warn!(namespace = %hr.namespace().unwrap_or_default(), name = %hr.name_any(), %error, "remediation failed");
            None
        }
    }
}

fn chart_label(release: &driftless_apply::release::Release) -> String {
    release
        .chart
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| format!("{}@{}", m.name, m.version))
        .unwrap_or_default()
}
