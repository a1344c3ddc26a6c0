//! `driftless tree kustomization|helmrelease NAME`: what a Kustomization
//! or HelmRelease applied (its inventory), as a tree that descends into the
//! Kustomizations and HelmReleases it applied.

use anyhow::Context as _;
use driftless_api::inventory::{ObjectId, ResourceInventory};
use driftless_api::{HelmRelease, Kustomization};
use serde::Serialize;

use crate::cluster::{Cluster, GlobalArgs, connect};
use crate::flux::fetch;
use crate::output::{Format, render, write_stdout};

const KUSTOMIZE_GROUP: &str = "kustomize.toolkit.fluxcd.io";
const HELM_GROUP: &str = "helm.toolkit.fluxcd.io";

#[derive(clap::Subcommand)]
pub enum Command {
    /// The objects a Kustomization applied.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless tree kustomization flux-system\n  driftless tree ks apps -o json"
    )]
    Kustomization(Args),
    /// The objects a HelmRelease applied.
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless tree helmrelease podinfo\n  driftless tree hr podinfo -n apps -o yaml"
    )]
    Helmrelease(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// The name of the Kustomization or HelmRelease.
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
    let cluster = connect(global).await?;
    let mut visited = Vec::new();
    let (tree, output) = match command {
        Command::Kustomization(args) => {
            let root: Kustomization = fetch(&cluster, &cluster.namespace, &args.name).await?;
            (
                kustomization_node(&cluster, &root, &mut visited).await?,
                args.output,
            )
        }
        Command::Helmrelease(args) => {
            let root: HelmRelease = fetch(&cluster, &cluster.namespace, &args.name).await?;
            (
                helm_release_node(&cluster, &root, &mut visited).await?,
                args.output,
            )
        }
    };
    let text = match output {
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
async fn kustomization_node(
    cluster: &Cluster,
    ks: &Kustomization,
    visited: &mut Vec<(String, String, String)>,
) -> anyhow::Result<Node> {
    let inventory = ks.status.as_ref().and_then(|s| s.inventory.as_ref());
    owner_node(
        cluster,
        "Kustomization",
        KUSTOMIZE_GROUP,
        &ks.metadata,
        inventory,
        visited,
    )
    .await
}

/// Builds the tree of `hr` (the objects of its current release).
async fn helm_release_node(
    cluster: &Cluster,
    hr: &HelmRelease,
    visited: &mut Vec<(String, String, String)>,
) -> anyhow::Result<Node> {
    let inventory = hr.status.as_ref().and_then(|s| s.inventory.as_ref());
    owner_node(
        cluster,
        "HelmRelease",
        HELM_GROUP,
        &hr.metadata,
        inventory,
        visited,
    )
    .await
}

async fn owner_node(
    cluster: &Cluster,
    kind: &str,
    group: &str,
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    inventory: Option<&ResourceInventory>,
    visited: &mut Vec<(String, String, String)>,
) -> anyhow::Result<Node> {
    let namespace = metadata.namespace.clone().unwrap_or_default();
    let name = metadata.name.clone().unwrap_or_default();
    visited.push((kind.to_owned(), namespace.clone(), name.clone()));
    let entries = inventory
        .map(ResourceInventory::object_ids)
        .transpose()
        .with_context(|| {
            format!("{kind} {namespace}/{name}: status.inventory has an invalid entry")
        })?
        .unwrap_or_default();
    let mut resources = Vec::new();
    for id in entries {
        let key = (id.kind.clone(), id.namespace.clone(), id.name.clone());
        let seen = visited.contains(&key);
        // A child that is gone or unreadable is still shown, as a leaf.
        let child = match (id.group.as_str(), id.kind.as_str()) {
            (KUSTOMIZE_GROUP, "Kustomization") if !seen => {
                match fetch::<Kustomization>(cluster, &id.namespace, &id.name).await {
                    Ok(child) => Box::pin(kustomization_node(cluster, &child, visited)).await?,
                    Err(_) => leaf(id),
                }
            }
            (HELM_GROUP, "HelmRelease") if !seen => {
                match fetch::<HelmRelease>(cluster, &id.namespace, &id.name).await {
                    Ok(child) => Box::pin(helm_release_node(cluster, &child, visited)).await?,
                    Err(_) => leaf(id),
                }
            }
            _ => leaf(id),
        };
        resources.push(child);
    }
    Ok(Node {
        kind: kind.to_string(),
        group: group.to_string(),
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
