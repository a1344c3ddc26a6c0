//! The build pipeline: load a kustomization, accumulate its resources and
//! components, run its generators and transformers in Kustomize's order,
//! and, at the top level only, hash generated names, fix name references,
//! resolve vars and sort.
//!
//! It reads files only below the kustomization that names them (directories
//! of other kustomizations may be anywhere, as with Kustomize's default
//! load restrictor), never the network, and never runs plugins.

use crate::accumulator::{Accumulator, append};
use crate::error::{BuildError, YamlError};
use crate::kustomization::{
    KustomizationFile, clean, find_kustomization, is_remote, load_kustomization,
};
use crate::resource::{Resource, legacy_sort};
use crate::transform;
use crate::version::KustomizeVersion;
use crate::yaml::{self, Map, Value};
use std::path::{Path, PathBuf};

/// Kustomize's complaint about a directory it cannot build.
const MISSING_KUSTOMIZATION: &str = "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory";

/// What a directory was named as.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Resource,
    Component,
}

/// Builds the directory into Kustomize's output stream; a directory
/// without a kustomization file is refused, as Kustomize refuses it.
pub fn build(dir: &Path) -> Result<String, BuildError> {
    build_as(dir, KustomizeVersion::default(), false)
}

/// Like [`build`], but a directory without a kustomization file renders
/// every manifest below it, as Flux's kustomize-controller does.
pub fn build_with_flux_fallback(dir: &Path) -> Result<String, BuildError> {
    build_as(dir, KustomizeVersion::default(), true)
}

