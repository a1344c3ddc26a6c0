//! `driftless create source git|oci|helm|kustomization|helmrelease|alert-provider|alert|receiver|image repository|policy|update|secret git|sops`: build the typed
//! object from flags, then print it (`--export`) or server-side apply it and
//! wait for the controller to report Ready.
//!
//! Flags are validated by clap value parsers where they can be (URL,
//! durations, exclusive refs), so mistakes exit 2 before any cluster call.
//! The exported YAML carries only apiVersion, kind, metadata and spec, as
//! `flux create ... --export` prints, so it can be committed to a repo.

use std::time::Duration;

use anyhow::Context as _;
use driftless_api::{
    CrossNamespaceSourceReference, DependencyReference, GitRepository, GitRepositoryRef,
    GitRepositorySpec, GoDuration, Kustomization, KustomizationSpec, SourceKind,
    meta::{LocalObjectReference, NamespacedObjectKindReference},
};
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;

use super::{helm, image, notification, secret};
use crate::cluster::{Cluster, GlobalArgs, api_error, connect};
use crate::flux::{CliObject, parse_go_duration, wait_for_ready};
use crate::output::{Progress, write_stdout, yaml_stream};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create or update a source.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master"
    )]
    Source(SourceCommand),
    /// Create or update a Kustomization.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless create kustomization podinfo --source=podinfo --path=./kustomize --prune --interval=10m\n  driftless create kustomization apps --source=GitRepository/fleet.flux-system --path=./apps --depends-on=infra --health-check=Deployment/web.apps\n  driftless create kustomization podinfo --source=podinfo --export > podinfo-ks.yaml"
    )]
    Kustomization(KustomizationArgs),
    /// Create or update a HelmRelease.
    #[command(
        visible_alias = "hr",
        after_help = "Examples:\n  driftless create helmrelease podinfo --source=HelmRepository/podinfo --chart=podinfo --chart-version='>=6.0.0' --target-namespace=apps --create-target-namespace\n  driftless create hr podinfo --chart-ref=OCIRepository/podinfo --values=./values.yaml --export"
    )]
    Helmrelease {
        #[command(flatten)]
        args: helm::HelmReleaseArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update a Provider (where alerts are sent).
    #[command(
        after_help = "Examples:\n  driftless create alert-provider slack --type=slack --channel=general --secret-ref=slack-url\n  driftless create alert-provider github-status --type=github --address=https://github.com/org/repo --secret-ref=github-token"
    )]
    AlertProvider {
        #[command(flatten)]
        args: notification::ProviderArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update an Alert (which events go to a Provider).
    #[command(
        after_help = "Examples:\n  driftless create alert on-call --provider-ref=slack --event-source='Kustomization/*,GitRepository/*' --event-severity=error"
    )]
    Alert {
        #[command(flatten)]
        args: notification::AlertArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update a Receiver (a webhook that reconciles objects now).
    #[command(
        after_help = "Examples:\n  driftless create receiver github --type=github --event=ping --event=push --secret-ref=webhook-token --resource=GitRepository/fleet"
    )]
    Receiver {
        #[command(flatten)]
        args: notification::ReceiverArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update image automation objects: which images to scan,
    /// which tag is the latest, and where to commit it.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless create image repository podinfo --image=ghcr.io/stefanprodan/podinfo --interval=5m\n  driftless create image policy podinfo --image-ref=podinfo --select-semver='>=1.0.0'\n  driftless create image update fleet --git-repo-ref=fleet --checkout-branch=main --author-name=bot --author-email=bot@example.com"
    )]
    Image(ImageCommand),
    /// Create or update a secret.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless create secret git auth --bearer-token=$TOKEN"
    )]
    Secret(SecretCommand),
}

