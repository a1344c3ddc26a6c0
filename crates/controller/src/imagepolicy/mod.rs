//! The `ImagePolicy` reconciler (Flux's image-reflector-controller): the
//! referred ImageRepository (same namespace, or another one whose
//! `accessFrom` admits the policy's) → its scanned tags, in memory → the
//! tag the rule elects (`driftless_image::policy`) → `status.latestRef`,
//! with the digest read from the registry as `digestReflectionPolicy` says.
//!
//! A policy is evaluated again whenever a repository it refers to changes
//! (a watch maps each ImageRepository to the policies naming it) and
//! whenever a scan changes the tags held in memory (announced by the
//! [`TagStore`](crate::imagerepository::TagStore)), so a scan that finds a
//! new tag moves the policy at once. Until the repository has been scanned
//! the policy waits (`DependencyNotReady`), retried at
//! `--requeue-dependency` — except after a restart, when a policy that had
//! elected an image from a repository that had been scanned keeps its
//! status untouched until the first scan refills memory.

mod rule;
mod status;

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::{self, reasons, types};
use driftless_api::image::{ImagePolicy, ImagePolicyStatus, ImageRef, ReflectionPolicy};
use driftless_api::{FluxObject as _, ImageRepository};
use driftless_source::oci::{ImageName, tag_digest};
use futures::StreamExt as _;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use crate::imagerepository::{registry_access, registry_message};
use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Stamp};
use crate::{Context, duration_of};

/// How often a policy without `interval` is evaluated again from memory
/// (no registry call), besides every change of its repository.
const REEVALUATE: Duration = Duration::from_secs(60 * 60);

