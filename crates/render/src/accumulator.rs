//! What a build accumulates on its way up the tree of kustomizations: the
//! resources (refusing duplicate ids), vars, the transformer configuration
//! and the first `sortOptions` met.

use crate::error::BuildError;
use crate::fieldspec::TransformerConfig;
use crate::resource::Resource;
use crate::yaml::Map;
use std::path::{Path, PathBuf};

/// Build-wide state carried up the recursion.
#[derive(Default)]
pub struct Accumulator {
    pub resources: Vec<Resource>,
    pub vars: Vec<crate::vars::Var>,
    pub config: TransformerConfig,
    /// Whether transformer runs are recorded on the objects (the top
    /// kustomization's `buildMetadata: [transformerAnnotations]`, which
    /// Kustomize applies to the whole tree).
    pub track_transformations: bool,
    /// The Kustomize release the build follows.
    pub version: crate::version::KustomizeVersion,
    /// The kustomization directories being accumulated, outermost first
    /// (a directory that contains one of them is a cycle).
    pub chain: Vec<PathBuf>,
    /// The build's one OpenAPI schema choice, passed down and back up.
    pub schema: crate::openapi::Schema,
    /// The first `sortOptions` met below the top, with its file.
    pub sort_options: Option<(Map, PathBuf)>,
    /// Ids of `resources`, built on demand; dropped whenever names may change.
    pub ids: Option<std::collections::HashSet<String>>,
}

/// The id as one text (group, version, kind, namespace, name), written
/// straight from the object's fields: every object added is keyed once.
fn id_key(r: &Resource) -> String {
    let api_version = r.api_version();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let namespace = crate::resource::norm_ns(r.namespace());
    let (kind, name) = (r.kind(), r.name());
    let mut key = String::with_capacity(
        group.len() + version.len() + kind.len() + namespace.len() + name.len() + 4,
    );
    for (i, part) in [group, version, kind, namespace, name]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            key.push('|');
        }
        key.push_str(part);
    }
    key
}

/// Records that the transformer `kind` configured in `configured_in` ran
/// over every object accumulated so far.
pub fn record_transformation(
    acc: &mut Accumulator,
    configured_in: &Path,
    kind: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) {
    if !acc.track_transformations {
        return;
    }
    for r in &mut acc.resources {
        r.transformations.push(crate::resource::Transformation {
            configured_in: configured_in.to_path_buf(),
            kind: kind.to_string(),
            name: name.map(str::to_string),
            namespace: namespace.map(str::to_string),
        });
    }
}

/// Adds a resource, refusing a second one with the same id.
pub fn append(acc: &mut Accumulator, r: Resource, file: &Path) -> Result<(), BuildError> {
    let ids = acc
        .ids
        .get_or_insert_with(|| acc.resources.iter().map(id_key).collect());
    let key = id_key(&r);
    if !ids.insert(key)
        && let Some(existing) = acc.resources.iter().find(|e| e.same_id(&r))
    {
        return Err(BuildError::Resources {
            file: file.to_path_buf(),
            message: format!(
                "may not add resource with an already registered id: {}",
                existing.id_string()
            ),
        });
    }
    acc.resources.push(r);
    Ok(())
}
