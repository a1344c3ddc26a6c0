//! `driftless get sources git|oci|helm|chart|artifactgenerators|kustomizations|helmreleases|alert-providers|alerts|receivers|images …|all`:
//! status tables in flux's columns (NAME, the kind's status columns —
//! REVISION for most, LAST SCAN, IMAGE/TAG or LAST RUN for image
//! automation — SUSPENDED, READY, MESSAGE) plus AGE, or the objects
//! themselves with `-o json|yaml`.

use anyhow::Context as _;
use driftless_api::{
    Alert, ArtifactGenerator, GitRepository, HelmChart, HelmRelease, HelmRepository, ImagePolicy,
    ImageRepository, ImageUpdateAutomation, Kustomization, OCIRepository, Provider, Receiver,
    conditions,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::cluster::{Cluster, GlobalArgs, api_error, connect, is_not_found};
use crate::flux::{CliObject, fetch};
use crate::output::{Format, Table, age, render, write_stdout};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show sources.
    #[command(subcommand, after_help = "Examples:\n  driftless get sources git -A")]
    Sources(SourcesCommand),
    /// Show ArtifactGenerators and the ExternalArtifacts each generated.
    #[command(
        visible_alias = "ag",
        after_help = "Examples:\n  driftless get artifactgenerators\n  driftless get ag apps -o yaml"
    )]
    Artifactgenerators(Args),
    /// Show Kustomizations.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless get kustomizations\n  driftless get ks apps -o yaml\n  driftless get ks -A"
    )]
    Kustomizations(Args),
    /// Show HelmReleases.
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless get helmreleases\n  driftless get hr podinfo -o yaml\n  driftless get hr -A"
    )]
    Helmreleases(Args),
    /// Show Providers.
    #[command(after_help = "Examples:\n  driftless get alert-providers -A")]
    AlertProviders(Args),
    /// Show Alerts.
    #[command(after_help = "Examples:\n  driftless get alerts")]
    Alerts(Args),
    /// Show Receivers.
    #[command(
        after_help = "Examples:\n  driftless get receivers\n  driftless get receivers github -o yaml"
    )]
    Receivers(Args),
    /// Show image automation objects: ImageRepositories, ImagePolicies, ImageUpdateAutomations.
    #[command(
        subcommand,
        visible_alias = "image",
        after_help = "Examples:\n  driftless get images all -A\n  driftless get images policy podinfo -o yaml"
    )]
    Images(ImagesCommand),
    /// Show every source, Kustomization, HelmRelease and image automation object.
    #[command(after_help = "Examples:\n  driftless get all\n  driftless get all -A")]
    All(Args),
}

#[derive(clap::Subcommand)]
pub enum SourcesCommand {
    /// Show GitRepositories.
    #[command(
        after_help = "Examples:\n  driftless get sources git\n  driftless get sources git podinfo -o json"
    )]
    Git(Args),
    /// Show OCIRepositories.
    #[command(after_help = "Examples:\n  driftless get sources oci -A")]
    Oci(Args),
    /// Show HelmRepositories.
    #[command(after_help = "Examples:\n  driftless get sources helm")]
    Helm(Args),
    /// Show HelmCharts.
    #[command(after_help = "Examples:\n  driftless get sources chart -A")]
    Chart(Args),
}

