//! HelmRelease failure paths end to end, each from a deployed release: a
//! chart version that does not exist, a registry that does not answer,
//! credentials the registry refuses, `valuesFrom` that cannot be read (a
//! missing ConfigMap, a missing key, text that is not YAML) and a broken
//! chart published to an HTTP repository. Each must fail visibly — the
//! HelmRelease `Ready=False` naming the cause, an event, the source's own
//! condition — with nothing uninstalled and the last good release still
//! deployed; once the cause is fixed the release converges (upgrading
//! where the values changed).
//!
//! Real servers: `docker-registry` with htpasswd auth, charts pushed by the
//! real `helm push`; lighttpd serving `helm repo index` output.

use std::path::Path;

use crate::common::Env;
use crate::common::helm::{
    apply, create_namespace, failed_with, helm, merge, podinfo_and_helm, ready_at, records,
    request_reconcile,
};
use base64::Engine as _;
use driftless_api::{HelmChart, HelmRepository, OCIRepository};
use driftless_testkit::cluster::{eventually, http_get};
use driftless_testkit::helm_repo::{StaticServer, helm_package, helm_repo_index};
use driftless_testkit::registry::{Registry, RegistryOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;

const NAMESPACE: &str = "apps";
const USER: &str = "flux";
const PASSWORD: &str = "correct-horse-battery";
const WRONG: &str = "wrong-password-zebra";
/// The podinfo chart's version in the shared corpus.
const VERSION: &str = "6.14.1";

fn docker_config(host: &str, password: &str) -> serde_json::Value {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "registry-auth", "namespace": NAMESPACE},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json!({"auths": {host: {"auth": auth}}}).to_string()},
    })
}

/// A values ConfigMap, labelled so that a change to it is seen at once.
fn values_configmap(name: &str, data: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"reconcile.fluxcd.io/watch": "Enabled"},
        },
        "data": data,
    })
}

/// Release `podinfo` is still at `want` (revision, status pairs), and the
/// chart's Deployment is still there with `replicas`.
async fn last_good_kept(client: &kube::Client, want: &[(i64, &str)], replicas: i32) {
    let found = records(client, NAMESPACE, "podinfo").await;
    let want: Vec<(i64, String)> = want.iter().map(|(v, s)| (*v, (*s).to_owned())).collect();
    assert_eq!(found, want, "the release records are unchanged");
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get_opt("podinfo")
        .await
        .expect("read the Deployment")
        .expect("nothing was uninstalled");
    assert_eq!(
        deployment.spec.and_then(|s| s.replicas),
        Some(replicas),
        "the deployed revision's objects stay as they were"
    );
}

/// A Warning event on `name` whose message contains `part`.
async fn warned(client: &kube::Client, name: &str, part: &str) {
    eventually(
        &format!("a Warning event on {name} naming {part:?}"),
        || async {
            let events = crate::common::event_messages(client, NAMESPACE, name).await;
            events
                .iter()
                .any(|e| e.starts_with("Warning") && e.contains(part))
                .then_some(())
                .ok_or(format!("{events:?}"))
        },
    )
    .await;
}

