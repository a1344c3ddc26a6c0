//! What an accepted webhook does: every object a Receiver names gets
//! `reconcile.fluxcd.io/requestedAt` set to now, so its reconciler runs at
//! once (Flux's receivers do the same; the annotation is also what
//! `flux reconcile` writes).

use std::collections::BTreeMap;

use driftless_api::annotations::RECONCILE_REQUESTED_AT;
use driftless_api::{EventSource, managers};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;

/// Flux's kinds a Receiver may name: group, the version used when the
/// resource gives none, and the plural.
const FLUX_KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "GitRepository",
        "source.toolkit.fluxcd.io",
        "v1",
        "gitrepositories",
    ),
    (
        "OCIRepository",
        "source.toolkit.fluxcd.io",
        "v1",
        "ocirepositories",
    ),
    (
        "HelmRepository",
        "source.toolkit.fluxcd.io",
        "v1",
        "helmrepositories",
    ),
    ("HelmChart", "source.toolkit.fluxcd.io", "v1", "helmcharts"),
    ("Bucket", "source.toolkit.fluxcd.io", "v1", "buckets"),
    (
        "Kustomization",
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "kustomizations",
    ),
    (
        "HelmRelease",
        "helm.toolkit.fluxcd.io",
        "v2",
        "helmreleases",
    ),
    (
        "ImageRepository",
        "image.toolkit.fluxcd.io",
        "v1",
        "imagerepositories",
    ),
    (
        "ImagePolicy",
        "image.toolkit.fluxcd.io",
        "v1",
        "imagepolicies",
    ),
    (
        "ImageUpdateAutomation",
        "image.toolkit.fluxcd.io",
        "v1",
        "imageupdateautomations",
    ),
    (
        "ArtifactGenerator",
        "source.extensions.fluxcd.io",
        "v1beta1",
        "artifactgenerators",
    ),
    (
        "ExternalArtifact",
        "source.toolkit.fluxcd.io",
        "v1",
        "externalartifacts",
    ),
];

/// Why an object could not be asked to reconcile.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AnnotateError {
    #[error("{kind} is not a kind a Receiver can reconcile; use one of Flux's kinds")]
    UnknownKind { kind: String },
    #[error("cannot request a reconcile of {kind} {namespace}/{name}")]
    Api {
        kind: String,
        namespace: String,
        name: String,
        #[source]
        source: Box<kube::Error>,
    },
}

/// Sets `requestedAt` on every object `target` names (in `default_namespace`
/// unless it names another); returns how many were annotated.
pub(crate) async fn request_reconcile(
    client: &kube::Client,
    target: &EventSource,
    default_namespace: &str,
    requested_at: &str,
) -> Result<usize, AnnotateError> {
    let (group, version, plural) = resource_of(target)?;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&group, &version, &target.kind),
        plural,
    );
    let namespace = target.namespace.as_deref().unwrap_or(default_namespace);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let failed = |name: &str, source| AnnotateError::Api {
        kind: target.kind.clone(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source: Box::new(source),
    };
    let names: Vec<String> = if target.name == "*" {
        let selector = selector(target.match_labels.as_ref());
        api.list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| failed("*", e))?
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect()
    } else {
        vec![target.name.clone()]
    };
    let patch = serde_json::json!({
        "metadata": {"annotations": {RECONCILE_REQUESTED_AT: requested_at}}
    });
    let params = PatchParams {
        field_manager: Some(managers::NOTIFICATION_CONTROLLER.to_owned()),
        ..PatchParams::default()
    };
    for name in &names {
        api.patch(name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| failed(name, e))?;
    }
    Ok(names.len())
}

/// The resource's API group, version and plural: its own `apiVersion`
/// when given, else the version Flux serves the kind at.
fn resource_of(target: &EventSource) -> Result<(String, String, &'static str), AnnotateError> {
    let (_, group, version, plural) = FLUX_KINDS
        .iter()
        .find(|(kind, ..)| *kind == target.kind)
        .ok_or_else(|| AnnotateError::UnknownKind {
            kind: target.kind.clone(),
        })?;
    let version = target
        .api_version
        .as_deref()
        .and_then(|v| v.rsplit_once('/'))
        .map_or(*version, |(_, v)| v);
    Ok(((*group).to_owned(), version.to_owned(), plural))
}

/// `matchLabels` as a label selector (`a=1,b=2`).
fn selector(labels: Option<&BTreeMap<String, String>>) -> String {
    labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_resolve_to_flux_api_versions() {
        let target = |kind: &str| EventSource {
            kind: kind.into(),
            name: "x".into(),
            ..EventSource::default()
        };
        assert_eq!(
            resource_of(&target("Kustomization")).expect("known"),
            (
                "kustomize.toolkit.fluxcd.io".into(),
                "v1".into(),
                "kustomizations"
            )
        );
        assert_eq!(resource_of(&target("HelmRelease")).expect("known").1, "v2");
        assert_eq!(
            resource_of(&target("ImagePolicy")).expect("known").2,
            "imagepolicies"
        );
        assert!(resource_of(&target("Deployment")).is_err());
        let explicit = EventSource {
            api_version: Some("source.toolkit.fluxcd.io/v1beta2".into()),
            ..target("GitRepository")
        };
        assert_eq!(resource_of(&explicit).expect("given").1, "v1beta2");
        let labels = BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        assert_eq!(selector(Some(&labels)), "a=1,b=2");
    }
}
