//! `driftless suspend|resume kustomization|helmrelease|source git|oci|helm|chart|artifactgenerator|alert-provider|alert|receiver|image repository|policy|update NAME|--all`: toggle
//! `spec.suspend` (for an ArtifactGenerator, source-watcher's
//! `source.extensions.fluxcd.io/reconcile: disabled` annotation, as it has
//! no such field). Resuming also requests a reconcile and waits for it, as
//! `flux resume` does, so the user sees the object catch up.

use std::time::Duration;

use anyhow::Context as _;
use driftless_api::{
    Alert, ArtifactGenerator, GitRepository, HelmChart, HelmRelease, HelmRepository, ImagePolicy,
    ImageRepository, ImageUpdateAutomation, Kustomization, OCIRepository, Provider, Receiver,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::cluster::{Cluster, GlobalArgs, api_error, connect};
use crate::flux::{
    CliObject, fetch, merge_patch, now_rfc3339_nano, parse_go_duration, wait_for_handled,
};
use crate::output::{Progress, Reported};

/// `suspend` takes [`SuspendArgs`], `resume` takes [`ResumeArgs`].
#[derive(clap::Subcommand)]
pub enum Command<A: clap::Args> {
    /// A source.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless suspend source git podinfo\n  driftless resume source git podinfo"
    )]
    Source(SourceCommand<A>),
    /// An ArtifactGenerator (its `source.extensions.fluxcd.io/reconcile` annotation).
    #[command(
        visible_alias = "ag",
        after_help = "Examples:\n  driftless suspend artifactgenerator apps\n  driftless resume ag apps"
    )]
    Artifactgenerator(A),
    /// A Kustomization.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless suspend kustomization apps\n  driftless resume kustomization apps\n  driftless suspend ks --all -n team-a"
    )]
    Kustomization(A),
    /// A HelmRelease.
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless suspend helmrelease podinfo\n  driftless resume hr podinfo"
    )]
    Helmrelease(A),
    /// A Provider.
    #[command(after_help = "Examples:\n  driftless suspend alert-provider slack")]
    AlertProvider(A),
    /// An Alert.
    #[command(after_help = "Examples:\n  driftless suspend alert on-call")]
    Alert(A),
    /// A Receiver.
    #[command(after_help = "Examples:\n  driftless suspend receiver github")]
    Receiver(A),
    /// An image automation object.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless suspend image update flux-system\n  driftless resume image repository podinfo"
    )]
    Image(ImageCommand<A>),
}

#[derive(clap::Subcommand)]
pub enum ImageCommand<A: clap::Args> {
    /// An ImageRepository.
    #[command(after_help = "Examples:\n  driftless suspend image repository alpine")]
    Repository(A),
    /// An ImagePolicy.
    #[command(after_help = "Examples:\n  driftless suspend image policy alpine")]
    Policy(A),
    /// An ImageUpdateAutomation.
    #[command(after_help = "Examples:\n  driftless suspend image update latest-images")]
    Update(A),
}

#[derive(clap::Subcommand)]
pub enum SourceCommand<A: clap::Args> {
    /// A GitRepository.
    #[command(
        after_help = "Examples:\n  driftless suspend source git podinfo\n  driftless resume source git podinfo --no-wait"
    )]
    Git(A),
    /// An OCIRepository.
    #[command(after_help = "Examples:\n  driftless suspend source oci podinfo")]
    Oci(A),
    /// A HelmRepository.
    #[command(after_help = "Examples:\n  driftless suspend source helm podinfo")]
    Helm(A),
    /// A HelmChart.
    #[command(after_help = "Examples:\n  driftless suspend source chart flux-system-podinfo")]
    Chart(A),
}

/// Which objects: one by name, or `--all`.
#[derive(clap::Args)]
pub struct Target {
    /// The name of the object.
    #[arg(required_unless_present = "all")]
    name: Option<String>,
    /// Every object of the kind in the namespace.
    #[arg(long, conflicts_with = "name")]
    all: bool,
}

