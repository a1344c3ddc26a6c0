//! What the Helm tests share: the podinfo chart of the shared corpus, the
//! real `helm` with homes of its own, server-side apply of Flux-format
//! objects, and waits on a HelmRelease and its Helm release records.

use std::path::{Path, PathBuf};
use std::process::Command;

use driftless_api::HelmRelease;
use driftless_testkit::cluster::eventually;
use driftless_testkit::helm_repo::{StaticServer, helm_package, helm_repo_index};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{Env, ready_of};

/// The podinfo chart of the shared corpus, or `None` (after saying so)
/// when it or `helm` is missing; fails under `DRIFTLESS_REQUIRE_SHARED=1`.
pub fn podinfo_and_helm(test: &str) -> Option<PathBuf> {
    let chart = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-conformance/charts/podinfo");
    if driftless_testkit::helm_repo::helm_available() && chart.is_dir() {
        return Some(chart);
    }
    assert!(
        std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
        "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH or {chart:?} is missing"
    );
    println!("SKIPPED: {test}: helm not on PATH or {chart:?} missing");
    None
}

/// Whether `helm` (and `helm3`, `with_helm3`) are on `PATH`; says
/// `SKIPPED` and returns false when not, unless shared tools are required.
pub fn helm_or_skip(test: &str, with_helm3: bool) -> bool {
    let helm3 = !with_helm3
        || Command::new("helm3")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
    if driftless_testkit::helm_repo::helm_available() && helm3 {
        return true;
    }
    assert!(
        std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
        "DRIFTLESS_REQUIRE_SHARED=1 but helm (or helm3) is not on PATH"
    );
    println!("SKIPPED: {test}: helm or helm3 not on PATH");
    false
}

/// Runs the real `helm` with its own homes under `home`; returns stdout.
pub fn helm(home: &Path, args: &[&str]) -> String {
    helm_as("helm", home, args)
}

/// [`helm`] with another binary (`helm3`).
pub fn helm_as(binary: &str, home: &Path, args: &[&str]) -> String {
    let out = Command::new(binary)
        .args(args)
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .output()
        .expect("helm runs");
    assert!(
        out.status.success(),
        "{binary} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A sandbox with the controller, namespace `namespace`, and a
/// HelmRepository `charts` there serving `chart` (packaged and indexed by
/// the real `helm` under `home`); the server must outlive the test.
pub async fn serve_chart(chart: &Path, home: &Path, namespace: &str) -> (Env, StaticServer) {
    let root = home.join("repository");
    helm_package(chart, None, &root);
    helm_repo_index(&root, None);
    let server = StaticServer::start(&root);
    let env = Env::start().await;
    create_namespace(&env.client, namespace).await;
    apply(
        &env.client,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": namespace},
            "spec": {"interval": "1m", "url": server.url("anon", "")},
        }),
    )
    .await;
    (env, server)
}

/// `helm history` (or `helm3`'s, `binary`) of release `name` in
/// `namespace`, as (revision, status, description).
pub fn history(
    binary: &str,
    home: &Path,
    kubeconfig: &str,
    namespace: &str,
    name: &str,
) -> Vec<(i64, String, String)> {
    let out = helm_as(
        binary,
        home,
        &[
            "history",
            name,
            "-n",
            namespace,
            "-o",
            "json",
            "--kubeconfig",
            kubeconfig,
        ],
    );
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("helm history json");
    parsed
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &kube::Client, name: &str) {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace"),
        )
        .await
        .expect("namespace created");
}

/// Server-side applies a namespaced object given as Flux-format JSON.
pub async fn apply(client: &kube::Client, object: serde_json::Value) {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} is set"))
            .to_owned()
    };
    let (api_version, kind) = (text("/apiVersion"), text("/kind"));
    let (namespace, name) = (text("/metadata/namespace"), text("/metadata/name"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
    let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .expect("discovered");
    let api: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), &namespace, &resource);
    api.patch(
        &name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(object),
    )
    .await
    .expect("applied");
}

/// Merge-patches a namespaced object of type `K`.
pub async fn merge<K>(client: &kube::Client, namespace: &str, name: &str, patch: serde_json::Value)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patched");
}

/// Asks for a reconcile of a namespaced object, as `driftless reconcile` does.
pub async fn request_reconcile<K>(client: &kube::Client, namespace: &str, name: &str, token: &str)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    merge::<K>(
        client,
        namespace,
        name,
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}}),
    )
    .await;
}

/// The HelmRelease `namespace/name`.
pub async fn release(client: &kube::Client, namespace: &str, name: &str) -> HelmRelease {
    Api::<HelmRelease>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .expect("the HelmRelease")
}

/// Waits until the HelmRelease is Ready with `revision` as its newest
/// release, and returns it.
pub async fn ready_at(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    revision: i64,
) -> HelmRelease {
    eventually(
        &format!("HelmRelease {namespace}/{name} ready at revision {revision}"),
        || async {
            let hr = release(client, namespace, name).await;
            let ready = ready_of(hr.conditions());
            match (&ready, hr.latest_snapshot()) {
                (Some((status, _, _)), Some(latest))
                    if status == "True" && latest.version == revision =>
                {
                    Ok(hr)
                }
                _ => Err(format!(
                    "{ready:?}, latest {:?}",
                    hr.latest_snapshot().map(|s| (s.version, s.status.clone()))
                )),
            }
        },
    )
    .await
}

/// Waits until the HelmRelease is `Ready=False` with a message containing
/// every one of `parts`; returns the message.
pub async fn failed_with(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    parts: &[&str],
) -> String {
    eventually(
        &format!("HelmRelease {namespace}/{name} Ready=False naming {parts:?}"),
        || async {
            let hr = release(client, namespace, name).await;
            match ready_of(hr.conditions()) {
                Some((status, _, message))
                    if status == "False" && parts.iter().all(|p| message.contains(p)) =>
                {
                    Ok(message)
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// (revision, status) of each record of release `name` in `namespace`,
/// oldest first, from the labels of Helm's release Secrets.
pub async fn records(client: &kube::Client, namespace: &str, name: &str) -> Vec<(i64, String)> {
    let mut found: Vec<(i64, String)> = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(&format!("owner=helm,name={name}")))
        .await
        .expect("list release records")
        .items
        .into_iter()
        .map(|secret| {
            let labels = secret.metadata.labels.unwrap_or_default();
            let version = labels
                .get("version")
                .and_then(|v| v.parse().ok())
                .unwrap_or_default();
            (version, labels.get("status").cloned().unwrap_or_default())
        })
        .collect();
    found.sort();
    found
}
