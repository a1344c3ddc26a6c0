//! What a HelmRelease's spec asks of each action: refused fields,
//! remediation rules, timeouts, CRD and hook settings, the identity it acts
//! as (impersonation), how its objects are applied, its dependencies.

use std::collections::BTreeMap;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::helmrelease::ReleaseAction;
use driftless_api::{FluxObject, HelmRelease, Kustomization};
use driftless_apply::{Applier, ApplyOptions, IgnoreRule, IgnoreTarget};
use kube::ResourceExt;
use kube::api::Api;

use super::release::ActionSettings;
use super::{FIELD_MANAGER, chart_source};
use crate::Context;
use crate::reconciler::ReconcileError;

/// A spec field we cannot honour yet: refused rather than ignored.
pub(super) fn unsupported_field(hr: &HelmRelease) -> Option<&'static str> {
    hr.spec.kube_config.is_some().then_some("kubeConfig")
}

pub(super) fn remediation_rules(
    hr: &HelmRelease,
    action: ReleaseAction,
) -> driftless_api::helmrelease::Remediation {
    let ignore_tests = hr.spec.test.as_ref().is_some_and(|t| t.ignore_failures);
    match action {
        ReleaseAction::Install => hr
            .spec
            .install
            .as_ref()
            .and_then(|i| i.remediation.clone())
            .unwrap_or_default()
            .rules(ignore_tests),
        ReleaseAction::Upgrade => hr
            .spec
            .upgrade
            .as_ref()
            .and_then(|u| u.remediation.clone())
            .unwrap_or_default()
            .rules(ignore_tests),
    }
}

/// Whether the action a render is for (an upgrade when a release is on
/// record) has `disableSchemaValidation`, which Flux hands to Helm's
/// install or upgrade.
pub(super) fn schema_validation_disabled(hr: &HelmRelease, is_upgrade: bool) -> bool {
    if is_upgrade {
        hr.spec
            .upgrade
            .as_ref()
            .is_some_and(|upgrade| upgrade.disable_schema_validation)
    } else {
        hr.spec
            .install
            .as_ref()
            .is_some_and(|install| install.disable_schema_validation)
    }
}

pub(super) fn action_timeout(
    hr: &HelmRelease,
    own: Option<&driftless_api::GoDuration>,
) -> Duration {
    own.and_then(|t| t.to_std().ok())
        .unwrap_or_else(|| hr.timeout())
}

pub(super) fn action_settings(hr: &HelmRelease, action: ReleaseAction) -> ActionSettings {
    let max_history = usize::try_from(hr.max_history()).unwrap_or(0);
    match action {
        ReleaseAction::Install => {
            let install = hr.spec.install.clone().unwrap_or_default();
            ActionSettings {
                action,
                crds: install.crds_policy(),
                wait: !install.disable_wait,
                hooks: !install.disable_hooks,
                timeout: action_timeout(hr, install.timeout.as_ref()),
                max_history,
            }
        }
        ReleaseAction::Upgrade => {
            let upgrade = hr.spec.upgrade.clone().unwrap_or_default();
            ActionSettings {
                action,
                crds: upgrade.crds_policy(),
                wait: !upgrade.disable_wait,
                hooks: !upgrade.disable_hooks,
                timeout: action_timeout(hr, upgrade.timeout.as_ref()),
                max_history,
            }
        }
    }
}

/// The client `hr` reads values and writes release records with: its
/// service account when it names one.
pub(super) fn identity_client(
    hr: &HelmRelease,
    context: &Context,
) -> Result<kube::Client, ReconcileError> {
    match &hr.spec.service_account_name {
        None => Ok(context.client.clone()),
        Some(account) => {
            let namespace = hr.namespace().unwrap_or_default();
            crate::impersonation::impersonating_client(
                context,
                &namespace,
                &format!("system:serviceaccount:{namespace}:{account}"),
            )
        }
    }
}

