//! `configMapGenerator` and `secretGenerator`: objects made from literals,
//! env files and files, merged into or replacing earlier ones per
//! `behavior`, with the name hash marked for the end of the build.

use crate::accumulator::{Accumulator, append};
use crate::error::BuildError;
use crate::hash::{base64, base64_lenient};
use crate::kustomization::KustomizationFile;
use crate::resource::Resource;
use crate::yaml::{Map, Value};

pub const GEN_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "behavior",
    "files",
    "literals",
    "envs",
    "env",
    "options",
    "type",
];
const OPT_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "disableNameSuffixHash",
    "immutable",
];

#[derive(Default, Clone)]
struct Options {
    labels: Map,
    annotations: Map,
    disable_hash: bool,
    immutable: bool,
}

fn parse_options(
    kust: &KustomizationFile,
    field: &str,
    v: Option<&Value>,
) -> Result<Options, BuildError> {
    let mut o = Options::default();
    let Some(v) = v else { return Ok(o) };
    let Some(m) = v.as_map() else {
        return Err(kust.err(field, "expected a mapping"));
    };
    for (k, val) in m {
        match k.as_str() {
            "labels" => o.labels = val.as_map().cloned().unwrap_or_default(),
            "annotations" => o.annotations = val.as_map().cloned().unwrap_or_default(),
            "disableNameSuffixHash" => o.disable_hash = val == &Value::Bool(true),
            "immutable" => o.immutable = val == &Value::Bool(true),
            other => {
                debug_assert!(!OPT_FIELDS.contains(&other));
                return Err(BuildError::Unsupported {
                    file: kust.file.clone(),
                    field: format!("{field}.{other}"),
                });
            }
        }
    }
    Ok(o)
}

/// Runs both generators of one kustomization.
pub fn run(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    let global = parse_options(kust, "generatorOptions", kust.doc.get("generatorOptions"))?;
    for (field, kind) in [
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ] {
        for (i, g) in kust.seq_field(field)?.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let r = generate(kust, &f, kind, g, &global)?;
            add_generated(kust, &f, r, acc)?;
        }
    }
    Ok(())
}

fn split_kv(
    kust: &KustomizationFile,
    field: &str,
    s: &str,
) -> Result<(String, String), BuildError> {
    let (k, v) = s.split_once('=').ok_or_else(|| {
        kust.err(
            field,
            format!("invalid literal source {s:?}, expected key=value"),
        )
    })?;
    let v = if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    Ok((k.to_string(), v.to_string()))
}

fn parse_env(text: &str) -> Vec<(String, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), v.to_string())),
            None => out.push((line.to_string(), String::new())),
        }
    }
    out
}

/// Kustomize decodes generator entries into typed fields: a number where
/// a string belongs, or a single string where a list belongs, is refused.
fn check_types(kust: &KustomizationFile, field: &str, m: &Map) -> Result<(), BuildError> {
    for (k, v) in m {
        let ok = match k.as_str() {
            "name" | "namespace" | "behavior" | "type" | "env" => {
                matches!(v, Value::Str(_) | Value::Null)
            }
            "literals" | "files" | "envs" => match v {
                Value::Seq(items) => items.iter().all(|i| matches!(i, Value::Str(_))),
                Value::Null => true,
                _ => false,
            },
            _ => true,
        };
        if !ok {
            let wanted = if ["literals", "files", "envs"].contains(&k.as_str()) {
                "a list of strings"
            } else {
                "a string"
            };
            return Err(kust.err(
                &format!("{field}.{k}"),
                format!("expected {wanted}, found a {}", v.type_name()),
            ));
        }
    }
    Ok(())
}

