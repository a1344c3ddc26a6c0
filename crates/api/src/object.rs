//! What every Flux kind shares, behind one trait: the status accessors the
//! reconciler scaffold, the CLI and the benchmarks read, and the identity
//! (field manager, controller name) each kind writes with.
//!
//! Owns the accessors only; must not decide anything (readiness rules live
//! with the reconcilers and the CLI). One trait instead of one per caller,
//! so a new kind is readable everywhere once it implements it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::conditions::{self, types};
use crate::{
    Alert, ArtifactGenerator, ExternalArtifact, GitRepository, HelmChart, HelmRelease,
    HelmRepository, ImagePolicy, ImageRepository, ImageUpdateAutomation, Kustomization,
    OCIRepository, Provider, Receiver,
};

/// Field managers and event sources, named as Flux names its controllers,
/// so clusters Flux managed are adopted field by field.
pub mod managers {
    /// Server-side apply by Kustomizations (Flux's kustomize-controller).
    pub const KUSTOMIZE_CONTROLLER: &str = "kustomize-controller";
    /// Writes by the source reconcilers (Flux's source-controller).
    pub const SOURCE_CONTROLLER: &str = "source-controller";
    /// Writes by the receivers (reconcile requests), as Flux's notification-controller.
    pub const NOTIFICATION_CONTROLLER: &str = "notification-controller";
    /// Writes by the ImageRepository and ImagePolicy reconcilers (Flux's image-reflector-controller).
    pub const IMAGE_REFLECTOR_CONTROLLER: &str = "image-reflector-controller";
    /// Writes by the ImageUpdateAutomation reconciler (Flux's image-automation-controller).
    pub const IMAGE_AUTOMATION_CONTROLLER: &str = "image-automation-controller";
    /// Writes by the ArtifactGenerator reconciler (Flux's source-watcher).
    pub const SOURCE_WATCHER: &str = "source-watcher";
    /// Writes by the `driftless` command line (annotations, suspend).
    pub const CLI: &str = "driftless";
    /// The component named in the Events the controller records.
    pub const EVENT_SOURCE: &str = "driftless-controller";
}

/// The status every Flux kind reports, read the same way for all of them.
pub trait FluxObject {
    /// The kind's name, as in `apiVersion`/`kind` (`GitRepository`).
    const KIND: &'static str;
    /// Whether a controller reconciles the kind and reports a status;
    /// Flux's v1beta3 Providers and Alerts are read as they are.
    const RECONCILED: bool = true;
    /// `spec.suspend`.
    fn suspended(&self) -> bool;
    /// `status.conditions`, empty when there are none.
    fn status_conditions(&self) -> &[Condition];
    /// `status.lastHandledReconcileAt`.
    fn last_handled_reconcile_at(&self) -> Option<&str>;
    /// `status.observedGeneration`.
    fn observed_generation(&self) -> Option<i64>;
    /// The revision the status reports: fetched for sources, applied for
    /// appliers.
    fn revision(&self) -> Option<&str>;

    /// `Ready=True` for the current generation.
    fn is_ready(&self) -> bool
    where
        Self: kube::Resource,
    {
        self.observed_generation() == self.meta().generation
            && conditions::is_true(self.status_conditions(), types::READY)
    }
}

/// A reconciled kind: the accessors read its `status`, and `revision`
/// is the status field the expression names.
macro_rules! reconciled_kind {
    ($kind:ty, $name:literal, |$status:ident| $revision:expr) => {
        impl FluxObject for $kind {
            const KIND: &'static str = $name;
            fn suspended(&self) -> bool {
                self.spec.suspend
            }
            fn status_conditions(&self) -> &[Condition] {
                self.conditions()
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.status.as_ref()?.last_handled_reconcile_at.as_deref()
            }
            fn observed_generation(&self) -> Option<i64> {
                self.status.as_ref()?.observed_generation
            }
            fn revision(&self) -> Option<&str> {
                let $status = self.status.as_ref()?;
                $revision
            }
        }
    };
}

reconciled_kind!(GitRepository, "GitRepository", |status| status
    .artifact
    .as_ref()
    .map(|a| a.revision.as_str()));