#[derive(clap::Subcommand)]
pub enum SourceCommand {
    /// Create or update a GitRepository.
    #[command(
        after_help = "Examples:\n  driftless create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master --interval=1m\n  driftless create source git podinfo --url=https://github.com/stefanprodan/podinfo --tag-semver='>=6.0.0 <7.0.0'\n  driftless create source git private --url=ssh://git@github.com/org/repo --branch=main --secret-ref=private-git --export"
    )]
    Git(GitArgs),
    /// Create or update an OCIRepository.
    #[command(
        after_help = "Examples:\n  driftless create source oci podinfo --url=oci://ghcr.io/stefanprodan/manifests/podinfo --tag=latest\n  driftless create source oci app --url=oci://registry.local:5000/app --tag-semver='>=1.0.0' --insecure --export"
    )]
    Oci {
        #[command(flatten)]
        args: helm::OciArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update a HelmRepository.
    #[command(
        after_help = "Examples:\n  driftless create source helm podinfo --url=https://stefanprodan.github.io/podinfo\n  driftless create source helm charts --url=oci://ghcr.io/stefanprodan/charts --secret-ref=regcred"
    )]
    Helm {
        #[command(flatten)]
        args: helm::HelmRepositoryArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Create or update an ImageRepository (an image repository to scan for tags).
    #[command(
        after_help = "Examples:\n  driftless create image repository alpine-repo --image=alpine --interval=20m\n  driftless create image repository myapp-repo --secret-ref=image-pull --image=ghcr.io/example.com/myapp --interval=5m\n  driftless create image repository local --image=localhost:5000/app --insecure --export"
    )]
    Repository {
        #[command(flatten)]
        args: image::RepositoryArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update an ImagePolicy (which tag of an ImageRepository is the latest).
    #[command(
        after_help = "Examples:\n  driftless create image policy podinfo --image-ref=podinfo --select-semver='>=1.0.0'\n  driftless create image policy podinfo --image-ref=podinfo --select-numeric=asc --filter-regex='^main-[a-f0-9]+-(?P<ts>[0-9]+)' --filter-extract='$ts'"
    )]
    Policy {
        #[command(flatten)]
        args: image::PolicyArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Create or update an ImageUpdateAutomation (commit the latest tags to git at setter markers).
    #[command(
        after_help = "Examples:\n  driftless create image update flux-system --git-repo-ref=flux-system --git-repo-path=./clusters/my-cluster --checkout-branch=main --author-name=flux --author-email=flux@example.com --commit-template='{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'\n  driftless create image update apps -n apps --git-repo-ref=flux-system --git-repo-namespace=flux-system --checkout-branch=main --push-branch=image-updates --author-name=flux --author-email=flux@example.com"
    )]
    Update {
        #[command(flatten)]
        args: image::UpdateArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum SecretCommand {
    /// Create or update a Secret with git credentials, in Flux's keys.
    #[command(
        after_help = "Examples:\n  driftless create secret git private-git --username=bot --password=$TOKEN\n  driftless create secret git private-git --private-key-file=./id_ed25519 --known-hosts-file=./known_hosts --export"
    )]
    Git(secret::SecretGitArgs),
    /// Create or update a Secret with SOPS decryption keys (age, OpenPGP), for a Kustomization's spec.decryption.
    #[command(
        after_help = "Examples:\n  driftless create secret sops sops-keys --age-key-file=./age.agekey\n  age-keygen | driftless create secret sops sops-keys --age-key-file=/dev/stdin --export\n  driftless create secret sops sops-gpg --gpg-key-file=./private.asc"
    )]
    Sops(secret::SecretSopsArgs),
}

/// Flags every create command shares.
#[derive(clap::Args)]
pub struct CommonArgs {
    /// Print the object as YAML instead of applying it.
    #[arg(long)]
    export: bool,
    /// Apply without waiting for the controller to report Ready.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for Ready.
    #[arg(long, default_value = "5m", value_parser = parse_go_duration)]
    timeout: Duration,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("reference").args(["branch", "tag", "tag_semver", "commit"]).multiple(false)))]
