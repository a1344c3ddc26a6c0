//! Which subcharts take part, and under what name: Helm's
//! `ProcessDependencies`. A `dependencies` entry picks the vendored chart of
//! its name whose version meets its constraint, renames it to its `alias`,
//! and is switched off by `tags` (all false) or its `condition` (the first
//! comma-separated path that resolves to a bool); `import-values` then lift
//! values from a subchart into its parent (a string names the child's
//! `exports.<name>`, a `{child, parent}` map copies a table).
//!
//! Charts in `charts/` that no entry names stay in. This module rewrites the
//! chart tree in place and reads nothing but its values.

use driftless_render::yaml::{Map, Value};

use crate::chart::Chart;
use crate::coalesce::{Import, merge_with_imports};
use crate::error::ChartError;
use crate::semver::satisfies;
use crate::values::{coalesce_values, path_value};

/// Applies conditions, tags, aliases and import-values to `chart` for the
/// user values `user`.
///
/// # Errors
/// A dependency listed in Chart.yaml that `charts/` does not hold, or
/// values that cannot be coalesced.
pub fn process(chart: &mut Chart, user: &Map) -> Result<(), ChartError> {
    check_present(chart)?;
    enable(chart, user, "")?;
    import_values_recursive(chart)
}

/// Helm's `CheckDependencies`: every entry must have its chart vendored.
fn check_present(chart: &Chart) -> Result<(), ChartError> {
    let missing: Vec<&str> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|d| !chart.dependencies.iter().any(|c| c.name() == d.name))
        .map(|d| d.name.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ChartError::Dependency {
            chart: chart.name().to_string(),
            message: format!(
                "found in Chart.yaml, but missing in charts/ directory: {}; run `helm dependency build` and vendor the charts",
                missing.join(", ")
            ),
        })
    }
}

fn enable(chart: &mut Chart, values: &Map, path: &str) -> Result<(), ChartError> {
    if !chart.metadata.declares_dependencies {
        return Ok(());
    }
    let existing = std::mem::take(&mut chart.dependencies);
    let mut kept: Vec<Chart> = existing
        .iter()
        .filter(|c| {
            !chart
                .metadata
                .dependencies
                .iter()
                .any(|req| c.name() == req.name && satisfies(&req.version, &c.metadata.version))
        })
        .cloned()
        .collect();
    for req in &mut chart.metadata.dependencies {
        if let Some(found) = existing
            .iter()
            .find(|c| c.name() == req.name && satisfies(&req.version, &c.metadata.version))
        {
            let mut copy = found.clone();
            if !req.alias.is_empty() {
                copy.metadata.name.clone_from(&req.alias);
            }
            kept.push(copy);
        }
        if !req.alias.is_empty() {
            req.name.clone_from(&req.alias);
        }
    }
    chart.dependencies = kept;
    for req in &mut chart.metadata.dependencies {
        req.enabled = true;
    }
    let cvals = coalesce_values(chart, values)?;
    apply_tags(chart, &cvals);
    apply_conditions(chart, &cvals, path);
    let disabled: Vec<String> = chart
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    chart
        .dependencies
        .retain(|c| !disabled.iter().any(|d| d == c.name()));
    chart
        .metadata
        .dependencies
        .retain(|r| !disabled.contains(&r.name));
    for sub in &mut chart.dependencies {
        let sub_path = format!("{path}{}.", sub.name());
        enable(sub, &cvals, &sub_path)?;
    }
    Ok(())
}

fn apply_tags(chart: &mut Chart, cvals: &Map) {
    let Some(tags) = cvals.get("tags").and_then(Value::as_map) else {
        return;
    };
    for req in &mut chart.metadata.dependencies {
        let (mut any_true, mut any_false) = (false, false);
        for tag in &req.tags {
            match tags.get(tag) {
                Some(Value::Bool(true)) => any_true = true,
                Some(Value::Bool(false)) => any_false = true,
                _ => {}
            }
        }
        req.enabled = any_true || !any_false;
    }
}

fn apply_conditions(chart: &mut Chart, cvals: &Map, path: &str) {
    for req in &mut chart.metadata.dependencies {
        for condition in req.condition.trim().split(',') {
            if condition.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{path}{condition}")) {
                req.enabled = *b;
                break;
            }
        }
    }
}

fn import_values_recursive(chart: &mut Chart) -> Result<(), ChartError> {
    for sub in &mut chart.dependencies {
        import_values_recursive(sub)?;
    }
    import_values(chart)
}

/// Helm's `processImportValues` (merge mode): the chart's values become its
/// merged tree with imported tables under them.
fn import_values(chart: &mut Chart) -> Result<(), ChartError> {
    if !chart.metadata.declares_dependencies {
        return Ok(());
    }
    let mut imports = Vec::new();
    for req in &mut chart.metadata.dependencies {
        let mut rewritten = Vec::new();
        for entry in &req.import_values {
            let (child, parent) = match entry {
                Value::Map(m) => (go_sprint(m.get("child")), go_sprint(m.get("parent"))),
                Value::Str(export) => (format!("exports.{export}"), ".".to_owned()),
                _ => continue,
            };
            rewritten.push(child_parent(&child, &parent));
            imports.push(Import {
                from: format!("{}.{child}", req.name),
                to: parent,
            });
        }
        req.import_values = rewritten;
    }
    chart.values = merge_with_imports(chart, &imports)?;
    Ok(())
}