pub(super) fn apply_options(hr: &HelmRelease) -> ApplyOptions {
    let owner_labels = BTreeMap::from([
        (chart_source::NAME_LABEL.to_owned(), hr.name_any()),
        (
            chart_source::NAMESPACE_LABEL.to_owned(),
            hr.namespace().unwrap_or_default(),
        ),
    ]);
    let ignore_rules = hr
        .spec
        .drift_detection
        .as_ref()
        .and_then(|d| d.ignore.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|rule| IgnoreRule {
            paths: rule.paths,
            target: rule.target.map(|t| IgnoreTarget {
                group: t.group,
                version: t.version,
                kind: t.kind,
                name: t.name,
                namespace: t.namespace,
                label_selector: t.label_selector,
                annotation_selector: t.annotation_selector,
            }),
        })
        .collect();
    ApplyOptions {
        field_manager: FIELD_MANAGER.to_owned(),
        owner_labels,
        force: hr.spec.upgrade.as_ref().is_some_and(|u| u.force),
        concurrency: 8,
        ignore_rules,
        default_namespace: Some(hr.release_namespace().to_owned()),
    }
}

pub(super) fn applier_for(hr: &HelmRelease, context: &Context) -> Result<Applier, ReconcileError> {
    let options = apply_options(hr);
    crate::impersonation::applier_as(
        context,
        &hr.namespace().unwrap_or_default(),
        hr.spec.service_account_name.as_deref(),
        options,
    )
}

/// A hook from a release record, for uninstall hooks.
pub(super) fn chart_hook(hook: &driftless_apply::release::Hook) -> driftless_chart::Hook {
    driftless_chart::Hook {
        name: hook.name.clone(),
        kind: hook.kind.clone(),
        source: hook.path.clone(),
        content: hook.manifest.clone(),
        events: hook.events.clone(),
        weight: hook.weight,
        delete_policies: hook.delete_policies.clone(),
        output_log_policies: hook.output_log_policies.clone(),
    }
}

/// `dependsOn`: HelmReleases (or Kustomizations, by `kind`) that must be
/// Ready for their current generation.
pub(super) async fn dependencies_ready(
    hr: &HelmRelease,
    context: &Context,
) -> Result<(), ReconcileError> {
    let own_namespace = hr.namespace().unwrap_or_default();
    for dependency in hr.spec.depends_on.iter().flatten() {
        let namespace = dependency
            .namespace
            .clone()
            .unwrap_or_else(|| own_namespace.clone());
        let label = format!("'{namespace}/{}'", dependency.name);
        if context.options.no_cross_namespace_refs && namespace != own_namespace {
            return Err(ReconcileError::stalled(
                reasons::DEPENDENCY_NOT_READY,
                format!(
                    "dependency {label} is in another namespace and cross-namespace references are blocked"
                ),
            ));
        }
        let read_failed = |e: kube::Error| {
            ReconcileError::retryable(
                reasons::DEPENDENCY_NOT_READY,
                format!("cannot read dependency {label}: {e}"),
            )
        };
        let ready = match dependency.kind.as_deref() {
            None | Some("HelmRelease") => {
                Api::<HelmRelease>::namespaced(context.client.clone(), &namespace)
                    .get_opt(&dependency.name)
                    .await
                    .map_err(read_failed)?
                    .is_some_and(|dep| dep.is_ready())
            }
            Some("Kustomization") => {
                Api::<Kustomization>::namespaced(context.client.clone(), &namespace)
                    .get_opt(&dependency.name)
                    .await
                    .map_err(read_failed)?
                    .is_some_and(|dep| dep.is_ready())
            }
            Some(other) => {
                return Err(ReconcileError::stalled(
                    reasons::DEPENDENCY_NOT_READY,
                    format!(
                        "dependency {label}: kind {other} is not supported; use HelmRelease or Kustomization"
                    ),
                ));
            }
        };
        if !ready {
            return Err(ReconcileError::retryable(
                reasons::DEPENDENCY_NOT_READY,
                format!("dependency {label} is not ready"),
            ));
        }
    }
    Ok(())
}
