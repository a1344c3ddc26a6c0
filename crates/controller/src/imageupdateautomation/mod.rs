//! The `ImageUpdateAutomation` reconciler, as Flux's
//! image-automation-controller: the selected ImagePolicies' images are
//! written into the GitRepository's files at their setter markers, committed
//! and pushed — or, in driftless's change-request mode, pushed to one branch
//! per policy with a pull/merge request each.
//!
//! A run is skipped while the policies' images, the object and the interval
//! say nothing is due; the checkout, edit, commit and push run on a blocking
//! thread ([`update`]). Nothing is committed when no file changed, and a
//! failed run leaves the branch as it was: the commit is built locally and
//! only a complete, fast-forward push changes the remote.

mod change_request;
mod policies;
mod pushes;
mod request;
mod status;
mod update;

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::image::{GitSpec, UpdateStrategyName};
use driftless_api::{
    GitRepository, ImagePolicy, ImageUpdateAutomation, ImageUpdateAutomationStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Stamp};
use crate::{Context, duration_of};

/// Reconciles ImageUpdateAutomations until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<ImageUpdateAutomation> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api);
    let by_policy = controller.store();
    let by_source = controller.store();
    let controller = controller
        // A policy electing a new image runs the automations of its namespace.
        .watches_stream(
            crate::watch::touched(Api::<ImagePolicy>::all(context.client.clone())),
            move |policy| {
                let namespace = policy.namespace();
                by_policy
                    .state()
                    .iter()
                    .filter(|a| a.namespace() == namespace)
                    .map(|a| ObjectRef::from_obj(&**a))
                    .collect::<Vec<_>>()
            },
        )
        // A new revision of the source runs the automations writing to it.
        .watches_stream(
            crate::watch::touched(Api::<GitRepository>::all(context.client.clone())),
            move |repo| {
                by_source
                    .state()
                    .iter()
                    .filter(|a| writes_to(a, &repo))
                    .map(|a| ObjectRef::from_obj(&**a))
                    .collect::<Vec<_>>()
            },
        );
    reconciler::run(controller, context, Automations::default()).await;
}

/// `namespace/name`: what the in-memory state of an automation is kept by.
fn key(automation: &ImageUpdateAutomation) -> String {
    format!(
        "{}/{}",
        automation.namespace().unwrap_or_default(),
        automation.name_any()
    )
}

/// Whether `automation`'s `sourceRef` names `repo`.
fn writes_to(automation: &ImageUpdateAutomation, repo: &GitRepository) -> bool {
    let source = &automation.spec.source_ref;
    let namespace = source.namespace.clone().or_else(|| automation.namespace());
    source.name == repo.name_any() && namespace == repo.namespace()
}

/// The ImageUpdateAutomation kind's reconcile logic.
#[derive(Default)]
pub(crate) struct Automations {
    /// Updates held for their batch window (change-request mode).
    batches: change_request::Batches,
    /// The last push of each automation, until its status shows it.
    pushes: pushes::Pushes,
}

impl Reconciler for Automations {
    type Object = ImageUpdateAutomation;
    type Status = ImageUpdateAutomationStatus;

    fn status(automation: &ImageUpdateAutomation) -> Option<&ImageUpdateAutomationStatus> {
        automation.status.as_ref()
    }

