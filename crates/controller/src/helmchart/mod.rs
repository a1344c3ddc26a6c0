//! The `HelmChart` reconciler: one chart, from a HelmRepository (an HTTP
//! index: the highest version in the range, downloaded and digest-checked;
//! or an OCI registry: the highest tag in the range, pulled) or from a path
//! in a GitRepository (packaged as Helm packages it), with `valuesFiles`
//! merged in — stored as the chart artifact HelmReleases install, as
//! Flux's source-controller.
//!
//! Dependencies a git chart's `Chart.yaml` names by `http(s)://` or
//! `oci://` URL are fetched with the credentials of the namespace's
//! HelmRepository for that URL (Flux's dependency manager matches the same
//! way), anonymously when there is none (see `dependencies`).
//!
//! A chart whose version did not change is not downloaded or built again;
//! on any failure the previous chart stays in storage and in the status.

use std::sync::Arc;
use std::time::Duration;

use driftless_api::conditions::reasons;
use driftless_api::{
    GitRepository, HelmChart, HelmChartSourceKind, HelmChartStatus, HelmRepository,
    ReconcileStrategy,
};
use driftless_source::ArtifactKey;
use driftless_source::helm::{
    ChartOutcome, ChartRequest, HelmError, LocalChartRequest, git_revision_metadata,
};
use driftless_source::oci::{HELM_CHART_LAYER, LayerOperation, OciReference, OciSource};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::gitrepository::{to_source_artifact, to_status_artifact};
use crate::helmrepository::{helm_failed, http_repository};
use crate::kustomization::{ArtifactCache, SourceArtifact};
use crate::ocirepository::pull_failed;
use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Scaffold, Stamp};
use crate::{Context, duration_of, source_status};

mod dependencies;

/// Reconciles HelmCharts until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<HelmChart> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api)
        .with_config(controller::Config::default().concurrency(context.options.concurrency));
    let store = controller.store();
    let by_repo = store.clone();
    let charts = HelmCharts {
        sources: ArtifactCache::new(context.scratch.clone()),
    };
    controller
        // A new index or git revision wakes the charts made from it.
        .watches_stream(
            crate::watch::touched(Api::<HelmRepository>::all(context.client.clone())),
            move |repo| {
                users(
                    &by_repo,
                    HelmChartSourceKind::HelmRepository,
                    &repo.namespace().unwrap_or_default(),
                    &repo.name_any(),
                )
            },
        )
        .watches_stream(
            crate::watch::touched(Api::<GitRepository>::all(context.client.clone())),
            move |repo| {
                users(
                    &store,
                    HelmChartSourceKind::GitRepository,
                    &repo.namespace().unwrap_or_default(),
                    &repo.name_any(),
                )
            },
        )
        .run(
            reconciler::reconcile::<HelmCharts>,
            reconciler::error_policy::<HelmCharts>,
            Scaffold::new(context, charts),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "HelmChart reconcile error");
            }
        })
        .await;
}