#[derive(clap::Args)]
pub struct SuspendArgs {
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    target: Target,
    /// Do not wait for the reconcile.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the reconcile.
    #[arg(long, default_value = "5m", value_parser = parse_go_duration)]
    timeout: Duration,
}

pub async fn suspend(global: &GlobalArgs, command: Command<SuspendArgs>) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    match command {
        Command::Source(SourceCommand::Git(args)) => {
            toggle::<GitRepository>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Source(SourceCommand::Oci(args)) => {
            toggle::<OCIRepository>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Source(SourceCommand::Helm(args)) => {
            toggle::<HelmRepository>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Source(SourceCommand::Chart(args)) => {
            toggle::<HelmChart>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Artifactgenerator(args) => {
            toggle::<ArtifactGenerator>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Kustomization(args) => {
            toggle::<Kustomization>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Helmrelease(args) => {
            toggle::<HelmRelease>(&cluster, &args.target, Action::Suspend).await
        }
        Command::AlertProvider(args) => {
            toggle::<Provider>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Alert(args) => toggle::<Alert>(&cluster, &args.target, Action::Suspend).await,
        Command::Receiver(args) => {
            toggle::<Receiver>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Image(ImageCommand::Repository(args)) => {
            toggle::<ImageRepository>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Image(ImageCommand::Policy(args)) => {
            toggle::<ImagePolicy>(&cluster, &args.target, Action::Suspend).await
        }
        Command::Image(ImageCommand::Update(args)) => {
            toggle::<ImageUpdateAutomation>(&cluster, &args.target, Action::Suspend).await
        }
    }
}

pub async fn resume(global: &GlobalArgs, command: Command<ResumeArgs>) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let resume = |args: &ResumeArgs| Action::Resume {
        wait: (!args.no_wait).then_some(args.timeout),
    };
    match command {
        Command::Source(SourceCommand::Git(args)) => {
            toggle::<GitRepository>(&cluster, &args.target, resume(&args)).await
        }
        Command::Source(SourceCommand::Oci(args)) => {
            toggle::<OCIRepository>(&cluster, &args.target, resume(&args)).await
        }
        Command::Source(SourceCommand::Helm(args)) => {
            toggle::<HelmRepository>(&cluster, &args.target, resume(&args)).await
        }
        Command::Source(SourceCommand::Chart(args)) => {
            toggle::<HelmChart>(&cluster, &args.target, resume(&args)).await
        }
        Command::Artifactgenerator(args) => {
            toggle::<ArtifactGenerator>(&cluster, &args.target, resume(&args)).await
        }
        Command::Kustomization(args) => {
            toggle::<Kustomization>(&cluster, &args.target, resume(&args)).await
        }
        Command::Helmrelease(args) => {
            toggle::<HelmRelease>(&cluster, &args.target, resume(&args)).await
        }
        Command::AlertProvider(args) => {
            toggle::<Provider>(&cluster, &args.target, resume(&args)).await
        }
        Command::Alert(args) => toggle::<Alert>(&cluster, &args.target, resume(&args)).await,
        Command::Receiver(args) => toggle::<Receiver>(&cluster, &args.target, resume(&args)).await,
        Command::Image(ImageCommand::Repository(args)) => {
            toggle::<ImageRepository>(&cluster, &args.target, resume(&args)).await
        }
        Command::Image(ImageCommand::Policy(args)) => {
            toggle::<ImagePolicy>(&cluster, &args.target, resume(&args)).await
        }
        Command::Image(ImageCommand::Update(args)) => {
            toggle::<ImageUpdateAutomation>(&cluster, &args.target, resume(&args)).await
        }
    }
}

/// What to do to each target.
enum Action {
    Suspend,
    /// Resume, then wait this long for the reconcile (`None`: do not wait).
    Resume {
        wait: Option<Duration>,
    },
}

async fn toggle<K: CliObject>(
    cluster: &Cluster,
    target: &Target,
    action: Action,
) -> anyhow::Result<()> {
    let namespace = &cluster.namespace;
    let names: Vec<String> = match &target.name {
        Some(name) => {
            // Read first so an unknown name fails with a clear message.
            let object: K = fetch(cluster, namespace, name).await?;
            vec![object.name_any()]
        }
        None => {
            let api: Api<K> = Api::namespaced(cluster.client.clone(), namespace);
            api.list(&ListParams::default())
                .await
                .map_err(|err| api_error(err, &cluster.server))
                .with_context(|| format!("cannot list {} objects in {namespace}", K::kind(&())))?
                .items
                .iter()
                .map(ResourceExt::name_any)
                .collect()
        }
    };
    if names.is_empty() {
        eprintln!("no {} objects found in {namespace} namespace", K::kind(&()));
        return Ok(());
    }
    let progress = Progress::new();
    let mut pending = Vec::new();
    for name in &names {
        if matches!(action, Action::Resume { .. }) {
            progress.action(&format!(
                "resuming {} {name} in {namespace} namespace",
                K::NOUN
            ));
            let requested_at = now_rfc3339_nano();
            let patch = toggle_patch::<K>(false, Some(&requested_at));
            merge_patch::<K>(cluster, namespace, name, patch).await?;
            progress.success(&format!("{} resumed", K::NOUN));
            pending.push((name, requested_at));
        } else {
            progress.action(&format!(
                "suspending {} {name} in {namespace} namespace",
                K::NOUN
            ));
            merge_patch::<K>(cluster, namespace, name, toggle_patch::<K>(true, None)).await?;
            progress.success(&format!("{} suspended", K::NOUN));
        }
    }
    let Action::Resume {
        wait: Some(timeout),
    } = action
    else {
        return Ok(());
    };
    if !K::RECONCILED {
        // Nothing reconciles Providers and Alerts: there is nothing to wait for.
        return Ok(());
    }
    // Wait for all, then report: one failure should not hide the others.
    let mut failed = false;
    for (name, requested_at) in pending {
        if let Err(err) =
            wait_for_handled::<K>(cluster, namespace, name, &requested_at, timeout, &progress).await
        {
            progress.failure(&format!("{err:#}"));
            failed = true;
        }
    }
    if failed { Err(Reported.into()) } else { Ok(()) }
}

/// The kind's suspend (or resume) patch, asking for a reconcile at
/// `requested_at` when given.
fn toggle_patch<K: CliObject>(suspend: bool, requested_at: Option<&str>) -> serde_json::Value {
    let mut patch = K::suspend_patch(suspend);
    if let Some(at) = requested_at {
        patch["metadata"]["annotations"][driftless_api::annotations::RECONCILE_REQUESTED_AT] =
            json!(at);
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_api::GENERATOR_RECONCILE_ANNOTATION as RECONCILE_ANNOTATION;
    use driftless_api::annotations::RECONCILE_REQUESTED_AT;

    #[test]
    fn an_artifact_generator_is_suspended_by_its_annotation() {
        assert_eq!(
            toggle_patch::<ArtifactGenerator>(true, None),
            json!({"metadata": {"annotations": {RECONCILE_ANNOTATION: "disabled"}}})
        );
        assert_eq!(
            toggle_patch::<ArtifactGenerator>(false, Some("now")),
            json!({"metadata": {"annotations": {
                RECONCILE_ANNOTATION: null,
                RECONCILE_REQUESTED_AT: "now",
            }}})
        );
    }

    #[test]
    fn other_kinds_toggle_spec_suspend() {
        assert_eq!(
            toggle_patch::<Kustomization>(true, None),
            json!({"spec": {"suspend": true}})
        );
        assert_eq!(
            toggle_patch::<HelmRelease>(false, Some("now")),
            json!({
                "metadata": {"annotations": {RECONCILE_REQUESTED_AT: "now"}},
                "spec": {"suspend": false},
            })
        );
    }
}
