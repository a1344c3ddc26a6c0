//! Flux's kustomize-controller build as one typed request: a path inside a
//! read-only source tree, the Kustomization's overlay fields
//! (`targetNamespace`, `namePrefix`/`nameSuffix`, `patches`, `images`,
//! `components`), post-build substitution and common metadata — in, the
//! objects it applies out.
//!
//! Owns every rendering decision the controller, `driftless build
//! kustomization NAME --path DIR` and `driftless diff` share. Must not
//! write anything: the overlay is a kustomization held in memory around the
//! path (the repository's own kustomization file is never edited, and a
//! directory without one gets Flux's generated kustomization, also in
//! memory), so many builds can read one unpacked source at once.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use serde_json::Value as Json;

use crate::build;
use crate::error::{BuildError, SubstituteError, YamlError};
use crate::flux_scope;
use crate::kustomization::{self, KustomizationFile};
use crate::overrides::FileOverrides;
use crate::version::KustomizeVersion;
use crate::yaml::{self, Value};

/// What Flux's kustomize-controller asks of a build.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FluxBuild {
    /// The unpacked source; only read.
    pub source_root: PathBuf,
    /// `spec.path`, relative to the source (`./` when unset).
    pub path: String,
    /// `spec.targetNamespace`.
    pub target_namespace: Option<String>,
    /// `spec.namePrefix`.
    pub name_prefix: Option<String>,
    /// `spec.nameSuffix`.
    pub name_suffix: Option<String>,
    /// `spec.patches`.
    pub patches: Vec<FluxPatch>,
    /// `spec.images`.
    pub images: Vec<ImageOverride>,
    /// `spec.components`, relative to the path.
    pub components: Vec<String>,
    /// `spec.postBuild` variables; `None` when there is no `postBuild`
    /// (then nothing is substituted).
    pub substitute: Option<BTreeMap<String, String>>,
    /// `spec.commonMetadata`, stamped on every object.
    pub common_metadata: CommonMetadata,
    /// Cleartext of encrypted generator sources and patch files, read
    /// instead of the source's bytes (see [`FileOverrides`]).
    pub file_overrides: FileOverrides,
}

/// A step run on every built object before post-build substitution, as
/// Flux decrypts SOPS data there.
pub trait ObjectHook {
    /// Changes `object` in place, or refuses the build.
    fn object(
        &mut self,
        object: &mut Value,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// One entry of `spec.patches`: a strategic-merge or JSON6902 patch and
/// the objects it targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FluxPatch {
    /// The patch document, YAML or JSON.
    pub patch: String,
    /// Which objects it applies to; all that match its own id when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<PatchTarget>,
}

/// Kustomize's patch target selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "the fields of Kustomize's selector, as named there"
)]
pub struct PatchTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
}

/// One entry of `spec.images`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageOverride {
    /// The image name to match.
    pub name: String,
    /// A new name for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// A new tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// A digest, replacing the tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Labels and annotations put on every object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommonMetadata {
    /// Labels, overriding the objects' own.
    pub labels: BTreeMap<String, String>,
    /// Annotations, overriding the objects' own.
    pub annotations: BTreeMap<String, String>,
}