fn users(
    store: &Store<HelmChart>,
    kind: HelmChartSourceKind,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<HelmChart>> {
    store
        .state()
        .into_iter()
        .filter(|chart| {
            chart.spec.source_ref.kind == kind
                && chart.spec.source_ref.name == name
                && chart.namespace().as_deref() == Some(namespace)
        })
        .map(|chart| ObjectRef::from_obj(&*chart))
        .collect()
}

/// The HelmChart kind's reconcile logic, with the unpacked git sources.
pub(crate) struct HelmCharts {
    sources: ArtifactCache,
}

impl Reconciler for HelmCharts {
    type Object = HelmChart;
    type Status = HelmChartStatus;

    fn status(chart: &HelmChart) -> Option<&HelmChartStatus> {
        chart.status.as_ref()
    }

    fn conditions(status: &HelmChartStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        chart: &HelmChart,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<HelmChartStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &chart.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message))?;
        if chart.spec.verify.is_some() {
            return Err(ReconcileError::unsupported_field("HelmChart", "verify"));
        }
        let status = chart.status.clone().unwrap_or_default();
        let namespace = chart.namespace().unwrap_or_default();
        let source = ChartSource::read(chart, context, &namespace).await?;
        let source_revision = source.revision();
        let up_to_date = status.observed_generation == chart.metadata.generation
            && status.artifact.is_some()
            && status.observed_source_artifact_revision == source_revision;
        if let Err(remaining) = run.due(up_to_date, false, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();
        // A changed spec rebuilds even when the version stays (Flux's force).
        let last = status
            .artifact
            .as_ref()
            .filter(|_| status.observed_generation == chart.metadata.generation)
            .and_then(to_source_artifact);
        let key = ArtifactKey::helm_chart(&namespace, chart.name_any());
        let (artifact, message, reason) = match &source {
            ChartSource::Repository(repo) => {
                self.build_from_repository(chart, repo, context, &namespace, key, last)
                    .await?
            }
            ChartSource::Git(repo) => {
                self.build_from_git(chart, repo, context, &namespace, key, last)
                    .await?
            }
        };
        let artifact = to_status_artifact(&artifact, &context.artifact_base_url);
        let mut events = Vec::new();
        if status.artifact.as_ref().map(|a| &a.revision) != Some(&artifact.revision) {
            events.push(Event::normal(reason, message.clone()));
        }
        let revision = Some(artifact.revision.clone());
        let mut status = status;
        let mut list = status.conditions.take().unwrap_or_default();
        source_status::mark_stored(&mut list, reason, &message, true, &run.stamp.now);
        status.conditions = Some(list);
        status.url = Some(artifact.url.clone());
        status.artifact = Some(artifact);
        status.observed_generation = chart.metadata.generation;
        status.observed_source_artifact_revision = source_revision;
        status.observed_chart_name = Some(chart.spec.chart.clone());
        status.observed_values_files = chart.spec.values_files.clone();
        if run.stamp.requested.is_some() {
            status
                .last_handled_reconcile_at
                .clone_from(&run.stamp.requested);
        }
        Ok(Outcome::Done {
            status,
            events,
            requeue: interval,
            revision,
        })
    }

    fn failed_status(chart: &HelmChart, error: &ReconcileError, stamp: &Stamp) -> HelmChartStatus {
        let mut status = chart.status.clone().unwrap_or_default();
        let mut list = status.conditions.take().unwrap_or_default();
        source_status::mark_failed(&mut list, error, &stamp.now);
        status.conditions = Some(list);
        status.observed_generation = chart.metadata.generation;
        if stamp.requested.is_some() {
            status
                .last_handled_reconcile_at
                .clone_from(&stamp.requested);
        }
        status
    }

    fn refresh_failed_status(status: &mut HelmChartStatus, context: &Context) {
        crate::gitrepository::refresh_artifact_url(status.artifact.as_mut(), context);
    }

    fn retry_interval(chart: &HelmChart) -> Duration {
        duration_of("interval", &chart.spec.interval).unwrap_or(Duration::from_secs(60))
    }

    async fn cleanup(&self, chart: &HelmChart, context: &Context) -> Result<(), ReconcileError> {
        let key = ArtifactKey::helm_chart(chart.namespace().unwrap_or_default(), chart.name_any());
        if let Err(error) = context.helm.storage().remove_all(&key) {
            tracing::warn!(%key, %error, "cannot remove the artifacts of a deleted HelmChart");
        }
        Ok(())
    }
}

type Built = (driftless_source::Artifact, String, &'static str);

/// A HelmChart's source, read once per reconcile.
enum ChartSource {
    Repository(Box<HelmRepository>),
    Git(Box<GitRepository>),
}

impl ChartSource {
    async fn read(
        chart: &HelmChart,
        context: &Context,
        namespace: &str,
    ) -> Result<ChartSource, ReconcileError> {
        let name = &chart.spec.source_ref.name;
        match chart.spec.source_ref.kind {
            HelmChartSourceKind::HelmRepository => Ok(ChartSource::Repository(Box::new(
                get(context, namespace, name).await?,
            ))),
            HelmChartSourceKind::GitRepository => Ok(ChartSource::Git(Box::new(
                get(context, namespace, name).await?,
            ))),
            HelmChartSourceKind::Bucket => Err(ReconcileError::unsupported_field(
                "HelmChart",
                "sourceRef.kind: Bucket",
            )),
        }
    }

    /// The source's current revision (the index digest or the git
    /// revision); `None` for an OCI repository, which has no artifact.
    fn revision(&self) -> Option<String> {
        match self {
            ChartSource::Repository(repo) => repo.artifact().map(|a| a.revision.clone()),
            ChartSource::Git(repo) => repo.artifact().map(|a| a.revision.clone()),
        }
    }
}

impl HelmCharts {
    async fn build_from_repository(
        &self,
        chart: &HelmChart,
        repo: &HelmRepository,
        context: &Context,
        namespace: &str,
        key: ArtifactKey,
        last: Option<driftless_source::Artifact>,
    ) -> Result<Built, ReconcileError> {
        if repo.is_oci() {
            return from_registry(chart, repo, context, namespace, key, last).await;
        }
        let index_artifact = repo
            .artifact()
            .and_then(to_source_artifact)
            .ok_or_else(|| {
                ReconcileError::retryable(
                    reasons::ARTIFACT_FAILED,
                    format!(
                        "HelmRepository '{namespace}/{}' has no index yet",
                        repo.name_any()
                    ),
                )
            })?;
        let request = http_repository(repo, &context.client, namespace).await?;
        let mut chart_request = ChartRequest::new(chart.spec.chart.clone(), chart.version_range());
        chart_request.values_files = chart.spec.values_files.clone().unwrap_or_default();
        chart_request.ignore_missing_values_files = chart.spec.ignore_missing_values_files;
        chart_request.generation = chart.metadata.generation.unwrap_or_default();
        let fetcher = context.helm.clone();
        let outcome = blocking(move || {
            let index = fetcher.load_index(&index_artifact)?;
            fetcher.reconcile_chart(&key, &request, &index, &chart_request, last.as_ref())
        })
        .await?
        .map_err(|e| helm_failed(&e))?;
        Ok(built(&outcome))
    }

    async fn build_from_git(
        &self,
        chart: &HelmChart,
        repo: &GitRepository,
        context: &Context,
        namespace: &str,
        key: ArtifactKey,
        last: Option<driftless_source::Artifact>,
    ) -> Result<Built, ReconcileError> {
        let artifact = repo.artifact().cloned().ok_or_else(|| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!(
                    "GitRepository '{namespace}/{}' has no artifact yet",
                    repo.name_any()
                ),
            )
        })?;
        let source = SourceArtifact {
            url: artifact.url.clone(),
            digest: artifact.digest.clone().unwrap_or_default(),
            revision: artifact.revision.clone(),
        };
        let unpacked = self
            .sources
            .unpacked(&context.http, &source, &context.options.artifact_limits)
            .await?;
        let mut request = LocalChartRequest::new(chart.spec.chart.clone());
        request.values_files = chart.spec.values_files.clone().unwrap_or_default();
        request.ignore_missing_values_files = chart.spec.ignore_missing_values_files;
        request.generation = chart.metadata.generation.unwrap_or_default();
        if chart.reconcile_strategy() == ReconcileStrategy::Revision {
            request.revision_metadata = Some(git_revision_metadata(&artifact.revision));
        }
        let build_failed = |e: &HelmError| {
            let mut error = helm_failed(e);
            error.reason = reasons::BUILD_FAILED;
            error
        };
        // An unchanged chart is kept before its `oci://` dependencies are
        // pulled, so it stays ready while their registry is away.
        let unchanged = {
            let fetcher = context.helm.clone();
            let root = unpacked.path().to_path_buf();
            let request = request.clone();
            let last = last.clone();
            blocking(move || fetcher.unchanged_local_chart(&root, &request, last.as_ref()))
                .await?
                .map_err(|e| build_failed(&e))?
        };
        if let Some(outcome) = unchanged {
            return Ok(built(&outcome));
        }
        request.dependency_repositories =
            dependencies::http_repositories(context, namespace, unpacked.path(), &chart.spec.chart)
                .await?;
        request.pulled_dependencies =
            dependencies::pull_oci(context, namespace, unpacked.path(), &chart.spec.chart).await?;
        let fetcher = context.helm.clone();
        let outcome = blocking(move || {
            fetcher.reconcile_local_chart(&key, unpacked.path(), &request, last.as_ref())
        })
        .await?
        .map_err(|e| build_failed(&e))?;
        Ok(built(&outcome))
    }
}