fn child_parent(child: &str, parent: &str) -> Value {
    let mut m = Map::new();
    m.insert("child".into(), Value::Str(child.to_string()));
    m.insert("parent".into(), Value::Str(parent.to_string()));
    Value::Map(m)
}

/// `fmt.Sprintf("%v", x)` for the scalars an import-values entry holds.
fn go_sprint(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "<nil>".into(),
        Some(v) => v.scalar_string().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{Dependency, Metadata};
    use crate::values::load_values;

    fn chart(name: &str, values: &str) -> Chart {
        Chart {
            metadata: Metadata {
                name: name.into(),
                version: "1.0.0".into(),
                api_version: "v2".into(),
                ..Metadata::default()
            },
            values: load_values(values).unwrap(),
            ..Chart::default()
        }
    }

    fn parent_with(dep: Dependency, sub_values: &str) -> Chart {
        let mut parent = chart("parent", "sub:\n  enabled: false\n");
        parent.metadata.dependencies.push(dep);
        parent.metadata.declares_dependencies = true;
        parent.dependencies.push(chart("sub", sub_values));
        parent
    }

    #[test]
    fn condition_disables_and_user_values_enable() {
        let dep = Dependency {
            name: "sub".into(),
            condition: "sub.enabled".into(),
            ..Dependency::default()
        };
        let mut off = parent_with(dep.clone(), "x: 1\n");
        process(&mut off, &Map::new()).unwrap();
        assert!(off.dependencies.is_empty());
        let mut on = parent_with(dep, "x: 1\n");
        process(&mut on, &load_values("sub:\n  enabled: true\n").unwrap()).unwrap();
        assert_eq!(on.dependencies.len(), 1);
    }

    #[test]
    fn alias_renames_and_tags_disable() {
        let dep = Dependency {
            name: "sub".into(),
            version: "^1.0.0".into(),
            alias: "other".into(),
            tags: vec!["extra".into()],
            ..Dependency::default()
        };
        // Without a version the entry matches no chart (Masterminds refuses
        // an empty constraint): the vendored chart stays under its own name.
        let mut c = parent_with(
            Dependency {
                version: String::new(),
                ..dep.clone()
            },
            "",
        );
        process(&mut c, &Map::new()).unwrap();
        assert_eq!(c.dependencies[0].name(), "sub");
        let mut c = parent_with(dep.clone(), "");
        process(&mut c, &Map::new()).unwrap();
        assert_eq!(c.dependencies[0].name(), "other");
        let mut c = parent_with(dep, "");
        process(&mut c, &load_values("tags:\n  extra: false\n").unwrap()).unwrap();
        assert!(c.dependencies.is_empty());
    }

    #[test]
    fn import_values_both_forms() {
        let dep = Dependency {
            name: "sub".into(),
            import_values: vec![
                Value::Str("data".into()),
                Value::Map(load_values("child: conf\nparent: imported\n").unwrap()),
            ],
            ..Dependency::default()
        };
        let mut c = parent_with(dep, "exports:\n  data:\n    a: 1\nconf:\n  b: 2\n");
        process(&mut c, &Map::new()).unwrap();
        assert_eq!(c.values.get("a"), Some(&Value::Float(1.0)));
        assert_eq!(
            path_value(&c.values, "imported.b"),
            Some(&Value::Float(2.0))
        );
    }

    /// Importing `a` at the top and again at `b.c` puts `a` inside itself
    /// (`a.b.c` is `a`): Helm's copy recurses until its stack overflows;
    /// ours fails the render naming the cause.
    #[test]
    fn imports_that_put_a_table_inside_itself_fail_instead_of_recursing() {
        let dep = Dependency {
            name: "sub".into(),
            import_values: vec![
                Value::Map(load_values("child: a\nparent: .\n").unwrap()),
                Value::Map(load_values("child: a\nparent: b.c\n").unwrap()),
            ],
            ..Dependency::default()
        };
        let mut c = parent_with(dep, "a:\n  b:\n    x: 1\n");
        let e = process(&mut c, &Map::new()).unwrap_err().to_string();
        assert!(e.contains("import-values put a table inside itself"), "{e}");
    }

    #[test]
    fn missing_dependency_is_an_error() {
        let mut c = chart("parent", "");
        c.metadata.dependencies.push(Dependency {
            name: "absent".into(),
            ..Dependency::default()
        });
        let e = process(&mut c, &Map::new()).unwrap_err().to_string();
        assert!(e.contains("missing in charts/"), "{e}");
    }
}
