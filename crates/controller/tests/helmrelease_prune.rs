//! What HelmRelease actions delete, as Helm's do, against the sandbox with
//! a small chart served on loopback (lighttpd) and read back by the real
//! `helm` (v4 and v3): an upgrade deletes what left the chart; a rollback
//! after a failed upgrade deletes what that upgrade created (a ConfigMap
//! and a Deployment whose rollout failed); an uninstall remediating a failed
//! install deletes what the install created; and objects annotated
//! `helm.sh/resource-policy: keep` stay through all three — read live for
//! upgrades and rollbacks, from the manifest for uninstalls. A rollback
//! whose deletes are forbidden tries each, fails visibly and leaves the
//! history Helm 4 leaves.

use std::path::{Path, PathBuf};

use crate::common::Env;
use crate::common::helm::{self, apply};
use driftless_api::HelmRelease;
use driftless_api::conditions;
use driftless_testkit::cluster::eventually;
use driftless_testkit::helm_repo::StaticServer;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use serde_json::json;

const NAMESPACE: &str = "apps";

/// A chart of ConfigMaps named by `.Values.configmaps`, ConfigMaps marked
/// `helm.sh/resource-policy: keep` named by `.Values.kept`, and
/// Deployments named by the keys of `.Values.deployments` (whose rollout
/// fails in the sandbox when their `fail` is true).
fn write_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("pruned");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dirs");
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: pruned\nversion: 0.1.0\n",
        ),
        ("values.yaml", "configmaps: []\nkept: []\ndeployments: {}\n"),
        (
            "templates/configmaps.yaml",
            "{{- range .Values.configmaps }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ . }}\ndata:\n  name: {{ . }}\n{{- end }}\n",
        ),
        (
            "templates/kept.yaml",
            "{{- range .Values.kept }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ . }}\n  annotations:\n    helm.sh/resource-policy: keep\ndata:\n  name: {{ . }}\n{{- end }}\n",
        ),
        (
            "templates/deployments.yaml",
            "{{- range $name, $d := .Values.deployments }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ $name }}\n{{- if $d.fail }}\n  annotations:\n    sandbox.driftless.dev/rollout: fail\n{{- end }}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {{ $name }}\n  template:\n    metadata:\n      labels:\n        app: {{ $name }}\n    spec:\n      containers:\n        - name: app\n          image: busybox\n{{- end }}\n",
        ),
    ];
    for (path, text) in files {
        std::fs::write(chart.join(path), text).expect("chart file");
    }
    chart
}

/// A sandbox with the controller, the namespace, and a HelmRepository
/// serving the test chart; the server must outlive the test.
async fn start(home: &Path) -> (Env, StaticServer) {
    helm::serve_chart(&write_chart(home), home, NAMESPACE).await
}

/// HelmRelease `name` with `values`; a failure is retried only after the
/// (long) interval, so each failure is remediated once within a test.
fn helm_release(name: &str, values: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "interval": "10m",
            "timeout": "20s",
            "chart": {"spec": {"chart": "pruned", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
            "install": {"remediation": {"retries": 1}},
            "upgrade": {"remediation": {"retries": 1}},
            "values": values,
        },
    })
}

/// Waits until HelmRelease `name` has a condition `type_` with `reason`.
async fn until_reason(client: &kube::Client, name: &str, type_: &str, reason: &str) -> HelmRelease {
    eventually(&format!("HelmRelease {name}: {type_} {reason}"), || async {
        let hr = helm::release(client, NAMESPACE, name).await;
        match conditions::find(hr.conditions(), type_) {
            Some(c) if c.reason == reason => Ok(hr),
            other => Err(format!(
                "{type_}: {:?}; Ready {:?}",
                other.map(|c| (&c.reason, &c.message)),
                crate::common::ready_of(hr.conditions())
            )),
        }
    })
    .await
}