pub struct GitArgs {
    /// The name of the GitRepository.
    name: String,
    /// The repository URL: https://, http://, ssh://, git://, file:// or user@host:path.
    #[arg(long, value_parser = parse_git_url)]
    url: String,
    /// The branch to follow.
    #[arg(long)]
    branch: Option<String>,
    /// The tag to check out.
    #[arg(long)]
    tag: Option<String>,
    /// The newest tag matching this semver range, e.g. '>=1.0.0 <2.0.0'.
    #[arg(long)]
    tag_semver: Option<String>,
    /// A commit SHA to pin.
    #[arg(long)]
    commit: Option<String>,
    /// How often to fetch the repository.
    #[arg(long, default_value = "1m", value_parser = parse_interval)]
    interval: GoDuration,
    /// The Secret (in the same namespace) with the credentials.
    #[arg(long, value_name = "NAME")]
    secret_ref: Option<String>,
    /// Paths to leave out of the artifact, in .gitignore syntax (comma separated or repeated).
    #[arg(long, value_delimiter = ',')]
    ignore_paths: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
pub struct KustomizationArgs {
    /// The name of the Kustomization.
    name: String,
    /// The source of the manifests: [<kind>/]<name>[.<namespace>] (kind defaults to GitRepository).
    #[arg(long, value_parser = parse_source_ref)]
    source: CrossNamespaceSourceReference,
    /// The directory in the source to apply.
    #[arg(long, default_value = "./")]
    path: String,
    /// Delete the objects that are no longer in the source.
    #[arg(long)]
    prune: bool,
    /// How often to reconcile.
    #[arg(long, default_value = "10m", value_parser = parse_interval)]
    interval: GoDuration,
    /// A Kustomization that must be ready first: <name> or <namespace>/<name> (repeatable).
    #[arg(long, value_parser = parse_dependency)]
    depends_on: Vec<DependencyReference>,
    /// Put every namespaced object in this namespace.
    #[arg(long, value_name = "NS")]
    target_namespace: Option<String>,
    /// Wait for every applied object to become ready (replaces --health-check).
    #[arg(long)]
    wait: bool,
    /// An object whose health gates Ready: <kind>/<name>.<namespace> (repeatable).
    #[arg(long, value_parser = parse_health_check)]
    health_check: Vec<NamespacedObjectKindReference>,
    #[command(flatten)]
    common: CommonArgs,
}

fn parse_git_url(text: &str) -> Result<String, String> {
    let pattern =
        regex::Regex::new(driftless_api::URL_PATTERN).expect("the API's URL pattern compiles");
    if pattern.is_match(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a git URL; use https://, http://, ssh://, git://, file:// or user@host:path"
        ))
    }
}

pub(super) fn parse_interval(text: &str) -> Result<GoDuration, String> {
    let duration = parse_go_duration(text)?;
    if duration.is_zero() {
        return Err("the interval must be more than zero".to_string());
    }
    // Normalised as Go prints it (`1m` → `1m0s`), like flux's export.
    Ok(GoDuration::from_std(duration))
}

fn parse_source_ref(text: &str) -> Result<CrossNamespaceSourceReference, String> {
    let (kind, rest) = match text.split_once('/') {
        Some((kind, rest)) => {
            let kind: SourceKind =
                serde_json::from_value(serde_json::Value::from(kind)).map_err(|_| {
                    format!(
                        "`{kind}` is not a source kind; use GitRepository, OCIRepository or Bucket"
                    )
                })?;
            (kind, rest)
        }
        None => (SourceKind::GitRepository, text),
    };
    let (name, namespace) = match rest.rsplit_once('.') {
        Some((name, namespace)) => (name, Some(namespace.to_string())),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(format!(
            "`{text}` names no source; write it as [<kind>/]<name>[.<namespace>]"
        ));
    }
    Ok(CrossNamespaceSourceReference {
        api_version: None,
        kind,
        name: name.to_string(),
        namespace,
    })
}

fn parse_dependency(text: &str) -> Result<DependencyReference, String> {
    let (namespace, name) = match text.split_once('/') {
        Some((namespace, name)) => (Some(namespace.to_string()), name),
        None => (None, text),
    };
    if name.is_empty() || namespace.as_deref() == Some("") {
        return Err(format!(
            "`{text}` is not a dependency; write <name> or <namespace>/<name>"
        ));
    }
    Ok(DependencyReference {
        name: name.to_string(),
        namespace,
        ready_expr: None,
    })
}

