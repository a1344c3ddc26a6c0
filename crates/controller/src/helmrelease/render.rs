//! What a HelmRelease would apply: the chart loaded from its archive,
//! rendered natively with the composed values (as `helm install` renders,
//! against the cluster's version), post-rendered with Kustomize patches,
//! images and `commonMetadata`, and marked with Helm's ownership metadata
//! so the real `helm` accepts the objects as the release's.
//!
//! Owns turning (chart bytes, values) into objects and the release
//! manifest. Must not talk to the cluster.

use std::path::{Path, PathBuf};

use driftless_api::HelmRelease;
use driftless_api::conditions::reasons;
use driftless_chart::{Chart, Hook, Manifest, Metadata, RenderOptions};
use driftless_render::yaml::{Map, parse_manifests};
use driftless_render::{CommonMetadata, FluxBuild, FluxPatch, ImageOverride, PatchTarget};
use serde_json::Value as Json;

use crate::reconciler::ReconcileError;

/// Helm's annotation naming the release that owns an object.
pub(super) const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
/// Helm's annotation naming the release's namespace.
pub(super) const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// The label Helm checks before it adopts an object.
pub(super) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// One render of a HelmRelease.
pub(super) struct Desired {
    /// The chart as loaded (for the release record).
    pub chart: Chart,
    /// Its metadata.
    pub metadata: Metadata,
    /// The user-supplied values (the record's `config`).
    pub values: Map,
    /// The non-hook objects, post-rendered and marked.
    pub objects: Vec<Json>,
    /// The `crds/` objects.
    pub crds: Vec<Json>,
    /// The release manifest as Helm stores it.
    pub manifest: String,
    /// The hooks, in Helm's order.
    pub hooks: Vec<Hook>,
    /// The rendered NOTES.txt.
    pub notes: String,
}

/// What the render needs besides the chart and values.
pub(super) struct RenderInput {
    pub release_name: String,
    pub namespace: String,
    pub is_upgrade: bool,
    pub kube_version: Option<String>,
    pub api_versions: Vec<String>,
    /// Stands in for the chart's `values.yaml` (Helm's `--reuse-values`
    /// renders with the last release's values there; see `preserve`).
    pub chart_values: Option<Map>,
    /// The action's `disableSchemaValidation`.
    pub skip_schema_validation: bool,
}

/// Loads and renders the chart archive `bytes` off the async threads;
/// post-renderers work in a directory under `scratch`.
pub(super) async fn render(
    hr: &HelmRelease,
    bytes: Vec<u8>,
    values: Map,
    input: RenderInput,
    source: String,
    scratch: PathBuf,
) -> Result<Desired, ReconcileError> {
    let post = post_render_request(hr);
    tokio::task::spawn_blocking(move || {
        render_blocking(&bytes, values, &input, &source, post.as_ref(), &scratch)
    })
    .await
    .map_err(|e| {
        ReconcileError::retryable(
            reasons::BUILD_FAILED,
            format!("the render task failed: {e}"),
        )
    })?
}

fn render_blocking(
    bytes: &[u8],
    values: Map,
    input: &RenderInput,
    source: &str,
    post: Option<&PostRender>,
    scratch: &Path,
) -> Result<Desired, ReconcileError> {
    let chart = driftless_chart::loader::load_archive(bytes, source).map_err(|e| {
        ReconcileError::stalled(
            reasons::BUILD_FAILED,
            format!("cannot load the chart of {source}: {e}"),
        )
    })?;
    render_chart(chart, values, input, source, post, scratch)
}

/// Renders a chart directory or archive on disk as `hr` would (for
/// `driftless build|diff helmrelease NAME --chart PATH`).
pub(super) async fn render_local(
    hr: &HelmRelease,
    path: std::path::PathBuf,
    values: Map,
    input: RenderInput,
) -> Result<Desired, ReconcileError> {
    let post = post_render_request(hr);
    tokio::task::spawn_blocking(move || {
        let label = path.display().to_string();
        let chart = driftless_chart::load(&path).map_err(|e| {
            ReconcileError::stalled(
                reasons::BUILD_FAILED,
                format!("cannot load the chart {label}: {e}"),
            )
        })?;
        render_chart(
            chart,
            values,
            &input,
            &label,
            post.as_ref(),
            &std::env::temp_dir(),
        )
    })
    .await
    .map_err(|e| {
        ReconcileError::retryable(
            reasons::BUILD_FAILED,
            format!("the render task failed: {e}"),
        )
    })?
}

fn render_chart(
    mut chart: Chart,
    values: Map,
    input: &RenderInput,
    source: &str,
    post: Option<&PostRender>,
    scratch: &Path,
) -> Result<Desired, ReconcileError> {
    let failed = |message: String| ReconcileError::stalled(reasons::BUILD_FAILED, message);
    if let Some(chart_values) = &input.chart_values {
        chart.values.clone_from(chart_values);
    }
    let options = RenderOptions {
        release_name: input.release_name.clone(),
        namespace: input.namespace.clone(),
        is_upgrade: input.is_upgrade,
        kube_version: input.kube_version.clone(),
        api_versions: input.api_versions.clone(),
        skip_schema_validation: input.skip_schema_validation,
        ..RenderOptions::default()
    };
    let rendered = driftless_chart::render(chart.clone(), &values, &options)
        .map_err(|e| failed(format!("cannot render the chart of {source}: {e}")))?;
    let manifest = driftless_chart::manifests::assemble(&[], &rendered.manifests, &[]);
    let mut objects = match post {
        Some(post) => post.apply(&rendered.manifests, scratch)?,
        None => parse(&rendered.manifests)?,
    };
    for object in &mut objects {
        mark(object, &input.release_name, &input.namespace);
    }
    let mut crds = Vec::new();
    for (path, text) in &rendered.crds {
        let docs = parse_manifests(text)
            .map_err(|e| failed(format!("cannot read the CRD file {path}: {e}")))?;
        crds.extend(
            docs.iter()
                .map(driftless_render::to_json)
                .filter(|d| !d.is_null()),
        );
    }
    Ok(Desired {
        metadata: rendered.metadata.clone(),
        chart,
        values,
        objects,
        crds,
        manifest,
        hooks: rendered.hooks,
        notes: rendered.notes,
    })
}

