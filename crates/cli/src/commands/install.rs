//! `driftless install`: the CRDs and the controller's manifests, applied
//! with server-side apply or printed with `--export`.
//!
//! The manifests are built here as plain JSON (one function per object) so
//! `--export` and the apply path share them exactly, and `uninstall` finds
//! the same objects. The controller gets least-privilege RBAC for its own
//! work; applying arbitrary workloads needs more, so, as Flux does, a
//! separate `driftless-reconciler` binding grants `cluster-admin`. That
//! binding is the one to tighten (or to replace with per-Kustomization
//! `serviceAccountName`s) on a shared cluster.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::cluster::{Cluster, GlobalArgs, api_error, connect};
use crate::flux::{humanize, parse_go_duration};
use crate::output::{Progress, write_stdout, yaml_stream};

/// The namespace the controller runs in.
pub const NAMESPACE: &str = "driftless-system";
/// The name of the controller's Deployment, ServiceAccount, Service, roles
/// and leader-election Lease.
pub const CONTROLLER: &str = "driftless-controller";
/// The binding that lets the controller apply arbitrary workloads.
pub const RECONCILER_BINDING: &str = "driftless-reconciler";
/// The image the Deployment runs: this build's version.
pub const IMAGE: &str = concat!(
    "ghcr.io/driftless-dev/driftless:",
    env!("CARGO_PKG_VERSION")
);

const LABELS: [(&str, &str); 3] = [
    ("app.kubernetes.io/name", CONTROLLER),
    ("app.kubernetes.io/part-of", "driftless"),
    ("app.kubernetes.io/version", env!("CARGO_PKG_VERSION")),
];

#[derive(clap::Args)]
pub struct Args {
    /// Print the manifests as one YAML stream instead of applying them.
    #[arg(long)]
    export: bool,
    /// Do not wait for the controller Deployment to become available.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the CRDs and the Deployment.
    #[arg(long, default_value = "5m", value_parser = parse_go_duration)]
    timeout: Duration,
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let manifests = manifests()?;
    if args.export {
        return write_stdout(&yaml_stream(&manifests)?);
    }
    let cluster = connect(global).await?;
    let progress = Progress::new();
    progress.action(&format!(
        "installing driftless {} into {}",
        env!("CARGO_PKG_VERSION"),
        cluster.server
    ));
    for manifest in &manifests {
        apply(&cluster, manifest).await?;
        progress.success(&format!("{} applied", object_label(manifest)));
    }
    let deadline = Instant::now() + args.timeout;
    progress
        .spin(
            "waiting for the CRDs to be established",
            wait_for_crds(&cluster, deadline),
        )
        .await
        .with_context(|| format!("within {}", humanize(args.timeout)))?;
    progress.success("CRDs established");
    if !args.no_wait {
        progress.waiting("waiting for the controller to become available");
        progress
            .spin(
                "waiting for the controller to become available",
                wait_for_deployment(&cluster, deadline),
            )
            .await
            .with_context(|| {
                format!(
                    "Deployment {NAMESPACE}/{CONTROLLER} is not available after {}; see `kubectl -n {NAMESPACE} describe deployment {CONTROLLER}`",
                    humanize(args.timeout)
                )
            })?;
        progress.success("controller available");
    }
    progress.success("install finished");
    Ok(())
}

/// `Kind/name` or `Kind/namespace/name`.
pub fn object_label(manifest: &Value) -> String {
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
    match manifest["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Finds the API resource of a manifest through discovery.
pub async fn resource_of(cluster: &Cluster, manifest: &Value) -> anyhow::Result<ApiResource> {
    let api_version = manifest["apiVersion"].as_str().unwrap_or_default();
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, _) = kube::discovery::pinned_kind(&cluster.client, &gvk)
        .await
        .map_err(|err| api_error(err, &cluster.server))
        .with_context(|| format!("the cluster does not serve {api_version} {kind}"))?;
    Ok(resource)
}

/// The dynamic API of a manifest's kind, in its namespace if it has one.
pub async fn api_for(cluster: &Cluster, manifest: &Value) -> anyhow::Result<Api<DynamicObject>> {
    let resource = resource_of(cluster, manifest).await?;
    Ok(match manifest["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &resource),
        None => Api::all_with(cluster.client.clone(), &resource),
    })
}

pub async fn apply(cluster: &Cluster, manifest: &Value) -> anyhow::Result<()> {
    let api = api_for(cluster, manifest).await?;
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
    api.patch(
        name,
        &PatchParams::apply(driftless_api::managers::CLI).force(),
        &Patch::Apply(manifest),
    )
    .await
    .map_err(|err| api_error(err, &cluster.server))
    .with_context(|| format!("cannot apply {}", object_label(manifest)))?;
    Ok(())
}

pub async fn wait_for_crds(cluster: &Cluster, deadline: Instant) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    for crd in driftless_api::crds() {
        let name = crd.metadata.name.unwrap_or_default();
        loop {
            let served = api
                .get(&name)
                .await
                .map_err(|err| api_error(err, &cluster.server))
                .with_context(|| format!("cannot read CRD {name}"))?;
            let established = served
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            sleep_until_next_poll(deadline)
                .await
                .with_context(|| format!("CRD {name} is not established"))?;
        }
    }
    Ok(())
}