fn parse_health_check(text: &str) -> Result<NamespacedObjectKindReference, String> {
    let invalid = || {
        format!(
            "`{text}` is not a health check; write <kind>/<name>.<namespace>, e.g. Deployment/web.apps"
        )
    };
    let (kind, rest) = text.split_once('/').ok_or_else(invalid)?;
    // Namespaces cannot contain dots, names can: split at the last one.
    let (name, namespace) = rest.rsplit_once('.').ok_or_else(invalid)?;
    if kind.is_empty() || name.is_empty() || namespace.is_empty() {
        return Err(invalid());
    }
    let api_version = match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => Some("apps/v1"),
        "Kustomization" => Some("kustomize.toolkit.fluxcd.io/v1"),
        "GitRepository" => Some("source.toolkit.fluxcd.io/v1"),
        "HelmRelease" => Some("helm.toolkit.fluxcd.io/v2"),
        "Service" | "ConfigMap" | "Secret" | "Pod" | "PersistentVolumeClaim" => Some("v1"),
        "Job" | "CronJob" => Some("batch/v1"),
        _ => None,
    };
    Ok(NamespacedObjectKindReference {
        api_version: api_version.map(str::to_string),
        kind: kind.to_string(),
        name: name.to_string(),
        namespace: Some(namespace.to_string()),
    })
}

pub async fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Source(SourceCommand::Git(args)) => {
            let repo = git_repository(&global.namespace, &args);
            create(global, repo, &args.common).await
        }
        Command::Kustomization(args) => {
            let ks = kustomization(&global.namespace, &args);
            create(global, ks, &args.common).await
        }
        Command::Source(SourceCommand::Oci { args, common }) => {
            create(
                global,
                helm::oci_repository(&global.namespace, &args),
                &common,
            )
            .await
        }
        Command::Source(SourceCommand::Helm { args, common }) => {
            create(
                global,
                helm::helm_repository(&global.namespace, &args),
                &common,
            )
            .await
        }
        Command::Helmrelease { args, common } => {
            create(
                global,
                helm::helm_release(&global.namespace, &args)?,
                &common,
            )
            .await
        }
        Command::AlertProvider { args, common } => {
            let provider = notification::provider(&global.namespace, &args);
            create(global, provider, &common).await
        }
        Command::Alert { args, common } => {
            let alert = notification::alert(&global.namespace, &args);
            create(global, alert, &common).await
        }
        Command::Receiver { args, common } => {
            let receiver = notification::receiver(&global.namespace, &args);
            create(global, receiver, &common).await
        }
        Command::Image(ImageCommand::Repository { args, common }) => {
            create(
                global,
                image::image_repository(&global.namespace, &args),
                &common,
            )
            .await
        }
        Command::Image(ImageCommand::Policy { args, common }) => {
            create(
                global,
                image::image_policy(&global.namespace, &args)?,
                &common,
            )
            .await
        }
        Command::Image(ImageCommand::Update { args, common }) => {
            create(
                global,
                image::image_update(&global.namespace, &args),
                &common,
            )
            .await
        }
        Command::Secret(SecretCommand::Git(args)) => {
            let secret = secret::git_secret(&global.namespace, &args)?;
            secret::apply_secret(global, secret, args.export).await
        }
        Command::Secret(SecretCommand::Sops(args)) => {
            let secret = secret::sops_secret(&global.namespace, &args)?;
            secret::apply_secret(global, secret, args.export).await
        }
    }
}

fn git_repository(namespace: &str, args: &GitArgs) -> GitRepository {
    let reference = match (&args.branch, &args.tag, &args.tag_semver, &args.commit) {
        (None, None, None, None) => None,
        (branch, tag, semver, commit) => Some(GitRepositoryRef {
            branch: branch.clone(),
            tag: tag.clone(),
            semver: semver.clone(),
            name: None,
            commit: commit.clone(),
        }),
    };
    let mut repo = GitRepository::new(
        &args.name,
        GitRepositorySpec {
            url: args.url.clone(),
            secret_ref: args
                .secret_ref
                .clone()
                .map(|name| LocalObjectReference { name }),
            provider: None,
            service_account_name: None,
            interval: args.interval.clone(),
            timeout: None,
            reference,
            verification: None,
            proxy_secret_ref: None,
            ignore: (!args.ignore_paths.is_empty()).then(|| args.ignore_paths.join("\n")),
            suspend: false,
            recurse_submodules: false,
            include: None,
            sparse_checkout: None,
        },
    );
    repo.metadata.namespace = Some(namespace.to_string());
    // kube's derive copies the CRD's own annotation onto every `new`
    // object; flux's objects do not carry it.
    repo.metadata.annotations = None;
    repo
}

