//! The built-in transformers of a kustomization, run in Kustomize's order:
//! strategic-merge patches, `patches`, namespace, name prefix and suffix,
//! labels, annotations, JSON 6902 patches, replicas, images, replacements.
//! Where each one writes is a list of field specs (kind + path), the
//! defaults being Kustomize's, extendable with `configurations`.

use crate::build::{Acc, Kust};
use crate::error::{BuildError, YamlError};
use crate::patch;
use crate::resource::Resource;
use crate::yaml::{self, Map, Value};
use std::path::Path;

/// Where a transformer writes: objects of `kind` (any when empty), at `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub group: String,
    pub kind: String,
    pub path: Vec<String>,
    pub create: bool,
}

pub fn fs(kind: &str, path: &str, create: bool) -> FieldSpec {
    FieldSpec {
        group: String::new(),
        kind: kind.to_string(),
        path: path.split('/').map(str::to_string).collect(),
        create,
    }
}

impl FieldSpec {
    pub fn applies_to(&self, r: &Resource) -> bool {
        (self.kind.is_empty() || self.kind == r.kind())
            && (self.group.is_empty()
                || self.group == r.api_version().split_once('/').map_or("", |(g, _)| g))
    }
}

/// A name reference: objects of `kind` are referred to from `referrers`.
#[derive(Debug, Clone)]
pub struct NameRef {
    pub kind: String,
    pub group: String,
    pub referrers: Vec<FieldSpec>,
}

/// Transformer configuration: Kustomize's defaults plus `configurations`.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub labels: Vec<FieldSpec>,
    /// Field specs for the `labels` field only (`labels:` in configurations).
    pub labels_field: Vec<FieldSpec>,
    pub annotations: Vec<FieldSpec>,
    pub prefix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
    pub var_refs: Vec<FieldSpec>,
    pub name_refs: Vec<NameRef>,
    /// Kinds described by an `openapi` schema (strategic merge uses keys).
    pub schema_kinds: Vec<String>,
}

fn parse_fieldspecs(v: Option<&Value>) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for it in v.and_then(Value::as_seq).map(Vec::as_slice).unwrap_or(&[]) {
        let path = it.str_at(&["path"]).unwrap_or("");
        let mut f = fs(
            it.str_at(&["kind"]).unwrap_or(""),
            path,
            it.get("create") == Some(&Value::Bool(true)),
        );
        f.group = it.str_at(&["group"]).unwrap_or("").to_string();
        out.push(f);
    }
    out
}

impl Config {
    pub fn merge(&mut self, other: Config) {
        fn add(a: &mut Vec<FieldSpec>, b: Vec<FieldSpec>) {
            for f in b {
                if !a.contains(&f) {
                    a.push(f);
                }
            }
        }
        add(&mut self.labels, other.labels);
        add(&mut self.labels_field, other.labels_field);
        add(&mut self.annotations, other.annotations);
        add(&mut self.prefix, other.prefix);
        add(&mut self.namespace, other.namespace);
        add(&mut self.images, other.images);
        add(&mut self.replicas, other.replicas);
        add(&mut self.var_refs, other.var_refs);
        self.name_refs.extend(other.name_refs);
        self.schema_kinds.extend(other.schema_kinds);
    }

