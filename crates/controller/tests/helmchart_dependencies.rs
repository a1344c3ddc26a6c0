//! A HelmChart built from a GitRepository whose `Chart.yaml` depends on a
//! chart in an HTTP repository behind basic auth (lighttpd), not vendored
//! in `charts/`: it is fetched with the credentials of the namespace's
//! HelmRepository for that URL, as Flux's dependency manager does. Without
//! one it is fetched anonymously, refused, and the HelmChart says so.

mod common;

use common::Env;
use common::helm::{apply, create_namespace, podinfo_and_helm, ready_at, request_reconcile};
use driftless_api::{FluxObject as _, HelmChart};
use driftless_testkit::cluster::eventually;
use driftless_testkit::helm_repo::{StaticServer, helm_package, helm_repo_index};
use driftless_testkit::{BASIC_PASSWORD, BASIC_USER, Fixture, GitDaemon};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::json;

const NAMESPACE: &str = "apps";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dependency_is_fetched_with_its_helm_repository_credentials() {
    let Some(chart) = podinfo_and_helm("HelmChart dependency repositories") else {
        return;
    };
    let root = tempfile::tempdir().expect("repository root");
    helm_package(&chart, None, root.path());
    helm_repo_index(root.path(), None);
    let server = StaticServer::start(root.path());
    let repository_url = server.url("basic", "");

    let served = tempfile::tempdir().expect("git root");
    let fixture = Fixture::new(served.path(), "charts");
    fixture.write(
        "umbrella/Chart.yaml",
        &format!(
            "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n- name: podinfo\n  version: \">=6.0.0\"\n  repository: {repository_url}\n"
        ),
    );
    fixture.write("umbrella/values.yaml", "podinfo:\n  replicaCount: 2\n");
    fixture.commit("an umbrella chart");
    let daemon = GitDaemon::start(served.path());

    let env = Env::start().await;
    let client = env.client.clone();
    create_namespace(&client, NAMESPACE).await;
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "charts", "namespace": NAMESPACE},
            "spec": {"interval": "1h", "url": daemon.url("charts"), "ref": {"branch": "main"}},
        }),
    )
    .await;
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmChart",
            "metadata": {"name": "umbrella", "namespace": NAMESPACE},
            "spec": {
                "interval": "1h",
                "chart": "./umbrella",
                "sourceRef": {"kind": "GitRepository", "name": "charts"},
            },
        }),
    )
    .await;

    // No HelmRepository has the URL yet: fetched anonymously, refused.
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), NAMESPACE);
    let condition = |want: &'static str, part: &'static str| {
        let charts = charts.clone();
        async move {
            let chart = charts.get("umbrella").await.map_err(|e| e.to_string())?;
            match common::ready_of(chart.status_conditions()) {
                Some((status, _, message)) if status == want && message.contains(part) => {
                    Ok(message)
                }
                other => Err(format!("{other:?}")),
            }
        }
    };
    let refused = eventually("the anonymous dependency fetch is refused", || {
        condition("False", "cannot add dependency \"podinfo\"")
    })
    .await;
    assert!(refused.contains("HTTP 401"), "{refused}");
    assert!(
        refused.contains("a HelmRepository with this URL"),
        "the hint says what to do: {refused}"
    );

    // With the namespace's HelmRepository for that URL, its credentials.
    apply(
        &client,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "repo-auth", "namespace": NAMESPACE},
            "stringData": {"username": BASIC_USER, "password": BASIC_PASSWORD},
        }),
    )
    .await;
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {"interval": "1h", "url": repository_url, "secretRef": {"name": "repo-auth"}},
        }),
    )
    .await;
    request_reconcile::<HelmChart>(&client, NAMESPACE, "umbrella", "with-credentials").await;
    eventually("the chart builds with its dependency", || {
        condition("True", "")
    })
    .await;

    // The built chart installs, its dependency's objects included.
    apply(
        &client,
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "umbrella", "namespace": NAMESPACE},
            "spec": {
                "interval": "1h",
                "timeout": "20s",
                "chartRef": {"kind": "HelmChart", "name": "umbrella"},
            },
        }),
    )
    .await;
    ready_at(&client, NAMESPACE, "umbrella", 1).await;
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("umbrella-podinfo")
        .await
        .expect("the dependency's Deployment");
    assert_eq!(deployment.spec.and_then(|s| s.replicas), Some(2));
}