/// Reconciles ImagePolicies until the watch ends; an ImageRepository's
/// change, and a scan that changed its tags, wake the policies that refer
/// to it.
pub(crate) async fn run(context: Arc<Context>) {
    let policies: Api<ImagePolicy> = Api::all(context.client.clone());
    let repositories: Api<ImageRepository> = Api::all(context.client.clone());
    let controller = crate::watch::controller(policies);
    let store = controller.store();
    let by_repository = move |namespace: &str, name: &str| {
        store
            .state()
            .into_iter()
            .filter(|policy| {
                let (ns, n) = repository_of(policy);
                ns == namespace && n == name
            })
            .map(|policy| ObjectRef::from_obj(&*policy))
            .collect::<Vec<_>>()
    };
    let on_scan = by_repository.clone();
    let scans = futures::stream::unfold(context.image_tags.subscribe(), |mut changes| async {
        loop {
            match changes.recv().await {
                Ok(changed) => return Some((changed, changes)),
                // Missed announcements: later ones, and the watch, still come.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .flat_map(move |(namespace, name)| futures::stream::iter(on_scan(&namespace, &name)));
    let controller = controller
        .watches_stream(crate::watch::touched(repositories), move |repo| {
            by_repository(&repo.namespace().unwrap_or_default(), &repo.name_any())
        })
        .reconcile_on(scans);
    reconciler::run(controller, context, ImagePolicies).await;
}

/// The namespace and name of the ImageRepository `policy` refers to.
fn repository_of(policy: &ImagePolicy) -> (String, String) {
    let reference = &policy.spec.image_repository_ref;
    let namespace = reference
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| policy.namespace().unwrap_or_default());
    (namespace, reference.name.clone())
}

/// The ImagePolicy kind's reconcile logic.
pub(crate) struct ImagePolicies;

impl Reconciler for ImagePolicies {
    type Object = ImagePolicy;
    type Status = ImagePolicyStatus;

    fn status(policy: &ImagePolicy) -> Option<&ImagePolicyStatus> {
        policy.status.as_ref()
    }

    fn conditions(status: &ImagePolicyStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        policy: &ImagePolicy,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<ImagePolicyStatus>, ReconcileError> {
        let context = run.context;
        let spec = &policy.spec;
        let reflection = spec.digest_reflection_policy.unwrap_or_default();
        let requeue = match (&spec.interval, reflection) {
            (None, ReflectionPolicy::Always) => {
                return Err(ReconcileError::stalled(
                    reasons::INTERVAL_NOT_CONFIGURED,
                    "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'",
                ));
            }
            (Some(interval), ReflectionPolicy::Always) => duration_of("interval", interval)
                .map_err(|m| ReconcileError::stalled(reasons::INTERVAL_NOT_CONFIGURED, m))?,
            _ => REEVALUATE,
        };
        let rule = rule::compile(spec)?;
        let repo = repository(policy, context).await?;
        let image = ImageName::parse(&repo.spec.image).map_err(|e| {
            ReconcileError::stalled(
                reasons::IMAGE_URL_INVALID,
                format!(
                    "ImageRepository '{}/{}': {}",
                    repo.namespace().unwrap_or_default(),
                    repo.name_any(),
                    crate::error_chain(&e)
                ),
            )
        })?;
        let (repo_ns, repo_name) = repository_of(policy);
        let scanned = context
            .image_tags
            .get(&repo_ns, &repo_name)
            .filter(|s| s.canonical == image.canonical() && !s.tags.is_empty());
        let restarted = policy.latest_ref().is_some()
            && policy.observed_generation() == policy.metadata.generation
            && repo
                .status
                .as_ref()
                .is_some_and(|s| s.last_scan_result.as_ref().is_some_and(|r| r.tag_count > 0));
        let wait = context.options.dependency_requeue;
        if scanned.is_none() && restarted && run.stamp.requested.is_none() {
            // Memory was lost with a restart, not the tags: the first scan
            // announces them; until then the elected image stands.
            return Ok(Outcome::NotDue(wait));
        }
        let scanned = scanned.ok_or_else(|| not_scanned(&repo_ns, &repo_name, wait))?;
        let tag =
            driftless_image::policy::latest(&scanned.tags, rule.filter.as_ref(), &rule.policy)
                .map_err(|e| ReconcileError::retryable(reasons::FAILURE, crate::error_chain(&e)))?
                .ok_or_else(|| no_match(spec, &repo_ns, &repo_name, scanned.tags.len()))?;
        let name = repo.spec.image.clone();
        let previous = policy.latest_ref();
        let digest = match status::digest_needed(reflection, previous, &name, &tag) {
            status::Digest::Keep(digest) => digest,
            status::Digest::Fetch => {
                let (auth, options) = registry_access(&repo, &image, context).await?;
                tag_digest(&image, &tag, &auth, &options)
                    .await
                    .map_err(|e| {
                        ReconcileError::retryable(
                            reasons::FAILURE,
                            format!(
                                "failed fetching digest of {name}:{tag}: {}",
                                registry_message(&e)
                            ),
                        )
                    })?
            }
        };
        let latest = ImageRef { name, tag, digest };
        let old = policy.status.clone().unwrap_or_default();
        let old_message = status::ready_message(&old);
        let was_ready = conditions::is_true(policy.conditions(), types::READY);
        let new = status::elected(policy, old, latest, &run.stamp);
        let message = status::ready_message(&new);
        // Flux's events: on becoming ready, and when the elected image (so
        // the Ready message) changed.
        let events = if !was_ready || message != old_message {
            vec![Event::normal(reasons::SUCCEEDED, message)]
        } else {
            Vec::new()
        };
        let revision = new.latest_ref.as_ref().map(ToString::to_string);
        Ok(Outcome::Done {
            status: new,
            events,
            requeue,
            revision,
        })
    }

    fn failed_status(
        policy: &ImagePolicy,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> ImagePolicyStatus {
        status::failed(policy, error, stamp)
    }

    fn retry_interval(policy: &ImagePolicy) -> Duration {
        policy
            .spec
            .interval
            .as_ref()
            .and_then(|i| duration_of("interval", i).ok())
            .unwrap_or(Duration::from_secs(60))
    }

    async fn cleanup(&self, _: &ImagePolicy, _: &Context) -> Result<(), ReconcileError> {
        Ok(())
    }
}

/// Flux's wait for a repository without tags (`DependencyNotReady`),
/// retried after `wait`.
fn not_scanned(namespace: &str, name: &str, wait: Duration) -> ReconcileError {
    ReconcileError::retryable(
        reasons::DEPENDENCY_NOT_READY,
        format!(
            "retrying in {}s error: no tags in database: ImageRepository '{namespace}/{name}' has not been scanned yet, or found no tags",
            wait.as_secs()
        ),
    )
    .retry_after(wait)
}

/// No tag passes the rule: retried (a push may bring one), naming the rule.
fn no_match(
    spec: &driftless_api::image::ImagePolicySpec,
    namespace: &str,
    name: &str,
    tags: usize,
) -> ReconcileError {
    ReconcileError::retryable(
        reasons::FAILURE,
        format!(
            "no tag of ImageRepository '{namespace}/{name}' ({tags} tags) matches {}; push a matching tag or change spec.policy",
            rule::describe(spec)
        ),
    )
}

/// The ImageRepository `policy` refers to, if it exists and admits it.
async fn repository(
    policy: &ImagePolicy,
    context: &Context,
) -> Result<ImageRepository, ReconcileError> {
    let (namespace, name) = repository_of(policy);
    let own = policy.namespace().unwrap_or_default();
    let failed = |reason, message: String| {
        ReconcileError::retryable(
            reason,
            format!("failed to get the referred ImageRepository: {message}"),
        )
    };
    // Checked before reading the repository, as Flux does.
    if context.options.no_cross_namespace_refs && namespace != own {
        let denied = crate::acl::Denied::Blocked {
            kind: "ImageRepository",
            namespace,
            name,
        };
        return Err(failed(reasons::ACCESS_DENIED, denied.to_string()));
    }
    let repo = Api::<ImageRepository>::namespaced(context.client.clone(), &namespace)
        .get_opt(&name)
        .await
        .map_err(|e| failed(reasons::FAILURE, e.to_string()))?
        .ok_or_else(|| {
            failed(
                reasons::DEPENDENCY_NOT_READY,
                format!("referenced ImageRepository '{namespace}/{name}' does not exist"),
            )
            .retry_after(context.options.dependency_requeue)
        })?;
    crate::acl::check(
        &context.client,
        context.options.no_cross_namespace_refs,
        &own,
        "ImageRepository",
        (&namespace, &name),
        repo.spec.access_from.as_ref(),
    )
    .await
    .map_err(|denied| {
        failed(
            reasons::ACCESS_DENIED,
            format!("access denied: {}", crate::error_chain(&denied)),
        )
    })?;
    Ok(repo)
}