/// Why a Flux build failed, naming the spec field or path and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FluxBuildError {
    /// `spec.path` climbs out of the source.
    #[error("spec.path {path:?} points outside the source; use a path inside the repository")]
    PathOutsideSource {
        /// The path as given.
        path: String,
    },
    /// `spec.path` is not relative.
    #[error("spec.path {path:?} is not a relative path")]
    NotRelative {
        /// The path as given.
        path: String,
    },
    /// `spec.path` names no directory of the source.
    #[error(
        "kustomization path not found: {path:?} is not a directory in the source; fix spec.path"
    )]
    PathNotFound {
        /// The path as given.
        path: String,
    },
    /// Kustomize's build failed.
    #[error("kustomize build failed for path {path:?}")]
    Build {
        /// The path as given.
        path: String,
        /// What Kustomize refused.
        #[source]
        source: BuildError,
    },
    /// The object step ([`ObjectHook`]: decryption) refused an object.
    #[error("decryption failed")]
    Decrypt(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Post-build substitution failed (an undefined variable, a malformed one).
    #[error("post-build substitution failed")]
    Substitute(#[source] SubstituteError),
    /// The rendered stream could not be read back (a bug, or a substituted
    /// value that broke the YAML).
    #[error("the rendered manifests are not valid YAML")]
    InvalidOutput(#[source] YamlError),
}

impl FluxBuildError {
    /// Whether only a change of the spec can fix it (retrying cannot).
    pub fn is_stalled(&self) -> bool {
        matches!(
            self,
            FluxBuildError::PathOutsideSource { .. } | FluxBuildError::NotRelative { .. }
        )
    }
}

/// Renders `request` as Flux's kustomize-controller would, returning the
/// objects (as JSON values) in Kustomize's order. Reads the source, writes
/// nothing.
pub fn build_flux(request: &FluxBuild) -> Result<Vec<Json>, FluxBuildError> {
    build_flux_with(request, None)
}

/// [`build_flux`], with `hook` run on every object between Kustomize's
/// build and post-build substitution.
pub fn build_flux_with(
    request: &FluxBuild,
    hook: Option<&mut dyn ObjectHook>,
) -> Result<Vec<Json>, FluxBuildError> {
    let target = resolve_path(&request.source_root, &request.path)?;
    let failed = |source| FluxBuildError::Build {
        path: request.path.clone(),
        source,
    };
    let scope = flux_scope::FluxScope {
        source_root: request.source_root.clone(),
        overrides: request.file_overrides.clone(),
    };
    let stream = flux_scope::scoped(scope, || {
        if needs_overlay(request) {
            build::build_kustomization(&overlay(request, &target)?, KustomizeVersion::FLUX)
        } else {
            build::build_as(&target, KustomizeVersion::FLUX, true)
        }
    })
    .map_err(failed)?;
    let invalid = |e| FluxBuildError::InvalidOutput(YamlError(e));
    let documents = match hook {
        None => {
            let stream = match &request.substitute {
                Some(vars) => {
                    crate::substitute(&stream, vars, true).map_err(FluxBuildError::Substitute)?
                }
                None => stream,
            };
            yaml::parse_documents(&stream).map_err(invalid)?
        }
        Some(hook) => {
            let mut documents = yaml::parse_documents(&stream).map_err(invalid)?;
            for document in documents.iter_mut().filter(|d| !d.is_null()) {
                hook.object(document).map_err(FluxBuildError::Decrypt)?;
            }
            match &request.substitute {
                Some(vars) => {
                    let stream = documents
                        .iter()
                        .map(yaml::emit_document)
                        .collect::<Vec<_>>()
                        .join("---\n");
                    let stream = crate::substitute(&stream, vars, true)
                        .map_err(FluxBuildError::Substitute)?;
                    yaml::parse_documents(&stream).map_err(invalid)?
                }
                None => documents,
            }
        }
    };
    Ok(documents
        .iter()
        .filter(|d| !matches!(d, Value::Null))
        .map(|d| {
            let mut object = to_json(d);
            stamp(&mut object, &request.common_metadata);
            object
        })
        .collect())
}

/// `spec.path` inside the source, refusing any path that leaves it.
fn resolve_path(root: &Path, given: &str) -> Result<PathBuf, FluxBuildError> {
    let given = if given.is_empty() { "./" } else { given };
    let mut resolved = PathBuf::new();
    for component in Path::new(given).components() {
        match component {
            Component::Normal(part) => resolved.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !resolved.pop() {
                    return Err(FluxBuildError::PathOutsideSource {
                        path: given.to_owned(),
                    });
                }
            }
            Component::Prefix(_) => {
                return Err(FluxBuildError::NotRelative {
                    path: given.to_owned(),
                });
            }
        }
    }
    let dir = root.join(&resolved);
    if !dir.is_dir() {
        return Err(FluxBuildError::PathNotFound {
            path: given.to_owned(),
        });
    }
    Ok(dir)
}

/// Whether the spec asks for anything only an overlay can do.
fn needs_overlay(request: &FluxBuild) -> bool {
    request.target_namespace.is_some()
        || request.name_prefix.is_some()
        || request.name_suffix.is_some()
        || !request.patches.is_empty()
        || !request.images.is_empty()
        || !request.components.is_empty()
}

/// The overlay Flux's generator would make around `target`, held in
/// memory in `target` itself: it lists the target as its resource (or,
/// when the target has no kustomization file, the manifests Flux's
/// generated kustomization would list), then the spec's fields.
fn overlay(request: &FluxBuild, target: &Path) -> Result<KustomizationFile, BuildError> {
    let mut doc = serde_json::Map::new();
    doc.insert(
        "apiVersion".into(),
        "kustomize.config.k8s.io/v1beta1".into(),
    );
    doc.insert("kind".into(), "Kustomization".into());
    let resources = if kustomization::has_kustomization(target)? {
        Json::from(vec!["."])
    } else {
        to_json(
            build::flux_generated_kustomization(target)?
                .doc
                .get("resources")
                .unwrap_or(&Value::Seq(Vec::new())),
        )
    };
    doc.insert("resources".into(), resources);
    let optional = [
        ("namespace", &request.target_namespace),
        ("namePrefix", &request.name_prefix),
        ("nameSuffix", &request.name_suffix),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            doc.insert(field.into(), value.clone().into());
        }
    }
    if !request.patches.is_empty() {
        doc.insert("patches".into(), plain_json(&request.patches));
    }
    if !request.images.is_empty() {
        doc.insert("images".into(), plain_json(&request.images));
    }
    if !request.components.is_empty() {
        doc.insert("components".into(), request.components.clone().into());
    }
    // JSON is YAML: read it as Kustomize reads a kustomization file.
    let text = Json::Object(doc).to_string();
    let file = target.join("kustomization.yaml");
    let parsed = yaml::parse_documents(&text).map_err(|e| BuildError::Yaml {
        path: file.clone(),
        source: YamlError(e),
    })?;
    let Some(Value::Map(doc)) = parsed.into_iter().next() else {
        return Err(BuildError::Invalid {
            file,
            field: "(document)".into(),
            message: "the overlay is not a mapping".into(),
        });
    };
    Ok(KustomizationFile {
        dir: target.to_path_buf(),
        file,
        doc,
        plugin_origin: None,
    })
}