async fn wait_for_deployment(cluster: &Cluster, deadline: Instant) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    loop {
        let deployment = api
            .get(CONTROLLER)
            .await
            .map_err(|err| api_error(err, &cluster.server))
            .with_context(|| format!("cannot read Deployment {NAMESPACE}/{CONTROLLER}"))?;
        let available = deployment
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Available" && c.status == "True");
        if available {
            return Ok(());
        }
        sleep_until_next_poll(deadline).await?;
    }
}

async fn sleep_until_next_poll(deadline: Instant) -> anyhow::Result<()> {
    let now = Instant::now();
    if now >= deadline {
        bail!("timed out");
    }
    tokio::time::sleep(crate::flux::POLL_INTERVAL.min(deadline - now)).await;
    Ok(())
}

/// Everything `install` applies, CRDs first (so a single `kubectl apply`
/// of the export creates the kinds before anything could use them).
pub fn manifests() -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for crd in driftless_api::crds() {
        out.push(
            serde_json::to_value(&crd)
                .context("internal error: cannot serialize a CRD; please report this")?,
        );
    }
    out.extend(controller_manifests());
    Ok(out)
}

/// The controller's objects (without the CRDs), in apply order.
pub fn controller_manifests() -> Vec<Value> {
    vec![
        namespace(),
        service_account(),
        cluster_role(),
        cluster_role_binding(),
        reconciler_binding(),
        lease_role(),
        lease_role_binding(),
        deployment(),
        service(),
        receiver_service(),
        network_policy(),
    ]
}

fn labels() -> Value {
    LABELS
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn selector_labels() -> Value {
    json!({"app.kubernetes.io/name": CONTROLLER})
}

fn namespace() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": labels()},
    })
}

fn service_account() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": CONTROLLER, "namespace": NAMESPACE, "labels": labels()},
    })
}

/// What the controller itself needs: its own kinds, events, the secrets
/// and config maps sources and substitutions reference, and impersonation
/// for `spec.serviceAccountName`.
fn cluster_role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": CONTROLLER, "labels": labels()},
        "rules": [
            {
                "apiGroups": ["source.toolkit.fluxcd.io"],
                "resources": [
                    "gitrepositories", "gitrepositories/status", "gitrepositories/finalizers",
                    "helmrepositories", "helmrepositories/status", "helmrepositories/finalizers",
                    "helmcharts", "helmcharts/status", "helmcharts/finalizers",
                    "ocirepositories", "ocirepositories/status", "ocirepositories/finalizers",
                ],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                // Artifacts other controllers produce, read as sources;
                // ArtifactGenerators publish theirs.
                "apiGroups": ["source.toolkit.fluxcd.io"],
                "resources": ["externalartifacts", "externalartifacts/status"],
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            },
            {
                "apiGroups": ["source.extensions.fluxcd.io"],
                "resources": [
                    "artifactgenerators", "artifactgenerators/status",
                    "artifactgenerators/finalizers",
                ],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                // HelmReleases with `spec.chart` own the HelmChart made for them.
                "apiGroups": ["source.toolkit.fluxcd.io"],
                "resources": ["helmcharts"],
                "verbs": ["create", "delete"],
            },
            {
                "apiGroups": ["helm.toolkit.fluxcd.io"],
                "resources": ["helmreleases", "helmreleases/status", "helmreleases/finalizers"],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                "apiGroups": ["image.toolkit.fluxcd.io"],
                "resources": [
                    "imagerepositories", "imagerepositories/status", "imagerepositories/finalizers",
                    "imagepolicies", "imagepolicies/status", "imagepolicies/finalizers",
                    "imageupdateautomations", "imageupdateautomations/status",
                    "imageupdateautomations/finalizers",
                ],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                "apiGroups": ["kustomize.toolkit.fluxcd.io"],
                "resources": ["kustomizations", "kustomizations/status", "kustomizations/finalizers"],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                "apiGroups": ["notification.toolkit.fluxcd.io"],
                "resources": ["receivers", "receivers/status", "receivers/finalizers"],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                "apiGroups": ["notification.toolkit.fluxcd.io"],
                "resources": ["providers", "alerts"],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
            {
                "apiGroups": [""],
                "resources": ["secrets", "configmaps"],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
            {
                // `accessFrom` selects namespaces by their labels.
                "apiGroups": [""],
                "resources": ["namespaces"],
                "verbs": ["get", "list", "watch"],
            },
        ],
    })
}

