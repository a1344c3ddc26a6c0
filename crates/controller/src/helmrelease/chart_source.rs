//! Where a HelmRelease's chart comes from: `spec.chartRef` (a HelmChart or
//! an OCIRepository whose artifact is the chart) or `spec.chart` (a
//! template of the HelmChart we keep in the source's namespace, named
//! `<namespace>-<name>` as Flux names it), and the chart archive itself,
//! downloaded from the artifact server and digest-verified.
//!
//! Owns finding the artifact and fetching its bytes. Must not render or
//! apply.

use std::collections::BTreeMap;

use driftless_api::conditions::reasons;
use driftless_api::helmrelease::ChartSourceKind;
use driftless_api::meta::Artifact;
use driftless_api::{
    ExternalArtifact, FluxObject, HelmChart, HelmChartSpec, HelmRelease, OCIRepository,
};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};

use super::fetch::{DownloadError, download_verified};
use crate::Context;
use crate::reconciler::ReconcileError;

/// Labels Flux puts on the HelmChart it makes for a HelmRelease.
pub(super) const NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// See [`NAME_LABEL`].
pub(super) const NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// The chart artifact a HelmRelease installs.
pub(super) struct ChartArtifact {
    /// `Kind/namespace/name` of the source, for messages.
    pub source: String,
    /// The artifact as its source's status has it.
    pub artifact: Artifact,
    /// `namespace/name` of the HelmChart made for `spec.chart`.
    pub helm_chart: Option<String>,
}

impl ChartArtifact {
    /// The OCI manifest digest, for sources that have one: the part after
    /// `@` of `<tag>@sha256:…`, or the whole revision of a digest pin.
    pub(super) fn oci_digest(&self) -> Option<&str> {
        if !self.source.starts_with("OCIRepository/") {
            return None;
        }
        let revision = self.artifact.revision.as_str();
        Some(
            revision
                .rsplit_once('@')
                .map_or(revision, |(_, digest)| digest),
        )
    }
}

impl ChartArtifact {
    /// Whether `status` last attempted this artifact: the same OCI digest,
    /// or the same chart version from a HelmChart.
    pub(super) fn attempted_by(
        &self,
        status: &driftless_api::helmrelease::HelmReleaseStatus,
    ) -> bool {
        match self.oci_digest() {
            Some(digest) => status.last_attempted_revision_digest.as_deref() == Some(digest),
            None => {
                status.last_attempted_revision.as_deref() == Some(self.artifact.revision.as_str())
            }
        }
    }
}

/// The current chart artifact of `hr`'s source, making or updating the
/// HelmChart for `spec.chart` first.
pub(super) async fn resolve(
    hr: &HelmRelease,
    context: &Context,
) -> Result<ChartArtifact, ReconcileError> {
    let own_namespace = hr.namespace().unwrap_or_default();
    match (&hr.spec.chart, &hr.spec.chart_ref) {
        (Some(_), Some(_)) | (None, None) => Err(ReconcileError::stalled(
            reasons::RECONCILIATION_FAILED,
            "exactly one of spec.chart and spec.chartRef must be set",
        )),
        (None, Some(reference)) => {
            let namespace = reference.namespace.clone().unwrap_or(own_namespace.clone());
            refuse_cross_namespace(context, &own_namespace, &namespace, "spec.chartRef")?;
            match reference.kind {
                ChartSourceKind::HelmChart => {
                    let chart = get::<HelmChart>(context, &namespace, &reference.name).await?;
                    ready_artifact(&chart, chart.artifact(), None)
                }
                ChartSourceKind::OCIRepository => {
                    let repo = get::<OCIRepository>(context, &namespace, &reference.name).await?;
                    ready_artifact(&repo, repo.artifact(), None)
                }
                ChartSourceKind::ExternalArtifact => {
                    let external =
                        get::<ExternalArtifact>(context, &namespace, &reference.name).await?;
                    ready_artifact(&external, external.artifact(), None)
                }
            }
        }
        (Some(template), None) => {
            let namespace = template
                .spec
                .source_ref
                .namespace
                .clone()
                .unwrap_or(own_namespace.clone());
            refuse_cross_namespace(
                context,
                &own_namespace,
                &namespace,
                "spec.chart.spec.sourceRef",
            )?;
            let chart = ensure_helm_chart(hr, context, &namespace).await?;
            let helm_chart = Some(format!("{namespace}/{}", hr.helm_chart_name()));
            ready_artifact(&chart, chart.artifact(), helm_chart)
        }
    }
}

