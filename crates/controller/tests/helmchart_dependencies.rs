//! A HelmChart built from a GitRepository whose `Chart.yaml` depends on a
//! chart not vendored in `charts/`, in an HTTP repository behind basic auth
//! (lighttpd) or in an OCI registry behind htpasswd (`docker-registry`,
//! filled by the real `helm push`): it is fetched with the credentials of
//! the namespace's HelmRepository for that URL, as Flux's dependency
//! manager does. Without one it is fetched anonymously, refused, and the
//! HelmChart says so; the built chart installs through a HelmRelease.

use crate::common::Env;
use crate::common::helm::{
    apply, create_namespace, helm, podinfo_and_helm, ready_at, request_reconcile,
};
use driftless_api::{FluxObject as _, HelmChart};
use driftless_testkit::cluster::eventually;
use driftless_testkit::helm_repo::{StaticServer, helm_package, helm_repo_index};
use driftless_testkit::registry::{Registry, RegistryOptions};
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
    let refused = chart_condition(&client, "False", "cannot add dependency \"podinfo\"").await;
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
    chart_condition(&client, "True", "").await;
    installs_with_its_dependency(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oci_dependency_is_pulled_with_its_oci_helm_repository_credentials() {
    const USER: &str = "flux";
    const PASSWORD: &str = "correct-horse-battery";
    const WRONG: &str = "wrong-password-zebra";
    let test = "HelmChart oci:// dependencies";
    let Some(chart) = podinfo_and_helm(test) else {
        return;
    };
    let options = RegistryOptions {
        htpasswd: Some((USER.into(), PASSWORD.into())),
        ..RegistryOptions::default()
    };
    let Some(registry) = Registry::start_or_skip(&options, test) else {
        return;
    };
    let home = tempfile::tempdir().expect("helm home");
    let packaged = helm_package(&chart, None, &home.path().join("packaged"));
    let repository_url = registry.url("charts");
    helm(
        home.path(),
        &[
            "push",
            packaged.to_str().expect("utf8"),
            &repository_url,
            "--plain-http",
            "--username",
            USER,
            "--password",
            PASSWORD,
        ],
    );

    let served = tempfile::tempdir().expect("git root");
    let fixture = Fixture::new(served.path(), "charts");
    // A trailing `/` on the dependency's URL still finds the HelmRepository.
    fixture.write(
        "umbrella/Chart.yaml",
        &format!(
            "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n- name: podinfo\n  version: \">=6.0.0 <7.0.0\"\n  repository: {repository_url}/\n"
        ),
    );
    fixture.write("umbrella/values.yaml", "podinfo:\n  replicaCount: 2\n");
    fixture.commit("an umbrella chart over a registry");
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

    // No HelmRepository for the registry: pulled anonymously over HTTPS,
    // which this plain-HTTP registry cannot answer; the message names the
    // dependency and the registry.
    let unreached = chart_condition(
        &client,
        "False",
        &format!("cannot add dependency \"podinfo\" from {repository_url}"),
    )
    .await;
    assert!(unreached.contains(&registry.host()), "{unreached}");

    // The namespace's OCI HelmRepository (plain HTTP) without a Secret:
    // anonymous, refused, and the hint says what to add.
    let chart_api: Api<HelmChart> = Api::namespaced(client.clone(), NAMESPACE);
    let handled = |token: &'static str| {
        let chart_api = chart_api.clone();
        async move {
            eventually(&format!("HelmChart umbrella handled {token}"), || async {
                let chart = chart_api.get("umbrella").await.map_err(|e| e.to_string())?;
                let handled = chart
                    .status
                    .as_ref()
                    .and_then(|s| s.last_handled_reconcile_at.as_deref())
                    == Some(token);
                match crate::common::ready_of(chart.status_conditions()) {
                    Some((status, _, message)) if handled && status == "False" => Ok(message),
                    other => Err(format!("handled {handled}: {other:?}")),
                }
            })
            .await
        }
    };
    let helm_repository = |secret: Option<&str>| {
        let mut spec =
            json!({"interval": "1h", "type": "oci", "url": repository_url, "insecure": true});
        if let Some(name) = secret {
            spec["secretRef"] = json!({"name": name});
        }
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "registry", "namespace": NAMESPACE},
            "spec": spec,
        })
    };
    apply(&client, helm_repository(None)).await;
    request_reconcile::<HelmChart>(&client, NAMESPACE, "umbrella", "anonymous").await;
    let refused = handled("anonymous").await;
    assert!(
        refused.contains(&format!(
            "cannot add dependency \"podinfo\" from {repository_url}"
        )),
        "{refused}"
    );
    assert!(
        refused.contains("a HelmRepository of type oci with this URL"),
        "the hint says what to do: {refused}"
    );

    // With a password the registry refuses: still refused, and the
    // password is shown nowhere.
    let credentials = |password: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "registry-auth", "namespace": NAMESPACE},
            "stringData": {"username": USER, "password": password},
        })
    };
    apply(&client, credentials(WRONG)).await;
    apply(&client, helm_repository(Some("registry-auth"))).await;
    request_reconcile::<HelmChart>(&client, NAMESPACE, "umbrella", "wrong-password").await;
    let wrong = handled("wrong-password").await;
    assert!(
        wrong.contains("cannot add dependency \"podinfo\""),
        "{wrong}"
    );
    assert!(!wrong.contains(WRONG), "no password in {wrong}");

    // The right password: the dependency is pulled and added to charts/.
    apply(&client, credentials(PASSWORD)).await;
    request_reconcile::<HelmChart>(&client, NAMESPACE, "umbrella", "right-password").await;
    let built = chart_condition(&client, "True", "").await;
    assert!(!built.contains(PASSWORD), "{built}");
    installs_with_its_dependency(&client).await;

    // The registry gone, the unchanged chart keeps its artifact and stays
    // Ready: whether the last artifact serves is decided before anything
    // is pulled, as in Flux.
    let revision = |chart: &HelmChart| {
        chart
            .status
            .as_ref()
            .and_then(|s| s.artifact.as_ref())
            .map(|a| a.revision.clone())
    };
    let before = revision(&chart_api.get("umbrella").await.expect("chart"));
    drop(registry);
    request_reconcile::<HelmChart>(&client, NAMESPACE, "umbrella", "registry-gone").await;
    let after = eventually(
        "HelmChart umbrella still Ready without its registry",
        || async {
            let chart = chart_api.get("umbrella").await.map_err(|e| e.to_string())?;
            let handled = chart
                .status
                .as_ref()
                .and_then(|s| s.last_handled_reconcile_at.as_deref())
                == Some("registry-gone");
            match crate::common::ready_of(chart.status_conditions()) {
                Some((status, _, _)) if handled && status == "True" => Ok(revision(&chart)),
                other => Err(format!("handled {handled}: {other:?}")),
            }
        },
    )
    .await;
    assert_eq!(after, before);
}

/// Waits until HelmChart `umbrella` is Ready `want` with a message holding
/// `part`; returns the message.
async fn chart_condition(client: &kube::Client, want: &str, part: &str) -> String {
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), NAMESPACE);
    eventually(
        &format!("HelmChart umbrella Ready={want} with {part:?}"),
        || async {
            let chart = charts.get("umbrella").await.map_err(|e| e.to_string())?;
            match crate::common::ready_of(chart.status_conditions()) {
                Some((status, _, message)) if status == want && message.contains(part) => {
                    Ok(message)
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// A HelmRelease of the built chart installs, its dependency's objects
/// (with the umbrella's values) included.
async fn installs_with_its_dependency(client: &kube::Client) {
    apply(
        client,
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
    ready_at(client, NAMESPACE, "umbrella", 1).await;
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("umbrella-podinfo")
        .await
        .expect("the dependency's Deployment");
    assert_eq!(deployment.spec.and_then(|s| s.replicas), Some(2));
}