fn generate(
    kust: &KustomizationFile,
    field: &str,
    kind: &str,
    g: &Value,
    global: &Options,
) -> Result<Resource, BuildError> {
    let m = g
        .as_map()
        .ok_or_else(|| kust.err(field, "expected a mapping"))?;
    for k in m.keys() {
        if !GEN_FIELDS.contains(&k.as_str()) {
            return Err(BuildError::Unsupported {
                file: kust.file.clone(),
                field: format!("{field}.{k}"),
            });
        }
    }
    check_types(kust, field, m)?;
    let name = m
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| kust.err(&format!("{field}.name"), "a generator needs a name"))?;
    let mut opts = parse_options(kust, &format!("{field}.options"), m.get("options"))?;
    for (k, v) in &global.labels {
        opts.labels.insert(k.clone(), v.clone());
    }
    for (k, v) in &global.annotations {
        opts.annotations.insert(k.clone(), v.clone());
    }
    opts.disable_hash |= global.disable_hash;
    opts.immutable |= global.immutable;

    let mut data: Vec<(String, String)> = Vec::new();
    let mut binary: Vec<(String, String)> = Vec::new();
    let list = |key: &str| -> Vec<String> {
        match m.get(key) {
            Some(Value::Seq(s)) => s.iter().filter_map(Value::scalar_string).collect(),
            Some(Value::Str(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    for e in list("envs").into_iter().chain(list("env")) {
        let text = kust.read_file(&format!("{field}.envs"), &e)?;
        data.extend(parse_env(&text));
    }
    for f in list("files") {
        let (key, path) = match f.split_once('=') {
            Some((k, p)) => (k.to_string(), p.to_string()),
            None => {
                let base = f.rsplit('/').next().unwrap_or(&f).to_string();
                (base, f.clone())
            }
        };
        let p = kust.file_path(&format!("{field}.files"), &path)?;
        let bytes = crate::overrides::read(&p)?;
        match String::from_utf8(bytes) {
            Ok(s) => data.push((key, s)),
            Err(e) => binary.push((key, base64(e.as_bytes()))),
        }
    }
    for l in list("literals") {
        data.push(split_kv(kust, &format!("{field}.literals"), &l)?);
    }
    let mut md = Map::new();
    md.insert("name".into(), Value::Str(name.into()));
    if let Some(ns) = m.get("namespace").and_then(Value::as_str) {
        md.insert("namespace".into(), Value::Str(ns.into()));
    }
    if !opts.labels.is_empty() {
        md.insert("labels".into(), Value::Map(opts.labels.clone()));
    }
    if !opts.annotations.is_empty() {
        md.insert("annotations".into(), Value::Map(opts.annotations.clone()));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::Str("v1".into()));
    obj.insert("kind".into(), Value::Str(kind.into()));
    obj.insert("metadata".into(), Value::Map(md));
    let mut dm = Map::new();
    for (k, v) in data {
        if dm.contains_key(&k) {
            return Err(kust.err(
                field,
                format!("configmap {name} illegally repeats the key `{k}`"),
            ));
        }
        let v = if kind == "Secret" {
            secret_value(v.as_bytes())
        } else {
            v
        };
        dm.insert(k, Value::Str(v));
    }
    if kind == "Secret" {
        for (k, v) in binary {
            let bytes = base64_lenient(&v);
            dm.insert(k, Value::Str(secret_value(&bytes)));
        }
    } else if !binary.is_empty() {
        // Kustomize wraps binary data's base64 at 70 columns, as Secrets'.
        let mut bm = Map::new();
        for (k, v) in binary {
            bm.insert(k, Value::Str(secret_value(&base64_lenient(&v))));
        }
        obj.insert("binaryData".into(), Value::Map(bm));
    }
    if !dm.is_empty() || kind == "Secret" {
        obj.insert("data".into(), Value::Map(dm));
    }
    if kind == "Secret" {
        let t = m.get("type").and_then(Value::as_str).unwrap_or("Opaque");
        obj.insert("type".into(), Value::Str(t.into()));
    }
    if opts.immutable {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut r = Resource::new(Value::Map(obj));
    r.origin = Some(match &kust.plugin_origin {
        Some((file, name)) => crate::resource::Origin::Generated {
            configured_in: file.clone(),
            kind: format!("{kind}Generator"),
            name: name.clone(),
        },
        None => crate::resource::Origin::Generated {
            configured_in: kust.file.clone(),
            kind: format!("{kind}Generator"),
            name: None,
        },
    });
    r.needs_hash = !opts.disable_hash;
    r.behavior = Some(
        m.get("behavior")
            .and_then(Value::as_str)
            .unwrap_or("create")
            .to_string(),
    );
    Ok(r)
}

/// Secret values are base64, wrapped at 70 columns when long.
fn secret_value(bytes: &[u8]) -> String {
    let enc = base64(bytes);
    if enc.len() <= 70 {
        return enc;
    }
    let mut out = String::new();
    for chunk in enc.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out
}

fn add_generated(
    kust: &KustomizationFile,
    field: &str,
    r: Resource,
    acc: &mut Accumulator,
) -> Result<(), BuildError> {
    let behavior = r.behavior.clone().unwrap_or_else(|| "create".into());
    // Kustomize merges into the object that has, or had, the generated
    // object's id: an overlay's `o1-cm` merges into base `cm` renamed by
    // its `namePrefix: o1-`, and so does `cm`.
    let effective = |ns: &str| if ns.is_empty() { "default" } else { ns }.to_string();
    let wanted_ns = effective(r.namespace());
    let matches = |e: &Resource| {
        e.same_gvk(&r)
            && e.all_names()
                .zip(e.all_namespaces())
                .any(|(n, ns)| n == r.name() && effective(ns) == wanted_ns)
    };
    match behavior.as_str() {
        "create" => append(acc, r, &kust.file),
        "merge" | "replace" => {
            let found = acc.resources.iter().filter(|e| matches(e)).count();
            if found > 1 {
                return Err(kust.err(
                    &format!("{field}.behavior"),
                    format!(
                        "found {found} objects that could accept the merge of {}",
                        r.id_string()
                    ),
                ));
            }
            let Some(existing) = acc.resources.iter_mut().find(|e| matches(e)) else {
                return Err(kust.err(
                    &format!("{field}.behavior"),
                    format!(
                        "id {} does not exist; cannot merge or replace",
                        r.id_string()
                    ),
                ));
            };
            acc.ids = None;
            if behavior == "replace" {
                existing.origin = r.origin.clone();
                let om = existing.obj.as_map_mut().expect("resources are mappings");
                for key in ["data", "binaryData"] {
                    match r.obj.get(key) {
                        Some(v) => {
                            om.insert(key.to_string(), v.clone());
                        }
                        None => {
                            om.shift_remove(key);
                        }
                    }
                }
            }
            for key in ["data", "binaryData"] {
                if behavior == "replace" {
                    continue;
                }
                if let Some(Value::Map(new)) = r.obj.get(key) {
                    let om = existing.obj.as_map_mut().expect("resources are mappings");
                    let e = om
                        .entry(key.to_string())
                        .or_insert_with(|| Value::Map(Map::new()));
                    if let Value::Map(em) = e {
                        for (k, v) in new {
                            em.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            for key in ["labels", "annotations"] {
                if let Some(Value::Map(new)) = r.obj.path(&["metadata", key]) {
                    let md = existing
                        .obj
                        .get_mut("metadata")
                        .and_then(Value::as_map_mut)
                        .expect("resources have metadata");
                    let e = md
                        .entry(key.to_string())
                        .or_insert_with(|| Value::Map(Map::new()));
                    if let Value::Map(em) = e {
                        for (k, v) in new {
                            em.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            // Kustomize keeps the hash only when both want it.
            existing.needs_hash = existing.needs_hash && r.needs_hash;
            Ok(())
        }
        // Kustomize reads any other behavior as unspecified, which creates.
        _ => append(acc, r, &kust.file),
    }
}