    fn conditions(status: &ImageUpdateAutomationStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        automation: &ImageUpdateAutomation,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<ImageUpdateAutomationStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &automation.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::RECONCILIATION_FAILED, message))?;
        let git = git_spec(automation)?;
        let observed = policies::selected(automation, &context.client).await?;
        let status = automation.status.clone().unwrap_or_default();
        let up_to_date = status.observed_generation == automation.metadata.generation
            && status.last_automation_run_time.is_some();
        let policies_changed = status.observed_policies != observed;
        if let Err(remaining) = run.due(up_to_date, policies_changed, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();

        let repo = source(automation, context).await?;
        let request = request::request(automation, git, &repo, &observed, context).await?;
        let change_request = git.push.as_ref().and_then(|p| p.change_request.as_ref());
        let (outcome, observed, mut events, requeue) = match change_request {
            None => {
                let outcome = tokio::task::spawn_blocking(move || update::run(&request))
                    .await
                    .map_err(|join| {
                        ReconcileError::retryable(
                            reasons::GIT_OPERATION_FAILED,
                            format!("the update task failed: {join}"),
                        )
                    })??;
                let events = outcome
                    .summary()
                    .map(|summary| Event::normal(reasons::SUCCEEDED, summary))
                    .into_iter()
                    .collect();
                (outcome, observed, events, interval)
            }
            Some(spec) => {
                let namespace = automation.namespace().unwrap_or_default();
                let settings =
                    change_request::settings(&namespace, spec, &repo, &context.client).await?;
                let key = key(automation);
                let previous = &status.observed_policies;
                let run = change_request::run(
                    settings,
                    request,
                    &self.batches,
                    &key,
                    previous,
                    &observed,
                )
                .await?;
                let requeue = run.requeue.map_or(interval, |held| held.min(interval));
                (run.outcome, run.observed, run.events, requeue)
            }
        };
        if !outcome.warnings.is_empty() {
            events.push(Event::warning(
                reasons::UPDATE_FAILED,
                format!(
                    "some setter markers were not applied:\n{}",
                    outcome.warnings.join("\n")
                ),
            ));
        }
        let revision = Some(outcome.revision.clone());
        let pushed = outcome.pushed.as_ref().map(|pushed| pushes::LastPush {
            commit: pushed.commit.clone(),
            time: run.stamp.now.clone(),
        });
        let last_push = self.pushes.record(&key(automation), pushed);
        Ok(Outcome::Done {
            status: status::completed(
                automation,
                observed,
                &outcome,
                last_push.as_ref(),
                &run.stamp,
            ),
            events,
            requeue,
            revision,
        })
    }

    fn failed_status(
        automation: &ImageUpdateAutomation,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> ImageUpdateAutomationStatus {
        status::failed(automation, error, stamp)
    }

    fn retry_interval(automation: &ImageUpdateAutomation) -> Duration {
        duration_of("interval", &automation.spec.interval).unwrap_or(Duration::from_secs(60))
    }

    async fn cleanup(
        &self,
        automation: &ImageUpdateAutomation,
        context: &Context,
    ) -> Result<(), ReconcileError> {
        let key = key(automation);
        self.batches.forget(&key);
        self.pushes.forget(&key);
        let dir = request::work_dir(automation, context);
        if let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), %error, "cannot remove the checkout of a deleted ImageUpdateAutomation");
        }
        Ok(())
    }
}

/// `spec.git` and `spec.update`, checked: a git source needs `spec.git`,
/// and `Setters` is the only strategy.
fn git_spec(automation: &ImageUpdateAutomation) -> Result<&GitSpec, ReconcileError> {
    if let Some(update) = &automation.spec.update
        && update.strategy != UpdateStrategyName::Setters
    {
        return Err(ReconcileError::stalled(
            reasons::INVALID_UPDATE_STRATEGY,
            "spec.update.strategy: only 'Setters' is supported",
        ));
    }
    automation.spec.git.as_ref().ok_or_else(|| {
        ReconcileError::stalled(
            reasons::INVALID_SOURCE_CONFIG,
            "source kind 'GitRepository' necessitates field .spec.git: add spec.git.commit.author",
        )
    })
}

/// The GitRepository of `spec.sourceRef`, where cross-namespace references
/// are allowed.
async fn source(
    automation: &ImageUpdateAutomation,
    context: &Context,
) -> Result<GitRepository, ReconcileError> {
    let own = automation.namespace().unwrap_or_default();
    let source = &automation.spec.source_ref;
    let namespace = source.namespace.clone().unwrap_or_else(|| own.clone());
    if context.options.no_cross_namespace_refs && namespace != own {
        return Err(ReconcileError::stalled(
            reasons::ACCESS_DENIED,
            format!(
                "can't access 'GitRepository/{namespace}/{}', cross-namespace references have been blocked",
                source.name
            ),
        ));
    }
    let api: Api<GitRepository> = Api::namespaced(context.client.clone(), &namespace);
    api.get_opt(&source.name)
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::GIT_OPERATION_FAILED,
                format!(
                    "failed to get referenced git repository '{namespace}/{}': {e}",
                    source.name
                ),
            )
        })?
        .ok_or_else(|| {
            ReconcileError::retryable(
                reasons::DEPENDENCY_NOT_READY,
                format!(
                    "referenced git repository '{namespace}/{}' does not exist; create it or fix spec.sourceRef",
                    source.name
                ),
            )
            .retry_after(context.options.dependency_requeue)
        })
}
