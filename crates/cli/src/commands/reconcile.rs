//! `driftless reconcile source git|kustomization NAME`: request a reconcile
//! through the `reconcile.fluxcd.io/requestedAt` annotation and wait for
//! the controller to handle it, as `flux reconcile` does.

use std::time::Duration;

use anyhow::bail;
use driftless_api::{GitRepository, Kustomization, SourceKind};

use crate::cluster::{GlobalArgs, connect};
use crate::flux::{fetch, parse_go_duration, reconcile};
use crate::output::Progress;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Reconcile a source.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless reconcile source git podinfo --timeout=2m"
    )]
    Source(SourceCommand),
    /// Reconcile a Kustomization (and, with --with-source, its source first).
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless reconcile kustomization apps\n  driftless reconcile ks apps --with-source --timeout=2m"
    )]
    Kustomization(KustomizationArgs),
}

#[derive(clap::Subcommand)]
pub enum SourceCommand {
    /// Fetch a GitRepository now.
    #[command(after_help = "Examples:\n  driftless reconcile source git podinfo")]
    Git(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// The name of the object.
    name: String,
    /// How long to wait for the controller.
    #[arg(long, default_value = "5m", value_parser = parse_go_duration)]
    timeout: Duration,
}

#[derive(clap::Args)]
pub struct KustomizationArgs {
    #[command(flatten)]
    args: Args,
    /// Reconcile the Kustomization's GitRepository first.
    #[arg(long)]
    with_source: bool,
}

pub async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let progress = Progress::new();
    let namespace = cluster.namespace.clone();
    match command {
        Command::Source(SourceCommand::Git(args)) => {
            reconcile::<GitRepository>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
        Command::Kustomization(KustomizationArgs { args, with_source }) => {
            if with_source {
                let ks: Kustomization = fetch(&cluster, &namespace, &args.name).await?;
                let source = &ks.spec.source_ref;
                if source.kind != SourceKind::GitRepository {
                    bail!(
                        "Kustomization {namespace}/{}: --with-source supports GitRepository sources only, this one is a {:?}; reconcile it without --with-source",
                        args.name,
                        source.kind
                    );
                }
                let source_namespace = source.namespace.clone().unwrap_or(namespace.clone());
                reconcile::<GitRepository>(
                    &cluster,
                    &source_namespace,
                    &source.name,
                    args.timeout,
                    &progress,
                )
                .await?;
            }
            reconcile::<Kustomization>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
    }
    Ok(())
}
