//! The ExternalArtifacts a generator publishes: applied with its labels
//! (`app.kubernetes.io/managed-by`, the generator's UID) and an owner
//! reference, their status holding the stored artifact; deleted with their
//! stored artifacts when they leave the generator's spec or the generator
//! goes.
//!
//! The status is written only when the artifact changed, so consumers are
//! not woken by a regeneration that produced the same bytes.

use std::collections::BTreeMap;

use driftless_api::conditions::{self, reasons};
use driftless_api::meta::Artifact;
use driftless_api::{
    ArtifactGenerator, ExternalArtifact, ExternalArtifactReference, GENERATOR_LABEL, managers,
};
use driftless_source::ArtifactKey;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use crate::Context;
use crate::reconciler::ReconcileError;

/// Where a generated artifact is stored.
pub(super) fn storage_key(namespace: &str, name: &str) -> ArtifactKey {
    ArtifactKey::new("externalartifact", namespace, name)
}

/// Creates or updates the ExternalArtifact `name` to serve `artifact`.
pub(super) async fn publish(
    generator: &ArtifactGenerator,
    name: &str,
    artifact: &Artifact,
    now: &Time,
    context: &Context,
) -> Result<(), ReconcileError> {
    let namespace = generator.namespace().unwrap_or_default();
    let api: Api<ExternalArtifact> = Api::namespaced(context.client.clone(), &namespace);
    let failed = |action: &str, e: kube::Error| {
        ReconcileError::retryable(
            reasons::RECONCILIATION_FAILED,
            format!(
                "{name} reconcile failed: cannot {action} ExternalArtifact '{namespace}/{name}': {e}"
            ),
        )
    };
    let object = desired(generator, name);
    api.patch(
        name,
        &PatchParams::apply(managers::SOURCE_WATCHER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map_err(|e| failed("apply", e))?;
    let current = api.get_status(name).await.map_err(|e| failed("read", e))?;
    let same = current.artifact().is_some_and(|a| {
        a.digest == artifact.digest
            && a.revision == artifact.revision
            && a.url == artifact.url
            && a.metadata == artifact.metadata
    });
    if same && conditions::is_true(current.conditions(), conditions::types::READY) {
        return Ok(());
    }
    let mut list = current.conditions().to_vec();
    conditions::set_condition(
        &mut list,
        conditions::ready(reasons::SUCCEEDED, "Artifact is ready"),
        now,
    );
    let patch = serde_json::json!({
        "status": { "artifact": artifact, "conditions": list }
    });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| failed("write the status of", e))?;
    Ok(())
}

/// The ExternalArtifact as the generator wants it (metadata and spec).
fn desired(generator: &ArtifactGenerator, name: &str) -> serde_json::Value {
    let mut labels = BTreeMap::new();
    let mut annotations = BTreeMap::new();
    if let Some(common) = &generator.spec.common_metadata {
        labels.extend(common.labels.clone().unwrap_or_default());
        annotations.extend(common.annotations.clone().unwrap_or_default());
    }
    // Reserved: common metadata cannot override them.
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        managers::SOURCE_WATCHER.to_owned(),
    );
    labels.insert(
        GENERATOR_LABEL.to_owned(),
        generator.uid().unwrap_or_default(),
    );
    let owner = generator.controller_owner_ref(&());
    let mut metadata = serde_json::json!({
        "name": name,
        "namespace": generator.namespace(),
        "labels": labels,
        "ownerReferences": owner.into_iter().collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        metadata["annotations"] = serde_json::json!(annotations);
    }
    serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "ExternalArtifact",
        "metadata": metadata,
        "spec": {
            "sourceRef": {
                "apiVersion": ArtifactGenerator::api_version(&()),
                "kind": ArtifactGenerator::kind(&()),
                "name": generator.name_any(),
                "namespace": generator.namespace(),
            }
        }
    })
}

/// Deletes the ExternalArtifacts of `references` and their stored
/// artifacts; failures are logged, as source-watcher does (an orphan left
/// behind is retried on the next change, never blocks this one).
pub(super) async fn remove(references: &[ExternalArtifactReference], context: &Context) {
    for reference in references {
        let key = storage_key(&reference.namespace, &reference.name);
        if let Err(error) = context.fetcher.storage().remove_all(&key) {
            tracing::warn!(%key, %error, "cannot remove the artifacts of a generated ExternalArtifact");
        }
        let api: Api<ExternalArtifact> =
            Api::namespaced(context.client.clone(), &reference.namespace);
        match api.delete(&reference.name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => tracing::warn!(
                namespace = %reference.namespace,
                name = %reference.name,
                %error,
                "cannot delete a generated ExternalArtifact"
            ),
        }
    }
}

/// The generated ExternalArtifacts `references` lists that `current` does not.
pub(super) fn orphans(
    previous: &[ExternalArtifactReference],
    current: &[ExternalArtifactReference],
) -> Vec<ExternalArtifactReference> {
    previous
        .iter()
        .filter(|p| {
            !current
                .iter()
                .any(|c| c.name == p.name && c.namespace == p.namespace)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str) -> ExternalArtifactReference {
        ExternalArtifactReference {
            name: name.into(),
            namespace: "default".into(),
            digest: "sha256:1".into(),
            filename: "1.tar.gz".into(),
        }
    }

    #[test]
    fn orphans_are_the_names_no_longer_generated() {
        let previous = [reference("a"), reference("b")];
        let mut changed = reference("a");
        changed.digest = "sha256:2".into();
        let orphans = orphans(&previous, &[changed]);
        assert_eq!(orphans, [reference("b")]);
    }

    #[test]
    fn the_external_artifact_carries_sourcewatchers_labels_and_an_owner() {
        let mut generator = ArtifactGenerator::new("gen", Default::default());
        generator.metadata.namespace = Some("apps".into());
        generator.metadata.uid = Some("uid-1".into());
        generator.spec.common_metadata = Some(driftless_api::CommonMetadata {
            labels: Some(BTreeMap::from([
                ("team".to_owned(), "a".to_owned()),
                (GENERATOR_LABEL.to_owned(), "forged".to_owned()),
            ])),
            annotations: None,
        });
        let object = desired(&generator, "out");
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["team"], "a");
        assert_eq!(labels[GENERATOR_LABEL], "uid-1", "reserved labels win");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "source-watcher");
        assert_eq!(object["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(
            object["spec"]["sourceRef"]["apiVersion"],
            "source.extensions.fluxcd.io/v1beta1"
        );
        assert!(object["metadata"].get("annotations").is_none());
    }
}
