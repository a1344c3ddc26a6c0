//! `driftless diff kustomization NAME --path DIR` and `diff helmrelease
//! NAME [--chart PATH]`: what applying a local directory as that
//! Kustomization (or a HelmRelease with its source's chart, or a local
//! one) would change, from a server-side dry run
//! (so defaults, webhooks and field ownership are the server's), as a
//! readable diff. Secret values are masked. Exit code 1 when anything would
//! change, as `flux diff` and `kubectl diff` do.

use std::path::PathBuf;

use anyhow::Context as _;
use driftless_api::Kustomization;
use driftless_apply::{Action, Applier, subject};
use serde_json::Value;

use crate::cluster::{GlobalArgs, connect};
use crate::flux::fetch;
use crate::output::{Reported, Style};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Diff a local directory against what the Kustomization applied.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless diff kustomization apps --path ./clusters/prod/apps\n  driftless diff ks apps --path ./apps && echo no changes"
    )]
    Kustomization {
        /// The Kustomization whose settings (targetNamespace, patches, substitution, ownership) apply.
        name: String,
        /// The local directory to render in place of the Kustomization's source path.
        #[arg(long, value_name = "DIR")]
        path: PathBuf,
        /// Decrypt SOPS data with this age identity file (*.agekey) or
        /// OpenPGP secret key (*.asc), as spec.decryption would; repeatable.
        #[arg(long, value_name = "FILE")]
        decrypt_key_file: Vec<PathBuf>,
    },
    /// Diff what a HelmRelease would apply — with the chart its source has
    /// now, or a local chart given with --chart — against the cluster
    /// (beyond Flux: what the next upgrade would change).
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless diff helmrelease podinfo -n apps\n  driftless diff helmrelease podinfo --chart ./charts/podinfo -n apps"
    )]
    Helmrelease {
        /// The HelmRelease whose values and settings apply.
        name: String,
        /// Render this chart directory or .tgz in place of the source's
        /// chart (needed where the controller's artifact URL does not resolve).
        #[arg(long, value_name = "PATH")]
        chart: Option<PathBuf>,
    },
}

/// Fields the server owns; showing them would only be noise.
const NOISE: [&str; 5] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
];

pub async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let (diffs, pruned) = match command {
        Command::Kustomization {
            name,
            path,
            decrypt_key_file,
        } => {
            let keys = crate::keys::keyring(&decrypt_key_file)?;
            let ks: Kustomization = fetch(&cluster, &cluster.namespace, &name).await?;
            let objects = driftless_controller::build_local(&ks, &cluster.client, &path, keys)
                .await
                .map_err(|message| anyhow::anyhow!(message))
                .with_context(|| {
                    format!(
                        "cannot build {} as Kustomization {}/{name}",
                        path.display(),
                        cluster.namespace
                    )
                })?;
            let options = driftless_controller::apply_options(
                &ks,
                driftless_api::managers::KUSTOMIZE_CONTROLLER,
            );
            let diffs = Applier::new(cluster.client.clone(), options)
                .diff(objects)
                .await
                .context("the server-side dry run failed")?;
            let inventory = ks
                .spec
                .prune
                .then(|| ks.status.and_then(|s| s.inventory))
                .flatten();
            (diffs, inventory)
        }
        Command::Helmrelease { name, chart } => {
            let (hr, objects) =
                super::build::helm_release_objects(&cluster, &name, chart.as_deref()).await?;
            let diffs = Applier::new(
                cluster.client.clone(),
                driftless_controller::helm_apply_options(&hr),
            )
            .diff(objects)
            .await
            .context("the server-side dry run failed")?;
            (diffs, hr.status.and_then(|s| s.inventory))
        }
    };
    let style = Style::stdout();
    let mut changed = false;
    let mut out = String::new();
    for diff in &diffs {
        match &diff.action {
            Action::Created => {
                changed = true;
                out.push_str(&format!("► {} created\n", subject(&diff.id)));
            }
            Action::Configured => {
                changed = true;
                out.push_str(&format!("► {} drifted\n", subject(&diff.id)));
                let live = diff.live.clone().map_or(Value::Null, clean);
                let merged = clean(diff.merged.clone());
                let (live, merged) = mask_secret(&diff.id.kind, live, merged);
                out.push_str(&unified(&yaml(&live)?, &yaml(&merged)?, style));
            }
            Action::Unchanged | Action::Deleted | Action::Skipped(_) => {}
        }
    }
    let applied: std::collections::HashSet<String> =
        diffs.iter().map(|d| d.id.to_string()).collect();
    for entry in pruned.iter().flat_map(|i| &i.entries) {
        if !applied.contains(&entry.id)
            && let Ok(id) = entry.object_id()
        {
            changed = true;
            out.push_str(&format!("► {} deleted\n", subject(&id)));
        }
    }
    crate::output::write_stdout(&out)?;
    if changed {
        Err(Reported.into())
    } else {
        Ok(())
    }
}