reconciled_kind!(HelmRepository, "HelmRepository", |status| status
    .artifact
    .as_ref()
    .map(|a| a.revision.as_str()));
reconciled_kind!(HelmChart, "HelmChart", |status| status
    .artifact
    .as_ref()
    .map(|a| a.revision.as_str()));
reconciled_kind!(OCIRepository, "OCIRepository", |status| status
    .artifact
    .as_ref()
    .map(|a| a.revision.as_str()));
// A HelmRelease reports the chart version it last released.
reconciled_kind!(HelmRelease, "HelmRelease", |status| status
    .history
    .as_ref()?
    .iter()
    .max_by_key(|s| s.version)
    .map(|s| s.chart_version.as_str()));
reconciled_kind!(Kustomization, "Kustomization", |status| status
    .last_applied_revision
    .as_deref());
// An ImageRepository's revision is the hash of the tags it scanned.
reconciled_kind!(ImageRepository, "ImageRepository", |status| status
    .last_scan_result
    .as_ref()
    .map(|r| r.revision.as_str()));
// An ImagePolicy reports the tag it elected.
reconciled_kind!(ImagePolicy, "ImagePolicy", |status| status
    .latest_ref
    .as_ref()
    .map(|r| r.tag.as_str()));
// An automation reports the commit it pushed last.
reconciled_kind!(ImageUpdateAutomation, "ImageUpdateAutomation", |status| {
    status.last_push_commit.as_deref()
});
// A Receiver's webhook path stands where sources show a revision.
reconciled_kind!(Receiver, "Receiver", |status| status
    .webhook_path
    .as_deref());

// Written by another controller; it has no `suspend`.
impl FluxObject for ExternalArtifact {
    const KIND: &'static str = "ExternalArtifact";
    fn suspended(&self) -> bool {
        false
    }
    fn status_conditions(&self) -> &[Condition] {
        self.conditions()
    }
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        None
    }
    fn observed_generation(&self) -> Option<i64> {
        self.metadata.generation
    }
    fn revision(&self) -> Option<&str> {
        self.artifact().map(|a| a.revision.as_str())
    }
}

// Suspended by an annotation (it has no `spec.suspend`); its generation
// is observed in the Ready condition, as source-watcher records it.
impl FluxObject for ArtifactGenerator {
    const KIND: &'static str = "ArtifactGenerator";
    fn suspended(&self) -> bool {
        self.is_disabled()
    }
    fn status_conditions(&self) -> &[Condition] {
        self.conditions()
    }
    fn last_handled_reconcile_at(&self) -> Option<&str> {
        self.status.as_ref()?.last_handled_reconcile_at.as_deref()
    }
    fn observed_generation(&self) -> Option<i64> {
        conditions::find(self.conditions(), types::READY)?.observed_generation
    }
    fn revision(&self) -> Option<&str> {
        self.status.as_ref()?.observed_sources_digest.as_deref()
    }
}

/// Providers and Alerts have no status: the accessors answer as for an
/// object never reconciled.
macro_rules! static_kind {
    ($kind:ty, $name:literal) => {
        impl FluxObject for $kind {
            const KIND: &'static str = $name;
            const RECONCILED: bool = false;
            fn suspended(&self) -> bool {
                self.spec.suspend
            }
            fn status_conditions(&self) -> &[Condition] {
                &[]
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                None
            }
            fn observed_generation(&self) -> Option<i64> {
                None
            }
            fn revision(&self) -> Option<&str> {
                None
            }
        }
    };
}

static_kind!(Provider, "Provider");
static_kind!(Alert, "Alert");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KustomizationStatus;

    #[test]
    fn ready_only_for_the_current_generation() {
        let mut ks = Kustomization::test("apps").at_generation(2);
        assert!(!ks.is_ready());
        let mut list = Vec::new();
        let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        );
        conditions::set_condition(&mut list, conditions::ready("Succeeded", "ok"), &now);
        ks.status = Some(KustomizationStatus {
            conditions: Some(list),
            observed_generation: Some(1),
            ..KustomizationStatus::default()
        });
        assert!(!ks.is_ready(), "status of an older generation");
        ks.status.as_mut().expect("status").observed_generation = Some(2);
        assert!(ks.is_ready());
    }
}
