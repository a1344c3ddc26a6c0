//! Legacy `vars`: `$(NAME)` in known fields replaced by a field of a named
//! object.
//!
//! As in Kustomize, a var is bound to its object in the kustomization that
//! declares it, right after that kustomization's transformers ran: the
//! object is found by any name it has had so far, so two bases may each
//! declare a var on their own `elasticsearch` Service even when an overlay
//! later renames both. More than one match at that point is an error. The
//! values are read, and the references replaced, once at the end of the
//! build, in the fields Kustomize's `varReference` table lists.

use crate::accumulator::Accumulator;
use crate::error::BuildError;
use crate::fieldspec::{FieldSpec, TransformerConfig, fs};
use crate::kustomization::KustomizationFile;
use crate::replace::{get_path, split_path};
use crate::resource::{Gvk, Resource};
use crate::yaml::Value;
use std::path::Path;

/// One declared var.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    gvk: Gvk,
    obj_name: String,
    namespace: String,
    field_path: String,
}

/// The value under `key`, the key matched without regard to case, as Go's
/// JSON decoding (and so Kustomize) matches field names (`fieldPath` is
/// `fieldpath`).
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_map()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn text_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    field(v, key).and_then(Value::as_str)
}

impl Var {
    pub fn parse(kust: &KustomizationFile, i: usize, v: &Value) -> Result<Var, BuildError> {
        let field_name = format!("vars[{i}]");
        let name = text_field(v, "name").ok_or_else(|| kust.err(&field_name, "missing name"))?;
        let objref = field(v, "objref")
            .ok_or_else(|| kust.err(&format!("{field_name}.objref"), "missing objref"))?;
        let text = |k: &str| text_field(objref, k).unwrap_or("").to_string();
        // Kustomize's objref: `apiVersion` wins over `group`/`version`.
        let gvk = match text_field(objref, "apiVersion") {
            Some(api) if !api.is_empty() => Gvk::from_api_version(api, &text("kind")),
            _ => Gvk {
                group: text("group"),
                version: text("version"),
                kind: text("kind"),
            },
        };
        let field_path = match field(v, "fieldref").and_then(|f| text_field(f, "fieldpath")) {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => "metadata.name".to_string(),
        };
        Ok(Var {
            name: name.into(),
            gvk,
            obj_name: text("name"),
            namespace: text("namespace"),
            field_path,
        })
    }

    /// Kustomize's printed form of a var, for error messages.
    fn describe(&self) -> String {
        format!(
            "{}: {}/{} {}",
            self.name, self.gvk.kind, self.obj_name, self.field_path
        )
    }

    /// Whether `r`, under any name and namespace it has had, is the object
    /// this var refers to. Without a namespace in the objref (and for a
    /// namespaced kind) any namespace matches.
    fn matches(&self, r: &Resource) -> bool {
        if r.gvk() != self.gvk {
            return false;
        }
        let check_ns = !self.namespace.is_empty() || self.gvk.is_cluster_scoped();
        let effective = |ns: &str| -> String {
            if self.gvk.is_cluster_scoped() {
                String::new()
            } else if ns.is_empty() {
                "default".to_string()
            } else {
                ns.to_string()
            }
        };
        let wanted = effective(&self.namespace);
        r.all_names()
            .zip(r.all_namespaces())
            .any(|(n, ns)| n == self.obj_name && (!check_ns || effective(ns) == wanted))
    }
}

/// Binds the vars one kustomization declares to the objects accumulated
/// so far, and adds them to the build's set (a name may be declared once).
pub fn declare(kust: &KustomizationFile, acc: &mut Accumulator) -> Result<(), BuildError> {
    for (i, v) in kust.seq_field("vars")?.iter().enumerate() {
        let var = Var::parse(kust, i, v)?;
        let matched: Vec<usize> = acc
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| var.matches(r))
            .map(|(i, _)| i)
            .collect();
        if matched.len() > 1 {
            return Err(kust.err(
                &format!("vars[{i}]"),
                format!(
                    "found {} resId matches for var {} (unable to disambiguate)",
                    matched.len(),
                    var.describe()
                ),
            ));
        }
        if let Some(&one) = matched.first() {
            acc.resources[one].ref_vars.push(var.name.clone());
        }
        add_var(acc, var, &kust.file)?;
    }
    Ok(())
}

/// Adds a var to the build's set, refusing a second one of the same name.
pub fn add_var(acc: &mut Accumulator, var: Var, file: &Path) -> Result<(), BuildError> {
    if acc.vars.iter().any(|x| x.name == var.name) {
        return Err(BuildError::Resources {
            file: file.to_path_buf(),
            message: format!("var '{}' already encountered", var.name),
        });
    }
    acc.vars.push(var);
    Ok(())
}

