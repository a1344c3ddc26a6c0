//! `driftless tree kustomization NAME`: what a Kustomization applied (its
//! inventory), as a tree that descends into the Kustomizations it applied.

use anyhow::Context as _;
use driftless_api::Kustomization;
use driftless_api::inventory::ObjectId;
use serde::Serialize;

use crate::cluster::{Cluster, GlobalArgs, connect};
use crate::flux::fetch;
use crate::output::{Format, render, write_stdout};

const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";

#[derive(clap::Subcommand)]
pub enum Command {
    /// The objects a Kustomization applied.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless tree kustomization flux-system\n  driftless tree ks apps -o json"
    )]
    Kustomization(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// The name of the Kustomization.
    name: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    output: Format,
}

/// One object and, for a Kustomization, what it applied.
#[derive(Serialize)]
struct Node {
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    namespace: String,
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<Node>,
}

impl Node {
    fn label(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

pub async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<()> {
    let Command::Kustomization(args) = command;
    let cluster = connect(global).await?;
    let root: Kustomization = fetch(&cluster, &cluster.namespace, &args.name).await?;
    let mut visited = Vec::new();
    let tree = node(&cluster, &root, &mut visited).await?;
    let text = match args.output {
        Format::Table => {
            let mut text = format!("{}\n", tree.label());
            print_children(&tree, "", &mut text);
            text
        }
        format => render(&tree, format)?,
    };
    write_stdout(&text)
}

/// Builds the tree of `ks`; `visited` stops cycles (a Kustomization that
/// lists itself, or two that list each other).
async fn node(
    cluster: &Cluster,
    ks: &Kustomization,
    visited: &mut Vec<(String, String)>,
) -> anyhow::Result<Node> {
    let namespace = ks.metadata.namespace.clone().unwrap_or_default();
    let name = ks.metadata.name.clone().unwrap_or_default();
    visited.push((namespace.clone(), name.clone()));
    let entries = ks
        .status
        .as_ref()
        .and_then(|s| s.inventory.as_ref())
        .map(driftless_api::inventory::ResourceInventory::object_ids)
        .transpose()
        .with_context(|| {
            format!("Kustomization {namespace}/{name}: status.inventory has an invalid entry")
        })?
        .unwrap_or_default();
    let mut resources = Vec::new();
    for id in entries {
        let key = (id.namespace.clone(), id.name.clone());
        let child =
            if id.group == KUSTOMIZE_GROUP && id.kind == "Kustomization" && !visited.contains(&key)
            {
                // A child that is gone or unreadable is still shown, as a leaf.
                match fetch::<Kustomization>(cluster, &id.namespace, &id.name).await {
                    Ok(child) => Box::pin(node(cluster, &child, visited)).await?,
                    Err(_) => leaf(id),
                }
            } else {
                leaf(id)
            };
        resources.push(child);
    }
    Ok(Node {
        kind: "Kustomization".to_string(),
        group: KUSTOMIZE_GROUP.to_string(),
        namespace,
        name,
        resources,
    })
}

fn leaf(id: ObjectId) -> Node {
    Node {
        kind: id.kind,
        group: id.group,
        namespace: id.namespace,
        name: id.name,
        resources: Vec::new(),
    }
}

fn print_children(node: &Node, prefix: &str, out: &mut String) {
    let last = node.resources.len().saturating_sub(1);
    for (i, child) in node.resources.iter().enumerate() {
        let (branch, indent) = if i == last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push_str(&format!("{prefix}{branch}{}\n", child.label()));
        print_children(child, &format!("{prefix}{indent}"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_node(kind: &str, namespace: &str, name: &str) -> Node {
        Node {
            kind: kind.into(),
            group: String::new(),
            namespace: namespace.into(),
            name: name.into(),
            resources: vec![],
        }
    }

    #[test]
    fn children_are_drawn_with_branches() {
        let mut child = leaf_node("Kustomization", "flux-system", "infra");
        child.resources.push(leaf_node("Namespace", "", "infra"));
        let mut root = leaf_node("Kustomization", "flux-system", "apps");
        root.resources = vec![child, leaf_node("Deployment", "apps", "web")];
        let mut text = String::new();
        print_children(&root, "", &mut text);
        assert_eq!(
            text,
            "├── Kustomization/flux-system/infra\n│   └── Namespace/infra\n└── Deployment/apps/web\n"
        );
    }
}
