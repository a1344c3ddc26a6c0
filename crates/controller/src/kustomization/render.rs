//! What a Kustomization renders: its source path with Flux's overlay
//! (targetNamespace, name prefix/suffix, patches, images, components),
//! post-build substitution (variables from the spec and from ConfigMaps and
//! Secrets) and common metadata.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use driftless_api::conditions::reasons;
use driftless_api::{Kustomization, SubstituteKind};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value;

use crate::Context;
use crate::reconciler::ReconcileError;

/// Renders a local directory as `ks` would render its source path (for
/// `driftless diff`/`build kustomization NAME --path DIR`); the directory
/// is only read.
pub async fn build_local(
    ks: &Kustomization,
    client: &kube::Client,
    dir: &Path,
) -> Result<Vec<Value>, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let workdir = tempfile::Builder::new()
        .prefix("driftless-build-")
        .tempdir()
        .map_err(|e| format!("cannot create a work directory: {e}"))?;
    let target =
        std::path::absolute(dir).map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    render_dir(ks, client, target, workdir.path())
        .await
        .map_err(|error| error.message)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `spec.path` inside the unpacked source, refusing any path that leaves it.
fn resolve_path(root: &Path, spec_path: Option<&str>) -> Result<PathBuf, ReconcileError> {
    let given = spec_path.unwrap_or("./");
    let mut resolved = PathBuf::new();
    for component in Path::new(given).components() {
        match component {
            Component::Normal(part) => resolved.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !resolved.pop() {
                    return Err(ReconcileError::stalled(
                        reasons::BUILD_FAILED,
                        format!(
                            "spec.path {given:?} points outside the source; use a path inside the repository"
                        ),
                    ));
                }
            }
            Component::Prefix(_) => {
                return Err(ReconcileError::stalled(
                    reasons::BUILD_FAILED,
                    format!("spec.path {given:?} is not a relative path"),
                ));
            }
        }
    }
    let dir = root.join(&resolved);
    if !dir.is_dir() {
        return Err(ReconcileError::retryable(
            reasons::BUILD_FAILED,
            format!(
                "kustomization path not found: {given:?} is not a directory in the source; fix spec.path"
            ),
        ));
    }
    Ok(dir)
}

/// The overlay Flux's generator would write around `spec.path` for
/// `targetNamespace`, `namePrefix`/`nameSuffix`, `patches`, `images` and
/// `components`. It is a separate kustomization that lists the path as its
/// resource, so the user's own kustomization.yaml is never edited. JSON is
/// valid YAML, so it is written as JSON.
/// Whether the spec asks for anything only an overlay can do.
fn needs_overlay(ks: &Kustomization) -> bool {
    let spec = &ks.spec;
    spec.target_namespace.is_some()
        || spec.name_prefix.is_some()
        || spec.name_suffix.is_some()
        || spec.patches.as_ref().is_some_and(|p| !p.is_empty())
        || spec.images.as_ref().is_some_and(|i| !i.is_empty())
        || spec.components.as_ref().is_some_and(|c| !c.is_empty())
}

fn overlay(ks: &Kustomization, target: &Path, overlay_dir: &Path) -> Value {
    let spec = &ks.spec;
    let relative = relative_path(overlay_dir, target);
    let mut kustomization = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [relative],
    });
    let fields = kustomization.as_object_mut().expect("an object");
    if let Some(namespace) = &spec.target_namespace {
        fields.insert("namespace".into(), namespace.clone().into());
    }
    if let Some(prefix) = &spec.name_prefix {
        fields.insert("namePrefix".into(), prefix.clone().into());
    }
    if let Some(suffix) = &spec.name_suffix {
        fields.insert("nameSuffix".into(), suffix.clone().into());
    }
    if let Some(patches) = spec.patches.as_ref().filter(|p| !p.is_empty()) {
        fields.insert(
            "patches".into(),
            serde_json::to_value(patches).expect("patches serialize"),
        );
    }
    if let Some(images) = spec.images.as_ref().filter(|i| !i.is_empty()) {
        fields.insert(
            "images".into(),
            serde_json::to_value(images).expect("images serialize"),
        );
    }
    if let Some(components) = spec.components.as_ref().filter(|c| !c.is_empty()) {
        let paths: Vec<String> = components
            .iter()
            .map(|c| format!("{relative}/{}", c.trim_start_matches("./")))
            .collect();
        fields.insert("components".into(), paths.into());
    }
    kustomization
}