/// Builds `dir` as the given Kustomize release would; with
/// `flux_fallback`, a directory without a kustomization renders as Flux
/// renders it.
pub fn build_as(
    dir: &Path,
    version: KustomizeVersion,
    flux_fallback: bool,
) -> Result<String, BuildError> {
    let dir = if dir.is_absolute() {
        clean(dir)
    } else {
        clean(&std::env::current_dir().unwrap_or_default().join(dir))
    };
    if !dir.is_dir() {
        return Err(BuildError::Read {
            path: dir.clone(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let kust = match load_kustomization(&dir)? {
        Some(k) => return build_from(&k, vec![dir], version),
        None if flux_fallback => flux_generated_kustomization(&dir)?,
        None => {
            return Err(BuildError::Resources {
                file: dir,
                message: MISSING_KUSTOMIZATION.into(),
            });
        }
    };
    build_from(&kust, Vec::new(), version)
}

/// Builds an in-memory kustomization (Flux's overlay, which names its own
/// directory as a resource) into Kustomize's output stream.
pub fn build_kustomization(
    kust: &KustomizationFile,
    version: KustomizeVersion,
) -> Result<String, BuildError> {
    build_from(kust, Vec::new(), version)
}

/// Accumulates `kust` below the kustomization directories in `chain`,
/// then runs the top-level steps.
fn build_from(
    kust: &KustomizationFile,
    chain: Vec<PathBuf>,
    version: KustomizeVersion,
) -> Result<String, BuildError> {
    let build_metadata = BuildMetadata::of(kust)?;
    let mut acc = Accumulator {
        track_transformations: build_metadata.transformer_annotations,
        chain,
        version,
        ..Accumulator::default()
    };
    crate::openapi::choose(kust, &mut acc.schema, true)?;
    accumulate(kust, &mut acc)?;
    // Last steps, once, at the top.
    for r in &mut acc.resources {
        if r.needs_hash {
            let h = crate::hash::name_hash(&r.obj);
            let n = format!("{}-{h}", r.name());
            r.set_name(&n);
        }
    }
    crate::nameref::fix(&mut acc.resources, &acc.config, &kust.file)?;
    crate::vars::resolve(&mut acc.resources, &acc.vars, &acc.config, &kust.file)?;
    acc.resources.retain(|r| {
        r.annotations()
            .and_then(|a| a.get("config.kubernetes.io/local-config"))
            .and_then(Value::as_str)
            != Some("true")
    });
    if build_metadata.origin_annotations {
        for r in &mut acc.resources {
            add_origin_annotation(r, &kust.dir);
        }
    }
    if build_metadata.transformer_annotations {
        for r in &mut acc.resources {
            add_transformer_annotation(r, &kust.dir);
        }
    }
    if build_metadata.managed_by_label {
        for r in &mut acc.resources {
            set_metadata_entry(
                r,
                "labels",
                "app.kubernetes.io/managed-by",
                version.managed_by().to_string(),
            );
        }
    }
    let mut fifo = false;
    let mut custom: Option<(Vec<String>, Vec<String>)> = None;
    let so = match kust.map_field("sortOptions")? {
        Some(so) => Some((so.clone(), kust.file.clone())),
        None => acc.sort_options.clone(),
    };
    if let Some((so, file)) = so {
        let err = |field: &str, message: &str| BuildError::Invalid {
            file: file.clone(),
            field: field.into(),
            message: message.into(),
        };
        match so.get("order").and_then(Value::as_str) {
            Some("fifo") => {
                if so.get("legacySortOptions").is_some() {
                    return Err(err(
                        "sortOptions.legacySortOptions",
                        "legacySortOptions may only be set with order: legacy",
                    ));
                }
                fifo = true;
            }
            Some("legacy") => {
                if let Some(l) = so.get("legacySortOptions") {
                    let list = |k: &str| -> Vec<String> {
                        l.get(k)
                            .and_then(Value::as_seq)
                            .map(|s| s.iter().filter_map(Value::scalar_string).collect())
                            .unwrap_or_default()
                    };
                    custom = Some((list("orderFirst"), list("orderLast")));
                }
            }
            _ => {
                return Err(err(
                    "sortOptions.order",
                    "the field 'sortOptions.order' must be one of [fifo, legacy]",
                ));
            }
        }
    }
    if !fifo {
        match &custom {
            Some((first, last)) => crate::resource::sort_with(&mut acc.resources, first, last),
            None => legacy_sort(&mut acc.resources),
        }
    }
    let mut out = String::new();
    // Each object is freed right after it is printed, while it is still
    // in the cache, not all together at the end.
    for (i, mut r) in std::mem::take(&mut acc.resources).into_iter().enumerate() {
        drop_empty_annotations(&mut r);
        if i > 0 {
            out.push_str("---\n");
        }
        // Text from a generator or a kustomization field, not only from a
        // manifest (checked as it is read), can hold what Kustomize's
        // JSON round trip refuses.
        if yaml::emit_document_checked(&r.obj, &mut out) {
            return Err(BuildError::Resources {
                file: kust.file.clone(),
                message: format!(
                    "{}: control characters are not allowed (a string holds U+007F, U+0080 to U+009F but U+0085, U+FFFE or U+FFFF, which Kustomize refuses)",
                    r.id_string()
                ),
            });
        }
    }
    Ok(out)
}

/// Flux: a directory with no kustomization renders every manifest below it.
/// The kustomization Flux's generator writes for `dir`, in memory.
pub fn flux_generated_kustomization(dir: &Path) -> Result<KustomizationFile, BuildError> {
    let mut resources = Vec::new();
    collect_manifests(dir, dir, &mut resources)?;
    let mut doc = Map::new();
    doc.insert(
        "resources".into(),
        Value::Seq(resources.into_iter().map(Value::Str).collect()),
    );
    Ok(KustomizationFile {
        plugin_origin: None,
        dir: dir.to_path_buf(),
        file: dir.join("kustomization.yaml"),
        doc,
    })
}

fn collect_manifests(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), BuildError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| BuildError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let rel = p
            .strip_prefix(root)
            .expect("walk stays below root")
            .to_string_lossy()
            .to_string();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            if find_kustomization(&p)?.is_some() {
                out.push(rel);
            } else {
                collect_manifests(root, &p, out)?;
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            let text = crate::overrides::read_disk_to_string(&p)?;
            let docs = yaml::parse_documents(&text).map_err(|e| BuildError::Yaml {
                path: p.clone(),
                source: YamlError(e),
            })?;
            if docs
                .iter()
                .any(|d| d.get("apiVersion").is_some() && d.get("kind").is_some())
            {
                out.push(rel);
            }
        }
    }
    Ok(())
}

fn accumulate_dir(
    parent: &KustomizationFile,
    field: &str,
    entry: &str,
    dir: &Path,
    role: Role,
    acc: &mut Accumulator,
) -> Result<(), BuildError> {
    let nested = |source: BuildError| BuildError::Nested {
        file: parent.file.clone(),
        field: field.into(),
        entry: entry.into(),
        source: Box::new(source),
    };
    // Kustomize refuses a directory that is, or contains, one of the
    // kustomizations it is already inside.
    if let Some(visited) = acc.chain.iter().find(|v| v.starts_with(dir)) {
        return Err(nested(BuildError::Resources {
            file: dir.to_path_buf(),
            message: format!(
                "cycle detected: candidate root '{}' contains visited root '{}'",
                dir.display(),
                visited.display()
            ),
        }));
    }
    let kust = load_kustomization(dir).map_err(nested)?.ok_or_else(|| {
        nested(BuildError::Resources {
            file: dir.to_path_buf(),
            message: MISSING_KUSTOMIZATION.into(),
        })
    })?;
    match (role, kust.is_component()) {
        (Role::Component, false) => {
            return Err(nested(BuildError::Resources {
                file: kust.file.clone(),
                message: format!(
                    "accumulating components: expected kind 'Component' for path '{}' but got 'Kustomization'",
                    dir.display()
                ),
            }));
        }
        (Role::Resource, true) => {
            return Err(nested(BuildError::Resources {
                file: kust.file.clone(),
                message: format!("expected kind != 'Component' for path '{}'", dir.display()),
            }));
        }
        _ => {}
    }
    crate::openapi::choose(&kust, &mut acc.schema, false).map_err(nested)?;
    if role == Role::Component {
        acc.chain.push(dir.to_path_buf());
        let result = accumulate(&kust, acc).map_err(nested);
        acc.chain.pop();
        result
    } else {
        let mut chain = acc.chain.clone();
        chain.push(dir.to_path_buf());
        let mut sub = Accumulator {
            schema: std::mem::take(&mut acc.schema),
            track_transformations: acc.track_transformations,
            version: acc.version,
            chain,
            ..Accumulator::default()
        };
        let result = accumulate(&kust, &mut sub).map_err(nested);
        acc.schema = std::mem::take(&mut sub.schema);
        result?;
        // A clash names the entry that brought the second copy.
        for r in sub.resources {
            append(acc, r, &kust.file).map_err(nested)?;
        }
        for v in sub.vars {
            crate::vars::add_var(acc, v, &parent.file)?;
        }
        acc.config.merge(sub.config);
        if acc.sort_options.is_none() {
            acc.sort_options = sub.sort_options;
        }
        Ok(())
    }
}

/// Loads the objects of a manifest file.
pub fn load_objects(path: &Path, text: &str) -> Result<Vec<Resource>, BuildError> {
    let docs = yaml::parse_manifests_tracked(text).map_err(|e| BuildError::Yaml {
        path: path.to_path_buf(),
        source: YamlError(e),
    })?;
    let mut out = Vec::new();
    for (d, empty_values) in docs {
        match d {
            Value::Map(ref m) => {
                // A List is flattened into its items.
                let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
                if kind.ends_with("List") && m.get("items").is_some() {
                    if let Some(Value::Seq(items)) = m.get("items") {
                        for it in items {
                            out.push(Resource::new(it.clone()));
                        }
                    }
                    continue;
                }
                if m.get("kind")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    return Err(BuildError::Invalid {
                        file: path.to_path_buf(),
                        field: "kind".into(),
                        message: "missing kind in object".into(),
                    });
                }
                let named = |key: &str| {
                    m.get("metadata")
                        .and_then(|md| md.get(key))
                        .and_then(Value::scalar_string)
                        .is_some_and(|n| !n.is_empty())
                };
                if !named("name") && !named("generateName") {
                    return Err(BuildError::Invalid {
                        file: path.to_path_buf(),
                        field: "metadata.name".into(),
                        message: "missing metadata.name".into(),
                    });
                }
                let mut r = Resource::new(d);
                r.empty_values = empty_values;
                out.push(r);
            }
            Value::Seq(items) => {
                for it in items {
                    out.push(Resource::new(it));
                }
            }
            _ => {
                return Err(BuildError::Invalid {
                    file: path.to_path_buf(),
                    field: "(document)".into(),
                    message: "a resource must be a mapping".into(),
                });
            }
        }
    }
    Ok(out)
}

/// Kustomize's `accumulateTarget`.
pub fn accumulate(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    let mut entries: Vec<(&str, &Value)> = Vec::new();
    for f in ["resources", "bases"] {
        for v in kust.seq_field(f)? {
            entries.push((f, v));
        }
    }
    for (field, v) in entries {
        let entry = v
            .as_str()
            .ok_or_else(|| kust.err(field, "entries must be strings"))?;
        accumulate_entry(kust, field, entry, Role::Resource, acc)?;
    }
    // Kustomize merges this kustomization's configurations and CRDs right
    // after its resources, so its generators, components and transformers
    // all see them.
    for f in ["configurations"] {
        for v in kust.seq_field(f)? {
            let rel = v
                .as_str()
                .ok_or_else(|| kust.err(f, "entries must be strings"))?;
            let text = kust.read_file(f, rel)?;
            let p = kust.file_path(f, rel)?;
            acc.config.load_configuration(&p, &text)?;
        }
    }
    acc.config.settle_name_specs();
    for v in kust.seq_field("crds")? {
        let rel = v
            .as_str()
            .ok_or_else(|| kust.err("crds", "entries must be strings"))?;
        let text = kust.read_file("crds", rel)?;
        let p = kust.file_path("crds", rel)?;
        acc.config.load_crds(&p, &text)?;
    }
    crate::generate::run(kust, acc)?;
    crate::builtins::run(kust, "generators", acc)?;
    for v in kust.seq_field("components")? {
        let entry = v
            .as_str()
            .ok_or_else(|| kust.err("components", "entries must be strings"))?;
        accumulate_entry(kust, "components", entry, Role::Component, acc)?;
    }
    if acc.sort_options.is_none()
        && let Some(so) = kust.map_field("sortOptions")?
    {
        acc.sort_options = Some((so.clone(), kust.file.clone()));
    }
    transform::run(kust, acc)?;
    crate::builtins::run(kust, "transformers", acc)?;
    crate::vars::declare(kust, acc)?;
    Ok(())
}

fn accumulate_entry(
    kust: &KustomizationFile,
    field: &str,
    entry: &str,
    role: Role,
    acc: &mut Accumulator,
) -> Result<(), BuildError> {
    if is_remote(entry) {
        return Err(BuildError::Remote {
            file: kust.file.clone(),
            field: field.into(),
            url: entry.into(),
        });
    }
    let path = clean(&kust.dir.join(entry));
    if path.is_dir() {
        return accumulate_dir(kust, field, entry, &path, role, acc);
    }
    if role == Role::Component {
        return Err(kust.err(
            field,
            format!("'{entry}' must be a directory so that it can used as a component"),
        ));
    }
    let path = kust.file_path(field, entry)?;
    let nested = |source: BuildError| BuildError::Nested {
        file: kust.file.clone(),
        field: field.into(),
        entry: entry.into(),
        source: Box::new(source),
    };
    let text = crate::overrides::read_disk_to_string(&path).map_err(nested)?;
    for mut r in load_objects(&path, &text)? {
        r.origin = Some(crate::resource::Origin::File(path.clone()));
        // A duplicate names the entry that brought it as well as the
        // kustomization, as Kustomize's "merging resources from" does.
        append(acc, r, &path).map_err(nested)?;
    }
    Ok(())
}

/// `to` relative to the directory `from` (both cleaned, absolute or not).
fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(t.iter()).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out.to_string_lossy().into_owned()
}

