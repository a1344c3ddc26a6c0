//! `replacements`: copy a field of one object into fields of others, with
//! Kustomize's field-path syntax (`spec.containers.[name=app].image`).

use crate::error::{BuildError, YamlError};
use crate::kustomization::KustomizationFile;
use crate::resource::Resource;
use crate::yaml::{self, Map, Value};

/// Splits a field path on dots outside brackets.
pub fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in p.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    // `name[0]` is the key `name` then index 0.
    let out: Vec<String> = out
        .into_iter()
        .flat_map(|s| {
            if !s.starts_with('[')
                && s.ends_with(']')
                && let Some(i) = s.find('[')
                && s[i + 1..s.len() - 1].chars().all(|c| c.is_ascii_digit())
            {
                return vec![s[..i].to_string(), s[i + 1..s.len() - 1].to_string()];
            }
            vec![s]
        })
        .collect();
    out.into_iter()
        .map(|s| {
            // `[a.b/c]` (no `=`) quotes a key containing dots.
            if s.starts_with('[') && s.ends_with(']') && !s.contains('=') {
                s[1..s.len() - 1].to_string()
            } else {
                s
            }
        })
        .collect()
}

/// Reads the value at a field path.
pub fn get_path<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    match v {
        Value::Map(m) => get_path(m.get(first)?, rest),
        Value::Seq(items) => {
            if let Some((k, val)) = seg_selector(first) {
                let it = items
                    .iter()
                    .find(|i| i.get(k).and_then(Value::scalar_string).as_deref() == Some(val))?;
                get_path(it, rest)
            } else if let Ok(i) = first.parse::<usize>() {
                get_path(items.get(i)?, rest)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn seg_selector(seg: &str) -> Option<(&str, &str)> {
    seg.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

/// Sets the value at every place a field path reaches.
pub fn set_path(
    v: &mut Value,
    path: &[String],
    create: bool,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<bool, String> {
    let Some((first, rest)) = path.split_first() else {
        f(v)?;
        return Ok(true);
    };
    match v {
        Value::Map(m) => {
            if first == "*" {
                let mut any = false;
                for (_, c) in m.iter_mut() {
                    any |= set_path(c, rest, create, f)?;
                }
                return Ok(any);
            }
            if !m.contains_key(first.as_str()) {
                if !create {
                    return Ok(false);
                }
                let nv = if rest.first().is_some_and(|s| s.starts_with('[')) {
                    Value::Seq(Vec::new())
                } else if rest.is_empty() {
                    Value::Null
                } else {
                    Value::Map(Map::new())
                };
                m.insert(first.clone(), nv);
            }
            set_path(
                m.get_mut(first.as_str()).expect("just ensured"),
                rest,
                create,
                f,
            )
        }
        Value::Seq(items) => {
            if first == "*" {
                let mut any = false;
                for c in items.iter_mut() {
                    any |= set_path(c, rest, create, f)?;
                }
                return Ok(any);
            }
            if let Some((k, val)) = seg_selector(first) {
                let mut any = false;
                for it in items.iter_mut() {
                    if it.get(k).and_then(Value::scalar_string).as_deref() == Some(val) {
                        any |= set_path(it, rest, create, f)?;
                    }
                }
                Ok(any)
            } else if let Ok(i) = first.parse::<usize>() {
                match items.get_mut(i) {
                    Some(it) => set_path(it, rest, create, f),
                    None => Ok(false),
                }
            } else {
                Ok(false)
            }
        }
        Value::Null if create => {
            *v = Value::Map(Map::new());
            set_path(v, path, create, f)
        }
        _ => Ok(false),
    }
}

/// Whether `pattern` selects `actual`: exact text, or with `regex` an
/// anchored regular expression (Kustomize v5.8's selectors).
fn field_matches(pattern: &str, actual: &str, regex: bool) -> bool {
    if !regex {
        return pattern == actual;
    }
    match regex::Regex::new(&format!("^(?:{pattern})$")) {
        Ok(re) => re.is_match(actual),
        Err(_) => pattern == actual,
    }
}

fn selects(sel: &Value, r: &Resource, regex: bool) -> bool {
    let g = r.gvk();
    let check = |k: &str, actual: &str| {
        sel.str_at(&[k])
            .is_none_or(|x| field_matches(x, actual, regex))
    };
    check("kind", &g.kind)
        && check("group", &g.group)
        && check("version", &g.version)
        && sel
            .str_at(&["name"])
            .is_none_or(|n| r.all_names().any(|x| field_matches(n, x, regex)))
        && sel
            .str_at(&["namespace"])
            .is_none_or(|n| field_matches(n, r.namespace(), regex))
        && sel
            .str_at(&["labelSelector"])
            .is_none_or(|s| crate::patch::selector_matches(s, r.labels()))
        && sel
            .str_at(&["annotationSelector"])
            .is_none_or(|s| crate::patch::selector_matches(s, r.annotations()))
}

/// The value a scalar target holds after a replacement. Kustomize copies
/// only the text into a scalar target, which keeps its type: a string
/// stays a string (`"2024.6"`), a number or boolean is read again from the
/// text; a target created for the replacement (or a null one) has no type,
/// so the text is read as a plain scalar (`2024.6` becomes a number). A
/// mapping or list replaces the target whole.
fn retyped(target: &Value, value: &Value) -> Value {
    let Some(text) = value.scalar_string() else {
        return value.clone();
    };
    match target {
        Value::Str(_) => Value::Str(text),
        Value::Map(_) | Value::Seq(_) => value.clone(),
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
            crate::yaml::resolve_plain(&text)
        }
    }
}

/// Applies one `replacements` entry.
pub fn apply(
    kust: &KustomizationFile,
    field: &str,
    resources: &mut [Resource],
    rep: &Value,
    regex: bool,
) -> Result<(), BuildError> {
    if let Some(p) = rep.str_at(&["path"]) {
        let text = kust.read_file(&format!("{field}.path"), p)?;
        let docs = yaml::parse_documents(&text).map_err(|e| BuildError::Yaml {
            path: kust.dir.join(p),
            source: YamlError(e),
        })?;
        for d in docs {
            match d {
                Value::Seq(items) => {
                    for it in items {
                        apply(kust, field, resources, &it, regex)?;
                    }
                }
                other => apply(kust, field, resources, &other, regex)?,
            }
        }
        return Ok(());
    }
    let src = rep
        .get("source")
        .ok_or_else(|| kust.err(field, "missing source"))?;
    let matches: Vec<&Resource> = resources
        .iter()
        .filter(|r| selects(src, r, regex))
        .collect();
    let source = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(kust.err(
                &format!("{field}.source"),
                "nothing selected by the replacement source",
            ));
        }
        _ => {
            return Err(kust.err(
                &format!("{field}.source"),
                "multiple matches for the replacement source",
            ));
        }
    };
    let fp = src.str_at(&["fieldPath"]).unwrap_or("metadata.name");
    let mut value = get_path(&source.obj, &split_path(fp))
        .cloned()
        .ok_or_else(|| {
            kust.err(
                &format!("{field}.source.fieldPath"),
                format!("field {fp} not found in source"),
            )
        })?;
    if let Some(opts) = src.get("options")
        && let (Some(d), Value::Str(s)) = (opts.str_at(&["delimiter"]), &value)
    {
        let idx = match opts.get("index") {
            Some(Value::Int(i)) => *i as usize,
            _ => 0,
        };
        let part = s.split(d).nth(idx).unwrap_or("").to_string();
        value = Value::Str(part);
    }
    let targets = rep
        .get("targets")
        .and_then(Value::as_seq)
        .cloned()
        .unwrap_or_default();
    for (ti, t) in targets.iter().enumerate() {
        let sel = t.get("select").cloned().unwrap_or(Value::Map(Map::new()));
        let rejects = t
            .get("reject")
            .and_then(Value::as_seq)
            .cloned()
            .unwrap_or_default();
        let opts = t.get("options");
        let create = opts.and_then(|o| o.get("create")) == Some(&Value::Bool(true));
        let delim = opts
            .and_then(|o| o.str_at(&["delimiter"]))
            .map(str::to_string);
        let index = match opts.and_then(|o| o.get("index")) {
            Some(Value::Int(i)) => *i,
            _ => 0,
        };
        for r in resources.iter_mut() {
            if !selects(&sel, r, regex) || rejects.iter().any(|rj| selects(rj, r, regex)) {
                continue;
            }
            for p in t
                .get("fieldPaths")
                .and_then(Value::as_seq)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let Some(p) = p.as_str() else { continue };
                let path = split_path(p);
                // The object's own annotations are a string map to Kustomize.
                let annotation =
                    path.len() == 3 && path[0] == "metadata" && path[1] == "annotations";
                let value = match value.scalar_string() {
                    Some(text) if annotation => Value::Str(text),
                    _ => value.clone(),
                };
                let delim = delim.clone();
                let found = set_path(&mut r.obj, &path, create, &mut |slot| {
                    match &delim {
                        Some(d) => {
                            let cur = slot.scalar_string().unwrap_or_default();
                            let mut parts: Vec<String> =
                                cur.split(d.as_str()).map(str::to_string).collect();
                            let new = value.scalar_string().unwrap_or_default();
                            if index < 0 {
                                parts.insert(0, new);
                            } else if index as usize >= parts.len() {
                                parts.push(new);
                            } else {
                                parts[index as usize] = new;
                            }
                            let joined = Value::Str(parts.join(d));
                            *slot = if annotation {
                                joined
                            } else {
                                retyped(slot, &joined)
                            };
                        }
                        None if annotation => *slot = value.clone(),
                        None => *slot = retyped(slot, &value),
                    }
                    Ok(())
                })
                .map_err(|e| kust.err(&format!("{field}.targets[{ti}]"), e))?;
                if !found && !create {
                    return Err(kust.err(
                        &format!("{field}.targets[{ti}].fieldPaths"),
                        format!(
                            "unable to find field {p} in replacement target {}",
                            r.id_string()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