fn kustomization(namespace: &str, args: &KustomizationArgs) -> Kustomization {
    let mut ks = Kustomization::new(
        &args.name,
        KustomizationSpec {
            common_metadata: None,
            depends_on: (!args.depends_on.is_empty()).then(|| args.depends_on.clone()),
            decryption: None,
            interval: args.interval.clone(),
            retry_interval: None,
            kube_config: None,
            path: Some(args.path.clone()),
            post_build: None,
            prune: args.prune,
            deletion_policy: None,
            health_checks: (!args.health_check.is_empty()).then(|| args.health_check.clone()),
            name_prefix: None,
            name_suffix: None,
            patches: None,
            images: None,
            service_account_name: None,
            source_ref: args.source.clone(),
            suspend: false,
            target_namespace: args.target_namespace.clone(),
            timeout: None,
            force: false,
            wait: args.wait,
            components: None,
            ignore_missing_components: false,
            health_check_exprs: None,
            drift_ignore_rules: None,
        },
    );
    ks.metadata.namespace = Some(namespace.to_string());
    ks
}

/// The exported form: apiVersion, kind, metadata, spec (no status).
fn exported<T: Serialize>(object: &T) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(object)
        .context("internal error: cannot serialize the object; please report this")?;
    if let Some(map) = value.as_object_mut() {
        map.retain(|key, _| {
            matches!(
                key.as_str(),
                "apiVersion" | "kind" | "metadata" | "spec" | "type" | "data" | "stringData"
            )
        });
    }
    Ok(value)
}

fn sort_keys(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

async fn create<K: CliObject>(
    global: &GlobalArgs,
    object: K,
    common: &CommonArgs,
) -> anyhow::Result<()> {
    let progress = Progress::new();
    if common.export {
        let mut value = exported(&object)?;
        // Keys in alphabetical order, as flux's export prints them (Go's
        // YAML goes through a JSON map), so the two diff cleanly.
        sort_keys(&mut value);
        return write_stdout(&yaml_stream(&[value])?);
    }
    let cluster = connect(global).await?;
    let name = object.meta().name.clone().unwrap_or_default();
    progress.generate(&format!("generating {}", K::NOUN));
    progress.action(&format!("applying {}", K::NOUN));
    apply(&cluster, &object, &name).await?;
    progress.success(&format!(
        "{} {name} applied in {} namespace",
        K::NOUN,
        cluster.namespace
    ));
    if K::RECONCILED && !common.no_wait {
        wait_for_ready::<K>(
            &cluster,
            &cluster.namespace,
            &name,
            common.timeout,
            &progress,
        )
        .await?;
    }
    Ok(())
}

async fn apply<K: CliObject>(cluster: &Cluster, object: &K, name: &str) -> anyhow::Result<()> {
    let api: Api<K> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let mut body = exported(object)?;
    // Server-side apply must not claim the status.
    if let Some(map) = body.as_object_mut() {
        map.remove("status");
    }
    api.patch(
        name,
        &PatchParams::apply(driftless_api::managers::CLI).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|err| api_error(err, &cluster.server))
    .with_context(|| format!("cannot apply {} {}/{name}", K::kind(&()), cluster.namespace))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_refs_take_an_optional_kind_and_namespace() {
        let plain = parse_source_ref("podinfo").expect("valid");
        assert_eq!(
            (plain.kind, plain.name.as_str(), plain.namespace),
            (SourceKind::GitRepository, "podinfo", None)
        );
        let full = parse_source_ref("GitRepository/fleet.flux-system").expect("valid");
        assert_eq!(full.name, "fleet");
        assert_eq!(full.namespace.as_deref(), Some("flux-system"));
        assert!(
            parse_source_ref("Nope/x")
                .unwrap_err()
                .contains("not a source kind")
        );
    }

    #[test]
    fn health_checks_need_kind_name_and_namespace() {
        let check = parse_health_check("Deployment/web.v2.apps").expect("valid");
        assert_eq!(
            (check.name.as_str(), check.namespace.as_deref()),
            ("web.v2", Some("apps"))
        );
        assert_eq!(check.api_version.as_deref(), Some("apps/v1"));
        assert!(parse_health_check("Deployment/web").is_err());
    }

    #[test]
    fn intervals_are_normalised_like_go() {
        assert_eq!(parse_interval("1m").expect("valid").as_str(), "1m0s");
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
