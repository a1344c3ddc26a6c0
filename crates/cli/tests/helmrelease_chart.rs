//! `driftless build|diff helmrelease NAME` without `--chart`, against a
//! sandbox with `driftless controller` running and a chart repository on
//! loopback (lighttpd, filled by the real `helm`): the chart comes from the
//! HelmChart the controller made for `spec.chart`, downloaded from its
//! artifact server and digest-checked, and renders as `--chart PATH` does;
//! a source that is missing or not ready, an artifact server that cannot be
//! reached and an artifact that does not match its digest each fail with a
//! message naming them and a hint, exit code 1.

use std::path::{Path, PathBuf};

use crate::common::processes::controller;
use crate::common::{TestSandbox, eventually, installed, set_status};
use driftless_api::{ExternalArtifact, FluxObject, HelmChart, HelmRelease, OCIRepository};
use driftless_testkit::helm_repo::{StaticServer, helm_available, helm_package, helm_repo_index};
use kube::api::Api;
use serde_json::json;

/// A chart of one ConfigMap carrying `.Values.message`.
fn write_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("small");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dirs");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: small\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "message: default\n").expect("values.yaml");
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-small\ndata:\n  message: {{ .Values.message | quote }}\n",
    )
    .expect("template");
    chart
}

async fn kubectl_apply(sb: &TestSandbox, object: serde_json::Value) {
    sb.kubectl(&["apply", "-f", "-"], Some(&object.to_string()))
        .await
        .ok();
}

fn helm_release(name: &str, chart: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"interval": "10m", "values": {"message": "from the release"}});
    for (key, value) in chart.as_object().expect("an object") {
        spec[key] = value.clone();
    }
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": spec,
    })
}

/// An ExternalArtifact whose (test-written) status serves `url` with `digest`.
async fn external_artifact(sb: &TestSandbox, name: &str, url: &str, digest: &str) {
    kubectl_apply(
        sb,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "ExternalArtifact",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {},
        }),
    )
    .await;
    set_status::<ExternalArtifact>(
        sb,
        name,
        json!({
            "artifact": {
                "path": "x/chart.tgz", "url": url, "revision": "0.1.0",
                "digest": digest, "lastUpdateTime": "2026-12-05T10:00:00Z",
            },
            "conditions": [crate::common::ready_condition("True", "Succeeded", "stored artifact")],
        }),
    )
    .await;
}

fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).expect("a YAML object"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn build_and_diff_helmrelease_fetch_the_chart_of_the_source() {
    if !helm_available() {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but helm is not on PATH"
        );
        println!("SKIPPED: build/diff helmrelease without --chart: helm not on PATH");
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let chart = write_chart(home.path());
    let root = home.path().join("repository");
    let packaged = helm_package(&chart, None, &root);
    helm_repo_index(&root, None);
    let server = StaticServer::start(&root);
    let sb = installed("helmrelease-chart").await;
    let _controller = controller(&sb.kubeconfig_path(), &home.path().join("storage"), "30s");
    kubectl_apply(
        &sb,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "flux-system"},
            "spec": {"interval": "10m", "url": server.url("anon", "")},
        }),
    )
    .await;
    kubectl_apply(
        &sb,
        helm_release(
            "web",
            json!({"chart": {"spec": {"chart": "small", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}}}),
        ),
    )
    .await;
    let client = sb.client().await;
    let charts: Api<HelmChart> = Api::namespaced(client.clone(), "flux-system");
    let artifact = eventually("the HelmChart of spec.chart has an artifact", || async {
        let chart = charts.get_opt("flux-system-web").await.ok()??;
        chart
            .is_ready()
            .then(|| chart.artifact().cloned())
            .flatten()
    })
    .await;

    // Without --chart the source's chart renders as the same chart does
    // from disk.
    let fetched = sb.driftless(&["build", "hr", "web"]).await.ok().stdout;
    let chart_flag = format!("--chart={}", packaged.display());
    let local = sb
        .driftless(&["build", "hr", "web", chart_flag.as_str()])
        .await
        .ok()
        .stdout;
    assert_eq!(fetched, local);
    let docs = documents(&fetched);
    assert_eq!(docs.len(), 1, "{fetched}");
    assert_eq!(docs[0]["metadata"]["name"], "web-small");
    assert_eq!(docs[0]["data"]["message"], "from the release");

    // Once the release is installed, the diff without --chart is empty.
    let releases: Api<HelmRelease> = Api::namespaced(client.clone(), "flux-system");
    eventually("the HelmRelease is Ready", || async {
        releases.get("web").await.ok()?.is_ready().then_some(())
    })
    .await;
    let out = sb.driftless(&["diff", "hr", "web"]).await.code(0);
    assert!(!out.stdout.contains('►'), "{out:#?}");

    // A source that does not exist, or is not ready.
    kubectl_apply(
        &sb,
        helm_release(
            "absent",
            json!({"chartRef": {"kind": "HelmChart", "name": "nothing"}}),
        ),
    )
    .await;
    let out = sb.driftless(&["build", "hr", "absent"]).await.code(1);
    assert!(
        out.stderr
            .contains("HelmChart/flux-system/nothing not found"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("hint: "), "{out:#?}");
    kubectl_apply(
        &sb,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "OCIRepository",
            "metadata": {"name": "closed", "namespace": "flux-system"},
            "spec": {"interval": "10m", "url": "oci://127.0.0.1:1/charts/small", "ref": {"tag": "0.1.0"}, "insecure": true},
        }),
    )
    .await;
    let repos: Api<OCIRepository> = Api::namespaced(client.clone(), "flux-system");
    eventually("the OCIRepository failed", || async {
        let repo = repos.get("closed").await.ok()?;
        driftless_api::conditions::find(repo.status_conditions(), "Ready")
            .filter(|c| c.status == "False")
            .map(drop)
    })
    .await;
    kubectl_apply(
        &sb,
        helm_release(
            "unready",
            json!({"chartRef": {"kind": "OCIRepository", "name": "closed"}}),
        ),
    )
    .await;
    for command in ["build", "diff"] {
        let out = sb.driftless(&[command, "hr", "unready"]).await.code(1);
        assert!(
            out.stderr
                .contains("error: cannot fetch the chart of HelmRelease flux-system/unready"),
            "{out:#?}"
        );
        assert!(
            out.stderr
                .contains("caused by: OCIRepository 'flux-system/closed' is not ready: "),
            "{out:#?}"
        );
        assert!(
            out.stderr.contains("hint: ") && out.stderr.contains("--chart PATH"),
            "{out:#?}"
        );
    }

    // An artifact server that cannot be reached from here: the URL is
    // named, and --chart is the way out.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        listener.local_addr().expect("bound").port()
    };
    let far_url = format!("http://127.0.0.1:{closed}/helmchart/x/chart.tgz");
    external_artifact(&sb, "elsewhere", &far_url, "sha256:00").await;
    kubectl_apply(
        &sb,
        helm_release(
            "far",
            json!({"chartRef": {"kind": "ExternalArtifact", "name": "elsewhere"}}),
        ),
    )
    .await;
    let out = sb.driftless(&["build", "hr", "far"]).await.code(1);
    assert!(
        out.stderr.contains(&format!(
            "caused by: cannot reach {far_url} for the chart of ExternalArtifact/flux-system/elsewhere"
        )),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(&format!(
            "hint: {far_url} is the controller's artifact server (--artifact-base-url); run where it resolves, or pass --chart PATH"
        )),
        "{out:#?}"
    );
    let overridden = sb
        .driftless(&["build", "hr", "far", chart_flag.as_str()])
        .await
        .ok()
        .stdout;
    let docs = documents(&overridden);
    assert_eq!(docs[0]["metadata"]["name"], "far-small", "{overridden}");
    assert_eq!(docs[0]["data"]["message"], "from the release");

    // An artifact that is not what its digest says is refused.
    external_artifact(&sb, "tampered", &artifact.url, "sha256:0123").await;
    kubectl_apply(
        &sb,
        helm_release(
            "tampered",
            json!({"chartRef": {"kind": "ExternalArtifact", "name": "tampered"}}),
        ),
    )
    .await;
    let out = sb.driftless(&["build", "hr", "tampered"]).await.code(1);
    assert!(
        out.stderr.contains(&format!(
            "the chart of ExternalArtifact/flux-system/tampered does not match its digest (want sha256:0123, got {})",
            artifact.digest.as_deref().expect("a digest")
        )),
        "{out:#?}"
    );
}