/// The source's `Ready=False` message, once it has one containing `part`.
async fn source_failed<K>(client: &kube::Client, name: &str, part: &str) -> String
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + driftless_api::FluxObject
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), NAMESPACE);
    eventually(
        &format!("{} {name} Ready=False naming {part:?}", K::KIND),
        || async {
            let source = api.get(name).await.map_err(|e| e.to_string())?;
            match crate::common::ready_of(source.status_conditions()) {
                Some((status, _, message)) if status == "False" && message.contains(part) => {
                    Ok(message)
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// Waits until the repository's index lists `version` (or no longer
/// does): lighttpd caches a file's stat (and so its ETag) for a moment, and
/// a poll inside that moment would be told nothing changed.
async fn index_lists(server: &StaticServer, version: &str, listed: bool) {
    let url = server.url("anon", "index.yaml");
    eventually(&format!("the index lists {version}: {listed}"), || async {
        let (status, body) = http_get(&url)?;
        let found = String::from_utf8_lossy(&body).contains(&format!("version: {version}"));
        (status == 200 && found == listed)
            .then_some(())
            .ok_or(format!("HTTP {status}, lists {version}: {found}"))
    })
    .await;
}

fn push(home: &Path, chart: &Path, registry: &Registry) {
    let packaged = helm_package(chart, None, &home.join("packaged"));
    helm(
        home,
        &[
            "push",
            packaged.to_str().expect("utf8"),
            &format!("oci://{}/charts", registry.host()),
            "--plain-http",
            "--username",
            USER,
            "--password",
            PASSWORD,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_and_values_failures_keep_the_last_good_release() {
    let test = "HelmRelease failures from a registry";
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
    push(home.path(), &chart, &registry);

    let env = Env::start().await;
    let client = env.client.clone();
    create_namespace(&client, NAMESPACE).await;
    apply(&client, docker_config(&registry.host(), PASSWORD)).await;
    apply(
        &client,
        values_configmap(
            "podinfo-values",
            json!({"values.yaml": "replicaCount: 2\n"}),
        ),
    )
    .await;
    let oci_repository = |url: &str, tag: &str| {
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "OCIRepository",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {
                "interval": "1m",
                "url": url,
                "insecure": true,
                "ref": {"tag": tag},
                "secretRef": {"name": "registry-auth"},
                "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "operation": "copy"},
            }
        })
    };
    let url = registry.url("charts/podinfo");
    apply(&client, oci_repository(&url, VERSION)).await;
    let helm_release = |values_from: serde_json::Value| {
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {
                "interval": "1h",
                "timeout": "20s",
                "chartRef": {"kind": "OCIRepository", "name": "podinfo"},
                "valuesFrom": values_from,
            }
        })
    };
    let from_default = json!([{"kind": "ConfigMap", "name": "podinfo-values"}]);
    apply(&client, helm_release(from_default.clone())).await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;
    last_good_kept(&client, &[(1, "deployed")], 2).await;

    // A tag that does not exist: the OCIRepository fails, and so does the
    // release, naming its source.
    apply(&client, oci_repository(&url, "9.9.9")).await;
    let message = source_failed::<OCIRepository>(&client, "podinfo", "9.9.9").await;
    failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &["OCIRepository 'apps/podinfo' is not ready", "9.9.9"],
    )
    .await;
    warned(&client, "podinfo", &message).await;
    last_good_kept(&client, &[(1, "deployed")], 2).await;
    apply(&client, oci_repository(&url, VERSION)).await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;

    // A registry that does not answer (a port nothing listens on).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let unreachable = format!("oci://127.0.0.1:{closed}/charts/podinfo");
    apply(&client, oci_repository(&unreachable, VERSION)).await;
    source_failed::<OCIRepository>(&client, "podinfo", &format!("127.0.0.1:{closed}")).await;
    failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &[
            "OCIRepository 'apps/podinfo' is not ready",
            &format!("127.0.0.1:{closed}"),
        ],
    )
    .await;
    last_good_kept(&client, &[(1, "deployed")], 2).await;
    apply(&client, oci_repository(&url, VERSION)).await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;

    // Credentials the registry refuses; the password is never shown.
    apply(&client, docker_config(&registry.host(), WRONG)).await;
    request_reconcile::<OCIRepository>(&client, NAMESPACE, "podinfo", "wrong-password").await;
    let message = failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &["OCIRepository 'apps/podinfo' is not ready"],
    )
    .await;
    assert!(
        !message.contains(WRONG) && !message.contains(PASSWORD),
        "{message}"
    );
    let source = source_failed::<OCIRepository>(&client, "podinfo", "").await;
    assert!(
        source.to_lowercase().contains("auth") || source.contains("401"),
        "the source names the refusal: {source}"
    );
    last_good_kept(&client, &[(1, "deployed")], 2).await;
    apply(&client, docker_config(&registry.host(), PASSWORD)).await;
    request_reconcile::<OCIRepository>(&client, NAMESPACE, "podinfo", "right-password").await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;

    // valuesFrom naming a ConfigMap that does not exist; creating it (with
    // the watch label) upgrades at once.
    let from_other = json!([{"kind": "ConfigMap", "name": "other-values"}]);
    apply(&client, helm_release(from_other.clone())).await;
    failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &["ConfigMap 'apps/other-values'"],
    )
    .await;
    warned(&client, "podinfo", "ConfigMap 'apps/other-values'").await;
    last_good_kept(&client, &[(1, "deployed")], 2).await;
    apply(
        &client,
        values_configmap("other-values", json!({"values.yaml": "replicaCount: 3\n"})),
    )
    .await;
    ready_at(&client, NAMESPACE, "podinfo", 2).await;
    last_good_kept(&client, &[(1, "superseded"), (2, "deployed")], 3).await;

    // A valuesKey the ConfigMap does not have; adding the key upgrades.
    let from_key = json!([{"kind": "ConfigMap", "name": "other-values", "valuesKey": "prod.yaml"}]);
    apply(&client, helm_release(from_key)).await;
    failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &["missing key 'prod.yaml'", "ConfigMap 'apps/other-values'"],
    )
    .await;
    last_good_kept(&client, &[(1, "superseded"), (2, "deployed")], 3).await;
    merge::<ConfigMap>(
        &client,
        NAMESPACE,
        "other-values",
        json!({"data": {"prod.yaml": "replicaCount: 4\n"}}),
    )
    .await;
    ready_at(&client, NAMESPACE, "podinfo", 3).await;

    // Text that is not YAML: the message names the key and the object, not
    // the text; putting YAML back upgrades.
    merge::<ConfigMap>(
        &client,
        NAMESPACE,
        "other-values",
        json!({"data": {"prod.yaml": "replicaCount: [5\n"}}),
    )
    .await;
    let message = failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &[
            "cannot read values from key 'prod.yaml'",
            "ConfigMap 'apps/other-values'",
        ],
    )
    .await;
    assert!(!message.contains("[5"), "{message}");
    let kept = [(1, "superseded"), (2, "superseded"), (3, "deployed")];
    last_good_kept(&client, &kept, 4).await;
    merge::<ConfigMap>(
        &client,
        NAMESPACE,
        "other-values",
        json!({"data": {"prod.yaml": "replicaCount: 5\n"}}),
    )
    .await;
    ready_at(&client, NAMESPACE, "podinfo", 4).await;
    let deployment = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .get("podinfo")
        .await
        .expect("the Deployment");
    assert_eq!(deployment.spec.and_then(|s| s.replicas), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn values_sources_are_watched_only_when_labelled() {
    let test = "watched values sources";
    let Some(chart) = podinfo_and_helm(test) else {
        return;
    };
    let root = tempfile::tempdir().expect("repository root");
    helm_package(&chart, None, root.path());
    helm_repo_index(root.path(), None);
    let server = StaticServer::start(root.path());

    let env = Env::start().await;
    let client = env.client.clone();
    create_namespace(&client, NAMESPACE).await;
    apply(
        &client,
        values_configmap("labelled", json!({"values.yaml": "replicaCount: 2\n"})),
    )
    .await;
    apply(
        &client,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unlabelled", "namespace": NAMESPACE},
            "data": {"values.yaml": "ui:\n  message: one\n"},
        }),
    )
    .await;
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {"interval": "1h", "url": server.url("anon", "")},
        }),
    )
    .await;
    // The interval is what an unlabelled change waits for.
    let interval = std::time::Duration::from_secs(20);
    apply(
        &client,
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {
                "interval": "20s",
                "timeout": "20s",
                "chart": {"spec": {"chart": "podinfo", "version": VERSION, "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
                "valuesFrom": [
                    {"kind": "ConfigMap", "name": "labelled"},
                    {"kind": "ConfigMap", "name": "unlabelled"},
                ],
            }
        }),
    )
    .await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;

    // A labelled ConfigMap's change upgrades within seconds.
    let changed = std::time::Instant::now();
    merge::<ConfigMap>(
        &client,
        NAMESPACE,
        "labelled",
        json!({"data": {"values.yaml": "replicaCount: 3\n"}}),
    )
    .await;
    ready_at(&client, NAMESPACE, "podinfo", 2).await;
    assert!(
        changed.elapsed() < interval / 2,
        "the labelled change was seen in {:?}, not at the interval",
        changed.elapsed()
    );

    // An unlabelled one waits for the interval.
    merge::<ConfigMap>(
        &client,
        NAMESPACE,
        "unlabelled",
        json!({"data": {"values.yaml": "ui:\n  message: two\n"}}),
    )
    .await;
    tokio::time::sleep(interval / 4).await;
    assert_eq!(
        records(&client, NAMESPACE, "podinfo").await.len(),
        2,
        "no upgrade before the interval"
    );
    ready_at(&client, NAMESPACE, "podinfo", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chart_repository_failures_keep_the_last_good_release() {
    let test = "HelmRelease failures from an HTTP repository";
    let Some(chart) = podinfo_and_helm(test) else {
        return;
    };
    let root = tempfile::tempdir().expect("repository root");
    helm_package(&chart, None, root.path());
    helm_repo_index(root.path(), None);
    let server = StaticServer::start(root.path());

    let env = Env::start().await;
    let client = env.client.clone();
    create_namespace(&client, NAMESPACE).await;
    apply(
        &client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {"interval": "1h", "url": server.url("anon", "")},
        }),
    )
    .await;
    let helm_release = |version: &str| {
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": NAMESPACE},
            "spec": {
                "interval": "1h",
                "timeout": "20s",
                "chart": {"spec": {"chart": "podinfo", "version": version, "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}},
                "values": {"replicaCount": 2},
            }
        })
    };
    apply(&client, helm_release(">=6.0.0")).await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;

    // A version the repository does not have: the HelmChart made for the
    // release fails, and so does the release.
    apply(&client, helm_release("9.9.9")).await;
    let message = source_failed::<HelmChart>(&client, "apps-podinfo", "9.9.9").await;
    failed_with(
        &client,
        NAMESPACE,
        "podinfo",
        &["HelmChart 'apps/apps-podinfo' is not ready", "9.9.9"],
    )
    .await;
    warned(&client, "podinfo", &message).await;
    last_good_kept(&client, &[(1, "deployed")], 2).await;
    apply(&client, helm_release(">=6.0.0")).await;
    ready_at(&client, NAMESPACE, "podinfo", 1).await;

    // A broken chart published as a new version: the render fails, no
    // revision is recorded; taking it out of the index converges back.
    let broken = root.path().join("broken-src");
    let copied = std::process::Command::new("cp")
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
    let package = helm_package(&broken, Some("99.0.0"), root.path());
    std::fs::remove_dir_all(&broken).expect("sources removed");
    helm_repo_index(root.path(), None);
    index_lists(&server, "99.0.0", true).await;
    request_reconcile::<HelmRepository>(&client, NAMESPACE, "podinfo", "broken-chart").await;
    failed_with(&client, NAMESPACE, "podinfo", &["templates/broken.yaml"]).await;
    warned(&client, "podinfo", "templates/broken.yaml").await;
    last_good_kept(&client, &[(1, "deployed")], 2).await;
    std::fs::remove_file(package).expect("broken package removed");
    helm_repo_index(root.path(), None);
    index_lists(&server, "99.0.0", false).await;
    request_reconcile::<HelmRepository>(&client, NAMESPACE, "podinfo", "fixed-chart").await;
    let hr = ready_at(&client, NAMESPACE, "podinfo", 1).await;
    assert_eq!(
        hr.latest_snapshot().map(|s| s.chart_version.clone()),
        Some(VERSION.to_owned())
    );
    last_good_kept(&client, &[(1, "deployed")], 2).await;
}
