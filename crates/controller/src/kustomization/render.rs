//! What a Kustomization renders, as the render crate's typed request
//! ([`FluxBuild`]): its path, overlay fields, post-build variables (from
//! the spec and from ConfigMaps and Secrets, read here) and common
//! metadata. Every rendering decision is the render crate's (and every
//! decryption decision the decrypt crate's); this module only reads the
//! cluster and maps the spec.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use driftless_api::conditions::reasons;
use driftless_api::{Kustomization, SubstituteKind};
use driftless_decrypt::{Decryptor, Keyring};
use driftless_render::{
    CommonMetadata, FluxBuild, FluxBuildError, FluxPatch, ImageOverride, PatchTarget,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value;

use super::decryption;
use crate::reconciler::ReconcileError;

/// Renders a local directory as `ks` would render its source path (for
/// `driftless diff`/`build kustomization NAME --path DIR`); the directory
/// is only read.
///
/// `keys` decrypt as the Kustomization's `spec.decryption` would (the
/// CLI's `--decrypt-key-file`); without them, encrypted data stays as it is.
pub async fn build_local(
    ks: &Kustomization,
    client: &kube::Client,
    dir: &Path,
    keys: Option<Keyring>,
) -> Result<Vec<Value>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let root =
        std::path::absolute(dir).map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    let mut request = request(ks, client, root).await.map_err(|e| e.message)?;
    request.path = "./".to_owned();
    build(request, keys).await.map_err(|e| e.message)
}

/// Renders `ks`'s path in the unpacked source at `root` (only read: the
/// unpacked source is shared), decrypting as `spec.decryption` asks.
pub(super) async fn render(
    ks: &Kustomization,
    client: &kube::Client,
    root: &Path,
    sops_age_secret: Option<&(String, String)>,
) -> Result<Vec<Value>, ReconcileError> {
    let keys = decryption::keyring(ks, client, sops_age_secret).await?;
    let decrypting = keys.is_some();
    let objects = build(request(ks, client, root.to_path_buf()).await?, keys).await?;
    if !decrypting {
        decryption::refuse_encrypted_secrets(&objects)?;
    }
    Ok(objects)
}

/// Builds `request` off the async threads; with `keys`, decrypts
/// generator sources before and objects after Kustomize's build, all in
/// memory.
async fn build(
    mut request: FluxBuild,
    keys: Option<Keyring>,
) -> Result<Vec<Value>, ReconcileError> {
    tokio::task::spawn_blocking(move || {
        let Some(keys) = keys else {
            return driftless_render::build_flux(&request);
        };
        let mut decryptor = Decryptor::new(keys);
        let target = Path::new(&request.path);
        request.file_overrides = decryptor
            .decrypt_sources(&request.source_root, target, &request.components)
            .map_err(|e| FluxBuildError::Decrypt(e.into()))?;
        driftless_render::build_flux_with(&request, Some(&mut decryptor))
    })
    .await
    .map_err(|e| {
        ReconcileError::retryable(reasons::BUILD_FAILED, format!("the build task failed: {e}"))
    })?
    .map_err(|e| {
        let message = crate::error_chain(&e);
        if e.is_stalled() {
            ReconcileError::stalled(reasons::BUILD_FAILED, message)
        } else {
            ReconcileError::retryable(reasons::BUILD_FAILED, message)
        }
    })
}

/// The render request `ks` makes of the source at `root`.
async fn request(
    ks: &Kustomization,
    client: &kube::Client,
    root: PathBuf,
) -> Result<FluxBuild, ReconcileError> {
    let spec = &ks.spec;
    let substitute = match &spec.post_build {
        Some(_) => Some(substitution_variables(ks, client).await?),
        None => None,
    };
    let common_metadata = spec
        .common_metadata
        .as_ref()
        .map(|m| CommonMetadata {
            labels: m.labels.clone().unwrap_or_default(),
            annotations: m.annotations.clone().unwrap_or_default(),
        })
        .unwrap_or_default();
    Ok(FluxBuild {
        source_root: root,
        path: spec.path.clone().unwrap_or_else(|| "./".to_owned()),
        target_namespace: spec.target_namespace.clone(),
        name_prefix: spec.name_prefix.clone(),
        name_suffix: spec.name_suffix.clone(),
        patches: spec
            .patches
            .iter()
            .flatten()
            .map(|p| FluxPatch {
                patch: p.patch.clone(),
                target: p.target.as_ref().map(|t| PatchTarget {
                    group: t.group.clone(),
                    version: t.version.clone(),
                    kind: t.kind.clone(),
                    name: t.name.clone(),
                    namespace: t.namespace.clone(),
                    label_selector: t.label_selector.clone(),
                    annotation_selector: t.annotation_selector.clone(),
                }),
            })
            .collect(),
        images: spec
            .images
            .iter()
            .flatten()
            .map(|i| ImageOverride {
                name: i.name.clone(),
                new_name: i.new_name.clone(),
                new_tag: i.new_tag.clone(),
                digest: i.digest.clone(),
            })
            .collect(),
        components: spec.components.clone().unwrap_or_default(),
        substitute,
        common_metadata,
        file_overrides: Default::default(),
    })
}

/// `postBuild.substituteFrom` in order (later wins), then `postBuild.substitute` on top.
async fn substitution_variables(
    ks: &Kustomization,
    client: &kube::Client,
) -> Result<BTreeMap<String, String>, ReconcileError> {
    let mut vars = BTreeMap::new();
    let Some(post_build) = &ks.spec.post_build else {
        return Ok(vars);
    };
    let namespace = ks.namespace().unwrap_or_default();
    for reference in post_build.substitute_from.iter().flatten() {
        let found: Option<BTreeMap<String, String>> = match reference.kind {
            SubstituteKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
                api.get_opt(&reference.name)
                    .await
                    .map_err(|e| {
                        ReconcileError::retryable(
                            reasons::BUILD_FAILED,
                            format!("cannot read ConfigMap/{namespace}/{}: {e}", reference.name),
                        )
                    })?
                    .map(|cm| cm.data.unwrap_or_default())
            }
            SubstituteKind::Secret => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
                api.get_opt(&reference.name)
                    .await
                    .map_err(|e| {
                        ReconcileError::retryable(
                            reasons::BUILD_FAILED,
                            format!("cannot read Secret/{namespace}/{}: {e}", reference.name),
                        )
                    })?
                    .map(|secret| {
                        secret
                            .data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                            .collect()
                    })
            }
        };
        match found {
            Some(values) => vars.extend(values),
            None if reference.optional => {}
            None => {
                return Err(ReconcileError::retryable(
                    reasons::BUILD_FAILED,
                    format!(
                        "{:?}/{namespace}/{} of spec.postBuild.substituteFrom not found; create it or mark the reference optional: true",
                        reference.kind, reference.name
                    ),
                ));
            }
        }
    }
    vars.extend(post_build.substitute.clone().unwrap_or_default());
    Ok(vars)
}