#[derive(clap::Subcommand)]
pub enum ImagesCommand {
    /// Show every ImageRepository, ImagePolicy and ImageUpdateAutomation.
    #[command(
        after_help = "Examples:\n  driftless get images all\n  driftless get images all --all-namespaces"
    )]
    All(Args),
    /// Show ImageRepositories (LAST SCAN is when the tags were last listed).
    #[command(
        after_help = "Examples:\n  driftless get images repository\n  driftless get images repository podinfo -o yaml"
    )]
    Repository(Args),
    /// Show ImagePolicies and the image each selected.
    #[command(after_help = "Examples:\n  driftless get images policy -A")]
    Policy(Args),
    /// Show ImageUpdateAutomations (LAST RUN is when the automation last ran).
    #[command(after_help = "Examples:\n  driftless get images update")]
    Update(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// Show only this object.
    name: Option<String>,
    /// List the objects of every namespace.
    #[arg(short = 'A', long, conflicts_with = "name")]
    all_namespaces: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    match command {
        Command::Sources(SourcesCommand::Git(args)) => show::<GitRepository>(&cluster, &args).await,
        Command::Sources(SourcesCommand::Oci(args)) => show::<OCIRepository>(&cluster, &args).await,
        Command::Sources(SourcesCommand::Helm(args)) => {
            show::<HelmRepository>(&cluster, &args).await
        }
        Command::Sources(SourcesCommand::Chart(args)) => show::<HelmChart>(&cluster, &args).await,
        Command::Artifactgenerators(args) => show::<ArtifactGenerator>(&cluster, &args).await,
        Command::Kustomizations(args) => show::<Kustomization>(&cluster, &args).await,
        Command::Helmreleases(args) => show::<HelmRelease>(&cluster, &args).await,
        Command::AlertProviders(args) => show::<Provider>(&cluster, &args).await,
        Command::Alerts(args) => show::<Alert>(&cluster, &args).await,
        Command::Receivers(args) => show::<Receiver>(&cluster, &args).await,
        Command::Images(ImagesCommand::Repository(args)) => {
            show::<ImageRepository>(&cluster, &args).await
        }
        Command::Images(ImagesCommand::Policy(args)) => show::<ImagePolicy>(&cluster, &args).await,
        Command::Images(ImagesCommand::Update(args)) => {
            show::<ImageUpdateAutomation>(&cluster, &args).await
        }
        Command::Images(ImagesCommand::All(args)) => {
            let sections = vec![
                section::<ImageRepository>(&cluster, &args).await?,
                section::<ImagePolicy>(&cluster, &args).await?,
                section::<ImageUpdateAutomation>(&cluster, &args).await?,
            ];
            show_all(
                &cluster,
                &args,
                sections,
                "ImageRepositories, ImagePolicies or ImageUpdateAutomations",
            )
        }
        Command::All(args) => {
            let sections = vec![
                section::<GitRepository>(&cluster, &args).await?,
                section::<OCIRepository>(&cluster, &args).await?,
                section::<HelmRepository>(&cluster, &args).await?,
                section::<HelmChart>(&cluster, &args).await?,
                section_if_installed::<ArtifactGenerator>(&cluster, &args).await?,
                section::<Kustomization>(&cluster, &args).await?,
                section::<HelmRelease>(&cluster, &args).await?,
                section_if_installed::<ImageRepository>(&cluster, &args).await?,
                section_if_installed::<ImagePolicy>(&cluster, &args).await?,
                section_if_installed::<ImageUpdateAutomation>(&cluster, &args).await?,
            ];
            show_all(
                &cluster,
                &args,
                sections,
                "sources, Kustomizations, HelmReleases or image automation objects",
            )
        }
    }
}

/// One kind's part of an `all` listing: its table (rows named `kind/name`)
/// and its objects for `-o json|yaml`.
struct Section {
    table: Table,
    items: Vec<serde_json::Value>,
}

async fn section<K: CliObject>(cluster: &Cluster, args: &Args) -> anyhow::Result<Section> {
    let items = list::<K>(cluster, args).await?;
    Ok(Section {
        table: table(&items, args.all_namespaces, true),
        items: items
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .context("internal error: cannot serialize; please report this")?,
    })
}

/// [`section`], or an empty one when the cluster has no CRD for the kind
/// (driftless installed before the kind existed), as `flux get all` skips
/// kinds it cannot list.
async fn section_if_installed<K: CliObject>(
    cluster: &Cluster,
    args: &Args,
) -> anyhow::Result<Section> {
    match section::<K>(cluster, args).await {
        Err(err) if err.downcast_ref::<kube::Error>().is_some_and(is_not_found) => Ok(Section {
            table: table::<K>(&[], args.all_namespaces, true),
            items: Vec::new(),
        }),
        other => other,
    }
}