fn refuse_cross_namespace(
    context: &Context,
    own: &str,
    other: &str,
    field: &str,
) -> Result<(), ReconcileError> {
    if context.options.no_cross_namespace_refs && own != other {
        return Err(ReconcileError::stalled(
            reasons::ARTIFACT_FAILED,
            format!(
                "{field} points into namespace {other}, and cross-namespace references are blocked; move the source into namespace {own}"
            ),
        ));
    }
    Ok(())
}

async fn get<K>(context: &Context, namespace: &str, name: &str) -> Result<K, ReconcileError>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + FluxObject
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(context.client.clone(), namespace);
    let label = format!("{}/{namespace}/{name}", K::KIND);
    api.get_opt(name)
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("cannot read {label}: {e}"),
            )
        })?
        .ok_or_else(|| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("{label} not found; create it or fix the chart reference"),
            )
        })
}

fn ready_artifact<K: kube::Resource<DynamicType = ()> + FluxObject>(
    source: &K,
    artifact: Option<&Artifact>,
    helm_chart: Option<String>,
) -> Result<ChartArtifact, ReconcileError> {
    let label = source_label(source);
    let artifact = usable(source, artifact).map_err(|unusable| {
        ReconcileError::retryable(reasons::ARTIFACT_FAILED, unusable.message(source))
    })?;
    Ok(ChartArtifact {
        source: label,
        artifact: artifact.clone(),
        helm_chart,
    })
}

/// `Kind/namespace/name` of a source.
pub(super) fn source_label<K: kube::Resource<DynamicType = ()> + FluxObject>(source: &K) -> String {
    format!(
        "{}/{}/{}",
        K::KIND,
        source.meta().namespace.as_deref().unwrap_or_default(),
        source.meta().name.as_deref().unwrap_or_default()
    )
}

/// Why a source's artifact cannot be used now.
pub(super) enum Unusable {
    /// The source is not ready, and why.
    NotReady(String),
    /// It has no artifact; its Ready message, if any.
    NoArtifact(Option<String>),
}

impl Unusable {
    /// The message a release shows, naming `source`.
    pub(super) fn message<K: kube::Resource<DynamicType = ()> + FluxObject>(
        &self,
        source: &K,
    ) -> String {
        match self {
            Unusable::NotReady(why) => format!(
                "{} '{}/{}' is not ready: {why}",
                K::KIND,
                source.meta().namespace.as_deref().unwrap_or_default(),
                source.meta().name.as_deref().unwrap_or_default()
            ),
            Unusable::NoArtifact(why) => format!(
                "{} has no chart artifact yet{}",
                source_label(source),
                why.as_ref().map(|w| format!(": {w}")).unwrap_or_default()
            ),
        }
    }
}

/// The source's artifact, when the source is ready and has one.
pub(super) fn usable<'a, K: kube::Resource<DynamicType = ()> + FluxObject>(
    source: &K,
    artifact: Option<&'a Artifact>,
) -> Result<&'a Artifact, Unusable> {
    if let Some(why) = not_ready(source) {
        return Err(Unusable::NotReady(why));
    }
    artifact.ok_or_else(|| {
        Unusable::NoArtifact(
            driftless_api::conditions::find(source.status_conditions(), "Ready")
                .map(|c| c.message.clone()),
        )
    })
}

/// Why the source cannot be installed from now, Flux's `isReady` with one
/// rule more: its newest spec not reconciled yet, or it is Stalled — and,
/// beyond Flux, its last reconcile failed (`Ready=False`). Flux goes on
/// with the artifact of the last success then, which leaves a missing
/// version, a closed registry or rejected credentials visible on the source
/// only; we stop and say so on the release, whose deployed revision stays.
fn not_ready<K: kube::Resource<DynamicType = ()> + FluxObject>(source: &K) -> Option<String> {
    let list = source.status_conditions();
    let failed = driftless_api::conditions::find(list, "Ready")
        .filter(|c| c.status == "False")
        .map(|c| c.message.clone());
    if let Some(stalled) =
        driftless_api::conditions::find(list, "Stalled").filter(|c| c.status == "True")
    {
        return Some(stalled.message.clone());
    }
    let observed = source.observed_generation();
    if K::RECONCILED && observed.is_some() && observed != source.meta().generation {
        return Some(
            failed.unwrap_or_else(|| "latest generation of object has not been reconciled".into()),
        );
    }
    failed
}

