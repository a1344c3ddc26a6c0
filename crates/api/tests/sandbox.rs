//! The generated CRDs against an API server: our in-process sandbox,
//! driven by the real `kubectl` as a user would, then read back with
//! kube-rs as our typed structs.
//!
//! Each test starts its own sandbox (driftless-testkit) on a loopback port
//! with its own kubeconfig and kubectl discovery cache.

use driftless_api::conditions::{self, reasons, types};
use driftless_api::inventory::{ObjectId, ResourceInventory, ResourceRef};
use driftless_api::meta::Artifact;
use driftless_api::{
    GitRepository, GitRepositoryStatus, HelmChart, HelmRelease, HelmRepository, Kustomization,
    KustomizationStatus, OCIRepository,
};
use driftless_testkit::cluster::TestCluster;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{Patch, PatchParams};

const GIT_FULL: &str = include_str!("fixtures/gitrepository-full.yaml");
const GIT_MINIMAL: &str = include_str!("fixtures/gitrepository-minimal.yaml");
const KS_FULL: &str = include_str!("fixtures/kustomization-full.yaml");
const KS_MINIMAL: &str = include_str!("fixtures/kustomization-minimal.yaml");
const HELM_REPO_FULL: &str = include_str!("fixtures/helmrepository-full.yaml");
const HELM_CHART_FULL: &str = include_str!("fixtures/helmchart-full.yaml");
const OCI_REPO_FULL: &str = include_str!("fixtures/ocirepository-full.yaml");
const HELM_RELEASE_FULL: &str = include_str!("fixtures/helmrelease-full.yaml");

/// The shared test cluster, with kubectl runs as [`Output`]s.
struct Cluster(TestCluster);

/// What a finished kubectl run printed.
#[derive(Debug)]
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    #[track_caller]
    fn ok(self) -> Output {
        assert_eq!(
            self.code,
            0,
            "kubectl failed ({}): {self:#?}",
            self.stderr.trim()
        );
        self
    }
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster(TestCluster::start().await)
    }

    /// Runs kubectl with this sandbox's kubeconfig, feeding `stdin` if given.
    async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let (code, stdout, stderr) = self.0.kubectl(args, stdin).await;
        Output {
            code,
            stdout,
            stderr,
        }
    }

    async fn client(&self) -> kube::Client {
        self.0.client().await
    }

    /// Applies our CRDs with kubectl and waits until both are established.
    async fn install_crds(&self) {
        let yaml = driftless_api::crds_yaml().expect("the CRDs render");
        let out = self.kubectl(&["apply", "-f", "-"], Some(&yaml)).await.ok();
        assert!(
            out.stdout
                .contains("gitrepositories.source.toolkit.fluxcd.io created"),
            "{out:#?}"
        );
        assert!(
            out.stdout
                .contains("kustomizations.kustomize.toolkit.fluxcd.io created"),
            "{out:#?}"
        );
        self.kubectl(
            &[
                "wait",
                "--for=condition=established",
                "--timeout=30s",
                "crd/gitrepositories.source.toolkit.fluxcd.io",
                "crd/kustomizations.kustomize.toolkit.fluxcd.io",
            ],
            None,
        )
        .await
        .ok();
    }

    async fn stop(self) {
        self.0.sandbox.shutdown().await;
    }
}

