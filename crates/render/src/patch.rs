//! Patches: strategic merge (with the merge keys of the built-in kinds and
//! the `$patch` directives) and JSON 6902, and the target selectors of
//! `patches` (regex names, label and annotation selectors).

use crate::error::{BuildError, YamlError};
use crate::kustomization::KustomizationFile;
use crate::resource::Resource;
use crate::version::KustomizeVersion;
use crate::yaml::{self, Map, Value};

/// Merge key of a list field in the built-in kinds, if it merges by key.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "readinessGates" => "conditionType",
        "conditions" => "type",
        "ports" => {
            if items.iter().any(|i| i.get("containerPort").is_some()) {
                "containerPort"
            } else {
                "port"
            }
        }
        _ => return None,
    })
}

fn is_builtin(r_kind: &str) -> bool {
    !r_kind.is_empty()
        && matches!(
            r_kind,
            "Pod"
                | "Deployment"
                | "ReplicaSet"
                | "DaemonSet"
                | "StatefulSet"
                | "Job"
                | "CronJob"
                | "ReplicationController"
                | "Service"
                | "PodTemplate"
        )
}

/// Strategic-merge `patch` into `target`.
pub fn smp(target: &mut Value, patch: &Value, schema: bool) {
    match (target, patch) {
        (Value::Map(t), Value::Map(p)) => merge_map(t, p, schema),
        (t, p) => *t = strip_directives(p),
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::Map(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Seq(s) => Value::Seq(
            s.iter()
                .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map(t: &mut Map, p: &Map, schema: bool) {
    if yaml::lookup(p, "$patch").and_then(Value::as_str) == Some("replace") {
        *t = match strip_directives(&Value::Map(p.clone())) {
            Value::Map(m) => m,
            _ => unreachable!("a mapping stays a mapping"),
        };
        return;
    }
    for (k, pv) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Seq(items)), Value::Seq(del)) = (t.get_mut(field), pv) {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match pv {
            Value::Null => {
                t.shift_remove(k);
            }
            Value::Map(pm)
                if yaml::lookup(pm, "$patch").and_then(Value::as_str) == Some("delete") =>
            {
                t.shift_remove(k);
            }
            Value::Map(pm) => match yaml::lookup_mut(t, k) {
                Some(Value::Map(tm)) => merge_map(tm, pm, schema),
                _ => {
                    let mut nm = Map::new();
                    merge_map(&mut nm, pm, schema);
                    t.insert(k.clone(), Value::Map(nm));
                }
            },
            Value::Seq(ps) => match yaml::lookup_mut(t, k) {
                Some(Value::Seq(ts)) => merge_list(k, ts, ps, schema),
                _ => {
                    let mut ts = Vec::new();
                    merge_list(k, &mut ts, ps, schema);
                    t.insert(k.clone(), Value::Seq(ts));
                }
            },
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
    }
}

fn merge_list(field: &str, t: &mut Vec<Value>, p: &[Value], schema: bool) {
    if p.iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *t = p
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect();
        return;
    }
    let key = if schema { merge_key(field, p) } else { None };
    let Some(key) = key else {
        *t = strip_directives(&Value::Seq(p.to_vec()))
            .as_seq()
            .cloned()
            .unwrap_or_default();
        return;
    };
    // go-kustomize order: the patch's elements first, in patch order, then
    // the remaining elements of the target.
    // The target element each patch element merges into, found before any
    // is moved out; an element merged into once is moved, not copied.
    let positions: Vec<Option<usize>> = p
        .iter()
        .map(|pi| {
            let pk = pi.get(key)?;
            t.iter().position(|ti| ti.get(key) == Some(pk))
        })
        .collect();
    let mut merges_left = vec![0usize; t.len()];
    for (pi, pos) in p.iter().zip(&positions) {
        if let Some(i) = pos
            && pi.get("$patch").and_then(Value::as_str) != Some("delete")
        {
            merges_left[*i] += 1;
        }
    }
    let mut out: Vec<Value> = Vec::with_capacity(t.len() + p.len());
    let mut used = vec![false; t.len()];
    for (pi, &pos) in p.iter().zip(&positions) {
        let delete = pi.get("$patch").and_then(Value::as_str) == Some("delete");
        if pi.get(key).is_none() {
            if !delete {
                out.push(strip_directives(pi));
            }
            continue;
        }
        if let Some(i) = pos {
            used[i] = true;
        }
        match (pos, delete) {
            (_, true) => {}
            (Some(i), false) => {
                merges_left[i] -= 1;
                let mut v = if merges_left[i] == 0 {
                    std::mem::replace(&mut t[i], Value::Null)
                } else {
                    t[i].clone()
                };
                smp(&mut v, pi, schema);
                out.push(v);
            }
            (None, false) => {
                let mut nv = Value::Map(Map::new());
                smp(&mut nv, pi, schema);
                out.push(nv);
            }
        }
    }
    for (ti, used) in std::mem::take(t).into_iter().zip(used) {
        if !used {
            out.push(ti);
        }
    }
    *t = out;
}

/// Applies a strategic-merge patch to the object its own id names.
pub fn apply_smp_by_id(
    kust: &KustomizationFile,
    field: &str,
    resources: &mut [Resource],
    patch: &Value,
) -> Result<(), BuildError> {
    let kind = patch.str_at(&["kind"]).unwrap_or("");
    let name = patch.str_at(&["metadata", "name"]).unwrap_or("");
    let ns = patch.str_at(&["metadata", "namespace"]);
    let api = patch.str_at(&["apiVersion"]).unwrap_or("");
    let matches: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            (api.is_empty() || r.api_version() == api)
                && r.all_ids().any(|(n, _, k)| k == kind && n == name)
                && ns.is_none_or(|ns| r.all_namespaces().any(|n| n == ns))
        })
        .map(|(i, _)| i)
        .collect();
    let id = format!("{kind}/{name}");
    match matches.as_slice() {
        [] => Err(kust.err(
            field,
            format!("failed to find unique target for patch {id}"),
        )),
        [i] => {
            apply_smp_keep_id(&mut resources[*i], patch, false, false);
            Ok(())
        }
        _ => Err(kust.err(
            field,
            format!("multiple matches for Id {id}; failed to find unique target for patch {id}"),
        )),
    }
}

