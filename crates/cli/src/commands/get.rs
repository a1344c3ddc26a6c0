//! `driftless get sources git|oci|helm|chart|kustomizations|helmreleases|alert-providers|alerts|receivers|all`: status tables in flux's
//! columns (NAME, REVISION, SUSPENDED, READY, MESSAGE) plus AGE, or the
//! objects themselves with `-o json|yaml`.

use anyhow::Context as _;
use driftless_api::{
    Alert, GitRepository, HelmChart, HelmRelease, HelmRepository, Kustomization, OCIRepository,
    Provider, Receiver, conditions,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::cluster::{Cluster, GlobalArgs, api_error, connect};
use crate::flux::{CliObject, fetch};
use crate::output::{Format, Table, age, render, write_stdout};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show sources.
    #[command(subcommand, after_help = "Examples:\n  driftless get sources git -A")]
    Sources(SourcesCommand),
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
    /// Show every source and Kustomization.
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
        Command::Kustomizations(args) => show::<Kustomization>(&cluster, &args).await,
        Command::Helmreleases(args) => show::<HelmRelease>(&cluster, &args).await,
        Command::AlertProviders(args) => show::<Provider>(&cluster, &args).await,
        Command::Alerts(args) => show::<Alert>(&cluster, &args).await,
        Command::Receivers(args) => show::<Receiver>(&cluster, &args).await,
        Command::All(args) => {
            let mut text = String::new();
            let repos = list::<GitRepository>(&cluster, &args).await?;
            let ocis = list::<OCIRepository>(&cluster, &args).await?;
            let helm_repos = list::<HelmRepository>(&cluster, &args).await?;
            let charts = list::<HelmChart>(&cluster, &args).await?;
            let kss = list::<Kustomization>(&cluster, &args).await?;
            let releases = list::<HelmRelease>(&cluster, &args).await?;
            if args.output != Format::Table {
                let items: Vec<serde_json::Value> = repos
                    .iter()
                    .map(serde_json::to_value)
                    .chain(ocis.iter().map(serde_json::to_value))
                    .chain(helm_repos.iter().map(serde_json::to_value))
                    .chain(charts.iter().map(serde_json::to_value))
                    .chain(kss.iter().map(serde_json::to_value))
                    .chain(releases.iter().map(serde_json::to_value))
                    .collect::<Result<_, _>>()
                    .context("internal error: cannot serialize; please report this")?;
                return write_stdout(&render(
                    &without_managed_fields(
                        json!({"apiVersion": "v1", "kind": "List", "items": items}),
                    ),
                    args.output,
                )?);
            }
            for table in [
                table(&repos, args.all_namespaces, true),
                table(&ocis, args.all_namespaces, true),
                table(&helm_repos, args.all_namespaces, true),
                table(&charts, args.all_namespaces, true),
                table(&kss, args.all_namespaces, true),
                table(&releases, args.all_namespaces, true),
            ] {
                if !table.is_empty() {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&table.render());
                }
            }
            if text.is_empty() {
                eprintln!(
                    "no sources, Kustomizations or HelmReleases found{}",
                    where_(&cluster, &args)
                );
                return Ok(());
            }
            write_stdout(&text)
        }
    }
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
    if K::HAS_REVISION {
        header.push("REVISION");
    }
    header.push("SUSPENDED");
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
        if K::HAS_REVISION {
            row.push(object.revision().unwrap_or_default().to_string());
        }
        row.push(capitalised(object.suspended()));
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