/// The sorted names of the namespace's objects of kind `K` (the root CA
/// ConfigMap aside).
async fn names<K>(client: &kube::Client) -> Vec<String>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let mut names: Vec<String> = Api::<K>::namespaced(client.clone(), NAMESPACE)
        .list(&Default::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|o| o.meta().name.clone())
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    names.sort();
    names
}

/// Waits until the namespace's objects of kind `K` are `want` (deletion
/// runs in the background).
async fn names_are<K>(client: &kube::Client, want: &[&str])
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    eventually(&format!("{} {want:?}", K::kind(&())), || async {
        let names = names::<K>(client).await;
        if names == want {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
}

async fn configmaps_are(client: &kube::Client, want: &[&str]) {
    names_are::<ConfigMap>(client, want).await;
}

async fn deployments_are(client: &kube::Client, want: &[&str]) {
    names_are::<Deployment>(client, want).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upgrades_rollbacks_and_uninstalls_delete_what_left_the_release() {
    if !helm::helm_or_skip("HelmRelease prune", true) {
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let (env, _server) = start(home.path()).await;
    let client = env.client.clone();
    let kubeconfig = env.cluster.kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().expect("utf8");
    let name = "web";

    // v1: two ConfigMaps and a Deployment.
    apply(
        &client,
        helm_release(
            name,
            json!({"configmaps": ["base", "dropped"], "deployments": {"app": {}}}),
        ),
    )
    .await;
    helm::ready_at(&client, NAMESPACE, name, 1).await;
    configmaps_are(&client, &["base", "dropped"]).await;

    // v2: an upgrade deletes the ConfigMap that left the chart, and adds
    // one Helm must keep.
    apply(
        &client,
        helm_release(
            name,
            json!({"configmaps": ["base"], "kept": ["pinned"], "deployments": {"app": {}}}),
        ),
    )
    .await;
    helm::ready_at(&client, NAMESPACE, name, 2).await;
    configmaps_are(&client, &["base", "pinned"]).await;

    // v3: the kept ConfigMap leaves the chart; its live annotation keeps it.
    apply(
        &client,
        helm_release(
            name,
            json!({"configmaps": ["base"], "deployments": {"app": {}}}),
        ),
    )
    .await;
    helm::ready_at(&client, NAMESPACE, name, 3).await;
    configmaps_are(&client, &["base", "pinned"]).await;

    // v4 adds a ConfigMap, a kept ConfigMap and a Deployment whose rollout
    // fails; the rollback (v5, to 3) deletes what v4 created but the kept
    // one, and leaves v3's objects.
    apply(
        &client,
        helm_release(
            name,
            json!({
                "configmaps": ["base", "extra"],
                "kept": ["guard"],
                "deployments": {"app": {}, "broken": {"fail": true}},
            }),
        ),
    )
    .await;
    let hr = until_reason(&client, name, "Remediated", "RollbackSucceeded").await;
    let ready = crate::common::ready_of(hr.conditions()).expect("Ready");
    assert_eq!(ready.0, "False", "{ready:?}");
    configmaps_are(&client, &["base", "guard", "pinned"]).await;
    deployments_are(&client, &["app"]).await;
    let want = [
        (1, "superseded".to_owned(), "Install complete".to_owned()),
        (2, "superseded".into(), "Upgrade complete".into()),
        (3, "superseded".into(), "Upgrade complete".into()),
        (4, "failed".into(), String::new()),
        (5, "deployed".into(), "Rollback to 3".into()),
    ];
    for binary in ["helm", "helm3"] {
        let seen = helm::history(binary, home.path(), kubeconfig, NAMESPACE, name);
        assert_eq!(seen.len(), want.len(), "{binary}: {seen:?}");
        for (seen, want) in seen.iter().zip(&want) {
            assert_eq!((seen.0, &seen.1), (want.0, &want.1), "{binary}: {seen:?}");
            if !want.2.is_empty() {
                assert_eq!(seen.2, want.2, "{binary}: {seen:?}");
            }
        }
    }

    // v6 takes `pinned` back into the chart; deleting the HelmRelease
    // uninstalls, and the manifest's keep annotation spares it.
    apply(
        &client,
        helm_release(
            name,
            json!({"configmaps": ["base"], "kept": ["pinned"], "deployments": {"app": {}}}),
        ),
    )
    .await;
    helm::ready_at(&client, NAMESPACE, name, 6).await;
    Api::<HelmRelease>::namespaced(client.clone(), NAMESPACE)
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete the HelmRelease");
    configmaps_are(&client, &["guard", "pinned"]).await;
    deployments_are(&client, &[]).await;

    // An install whose Deployment fails is uninstalled with what it made.
    let failing = "failing";
    apply(
        &client,
        helm_release(
            failing,
            json!({"configmaps": ["made"], "deployments": {"stuck": {"fail": true}}}),
        ),
    )
    .await;
    until_reason(&client, failing, "Remediated", "UninstallSucceeded").await;
    configmaps_are(&client, &["guard", "pinned"]).await;
    deployments_are(&client, &[]).await;
}

/// Service account `limited` in the test namespace: everything on core
/// objects, Deployments but their deletion, reads elsewhere.
const LIMITED_ACCOUNT: &str = "apiVersion: v1
kind: ServiceAccount
metadata: {name: limited, namespace: apps}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: limited, namespace: apps}
rules:
- {apiGroups: [''], resources: ['*'], verbs: ['*']}
- {apiGroups: [apps], resources: [deployments], verbs: [get, list, watch, create, update, patch]}
- {apiGroups: ['*'], resources: ['*'], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: limited, namespace: apps}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: limited}
subjects:
- {kind: ServiceAccount, name: limited, namespace: apps}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_whose_deletes_fail_tries_each_and_supersedes_the_failed_revision() {
    if !helm::helm_or_skip("HelmRelease failed rollback", true) {
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let (env, _server) = start(home.path()).await;
    let client = env.client.clone();
    let (code, out, err) = env
        .cluster
        .kubectl(&["apply", "-f", "-"], Some(LIMITED_ACCOUNT))
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let kubeconfig = env.cluster.kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().expect("utf8");
    let name = "web";
    let limited = |values: serde_json::Value| {
        let mut hr = helm_release(name, values);
        hr["spec"]["serviceAccountName"] = json!("limited");
        hr
    };

    apply(&client, limited(json!({"configmaps": ["base"]}))).await;
    helm::ready_at(&client, NAMESPACE, name, 1).await;

    // v2's Deployments fail their rollout; the rollback to 1 must delete
    // both, and the service account may not.
    apply(
        &client,
        limited(json!({
            "configmaps": ["base"],
            "deployments": {"one": {"fail": true}, "two": {"fail": true}},
        })),
    )
    .await;
    let hr = until_reason(&client, name, "Remediated", "RollbackFailed").await;
    let remediated = conditions::find(hr.conditions(), "Remediated").expect("Remediated");
    assert_eq!(remediated.status, "False");
    let message = &remediated.message;
    assert!(
        message.starts_with(
            "Helm rollback to previous release apps/web.v1 with chart pruned@0.1.0 failed: "
        ),
        "{message}"
    );
    assert!(
        message.contains("Deployment/apps/one: delete forbidden"),
        "{message}"
    );
    assert!(
        message.contains(" && Deployment/apps/two: delete forbidden"),
        "{message}"
    );
    deployments_are(&client, &["one", "two"]).await;

    // Helm 4's record of a failed rollback update: the revision rolled
    // back from superseded, the rollback failed, the target left deployed.
    for binary in ["helm", "helm3"] {
        let seen = helm::history(binary, home.path(), kubeconfig, NAMESPACE, name);
        let statuses: Vec<(i64, &str)> = seen.iter().map(|(v, s, _)| (*v, s.as_str())).collect();
        assert_eq!(
            statuses,
            [(1, "deployed"), (2, "superseded"), (3, "failed")],
            "{binary}: {seen:?}"
        );
        assert!(
            seen[2].2.starts_with("Rollback \"web\" failed: "),
            "{binary}: {seen:?}"
        );
    }
}