/// The fixture without its `status`, as a user writes it.
fn spec_only(yaml: &str) -> String {
    match yaml.find("\nstatus:") {
        Some(at) => yaml[..=at].to_string(),
        None => yaml.to_string(),
    }
}

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(second).expect("a valid second"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_objects_apply_and_read_back_typed() {
    let cluster = Cluster::start().await;
    cluster.install_crds().await;
    cluster
        .kubectl(&["create", "namespace", "flux-system"], None)
        .await
        .ok();

    let manifests = [
        spec_only(GIT_FULL),
        GIT_MINIMAL.to_string(),
        spec_only(KS_FULL),
        KS_MINIMAL.to_string(),
    ]
    .join("---\n");
    let out = cluster
        .kubectl(&["apply", "-f", "-"], Some(&manifests))
        .await
        .ok();
    for line in [
        "gitrepository.source.toolkit.fluxcd.io/webapp created",
        "gitrepository.source.toolkit.fluxcd.io/podinfo created",
        "kustomization.kustomize.toolkit.fluxcd.io/webapp created",
        "kustomization.kustomize.toolkit.fluxcd.io/podinfo created",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?}: {out:#?}");
    }

    let client = cluster.client().await;
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), "flux-system");
    let webapp = repos
        .get("webapp")
        .await
        .expect("the GitRepository reads back typed");
    let want: GitRepository = serde_saphyr::from_str(GIT_FULL).expect("the fixture parses");
    assert_eq!(webapp.spec, want.spec);
    assert!(webapp.metadata.uid.is_some());

    let podinfo: GitRepository = Api::namespaced(client.clone(), "default")
        .get("podinfo")
        .await
        .expect("the minimal GitRepository reads back");
    assert_eq!(podinfo.spec.url, "https://github.com/stefanprodan/podinfo");

    let kss: Api<Kustomization> = Api::namespaced(client.clone(), "flux-system");
    let ks = kss
        .get("webapp")
        .await
        .expect("the Kustomization reads back typed");
    let want: Kustomization = serde_saphyr::from_str(KS_FULL).expect("the fixture parses");
    assert_eq!(ks.spec, want.spec);

    // Short names and categories resolve through discovery, as with Flux.
    let out = cluster
        .kubectl(&["get", "gitrepo,ks", "-A", "-o", "name"], None)
        .await
        .ok();
    for name in [
        "gitrepository.source.toolkit.fluxcd.io/webapp",
        "gitrepository.source.toolkit.fluxcd.io/podinfo",
        "kustomization.kustomize.toolkit.fluxcd.io/webapp",
        "kustomization.kustomize.toolkit.fluxcd.io/podinfo",
    ] {
        assert!(out.stdout.contains(name), "missing {name}: {out:#?}");
    }
    let out = cluster
        .kubectl(&["get", "fluxcd", "-n", "default", "-o", "name"], None)
        .await
        .ok();
    assert!(
        out.stdout
            .contains("gitrepository.source.toolkit.fluxcd.io/podinfo")
            && out
                .stdout
                .contains("kustomization.kustomize.toolkit.fluxcd.io/podinfo"),
        "{out:#?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_kinds_apply_with_kubectl_and_read_back_typed() {
    let cluster = Cluster::start().await;
    cluster.install_crds().await;
    for namespace in ["flux-system", "apps"] {
        cluster
            .kubectl(&["create", "namespace", namespace], None)
            .await
            .ok();
    }
    let manifests = [
        spec_only(HELM_REPO_FULL),
        spec_only(HELM_CHART_FULL),
        spec_only(OCI_REPO_FULL),
        spec_only(HELM_RELEASE_FULL),
    ]
    .join("---\n");
    let out = cluster
        .kubectl(&["apply", "-f", "-"], Some(&manifests))
        .await
        .ok();
    for line in [
        "helmrepository.source.toolkit.fluxcd.io/podinfo created",
        "helmchart.source.toolkit.fluxcd.io/flux-system-podinfo created",
        "ocirepository.source.toolkit.fluxcd.io/podinfo created",
        "helmrelease.helm.toolkit.fluxcd.io/podinfo created",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?}: {out:#?}");
    }

    let client = cluster.client().await;
    let release: HelmRelease = Api::namespaced(client.clone(), "apps")
        .get("podinfo")
        .await
        .expect("the HelmRelease reads back typed");
    let want: HelmRelease = serde_saphyr::from_str(HELM_RELEASE_FULL).expect("the fixture parses");
    assert_eq!(release.spec, want.spec, "values and every setting survive");
    let repo: HelmRepository = Api::namespaced(client.clone(), "flux-system")
        .get("podinfo")
        .await
        .expect("the HelmRepository reads back typed");
    let want: HelmRepository = serde_saphyr::from_str(HELM_REPO_FULL).expect("the fixture parses");
    assert_eq!(repo.spec, want.spec);
    let chart: HelmChart = Api::namespaced(client.clone(), "flux-system")
        .get("flux-system-podinfo")
        .await
        .expect("the HelmChart reads back typed");
    let want: HelmChart = serde_saphyr::from_str(HELM_CHART_FULL).expect("the fixture parses");
    assert_eq!(chart.spec, want.spec);
    let oci: OCIRepository = Api::namespaced(client.clone(), "flux-system")
        .get("podinfo")
        .await
        .expect("the OCIRepository reads back typed");
    let want: OCIRepository = serde_saphyr::from_str(OCI_REPO_FULL).expect("the fixture parses");
    assert_eq!(oci.spec, want.spec);

    // Flux's short names resolve through discovery.
    let out = cluster
        .kubectl(&["get", "helmrepo,hc,ocirepo,hr", "-A", "-o", "name"], None)
        .await
        .ok();
    for name in [
        "helmrepository.source.toolkit.fluxcd.io/podinfo",
        "helmchart.source.toolkit.fluxcd.io/flux-system-podinfo",
        "ocirepository.source.toolkit.fluxcd.io/podinfo",
        "helmrelease.helm.toolkit.fluxcd.io/podinfo",
    ] {
        assert!(out.stdout.contains(name), "missing {name}: {out:#?}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_written_by_a_reconciler_reads_back_and_prints() {
    let cluster = Cluster::start().await;
    cluster.install_crds().await;
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&[GIT_MINIMAL, KS_MINIMAL].join("---\n")),
        )
        .await
        .ok();
    let client = cluster.client().await;
    let params = PatchParams::apply("driftless-test").force();

    // A GitRepository status as the source reconciler will write it.
    let revision = "master@sha1:0f4a1c2b3d4e5f60718293a4b5c6d7e8f9012345";
    let mut conds: Vec<Condition> = Vec::new();
    let message = format!("stored artifact for revision '{revision}'");
    conditions::set_condition(
        &mut conds,
        Condition {
            observed_generation: Some(1),
            ..conditions::artifact_in_storage(reasons::SUCCEEDED, message.clone())
        },
        &at(1_772_359_200),
    );
    conditions::set_condition(
        &mut conds,
        Condition {
            observed_generation: Some(1),
            ..conditions::ready(reasons::SUCCEEDED, message.clone())
        },
        &at(1_772_359_200),
    );
    let status = GitRepositoryStatus {
        observed_generation: Some(1),
        conditions: Some(conds),
        artifact: Some(Artifact {
            path: "gitrepository/default/podinfo/0f4a1c2b.tar.gz".into(),
            url: "http://localhost:9090/gitrepository/default/podinfo/0f4a1c2b.tar.gz".into(),
            revision: revision.into(),
            digest: Some(
                "sha256:9d2c4be0a3f1e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3".into(),
            ),
            last_update_time: at(1_772_359_200),
            size: Some(1024),
            metadata: None,
        }),
        ..Default::default()
    };
    let repos: Api<GitRepository> = Api::namespaced(client.clone(), "default");
    let patch = serde_json::json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "podinfo"},
        "status": status,
    });
    repos
        .patch_status("podinfo", &params, &Patch::Apply(&patch))
        .await
        .expect("the status subresource takes our status");
    let repo = repos.get("podinfo").await.expect("reads back");
    assert_eq!(repo.status.as_ref(), Some(&status));
    assert!(conditions::is_true(repo.conditions(), types::READY));

    // The printer columns are Flux's: URL, AGE, READY, STATUS.
    let out = cluster
        .kubectl(&["get", "gitrepositories", "-n", "default"], None)
        .await
        .ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "URL", "AGE", "READY", "STATUS"],
        "{out:#?}"
    );
    let row = out.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        row.contains("https://github.com/stefanprodan/podinfo"),
        "{out:#?}"
    );
    assert!(row.contains("True") && row.contains(&message), "{out:#?}");

    // A Kustomization status with Flux's inventory and a failed health check.
    let mut conds = Vec::new();
    conditions::set_condition(
        &mut conds,
        conditions::not_ready(
            reasons::HEALTH_CHECK_FAILED,
            "timeout waiting for: [Deployment/default/podinfo status: 'InProgress']",
        ),
        &at(1_772_359_300),
    );
    conditions::set_condition(
        &mut conds,
        conditions::unhealthy(
            reasons::HEALTH_CHECK_FAILED,
            "timeout waiting for: [Deployment/default/podinfo status: 'InProgress']",
        ),
        &at(1_772_359_300),
    );
    let status = KustomizationStatus {
        observed_generation: Some(1),
        conditions: Some(conds),
        last_attempted_revision: Some(revision.into()),
        inventory: Some(ResourceInventory {
            entries: vec![
                ResourceRef::new(
                    &ObjectId::new("default", "podinfo", "apps", "Deployment"),
                    "v1",
                ),
                ResourceRef::new(&ObjectId::new("default", "podinfo", "", "Service"), "v1"),
            ],
        }),
        ..Default::default()
    };
    let kss: Api<Kustomization> = Api::namespaced(client.clone(), "default");
    let patch = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "podinfo"},
        "status": status,
    });
    kss.patch_status("podinfo", &params, &Patch::Apply(&patch))
        .await
        .expect("the status subresource takes our status");
    let ks = kss.get("podinfo").await.expect("reads back");
    assert_eq!(ks.status.as_ref(), Some(&status));
    let out = cluster
        .kubectl(
            &[
                "get",
                "ks",
                "podinfo",
                "-n",
                "default",
                "-o",
                "jsonpath={.status.inventory.entries[*].id}",
            ],
            None,
        )
        .await
        .ok();
    assert_eq!(
        out.stdout,
        "default_podinfo_apps_Deployment default_podinfo__Service"
    );
    let out = cluster
        .kubectl(&["get", "kustomizations", "-n", "default"], None)
        .await
        .ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "AGE", "READY", "STATUS"], "{out:#?}");
    assert!(out.stdout.contains("False"), "{out:#?}");
    cluster.stop().await;
}
