//! `driftless uninstall`: remove what `install` created, never the
//! workloads the Kustomizations applied.
//!
//! Order matters: the finalizers of our custom resources are stripped
//! first, because without the controller nothing would remove them and
//! deleting the CRDs would hang; a Kustomization deleted without its
//! finalizer also leaves its workloads in place, which is the point.

use anyhow::{Context as _, bail};
use driftless_api::{ArtifactGenerator, GitRepository, HelmRelease, Kustomization, OCIRepository};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::cluster::{Cluster, GlobalArgs, api_error, connect, is_not_found};
use crate::commands::install::{api_for, controller_manifests, object_label};
use crate::flux::CliObject;
use crate::output::Progress;

/// The finalizer our controller puts on GitRepositories and Kustomizations.
const FINALIZER: &str = "finalizers.fluxcd.io";

#[derive(clap::Args)]
pub struct Args {
    /// Keep the CRDs (and so every GitRepository and Kustomization).
    #[arg(long)]
    keep_crds: bool,
    /// Confirm deleting the CRDs, which deletes every GitRepository and Kustomization.
    #[arg(long)]
    yes: bool,
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    if !args.keep_crds && !args.yes {
        bail!(
            "uninstall deletes the CRDs and with them every GitRepository and Kustomization in the cluster (their workloads stay); pass --yes to go on, or --keep-crds to keep them"
        );
    }
    let cluster = connect(global).await?;
    let progress = Progress::new();
    strip_finalizers::<GitRepository>(&cluster, &progress).await?;
    strip_finalizers::<Kustomization>(&cluster, &progress).await?;
    strip_finalizers::<OCIRepository>(&cluster, &progress).await?;
    strip_finalizers::<HelmRelease>(&cluster, &progress).await?;
    strip_finalizers::<ArtifactGenerator>(&cluster, &progress).await?;
    // Reverse apply order: the namespace last, so its contents go first.
    for manifest in controller_manifests().iter().rev() {
        delete(&cluster, manifest, &progress).await?;
    }
    if !args.keep_crds {
        for crd in driftless_api::crds() {
            let manifest = serde_json::to_value(&crd)
                .context("internal error: cannot serialize a CRD; please report this")?;
            delete(&cluster, &manifest, &progress).await?;
        }
    }
    progress.success("uninstall finished");
    Ok(())
}

async fn strip_finalizers<K: CliObject>(
    cluster: &Cluster,
    progress: &Progress,
) -> anyhow::Result<()> {
    let api: Api<K> = Api::all(cluster.client.clone());
    let objects = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        // No CRD, no objects.
        Err(err) if is_not_found(&err) => return Ok(()),
        Err(err) => {
            return Err(api_error(err, &cluster.server))
                .with_context(|| format!("cannot list {} objects", K::kind(&())));
        }
    };
    for object in objects {
        if !object.finalizers().iter().any(|f| f == FINALIZER) {
            continue;
        }
        let namespace = object.namespace().unwrap_or_default();
        let name = object.name_any();
        let kept: Vec<&String> = object
            .finalizers()
            .iter()
            .filter(|f| *f != FINALIZER)
            .collect();
        let namespaced: Api<K> = Api::namespaced(cluster.client.clone(), &namespace);
        let params = PatchParams {
            field_manager: Some(driftless_api::managers::CLI.to_string()),
            ..Default::default()
        };
        namespaced
            .patch(
                &name,
                &params,
                &Patch::Merge(json!({"metadata": {"finalizers": kept}})),
            )
            .await
            .map_err(|err| api_error(err, &cluster.server))
            .with_context(|| {
                format!(
                    "cannot remove the finalizer of {} {namespace}/{name}",
                    K::kind(&())
                )
            })?;
        progress.success(&format!(
            "{} {namespace}/{name} finalizer removed",
            K::kind(&())
        ));
    }
    Ok(())
}

async fn delete(
    cluster: &Cluster,
    manifest: &serde_json::Value,
    progress: &Progress,
) -> anyhow::Result<()> {
    let label = object_label(manifest);
    // The kind is not served (e.g. no NetworkPolicy API): nothing to delete.
    let Ok(api) = api_for(cluster, manifest).await else {
        return Ok(());
    };
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => progress.success(&format!("{label} deleted")),
        Err(err) if is_not_found(&err) => {}
        Err(err) => {
            return Err(api_error(err, &cluster.server))
                .with_context(|| format!("cannot delete {label}"));
        }
    }
    Ok(())
}
