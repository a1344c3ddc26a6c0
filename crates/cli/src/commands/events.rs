//! `driftless events`: the core/v1 Events of a namespace, or of one object
//! with `--for Kind/name`, oldest first; `--watch` keeps printing new ones.

use anyhow::{Context as _, bail};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;

use crate::cluster::{GlobalArgs, api_error, connect};
use crate::output::{Table, age, write_stdout};

#[derive(clap::Args)]
pub struct Args {
    /// Only the events of this object: <Kind>/<name>, e.g. Kustomization/apps.
    #[arg(long = "for", value_name = "KIND/NAME", value_parser = parse_for)]
    for_: Option<(String, String)>,
    /// The events of every namespace.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
    /// Keep printing new events until interrupted.
    #[arg(short, long)]
    watch: bool,
}

fn parse_for(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {
            Ok((kind.to_string(), name.to_string()))
        }
        _ => Err(format!(
            "`{text}` is not an object; write <Kind>/<name>, e.g. Kustomization/apps"
        )),
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let api: Api<Event> = if args.all_namespaces {
        Api::all(cluster.client.clone())
    } else {
        Api::namespaced(cluster.client.clone(), &cluster.namespace)
    };
    let wanted = |event: &Event| match &args.for_ {
        None => true,
        Some((kind, name)) => {
            event
                .involved_object
                .kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case(kind))
                && event.involved_object.name.as_deref() == Some(name.as_str())
        }
    };
    let columns = |event: &Event| {
        let mut row = vec![
            age(last_seen(event)),
            event.type_.clone().unwrap_or_default(),
            event.reason.clone().unwrap_or_default(),
            format!(
                "{}/{}",
                event
                    .involved_object
                    .kind
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase(),
                event.involved_object.name.as_deref().unwrap_or_default()
            ),
            event
                .message
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        ];
        if args.all_namespaces {
            row.insert(0, event.metadata.namespace.clone().unwrap_or_default());
        }
        row
    };
    let mut header = vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
    if args.all_namespaces {
        header.insert(0, "NAMESPACE");
    }

    if args.watch {
        // The watcher lists first, then streams; every event it delivers
        // (initial or new) is printed once, as a row.
        write_stdout(&Table::new(&header).render())?;
        let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()));
        while let Some(change) = stream
            .try_next()
            .await
            .map_err(|err| anyhow::anyhow!(err))
            .context("the event watch failed")?
        {
            if let watcher::Event::Apply(event) | watcher::Event::InitApply(event) = change
                && wanted(&event)
            {
                write_stdout(&format!("{}\n", columns(&event).join("  ")))?;
            }
        }
        bail!("the event watch ended");
    }

    let mut events: Vec<Event> = api
        .list(&ListParams::default())
        .await
        .map_err(|err| api_error(err, &cluster.server))
        .context("cannot list events")?
        .items
        .into_iter()
        .filter(|e| wanted(e))
        .collect();
    if events.is_empty() {
        eprintln!("no events found");
        return Ok(());
    }
    events.sort_by_key(|e| last_seen(e).map(|t| t.0));
    let mut table = Table::new(&header);
    for event in &events {
        table.row(columns(event));
    }
    write_stdout(&table.render())
}

/// When the event last happened: its last occurrence, its event time, or
/// its creation, whichever the emitter filled.
fn last_seen(event: &Event) -> Option<&Time> {
    event
        .last_timestamp
        .as_ref()
        .or(event.first_timestamp.as_ref())
        .or(event.metadata.creation_timestamp.as_ref())
}