/// `target` relative to `from`, both under the same work directory.
fn relative_path(from: &Path, target: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> =
        std::iter::repeat_n("..".to_owned(), from.len() - common).collect();
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

pub(super) async fn render(
    ks: &Kustomization,
    context: &Context,
    root: &Path,
    workdir: &Path,
) -> Result<Vec<Value>, ReconcileError> {
    let target = resolve_path(root, ks.spec.path.as_deref())?;
    render_dir(ks, &context.client, target, workdir).await
}

/// Renders `target` (only read: the unpacked source is shared) as the
/// Kustomization would: overlay, build, substitution, common metadata.
/// Scratch files go to `workdir`.
async fn render_dir(
    ks: &Kustomization,
    client: &kube::Client,
    target: PathBuf,
    workdir: &Path,
) -> Result<Vec<Value>, ReconcileError> {
    let overlay_dir = workdir.join("overlay");
    let build_dir = if needs_overlay(ks) {
        // The overlay names the path as a resource, which Kustomize only
        // accepts with a kustomization file in it. The unpacked source is
        // shared and read-only, so a path without one is copied and Flux's
        // generated kustomization written into the copy.
        let generated = driftless_render::generated_kustomization(&target).map_err(|e| {
            ReconcileError::retryable(
                reasons::BUILD_FAILED,
                format!("kustomize build failed: {}", crate::error_chain(&e)),
            )
        })?;
        let target = match generated {
            Some(generated) => {
                let copy = workdir.join("target");
                copy_dir(&target, &copy)
                    .and_then(|()| std::fs::write(copy.join("kustomization.yaml"), generated))
                    .map_err(|e| {
                        ReconcileError::retryable(
                            reasons::BUILD_FAILED,
                            format!("cannot write the generated kustomization: {e}"),
                        )
                    })?;
                copy
            }
            None => target,
        };
        let kustomization = overlay(ks, &target, &overlay_dir);
        std::fs::create_dir_all(&overlay_dir)
            .and_then(|()| {
                std::fs::write(
                    overlay_dir.join("kustomization.yaml"),
                    kustomization.to_string(),
                )
            })
            .map_err(|e| {
                ReconcileError::retryable(
                    reasons::BUILD_FAILED,
                    format!("cannot write the overlay: {e}"),
                )
            })?;
        overlay_dir
    } else {
        target
    };
    let vars = substitution_variables(ks, client).await?;
    let substitute = ks.spec.post_build.is_some();
    let path_label = ks.spec.path.clone().unwrap_or_else(|| "./".to_owned());
    tokio::task::spawn_blocking(move || {
        let stream = driftless_render::build(&build_dir).map_err(|e| {
            ReconcileError::retryable(
                reasons::BUILD_FAILED,
                format!(
                    "kustomize build failed for path {path_label:?}: {}",
                    crate::error_chain(&e)
                ),
            )
        })?;
        let stream = if substitute {
            driftless_render::substitute(&stream, &vars, true).map_err(|e| {
                ReconcileError::retryable(
                    reasons::BUILD_FAILED,
                    format!("post-build substitution failed: {}", crate::error_chain(&e)),
                )
            })?
        } else {
            stream
        };
        let documents = driftless_render::yaml::parse_documents(&stream).map_err(|e| {
            ReconcileError::retryable(
                reasons::BUILD_FAILED,
                format!("the rendered manifests are not valid YAML: {e}"),
            )
        })?;
        Ok(documents
            .iter()
            .filter(|d| !matches!(d, driftless_render::yaml::Value::Null))
            .map(to_json)
            .collect())
    })
    .await
    .map_err(|e| {
        ReconcileError::retryable(reasons::BUILD_FAILED, format!("the build task failed: {e}"))
    })?
    .map(|mut objects: Vec<Value>| {
        if let Some(metadata) = &ks.spec.common_metadata {
            for object in &mut objects {
                stamp_common_metadata(object, metadata);
            }
        }
        objects
    })
}

fn stamp_common_metadata(object: &mut Value, metadata: &driftless_api::CommonMetadata) {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, values) in [
        ("labels", &metadata.labels),
        ("annotations", &metadata.annotations),
    ] {
        let Some(values) = values else { continue };
        let map = meta
            .entry(field)
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(map) = map.as_object_mut() {
            for (key, value) in values {
                map.insert(key.clone(), Value::String(value.clone()));
            }
        }
    }
}

fn to_json(value: &driftless_render::yaml::Value) -> Value {
    use driftless_render::yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(*b),
        Y::Int(i) => i64::try_from(*i)
            .map(Value::from)
            .or_else(|_| u64::try_from(*i).map(Value::from))
            .unwrap_or_else(|_| Value::String(i.to_string())),
        Y::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Y::Str(s) => Value::String(s.clone()),
        Y::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Y::Map(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_source_are_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("apps/prod")).expect("dirs");
        assert_eq!(
            resolve_path(root.path(), Some("./apps/prod")).ok(),
            Some(root.path().join("apps/prod"))
        );
        assert_eq!(
            resolve_path(root.path(), Some("apps/../apps/prod")).ok(),
            Some(root.path().join("apps/prod"))
        );
        let escape = resolve_path(root.path(), Some("../../etc")).expect_err("refused");
        assert!(
            escape.is_stalled() && escape.message.contains("outside the source"),
            "{}",
            escape.message
        );
        let missing = resolve_path(root.path(), Some("./nope")).expect_err("missing");
        assert!(
            missing.message.contains("kustomization path not found"),
            "{}",
            missing.message
        );
    }

    #[test]
    fn relative_paths_climb_to_the_common_parent() {
        assert_eq!(
            relative_path(Path::new("/w/overlay"), Path::new("/w/source/apps")),
            "../source/apps"
        );
        assert_eq!(
            relative_path(Path::new("/w/overlay"), Path::new("/w/source")),
            "../source"
        );
    }

    #[test]
    fn yaml_values_become_json() {
        let docs = driftless_render::yaml::parse_documents("a: 1\nb: [true, x]\nc: 1.5\nd: null\n")
            .expect("yaml");
        assert_eq!(
            to_json(&docs[0]),
            serde_json::json!({"a": 1, "b": [true, "x"], "c": 1.5, "d": null})
        );
    }
}
