//! The `generators` and `transformers` fields, limited to Kustomize's
//! built-in plugins (`apiVersion: builtin`) given inline, as files or as a
//! kustomization listing them. Each config is mapped onto the equivalent
//! kustomization field and run by the same code. Exec and container plugins
//! are refused: a build never runs programs.

use crate::accumulator::Accumulator;
use crate::error::{BuildError, YamlError};
use crate::kustomization::{KustomizationFile, is_remote, load_kustomization};
use crate::yaml::{self, Map, Value};
use std::path::PathBuf;

/// Loads the plugin configs named by one `generators`/`transformers` entry.
fn load_configs(
    kust: &KustomizationFile,
    field: &str,
    entry: &str,
) -> Result<Vec<(Value, PathBuf)>, BuildError> {
    if entry.contains('\n') {
        return yaml::parse_documents(entry)
            .map(|d| d.into_iter().map(|v| (v, kust.file.clone())).collect())
            .map_err(|e| BuildError::Yaml {
                path: kust.file.clone(),
                source: YamlError(e),
            });
    }
    if is_remote(entry) {
        return Err(BuildError::Remote {
            file: kust.file.clone(),
            field: field.into(),
            url: entry.into(),
        });
    }
    let path = crate::kustomization::clean(&kust.dir.join(entry));
    if path.is_dir() {
        let sub = load_kustomization(&path)?.ok_or_else(|| {
            kust.err(
                field,
                format!("'{entry}' is a directory without a kustomization"),
            )
        })?;
        let mut out = Vec::new();
        for r in sub.seq_field("resources")? {
            let e = r
                .as_str()
                .ok_or_else(|| sub.err("resources", "entries must be strings"))?;
            out.extend(load_configs(&sub, "resources", e)?);
        }
        return Ok(out);
    }
    let text = kust.read_file(field, entry)?;
    yaml::parse_documents(&text)
        .map(|d| d.into_iter().map(|v| (v, path.clone())).collect())
        .map_err(|e| BuildError::Yaml {
            path: path.clone(),
            source: YamlError(e),
        })
}

fn synthetic(
    kust: &KustomizationFile,
    doc: Map,
    origin: (PathBuf, Option<String>),
) -> KustomizationFile {
    KustomizationFile {
        dir: kust.dir.clone(),
        file: kust.file.clone(),
        doc,
        plugin_origin: Some(origin),
    }
}

/// A generator plugin config as a generator entry. Kustomize decodes the
/// config leniently into the generator's arguments, so fields it does not
/// have (a top-level `labels`, say) are dropped, not refused.
fn entry_without_meta(cfg: &Map) -> Map {
    let mut m: Map = cfg
        .iter()
        .filter(|(k, _)| crate::generate::GEN_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md) = cfg.get("metadata") {
        if let Some(n) = md.get("name")
            && !m.contains_key("name")
        {
            m.insert("name".into(), n.clone());
        }
        if let Some(n) = md.get("namespace")
            && !m.contains_key("namespace")
        {
            m.insert("namespace".into(), n.clone());
        }
    }
    m
}