    /// Reads an `openapi` schema: the kinds it describes merge by key.
    pub fn load_openapi(&mut self, path: &Path, text: &str) -> Result<(), BuildError> {
        let docs = yaml::parse_documents(text).map_err(|e| BuildError::Yaml {
            path: path.to_path_buf(),
            source: YamlError(e),
        })?;
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
                        self.schema_kinds.push(k.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads a `crds` file (OpenAPI definitions): properties marked with
    /// `x-kubernetes-object-ref-kind` become name references.
    pub fn load_crds(&mut self, path: &Path, text: &str) -> Result<(), BuildError> {
        let docs = yaml::parse_documents(text).map_err(|e| BuildError::Yaml {
            path: path.to_path_buf(),
            source: YamlError(e),
        })?;
        fn walk(
            defs: &Map,
            props: &Map,
            kind: &str,
            prefix: &str,
            depth: usize,
            out: &mut Vec<NameRef>,
        ) {
            if depth > 12 {
                return;
            }
            for (name, p) in props {
                let here = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                if let Some(k) = p.str_at(&["x-kubernetes-object-ref-kind"]) {
                    let key = p
                        .str_at(&["x-kubernetes-object-ref-name-key"])
                        .unwrap_or("name");
                    out.push(NameRef {
                        kind: k.to_string(),
                        group: String::new(),
                        referrers: vec![fs(kind, &format!("{here}/{key}"), false)],
                    });
                    continue;
                }
                let target = p.str_at(&["$ref"]).or_else(|| p.str_at(&["items", "$ref"]));
                if let Some(t) = target
                    && let Some(sub) = defs
                        .get(t)
                        .and_then(|d| d.path(&["Schema", "properties"]))
                        .and_then(Value::as_map)
                {
                    walk(defs, sub, kind, &here, depth + 1, out);
                }
            }
        }
        for d in docs {
            let Some(defs) = d.as_map() else { continue };
            for (key, def) in defs {
                let kind = key.rsplit('.').next().unwrap_or(key);
                if let Some(props) = def.path(&["Schema", "properties"]).and_then(Value::as_map)
                    && props.contains_key("kind")
                {
                    walk(defs, props, kind, "", 0, &mut self.name_refs);
                }
            }
        }
        Ok(())
    }

    /// Reads a `configurations` file.
    pub fn load_configuration(&mut self, path: &Path, text: &str) -> Result<(), BuildError> {
        let docs = yaml::parse_documents(text).map_err(|e| BuildError::Yaml {
            path: path.to_path_buf(),
            source: YamlError(e),
        })?;
        for d in docs {
            let Some(m) = d.as_map() else { continue };
            for (k, v) in m {
                match k.as_str() {
                    "commonLabels" => self.labels.extend(parse_fieldspecs(Some(v))),
                    "labels" => self.labels_field.extend(parse_fieldspecs(Some(v))),
                    "commonAnnotations" => self.annotations.extend(parse_fieldspecs(Some(v))),
                    "namePrefix" | "nameSuffix" => self.prefix.extend(parse_fieldspecs(Some(v))),
                    "namespace" => self.namespace.extend(parse_fieldspecs(Some(v))),
                    "images" => self.images.extend(parse_fieldspecs(Some(v))),
                    "replicas" => self.replicas.extend(parse_fieldspecs(Some(v))),
                    "varReference" => self.var_refs.extend(parse_fieldspecs(Some(v))),
                    "nameReference" => {
                        for it in v.as_seq().map(Vec::as_slice).unwrap_or(&[]) {
                            self.name_refs.push(NameRef {
                                kind: it.str_at(&["kind"]).unwrap_or("").into(),
                                group: it.str_at(&["group"]).unwrap_or("").into(),
                                referrers: parse_fieldspecs(it.get("fieldSpecs")),
                            });
                        }
                    }
                    other => {
                        return Err(BuildError::Unsupported {
                            file: path.to_path_buf(),
                            field: other.to_string(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

const WORKLOADS: &[&str] = &[
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
];

fn default_selector_specs() -> Vec<FieldSpec> {
    let mut v = vec![
        fs("Service", "spec/selector", true),
        fs("ReplicationController", "spec/selector", true),
        fs(
            "ReplicationController",
            "spec/template/metadata/labels",
            true,
        ),
    ];
    for k in ["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"] {
        v.push(fs(k, "spec/selector/matchLabels", true));
        v.push(fs(k, "spec/template/metadata/labels", true));
    }
    v.push(fs(
        "StatefulSet",
        "spec/volumeClaimTemplates/metadata/labels",
        true,
    ));
    v.push(fs("Job", "spec/selector/matchLabels", false));
    v.push(fs("Job", "spec/template/metadata/labels", true));
    v.push(fs(
        "CronJob",
        "spec/jobTemplate/spec/selector/matchLabels",
        false,
    ));
    v.push(fs("CronJob", "spec/jobTemplate/metadata/labels", true));
    v.push(fs(
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ));
    v.push(fs(
        "PodDisruptionBudget",
        "spec/selector/matchLabels",
        false,
    ));
    v.push(fs("NetworkPolicy", "spec/podSelector/matchLabels", false));
    v.push(fs(
        "NetworkPolicy",
        "spec/ingress/from/podSelector/matchLabels",
        false,
    ));
    v.push(fs(
        "NetworkPolicy",
        "spec/egress/to/podSelector/matchLabels",
        false,
    ));
    v
}

fn template_label_specs() -> Vec<FieldSpec> {
    let mut v = vec![fs(
        "ReplicationController",
        "spec/template/metadata/labels",
        true,
    )];
    for k in WORKLOADS {
        v.push(fs(k, "spec/template/metadata/labels", true));
    }
    v.push(fs("CronJob", "spec/jobTemplate/metadata/labels", true));
    v.push(fs(
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/labels",
        true,
    ));
    v
}

fn default_annotation_specs() -> Vec<FieldSpec> {
    let mut v = vec![
        fs("", "metadata/annotations", true),
        fs(
            "ReplicationController",
            "spec/template/metadata/annotations",
            true,
        ),
    ];
    for k in WORKLOADS {
        v.push(fs(k, "spec/template/metadata/annotations", true));
    }
    v.push(fs("CronJob", "spec/jobTemplate/metadata/annotations", true));
    v.push(fs(
        "CronJob",
        "spec/jobTemplate/spec/template/metadata/annotations",
        true,
    ));
    v
}

/// Fields that hold lists in the built-in kinds: never created by a field
/// spec (Kustomize does not create arrays).
const LIST_FIELDS: &[&str] = &[
    "volumeClaimTemplates",
    "containers",
    "initContainers",
    "ports",
    "volumes",
    "env",
    "rules",
    "subjects",
    "webhooks",
    "paths",
    "tls",
    "from",
    "to",
    "ingress",
    "egress",
];

/// Applies `f` at every place `path` reaches (sequences are walked).
pub fn visit_path(
    v: &mut Value,
    path: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if path.is_empty() {
        return f(v);
    }
    match v {
        Value::Seq(items) => {
            for it in items {
                visit_path(it, path, create, f)?;
            }
            Ok(())
        }
        Value::Map(m) => {
            let key = path[0].trim_end_matches("[]");
            match m.get_mut(key) {
                Some(Value::Null) | None if create && !LIST_FIELDS.contains(&key) => {
                    let mut nv = if path.len() == 1 {
                        Value::Null
                    } else {
                        Value::Map(Map::new())
                    };
                    visit_path(&mut nv, &path[1..], create, f)?;
                    m.insert(key.to_string(), nv);
                    Ok(())
                }
                Some(Value::Null) | None => Ok(()),
                Some(child) => visit_path(child, &path[1..], create, f),
            }
        }
        _ => Ok(()),
    }
}

fn set_map_entries(target: &mut Value, entries: &Map) -> Result<(), String> {
    if target.is_null() {
        *target = Value::Map(Map::new());
    }
    match target {
        Value::Map(m) => {
            for (k, v) in entries {
                m.insert(k.clone(), v.clone());
            }
            Ok(())
        }
        other => Err(format!("expected a mapping, found a {}", other.type_name())),
    }
}

fn string_map(kust: &Kust, field: &str, m: &Map) -> Result<Map, BuildError> {
    let mut out = Map::new();
    for (k, v) in m {
        let s = match v {
            Value::Str(s) => s.clone(),
            Value::Null => String::new(),
            other => other
                .scalar_string()
                .ok_or_else(|| kust.err(&format!("{field}.{k}"), "expected a string"))?,
        };
        out.insert(k.clone(), Value::Str(s));
    }
    Ok(out)
}

fn apply_map(
    kust: &Kust,
    field: &str,
    resources: &mut [Resource],
    specs: &[FieldSpec],
    entries: &Map,
) -> Result<(), BuildError> {
    for r in resources.iter_mut() {
        for spec in specs {
            if !spec.applies_to(r) {
                continue;
            }
            visit_path(&mut r.obj, &spec.path, spec.create, &mut |v| {
                set_map_entries(v, entries)
            })
            .map_err(|e| kust.err(field, format!("{}: {e}", r.id_string())))?;
        }
    }
    Ok(())
}

/// Runs the transformers one kustomization declares.
pub fn run(kust: &Kust, acc: &mut Acc) -> Result<(), BuildError> {
    acc.ids = None;
    if !acc.config.schema_kinds.is_empty() {
        for r in acc.resources.iter_mut() {
            r.has_schema = acc.config.schema_kinds.iter().any(|k| k == r.kind());
        }
    }
    // patchesStrategicMerge
    for (i, p) in kust.seq_field("patchesStrategicMerge")?.iter().enumerate() {
        let field = format!("patchesStrategicMerge[{i}]");
        let s = p
            .as_str()
            .ok_or_else(|| kust.err(&field, "expected a file name or a patch"))?;
        let text = if s.contains('\n') || s.trim_start().starts_with('{') {
            s.to_string()
        } else {
            kust.read_file(&field, s)?
        };
        let docs = yaml::parse_documents(&text).map_err(|e| BuildError::Yaml {
            path: kust.file.clone(),
            source: YamlError(e),
        })?;
        for d in docs {
            patch::apply_smp_by_id(kust, &field, &mut acc.resources, &d)?;
        }
        acc.resources.retain(|r| !r.obj.is_null());
    }
    // patches
    for (i, p) in kust.seq_field("patches")?.iter().enumerate() {
        let field = format!("patches[{i}]");
        patch::apply_patch_entry(kust, &field, &mut acc.resources, p, false)?;
    }
    // namespace
    if let Some(ns) = kust.str_field("namespace")?
        && !ns.is_empty()
    {
        namespace(acc, ns);
    }
    // prefix / suffix
    let prefix = kust.str_field("namePrefix")?.unwrap_or("");
    let suffix = kust.str_field("nameSuffix")?.unwrap_or("");
    if !prefix.is_empty() || !suffix.is_empty() {
        for r in acc.resources.iter_mut() {
            let g = r.gvk();
            if g.kind == "CustomResourceDefinition"
                || (g.kind == "APIService" && g.group == "apiregistration.k8s.io")
                || (g.kind == "Namespace" && g.group.is_empty())
            {
                continue;
            }
            let n = format!("{prefix}{}{suffix}", r.name());
            r.set_name(&n);
            if !prefix.is_empty() {
                r.prefixes.push(prefix.to_string());
            }
            if !suffix.is_empty() {
                r.suffixes.push(suffix.to_string());
            }
        }
    }
    // labels
    let mut label_specs_all = vec![fs("", "metadata/labels", true)];
    label_specs_all.extend(default_selector_specs());
    label_specs_all.extend(acc.config.labels.iter().cloned());
    if let Some(m) = kust.map_field("commonLabels")? {
        let entries = string_map(kust, "commonLabels", m)?;
        apply_map(
            kust,
            "commonLabels",
            &mut acc.resources,
            &label_specs_all,
            &entries,
        )?;
    }
    for (i, l) in kust.seq_field("labels")?.iter().enumerate() {
        let field = format!("labels[{i}]");
        let lm = l
            .as_map()
            .ok_or_else(|| kust.err(&field, "expected a mapping"))?;
        for k in lm.keys() {
            if !["pairs", "includeSelectors", "includeTemplates", "fields"].contains(&k.as_str()) {
                return Err(BuildError::Unsupported {
                    file: kust.file.clone(),
                    field: format!("{field}.{k}"),
                });
            }
        }
        let pairs = lm
            .get("pairs")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        let entries = string_map(kust, &format!("{field}.pairs"), &pairs)?;
        let sel = lm.get("includeSelectors") == Some(&Value::Bool(true));
        let tmpl = lm.get("includeTemplates") == Some(&Value::Bool(true));
        let mut specs = if sel {
            label_specs_all.clone()
        } else {
            let mut s = vec![fs("", "metadata/labels", true)];
            if tmpl {
                s.extend(template_label_specs());
            }
            s
        };
        specs.extend(parse_fieldspecs(lm.get("fields")));
        specs.extend(acc.config.labels_field.iter().cloned());
        apply_map(kust, &field, &mut acc.resources, &specs, &entries)?;
    }
    // annotations
    if let Some(m) = kust.map_field("commonAnnotations")? {
        let entries = string_map(kust, "commonAnnotations", m)?;
        let mut specs = default_annotation_specs();
        specs.extend(acc.config.annotations.iter().cloned());
        apply_map(
            kust,
            "commonAnnotations",
            &mut acc.resources,
            &specs,
            &entries,
        )?;
    }
    // patchesJson6902
    for (i, p) in kust.seq_field("patchesJson6902")?.iter().enumerate() {
        let field = format!("patchesJson6902[{i}]");
        patch::apply_patch_entry(kust, &field, &mut acc.resources, p, true)?;
    }
    // replicas
    for (i, rep) in kust.seq_field("replicas")?.iter().enumerate() {
        let field = format!("replicas[{i}]");
        let name = rep
            .str_at(&["name"])
            .ok_or_else(|| kust.err(&field, "missing name"))?;
        let count = match rep.get("count") {
            Some(Value::Int(n)) => *n,
            _ => return Err(kust.err(&format!("{field}.count"), "expected an integer")),
        };
        let mut specs = vec![
            fs("Deployment", "spec/replicas", true),
            fs("ReplicationController", "spec/replicas", true),
            fs("ReplicaSet", "spec/replicas", true),
            fs("StatefulSet", "spec/replicas", true),
        ];
        specs.extend(acc.config.replicas.iter().cloned());
        for r in acc.resources.iter_mut() {
            if !r.all_names().any(|n| n == name) {
                continue;
            }
            for s in &specs {
                if s.applies_to(r) {
                    let _ = visit_path(&mut r.obj, &s.path, s.create, &mut |v| {
                        *v = Value::Int(count);
                        Ok(())
                    });
                }
            }
        }
    }
    // images
    for (i, img) in kust.seq_field("images")?.iter().enumerate() {
        let field = format!("images[{i}]");
        let spec = ImageSpec::parse(kust, &field, img)?;
        let extra = acc.config.images.clone();
        for r in acc.resources.iter_mut() {
            images_walk(&mut r.obj, &spec);
            for s in &extra {
                if s.applies_to(r) {
                    let _ = visit_path(&mut r.obj, &s.path, false, &mut |v| {
                        if let Value::Str(s0) = v
                            && let Some(n) = spec.apply(s0)
                        {
                            *s0 = n;
                        }
                        Ok(())
                    });
                }
            }
        }
    }
    // replacements
    for (i, rep) in kust.seq_field("replacements")?.iter().enumerate() {
        let field = format!("replacements[{i}]");
        crate::replace::apply(kust, &field, &mut acc.resources, rep)?;
    }
    Ok(())
}

fn namespace(acc: &mut Acc, ns: &str) {
    for r in acc.resources.iter_mut() {
        let g = r.gvk();
        if !g.is_cluster_scoped() {
            r.set_namespace(ns);
        }
        if g.kind == "Namespace" && g.group.is_empty() {
            r.set_name(ns);
        }
        if (g.kind == "RoleBinding" || g.kind == "ClusterRoleBinding")
            && let Some(Value::Seq(subjects)) = r.obj.get_mut("subjects")
        {
            for s in subjects {
                if s.str_at(&["name"]) == Some("default")
                    && let Some(m) = s.as_map_mut()
                {
                    m.insert("namespace".into(), Value::Str(ns.into()));
                }
            }
        }
        if (g.kind == "MutatingWebhookConfiguration" || g.kind == "ValidatingWebhookConfiguration")
            && let Some(Value::Seq(hooks)) = r.obj.get_mut("webhooks")
        {
            for h in hooks {
                if let Some(svc) = h
                    .get_mut("clientConfig")
                    .and_then(|c| c.get_mut("service"))
                    .and_then(Value::as_map_mut)
                {
                    svc.insert("namespace".into(), Value::Str(ns.into()));
                }
            }
        }
        if g.kind == "APIService"
            && let Some(svc) = r
                .obj
                .get_mut("spec")
                .and_then(|c| c.get_mut("service"))
                .and_then(Value::as_map_mut)
        {
            svc.insert("namespace".into(), Value::Str(ns.into()));
        }
    }
}

struct ImageSpec {
    name: String,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
}

impl ImageSpec {
    fn parse(kust: &Kust, field: &str, v: &Value) -> Result<ImageSpec, BuildError> {
        let m = v
            .as_map()
            .ok_or_else(|| kust.err(field, "expected a mapping"))?;
        for k in m.keys() {
            if !["name", "newName", "newTag", "digest"].contains(&k.as_str()) {
                return Err(BuildError::Unsupported {
                    file: kust.file.clone(),
                    field: format!("{field}.{k}"),
                });
            }
        }
        let get = |k: &str| m.get(k).and_then(Value::scalar_string);
        Ok(ImageSpec {
            name: get("name").ok_or_else(|| kust.err(field, "missing name"))?,
            new_name: get("newName"),
            new_tag: get("newTag"),
            digest: get("digest"),
        })
    }

    fn apply(&self, image: &str) -> Option<String> {
        let (name, tag, digest) = split_image(image);
        if name != self.name {
            return None;
        }
        let name = self.new_name.clone().unwrap_or(name);
        let mut out = name;
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d);
        } else if let Some(t) = &self.new_tag {
            out.push(':');
            out.push_str(t);
        } else if let Some(d) = digest {
            out.push('@');
            out.push_str(&d);
        } else if let Some(t) = tag {
            out.push(':');
            out.push_str(&t);
        }
        Some(out)
    }
}

/// Splits `name[:tag][@digest]`.
pub fn split_image(image: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (image, None),
    };
    let slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match rest[slash..].rfind(':') {
        Some(i) => {
            let at = slash + i;
            (
                rest[..at].to_string(),
                Some(rest[at + 1..].to_string()),
                digest,
            )
        }
        None => (rest.to_string(), None, digest),
    }
}

fn images_walk(v: &mut Value, spec: &ImageSpec) {
    match v {
        Value::Map(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers" || k == "ephemeralContainers")
                    && let Value::Seq(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(Value::Str(img)) = c.get_mut("image")
                            && let Some(n) = spec.apply(img)
                        {
                            *img = n;
                        }
                    }
                }
                images_walk(child, spec);
            }
        }
        Value::Seq(items) => {
            for it in items {
                images_walk(it, spec);
            }
        }
        _ => {}
    }
}
