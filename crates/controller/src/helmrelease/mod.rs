//! The `HelmRelease` reconciler, Flux's helm-controller loop done our way:
//! dependencies → chart artifact (from a HelmChart — made for `spec.chart`
//! — or an OCIRepository) → values (`valuesFrom`, then `values`) → native
//! render → install or upgrade with server-side apply, recorded as Helm
//! records releases (so `helm list/history/get/rollback` work) → status.
//!
//! Safety rules: nothing is applied or pruned before the chart rendered
//! and the values composed; a failed upgrade leaves the last deployed
//! revision recorded as deployed, and is remediated (rolled back or
//! uninstalled) only as `spec.upgrade.remediation` / `spec.install.
//! remediation` say; a release left `pending-*` by a crash is unlocked
//! instead of blocking forever. A source that is not ready (its newest spec
//! failed, or its last fetch did) fails the release visibly and leaves the
//! deployed revision alone. A labelled ConfigMap or Secret in `valuesFrom`
//! wakes the release when it changes (Flux's watch label).
//!
//! | module | owns |
//! |---|---|
//! | `chart_source` | finding and downloading the chart artifact; the HelmChart for `spec.chart` |
//! | `fetch` | the chart a source has now, for the CLI (read only); the verified download |
//! | `values` | composing and digesting values |
//! | `render` | chart → objects, post-renderers, Helm's ownership metadata |
//! | `release` | one action on the cluster and its release record |
//! | `hooks` | Helm hooks in order, waited for as Helm waits, with delete policies and last runs |
//! | `testing` | Helm tests after a release (`spec.test`): filters, results |
//! | `outcome` | how a release ends: tests, then remediation of what failed, then status |
//! | `remediation` | rollback or uninstall after a failed action |
//! | `resources` | the objects a record's manifest names; Helm's `keep` resource policy |
//! | `preserve` | `upgrade.preserveValues` (Helm's `--reuse-values`) |
//! | `settings` | what the spec asks of each action; identity; dependencies |
//! | `sync` | whether the release is as desired; drift |
//! | `status` | the status, as pure functions |

mod chart_source;
mod fetch;
mod hooks;
mod outcome;
mod preserve;
mod release;
mod remediation;
mod render;
mod resources;
mod settings;
mod status;
mod sync;
mod testing;
mod values;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_api::conditions::reasons;
use driftless_api::helmrelease::{HelmReleaseStatus, ReleaseAction};
use driftless_api::{ExternalArtifact, HelmChart, HelmRelease, OCIRepository};
use driftless_apply::ApplyOptions;
use driftless_apply::release::{ReleaseStore, Status};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;
use kube::runtime::reflector::{ObjectRef, Store};

use self::chart_source::ChartArtifact;
pub use self::fetch::{ChartFetchError, DownloadError, fetch_helm_release_chart};
use self::outcome::{Failure, Finish};
use self::release::ReleaseTarget;
use self::render::RenderInput;
use self::settings::{
    action_settings, action_timeout, applier_for, apply_options, chart_hook, dependencies_ready,
    identity_client, remediation_rules, unsupported_field,
};
use self::status::Attempt;
use self::sync::{correct_drift, in_sync};
use crate::config_watch::{self, ConfigKind, ConfigWakes};
use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Scaffold, Stamp};
use crate::{Context, duration_of};

/// The field manager of HelmRelease writes, as Flux's helm-controller.
pub(crate) const FIELD_MANAGER: &str = "helm-controller";

/// The chart `driftless build|diff helmrelease` renders.
pub enum LocalChart<'a> {
    /// A chart directory or `.tgz` on disk (`--chart PATH`).
    Path(&'a std::path::Path),
    /// A chart archive fetched from the source ([`fetch_helm_release_chart`]),
    /// and `Kind/namespace/name` of that source.
    Archive(Vec<u8>, String),
}