/// Plain data (strings and options of them) as JSON.
fn plain_json<T: Serialize>(value: &T) -> Json {
    serde_json::to_value(value).expect("structs of strings always serialize")
}

/// A YAML value as JSON: integers beyond `i64`/`u64` become strings and
/// non-finite floats `null`, as the API server would refuse them anyway.
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => i64::try_from(*i)
            .map(Json::from)
            .or_else(|_| u64::try_from(*i).map(Json::from))
            .unwrap_or_else(|_| Json::String(i.to_string())),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// `commonMetadata`: labels and annotations set on the object.
fn stamp(object: &mut Json, metadata: &CommonMetadata) {
    let Some(meta) = object.get_mut("metadata").and_then(Json::as_object_mut) else {
        return;
    };
    for (field, values) in [
        ("labels", &metadata.labels),
        ("annotations", &metadata.annotations),
    ] {
        if values.is_empty() {
            continue;
        }
        let map = meta
            .entry(field)
            .or_insert_with(|| Json::Object(Default::default()));
        if let Some(map) = map.as_object_mut() {
            for (key, value) in values {
                map.insert(key.clone(), Json::String(value.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
            std::fs::write(path, text).expect("write");
        }
        root
    }

    /// Every file below `root` with its bytes: what a build must leave as it was.
    fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let bytes = std::fs::read(&path).expect("read");
                    out.push((path, bytes));
                }
            }
        }
        out.sort();
        out
    }

    const CM: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  color: ${color:=red}\n";
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.0\n";

    fn request(root: &Path, path: &str) -> FluxBuild {
        FluxBuild {
            source_root: root.to_path_buf(),
            path: path.to_owned(),
            ..FluxBuild::default()
        }
    }

    #[test]
    fn files_outside_the_kustomization_but_inside_the_source_load_as_in_flux() {
        let kustomization = "resources:\n- ../common/cm.yaml\npatches:\n- path: ../common/patch.yaml\nconfigMapGenerator:\n- name: conf\n  files:\n  - ../config/app.conf\n";
        let patch =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  size: large\n";
        let root = tree(&[
            ("apps/prod/kustomization.yaml", kustomization),
            ("apps/common/cm.yaml", CM),
            ("apps/common/patch.yaml", patch),
            ("apps/config/app.conf", "debug=false\n"),
        ]);
        let objects = build_flux(&request(root.path(), "./apps/prod")).expect("Flux loads them");
        assert_eq!(objects.len(), 2, "{objects:?}");
        let app = objects.iter().find(|o| o["metadata"]["name"] == "app");
        assert_eq!(
            app.map(|o| &o["data"]["size"]),
            Some(&serde_json::json!("large"))
        );
        // `kubectl kustomize` keeps its root-only restrictor.
        let refused = crate::build(&root.path().join("apps/prod")).expect_err("root only");
        assert!(
            matches!(refused, BuildError::OutsideRoot { .. }),
            "{refused}"
        );
        // The source stays the boundary.
        std::fs::write(
            root.path().join("apps/prod/kustomization.yaml"),
            "resources:\n- ../../../etc/hostname\n",
        )
        .expect("write");
        let escape = build_flux(&request(root.path(), "./apps/prod")).expect_err("outside");
        assert!(format!("{escape:?}").contains("OutsideRoot"), "{escape:?}");
    }

    #[test]
    fn paths_outside_the_source_are_refused() {
        let root = tree(&[("apps/prod/cm.yaml", CM)]);
        assert_eq!(
            resolve_path(root.path(), "./apps/prod").ok(),
            Some(root.path().join("apps/prod"))
        );
        assert_eq!(
            resolve_path(root.path(), "apps/../apps/prod").ok(),
            Some(root.path().join("apps/prod"))
        );
        let escape = resolve_path(root.path(), "../../etc").expect_err("refused");
        assert!(escape.is_stalled());
        assert!(
            escape.to_string().contains("outside the source"),
            "{escape}"
        );
        let missing = resolve_path(root.path(), "./nope").expect_err("missing");
        assert!(!missing.is_stalled());
        assert!(
            missing.to_string().contains("kustomization path not found"),
            "{missing}"
        );
    }

    #[test]
    fn yaml_values_become_json() {
        let docs = yaml::parse_documents("a: 1\nb: [true, x]\nc: 1.5\nd: null\n").expect("yaml");
        assert_eq!(
            to_json(&docs[0]),
            serde_json::json!({"a": 1, "b": [true, "x"], "c": 1.5, "d": null})
        );
    }

    #[test]
    fn a_plain_directory_gets_the_overlay_and_nothing_is_written() {
        let root = tree(&[("deploy/cm.yaml", CM), ("deploy/web.yaml", DEPLOY)]);
        let before = snapshot(root.path());
        let objects = build_flux(&FluxBuild {
            target_namespace: Some("prod".into()),
            name_prefix: Some("p-".into()),
            images: vec![ImageOverride {
                name: "nginx".into(),
                new_tag: Some("1.27".into()),
                ..ImageOverride::default()
            }],
            common_metadata: CommonMetadata {
                labels: BTreeMap::from([("team".into(), "a".into())]),
                ..CommonMetadata::default()
            },
            ..request(root.path(), "./deploy")
        })
        .expect("builds");
        assert_eq!(snapshot(root.path()), before, "the source was written to");
        let names: Vec<_> = objects
            .iter()
            .map(|o| {
                (
                    o["metadata"]["namespace"].as_str(),
                    o["metadata"]["name"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [(Some("prod"), Some("p-app")), (Some("prod"), Some("p-web"))]
        );
        assert_eq!(
            objects[1].pointer("/spec/template/spec/containers/0/image"),
            Some(&Json::from("nginx:1.27"))
        );
        assert!(
            objects
                .iter()
                .all(|o| o["metadata"]["labels"]["team"] == "a")
        );
        // No postBuild: `${color:=red}` is left as written.
        assert_eq!(objects[0]["data"]["color"], "${color:=red}");
    }

    #[test]
    fn a_kustomization_is_wrapped_with_patches_and_components() {
        let root = tree(&[
            ("app/kustomization.yaml", "resources:\n- web.yaml\n"),
            ("app/web.yaml", DEPLOY),
            (
                "app/replicas/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n- patch: |\n    - op: add\n      path: /spec/replicas\n      value: 3\n  target:\n    kind: Deployment\n",
            ),
        ]);
        let objects = build_flux(&FluxBuild {
            patches: vec![FluxPatch {
                patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    patched: \"yes\"\n".into(),
                target: Some(PatchTarget {
                    kind: Some("Deployment".into()),
                    ..PatchTarget::default()
                }),
            }],
            components: vec!["./replicas".into()],
            ..request(root.path(), "app")
        })
        .expect("builds");
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["metadata"]["annotations"]["patched"], "yes");
        assert_eq!(objects[0]["spec"]["replicas"], 3);
    }

    #[test]
    fn substitution_uses_defaults_and_refuses_undefined_variables() {
        let root = tree(&[("cm.yaml", CM)]);
        let vars = BTreeMap::from([("color".to_owned(), "blue".to_owned())]);
        let objects = build_flux(&FluxBuild {
            substitute: Some(vars),
            ..request(root.path(), "")
        })
        .expect("builds");
        assert_eq!(objects[0]["data"]["color"], "blue");
        let defaulted = build_flux(&FluxBuild {
            substitute: Some(BTreeMap::new()),
            ..request(root.path(), "./")
        })
        .expect("builds");
        assert_eq!(defaulted[0]["data"]["color"], "red");

        let strict = tree(&[("cm.yaml", &CM.replace("${color:=red}", "${missing}"))]);
        let error = build_flux(&FluxBuild {
            substitute: Some(BTreeMap::new()),
            ..request(strict.path(), "./")
        })
        .expect_err("undefined");
        assert!(matches!(error, FluxBuildError::Substitute(_)), "{error}");
        assert!(!error.is_stalled());
    }

    #[test]
    fn a_failing_build_names_the_path() {
        let root = tree(&[("bad/kustomization.yaml", "resources:\n- missing.yaml\n")]);
        let error = build_flux(&request(root.path(), "./bad")).expect_err("fails");
        assert!(
            error
                .to_string()
                .contains("kustomize build failed for path \"./bad\""),
            "{error}"
        );
    }
}
