//! The `driftless` binary: argument parsing, output and exit codes. Each
//! command parses, validates, calls a library crate or the Kubernetes API
//! and prints; decisions live in the libraries.
//!
//! The clap tree is here; each subcommand is one enum variant and one module
//! under `commands/`. The cluster commands follow the `flux` CLI (same
//! flags, same progress lines, same output columns) so scripts and habits
//! carry over.
//!
//! Adding a command takes a variant in [`Command`], a module under
//! `commands/` with its clap arguments and an async `run`, and an arm in
//! [`run`].
//!
//! Exit codes: 0 success, 1 the command ran and failed, 2 bad usage (clap).

mod cluster;
mod commands;
mod flux;
mod install_flags;
mod keys;
mod output;
mod shutdown;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{
    build, check, completion, controller, create, diff, events, get, install, logs, quickstart,
    reconcile, sandbox, suspend, tree, uninstall, version,
};

#[derive(Parser)]
#[command(
    name = "driftless",
    version,
    // A flag given twice takes its last value, as in kubectl, flux and helm.
    args_override_self = true,
    about = "Pull-based GitOps for Kubernetes, compatible with Flux's APIs",
    after_help = "Examples:\n  driftless install\n  driftless create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master\n  driftless create kustomization podinfo --source=podinfo --path=./kustomize --prune\n  driftless get all"
)]
/// The command line: global flags and one command.
pub struct Cli {
    #[command(flatten)]
    global: cluster::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded Kubernetes API server (for trying driftless and for tests).
    #[command(
        after_help = "Examples:\n  driftless sandbox --data-dir ./sandbox\n  kubectl --kubeconfig ./sandbox/kubeconfig get namespaces"
    )]
    Sandbox(sandbox::Args),
    #[command(about = build::ABOUT, after_help = build::EXAMPLES)]
    Build(build::Args),
    /// Print the client version and, when reachable, the cluster's.
    #[command(after_help = "Examples:\n  driftless version\n  driftless version --client -o json")]
    Version(version::Args),
    /// Check the cluster, the CRDs and the controller.
    #[command(
        after_help = "Examples:\n  driftless check\n  driftless check --controller-namespace=driftless-system"
    )]
    Check(check::Args),
    /// Install the CRDs and the controller, or print them with --export.
    ///
    /// Besides its own least-privilege ClusterRole, the controller is bound to
    /// cluster-admin by the ClusterRoleBinding driftless-reconciler, because
    /// Kustomizations apply arbitrary objects (as with Flux). On a shared
    /// cluster, tighten that binding or set spec.serviceAccountName on every
    /// Kustomization.
    #[command(
        after_help = "Examples:\n  driftless install\n  driftless install --export > driftless.yaml\n  driftless install --export | kubectl apply -f -"
    )]
    Install(install::Args),
    /// Remove the controller (and the CRDs unless --keep-crds); applied workloads stay.
    #[command(
        after_help = "Examples:\n  driftless uninstall --keep-crds\n  driftless uninstall --yes"
    )]
    Uninstall(uninstall::Args),
    /// See GitOps work in one command, with no cluster: a sandbox, a local git
    /// repository and the controller, walking through sync, drift and rollback.
    #[command(
        after_help = "Examples:\n  driftless quickstart\n  driftless quickstart --dir ./demo --listen 127.0.0.1:7443"
    )]
    Quickstart(quickstart::Args),
    /// Run the reconcilers (sources and Kustomizations) against the cluster.
    ///
    /// Uses --kubeconfig/--context when given, else $KUBECONFIG, ~/.kube/config
    /// or the in-cluster service account. With leader election (the default),
    /// of several replicas only the holder of the Lease
    /// driftless-system/driftless-controller reconciles.
    #[command(
        after_help = "Examples:\n  driftless controller --kubeconfig ./sandbox/kubeconfig\n  driftless controller --storage-dir=/data --artifact-listen=0.0.0.0:9090 --metrics-listen=0.0.0.0:8080"
    )]
    Controller(controller::Args),
    /// Create or update sources, Kustomizations, HelmReleases, alerting, image automation and secrets.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless create source git podinfo --url=https://github.com/stefanprodan/podinfo --branch=master\n  driftless create kustomization podinfo --source=podinfo --path=./kustomize --prune\n  driftless create secret git auth --username=bot --password=$TOKEN --export"
    )]
    Create(create::Command),
    /// Show sources, Kustomizations, HelmReleases, image automation and their status.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless get all -A\n  driftless get sources git\n  driftless get kustomizations apps -o yaml\n  driftless get images all"
    )]
    Get(get::Command),
    /// Ask the controller to reconcile an object now, and wait for it.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless reconcile source git podinfo\n  driftless reconcile kustomization apps --with-source\n  driftless reconcile image repository podinfo"
    )]
    Reconcile(reconcile::Command),
    /// Stop reconciling an object (the applied workloads stay as they are).
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless suspend kustomization apps\n  driftless suspend source git podinfo\n  driftless suspend ks --all"
    )]
    Suspend(suspend::Command<suspend::SuspendArgs>),
    /// Reconcile a suspended object again (and wait for it, unless --no-wait).
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless resume kustomization apps\n  driftless resume source git podinfo --no-wait"
    )]
    Resume(suspend::Command<suspend::ResumeArgs>),
    /// Show what applying a local directory would change (server-side dry run; exit 1 on changes).
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless diff kustomization apps --path ./clusters/prod/apps"
    )]
    Diff(diff::Command),
    /// Show what a Kustomization applied, as a tree.
    #[command(
        subcommand,
        after_help = "Examples:\n  driftless tree kustomization flux-system\n  driftless tree ks apps -o yaml"
    )]
    Tree(tree::Command),
    /// Show the Kubernetes events of an object or a namespace.
    #[command(
        after_help = "Examples:\n  driftless events\n  driftless events --for Kustomization/apps\n  driftless events -A --watch"
    )]
    Events(events::Args),
    /// Show the controller's logs, optionally only about one object.
    #[command(
        after_help = "Examples:\n  driftless logs\n  driftless logs --for Kustomization/apps --level warn\n  driftless logs -f"
    )]
    Logs(logs::Args),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  source <(driftless completion bash)\n  driftless completion zsh > \"${fpath[1]}/_driftless\"\n  driftless completion fish > ~/.config/fish/completions/driftless.fish"
    )]
    Completion(completion::Args),
}