/// What `hr` would apply with `chart`: values composed from the cluster,
/// rendered for its release, post-rendered — for `driftless build|diff
/// helmrelease`. CRDs come first, as an install applies them.
pub async fn build_helm_release(
    hr: &HelmRelease,
    client: &kube::Client,
    chart: LocalChart<'_>,
) -> Result<Vec<serde_json::Value>, String> {
    let values = values::compose(hr, client).await.map_err(|e| e.message)?;
    let store = ReleaseStore::new(client.clone(), hr.storage_namespace());
    let history = store
        .history(&hr.release_name())
        .await
        .map_err(|e| crate::error_chain(&e))?;
    let (values, chart_values) =
        preserve::values_for(hr, values, &history).map_err(|e| e.message)?;
    let capabilities = HelmReleases::default().capabilities(client).await;
    let is_upgrade = history
        .last()
        .is_some_and(|l| l.release.status() != Status::Uninstalled);
    let input = RenderInput {
        release_name: hr.release_name(),
        namespace: hr.release_namespace().to_owned(),
        is_upgrade,
        kube_version: capabilities.kube_version,
        api_versions: capabilities.api_versions,
        chart_values,
        skip_schema_validation: settings::schema_validation_disabled(hr, is_upgrade),
    };
    let desired = match chart {
        LocalChart::Path(path) => render::render_local(hr, path.to_path_buf(), values, input).await,
        LocalChart::Archive(bytes, source) => {
            render::render(hr, bytes, values, input, source, std::env::temp_dir()).await
        }
    }
    .map_err(|e| e.message)?;
    Ok(desired.crds.into_iter().chain(desired.objects).collect())
}

/// How `hr`'s objects are applied: helm-controller's field manager, Flux's
/// labels, the release namespace for objects without one.
pub fn helm_apply_options(hr: &HelmRelease) -> ApplyOptions {
    apply_options(hr)
}

/// `sha256:` over `postRenderers` and `commonMetadata` as JSON: what the
/// chart's manifest does not show of what is applied.
fn post_render_digest(hr: &HelmRelease) -> String {
    use sha2::Digest as _;
    let both = serde_json::json!([hr.spec.post_renderers, hr.spec.common_metadata]);
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(both.to_string().as_bytes()))
    )
}

/// How long the cluster's version and API list are reused between renders.
const CAPABILITIES_TTL: Duration = Duration::from_secs(60);

/// Reconciles HelmReleases until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<HelmRelease> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api)
        .with_config(controller::Config::default().concurrency(context.options.concurrency));
    let store = controller.store();
    let by_chart = store.clone();
    let by_oci = store.clone();
    let by_external = store.clone();
    let (by_configmap, by_secret) = (store.clone(), store.clone());
    let reconciler = HelmReleases::default();
    let (configmap_wakes, secret_wakes) = (reconciler.configs.clone(), reconciler.configs.clone());
    controller
        // A change to a labelled ConfigMap or Secret in `valuesFrom`
        // reconciles the releases using it now, not at their interval.
        .watches_stream(
            crate::watch::touched_with(
                Api::<ConfigMap>::all(context.client.clone()),
                config_watch::watched(&context.options.watch_configs_label_selector),
            ),
            move |object| {
                configmap_wakes.wake(values::users(
                    &by_configmap,
                    ConfigKind::ConfigMap,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                ))
            },
        )
        .watches_stream(
            crate::watch::touched_with(
                Api::<Secret>::all(context.client.clone()),
                config_watch::watched(&context.options.watch_configs_label_selector),
            ),
            move |object| {
                secret_wakes.wake(values::users(
                    &by_secret,
                    ConfigKind::Secret,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                ))
            },
        )
        // A new chart artifact wakes the releases that use it.
        .watches_stream(
            crate::watch::touched(Api::<HelmChart>::all(context.client.clone())),
            move |chart| {
                users(
                    &by_chart,
                    "HelmChart",
                    &chart.namespace().unwrap_or_default(),
                    &chart.name_any(),
                )
            },
        )
        .watches_stream(
            crate::watch::touched(Api::<OCIRepository>::all(context.client.clone())),
            move |repo| {
                users(
                    &by_oci,
                    "OCIRepository",
                    &repo.namespace().unwrap_or_default(),
                    &repo.name_any(),
                )
            },
        )
        .watches_stream(
            crate::watch::touched(Api::<ExternalArtifact>::all(context.client.clone())),
            move |artifact| {
                users(
                    &by_external,
                    "ExternalArtifact",
                    &artifact.namespace().unwrap_or_default(),
                    &artifact.name_any(),
                )
            },
        )
        .run(
            reconciler::reconcile::<HelmReleases>,
            reconciler::error_policy::<HelmReleases>,
            Scaffold::new(context, reconciler),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "HelmRelease reconcile error");
            }
        })
        .await;
}