/// Runs the configs of `generators` or `transformers`.
pub fn run(kust: &KustomizationFile, field: &str, acc: &mut Accumulator) -> Result<(), BuildError> {
    for (i, e) in kust.seq_field(field)?.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let entry = e
            .as_str()
            .ok_or_else(|| kust.err(&f, "expected a string"))?;
        for (cfg, source) in load_configs(kust, &f, entry)? {
            let m = cfg
                .as_map()
                .ok_or_else(|| kust.err(&f, "a plugin config must be a mapping"))?;
            let api = m.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
            if api != "builtin" {
                return Err(BuildError::Unsupported {
                    file: kust.file.clone(),
                    field: format!(
                        "{f} (plugin {api}/{kind}: only built-in plugins are supported)"
                    ),
                });
            }
            let get = |k: &str| m.get(k).cloned();
            let mut doc = Map::new();
            let seq = |v: Value| Value::Seq(vec![v]);
            match kind {
                "ConfigMapGenerator" => {
                    doc.insert(
                        "configMapGenerator".into(),
                        seq(Value::Map(entry_without_meta(m))),
                    );
                }
                "SecretGenerator" => {
                    doc.insert(
                        "secretGenerator".into(),
                        seq(Value::Map(entry_without_meta(m))),
                    );
                }
                "PatchTransformer" => {
                    let mut e = Map::new();
                    for k in ["patch", "path", "target", "options"] {
                        if let Some(v) = get(k) {
                            e.insert(k.into(), v);
                        }
                    }
                    doc.insert("patches".into(), seq(Value::Map(e)));
                }
                "PatchJson6902Transformer" => {
                    let mut e = Map::new();
                    if let Some(v) = get("target") {
                        e.insert("target".into(), v);
                    }
                    if let Some(v) = get("jsonOp") {
                        e.insert("patch".into(), v);
                    }
                    if let Some(v) = get("path") {
                        e.insert("path".into(), v);
                    }
                    doc.insert("patchesJson6902".into(), seq(Value::Map(e)));
                }
                "PatchStrategicMergeTransformer" => {
                    let mut list = Vec::new();
                    for k in ["paths", "patches"] {
                        match get(k) {
                            Some(Value::Seq(s)) => list.extend(s),
                            Some(Value::Str(s)) => list.push(Value::Str(s)),
                            _ => {}
                        }
                    }
                    doc.insert("patchesStrategicMerge".into(), Value::Seq(list));
                }
                "ReplacementTransformer" => {
                    doc.insert(
                        "replacements".into(),
                        get("replacements").unwrap_or(Value::Null),
                    );
                }
                "ImageTagTransformer" => {
                    doc.insert("images".into(), seq(get("imageTag").unwrap_or(Value::Null)));
                }
                "ReplicaCountTransformer" => {
                    doc.insert(
                        "replicas".into(),
                        seq(get("replica").unwrap_or(Value::Null)),
                    );
                }
                "NamespaceTransformer" => {
                    let ns = cfg
                        .path(&["metadata", "namespace"])
                        .cloned()
                        .unwrap_or(Value::Null);
                    doc.insert("namespace".into(), ns);
                }
                "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                    if let Some(p) = get("prefix") {
                        doc.insert("namePrefix".into(), p);
                    }
                    if let Some(s) = get("suffix") {
                        doc.insert("nameSuffix".into(), s);
                    }
                    if let Some(f) = get("fieldSpecs") {
                        doc.insert("fieldSpecs".into(), f);
                    }
                }
                "LabelTransformer" | "AnnotationsTransformer" => {
                    // Exactly where the config's own field specs say.
                    let entries = if kind == "LabelTransformer" {
                        "labels"
                    } else {
                        "annotations"
                    };
                    crate::transform::apply_plugin_map(
                        kust,
                        &f,
                        acc,
                        m.get(entries),
                        m.get("fieldSpecs"),
                    )?;
                    if field == "transformers" {
                        crate::accumulator::record_transformation(
                            acc,
                            &source,
                            kind,
                            cfg.str_at(&["metadata", "name"]),
                            cfg.str_at(&["metadata", "namespace"]),
                        );
                    }
                    continue;
                }
                "IAMPolicyGenerator" => {
                    iam_policy(kust, &f, m, acc)?;
                    continue;
                }
                other => {
                    return Err(BuildError::Unsupported {
                        file: kust.file.clone(),
                        field: format!("{f} (built-in plugin {other})"),
                    });
                }
            }
            let name = cfg.str_at(&["metadata", "name"]).map(str::to_string);
            let sk = synthetic(kust, doc, (source.clone(), name.clone()));
            crate::generate::run(&sk, acc)?;
            crate::transform::run(&sk, acc)?;
            if field == "transformers" {
                crate::accumulator::record_transformation(
                    acc,
                    &source,
                    kind,
                    name.as_deref(),
                    cfg.str_at(&["metadata", "namespace"]),
                );
            }
        }
    }
    Ok(())
}

/// `IAMPolicyGenerator` (GKE workload identity): a ServiceAccount annotated
/// with its Google service account.
fn iam_policy(
    kust: &KustomizationFile,
    field: &str,
    cfg: &Map,
    acc: &mut Accumulator,
) -> Result<(), BuildError> {
    let get = |path: &[&str]| {
        let mut cur = cfg.get(path[0]);
        for p in &path[1..] {
            cur = cur.and_then(|v| v.get(p));
        }
        cur.and_then(Value::as_str).map(str::to_string)
    };
    if get(&["cloud"]).as_deref() != Some("gke") {
        return Err(kust.err(field, "IAMPolicyGenerator: only cloud gke is supported"));
    }
    let name = get(&["kubernetesService", "name"]).ok_or_else(|| {
        kust.err(
            field,
            "IAMPolicyGenerator: kubernetesService.name is required",
        )
    })?;
    let gsa = get(&["serviceAccount", "name"])
        .ok_or_else(|| kust.err(field, "IAMPolicyGenerator: serviceAccount.name is required"))?;
    let project = get(&["serviceAccount", "projectId"]).ok_or_else(|| {
        kust.err(
            field,
            "IAMPolicyGenerator: serviceAccount.projectId is required",
        )
    })?;
    let mut ann = Map::new();
    ann.insert(
        "iam.gke.io/gcp-service-account".into(),
        Value::Str(format!("{gsa}@{project}.iam.gserviceaccount.com")),
    );
    let mut md = Map::new();
    md.insert("annotations".into(), Value::Map(ann));
    md.insert("name".into(), Value::Str(name));
    if let Some(ns) = get(&["kubernetesService", "namespace"]) {
        md.insert("namespace".into(), Value::Str(ns));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::Str("v1".into()));
    obj.insert("kind".into(), Value::Str("ServiceAccount".into()));
    obj.insert("metadata".into(), Value::Map(md));
    crate::accumulator::append(
        acc,
        crate::resource::Resource::new(Value::Map(obj)),
        &kust.file,
    )
}