/// Removes the mapping entry at `path` if it is still null.
fn drop_if_null(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parents {
        cur = match cur {
            Value::Map(m) => match m.get_mut(p) {
                Some(next) => next,
                None => return,
            },
            Value::Seq(items) => match p.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(next) => next,
                None => return,
            },
            _ => return,
        };
    }
    if let Value::Map(m) = cur
        && m.get(last) == Some(&Value::Null)
    {
        m.shift_remove(last);
    }
}

fn apply_smp_keep_id(r: &mut Resource, patch: &Value, allow_name: bool, allow_kind: bool) {
    if patch.get("$patch").and_then(Value::as_str) == Some("delete") {
        r.obj = Value::Null;
        return;
    }
    let schema = is_builtin(r.kind()) || r.has_schema;
    if allow_name || allow_kind {
        // Kustomize records the id before a patch that may change it.
        r.store_previous_id();
    }
    let old_name = r.name().to_string();
    let old_kind = r.kind().to_string();
    let old_api = r.api_version().to_string();
    // Patched in place: the object is taken out, not copied.
    let mut obj = std::mem::replace(&mut r.obj, Value::Null);
    smp(&mut obj, patch, schema);
    // Kustomize's strategic merge walks the whole object and drops the
    // entries written with no value (`key:`), though not a literal null.
    for path in std::mem::take(&mut r.empty_values) {
        drop_if_null(&mut obj, &path);
    }
    let new_name = obj.str_at(&["metadata", "name"]).unwrap_or("").to_string();
    if let Some(m) = obj.as_map_mut() {
        if !allow_kind {
            m.insert("kind".into(), Value::Str(old_kind));
            m.insert("apiVersion".into(), Value::Str(old_api));
        }
        if let Some(md) = m.get_mut("metadata").and_then(Value::as_map_mut) {
            md.insert("name".into(), Value::Str(old_name.clone()));
        }
    }
    r.obj = obj;
    if allow_name && new_name != old_name && !new_name.is_empty() {
        r.put_name(&new_name);
    }
}

/// A `target` selector.
struct Target {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
    labels: Option<String>,
    annotations: Option<String>,
}

fn anchored(kust: &KustomizationFile, field: &str, s: &str) -> Result<regex::Regex, BuildError> {
    regex::Regex::new(&format!("^(?:{s})$"))
        .map_err(|e| kust.err(field, format!("invalid regular expression: {e}")))
}

impl Target {
    fn parse(kust: &KustomizationFile, field: &str, v: &Value) -> Result<Target, BuildError> {
        let m = v
            .as_map()
            .ok_or_else(|| kust.err(field, "expected a mapping"))?;
        let get = |k: &str| {
            m.get(k)
                .and_then(Value::scalar_string)
                .filter(|s| !s.is_empty())
        };
        for k in m.keys() {
            if ![
                "group",
                "version",
                "kind",
                "name",
                "namespace",
                "labelSelector",
                "annotationSelector",
            ]
            .contains(&k.as_str())
            {
                return Err(BuildError::Unsupported {
                    file: kust.file.clone(),
                    field: format!("{field}.{k}"),
                });
            }
        }
        Ok(Target {
            group: get("group"),
            version: get("version"),
            kind: get("kind"),
            name: get("name").map(|s| anchored(kust, field, &s)).transpose()?,
            namespace: get("namespace")
                .map(|s| anchored(kust, field, &s))
                .transpose()?,
            labels: get("labelSelector"),
            annotations: get("annotationSelector"),
        })
    }

