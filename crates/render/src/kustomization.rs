//! One kustomization file, loaded: its directory, its fields (names
//! matched case-insensitively, unknown fields refused) and the typed
//! accessors and path rules (Kustomize's load restrictor, no remote
//! resources) every part of the build reads it through.

use crate::error::{BuildError, YamlError};
use crate::yaml::{self, Map, Value};
use std::path::{Component, Path, PathBuf};

pub const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "replacements",
    "vars",
    "crds",
    "buildMetadata",
    "sortOptions",
    "configurations",
    "generators",
    "transformers",
    "openapi",
];

/// One kustomization file, loaded.
pub struct KustomizationFile {
    pub dir: PathBuf,
    pub file: PathBuf,
    pub doc: Map,
    /// For built-in plugin configs: the config file and the plugin's name.
    pub plugin_origin: Option<(PathBuf, Option<String>)>,
}

impl KustomizationFile {
    pub fn err(&self, field: &str, message: impl Into<String>) -> BuildError {
        BuildError::Invalid {
            file: self.file.clone(),
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn str_field(&self, field: &str) -> Result<Option<&str>, BuildError> {
        match self.doc.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(
                field,
                format!("expected a string, found a {}", v.type_name()),
            )),
        }
    }
    pub fn seq_field(&self, field: &str) -> Result<&[Value], BuildError> {
        match self.doc.get(field) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Seq(s)) => Ok(s),
            Some(v) => Err(self.err(field, format!("expected a list, found a {}", v.type_name()))),
        }
    }
    pub fn map_field(&self, field: &str) -> Result<Option<&Map>, BuildError> {
        match self.doc.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Map(m)) => Ok(Some(m)),
            Some(v) => Err(self.err(
                field,
                format!("expected a mapping, found a {}", v.type_name()),
            )),
        }
    }
    pub fn is_component(&self) -> bool {
        self.doc.get("kind").and_then(Value::as_str) == Some("Component")
    }

    /// Resolves a file named in this kustomization, refusing paths outside it.
    pub fn file_path(&self, field: &str, rel: &str) -> Result<PathBuf, BuildError> {
        if is_remote(rel) {
            return Err(BuildError::Remote {
                file: self.file.clone(),
                field: field.into(),
                url: rel.into(),
            });
        }
        let p = clean(&self.dir.join(rel));
        let real = p.canonicalize().unwrap_or_else(|_| p.clone());
        let allowed = crate::flux_scope::for_files_of(&self.dir);
        let root = allowed.canonicalize().unwrap_or(allowed);
        if !real.starts_with(&root) {
            return Err(BuildError::OutsideRoot {
                file: self.file.clone(),
                field: field.into(),
                target: real,
                root,
            });
        }
        Ok(p)
    }

    pub fn read_file(&self, field: &str, rel: &str) -> Result<String, BuildError> {
        let p = self.file_path(field, rel)?;
        crate::overrides::read_to_string(&p).map_err(|source| BuildError::Entry {
            file: self.file.clone(),
            field: field.into(),
            entry: rel.into(),
            source: Box::new(source),
        })
    }
}

pub fn is_remote(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("://")
        || l.starts_with("git@")
        || l.starts_with("github.com/")
        || l.starts_with("gitlab.com/")
        || l.starts_with("bitbucket.org/")
        || l.contains("?ref=")
}

/// Lexically cleans `a/./b/../c` to `a/c`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

pub fn find_kustomization(dir: &Path) -> Result<Option<PathBuf>, BuildError> {
    let found: Vec<PathBuf> = KUSTOMIZATION_FILES
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file())
        .collect();
    if found.len() > 1 {
        return Err(BuildError::Resources {
            file: dir.to_path_buf(),
            message: "Found multiple kustomization files".into(),
        });
    }
    Ok(found.into_iter().next())
}

pub fn load_kustomization(dir: &Path) -> Result<Option<KustomizationFile>, BuildError> {
    let Some(file) = find_kustomization(dir)? else {
        return Ok(None);
    };
    let text = crate::overrides::read_disk_to_string(&file)?;
    let docs = yaml::parse_documents_with(&text, true).map_err(|e| BuildError::Yaml {
        path: file.clone(),
        source: YamlError(e),
    })?;
    let doc = match docs.into_iter().next() {
        Some(Value::Map(m)) => m,
        None => Map::new(),
        Some(_) => {
            return Err(BuildError::Invalid {
                file,
                field: "(document)".into(),
                message: "a kustomization must be a mapping".into(),
            });
        }
    };
    // Field names match case-insensitively, as Go's JSON decoding does.
    let mut normalized = Map::new();
    for (k, v) in doc {
        let Some(known) = KNOWN_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&k)) else {
            return Err(BuildError::Unsupported {
                file: file.clone(),
                field: k,
            });
        };
        normalized.insert(known.to_string(), v);
    }
    let doc = normalized;
    check_type_and_content(&file, &doc)?;
    Ok(Some(KustomizationFile {
        plugin_origin: None,
        dir: dir.to_path_buf(),
        file,
        doc,
    }))
}

/// Kustomize's checks on a file it read: something besides `apiVersion`
/// and `kind` must be set, `kind` is a Kustomization or a Component, and
/// `apiVersion`, when given, is the one that kind requires.
fn check_type_and_content(file: &Path, doc: &Map) -> Result<(), BuildError> {
    let invalid = |field: &str, message: String| BuildError::Invalid {
        file: file.to_path_buf(),
        field: field.into(),
        message,
    };
    if doc
        .iter()
        .all(|(k, v)| k == "apiVersion" || k == "kind" || v.is_null())
    {
        return Err(invalid(
            "(document)",
            "kustomization.yaml is empty: it sets nothing besides apiVersion and kind".into(),
        ));
    }
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let required = match kind {
        "" | "Kustomization" => "kustomize.config.k8s.io/v1beta1",
        "Component" => "kustomize.config.k8s.io/v1alpha1",
        other => {
            return Err(invalid(
                "kind",
                format!("kind should be Kustomization or Component, not {other:?}"),
            ));
        }
    };
    match doc.get("apiVersion").and_then(Value::as_str) {
        Some(api) if !api.is_empty() && api != required => Err(invalid(
            "apiVersion",
            format!(
                "apiVersion for {} should be {required}, not {api:?}",
                if kind.is_empty() {
                    "Kustomization"
                } else {
                    kind
                }
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether `dir` has a kustomization file of its own (else Flux generates one).
pub fn has_kustomization(dir: &Path) -> Result<bool, BuildError> {
    Ok(find_kustomization(dir)?.is_some())
}