/// Whether the last reconcile failed before any install or upgrade (the
/// source, the values, the render), not in an action or its tests: no
/// attempt is on record for it, so
/// the watch event of a fix (the source Ready again, the values back) runs
/// in full at once. A failed action is not: its retry waits for the retry
/// interval, not for its own status write's echo.
fn failed_before_release(status: &HelmReleaseStatus) -> bool {
    driftless_api::conditions::find(status.conditions.as_deref().unwrap_or_default(), "Ready")
        .is_some_and(|ready| {
            ready.status == "False"
                && ![
                    reasons::INSTALL_FAILED,
                    reasons::UPGRADE_FAILED,
                    reasons::RETRIES_EXCEEDED,
                    reasons::TEST_FAILED,
                ]
                .contains(&ready.reason.as_str())
        })
}

/// The HelmReleases whose chart comes from `kind/namespace/name`.
fn users(
    store: &Store<HelmRelease>,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<HelmRelease>> {
    let target = format!("{namespace}/{name}");
    store
        .state()
        .into_iter()
        .filter(|hr| {
            let own = hr.namespace().unwrap_or_default();
            let by_ref = hr.spec.chart_ref.as_ref().is_some_and(|r| {
                format!("{:?}", r.kind) == kind
                    && r.name == name
                    && r.namespace.as_deref().unwrap_or(&own) == namespace
            });
            // The HelmChart made for `spec.chart`, by the name we give it.
            let by_template = kind == "HelmChart"
                && hr.spec.chart.as_ref().is_some_and(|template| {
                    let chart_namespace = template
                        .spec
                        .source_ref
                        .namespace
                        .as_deref()
                        .unwrap_or(&own);
                    format!("{chart_namespace}/{}", hr.helm_chart_name()) == target
                });
            by_ref || by_template
        })
        .map(|hr| ObjectRef::from_obj(&*hr))
        .collect()
}

/// The HelmRelease kind's reconcile logic and what it caches.
#[derive(Default)]
pub(crate) struct HelmReleases {
    capabilities: Mutex<Option<(Instant, Capabilities)>>,
    /// Releases a watched values ConfigMap or Secret woke.
    configs: Arc<ConfigWakes>,
}

/// What `.Capabilities` tells templates about the cluster.
#[derive(Clone)]
struct Capabilities {
    kube_version: Option<String>,
    api_versions: Vec<String>,
}

impl Reconciler for HelmReleases {
    type Object = HelmRelease;
    type Status = HelmReleaseStatus;

    fn status(hr: &HelmRelease) -> Option<&HelmReleaseStatus> {
        hr.status.as_ref()
    }

    fn conditions(status: &HelmReleaseStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        hr: &HelmRelease,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<HelmReleaseStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &hr.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::RECONCILIATION_FAILED, message))?;
        if let Some(field) = unsupported_field(hr) {
            return Err(ReconcileError::unsupported_field("HelmRelease", field));
        }
        let chart = chart_source::resolve(hr, context).await?;
        let current = hr.status.clone().unwrap_or_default();
        // This generation was already attempted on this chart artifact: the
        // next attempt waits for the interval (a failed release is retried
        // then, not on every watch echo of its own status write).
        let up_to_date = current.observed_generation == hr.metadata.generation
            && current.last_attempted_generation == hr.metadata.generation
            && chart.attempted_by(&current)
            && !failed_before_release(&current);
        let values_changed = self
            .configs
            .take(&hr.namespace().unwrap_or_default(), &hr.name_any());
        if let Err(remaining) = run.due(up_to_date, values_changed, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();
        dependencies_ready(hr, context)
            .await
            .map_err(|error| error.retry_after(context.options.dependency_requeue.min(interval)))?;
        self.release(hr, run, &chart, interval).await
    }

    fn failed_status(hr: &HelmRelease, error: &ReconcileError, stamp: &Stamp) -> HelmReleaseStatus {
        status::failed(hr, error, stamp)
    }

    fn retry_interval(hr: &HelmRelease) -> Duration {
        status::retry_interval(hr)
    }

    /// Uninstalls the release (unless suspended) and removes the HelmChart
    /// made for it.
    async fn cleanup(&self, hr: &HelmRelease, context: &Context) -> Result<(), ReconcileError> {
        let current = hr.status.clone().unwrap_or_default();
        if let Some(helm_chart) = &current.helm_chart {
            chart_source::delete_helm_chart(context, helm_chart).await;
        }
        if hr.spec.suspend {
            tracing::info!(namespace = %hr.namespace().unwrap_or_default(), name = %hr.name_any(), "HelmRelease deleted while suspended; leaving its release in place");
            return Ok(());
        }
        let applier = applier_for(hr, context)?;
        let store = ReleaseStore::new(identity_client(hr, context)?, hr.storage_namespace());
        let uninstall = hr.spec.uninstall.clone().unwrap_or_default();
        let release_name = hr.release_name();
        // No records: nothing installed, or an earlier run of this cleanup
        // uninstalled it and the finalizer's removal did not land. Deleting
        // the inventory again would take what the records' `keep` policy
        // spared; as Helm's "release not found", there is nothing to do.
        let Some(last) = store.last(&release_name).await.map_err(|e| {
            ReconcileError::retryable(
                reasons::RECONCILIATION_FAILED,
                format!(
                    "cannot read the records of release {release_name:?} to uninstall it: {}",
                    crate::error_chain(&e)
                ),
            )
        })?
        else {
            tracing::info!(namespace = %hr.namespace().unwrap_or_default(), name = %hr.name_any(), release = %release_name, "no release records left; nothing to uninstall");
            return Ok(());
        };
        let hooks: Vec<_> = last.release.hooks.iter().map(chart_hook).collect();
        let manifest = last.release.manifest.as_str();
        let target = ReleaseTarget {
            applier: &applier,
            client: &context.client,
            store: &store,
            name: &release_name,
            namespace: hr.release_namespace(),
        };
        release::uninstall(
            &target,
            (&current.inventory.unwrap_or_default(), manifest),
            (!uninstall.disable_hooks).then_some(hooks.as_slice()),
            uninstall.keep_history,
            !uninstall.disable_wait,
            action_timeout(hr, uninstall.timeout.as_ref()),
        )
        .await
    }
}

