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

/// How a remediation ended: the `Remediated` condition's reason and
/// message, and the record it left when it succeeded.
pub(super) struct Remediation {
    /// The rollback's or uninstall's record, for the status history; none
    /// when the remediation failed.
    pub snapshot: Option<Snapshot>,
    pub reason: &'static str,
    pub message: String,
}

impl Remediation {
    pub fn succeeded(&self) -> bool {
        self.snapshot.is_some()
    }
}

/// Rolls back to the last deployed revision, or uninstalls, as the
/// remediation strategy says. A remediation that fails is reported (as
/// Flux reports it: `Remediated` False, `RollbackFailed` or
/// `UninstallFailed`) and leaves the failed release as it is.
pub(super) async fn remediate(
    hr: &HelmRelease,
    target: &ReleaseTarget<'_>,
    action: ReleaseAction,
    strategy: RemediationStrategy,
    deployed: Option<&StoredRelease>,
    previous_inventory: &ResourceInventory,
    failed: Option<&StoredRelease>,
) -> Remediation {
    let timeout = hr.timeout();
    let remediation = match (action, strategy, deployed) {
        (ReleaseAction::Upgrade, RemediationStrategy::Rollback, Some(deployed)) => {
            let version = failed.map_or(deployed.release.version + 1, |f| f.release.version + 1);
            let outcome = release::rollback(
                target,
                deployed,
                version,
                (previous_inventory, failed.map(|f| &f.release)),
                timeout,
                hr.max_history(),
            )
            .await;
            let subject = format!(
                "Helm rollback to previous release {}/{}.v{} with chart {}",
                deployed.release.namespace,
                deployed.release.name,
                deployed.release.version,
                chart_label(&deployed.release)
            );
            match outcome {
                Ok(record) => Remediation {
                    snapshot: Some(status::snapshot(&record.release, "", None)),
                    reason: reasons::ROLLBACK_SUCCEEDED,
                    message: format!("{subject} succeeded"),
                },
                Err(error) => Remediation {
                    snapshot: None,
                    reason: reasons::ROLLBACK_FAILED,
                    message: format!("{subject} failed: {}", error.message),
                },
            }
        }
        _ => {
            let name = target.name;
            let manifest = failed.map_or("", |f| f.release.manifest.as_str());
            let outcome = release::uninstall(
                target,
                (previous_inventory, manifest),
                None,
                false,
                true,
                timeout,
            )
            .await;
            let namespace = hr.release_namespace();
            match outcome {
                Ok(()) => {
                    let record = failed.map_or_else(Default::default, |f| {
                        let mut release = f.release.clone();
                        release.set_status(Status::Uninstalled, "Uninstallation complete");
                        release
                    });
                    Remediation {
                        snapshot: Some(status::snapshot(&record, "", None)),
                        reason: reasons::UNINSTALL_SUCCEEDED,
                        message: format!("Helm uninstall for release {namespace}/{name} succeeded"),
                    }
                }
                Err(error) => {
                    let chart = failed.map(|f| chart_label(&f.release)).unwrap_or_default();
                    Remediation {
                        snapshot: None,
                        reason: reasons::UNINSTALL_FAILED,
                        message: format!(
                            "Helm uninstall failed for release {namespace}/{name} with chart {chart}: {}",
                            error.message
                        ),
                    }
                }
            }
        }
    };
    if !remediation.succeeded() {
        tracing::warn!(namespace = %hr.namespace().unwrap_or_default(), name = %hr.name_any(), message = %remediation.message, "remediation failed");
    }
    remediation
}

fn chart_label(release: &driftless_apply::release::Release) -> String {
    release
        .chart
        .as_ref()
        .and_then(|c| c.metadata.as_ref())
        .map(|m| format!("{}@{}", m.name, m.version))
        .unwrap_or_default()
}