    fn matches(&self, r: &Resource) -> bool {
        let (group, version) = r.group_version();
        if self.group.as_ref().is_some_and(|x| x != group)
            || self.version.as_ref().is_some_and(|x| x != version)
            || self.kind.as_ref().is_some_and(|x| x != r.kind())
        {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(r.name())
            && !r.all_names().any(|n| re.is_match(n))
        {
            return false;
        }
        if let Some(re) = &self.namespace
            && !r.all_namespaces().any(|n| re.is_match(n))
        {
            return false;
        }
        if let Some(sel) = &self.labels
            && !selector_matches(sel, r.labels())
        {
            return false;
        }
        if let Some(sel) = &self.annotations
            && !selector_matches(sel, r.annotations())
        {
            return false;
        }
        true
    }
}

/// A Kubernetes label selector (`a=b,c!=d,e,!f,g in (x,y),h notin (z)`).
pub fn selector_matches(sel: &str, labels: Option<&Map>) -> bool {
    let empty = Map::new();
    let labels = labels.unwrap_or(&empty);
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in sel.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .all(|p| {
            if let Some((k, v)) = p.split_once("!=") {
                get(k.trim()) != Some(v.trim())
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                get(k.trim()) == Some(v.trim())
            } else if let Some(k) = p.strip_prefix('!') {
                get(k.trim()).is_none()
            } else if let Some((k, set)) = p.split_once(" notin ") {
                let vals = set_values(set);
                get(k.trim()).is_none_or(|v| !vals.contains(&v))
            } else if let Some((k, set)) = p.split_once(" in ") {
                let vals = set_values(set);
                get(k.trim()).is_some_and(|v| vals.contains(&v))
            } else {
                get(p).is_some()
            }
        })
}

fn set_values(s: &str) -> Vec<&str> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}

/// One entry of `patches` (or `patchesJson6902` when `json_only`).
pub fn apply_patch_entry(
    kust: &KustomizationFile,
    field: &str,
    resources: &mut Vec<Resource>,
    entry: &Value,
    json_only: bool,
    version: KustomizeVersion,
) -> Result<(), BuildError> {
    let m = entry
        .as_map()
        .ok_or_else(|| kust.err(field, "expected a mapping"))?;
    for k in m.keys() {
        if !["path", "patch", "target", "options"].contains(&k.as_str()) {
            return Err(BuildError::Unsupported {
                file: kust.file.clone(),
                field: format!("{field}.{k}"),
            });
        }
    }
    let text = match (
        m.get("path").and_then(Value::as_str),
        m.get("patch").and_then(Value::as_str),
    ) {
        (Some(_), Some(_)) => {
            return Err(kust.err(field, "patch and path can't be set at the same time"));
        }
        (Some(p), None) => kust.read_file(&format!("{field}.path"), p)?,
        (None, Some(t)) => t.to_string(),
        (None, None) => return Err(kust.err(field, "must specify one of patch and path")),
    };
    let opt = |k: &str| m.get("options").and_then(|o| o.get(k)) == Some(&Value::Bool(true));
    let (allow_name, allow_kind) = (opt("allowNameChange"), opt("allowKindChange"));
    let docs = yaml::parse_manifests(&text).map_err(|e| BuildError::Yaml {
        path: kust.file.clone(),
        source: YamlError(e),
    })?;
    if docs.is_empty() && !json_only {
        if version.skips_empty_patches() {
            return Ok(());
        }
        return Err(kust.err(
            field,
            format!(
                "the patch has no content; {} refuses it (it qualifies as both a strategic-merge and a JSON patch)",
                version.name()
            ),
        ));
    }
    let is_json = json_only || matches!(docs.first(), Some(Value::Seq(_)));
    let target = match m.get("target") {
        Some(t) => Some(Target::parse(kust, &format!("{field}.target"), t)?),
        None => None,
    };
    if is_json {
        let ops = docs.into_iter().next().unwrap_or(Value::Seq(Vec::new()));
        let Some(target) = target else {
            return Err(kust.err(field, "a JSON 6902 patch needs a target"));
        };
        let mut found = false;
        for r in resources.iter_mut() {
            if target.matches(r) {
                found = true;
                // Only the id is needed from before the patch.
                let (name, namespace, kind) = (
                    r.name().to_string(),
                    r.namespace().to_string(),
                    r.kind().to_string(),
                );
                json6902(&mut r.obj, &ops).map_err(|e| kust.err(field, e))?;
                if r.name() != name || r.kind() != kind {
                    // Renamed by the patch: keep the old id in the history.
                    r.prev_names.push(name);
                    r.prev_namespaces.push(namespace);
                    r.prev_kinds.push(kind);
                }
            }
        }
        if !found && json_only {
            return Err(kust.err(field, "no resource matches the target of the patch"));
        }
        return Ok(());
    }
    for (i, d) in docs.iter().enumerate() {
        let follows_delete = docs[..i]
            .iter()
            .any(|p| p.get("$patch").and_then(Value::as_str) == Some("delete"));
        if follows_delete && !version.patches_continue_after_delete() {
            return Err(kust.err(
                field,
                format!(
                    "a document follows a `$patch: delete` document in the same patch; {} cannot apply that (it crashes)",
                    version.name()
                ),
            ));
        }
        match &target {
            None => {
                // Behaves like patchesStrategicMerge.
                apply_smp_by_id(kust, field, resources, d)?;
            }
            Some(t) => {
                for r in resources.iter_mut() {
                    if t.matches(r) {
                        apply_smp_keep_id(r, d, allow_name, allow_kind);
                    }
                }
            }
        }
    }
    resources.retain(|r| !r.obj.is_null());
    Ok(())
}

