//! The `driftless` binary: argument parsing, output and exit codes. Each
//! command parses, validates, calls a library crate and prints; decisions
//! live in the libraries.
//!
//! Exit codes: 0 success, 1 the command ran and failed, 2 bad usage (clap).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "driftless",
    version,
    about = "Pull-based GitOps for Kubernetes, compatible with Flux's APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded Kubernetes API server (for trying driftless and for tests).
    #[command(
        after_help = "Examples:\n  driftless sandbox --data-dir ./sandbox\n  kubectl --kubeconfig ./sandbox/kubeconfig get namespaces"
    )]
    Sandbox(SandboxArgs),
    /// Render manifests locally, as the controllers would.
    #[command(subcommand)]
    Build(BuildCommand),
}

#[derive(Subcommand)]
enum BuildCommand {
    /// Render a Kustomize overlay (or a plain directory of manifests) to stdout.
    ///
    /// The output is byte for byte what `kubectl kustomize <dir>` prints. A
    /// directory without kustomization.yaml renders all its manifests, as Flux does.
    #[command(
        after_help = "Examples:\n  driftless build kustomization ./deploy/overlays/prod\n  driftless build kustomization ./apps | kubectl apply --server-side -f -"
    )]
    Kustomization {
        /// The directory to build.
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct SandboxArgs {
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Keep objects, certificates and the token here, across restarts; without it everything is in memory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to write the kubeconfig [default: <data-dir>/kubeconfig, or ./driftless-sandbox.kubeconfig]
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// How long simulated rollouts take, e.g. 500ms, 2s.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    rollout_delay: Duration,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| text.split_at(i))
        .unwrap_or((text, "s"));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write it like 500ms, 2s or 1m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("`{text}` has an unknown unit; use ms, s or m")),
    }
}

async fn sandbox(args: SandboxArgs) -> anyhow::Result<()> {
    let kubeconfig_out = args.kubeconfig_out.or_else(|| {
        args.data_dir
            .is_none()
            .then(|| PathBuf::from("driftless-sandbox.kubeconfig"))
    });
    let sandbox = driftless_sandbox::Sandbox::start(driftless_sandbox::SandboxConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        kubeconfig_out,
        rollout_delay: args.rollout_delay,
    })
    .await
    .context("cannot start the sandbox")?;
    let kubeconfig = sandbox
        .kubeconfig_path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    eprintln!("sandbox API server listening on {}", sandbox.server_url());
    eprintln!("kubeconfig written to {kubeconfig}");
    eprintln!("try: kubectl --kubeconfig {kubeconfig} get namespaces");
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    eprintln!("shutting down");
    sandbox.shutdown().await;
    Ok(())
}

fn build(command: BuildCommand) -> anyhow::Result<()> {
    match command {
        BuildCommand::Kustomization { dir } => {
            let rendered = driftless_render::build(&dir)
                .with_context(|| format!("cannot build kustomization {}", dir.display()))?;
            write_stdout(rendered.as_bytes())
        }
    }
}

/// Writes data to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let command = match cli.command {
        Command::Build(command) => return exit_code(build(command)),
        Command::Sandbox(args) => args,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    exit_code(runtime.block_on(sandbox(command)))
}

fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
