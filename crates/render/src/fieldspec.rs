//! Where transformers write: field specs (a kind and a path), Kustomize's
//! default specs for labels, selectors, annotations, name references and
//! the rest, and the transformer configuration a build accumulates
//! (`configurations`, `crds`). Shared by the transformers, name
//! references and vars; depends on none of them.

use crate::error::{BuildError, YamlError};
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
        path: split_fieldspec_path(path),
        create,
    }
}

/// Splits a field spec path on `/`; `\/` is a slash inside a key (as in
/// annotation names).
pub fn split_fieldspec_path(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                out.last_mut().expect("never empty").push('/');
            }
            '/' => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out
}

impl FieldSpec {
    pub fn applies_to(&self, r: &Resource) -> bool {
        self.selects(r.kind(), group_of(r.api_version()))
    }
    /// Whether this spec selects objects of `kind` in `group`; for loops
    /// over many specs, which look the object's kind up once.
    pub fn selects(&self, kind: &str, group: &str) -> bool {
        (self.kind.is_empty() || self.kind == kind)
            && (self.group.is_empty() || self.group == group)
    }
}

/// The group of an `apiVersion` (empty for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// A name reference: objects of `kind` are referred to from `referrers`.
#[derive(Debug, Clone)]
pub struct NameRef {
    pub kind: String,
    pub group: String,
    /// The target's version (empty: any).
    pub version: String,
    pub referrers: Vec<FieldSpec>,
}

/// Transformer configuration: Kustomize's defaults plus `configurations`.
#[derive(Debug, Clone, Default)]
pub struct TransformerConfig {
    pub labels: Vec<FieldSpec>,
    /// Field specs for the `labels` field only (`labels:` in configurations).
    pub labels_field: Vec<FieldSpec>,
    pub annotations: Vec<FieldSpec>,
    /// Where `namePrefix` and `nameSuffix` write, merged as Kustomize merges
    /// them (see [`merge_fieldspecs`]); empty until a kustomization settled
    /// them with [`TransformerConfig::settle_name_specs`].
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    /// This kustomization's `configurations` entries for them, not yet
    /// merged with the defaults.
    pub own_name_prefix: Vec<FieldSpec>,
    pub own_name_suffix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
    pub var_refs: Vec<FieldSpec>,
    pub name_refs: Vec<NameRef>,
}

/// Kustomize's merge of field-spec lists: an incoming spec is dropped when
/// one already there has the same path and is selected by the incoming
/// spec's kind and group (so an all-kinds spec arriving after a
/// kind-specific one is dropped); the result is sorted as Kustomize sorts.
pub fn merge_fieldspecs(base: &[FieldSpec], incoming: &[FieldSpec]) -> Vec<FieldSpec> {
    let mut out = base.to_vec();
    for x in incoming {
        let present = out.iter().any(|s| {
            s.path == x.path
                && (x.kind.is_empty() || x.kind == s.kind)
                && (x.group.is_empty() || x.group == s.group)
        });
        if !present {
            out.push(x.clone());
        }
    }
    sorted(out)
}

/// Sorted by kind the way Kustomize orders kinds (its legacy resource
/// order first), then by group and kind as text.
fn sorted(mut specs: Vec<FieldSpec>) -> Vec<FieldSpec> {
    specs.sort_by_cached_key(|s| {
        let gvk = crate::resource::Gvk {
            group: s.group.clone(),
            version: String::new(),
            kind: s.kind.clone(),
        };
        (crate::resource::kind_order(&s.kind), gvk.sort_string())
    });
    specs
}

pub fn parse_fieldspecs(v: Option<&Value>) -> Vec<FieldSpec> {
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

impl TransformerConfig {
    pub fn merge(&mut self, other: TransformerConfig) {
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
        self.name_prefix = merge_fieldspecs(&self.name_prefix, &other.name_prefix);
        self.name_suffix = merge_fieldspecs(&self.name_suffix, &other.name_suffix);
        add(&mut self.namespace, other.namespace);
        add(&mut self.images, other.images);
        add(&mut self.replicas, other.replicas);
        add(&mut self.var_refs, other.var_refs);
        self.name_refs.extend(other.name_refs);
    }

    /// Ends one kustomization's configuration of name prefixes and
    /// suffixes: its own specs merged into the defaults, that merged into
    /// what the build has so far (Kustomize's order, with its quirk: a
    /// kind-specific `metadata/name` spec sorts before the all-kinds
    /// default and then swallows it).
    pub fn settle_name_specs(&mut self) {
        let default = vec![fs("", "metadata/name", false)];
        let own = sorted(merge_fieldspecs(&default, &self.own_name_prefix));
        self.name_prefix = merge_fieldspecs(&self.name_prefix, &own);
        let own = sorted(merge_fieldspecs(&default, &self.own_name_suffix));
        self.name_suffix = merge_fieldspecs(&self.name_suffix, &own);
        self.own_name_prefix.clear();
        self.own_name_suffix.clear();
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
                        version: String::new(),
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
                    "namePrefix" => {
                        let file = sorted(parse_fieldspecs(Some(v)));
                        self.own_name_prefix = merge_fieldspecs(&self.own_name_prefix, &file);
                    }
                    "nameSuffix" => {
                        let file = sorted(parse_fieldspecs(Some(v)));
                        self.own_name_suffix = merge_fieldspecs(&self.own_name_suffix, &file);
                    }
                    "namespace" => self.namespace.extend(parse_fieldspecs(Some(v))),
                    "images" => self.images.extend(parse_fieldspecs(Some(v))),
                    "replicas" => self.replicas.extend(parse_fieldspecs(Some(v))),
                    "varReference" => self.var_refs.extend(parse_fieldspecs(Some(v))),
                    "nameReference" => {
                        for it in v.as_seq().map(Vec::as_slice).unwrap_or(&[]) {
                            self.name_refs.push(NameRef {
                                kind: it.str_at(&["kind"]).unwrap_or("").into(),
                                group: it.str_at(&["group"]).unwrap_or("").into(),
                                version: it.str_at(&["version"]).unwrap_or("").into(),
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

pub fn default_selector_specs() -> Vec<FieldSpec> {
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
    // Pod (anti-)affinity terms and spread constraints select the
    // workload's own pods, so Kustomize keeps them in step (apps group).
    for k in ["Deployment", "StatefulSet"] {
        for p in [
            "podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
            "podAffinity/requiredDuringSchedulingIgnoredDuringExecution",
            "podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm",
            "podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution",
        ] {
            let mut spec = fs(
                k,
                &format!("spec/template/spec/affinity/{p}/labelSelector/matchLabels"),
                false,
            );
            spec.group = "apps".into();
            v.push(spec);
        }
        let mut spread = fs(
            k,
            "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
            false,
        );
        spread.group = "apps".into();
        v.push(spread);
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

pub fn template_label_specs() -> Vec<FieldSpec> {
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

pub fn default_annotation_specs() -> Vec<FieldSpec> {
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
            // `[]` marks a list in some specs; stripped by hand, as
            // `trim_end_matches` with a text pattern sets up a searcher
            // each time, and this runs for every step of every path.
            let mut key = path[0].as_str();
            while let Some(k) = key.strip_suffix("[]") {
                key = k;
            }
            match yaml::lookup_mut(m, key) {
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