/// `driftless build …` alone, for [`parse_args`].
#[derive(Parser)]
#[command(name = "driftless", version, args_override_self = true)]
struct BuildCli {
    #[command(flatten)]
    global: cluster::GlobalArgs,
    #[command(subcommand)]
    command: BuildOnly,
}

#[derive(Subcommand)]
enum BuildOnly {
    #[command(about = build::ABOUT, after_help = build::EXAMPLES)]
    Build(build::Args),
}

/// The command line. `driftless build …` is parsed against the `build`
/// command alone: clap builds, and drops, the arguments of every command at
/// each start, which was half the instructions of rendering a small chart
/// (2.3 of 4.3 million). A test checks both parsers print the same help
/// and errors for `build`.
fn parse_args() -> Cli {
    if std::env::args_os().nth(1).is_some_and(|arg| arg == "build") {
        let BuildCli { global, command } = BuildCli::parse();
        let BuildOnly::Build(args) = command;
        return Cli {
            global,
            command: Command::Build(args),
        };
    }
    Cli::parse()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Build(command) => build::run(&global, command),
        Command::Completion(args) => completion::run(args),
        Command::Sandbox(args) => block_on(sandbox::run(args)),
        Command::Quickstart(args) => block_on(quickstart::run(args)),
        Command::Version(args) => block_on(version::run(&global, args)),
        Command::Check(args) => block_on(check::run(&global, args)),
        Command::Controller(args) => block_on(controller::run(&global, args)),
        Command::Install(args) => block_on(install::run(&global, args)),
        Command::Uninstall(args) => block_on(uninstall::run(&global, args)),
        Command::Create(command) => block_on(create::run(&global, command)),
        Command::Get(command) => block_on(get::run(&global, command)),
        Command::Reconcile(command) => block_on(reconcile::run(&global, command)),
        Command::Suspend(command) => block_on(suspend::suspend(&global, command)),
        Command::Resume(command) => block_on(suspend::resume(&global, command)),
        Command::Tree(command) => block_on(tree::run(&global, command)),
        Command::Diff(command) => block_on(diff::run(&global, command)),
        Command::Events(args) => block_on(events::run(&global, args)),
        Command::Logs(args) => block_on(logs::run(&global, args)),
    }
}

/// Runs an async command; local commands (build, completion) need no runtime.
pub fn block_on(command: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the async runtime: {err}"))?
        .block_on(command)
}

fn main() -> ExitCode {
    let cli = parse_args();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A command that already printed its failure (e.g. `check`)
            // returns `Reported` so the exit code is set without a repeat.
            if err.downcast_ref::<output::Reported>().is_none() {
                eprintln!("{} {err}", output::Style::stderr().fail("error:"));
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
                if let Some(hinted) = err.chain().find_map(|e| e.downcast_ref::<output::Hinted>()) {
                    eprintln!("  hint: {}", hinted.hint);
                }
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{BuildCli, Cli};

    /// What parsing `argv` with `P` prints, or that it parsed.
    fn outcome<P: Parser>(argv: &[&str]) -> String {
        match P::try_parse_from(argv) {
            Ok(_) => "parsed".to_owned(),
            Err(err) => format!("{:?}: {}", err.kind(), err.render()),
        }
    }

    #[test]
    fn build_alone_parses_as_the_whole_command_line_does() {
        let cases: &[&[&str]] = &[
            &["build", "--help"],
            &["build", "chart", "--help"],
            &["build", "kustomization", "--help"],
            &["build", "helmrelease", "--help"],
            &["build"],
            &["build", "nope"],
            &["build", "chart"],
            &["build", "chart", "rel", "./chart", "--bogus"],
            &[
                "build", "chart", "rel", "./chart", "--set", "a=b", "-n", "apps",
            ],
            &["build", "kustomization", "./deploy", "--version"],
        ];
        for case in cases {
            let argv: Vec<&str> = std::iter::once("driftless")
                .chain(case.iter().copied())
                .collect();
            let whole = outcome::<Cli>(&argv);
            assert_eq!(outcome::<BuildCli>(&argv), whole, "{case:?}");
            if case.contains(&"--help") {
                assert!(whole.contains("Usage: driftless build"), "{whole}");
            }
        }
    }
}
