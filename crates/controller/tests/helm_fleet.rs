//! A fleet repository shaped like fluxcd/flux2-kustomize-helm-example, synced
//! in the sandbox: a GitRepository; a Kustomization `infrastructure` that
//! applies a HelmRepository (a chart repository served by lighttpd) and a
//! HelmRelease with `wait`; a Kustomization `apps` that depends on it and
//! applies an app HelmRelease whose values an overlay patches per
//! environment. Everything becomes Ready; a values change in git upgrades
//! the release.

use crate::common::world::World;
use driftless_api::{HelmRelease, Kustomization};
use driftless_testkit::cluster::eventually;
use driftless_testkit::helm_repo::{StaticServer, helm_available, helm_package, helm_repo_index};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::json;

fn podinfo() -> Option<std::path::PathBuf> {
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-conformance/charts/podinfo");
    if helm_available() && chart.is_dir() {
        return Some(chart);
    }
    assert!(
        std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
        "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH or {chart:?} is missing"
    );
    println!("SKIPPED: helm fleet: helm not on PATH or {chart:?} missing");
    None
}

fn helm_release(name: &str, namespace: &str, depends_on: Option<&str>, values: &str) -> String {
    let depends = depends_on.map_or_else(String::new, |d| {
        format!("  dependsOn:\n    - name: {d}\n      namespace: infra\n")
    });
    format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  interval: 1m\n  timeout: 30s\n  chart:\n    spec:\n      chart: podinfo\n      version: \">=6.0.0\"\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n        namespace: infra\n{depends}  values:\n{values}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_of_kustomizations_and_helm_releases_syncs_and_upgrades() {
    let Some(chart) = podinfo() else {
        return;
    };
    let root = tempfile::tempdir().expect("chart repository root");
    helm_package(&chart, None, root.path());
    helm_repo_index(root.path(), None);
    let charts = StaticServer::start(root.path());

    let world = World::start().await;
    let fixture = &world.fixture;
    fixture.write(
        "infrastructure/namespaces.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: infra\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n",
    );
    fixture.write(
        "infrastructure/repository.yaml",
        &format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: infra\nspec:\n  interval: 1m\n  url: {}\n",
            charts.url("anon", "")
        ),
    );
    fixture.write(
        "infrastructure/controller.yaml",
        &helm_release("infra-controller", "infra", None, "    replicaCount: 1\n"),
    );
    fixture.write(
        "apps/base/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n",
    );
    fixture.write(
        "apps/base/release.yaml",
        &helm_release(
            "web",
            "apps",
            Some("infra-controller"),
            "    ui:\n      message: base\n",
        ),
    );
    fixture.write(
        "apps/production/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\npatches:\n  - path: values.yaml\n    target:\n      kind: HelmRelease\n      name: web\n",
    );
    fixture.write(
        "apps/production/values.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  values:\n    replicaCount: 2\n",
    );
    fixture.commit("fleet");

    let kustomizations: Api<Kustomization> = Api::namespaced(world.env.client.clone(), "default");
    for (name, path, depends) in [
        ("infrastructure", "./infrastructure", None),
        ("apps", "./apps/production", Some("infrastructure")),
    ] {
        let mut ks: Kustomization = serde_json::from_value(json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"interval": "1m", "prune": true, "wait": true, "timeout": "1m", "path": path,
                     "sourceRef": {"kind": "GitRepository", "name": "fleet"}},
        }))
        .expect("a Kustomization");
        if let Some(dependency) = depends {
            ks.spec.depends_on = Some(vec![driftless_api::DependencyReference {
                name: dependency.into(),
                namespace: None,
                ready_expr: None,
            }]);
        }
        kustomizations
            .create(&PostParams::default(), &ks)
            .await
            .expect("Kustomization created");
    }

    let client = world.env.client.clone();
    let ready = |namespace: &'static str, name: &'static str| {
        let client = client.clone();
        async move {
            let hr: Option<HelmRelease> = Api::namespaced(client, namespace)
                .get_opt(name)
                .await
                .map_err(|e| e.to_string())?;
            let hr = hr.ok_or("not applied yet".to_owned())?;
            let latest = hr.latest_snapshot().map(|s| (s.version, s.status.clone()));
            match crate::common::ready_of(hr.conditions()) {
                Some((status, _, _)) if status == "True" => Ok(latest),
                other => Err(format!("{other:?} {latest:?}")),
            }
        }
    };
    eventually("the infrastructure release is Ready", || {
        ready("infra", "infra-controller")
    })
    .await;
    eventually("the app release is Ready", || ready("apps", "web")).await;
    eventually("both Kustomizations are Ready", || async {
        let list = kustomizations
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let states: Vec<_> = list
            .items
            .iter()
            .map(|k| {
                (
                    k.metadata.name.clone(),
                    crate::common::ready_of(k.conditions()),
                )
            })
            .collect();
        states
            .iter()
            .all(|(_, r)| r.as_ref().is_some_and(|(s, _, _)| s == "True"))
            .then_some(())
            .ok_or(format!("{states:?}"))
    })
    .await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "apps");
    let web = deployments
        .get("web-podinfo")
        .await
        .expect("the app's Deployment");
    assert_eq!(
        web.spec.and_then(|s| s.replicas),
        Some(2),
        "the overlay's values"
    );

    // A values change in git becomes a Helm upgrade (revision 2).
    fixture.write(
        "apps/production/values.yaml",
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  values:\n    replicaCount: 3\n",
    );
    fixture.commit("scale web");
    eventually("the app is upgraded to revision 2", || async {
        match ready("apps", "web").await? {
            Some((2, status)) if status == "deployed" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let web = deployments
        .get("web-podinfo")
        .await
        .expect("the app's Deployment");
    assert_eq!(web.spec.and_then(|s| s.replicas), Some(3));
}
