//! `driftless events`: the Events of a namespace, or of one object with
//! `--for Kind/name`, oldest first; `--watch` keeps printing new ones.
//!
//! Both `core/v1` and `events.k8s.io/v1` Events are read and merged by uid.
//! A real API server shows every event through both APIs, but emitters
//! pick one (driftless's controller writes `core/v1`, kube-runtime's
//! recorder `events.k8s.io/v1`), and a server that stores them apart, like
//! the sandbox, would otherwise hide half of them.

use std::collections::BTreeSet;

use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event as CoreEvent, ObjectReference};
use k8s_openapi::api::events::v1::Event as NewEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;

use crate::cluster::{Cluster, GlobalArgs, api_error, connect, is_not_found};
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

/// One event, from either API.
struct Row {
    uid: String,
    namespace: String,
    last_seen: Option<Time>,
    type_: String,
    reason: String,
    object: ObjectReference,
    message: String,
}

impl From<CoreEvent> for Row {
    fn from(event: CoreEvent) -> Row {
        Row {
            uid: event.metadata.uid.clone().unwrap_or_default(),
            namespace: event.metadata.namespace.clone().unwrap_or_default(),
            // The last occurrence (as the events.k8s.io view reads it, so
            // an event seen through both APIs is one row), else the first,
            // else its creation.
            last_seen: event
                .series
                .and_then(|s| s.last_observed_time)
                .map(|t| Time(t.0))
                .or(event.last_timestamp)
                .or(event.first_timestamp)
                .or(event.event_time.map(|t| Time(t.0)))
                .or(event.metadata.creation_timestamp),
            type_: event.type_.unwrap_or_default(),
            reason: event.reason.unwrap_or_default(),
            object: event.involved_object,
            message: event.message.unwrap_or_default(),
        }
    }
}

impl From<NewEvent> for Row {
    fn from(event: NewEvent) -> Row {
        Row {
            uid: event.metadata.uid.clone().unwrap_or_default(),
            namespace: event.metadata.namespace.clone().unwrap_or_default(),
            last_seen: event
                .series
                .map(|s| Time(s.last_observed_time.0))
                .or(event.deprecated_last_timestamp)
                .or(event.event_time.map(|t| Time(t.0)))
                .or(event.metadata.creation_timestamp),
            type_: event.type_.unwrap_or_default(),
            reason: event.reason.unwrap_or_default(),
            object: event.regarding.unwrap_or_default(),
            message: event.note.unwrap_or_default(),
        }
    }
}

struct View {
    for_: Option<(String, String)>,
    all_namespaces: bool,
}

impl View {
    fn wanted(&self, row: &Row) -> bool {
        match &self.for_ {
            None => true,
            Some((kind, name)) => {
                row.object
                    .kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(kind))
                    && row.object.name.as_deref() == Some(name.as_str())
            }
        }
    }

    fn header(&self) -> Vec<&'static str> {
        let mut header = vec!["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
        if self.all_namespaces {
            header.insert(0, "NAMESPACE");
        }
        header
    }

    fn cells(&self, row: &Row) -> Vec<String> {
        let mut cells = vec![
            age(row.last_seen.as_ref()),
            row.type_.clone(),
            row.reason.clone(),
            format!(
                "{}/{}",
                row.object
                    .kind
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase(),
                row.object.name.as_deref().unwrap_or_default()
            ),
            row.message.split_whitespace().collect::<Vec<_>>().join(" "),
        ];
        if self.all_namespaces {
            cells.insert(0, row.namespace.clone());
        }
        cells
    }
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let view = View {
        for_: args.for_,
        all_namespaces: args.all_namespaces,
    };
    let core: Api<CoreEvent> = api(&cluster, view.all_namespaces);
    let new: Api<NewEvent> = api(&cluster, view.all_namespaces);
    if args.watch {
        return watch(core, new, &view).await;
    }

    let mut rows: Vec<Row> = list(&cluster, &core).await?;
    let mut seen: BTreeSet<String> = rows.iter().map(|r| r.uid.clone()).collect();
    for row in list(&cluster, &new).await? {
        if seen.insert(row.uid.clone()) {
            rows.push(row);
        }
    }
    rows.retain(|r| view.wanted(r));
    if rows.is_empty() {
        eprintln!("no events found");
        return Ok(());
    }
    rows.sort_by_key(|r| r.last_seen.as_ref().map(|t| t.0));
    let mut table = Table::new(&view.header());
    for row in &rows {
        table.row(view.cells(row));
    }
    write_stdout(&table.render())
}

fn api<K>(cluster: &Cluster, all_namespaces: bool) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    if all_namespaces {
        Api::all(cluster.client.clone())
    } else {
        Api::namespaced(cluster.client.clone(), &cluster.namespace)
    }
}

/// Lists one API's events; a server without that API has none.
async fn list<K>(cluster: &Cluster, api: &Api<K>) -> anyhow::Result<Vec<Row>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Into<Row>,
{
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list.items.into_iter().map(Into::into).collect()),
        Err(err) if is_not_found(&err) => Ok(Vec::new()),
        Err(err) => Err(api_error(err, &cluster.server)).context("cannot list events"),
    }
}

/// Prints every event the two watches deliver (the initial list, then new
/// and updated ones), each uid once per update.
async fn watch(core: Api<CoreEvent>, new: Api<NewEvent>, view: &View) -> anyhow::Result<()> {
    fn rows<K: Into<Row>>(event: watcher::Event<K>) -> Option<Row> {
        match event {
            watcher::Event::Apply(e) | watcher::Event::InitApply(e) => Some(e.into()),
            _ => None,
        }
    }
    write_stdout(&Table::new(&view.header()).render())?;
    let core = watcher(core, watcher::Config::default()).map_ok(rows::<CoreEvent>);
    let new = watcher(new, watcher::Config::default()).map_ok(rows::<NewEvent>);
    let mut stream = std::pin::pin!(futures::stream::select(core.boxed(), new.boxed()));
    let mut printed: BTreeSet<(String, Option<Time>)> = BTreeSet::new();
    while let Some(row) = stream.try_next().await.context("the event watch failed")? {
        let Some(row) = row else { continue };
        // On a server that shows each event through both APIs, print it once.
        if view.wanted(&row) && printed.insert((row.uid.clone(), row.last_seen.clone())) {
            write_stdout(&format!("{}\n", view.cells(&row).join("  ")))?;
        }
    }
    bail!("the event watch ended")
}
