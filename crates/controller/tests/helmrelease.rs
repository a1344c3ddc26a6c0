//! HelmReleases end to end: a chart pushed by the real `helm push` to a real
//! registry (`docker-registry` on loopback), pulled by an OCIRepository,
//! installed and upgraded by a HelmRelease in the sandbox — and the real
//! `helm` reading what we recorded (`list`, `history`, `get values`).
//! Bad values fail visibly with nothing uninstalled; a failed upgrade is
//! rolled back; deleting the HelmRelease uninstalls it.

use std::path::Path;
use std::process::Command;

use crate::common::Env;
use crate::common::helm::{self, helm, podinfo_and_helm};
use driftless_api::HelmRelease;
use driftless_testkit::cluster::eventually;
use driftless_testkit::registry::{Registry, RegistryOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const NAMESPACE: &str = "apps";

/// `helm history podinfo -o json` of the test's release, as the real helm reads it.
fn helm_history(home: &Path, kubeconfig: &str) -> serde_json::Value {
    let out = helm(
        home,
        &[
            "history",
            "podinfo",
            "-n",
            NAMESPACE,
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ],
    );
    serde_json::from_str(&out).expect("helm history json")
}

/// Packages the chart and pushes it to `registry` as `charts/podinfo`.
fn push_chart(home: &Path, chart: &Path, registry: &Registry) {
    let packaged = home.join("packaged");
    helm(
        home,
        &[
            "package",
            chart.to_str().expect("utf8"),
            "-d",
            packaged.to_str().expect("utf8"),
        ],
    );
    let tgz = std::fs::read_dir(&packaged)
        .expect("packaged")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .expect("a .tgz");
    helm(
        home,
        &[
            "push",
            tgz.to_str().expect("utf8"),
            &format!("oci://{}/charts", registry.host()),
            "--plain-http",
        ],
    );
}

/// Server-side applies `object` in the test's namespace.
async fn apply(client: &kube::Client, mut object: serde_json::Value) {
    object["metadata"]["namespace"] = json!(NAMESPACE);
    helm::apply(client, object).await;
}

fn helm_release(registry_values: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE},
        "spec": {
            "interval": "1m",
            "timeout": "20s",
            "chartRef": {"kind": "OCIRepository", "name": "podinfo"},
            "valuesFrom": [{"kind": "ConfigMap", "name": "podinfo-values"}],
            "values": registry_values,
            "upgrade": {"remediation": {"retries": 1}},
        }
    })
}

async fn release(client: &kube::Client) -> HelmRelease {
    helm::release(client, NAMESPACE, "podinfo").await
}

