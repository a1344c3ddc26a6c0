//! What an accepted webhook does: every object a Receiver names gets
//! `reconcile.fluxcd.io/requestedAt` set to now, so its reconciler runs at
//! once (Flux's receivers do the same; the annotation is also what
//! `flux reconcile` writes).

use std::collections::BTreeMap;

use driftless_api::annotations::RECONCILE_REQUESTED_AT;
use driftless_api::{EventSource, managers};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;

/// Flux's kinds a Receiver may name, with the API version used when the
/// resource gives none.
const FLUX_KINDS: &[(&str, &str, &str)] = &[
    ("GitRepository", "source.toolkit.fluxcd.io", "v1"),
    ("OCIRepository", "source.toolkit.fluxcd.io", "v1"),
    ("HelmRepository", "source.toolkit.fluxcd.io", "v1"),
    ("HelmChart", "source.toolkit.fluxcd.io", "v1"),
    ("Bucket", "source.toolkit.fluxcd.io", "v1"),
    ("Kustomization", "kustomize.toolkit.fluxcd.io", "v1"),
    ("HelmRelease", "helm.toolkit.fluxcd.io", "v2"),
    ("ImageRepository", "image.toolkit.fluxcd.io", "v1"),
    ("ImagePolicy", "image.toolkit.fluxcd.io", "v1"),
    ("ImageUpdateAutomation", "image.toolkit.fluxcd.io", "v1"),
    ("ArtifactGenerator", "source.extensions.fluxcd.io", "v1beta1"),
    ("ExternalArtifact", "source.toolkit.fluxcd.io", "v1"),
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
        source: kube::Error,
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
    let (group, version) = group_version(target)?;
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&group, &version, &target.kind),
        &format!("{}s", target.kind.to_lowercase()),
    );
    let namespace = target.namespace.as_deref().unwrap_or(default_namespace);
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let failed = |name: &str, source| AnnotateError::Api {
        kind: target.kind.clone(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        source,
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

/// The resource's API group and version: its own `apiVersion`, else the
/// one Flux serves the kind at.
fn group_version(target: &EventSource) -> Result<(String, String), AnnotateError> {
    if let Some(api_version) = &target.api_version {
        return Ok(match api_version.split_once('/') {
            Some((group, version)) => (group.to_owned(), version.to_owned()),
            None => (String::new(), api_version.clone()),
        });
    }
    FLUX_KINDS
        .iter()
        .find(|(kind, _, _)| *kind == target.kind)
        .map(|(_, group, version)| ((*group).to_owned(), (*version).to_owned()))
        .ok_or_else(|| AnnotateError::UnknownKind {
            kind: target.kind.clone(),
        })
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
            group_version(&target("Kustomization")).expect("known"),
            ("kustomize.toolkit.fluxcd.io".into(), "v1".into())
        );
        assert_eq!(
            group_version(&target("HelmRelease")).expect("known").1,
            "v2"
        );
        assert!(group_version(&target("Deployment")).is_err());
        let explicit = EventSource {
            api_version: Some("source.toolkit.fluxcd.io/v1beta2".into()),
            ..target("GitRepository")
        };
        assert_eq!(group_version(&explicit).expect("given").1, "v1beta2");
        let labels = BTreeMap::from([("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())]);
        assert_eq!(selector(Some(&labels)), "a=1,b=2");
    }
}
