//! `driftless build kustomization <dir>`: render locally with the render crate.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::output::write_stdout;

#[derive(clap::Subcommand)]
pub enum Command {
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

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Kustomization { dir } => {
            let rendered = driftless_render::build(&dir)
                .with_context(|| format!("cannot build kustomization {}", dir.display()))?;
            write_stdout(&rendered)
        }
    }
}