/// Creates or updates the HelmChart for `spec.chart` (server-side apply,
/// as helm-controller's field manager) and returns it as it is now.
async fn ensure_helm_chart(
    hr: &HelmRelease,
    context: &Context,
    namespace: &str,
) -> Result<HelmChart, ReconcileError> {
    let template = hr.spec.chart.as_ref().expect("checked by the caller");
    let spec = &template.spec;
    let name = hr.helm_chart_name();
    let mut labels: BTreeMap<String, String> = template
        .object_meta
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(NAME_LABEL.into(), hr.name_any());
    labels.insert(NAMESPACE_LABEL.into(), hr.namespace().unwrap_or_default());
    let mut chart = HelmChart::new(
        &name,
        HelmChartSpec {
            chart: spec.chart.clone(),
            // Written with the CRD's defaults, so the stored object compares
            // equal to what we want and is not applied again.
            version: spec.version.clone().or_else(|| Some("*".into())),
            source_ref: driftless_api::LocalHelmChartSourceReference {
                api_version: spec.source_ref.api_version.clone(),
                kind: spec.source_ref.kind,
                name: spec.source_ref.name.clone(),
            },
            interval: spec
                .interval
                .clone()
                .unwrap_or_else(|| hr.spec.interval.clone()),
            reconcile_strategy: spec.reconcile_strategy.or(Some(Default::default())),
            values_files: spec.values_files.clone(),
            ignore_missing_values_files: spec.ignore_missing_values_files,
            suspend: false,
            verify: spec.verify.clone(),
        },
    );
    chart.metadata.namespace = Some(namespace.to_string());
    chart.metadata.labels = Some(labels);
    chart.metadata.annotations = template
        .object_meta
        .as_ref()
        .and_then(|m| m.annotations.clone());
    let api: Api<HelmChart> = Api::namespaced(context.client.clone(), namespace);
    // Most reconciles find it as wanted: one read, no write.
    let current = api.get_opt(&name).await.map_err(|e| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("cannot read HelmChart {namespace}/{name}: {e}"),
        )
    })?;
    if let Some(current) = current.filter(|c| {
        c.spec == chart.spec
            && chart
                .metadata
                .labels
                .iter()
                .flatten()
                .all(|(k, v)| c.metadata.labels.as_ref().and_then(|l| l.get(k)) == Some(v))
            && chart
                .metadata
                .annotations
                .iter()
                .flatten()
                .all(|(k, v)| c.metadata.annotations.as_ref().and_then(|a| a.get(k)) == Some(v))
    }) {
        return Ok(current);
    }
    let params = PatchParams::apply(super::FIELD_MANAGER).force();
    let mut body = serde_json::to_value(&chart).map_err(|e| {
        ReconcileError::retryable(
            reasons::ARTIFACT_FAILED,
            format!("cannot encode HelmChart {namespace}/{name}: {e}"),
        )
    })?;
    if let Some(object) = body.as_object_mut() {
        object.remove("status");
    }
    api.patch(&name, &params, &Patch::Apply(body))
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("cannot create or update HelmChart {namespace}/{name}: {e}"),
            )
        })
}

/// Deletes the HelmChart made for `spec.chart` (when the HelmRelease goes,
/// or moves to `chartRef`).
pub(super) async fn delete_helm_chart(context: &Context, reference: &str) {
    let Some((namespace, name)) = reference.split_once('/') else {
        return;
    };
    let api: Api<HelmChart> = Api::namespaced(context.client.clone(), namespace);
    if let Err(error) = api.delete(name, &Default::default()).await
        && !matches!(&error, kube::Error::Api(status) if status.code == 404)
    {
        {
            tracing::warn!(%namespace, %name, %error, "cannot delete the HelmChart made for a HelmRelease");
        }
    }
}

/// Downloads the chart archive and checks it against the artifact's
/// digest; the body is bounded by the artifact size limit.
pub(super) async fn download(
    context: &Context,
    chart: &ChartArtifact,
) -> Result<Vec<u8>, ReconcileError> {
    let limit = context.options.artifact_limits.max_bytes;
    download_verified(&context.http, &chart.source, &chart.artifact, limit)
        .await
        .map_err(|error| match error {
            DownloadError::TooLarge { .. } => ReconcileError::stalled(
                reasons::ARTIFACT_FAILED,
                format!(
                    "the chart of {} is larger than {limit} bytes (--artifact-max-size)",
                    chart.source
                ),
            ),
            DownloadError::Digest { .. } => ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!("{error}; it will be fetched again"),
            ),
            other => {
                ReconcileError::retryable(reasons::ARTIFACT_FAILED, crate::error_chain(&other))
            }
        })
}