impl HelmReleases {
    /// Composes, renders, and releases when the release differs from what
    /// is desired (or corrects drift when asked to).
    async fn release(
        &self,
        hr: &HelmRelease,
        run: &Run<'_, HelmRelease>,
        chart: &ChartArtifact,
        interval: Duration,
    ) -> Result<Outcome<HelmReleaseStatus>, ReconcileError> {
        let context = run.context;
        let client = identity_client(hr, context)?;
        let applier = applier_for(hr, context)?;
        let release_name = hr.release_name();
        let namespace = hr.release_namespace().to_owned();
        let init_failed = |e: &dyn std::error::Error| {
            ReconcileError::retryable(reasons::INIT_FAILED, crate::error_chain(e))
        };
        let values = values::compose(hr, &client).await?;
        let config_digest = values::digest(&values);
        let store = ReleaseStore::new(client.clone(), hr.storage_namespace());
        let mut events = Vec::new();
        if let Some(unlocked) = store
            .unlock(&release_name)
            .await
            .map_err(|e| init_failed(&e))?
        {
            events.push(Event::warning(
                "PendingReleaseUnlocked",
                format!("{unlocked:?}"),
            ));
        }
        let history = store
            .history(&release_name)
            .await
            .map_err(|e| init_failed(&e))?;
        let last = history.last().cloned();
        let deployed = history
            .iter()
            .rev()
            .find(|s| s.release.status() == Status::Deployed)
            .cloned();
        let bytes = chart_source::download(context, chart).await?;
        let capabilities = self.capabilities(&client).await;
        let is_upgrade = last
            .as_ref()
            .is_some_and(|l| l.release.status() != Status::Uninstalled);
        let (values, chart_values) = preserve::values_for(hr, values, &history)?;
        let input = RenderInput {
            release_name: release_name.clone(),
            namespace: namespace.clone(),
            is_upgrade,
            kube_version: capabilities.kube_version,
            api_versions: capabilities.api_versions,
            chart_values,
            skip_schema_validation: settings::schema_validation_disabled(hr, is_upgrade),
        };
        let scratch = context.scratch.path().to_path_buf();
        let desired =
            render::render(hr, bytes, values, input, chart.source.clone(), scratch).await?;
        let current = hr.status.clone().unwrap_or_default();
        let action = if is_upgrade {
            ReleaseAction::Upgrade
        } else {
            ReleaseAction::Install
        };
        let mut attempt = Attempt {
            chart_version: desired.metadata.version.clone(),
            oci_digest: chart.oci_digest().map(str::to_owned),
            config_digest: config_digest.clone(),
            post_render_digest: post_render_digest(hr),
            action: None,
            helm_chart: chart.helm_chart.clone(),
            storage_namespace: hr.storage_namespace().to_owned(),
        };
        let target = ReleaseTarget {
            applier: &applier,
            client: &client,
            store: &store,
            name: &release_name,
            namespace: &namespace,
        };
        let failures_of = |action: ReleaseAction, attempt: &Attempt| {
            if !attempt.same_as_last(hr, &current) {
                return 0;
            }
            match action {
                ReleaseAction::Install => current.install_failures,
                ReleaseAction::Upgrade => current.upgrade_failures,
            }
        };

        // The manifest a record keeps is the chart's own; post-renderers and
        // commonMetadata changes are seen through their digest.
        if let Some(deployed) = deployed.as_ref().filter(|d| {
            last.as_ref().map(|l| l.release.version) == Some(d.release.version)
                && in_sync(d, &desired)
                && current.observed_post_renderers_digest.as_deref()
                    == Some(attempt.post_render_digest.as_str())
        }) {
            let last_action = current
                .last_attempted_release_action
                .unwrap_or(ReleaseAction::Install);
            let rules = remediation_rules(hr, last_action);
            let tests = testing::enabled(hr).then(|| {
                current
                    .history
                    .as_ref()
                    .and_then(|h| h.first())
                    .filter(|s| s.version == i64::from(deployed.release.version))
                    .filter(|s| testing::has_been_tested(s))
            });
            let failed_tests_count = tests
                .flatten()
                .is_some_and(|s| testing::has_failed(s) && !rules.ignore_test_failures);
            if failed_tests_count {
                // As Flux: out of retries, the failed release stays and
                // stalls; otherwise the next attempt is an upgrade.
                let earlier = failures_of(last_action, &attempt);
                if earlier > 0 && rules.retries_exhausted(earlier) {
                    attempt.action = Some(last_action);
                    return Err(ReconcileError::stalled(
                        reasons::RETRIES_EXCEEDED,
                        status::retries_message(&attempt, &current),
                    ));
                }
            } else {
                let (drift_events, applied) =
                    correct_drift(hr, &applier, &desired, current.inventory.is_none()).await?;
                events.extend(drift_events);
                let inventory = applied.or(current.inventory.clone()).unwrap_or_default();
                let message = status::action_message(last_action, &deployed.release);
                if tests.is_some_and(|t| t.is_none()) {
                    // Released but not tested yet (tests were just enabled,
                    // or a run did not finish): Flux's `Untested` state.
                    let finish = Finish {
                        hr,
                        stamp: &run.stamp,
                        target: &target,
                        attempt: &attempt,
                        action: last_action,
                        rules,
                        earlier_failures: failures_of(last_action, &attempt),
                        rollback_to: None,
                        may_remediate: false,
                        config_digest: &config_digest,
                        interval,
                    };
                    return finish
                        .released(deployed.clone(), inventory, message, events)
                        .await;
                }
                let snapshot = status::snapshot(
                    &deployed.release,
                    &config_digest,
                    attempt.oci_digest.as_deref(),
                );
                return Ok(Outcome::Done {
                    status: status::released(
                        hr,
                        &attempt,
                        Some(snapshot),
                        inventory,
                        &message.0,
                        message.1,
                        &run.stamp,
                    ),
                    events,
                    requeue: interval,
                    revision: Some(attempt.revision()),
                });
            }
        }

        attempt.action = Some(action);
        let rules = remediation_rules(hr, action);
        let earlier_failures = failures_of(action, &attempt);
        if earlier_failures > 0 && rules.retries_exhausted(earlier_failures) {
            return Err(ReconcileError::stalled(
                reasons::RETRIES_EXCEEDED,
                status::retries_message(&attempt, &current),
            ));
        }
        let settings = action_settings(hr, action);
        let previous_inventory = current.inventory.clone().unwrap_or_default();
        let first_deployed = deployed
            .as_ref()
            .and_then(|d| d.release.info.as_ref())
            .and_then(|i| i.first_deployed.clone());
        let version = last.as_ref().map_or(1, |l| l.release.version + 1);
        let result = release::install_or_upgrade(
            &target,
            &desired,
            version,
            first_deployed,
            &previous_inventory,
            &settings,
        )
        .await;
        let finish = Finish {
            hr,
            stamp: &run.stamp,
            target: &target,
            attempt: &attempt,
            action,
            rules,
            earlier_failures,
            rollback_to: deployed.as_ref(),
            may_remediate: true,
            config_digest: &config_digest,
            interval,
        };
        match result {
            Ok(released) => {
                let message = status::action_message(action, &released.record.release);
                events.push(Event::normal(message.1, message.0.clone()));
                finish
                    .released(released.record, released.inventory, message, events)
                    .await
            }
            Err(failed) => {
                let reason = match action {
                    ReleaseAction::Install => reasons::INSTALL_FAILED,
                    ReleaseAction::Upgrade => reasons::UPGRADE_FAILED,
                };
                let failed_revision = format!("{namespace}/{release_name}.v{version}");
                let mut error = failed.error;
                error.message = format!(
                    "Helm {} failed for release {failed_revision} with chart {}@{}: {}",
                    if action == ReleaseAction::Install {
                        "install"
                    } else {
                        "upgrade"
                    },
                    desired.metadata.name,
                    desired.metadata.version,
                    error.message
                );
                error.reason = reason;
                let failure = Failure {
                    snapshot: failed.record.as_ref().map(|r| {
                        status::snapshot(&r.release, &config_digest, attempt.oci_digest.as_deref())
                    }),
                    error,
                    record: failed.record,
                    inventory: previous_inventory,
                    released: None,
                };
                Ok(finish.failed(failure, events).await)
            }
        }
    }
    /// The cluster's version and API list, refreshed every minute.
    async fn capabilities(&self, client: &kube::Client) -> Capabilities {
        let cached = self.capabilities.lock().expect("capabilities lock").clone();
        if let Some((at, cached)) = cached
            && at.elapsed() < CAPABILITIES_TTL
        {
            return cached;
        }
        let kube_version = client.apiserver_version().await.ok().map(|v| v.git_version);
        let mut api_versions = Vec::new();
        if let Ok(discovery) = kube::discovery::Discovery::new(client.clone()).run().await {
            for group in discovery.groups() {
                for (resource, _) in group.recommended_resources() {
                    let group_version = resource.api_version.clone();
                    if !api_versions.contains(&group_version) {
                        api_versions.push(group_version.clone());
                    }
                    api_versions.push(format!("{group_version}/{}", resource.kind));
                }
            }
        }
        let fresh = Capabilities {
            kube_version,
            api_versions,
        };
        *self.capabilities.lock().expect("capabilities lock") =
            Some((Instant::now(), fresh.clone()));
        fresh
    }
}