/// Kustomize's default `varReference` table: where `$(VAR)` is replaced.
fn default_refs() -> Vec<FieldSpec> {
    const CONTAINER_FIELDS: &[&str] = &[
        "containers/args",
        "containers/command",
        "containers/env/value",
        "containers/volumeMounts/mountPath",
        "initContainers/args",
        "initContainers/command",
        "initContainers/env/value",
        "initContainers/volumeMounts/mountPath",
    ];
    let mut v = Vec::new();
    for (kind, pod_spec) in [
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
        ("DaemonSet", "spec/template/spec"),
        ("Deployment", "spec/template/spec"),
        ("Job", "spec/template/spec"),
        ("Pod", "spec"),
        ("ReplicaSet", "spec/template/spec"),
        ("StatefulSet", "spec/template/spec"),
    ] {
        for p in CONTAINER_FIELDS {
            v.push(fs(kind, &format!("{pod_spec}/{p}"), false));
        }
        // Kustomize's table has the CronJob volumes one level too high and
        // no pod volumes for StatefulSets; kept as it is, since that is
        // where Kustomize replaces.
        match kind {
            "CronJob" => v.push(fs(
                kind,
                "spec/jobTemplate/spec/template/volumes/nfs/server",
                false,
            )),
            "StatefulSet" => v.push(fs(kind, "spec/volumeClaimTemplates/spec/nfs/server", false)),
            _ => v.push(fs(kind, &format!("{pod_spec}/volumes/nfs/server"), false)),
        }
    }
    v.extend([
        fs("Deployment", "spec/template/metadata/annotations", false),
        fs("Ingress", "spec/rules/host", false),
        fs("Ingress", "spec/tls/hosts", false),
        fs("Ingress", "spec/tls/secretName", false),
        fs("Service", "spec/ports/port", false),
        fs("Service", "spec/ports/targetPort", false),
        fs("PersistentVolume", "spec/nfs/server", false),
        fs("", "metadata/labels", false),
        fs("", "metadata/annotations", false),
    ]);
    v
}

/// Expands `$(NAME)` in `input` as Kustomize does: `$$` is a literal `$`,
/// an unknown or unclosed reference stays as written, and a string that is
/// exactly one reference takes the value itself (a number stays a number).
fn expand(input: &str, vals: &[(String, Value)]) -> Value {
    let lookup = |name: &str| vals.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    if let Some(name) = input.strip_prefix("$(").and_then(|s| s.strip_suffix(')'))
        && !name.contains(')')
        && let Some(v) = lookup(name)
    {
        return v.clone();
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if after.is_empty() {
            out.push('$');
            rest = after;
            break;
        }
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match lookup(name).and_then(Value::scalar_string) {
                Some(s) => out.push_str(&s),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[close + 1..];
        } else {
            // A `$` before anything else is kept with that character.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Value::Str(out)
}

/// Replaces references in the value a `varReference` spec reaches: a
/// string, the string values of a mapping, or a list of strings.
fn substitute_at(target: &mut Value, vals: &[(String, Value)]) -> Result<(), String> {
    match target {
        Value::Str(s) => {
            *target = expand(s, vals);
            Ok(())
        }
        Value::Map(m) => {
            for v in m.values_mut() {
                if let Value::Str(s) = v {
                    *v = expand(s, vals);
                }
            }
            Ok(())
        }
        Value::Seq(items) => {
            for it in items.iter_mut() {
                match it {
                    Value::Str(s) => *it = expand(s, vals),
                    _ => return Err("invalid value type expect a string".into()),
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Reads every var's value from the object it was bound to and replaces
/// `$(VAR)` references in all objects.
pub fn resolve(
    resources: &mut [Resource],
    vars: &[Var],
    config: &TransformerConfig,
    file: &Path,
) -> Result<(), BuildError> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut vals = Vec::new();
    for var in vars {
        let bound = resources
            .iter()
            .find(|r| r.ref_vars.contains(&var.name))
            .ok_or_else(|| BuildError::Resources {
                file: file.to_path_buf(),
                message: format!(
                    "var '{}' cannot be mapped to a field in the set of known resources",
                    var.describe()
                ),
            })?;
        let value = get_path(&bound.obj, &split_path(&var.field_path))
            .cloned()
            .ok_or_else(|| BuildError::Resources {
                file: file.to_path_buf(),
                message: format!(
                    "field specified in var '{}' not found in corresponding resource {}",
                    var.describe(),
                    bound.id_string()
                ),
            })?;
        // Only scalars can be substituted; Kustomize leaves the reference.
        if matches!(value, Value::Map(_) | Value::Seq(_) | Value::Null) {
            continue;
        }
        vals.push((var.name.clone(), value));
    }
    let mut specs = default_refs();
    specs.extend(config.var_refs.iter().cloned());
    for r in resources.iter_mut() {
        for s in &specs {
            if s.applies_to(r) {
                crate::fieldspec::visit_path(&mut r.obj, &s.path, false, &mut |v| {
                    substitute_at(v, &vals)
                })
                .map_err(|message| BuildError::Resources {
                    file: file.to_path_buf(),
                    message: format!(
                        "vars in {} at {}: {message}",
                        r.id_string(),
                        s.path.join("/")
                    ),
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals() -> Vec<(String, Value)> {
        vec![
            ("PORT".into(), Value::Int(8080)),
            ("HOST".into(), Value::Str("db".into())),
        ]
    }

    #[test]
    fn a_whole_reference_keeps_the_type() {
        assert_eq!(expand("$(PORT)", &vals()), Value::Int(8080));
        assert_eq!(
            expand("http://$(HOST):$(PORT)/", &vals()),
            Value::Str("http://db:8080/".into())
        );
    }

    #[test]
    fn escapes_and_unknown_references_stay() {
        assert_eq!(
            expand("$$(HOST) $(NOPE) $(HOST $x $", &vals()),
            Value::Str("$(HOST) $(NOPE) $(HOST $x $".into())
        );
    }
}