fn clean(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in NOISE {
            meta.remove(field);
        }
    }
    if let Some(fields) = object.as_object_mut() {
        fields.remove("status");
    }
    object
}

/// Secret values never reach a terminal: equal values show as `***`,
/// different ones as `*** (before)` / `*** (after)`. That includes the copy
/// `kubectl apply` (client-side) keeps of the whole Secret in an annotation.
fn mask_secret(kind: &str, mut live: Value, mut merged: Value) -> (Value, Value) {
    if kind != "Secret" {
        return (live, merged);
    }
    let pointer = "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration";
    let before = live.pointer(pointer).cloned();
    let after = merged.pointer(pointer).cloned();
    for (object, tag) in [(&mut live, "before"), (&mut merged, "after")] {
        if let Some(slot) = object.pointer_mut(pointer) {
            *slot = Value::String(if before == after {
                "***".to_owned()
            } else {
                format!("*** ({tag})")
            });
        }
    }
    for field in ["data", "stringData"] {
        let before = live
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let after = merged
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let masked = |map: &serde_json::Map<String, Value>,
                      other: &serde_json::Map<String, Value>,
                      tag: &str|
         -> Value {
            map.iter()
                .map(|(k, v)| {
                    let text = if other.get(k) == Some(v) {
                        "***".to_owned()
                    } else {
                        format!("*** ({tag})")
                    };
                    (k.clone(), Value::String(text))
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        if let Some(slot) = live.get_mut(field) {
            *slot = masked(&before, &after, "before");
        }
        if let Some(slot) = merged.get_mut(field) {
            *slot = masked(&after, &before, "after");
        }
    }
    (live, merged)
}

fn yaml(value: &Value) -> anyhow::Result<String> {
    serde_saphyr::to_string(value).context("cannot print the object as YAML")
}

/// A unified diff of two YAML texts, three lines of context.
fn unified(before: &str, after: &str, style: Style) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let line = change.to_string_lossy();
                let line = line.trim_end_matches('\n');
                match change.tag() {
                    similar::ChangeTag::Delete => {
                        out.push_str(&style.paint("31", &format!("-{line}")));
                    }
                    similar::ChangeTag::Insert => {
                        out.push_str(&style.paint("32", &format!("+{line}")));
                    }
                    similar::ChangeTag::Equal => out.push_str(&format!(" {line}")),
                }
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked_but_changes_show() {
        let live = serde_json::json!({"kind": "Secret", "data": {"a": "eA==", "b": "eQ=="}});
        let merged = serde_json::json!({"kind": "Secret", "data": {"a": "eA==", "b": "eg=="}});
        let (live, merged) = mask_secret("Secret", live, merged);
        assert_eq!(
            live["data"],
            serde_json::json!({"a": "***", "b": "*** (before)"})
        );
        assert_eq!(
            merged["data"],
            serde_json::json!({"a": "***", "b": "*** (after)"})
        );
    }

    /// Argo CD's CVE-2025-23216 class: a Secret applied by `kubectl apply`
    /// carries its data again in an annotation, which must not print either.
    #[test]
    fn the_last_applied_copy_of_a_secret_is_masked_too() {
        let annotated = |value: &str| {
            let copy = serde_json::json!({"kind": "Secret", "stringData": {"password": value}});
            serde_json::json!({"kind": "Secret", "metadata": {"annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": copy.to_string()
            }}, "stringData": {"password": value}})
        };
        let (live, merged) = mask_secret(
            "Secret",
            annotated("hunter2-before"),
            annotated("hunter2-after"),
        );
        let printed = format!(
            "{}{}",
            yaml(&live).expect("yaml"),
            yaml(&merged).expect("yaml")
        );
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("*** (before)") && printed.contains("*** (after)"),
            "{printed}"
        );
        let (live, _) = mask_secret("Secret", annotated("same"), annotated("same"));
        assert_eq!(
            live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "***"
        );
    }

    #[test]
    fn the_diff_marks_changed_lines() {
        let text = unified("a: 1\nb: 2\n", "a: 1\nb: 3\n", Style::stdout());
        assert!(
            text.contains("-b: 2\n+b: 3\n") && text.contains(" a: 1\n"),
            "{text}"
        );
    }
}
