//! `openapi`: the one schema a whole build uses to merge custom kinds'
//! lists by key in strategic-merge patches.
//!
//! Kustomize keeps a single, process-wide choice: the top kustomization
//! makes it first (an empty `openapi` leaves it open), and below the top
//! the first kustomization met that names a schema makes it; later ones
//! are ignored, though a `path` they name must still be readable. A
//! custom schema file and a built-in `version` in the same field are an
//! error, and so is a version Kustomize does not carry.

use crate::error::{BuildError, YamlError};
use crate::kustomization::KustomizationFile;
use crate::yaml::{self, Value};
use std::path::Path;

/// The only Kubernetes OpenAPI version built into Kustomize v5.5.0.
const BUILTIN_VERSION: &str = "v1.21.2";

/// The schema a build has chosen so far.
#[derive(Debug, Clone, Default)]
pub enum Schema {
    /// Nobody chose: Kustomize's default built-in schema.
    #[default]
    Open,
    /// A built-in version, named explicitly.
    Builtin,
    /// A custom schema file: the kinds it describes.
    Custom(Vec<String>),
}

impl Schema {
    /// Whether the custom schema describes `kind`.
    pub fn describes(&self, kind: &str) -> bool {
        matches!(self, Schema::Custom(kinds) if kinds.iter().any(|k| k == kind))
    }
}

/// Applies the `openapi` field of `kust` to the build's choice; `top` is
/// the kustomization being built (it always decides).
pub fn choose(kust: &KustomizationFile, schema: &mut Schema, top: bool) -> Result<(), BuildError> {
    let Some(field) = kust.map_field("openapi")? else {
        if top {
            *schema = Schema::Open;
        }
        return Ok(());
    };
    if let Some(k) = field.keys().find(|k| *k != "path" && *k != "version") {
        return Err(BuildError::Unsupported {
            file: kust.file.clone(),
            field: format!("openapi.{k}"),
        });
    }
    let custom = match field.get("path").and_then(Value::as_str) {
        Some(rel) => {
            let text = kust.read_file("openapi.path", rel)?;
            Some(schema_kinds(&kust.file_path("openapi.path", rel)?, &text)?)
        }
        None => None,
    };
    if !top && !matches!(schema, Schema::Open) {
        return Ok(());
    }
    let version = field.get("version").and_then(Value::scalar_string);
    match (custom, version) {
        (Some(_), Some(_)) => Err(kust.err(
            "openapi",
            "builtin version and custom schema provided, cannot use both",
        )),
        (Some(kinds), None) => {
            *schema = Schema::Custom(kinds);
            Ok(())
        }
        (None, None) => {
            *schema = Schema::Open;
            Ok(())
        }
        (None, Some(v)) if v.is_empty() => {
            *schema = Schema::Open;
            Ok(())
        }
        (None, Some(v)) if v == BUILTIN_VERSION => {
            *schema = Schema::Builtin;
            Ok(())
        }
        (None, Some(v)) => Err(kust.err(
            "openapi.version",
            format!(
                "the specified OpenAPI version {v:?} is not built in (only {BUILTIN_VERSION} is)"
            ),
        )),
    }
}

/// The kinds an OpenAPI schema file (JSON or YAML) describes.
fn schema_kinds(path: &Path, text: &str) -> Result<Vec<String>, BuildError> {
    let docs = yaml::parse_documents(text).map_err(|e| BuildError::Yaml {
        path: path.to_path_buf(),
        source: YamlError(e),
    })?;
    let mut kinds = Vec::new();
    for d in docs {
        let defs = d.get("definitions").and_then(Value::as_map);
        for def in defs.into_iter().flat_map(|m| m.values()) {
            for g in def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_seq)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let Some(k) = g.str_at(&["kind"]) {
                    kinds.push(k.to_string());
                }
            }
        }
    }
    Ok(kinds)
}
