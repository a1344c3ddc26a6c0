//! A Kustomization whose source is an OCIRepository: manifests pushed to a
//! real registry (`docker-registry` on loopback) as a Flux artifact, pulled,
//! applied; a new push is applied; the previous objects pruned.

use crate::common::Env;
use driftless_source::oci::{OciTarget, pack_directory, push_flux_artifact};
use driftless_testkit::cluster::eventually;
use driftless_testkit::registry::{Registry, RegistryOptions};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// Pushes a directory holding `manifest` as `flux/app:latest`.
async fn push(registry: &Registry, manifest: &str, revision: &str) {
    let dir = tempfile::tempdir().expect("content dir");
    std::fs::write(dir.path().join("app.yaml"), manifest).expect("manifest");
    let content = pack_directory(dir.path(), None, 1 << 20).expect("packed");
    let mut target = OciTarget::new(registry.url("flux/app"), "latest");
    target.insecure = true;
    push_flux_artifact(&target, content, "https://example.com/fleet", revision)
        .await
        .expect("pushed");
}

fn configmap(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  from: oci\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manifests_pushed_to_a_registry_are_applied_and_pruned() {
    let Some(registry) =
        Registry::start_or_skip(&RegistryOptions::default(), "Kustomization from OCI")
    else {
        return;
    };
    push(
        &registry,
        &configmap("first"),
        "main@sha1:1111111111111111111111111111111111111111",
    )
    .await;
    let env = Env::start().await;
    let client = env.client.clone();
    for object in [
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "OCIRepository",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {"interval": "1m", "url": registry.url("flux/app").replace("http://", "oci://"), "insecure": true, "ref": {"tag": "latest"}},
        }),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "app", "namespace": "default"},
            "spec": {"interval": "1m", "prune": true, "sourceRef": {"kind": "OCIRepository", "name": "app"}},
        }),
    ] {
        let api_version = object["apiVersion"].as_str().expect("apiVersion");
        let (group, version) = api_version.split_once('/').expect("group/version");
        let gvk = kube::api::GroupVersionKind::gvk(
            group,
            version,
            object["kind"].as_str().expect("kind"),
        );
        let (resource, _) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .expect("discovered");
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(client.clone(), "default", &resource);
        api.patch(
            "app",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&object),
        )
        .await
        .expect("applied");
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    eventually("the pushed ConfigMap is applied", || async {
        configmaps
            .get_opt("first")
            .await
            .map_err(|e| e.to_string())?
            .map(|_| ())
            .ok_or("not yet".to_owned())
    })
    .await;

    // A new push replaces it; a reconcile request makes the pull now.
    push(
        &registry,
        &configmap("second"),
        "main@sha1:2222222222222222222222222222222222222222",
    )
    .await;
    let repos: Api<driftless_api::OCIRepository> = Api::namespaced(client.clone(), "default");
    repos
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}}),
            ),
        )
        .await
        .expect("requested");
    eventually(
        "the new push is applied and the old object pruned",
        || async {
            let second = configmaps
                .get_opt("second")
                .await
                .map_err(|e| e.to_string())?
                .is_some();
            let first = configmaps
                .get_opt("first")
                .await
                .map_err(|e| e.to_string())?
                .is_some();
            (second && !first)
                .then_some(())
                .ok_or(format!("second: {second}, first: {first}"))
        },
    )
    .await;
    let repo = repos.get("app").await.expect("the OCIRepository");
    let artifact = repo.artifact().cloned().expect("an artifact");
    assert!(
        artifact.revision.starts_with("latest@sha256:"),
        "{}",
        artifact.revision
    );

    // An ExternalArtifact (written by some other controller) serving the
    // same artifact is a source too.
    let externals: Api<driftless_api::ExternalArtifact> =
        Api::namespaced(client.clone(), "default");
    externals
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ExternalArtifact",
                "metadata": {"name": "mirror", "namespace": "default"},
                "spec": {},
            }))
            .expect("an ExternalArtifact"),
        )
        .await
        .expect("ExternalArtifact created");
    externals
        .patch_status(
            "mirror",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"artifact": artifact}})),
        )
        .await
        .expect("its producer writes the artifact");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "mirror"}})).expect("namespace"),
        )
        .await
        .expect("namespace created");
    let mirror: driftless_api::Kustomization = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "mirror", "namespace": "default"},
        "spec": {"interval": "1m", "prune": true, "targetNamespace": "mirror",
                 "sourceRef": {"kind": "ExternalArtifact", "name": "mirror"}},
    }))
    .expect("a Kustomization");
    Api::<driftless_api::Kustomization>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &mirror)
        .await
        .expect("Kustomization created");
    let mirrored: Api<ConfigMap> = Api::namespaced(client.clone(), "mirror");
    eventually("the ExternalArtifact's manifests are applied", || async {
        mirrored
            .get_opt("second")
            .await
            .map_err(|e| e.to_string())?
            .map(|_| ())
            .ok_or("not yet".to_owned())
    })
    .await;
}