/// The rendered documents as objects (comment-only documents dropped).
fn parse(manifests: &[Manifest]) -> Result<Vec<Json>, ReconcileError> {
    let mut objects = Vec::new();
    for manifest in manifests.iter().filter(|m| !m.kind.is_empty()) {
        let docs = parse_manifests(&manifest.content).map_err(|e| {
            ReconcileError::stalled(
                reasons::BUILD_FAILED,
                format!("{} renders invalid YAML: {e}", manifest.source),
            )
        })?;
        objects.extend(
            docs.iter()
                .map(driftless_render::to_json)
                .filter(|d| !d.is_null()),
        );
    }
    Ok(objects)
}

/// Helm's ownership metadata: without it `helm upgrade` refuses the objects
/// as not belonging to the release.
pub(super) fn mark(object: &mut Json, release: &str, namespace: &str) {
    let Some(metadata) = object
        .as_object_mut()
        .map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Json::Object(Default::default()))
        })
        .and_then(Json::as_object_mut)
    else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Json::Object(Default::default()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(RELEASE_NAME_ANNOTATION.into(), release.into());
        annotations.insert(RELEASE_NAMESPACE_ANNOTATION.into(), namespace.into());
    }
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Json::Object(Default::default()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(MANAGED_BY_LABEL.into(), "Helm".into());
    }
}

/// `postRenderers` (Kustomize patches and images, in order) and
/// `commonMetadata`, as one Kustomize build over the rendered objects.
struct PostRender {
    patches: Vec<FluxPatch>,
    images: Vec<ImageOverride>,
    common_metadata: CommonMetadata,
}

fn post_render_request(hr: &HelmRelease) -> Option<PostRender> {
    let renderers = hr.spec.post_renderers.as_deref().unwrap_or_default();
    if renderers.is_empty() && hr.spec.common_metadata.is_none() {
        return None;
    }
    let mut patches = Vec::new();
    let mut images = Vec::new();
    for kustomize in renderers.iter().filter_map(|r| r.kustomize.as_ref()) {
        for patch in kustomize.patches.iter().flatten() {
            patches.push(FluxPatch {
                patch: patch.patch.clone(),
                target: patch.target.as_ref().map(|t| PatchTarget {
                    group: t.group.clone(),
                    version: t.version.clone(),
                    kind: t.kind.clone(),
                    name: t.name.clone(),
                    namespace: t.namespace.clone(),
                    label_selector: t.label_selector.clone(),
                    annotation_selector: t.annotation_selector.clone(),
                }),
            });
        }
        for image in kustomize.images.iter().flatten() {
            images.push(ImageOverride {
                name: image.name.clone(),
                new_name: image.new_name.clone(),
                new_tag: image.new_tag.clone(),
                digest: image.digest.clone(),
            });
        }
    }
    let common_metadata = hr
        .spec
        .common_metadata
        .as_ref()
        .map(|m| CommonMetadata {
            labels: m.labels.clone().unwrap_or_default(),
            annotations: m.annotations.clone().unwrap_or_default(),
        })
        .unwrap_or_default();
    Some(PostRender {
        patches,
        images,
        common_metadata,
    })
}

impl PostRender {
    /// The post-renderers over `manifests`, in a directory under `scratch`.
    fn apply(&self, manifests: &[Manifest], scratch: &Path) -> Result<Vec<Json>, ReconcileError> {
        let failed = |message: String| ReconcileError::stalled(reasons::BUILD_FAILED, message);
        let dir = tempfile::Builder::new()
            .prefix("post-render-")
            .tempdir_in(scratch)
            .map_err(|e| {
                ReconcileError::retryable(
                    reasons::BUILD_FAILED,
                    format!(
                        "cannot make a post-render directory under {}: {e}",
                        scratch.display()
                    ),
                )
            })?;
        let mut stream = String::new();
        for manifest in manifests.iter().filter(|m| !m.kind.is_empty()) {
            stream.push_str("---\n");
            stream.push_str(&manifest.content);
            stream.push('\n');
        }
        std::fs::write(dir.path().join("helm-output.yaml"), stream).map_err(|e| {
            ReconcileError::retryable(
                reasons::BUILD_FAILED,
                format!("cannot write the post-render input: {e}"),
            )
        })?;
        let request = FluxBuild {
            source_root: dir.path().to_path_buf(),
            path: "./".into(),
            target_namespace: None,
            name_prefix: None,
            name_suffix: None,
            patches: self.patches.clone(),
            images: self.images.clone(),
            components: Vec::new(),
            substitute: None,
            common_metadata: self.common_metadata.clone(),
            file_overrides: Default::default(),
        };
        driftless_render::build_flux(&request)
            .map_err(|e| failed(format!("spec.postRenderers: {}", crate::error_chain(&e))))
    }
}