/// A chart from an OCI HelmRepository: `<url>/<chart>` at the highest tag
/// in the version range, its chart layer stored as it is.
async fn from_registry(
    chart: &HelmChart,
    repo: &HelmRepository,
    context: &Context,
    namespace: &str,
    key: ArtifactKey,
    last: Option<driftless_source::Artifact>,
) -> Result<Built, ReconcileError> {
    if chart
        .spec
        .values_files
        .as_ref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(ReconcileError::unsupported_field(
            "HelmChart",
            "valuesFiles (with an OCI HelmRepository)",
        ));
    }
    let url = format!(
        "{}/{}",
        repo.spec.url.trim_end_matches('/'),
        chart.spec.chart
    );
    let version = chart.version_range();
    let exact = driftless_semver::Version::parse(version).is_some();
    let reference = if exact {
        OciReference::from_spec(Some(version), None, None, None)
    } else {
        OciReference::from_spec(None, Some(version), None, None)
    };
    let mut source = OciSource::new(url.clone(), reference);
    source.layer.media_type = Some(HELM_CHART_LAYER.into());
    source.layer.operation = LayerOperation::Copy;
    source.insecure = repo.spec.insecure;
    source.auth = dependencies::registry_auth(repo, &context.client, namespace).await?;
    let outcome = context
        .oci
        .reconcile(&key, &source, last.as_ref())
        .await
        .map_err(|e| pull_failed(&e))?;
    let artifact = outcome.artifact().clone();
    let chart_version = artifact
        .revision
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let message = format!(
        "pulled '{}' chart with version '{chart_version}'",
        chart.spec.chart
    );
    Ok((artifact, message, "ChartPullSucceeded"))
}

fn built(outcome: &ChartOutcome) -> Built {
    let build = outcome.build();
    let (verb, reason) = if build.packaged {
        ("packaged", "ChartPackageSucceeded")
    } else {
        ("pulled", "ChartPullSucceeded")
    };
    let message = format!(
        "{verb} '{}' chart with version '{}'",
        build.name, build.version
    );
    (build.artifact.clone(), message, reason)
}

/// Runs `work` on a blocking thread; a panic there is a retryable failure.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReconcileError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("the chart task failed: {e}"),
        )
    })
}

async fn get<K>(context: &Context, namespace: &str, name: &str) -> Result<K, ReconcileError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let kind = K::kind(&());
    Api::<K>::namespaced(context.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("cannot read {kind} '{namespace}/{name}': {e}"),
            )
        })?
        .ok_or_else(|| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("{kind} '{namespace}/{name}' not found; create it or fix spec.sourceRef"),
            )
        })
}
