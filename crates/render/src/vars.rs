//! Legacy `vars`: `$(NAME)` in known fields replaced by a field of a named
//! object, resolved once at the end of the build.

use crate::error::BuildError;
use crate::fieldspec::{FieldSpec, TransformerConfig, fs};
use crate::kustomization::KustomizationFile;
use crate::replace::{get_path, split_path};
use crate::resource::Resource;
use crate::yaml::Value;
use std::path::Path;

/// One declared var.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    kind: String,
    api_version: Option<String>,
    obj_name: String,
    namespace: Option<String>,
    field_path: String,
}

impl Var {
    pub fn parse(kust: &KustomizationFile, i: usize, v: &Value) -> Result<Var, BuildError> {
        let field = format!("vars[{i}]");
        let name = v
            .str_at(&["name"])
            .ok_or_else(|| kust.err(&field, "missing name"))?;
        let objref = v
            .get("objref")
            .ok_or_else(|| kust.err(&field, "missing objref"))?;
        Ok(Var {
            name: name.into(),
            kind: objref.str_at(&["kind"]).unwrap_or("").into(),
            api_version: objref.str_at(&["apiVersion"]).map(str::to_string),
            obj_name: objref.str_at(&["name"]).unwrap_or("").into(),
            namespace: objref.str_at(&["namespace"]).map(str::to_string),
            field_path: v
                .str_at(&["fieldref", "fieldpath"])
                .unwrap_or("metadata.name")
                .into(),
        })
    }
}

fn default_refs() -> Vec<FieldSpec> {
    let mut v = Vec::new();
    for (kind, prefix) in [
        ("Pod", "spec"),
        ("Deployment", "spec/template/spec"),
        ("ReplicaSet", "spec/template/spec"),
        ("DaemonSet", "spec/template/spec"),
        ("StatefulSet", "spec/template/spec"),
        ("Job", "spec/template/spec"),
        ("ReplicationController", "spec/template/spec"),
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ] {
        for p in [
            "containers/command",
            "containers/args",
            "containers/env/value",
            "initContainers/command",
            "initContainers/args",
            "initContainers/env/value",
            "volumes/nfs/server",
        ] {
            v.push(fs(kind, &format!("{prefix}/{p}"), false));
        }
    }
    v.extend([
        fs("Ingress", "spec/rules/host", false),
        fs("Ingress", "spec/tls/hosts", false),
        fs("Ingress", "spec/tls/secretName", false),
        fs("", "metadata/annotations", false),
        fs("", "metadata/labels", false),
        fs("PersistentVolume", "spec/nfs/server", false),
        fs(
            "StatefulSet",
            "spec/volumeClaimTemplates/spec/nfs/server",
            false,
        ),
        fs(
            "CronJob",
            "spec/jobTemplate/spec/template/volumes/nfs/server",
            false,
        ),
        fs("ConfigMap", "data", false),
        fs("Service", "spec/ports/targetPort", false),
    ]);
    v
}

fn substitute(v: &mut Value, vals: &[(String, Value)]) {
    match v {
        Value::Str(s) => {
            // A whole-string reference keeps the value's type.
            for (n, val) in vals {
                if *s == format!("$({n})") {
                    *v = val.clone();
                    return;
                }
            }
            for (n, val) in vals {
                let pat = format!("$({n})");
                if s.contains(&pat) {
                    *s = s.replace(&pat, &val.scalar_string().unwrap_or_default());
                }
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|i| substitute(i, vals)),
        Value::Map(m) => m.values_mut().for_each(|i| substitute(i, vals)),
        _ => {}
    }
}

/// Replaces `$(VAR)` references in all objects.
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
        let found: Vec<&Resource> = resources
            .iter()
            .filter(|r| {
                r.kind() == var.kind
                    && var
                        .api_version
                        .as_deref()
                        .is_none_or(|a| a == r.api_version())
                    && r.all_names().any(|n| n == var.obj_name)
                    && var
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| r.all_namespaces().any(|n| n == ns))
            })
            .collect();
        let r = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(BuildError::Resources {
                    file: file.to_path_buf(),
                    message: format!(
                        "var '{}' cannot be mapped to a field in the set of known resources",
                        var.name
                    ),
                });
            }
            _ => {
                return Err(BuildError::Resources {
                    file: file.to_path_buf(),
                    message: format!("unable to disambiguate var '{}'", var.name),
                });
            }
        };
        let v = get_path(&r.obj, &split_path(&var.field_path))
            .cloned()
            .ok_or_else(|| BuildError::Resources {
                file: file.to_path_buf(),
                message: format!("var '{}': field {} not found", var.name, var.field_path),
            })?;
        vals.push((var.name.clone(), v));
    }
    let mut specs = default_refs();
    specs.extend(config.var_refs.iter().cloned());
    for r in resources.iter_mut() {
        for s in &specs {
            if s.applies_to(r) {
                let _ = crate::fieldspec::visit_path(&mut r.obj, &s.path, false, &mut |v| {
                    substitute(v, &vals);
                    Ok(())
                });
            }
        }
    }
    Ok(())
}
