//! `driftless reconcile source git|oci|helm|chart|artifactgenerator|kustomization|helmrelease|image repository|policy|update NAME`: request a reconcile
//! through the `reconcile.fluxcd.io/requestedAt` annotation and wait for
//! the controller to handle it, as `flux reconcile` does.

use std::time::Duration;

use anyhow::bail;
use driftless_api::helmrelease::ChartSourceKind;
use driftless_api::{
    ArtifactGenerator, GitRepository, HelmChart, HelmRelease, HelmRepository, ImagePolicy,
    ImageRepository, ImageUpdateAutomation, Kustomization, OCIRepository, SourceKind,
};

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
    /// Regenerate an ArtifactGenerator's artifacts now.
    #[command(
        visible_alias = "ag",
        after_help = "Examples:\n  driftless reconcile artifactgenerator apps"
    )]
    Artifactgenerator(Args),
    /// Reconcile a Kustomization (and, with --with-source, its source first).
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless reconcile kustomization apps\n  driftless reconcile ks apps --with-source --timeout=2m"
    )]
    Kustomization(KustomizationArgs),
    /// Reconcile a HelmRelease (and, with --with-source, its chart source first).
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless reconcile helmrelease podinfo\n  driftless reconcile hr podinfo --with-source"
    )]
    Helmrelease(KustomizationArgs),
    /// Reconcile an image automation object.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless reconcile image repository podinfo\n  driftless reconcile image update flux-system"
    )]
    Image(ImageCommand),
}

#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Scan an ImageRepository's tags now.
    #[command(after_help = "Examples:\n  driftless reconcile image repository alpine")]
    Repository(Args),
    /// Select an ImagePolicy's latest image now.
    #[command(after_help = "Examples:\n  driftless reconcile image policy alpine")]
    Policy(Args),
    /// Run an ImageUpdateAutomation now.
    #[command(after_help = "Examples:\n  driftless reconcile image update latest-images")]
    Update(Args),
}

#[derive(clap::Subcommand)]
pub enum SourceCommand {
    /// Fetch a GitRepository now.
    #[command(after_help = "Examples:\n  driftless reconcile source git podinfo")]
    Git(Args),
    /// Pull an OCIRepository now.
    #[command(after_help = "Examples:\n  driftless reconcile source oci podinfo")]
    Oci(Args),
    /// Fetch a HelmRepository's index now.
    #[command(after_help = "Examples:\n  driftless reconcile source helm podinfo")]
    Helm(Args),
    /// Pull a HelmChart now.
    #[command(after_help = "Examples:\n  driftless reconcile source chart flux-system-podinfo")]
    Chart(Args),
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
    /// Reconcile the object's source first.
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
        Command::Source(SourceCommand::Oci(args)) => {
            reconcile::<OCIRepository>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
        Command::Source(SourceCommand::Helm(args)) => {
            reconcile::<HelmRepository>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
        Command::Source(SourceCommand::Chart(args)) => {
            reconcile::<HelmChart>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
        Command::Artifactgenerator(args) => {
            reconcile::<ArtifactGenerator>(
                &cluster,
                &namespace,
                &args.name,
                args.timeout,
                &progress,
            )
            .await?;
        }
        Command::Image(ImageCommand::Repository(args)) => {
            reconcile::<ImageRepository>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
        Command::Image(ImageCommand::Policy(args)) => {
            reconcile::<ImagePolicy>(&cluster, &namespace, &args.name, args.timeout, &progress)
                .await?;
        }
        Command::Image(ImageCommand::Update(args)) => {
            reconcile::<ImageUpdateAutomation>(
                &cluster,
                &namespace,
                &args.name,
                args.timeout,
                &progress,
            )
            .await?;
        }
        Command::Helmrelease(KustomizationArgs { args, with_source }) => {
            if with_source {
                let hr: HelmRelease = fetch(&cluster, &namespace, &args.name).await?;
                match (&hr.spec.chart_ref, &hr.spec.chart) {
                    (Some(reference), _) => {
                        let source_namespace =
                            reference.namespace.clone().unwrap_or(namespace.clone());
                        match reference.kind {
                            ChartSourceKind::OCIRepository => {
                                reconcile::<OCIRepository>(
                                    &cluster,
                                    &source_namespace,
                                    &reference.name,
                                    args.timeout,
                                    &progress,
                                )
                                .await?;
                            }
                            ChartSourceKind::HelmChart => {
                                reconcile::<HelmChart>(
                                    &cluster,
                                    &source_namespace,
                                    &reference.name,
                                    args.timeout,
                                    &progress,
                                )
                                .await?;
                            }
                            ChartSourceKind::ExternalArtifact => bail!(
                                "HelmRelease {namespace}/{}: --with-source cannot reconcile an ExternalArtifact; reconcile it without --with-source",
                                args.name
                            ),
                        }
                    }
                    (None, Some(template)) => {
                        let source_namespace = template
                            .spec
                            .source_ref
                            .namespace
                            .clone()
                            .unwrap_or(namespace.clone());
                        reconcile::<HelmChart>(
                            &cluster,
                            &source_namespace,
                            &hr.helm_chart_name(),
                            args.timeout,
                            &progress,
                        )
                        .await?;
                    }
                    (None, None) => bail!(
                        "HelmRelease {namespace}/{} has neither spec.chart nor spec.chartRef",
                        args.name
                    ),
                }
            }
            reconcile::<HelmRelease>(&cluster, &namespace, &args.name, args.timeout, &progress)
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