fn add_origin_annotation(r: &mut Resource, root: &Path) {
    use crate::resource::Origin;
    let text = match &r.origin {
        None => return,
        Some(Origin::File(p)) => format!("path: {}\n", relative(root, p)),
        Some(Origin::Generated {
            configured_in,
            kind,
            name,
        }) => {
            let mut t = format!(
                "configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n",
                relative(root, configured_in)
            );
            if let Some(n) = name {
                t.push_str(&format!("  name: {n}\n"));
            }
            t
        }
    };
    set_metadata_entry(r, "annotations", "config.kubernetes.io/origin", text);
}

/// Kustomize's transformer annotation: every built-in transformer that
/// ran over the object, oldest first, with the file that configured it.
fn add_transformer_annotation(r: &mut Resource, root: &Path) {
    if r.transformations.is_empty() {
        return;
    }
    let mut text = String::new();
    for t in &r.transformations {
        text.push_str(&format!(
            "- configuredIn: {}\n  configuredBy:\n    apiVersion: builtin\n    kind: {}\n",
            relative(root, &t.configured_in),
            t.kind
        ));
        if let Some(n) = &t.name {
            text.push_str(&format!("    name: {n}\n"));
        }
        if let Some(ns) = &t.namespace {
            text.push_str(&format!("    namespace: {ns}\n"));
        }
    }
    set_metadata_entry(
        r,
        "annotations",
        "alpha.config.kubernetes.io/transformations",
        text,
    );
}