/// Prints the non-empty tables one after the other, or all the objects as
/// one List; says so on stderr when there is nothing, naming `what`.
fn show_all(
    cluster: &Cluster,
    args: &Args,
    sections: Vec<Section>,
    what: &str,
) -> anyhow::Result<()> {
    if args.output != Format::Table {
        let items: Vec<serde_json::Value> = sections.into_iter().flat_map(|s| s.items).collect();
        return write_stdout(&render(
            &without_managed_fields(json!({"apiVersion": "v1", "kind": "List", "items": items})),
            args.output,
        )?);
    }
    let mut text = String::new();
    for section in sections.iter().filter(|s| !s.table.is_empty()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&section.table.render());
    }
    if text.is_empty() {
        eprintln!("no {what} found{}", where_(cluster, args));
        return Ok(());
    }
    write_stdout(&text)
}

fn where_(cluster: &Cluster, args: &Args) -> String {
    if args.all_namespaces {
        String::new()
    } else {
        format!(" in {} namespace", cluster.namespace)
    }
}

async fn list<K: CliObject>(cluster: &Cluster, args: &Args) -> anyhow::Result<Vec<K>> {
    let api: Api<K> = if args.all_namespaces {
        Api::all(cluster.client.clone())
    } else {
        Api::namespaced(cluster.client.clone(), &cluster.namespace)
    };
    let mut items = api
        .list(&ListParams::default())
        .await
        .map_err(|err| api_error(err, &cluster.server))
        .with_context(|| {
            format!(
                "cannot list {} objects; are the CRDs installed? see `driftless check`",
                K::kind(&())
            )
        })?
        .items;
    items.sort_by_key(|o| (o.namespace().unwrap_or_default(), o.name_any()));
    Ok(items)
}

async fn show<K: CliObject>(cluster: &Cluster, args: &Args) -> anyhow::Result<()> {
    let items: Vec<K> = match &args.name {
        Some(name) => {
            vec![fetch(cluster, &cluster.namespace, name).await?]
        }
        None => list(cluster, args).await?,
    };
    if args.output != Format::Table {
        let value = match (&args.name, items.first()) {
            (Some(_), Some(object)) => serde_json::to_value(object),
            _ => serde_json::to_value(&items)
                .map(|items| json!({"apiVersion": "v1", "kind": "List", "items": items})),
        }
        .context("internal error: cannot serialize; please report this")?;
        return write_stdout(&render(&without_managed_fields(value), args.output)?);
    }
    if items.is_empty() {
        eprintln!("no {} objects found{}", K::kind(&()), where_(cluster, args));
        return Ok(());
    }
    write_stdout(&table(&items, args.all_namespaces, false).render())
}

/// The status table; `prefixed` names rows `kind/name`, as `flux get all` does.
fn table<K: CliObject>(items: &[K], all_namespaces: bool, prefixed: bool) -> Table {
    let mut header = vec!["NAME"];
    header.extend(K::STATUS_COLUMNS);
    if K::SHOWS_SUSPENDED {
        header.push("SUSPENDED");
    }
    if K::RECONCILED {
        header.extend(["READY", "MESSAGE"]);
    }
    header.push("AGE");
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut table = Table::new(&header);
    for object in items {
        let ready = conditions::find(object.status_conditions(), conditions::types::READY);
        let name = if prefixed {
            format!("{}/{}", K::kind(&()).to_lowercase(), object.name_any())
        } else {
            object.name_any()
        };
        let mut row = vec![name];
        row.extend(object.status_cells());
        if K::SHOWS_SUSPENDED {
            row.push(capitalised(object.suspended()));
        }
        if K::RECONCILED {
            row.push(ready.map_or("Unknown".to_string(), |c| c.status.clone()));
            row.push(ready.map(|c| one_line(&c.message)).unwrap_or_default());
        }
        row.push(age(object.meta().creation_timestamp.as_ref()));
        if all_namespaces {
            row.insert(0, object.namespace().unwrap_or_default());
        }
        table.row(row);
    }
    table
}

/// Drops `metadata.managedFields` (of an object or a List's items), as
/// kubectl does by default: noise to a reader.
fn without_managed_fields(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(items) = value.get_mut("items").and_then(|i| i.as_array_mut()) {
        for item in items {
            if let Some(meta) = item.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                meta.remove("managedFields");
            }
        }
    }
    if let Some(meta) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    value
}

/// Go's `%t` capitalised, as flux prints booleans in tables.
fn capitalised(value: bool) -> String {
    if value { "True" } else { "False" }.to_string()
}

/// Condition messages may span lines; a table row must not.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
