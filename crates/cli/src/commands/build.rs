//! `driftless build kustomization <dir>`: render locally with the render
//! crate, byte for byte what `kubectl kustomize` prints; and
//! `driftless build kustomization NAME --path DIR`: render a local directory
//! as that Kustomization in the cluster would (its targetNamespace,
//! patches, substitution and ownership labels), as `flux build` does.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use driftless_api::Kustomization;
use driftless_decrypt::{Decryptor, Keyring};
use driftless_render::FluxBuild;

use crate::cluster::{GlobalArgs, connect};
use crate::flux::fetch;
use crate::output::{write_stdout, yaml_stream};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Render a Kustomize overlay (or a plain directory of manifests) to stdout.
    ///
    /// With a directory only, the output is byte for byte what `kubectl
    /// kustomize <dir>` prints; a directory without kustomization.yaml renders
    /// all its manifests, as Flux does. With NAME and --path, DIR is rendered
    /// as the Kustomization NAME in the cluster would render it.
    #[command(
        visible_alias = "ks",
        after_help = "Examples:\n  driftless build kustomization ./deploy/overlays/prod\n  driftless build kustomization ./apps | kubectl apply --server-side -f -\n  driftless build kustomization apps --path ./clusters/prod/apps -n flux-system"
    )]
    Kustomization {
        /// The directory to build, or with --path the Kustomization's name.
        target: String,
        /// Render this directory as the Kustomization named by the first argument.
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// Decrypt SOPS data with this age identity file (*.agekey) or
        /// OpenPGP secret key (*.asc), as spec.decryption would; repeatable.
        #[arg(long, value_name = "FILE")]
        decrypt_key_file: Vec<PathBuf>,
    },
}

pub fn run(global: &GlobalArgs, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Kustomization {
            target,
            path: None,
            decrypt_key_file,
        } => match crate::keys::keyring(&decrypt_key_file)? {
            None => {
                let rendered = driftless_render::build_with_flux_fallback(Path::new(&target))
                    .with_context(|| format!("cannot build kustomization {target}"))?;
                write_stdout(&rendered)
            }
            Some(keys) => {
                let objects = decrypted_build(Path::new(&target), keys)
                    .with_context(|| format!("cannot build kustomization {target}"))?;
                write_stdout(&yaml_stream(&objects)?)
            }
        },
        Command::Kustomization {
            target,
            path: Some(path),
            decrypt_key_file,
        } => {
            let keys = crate::keys::keyring(&decrypt_key_file)?;
            crate::block_on(as_kustomization(global, target, path, keys))
        }
    }
}

/// `dir` built and decrypted in memory, as a Kustomization with
/// `spec.decryption` would build it.
fn decrypted_build(dir: &Path, keys: Keyring) -> anyhow::Result<Vec<serde_json::Value>> {
    let root = std::path::absolute(dir)?;
    let mut decryptor = Decryptor::new(keys);
    let mut request = FluxBuild {
        source_root: root.clone(),
        path: "./".to_owned(),
        ..FluxBuild::default()
    };
    request.file_overrides = decryptor.decrypt_sources(&root, Path::new("."), &[])?;
    Ok(driftless_render::build_flux_with(
        &request,
        Some(&mut decryptor),
    )?)
}

async fn as_kustomization(
    global: &GlobalArgs,
    name: String,
    path: PathBuf,
    keys: Option<Keyring>,
) -> anyhow::Result<()> {
    let cluster = connect(global).await?;
    let ks: Kustomization = fetch(&cluster, &cluster.namespace, &name).await?;
    let mut objects = driftless_controller::build_local(&ks, &cluster.client, &path, keys)
        .await
        .map_err(|message| anyhow::anyhow!(message))
        .with_context(|| {
            format!(
                "cannot build {} as Kustomization {}/{name}",
                path.display(),
                cluster.namespace
            )
        })?;
    let labels =
        driftless_controller::apply_options(&ks, driftless_api::managers::KUSTOMIZE_CONTROLLER)
            .owner_labels;
    for object in &mut objects {
        if let Some(meta) = object
            .get_mut("metadata")
            .and_then(serde_json::Value::as_object_mut)
        {
            let map = meta
                .entry("labels")
                .or_insert_with(|| serde_json::json!({}));
            for (key, value) in &labels {
                map[key] = serde_json::Value::String(value.clone());
            }
        }
    }
    write_stdout(&yaml_stream(&objects)?)
}