/// Kustomize rewrites every object's annotations at the end (removing its
/// own bookkeeping ones), and an empty or null annotation map is then
/// dropped altogether.
fn drop_empty_annotations(r: &mut Resource) {
    if let Some(md) = r.obj.get_mut("metadata").and_then(Value::as_map_mut) {
        let empty = match md.get("annotations") {
            Some(Value::Null) => true,
            Some(Value::Map(m)) => m.is_empty(),
            _ => false,
        };
        if empty {
            md.shift_remove("annotations");
        }
    }
}

/// Sets `metadata.<map>.<key>`, creating the mappings on the way.
fn set_metadata_entry(r: &mut Resource, map: &str, key: &str, value: String) {
    let Some(m) = r.obj.as_map_mut() else { return };
    let md = m
        .entry("metadata".to_string())
        .or_insert_with(|| Value::Map(Map::new()));
    let Some(md) = md.as_map_mut() else { return };
    let entries = md
        .entry(map.to_string())
        .or_insert_with(|| Value::Map(Map::new()));
    if entries.is_null() {
        *entries = Value::Map(Map::new());
    }
    if let Some(a) = entries.as_map_mut() {
        a.insert(key.into(), Value::Str(value));
    }
}

/// The top kustomization's `buildMetadata` options.
struct BuildMetadata {
    origin_annotations: bool,
    transformer_annotations: bool,
    managed_by_label: bool,
}

impl BuildMetadata {
    fn of(kust: &KustomizationFile) -> Result<BuildMetadata, BuildError> {
        let mut b = BuildMetadata {
            origin_annotations: false,
            transformer_annotations: false,
            managed_by_label: false,
        };
        for (i, v) in kust.seq_field("buildMetadata")?.iter().enumerate() {
            match v.as_str() {
                Some("originAnnotations") => b.origin_annotations = true,
                Some("transformerAnnotations") => b.transformer_annotations = true,
                Some("managedByLabel") => b.managed_by_label = true,
                other => {
                    return Err(kust.err(
                        &format!("buildMetadata[{i}]"),
                        format!(
                            "unknown option {:?}; expected originAnnotations, transformerAnnotations or managedByLabel",
                            other.unwrap_or("")
                        ),
                    ));
                }
            }
        }
        Ok(b)
    }
}