fn unescape(tok: &str) -> String {
    tok.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest.split('/').map(unescape).collect())
}

fn get_at<'a>(v: &'a Value, parts: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for p in parts {
        cur = match cur {
            Value::Map(m) => m.get(p)?,
            Value::Seq(s) => s.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_at_mut<'a>(v: &'a mut Value, parts: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in parts {
        cur = match cur {
            Value::Map(m) => m.get_mut(p)?,
            Value::Seq(s) => s.get_mut(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn remove_at(v: &mut Value, parts: &[String]) -> Result<Value, String> {
    let (last, parent) = parts.split_last().ok_or("cannot remove the root")?;
    let p = get_at_mut(v, parent).ok_or_else(|| format!("path /{} not found", parts.join("/")))?;
    match p {
        Value::Map(m) => m
            .shift_remove(last)
            .ok_or_else(|| format!("key {last} not found")),
        Value::Seq(s) => {
            let i: usize = last.parse().map_err(|_| format!("bad index {last}"))?;
            if i < s.len() {
                Ok(s.remove(i))
            } else {
                Err(format!("index {i} out of range"))
            }
        }
        _ => Err("parent is not a container".into()),
    }
}

fn add_at(v: &mut Value, parts: &[String], val: Value, replace: bool) -> Result<(), String> {
    let Some((last, parent)) = parts.split_last() else {
        *v = val;
        return Ok(());
    };
    let p = get_at_mut(v, parent).ok_or_else(|| {
        format!(
            "{} operation does not apply: doc is missing path: /{}",
            if replace { "replace" } else { "add" },
            parts.join("/")
        )
    })?;
    match p {
        Value::Map(m) => {
            // Kustomize's JSON patch library replaces a missing key of an
            // existing mapping by adding it (a missing parent is an error).
            m.insert(last.clone(), val);
            Ok(())
        }
        Value::Seq(s) => {
            if last == "-" {
                s.push(val);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| format!("bad index {last}"))?;
            if replace {
                let slot = s
                    .get_mut(i)
                    .ok_or_else(|| format!("index {i} out of range"))?;
                *slot = val;
            } else {
                if i > s.len() {
                    return Err(format!("index {i} out of range"));
                }
                s.insert(i, val);
            }
            Ok(())
        }
        _ => Err("parent is not a container".into()),
    }
}

/// Applies a JSON 6902 patch (a list of operations).
pub fn json6902(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_seq()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let kind = op.str_at(&["op"]).ok_or("operation without op")?;
        let path = pointer_parts(op.str_at(&["path"]).ok_or("operation without path")?)?;
        match kind {
            "add" => add_at(
                doc,
                &path,
                op.get("value").cloned().unwrap_or(Value::Null),
                false,
            )?,
            "replace" => add_at(
                doc,
                &path,
                op.get("value").cloned().unwrap_or(Value::Null),
                true,
            )?,
            "remove" => {
                remove_at(doc, &path)?;
            }
            "move" => {
                let from = pointer_parts(op.str_at(&["from"]).ok_or("move without from")?)?;
                let v = remove_at(doc, &from)?;
                add_at(doc, &path, v, false)?;
            }
            "copy" => {
                let from = pointer_parts(op.str_at(&["from"]).ok_or("copy without from")?)?;
                let v = get_at(doc, &from).cloned().ok_or("copy source not found")?;
                add_at(doc, &path, v, false)?;
            }
            "test" => {
                let v = get_at(doc, &path);
                if v != op.get("value") {
                    return Err(format!("test failed at {}", path.join("/")));
                }
            }
            other => return Err(format!("unknown operation {other:?}")),
        }
    }
    Ok(())
}