fn cluster_role_binding() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": CONTROLLER, "labels": labels()},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": CONTROLLER},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": NAMESPACE}],
    })
}

/// Kustomizations apply arbitrary objects, so the controller needs
/// `cluster-admin` unless every Kustomization names its own service
/// account. Tighten or delete this binding on a shared cluster.
fn reconciler_binding() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": RECONCILER_BINDING,
            "labels": labels(),
            "annotations": {
                "driftless.dev/note": "lets the controller apply any workload; tighten it, or set spec.serviceAccountName on every Kustomization",
            },
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": NAMESPACE}],
    })
}

/// Leader election, in the controller's namespace only.
fn lease_role() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": CONTROLLER, "namespace": NAMESPACE, "labels": labels()},
        "rules": [{
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        }],
    })
}

fn lease_role_binding() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": CONTROLLER, "namespace": NAMESPACE, "labels": labels()},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CONTROLLER},
        "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": NAMESPACE}],
    })
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CONTROLLER, "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector_labels()},
            "template": {
                "metadata": {"labels": labels()},
                "spec": {
                    "serviceAccountName": CONTROLLER,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "fsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "controller",
                        "image": IMAGE,
                        "args": [
                            "controller",
                            "--storage-dir=/data",
                            "--artifact-listen=0.0.0.0:9090",
                            "--artifact-base-url=http://driftless-controller.driftless-system.svc.cluster.local.",
                            "--metrics-listen=0.0.0.0:8080",
                            "--receiver-listen=0.0.0.0:9292",
                            "--events-listen=0.0.0.0:9690",
                        ],
                        "env": [{
                            "name": "POD_NAMESPACE",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                        }],
                        "ports": [
                            {"name": "http", "containerPort": 9090, "protocol": "TCP"},
                            {"name": "http-metrics", "containerPort": 8080, "protocol": "TCP"},
                            {"name": "http-webhook", "containerPort": 9292, "protocol": "TCP"},
                            {"name": "http-events", "containerPort": 9690, "protocol": "TCP"},
                        ],
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}},
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"cpu": "1", "memory": "1Gi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        // The root filesystem is read-only: the controller
                        // writes under --storage-dir alone, and /tmp is
                        // writable for any library that asks the system
                        // for a temp file (as Flux's controllers mount it).
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/data"},
                            {"name": "temp", "mountPath": "/tmp"},
                        ],
                    }],
                    "volumes": [
                        {"name": "data", "emptyDir": {}},
                        {"name": "temp", "emptyDir": {}},
                    ],
                },
            },
        },
    })
}

fn service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": CONTROLLER, "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(),
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                {"name": "http-metrics", "port": 8080, "targetPort": "http-metrics", "protocol": "TCP"},
                {"name": "http-events", "port": 9690, "targetPort": "http-events", "protocol": "TCP"},
            ],
        },
    })
}

/// The webhook receiver, as Flux names it: expose this Service (an
/// Ingress or LoadBalancer) for git hosts and registries to call.
fn receiver_service() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "webhook-receiver", "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(),
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http-webhook", "protocol": "TCP"},
            ],
        },
    })
}

/// Artifacts and events are served only inside the namespace; metrics and
/// webhooks to anyone (Prometheus and git hosts are elsewhere).
fn network_policy() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": CONTROLLER, "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "podSelector": {"matchLabels": selector_labels()},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {}}]},
                {"ports": [{"port": 8080, "protocol": "TCP"}, {"port": 9292, "protocol": "TCP"}]},
            ],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_come_first_and_every_object_has_a_name() {
        let manifests = manifests().expect("manifests render");
        let crds = driftless_api::crds().len();
        assert!(
            manifests[..crds]
                .iter()
                .all(|m| m["kind"] == "CustomResourceDefinition")
        );
        assert!(
            manifests[crds..]
                .iter()
                .all(|m| m["kind"] != "CustomResourceDefinition")
        );
        for manifest in &manifests {
            assert!(manifest["metadata"]["name"].is_string(), "{manifest}");
        }
    }

    #[test]
    fn the_deployment_runs_this_version_as_non_root() {
        let deployment = deployment();
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["image"],
            format!(
                "ghcr.io/driftless-dev/driftless:{}",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
            true
        );
        // With a read-only root, what the controller writes needs volumes:
        // its storage directory and the system temp dir.
        let mounts: Vec<&str> = pod["containers"][0]["volumeMounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .filter_map(|m| m["mountPath"].as_str())
            .collect();
        assert!(
            pod["containers"][0]["args"]
                .as_array()
                .expect("args")
                .iter()
                .any(|a| a == "--storage-dir=/data")
        );
        assert_eq!(mounts, ["/data", "/tmp"]);
        // The selector must match the template, or the API server refuses it.
        let template_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        for (key, value) in selector_labels().as_object().expect("an object") {
            assert_eq!(&template_labels[key], value);
        }
    }
}