async fn ready_at(client: &kube::Client, revision: i64) -> HelmRelease {
    helm::ready_at(client, NAMESPACE, "podinfo", revision).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chart_from_a_registry_installs_upgrades_rolls_back_and_uninstalls() {
    let Some(chart) = podinfo_and_helm("HelmRelease end to end") else {
        return;
    };
    let Some(registry) =
        Registry::start_or_skip(&RegistryOptions::default(), "HelmRelease end to end")
    else {
        return;
    };
    let home = tempfile::tempdir().expect("helm home");
    push_chart(home.path(), &chart, &registry);

    let env = Env::start().await;
    let client = env.client.clone();
    helm::create_namespace(&client, NAMESPACE).await;
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "OCIRepository",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {
                "interval": "1m",
                "url": registry.url("charts/podinfo").replace("http://", "oci://"),
                "insecure": true,
                "ref": {"semver": ">=6.0.0"},
                "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
            }
        }),
    )
    .await;

    // A missing values ConfigMap fails visibly, and nothing is installed.
    apply(&client, helm_release(json!({"ui": {"message": "hello"}}))).await;
    eventually("the missing ConfigMap is reported", || async {
        let hr = release(&client).await;
        match crate::common::ready_of(hr.conditions()) {
            Some((status, _, message))
                if status == "False" && message.contains("ConfigMap 'apps/podinfo-values'") =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let records = |secrets: Api<Secret>| async move {
        secrets
            .list(&ListParams::default().labels("owner=helm,name=podinfo"))
            .await
            .expect("list")
            .items
            .len()
    };
    assert_eq!(
        records(secrets.clone()).await,
        0,
        "nothing released without the values"
    );

    // With the values the release installs as revision 1.
    Api::<ConfigMap>::namespaced(client.clone(), NAMESPACE)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "podinfo-values"}, "data": {"values.yaml": "replicaCount: 2\n"}})).expect("cm"),
        )
        .await
        .expect("values ConfigMap");
    // As `driftless reconcile hr` does: this ConfigMap has no watch label, so its change is seen at the interval (as in Flux).
    Api::<HelmRelease>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "values-created"}}})),
        )
        .await
        .expect("reconcile requested");
    let hr = ready_at(&client, 1).await;
    let latest = hr.latest_snapshot().expect("a snapshot");
    assert_eq!(
        (latest.chart_name.as_str(), latest.status.as_str()),
        ("podinfo", "deployed")
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let deployment = deployments
        .get("podinfo")
        .await
        .expect("the chart's Deployment");
    assert_eq!(
        deployment.spec.as_ref().and_then(|s| s.replicas),
        Some(2),
        "valuesFrom applied"
    );
    let annotations = deployment.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("meta.helm.sh/release-name")
            .map(String::as_str),
        Some("podinfo")
    );

    // The real helm reads our record.
    let kubeconfig = env.cluster.kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().expect("utf8");
    let list = helm(
        home.path(),
        &[
            "list",
            "-n",
            NAMESPACE,
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ],
    );
    let list: serde_json::Value = serde_json::from_str(&list).expect("helm list json");
    assert_eq!(list[0]["name"], "podinfo", "{list}");
    assert_eq!(list[0]["status"], "deployed", "{list}");
    assert_eq!(list[0]["revision"], "1", "{list}");
    let values = helm(
        home.path(),
        &[
            "get",
            "values",
            "podinfo",
            "-n",
            NAMESPACE,
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ],
    );
    let values: serde_json::Value = serde_json::from_str(&values).expect("helm get values json");
    assert_eq!(
        values,
        json!({"replicaCount": 2, "ui": {"message": "hello"}})
    );

    // A values change in the spec upgrades to revision 2.
    apply(&client, helm_release(json!({"ui": {"message": "changed"}}))).await;
    ready_at(&client, 2).await;
    let history = helm_history(home.path(), kubeconfig);
    let statuses: Vec<&str> = history
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["superseded", "deployed"], "{history}");

    // commonMetadata alone (the chart's manifest unchanged) is an upgrade too.
    let mut labelled = helm_release(json!({"ui": {"message": "changed"}}));
    labelled["spec"]["commonMetadata"] = json!({"labels": {"team": "web"}});
    apply(&client, labelled).await;
    ready_at(&client, 3).await;
    let deployment = deployments.get("podinfo").await.expect("the Deployment");
    assert_eq!(
        deployment
            .metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("web")
    );

    // An upgrade whose Deployment fails its rollout is rolled back.
    let mut failing = helm_release(json!({"ui": {"message": "broken"}}));
    failing["spec"]["postRenderers"] = json!([{"kustomize": {"patches": [{
        "target": {"kind": "Deployment", "name": "podinfo"},
        "patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\n  annotations:\n    sandbox.driftless.dev/rollout: fail\n",
    }]}}]);
    apply(&client, failing).await;
    eventually("the failed upgrade is rolled back", || async {
        let hr = release(&client).await;
        let remediated = driftless_api::conditions::find(hr.conditions(), "Remediated")
            .map(|c| (c.status.clone(), c.reason.clone()));
        match remediated {
            Some((status, reason)) if status == "True" && reason == "RollbackSucceeded" => Ok(()),
            other => Err(format!(
                "{other:?} {:?}",
                crate::common::ready_of(hr.conditions())
            )),
        }
    })
    .await;
    let history = helm_history(home.path(), kubeconfig);
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["status"], "deployed", "{history}");
    assert_eq!(last["description"], "Rollback to 3", "{history}");
    let deployment = deployments.get("podinfo").await.expect("the Deployment");
    assert!(
        !deployment
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("sandbox.driftless.dev/rollout"),
        "the rollback put back revision 3's Deployment"
    );

    // A new chart version whose template fails to render fails the release
    // visibly; the deployed revision and its objects stay as they were.
    let broken = home.path().join("broken");
    let copied = Command::new("cp")
        .args([
            "-r",
            chart.to_str().expect("utf8"),
            broken.to_str().expect("utf8"),
        ])
        .status()
        .expect("cp runs");
    assert!(copied.success());
    std::fs::write(
        broken.join("templates/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  value: {{ .Values.nope.deeper }}\n",
    )
    .expect("a broken template");
    let packaged = home.path().join("packaged-broken");
    helm(
        home.path(),
        &[
            "package",
            broken.to_str().expect("utf8"),
            "--version",
            "99.0.0",
            "-d",
            packaged.to_str().expect("utf8"),
        ],
    );
    let tgz = packaged.join("podinfo-99.0.0.tgz");
    helm(
        home.path(),
        &[
            "push",
            tgz.to_str().expect("utf8"),
            &format!("oci://{}/charts", registry.host()),
            "--plain-http",
        ],
    );
    let revisions_before = records(secrets.clone()).await;
    Api::<driftless_api::OCIRepository>::namespaced(client.clone(), NAMESPACE)
        .patch(
            "podinfo",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "broken-chart"}}})),
        )
        .await
        .expect("pull requested");
    eventually("the broken chart fails the release visibly", || async {
        let hr = release(&client).await;
        match crate::common::ready_of(hr.conditions()) {
            Some((status, reason, message))
                if status == "False"
                    && reason == "BuildFailed"
                    && message.contains("templates/broken.yaml") =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(
        records(secrets.clone()).await,
        revisions_before,
        "no release was recorded for the broken chart"
    );
    let history = helm_history(home.path(), kubeconfig);
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        last["status"], "deployed",
        "the last good revision stays deployed: {history}"
    );
    assert!(
        deployments
            .get_opt("podinfo")
            .await
            .expect("read")
            .is_some(),
        "nothing was uninstalled"
    );

    // Deleting the HelmRelease uninstalls the release.
    Api::<HelmRelease>::namespaced(client.clone(), NAMESPACE)
        .delete("podinfo", &DeleteParams::default())
        .await
        .expect("deleted");
    eventually("the release is uninstalled", || async {
        let gone = deployments
            .get_opt("podinfo")
            .await
            .map_err(|e| e.to_string())?
            .is_none();
        let records = records(secrets.clone()).await;
        (gone && records == 0)
            .then_some(())
            .ok_or(format!("deployment gone: {gone}, records: {records}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chart_from_an_http_repository_through_a_templated_helm_chart() {
    let Some(chart) = podinfo_and_helm("HelmRelease from an HTTP repository") else {
        return;
    };
    let root = tempfile::tempdir().expect("repository root");
    driftless_testkit::helm_repo::helm_package(&chart, None, root.path());
    driftless_testkit::helm_repo::helm_repo_index(root.path(), None);
    let server = driftless_testkit::helm_repo::StaticServer::start(root.path());

    let env = Env::start().await;
    let client = env.client.clone();
    helm::create_namespace(&client, NAMESPACE).await;
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "repo-auth"},
                "stringData": {"username": driftless_testkit::BASIC_USER, "password": driftless_testkit::BASIC_PASSWORD},
            }))
            .expect("secret"),
        )
        .await
        .expect("credentials Secret");
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {"interval": "1m", "url": server.url("basic", ""), "secretRef": {"name": "repo-auth"}},
        }),
    )
    .await;
    apply(
        &client,
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {
                "interval": "1m",
                "timeout": "20s",
                "chart": {"spec": {"chart": "podinfo", "version": ">=6.0.0", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
                "values": {"replicaCount": 3},
            }
        }),
    )
    .await;
    let hr = ready_at(&client, 1).await;
    assert_eq!(
        hr.status.as_ref().and_then(|s| s.helm_chart.as_deref()),
        Some("apps/apps-podinfo")
    );
    let charts: Api<driftless_api::HelmChart> = Api::namespaced(client.clone(), NAMESPACE);
    let made = charts
        .get("apps-podinfo")
        .await
        .expect("the HelmChart made for spec.chart");
    let labels = made.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("helm.toolkit.fluxcd.io/name")
            .map(String::as_str),
        Some("podinfo")
    );
    assert!(
        made.artifact().is_some_and(|a| a.path.ends_with(".tgz")),
        "{:?}",
        made.status
    );
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("podinfo")
        .await
        .expect("the chart's Deployment");
    assert_eq!(deployment.spec.and_then(|s| s.replicas), Some(3));

    Api::<HelmRelease>::namespaced(client.clone(), NAMESPACE)
        .delete("podinfo", &DeleteParams::default())
        .await
        .expect("deleted");
    eventually("the HelmChart made for it is deleted too", || async {
        match charts
            .get_opt("apps-podinfo")
            .await
            .map_err(|e| e.to_string())?
        {
            None => Ok(()),
            Some(_) => Err("still there".to_owned()),
        }
    })
    .await;
}
