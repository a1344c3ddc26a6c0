//! The built-in transformers of a kustomization, run in Kustomize's order:
//! strategic-merge patches, `patches`, namespace, name prefix and suffix,
//! labels, annotations, JSON 6902 patches, replicas, images, replacements.
//! Where each one writes is a list of field specs (kind + path), the
//! defaults being Kustomize's, extendable with `configurations`.

use crate::accumulator::Accumulator;
use crate::error::{BuildError, YamlError};
use crate::fieldspec::{
    FieldSpec, default_annotation_specs, default_selector_specs, fs, group_of, parse_fieldspecs,
    template_label_specs, visit_path,
};
use crate::kustomization::KustomizationFile;
use crate::patch;
use crate::resource::Resource;
use crate::yaml::{self, Map, Value};

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

fn string_map(kust: &KustomizationFile, field: &str, m: &Map) -> Result<Map, BuildError> {
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
    kust: &KustomizationFile,
    field: &str,
    resources: &mut [Resource],
    specs: &[FieldSpec],
    entries: &Map,
) -> Result<(), BuildError> {
    for r in resources.iter_mut() {
        // The entries never touch `kind` or `apiVersion`: they are looked
        // up once per object, not once per spec.
        let (kind, group) = (r.kind().to_string(), group_of(r.api_version()).to_string());
        for spec in specs {
            if !spec.selects(&kind, &group) {
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

/// A `LabelTransformer` or `AnnotationsTransformer` plugin config: its
/// entries are written exactly where its own field specs say.
pub fn apply_plugin_map(
    kust: &KustomizationFile,
    field: &str,
    acc: &mut Accumulator,
    entries: Option<&Value>,
    specs: Option<&Value>,
) -> Result<(), BuildError> {
    let Some(m) = entries.and_then(Value::as_map) else {
        return Ok(());
    };
    let entries = string_map(kust, field, m)?;
    let specs = parse_fieldspecs(specs);
    apply_map(kust, field, &mut acc.resources, &specs, &entries)
}

/// Runs the built-in transformers of `kust` over what has accumulated, in
/// Kustomize's order.
pub fn run(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    acc.ids = None;
    for r in &mut acc.resources {
        r.has_schema = acc.schema.describes(r.kind());
    }
    for transformer in [
        strategic_merge_patches,
        patches,
        set_namespace,
        name_prefix_suffix,
        labels,
        annotations,
        json6902_patches,
        replicas,
        images,
        replacements,
    ] {
        transformer(kust, acc)?;
    }
    Ok(())
}

/// Records one run of the built-in transformer `kind` this kustomization
/// configured. A plugin config given in `transformers` is recorded once,
/// under its own kind, by its caller.
fn ran(kust: &KustomizationFile, acc: &mut Accumulator, kind: &str) {
    if kust.plugin_origin.is_none() {
        crate::accumulator::record_transformation(acc, &kust.file, kind, None, None);
    }
}

/// `patchesStrategicMerge`: strategic merge patches from files or inline.
fn strategic_merge_patches(
    kust: &KustomizationFile,
    acc: &mut Accumulator,
) -> Result<(), BuildError> {
    let mut loaded = Vec::new();
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
        let docs = yaml::parse_manifests(&text).map_err(|e| BuildError::Yaml {
            path: kust.file.clone(),
            source: YamlError(e),
        })?;
        loaded.push((field, docs));
    }
    if loaded.is_empty() {
        return Ok(());
    }
    // Kustomize loads them all first, and refuses a list with no patch in it.
    if loaded.iter().all(|(_, docs)| docs.is_empty()) {
        return Err(kust.err(
            "patchesStrategicMerge",
            "patch appears to be empty: every listed patch is empty or only comments",
        ));
    }
    for (field, docs) in loaded {
        for d in docs {
            patch::apply_smp_by_id(kust, &field, &mut acc.resources, &d)?;
        }
        acc.resources.retain(|r| !r.obj.is_null());
    }
    ran(kust, acc, "PatchStrategicMergeTransformer");
    Ok(())
}

/// `patches`: strategic merge or JSON 6902 patches with optional targets.
fn patches(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    for (i, p) in kust.seq_field("patches")?.iter().enumerate() {
        let field = format!("patches[{i}]");
        patch::apply_patch_entry(kust, &field, &mut acc.resources, p, false, acc.version)?;
        ran(kust, acc, "PatchTransformer");
    }
    Ok(())
}

/// `namespace`: every namespaced object (and the references to it) moves.
fn set_namespace(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    if let Some(ns) = kust.str_field("namespace")?
        && !ns.is_empty()
    {
        namespace(acc, ns);
        let mut seen = std::collections::HashSet::new();
        for r in &acc.resources {
            if !seen.insert(r.id_string()) {
                return Err(kust.err(
                    "namespace",
                    format!(
                        "namespace transformation produces ID conflict: two objects are now {}",
                        r.id_string()
                    ),
                ));
            }
        }
        ran(kust, acc, "NamespaceTransformer");
    }
    Ok(())
}

/// `namePrefix`/`nameSuffix` on every name Kustomize renames.
fn name_prefix_suffix(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    let prefix = kust.str_field("namePrefix")?.unwrap_or("");
    let suffix = kust.str_field("nameSuffix")?.unwrap_or("");
    // A `PrefixSuffixTransformer` config brings its own field specs.
    let own_specs = match kust.plugin_origin {
        Some(_) => parse_fieldspecs(kust.doc.get("fieldSpecs")),
        None => Vec::new(),
    };
    let pick = |settled: &[FieldSpec]| -> Vec<FieldSpec> {
        if !own_specs.is_empty() {
            own_specs.clone()
        } else if settled.is_empty() {
            vec![fs("", "metadata/name", false)]
        } else {
            settled.to_vec()
        }
    };
    if !prefix.is_empty() {
        let specs = pick(&acc.config.name_prefix);
        add_affix(acc, &specs, prefix, Affix::Prefix);
        ran(kust, acc, "PrefixTransformer");
    }
    if !suffix.is_empty() {
        let specs = pick(&acc.config.name_suffix);
        add_affix(acc, &specs, suffix, Affix::Suffix);
        ran(kust, acc, "SuffixTransformer");
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Affix {
    Prefix,
    Suffix,
}

/// Kustomize's prefix (or suffix) transformer: for every spec that selects
/// the object's original kind, the field at the spec's path gets `text`;
/// on `metadata/name` that is a rename (the old id is recorded, and the
/// affix remembered for choosing among name-reference candidates).
fn add_affix(acc: &mut Accumulator, specs: &[FieldSpec], text: &str, side: Affix) {
    let affixed = |v: &str| match side {
        Affix::Prefix => format!("{text}{v}"),
        Affix::Suffix => format!("{v}{text}"),
    };
    for r in &mut acc.resources {
        let kind = r.orig_kind().to_string();
        let group = r.group_version().0.to_string();
        // Never renamed, whatever the specs say.
        if kind == "CustomResourceDefinition"
            || kind == "Namespace"
            || (kind == "APIService" && group == "apiregistration.k8s.io")
        {
            continue;
        }
        for spec in specs {
            let selected = (spec.kind.is_empty() || spec.kind == kind)
                && (spec.group.is_empty() || spec.group == group);
            if !selected {
                continue;
            }
            if spec.path == ["metadata", "name"] {
                match side {
                    Affix::Prefix => r.prefixes.push(text.to_string()),
                    Affix::Suffix => r.suffixes.push(text.to_string()),
                }
                r.store_previous_id();
                let name = affixed(r.name());
                r.put_name(&name);
            } else {
                let _ = visit_path(&mut r.obj, &spec.path, spec.create, &mut |v| {
                    if let Value::Str(s) = v {
                        *s = affixed(s);
                    }
                    Ok(())
                });
            }
        }
    }
}

/// `labels` (selectors and templates only when asked), then `commonLabels`
/// (with selectors).
fn labels(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    let mut label_specs_all = vec![fs("", "metadata/labels", true)];
    label_specs_all.extend(default_selector_specs());
    label_specs_all.extend(acc.config.labels.iter().cloned());
    // Kustomize applies the `labels` entries first, then `commonLabels`
    // (so on a shared key, `commonLabels` wins).
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
    // Kustomize runs one label transformer per `labels` entry and one for
    // `commonLabels`, whenever either is set.
    let label_runs = kust.seq_field("labels")?.len() + 1;
    if kust
        .map_field("commonLabels")?
        .is_some_and(|m| !m.is_empty())
        || label_runs > 1
    {
        for _ in 0..label_runs {
            ran(kust, acc, "LabelTransformer");
        }
    }
    Ok(())
}

/// `commonAnnotations`.
fn annotations(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
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
        if !m.is_empty() {
            ran(kust, acc, "AnnotationsTransformer");
        }
    }
    Ok(())
}

/// `patchesJson6902`.
fn json6902_patches(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    for (i, p) in kust.seq_field("patchesJson6902")?.iter().enumerate() {
        let field = format!("patchesJson6902[{i}]");
        patch::apply_patch_entry(kust, &field, &mut acc.resources, p, true, acc.version)?;
        ran(kust, acc, "PatchJson6902Transformer");
    }
    Ok(())
}

/// `replicas`: counts for the named workloads.
fn replicas(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    let entries = kust.seq_field("replicas")?;
    if entries.is_empty() {
        return Ok(());
    }
    // Every (name, kind) each object has had, indexed by name once for
    // all entries: the entries are many in large overlays.
    let mut by_name: std::collections::HashMap<String, Vec<(usize, String)>> =
        std::collections::HashMap::new();
    for (at, r) in acc.resources.iter().enumerate() {
        for (n, _, k) in r.all_ids() {
            let ids = by_name.entry(n.to_string()).or_default();
            if !ids.iter().any(|(i, kind)| *i == at && kind == k) {
                ids.push((at, k.to_string()));
            }
        }
    }
    for (i, rep) in entries.iter().enumerate() {
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
        // An object matches by any id it has had: the name and the kind.
        let mut found = false;
        let ids = by_name.get(name).map(Vec::as_slice).unwrap_or(&[]);
        for s in &specs {
            let mut selected: Vec<usize> = ids
                .iter()
                .filter(|(_, k)| s.kind.is_empty() || s.kind == *k)
                .map(|(at, _)| *at)
                .collect();
            selected.dedup();
            for at in selected {
                found = true;
                let _ = visit_path(&mut acc.resources[at].obj, &s.path, s.create, &mut |v| {
                    *v = Value::Int(count);
                    Ok(())
                });
            }
        }
        if !found {
            let kinds: Vec<&str> = specs.iter().map(|s| s.kind.as_str()).collect();
            return Err(kust.err(
                &format!("{field}.name"),
                format!(
                    "resource with name {name} does not match a config with the following kinds: {}",
                    kinds.join(", ")
                ),
            ));
        }
        ran(kust, acc, "ReplicaCountTransformer");
    }
    Ok(())
}

/// `images`: name, tag and digest overrides.
fn images(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    for (i, img) in kust.seq_field("images")?.iter().enumerate() {
        let field = format!("images[{i}]");
        let spec = ImageSpec::parse(kust, &field, img)?;
        let extra = acc.config.images.clone();
        for r in &mut acc.resources {
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
        ran(kust, acc, "ImageTagTransformer");
    }
    Ok(())
}

/// `replacements`: values copied from one field to others.
fn replacements(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    for (i, rep) in kust.seq_field("replacements")?.iter().enumerate() {
        let field = format!("replacements[{i}]");
        let regex = acc.version.regex_replacement_selectors();
        crate::replace::apply(kust, &field, &mut acc.resources, rep, regex)?;
    }
    if !kust.seq_field("replacements")?.is_empty() {
        ran(kust, acc, "ReplacementTransformer");
    }
    Ok(())
}

/// Where the namespace transformer writes besides `metadata.namespace`:
/// Kustomize's defaults (webhook configurations are not among them; their
/// service references follow through name references instead).
fn namespace_specs() -> Vec<FieldSpec> {
    let mut api_service = fs("APIService", "spec/service/namespace", true);
    api_service.group = "apiregistration.k8s.io".into();
    let mut crd = fs(
        "CustomResourceDefinition",
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    );
    crd.group = "apiextensions.k8s.io".into();
    vec![api_service, crd]
}

fn namespace(acc: &mut Accumulator, ns: &str) {
    let mut specs = namespace_specs();
    specs.extend(
        acc.config
            .namespace
            .iter()
            .filter(|s| s.path != ["metadata", "namespace"])
            .cloned(),
    );
    for r in &mut acc.resources {
        let g = r.gvk();
        // Kustomize records every object's id here, moved or not, so
        // later name references can find it by that id.
        r.store_previous_id();
        if !g.is_cluster_scoped() {
            r.put_namespace(ns);
        }
        if g.kind == "Namespace" && r.api_version() == "v1" {
            r.put_name(ns);
        }
        let binding = g.kind == "RoleBinding" || g.kind == "ClusterRoleBinding";
        if binding && let Some(Value::Seq(subjects)) = r.obj.get_mut("subjects") {
            for s in subjects {
                if s.str_at(&["name"]) == Some("default")
                    && let Some(m) = s.as_map_mut()
                {
                    m.insert("namespace".into(), Value::Str(ns.into()));
                }
            }
        }
        for spec in &specs {
            if !spec.applies_to(r) || (binding && spec.path == ["subjects", "namespace"]) {
                continue;
            }
            let _ = visit_path(&mut r.obj, &spec.path, spec.create, &mut |v| {
                *v = Value::Str(ns.into());
                Ok(())
            });
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
    fn parse(kust: &KustomizationFile, field: &str, v: &Value) -> Result<ImageSpec, BuildError> {
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
            // Without a name the entry matches no image, as in Kustomize.
            name: get("name").unwrap_or_default(),
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
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
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
