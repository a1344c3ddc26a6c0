//! `create`, `get`, `suspend`/`resume`, `reconcile` and `tree` against the
//! sandbox. Where the controller would answer, a task in the test plays it:
//! it sees the reconcile request and writes the status subresource.

use crate::common::{
    TestSandbox, answer_reconcile, eventually, installed, ready_condition, set_status,
};
use driftless_api::{GitRepository, HelmRelease, HelmRepository, Kustomization, annotations};
use kube::api::Api;
use serde_json::{Value, json};

async fn create_source(sb: &TestSandbox, name: &str) {
    let url = format!("https://git.example.com/{name}.git");
    sb.driftless(&[
        "create",
        "source",
        "git",
        name,
        "--url",
        &url,
        "--branch=main",
        "--no-wait",
    ])
    .await
    .ok();
}

async fn create_ks(sb: &TestSandbox, name: &str, source: &str) {
    let source = format!("--source={source}");
    sb.driftless(&[
        "create",
        "kustomization",
        name,
        &source,
        "--path=./deploy",
        "--prune",
        "--no-wait",
    ])
    .await
    .ok();
}

#[tokio::test]
async fn create_exports_flux_compatible_yaml() {
    let sb = TestSandbox::start("export-objects").await;
    let out = sb
        .driftless(&[
            "create",
            "source",
            "git",
            "podinfo",
            "--url=https://github.com/stefanprodan/podinfo",
            "--tag-semver=>=6.0.0",
            "--secret-ref=auth",
            "--ignore-paths=/docs,*.md",
            "--export",
        ])
        .await
        .ok();
    let yaml = out.stdout.strip_prefix("---\n").expect("a YAML document");
    let repo: GitRepository = serde_saphyr::from_str(yaml).expect("a GitRepository");
    assert_eq!(repo.metadata.namespace.as_deref(), Some("flux-system"));
    assert_eq!(repo.spec.interval.as_str(), "1m0s");
    assert_eq!(
        repo.spec.reference.and_then(|r| r.semver).as_deref(),
        Some(">=6.0.0")
    );
    assert_eq!(
        repo.spec.secret_ref.map(|s| s.name).as_deref(),
        Some("auth")
    );
    assert_eq!(repo.spec.ignore.as_deref(), Some("/docs\n*.md"));
    assert!(
        repo.status.is_none() && repo.metadata.annotations.is_none(),
        "{yaml}"
    );

    let out = sb
        .driftless(&[
            "create",
            "ks",
            "apps",
            "-n",
            "team",
            "--source=GitRepository/fleet.flux-system",
            "--path=./apps",
            "--prune",
            "--depends-on=infra",
            "--target-namespace=apps",
            "--health-check=Deployment/web.apps",
            "--export",
        ])
        .await
        .ok();
    let ks: Kustomization =
        serde_saphyr::from_str(out.stdout.strip_prefix("---\n").expect("a YAML document"))
            .expect("a Kustomization");
    assert_eq!(ks.metadata.namespace.as_deref(), Some("team"));
    assert_eq!(ks.spec.interval.as_str(), "10m0s");
    assert_eq!(ks.spec.source_ref.name, "fleet");
    assert_eq!(ks.spec.source_ref.namespace.as_deref(), Some("flux-system"));
    assert!(ks.spec.prune);
    assert_eq!(ks.spec.depends_on.expect("dependsOn")[0].name, "infra");
    assert_eq!(ks.spec.target_namespace.as_deref(), Some("apps"));
    let checks = ks.spec.health_checks.expect("healthChecks");
    assert_eq!(
        (checks[0].kind.as_str(), checks[0].name.as_str()),
        ("Deployment", "web")
    );

    let out = sb
        .driftless(&[
            "create",
            "secret",
            "git",
            "auth",
            "--username=bot",
            "--password=s3cret",
            "--export",
        ])
        .await
        .ok();
    assert!(
        out.stdout.contains("username: bot") && out.stdout.contains("password: s3cret"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn bad_flags_are_usage_errors_that_say_what_is_wrong() {
    let sb = TestSandbox::start("bad-flags").await;
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "create",
                "source",
                "git",
                "a",
                "--url=not a url",
                "--branch=main",
            ],
            "is not a git URL",
        ),
        (
            &[
                "create",
                "source",
                "git",
                "a",
                "--url=https://h/r",
                "--branch=main",
                "--tag=v1",
            ],
            "cannot be used with",
        ),
        (
            &[
                "create",
                "source",
                "git",
                "a",
                "--url=https://h/r",
                "--interval=often",
            ],
            "invalid duration",
        ),
        (
            &[
                "create",
                "ks",
                "a",
                "--source=podinfo",
                "--health-check=Deployment/web",
            ],
            "<kind>/<name>.<namespace>",
        ),
        (
            &["create", "secret", "git", "a", "--username=bot"],
            "--password",
        ),
    ];
    for (args, message) in cases {
        let out = sb.driftless(args).await.code(2);
        assert!(out.stderr.contains(message), "{args:?}: {out:#?}");
    }
}

#[tokio::test]
async fn create_applies_and_get_shows_the_status() {
    let sb = installed("get").await;
    create_source(&sb, "podinfo").await;
    create_ks(&sb, "apps", "podinfo").await;
    let repos: Api<GitRepository> = Api::namespaced(sb.client().await, "flux-system");
    let repo = repos
        .get("podinfo")
        .await
        .expect("the GitRepository exists");
    assert_eq!(repo.spec.url, "https://git.example.com/podinfo.git");
    assert_eq!(
        repo.spec.reference.and_then(|r| r.branch).as_deref(),
        Some("main")
    );
    let kss: Api<Kustomization> = Api::namespaced(sb.client().await, "flux-system");
    let ks = kss.get("apps").await.expect("the Kustomization exists");
    assert_eq!(ks.spec.path.as_deref(), Some("./deploy"));
    assert!(ks.spec.prune);

    set_status::<GitRepository>(
        &sb,
        "podinfo",
        json!({
            "conditions": [ready_condition("True", "Succeeded", "stored artifact for revision 'main@sha1:1234'")],
            "artifact": {"path": "p", "url": "http://x/p", "revision": "main@sha1:1234", "lastUpdateTime": "2026-01-01T00:00:00Z"},
        }),
    )
    .await;
    set_status::<Kustomization>(
        &sb,
        "apps",
        json!({
            "conditions": [ready_condition("False", "BuildFailed", "kustomization.yaml: resources[0]\nnot found")],
            "lastAppliedRevision": "main@sha1:1234",
        }),
    )
    .await;

    let out = sb.driftless(&["get", "sources", "git"]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE", "AGE"]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &row[..4],
        ["podinfo", "main@sha1:1234", "False", "True"],
        "{out:#?}"
    );
    assert!(lines[1].contains("stored artifact for revision 'main@sha1:1234'"));

    let out = sb.driftless(&["get", "ks"]).await.ok();
    let row = out.stdout.lines().nth(1).expect("a row");
    assert!(row.starts_with("apps"), "{out:#?}");
    assert!(row.contains("main@sha1:1234  False      False"), "{out:#?}");
    assert!(
        row.contains("kustomization.yaml: resources[0] not found"),
        "multi-line messages fit one row: {out:#?}"
    );

    let out = sb.driftless(&["get", "all", "-A"]).await.ok();
    assert!(out.stdout.starts_with("NAMESPACE"), "{out:#?}");
    assert!(
        out.stdout.contains("flux-system  gitrepository/podinfo"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("flux-system  kustomization/apps"),
        "{out:#?}"
    );

    let json = sb
        .driftless(&["get", "ks", "apps", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(json["kind"], "Kustomization");
    assert_eq!(json["status"]["lastAppliedRevision"], "main@sha1:1234");
    assert!(json["metadata"].get("managedFields").is_none());
    let yaml = sb
        .driftless(&["get", "sources", "git", "-o", "yaml"])
        .await
        .ok();
    let list: Value = serde_saphyr::from_str(&yaml.stdout).expect("YAML");
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "podinfo");

    let both = sb.driftless(&["get", "ks", "apps", "-A"]).await.code(2);
    assert!(both.stderr.contains("cannot be used with"), "{both:#?}");

    let missing = sb.driftless(&["get", "ks", "nope"]).await.code(1);
    assert!(
        missing
            .stderr
            .contains("Kustomization flux-system/nope not found"),
        "{missing:#?}"
    );
}

#[tokio::test]
async fn suspend_and_resume_toggle_spec_suspend() {
    let sb = installed("suspend").await;
    create_ks(&sb, "apps", "podinfo").await;
    create_ks(&sb, "infra", "podinfo").await;
    let kss: Api<Kustomization> = Api::namespaced(sb.client().await, "flux-system");

    sb.driftless(&["suspend", "ks", "apps"]).await.ok();
    assert!(kss.get("apps").await.expect("apps").spec.suspend);
    assert!(!kss.get("infra").await.expect("infra").spec.suspend);
    let out = sb.driftless(&["get", "ks", "apps"]).await.ok();
    assert!(
        out.stdout.lines().nth(1).expect("a row").contains("  True"),
        "{out:#?}"
    );

    let refused = sb.driftless(&["reconcile", "ks", "apps"]).await.code(1);
    assert!(
        refused.stderr.contains("is suspended; resume it first"),
        "{refused:#?}"
    );

    sb.driftless(&["resume", "ks", "apps", "--no-wait"])
        .await
        .ok();
    let apps = kss.get("apps").await.expect("apps");
    assert!(!apps.spec.suspend);
    assert!(
        annotations::pending_reconcile_request(&apps.metadata, None).is_some(),
        "resume requests a reconcile"
    );

    sb.driftless(&["suspend", "ks", "--all"]).await.ok();
    for name in ["apps", "infra"] {
        assert!(kss.get(name).await.expect(name).spec.suspend, "{name}");
    }
    let missing = sb
        .driftless(&["suspend", "source", "git", "nope"])
        .await
        .code(1);
    assert!(
        missing
            .stderr
            .contains("GitRepository flux-system/nope not found"),
        "{missing:#?}"
    );
}

#[tokio::test]
async fn reconcile_waits_for_the_controller_and_reports_its_verdict() {
    let sb = installed("reconcile").await;
    create_source(&sb, "podinfo").await;
    create_ks(&sb, "apps", "podinfo").await;

    let (out, ()) = tokio::join!(
        sb.driftless(&["reconcile", "ks", "apps", "--with-source", "--timeout=30s"]),
        async {
            answer_reconcile::<GitRepository>(
                &sb,
                "podinfo",
                "True",
                "stored artifact",
                json!({"artifact": {"path": "p", "url": "http://x/p", "revision": "main@sha1:abcd", "lastUpdateTime": "2026-01-01T00:00:00Z"}}),
            )
            .await;
            answer_reconcile::<Kustomization>(
                &sb,
                "apps",
                "True",
                "Applied revision: main@sha1:abcd",
                json!({"lastAppliedRevision": "main@sha1:abcd"}),
            )
            .await;
        }
    );
    let out = out.ok();
    assert!(
        out.stderr
            .contains("► annotating GitRepository source podinfo in flux-system namespace"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("✔ fetched revision main@sha1:abcd"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("◎ waiting for Kustomization reconciliation"),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("✔ applied revision main@sha1:abcd"),
        "{out:#?}"
    );

    let (out, ()) = tokio::join!(
        sb.driftless(&["reconcile", "ks", "apps", "--timeout=30s"]),
        answer_reconcile::<Kustomization>(
            &sb,
            "apps",
            "False",
            "health check failed for Deployment/apps/web",
            json!({})
        )
    );
    let out = out.code(1);
    assert!(
        out.stderr
            .contains("health check failed for Deployment/apps/web"),
        "{out:#?}"
    );

    // Nobody answers: the wait gives up and says why.
    let out = sb
        .driftless(&["reconcile", "source", "git", "podinfo", "--timeout=1s"])
        .await
        .code(1);
    assert!(
        out.stderr.contains("did not handle the reconcile request"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn tree_shows_the_inventory_and_descends_into_kustomizations() {
    let sb = installed("tree").await;
    create_ks(&sb, "root", "fleet").await;
    create_ks(&sb, "apps", "fleet").await;
    let inventory = |ids: &[&str]| json!({"entries": ids.iter().map(|id| json!({"id": id, "v": "v1"})).collect::<Vec<_>>()});
    set_status::<Kustomization>(
        &sb,
        "root",
        json!({"inventory": inventory(&["_apps__Namespace", "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization"])}),
    )
    .await;
    set_status::<Kustomization>(
        &sb,
        "apps",
        json!({"inventory": inventory(&["apps_web_apps_Deployment", "apps_web__Service"])}),
    )
    .await;
    let out = sb.driftless(&["tree", "ks", "root"]).await.ok();
    assert_eq!(
        out.stdout,
        "Kustomization/flux-system/root\n\
         ├── Namespace/apps\n\
         └── Kustomization/flux-system/apps\n    \
             ├── Deployment/apps/web\n    \
             └── Service/apps/web\n"
    );
    let json = sb
        .driftless(&["tree", "ks", "root", "-o", "json"])
        .await
        .ok()
        .json();
    assert_eq!(json["resources"][1]["resources"][0]["kind"], "Deployment");
    assert_eq!(json["resources"][1]["resources"][0]["group"], "apps");
}

#[tokio::test]
async fn create_waits_for_ready_and_fails_with_the_condition_message() {
    let sb = installed("create-wait").await;
    let answer = |generation: i64, ready: &'static str, message: &'static str| {
        let sb = &sb;
        async move {
            let api: Api<GitRepository> = Api::namespaced(sb.client().await, "flux-system");
            // Answer only once the CLI's apply made this generation.
            eventually("the GitRepository at its generation", || async {
                (api.get("podinfo").await.ok()?.metadata.generation? >= generation).then_some(())
            })
            .await;
            let mut condition = ready_condition(ready, "Succeeded", message);
            condition["observedGeneration"] = generation.into();
            set_status::<GitRepository>(
                sb,
                "podinfo",
                json!({
                    "observedGeneration": generation,
                    "conditions": [condition],
                    "artifact": {"path": "p", "url": "http://x/p", "revision": "main@sha1:beef", "lastUpdateTime": "2026-01-01T00:00:00Z"},
                }),
            )
            .await;
        }
    };
    let create = [
        "create",
        "source",
        "git",
        "podinfo",
        "--url=https://git.example.com/podinfo.git",
        "--branch=main",
        "--timeout=30s",
    ];
    let (out, ()) = tokio::join!(sb.driftless(&create), answer(1, "True", "stored artifact"));
    let out = out.ok();
    assert!(
        out.stderr.contains("✔ fetched revision main@sha1:beef"),
        "{out:#?}"
    );

    // A changed spec is a new generation; the controller now fails it.
    let mut update = create.to_vec();
    update[5] = "--branch=dev";
    let (out, ()) = tokio::join!(
        sb.driftless(&update),
        answer(2, "False", "couldn't find remote ref dev")
    );
    let out = out.code(1);
    assert!(
        out.stderr.contains("couldn't find remote ref dev"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn resume_waits_for_the_reconcile() {
    let sb = installed("resume").await;
    create_ks(&sb, "apps", "podinfo").await;
    sb.driftless(&["suspend", "ks", "apps"]).await.ok();
    let (out, ()) = tokio::join!(
        sb.driftless(&["resume", "ks", "apps", "--timeout=30s"]),
        answer_reconcile::<Kustomization>(
            &sb,
            "apps",
            "True",
            "Applied revision: main@sha1:cafe",
            json!({"lastAppliedRevision": "main@sha1:cafe"})
        )
    );
    let out = out.ok();
    assert!(
        out.stderr.contains("✔ applied revision main@sha1:cafe"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn helm_kinds_are_created_listed_and_suspended() {
    let sb = installed("helm-kinds").await;
    let values = tempfile::NamedTempFile::new().expect("values file");
    std::fs::write(values.path(), "replicaCount: 2\nui:\n  message: hi\n").expect("values");
    let values_flag = format!("--values={}", values.path().display());
    for args in [
        vec![
            "create",
            "source",
            "oci",
            "podinfo",
            "--url=oci://registry.example.com/podinfo",
            "--tag-semver=>=6.0.0",
            "--no-wait",
        ],
        vec![
            "create",
            "source",
            "helm",
            "charts",
            "--url=https://charts.example.com",
            "--secret-ref=auth",
            "--no-wait",
        ],
        vec![
            "create",
            "hr",
            "web",
            "--source=HelmRepository/charts",
            "--chart=podinfo",
            "--chart-version=6.x",
            "--target-namespace=apps",
            values_flag.as_str(),
            "--values-from=ConfigMap/web-values",
            "--no-wait",
        ],
    ] {
        sb.driftless(&args).await.ok();
    }
    let client = sb.client().await;
    let release: HelmRelease = Api::namespaced(client.clone(), "flux-system")
        .get("web")
        .await
        .expect("the HelmRelease exists");
    let template = release.spec.chart.as_ref().expect("a chart template");
    assert_eq!(
        (
            template.spec.chart.as_str(),
            template.spec.version.as_deref()
        ),
        ("podinfo", Some("6.x"))
    );
    assert_eq!(
        release.spec.values,
        Some(json!({"replicaCount": 2, "ui": {"message": "hi"}}))
    );
    assert_eq!(release.release_name(), "apps-web");
    let repo: HelmRepository = Api::namespaced(client.clone(), "flux-system")
        .get("charts")
        .await
        .expect("the HelmRepository exists");
    assert_eq!(
        repo.spec.secret_ref.map(|s| s.name).as_deref(),
        Some("auth")
    );

    let out = sb.driftless(&["get", "hr"]).await.ok();
    assert!(
        out.stdout.lines().any(|l| l.starts_with("web ")),
        "{out:#?}"
    );
    let out = sb.driftless(&["get", "sources", "oci"]).await.ok();
    assert!(
        out.stdout.lines().any(|l| l.starts_with("podinfo ")),
        "{out:#?}"
    );
    let out = sb.driftless(&["get", "all"]).await.ok();
    for name in [
        "ocirepository/podinfo",
        "helmrepository/charts",
        "helmrelease/web",
    ] {
        assert!(out.stdout.contains(name), "{name}: {out:#?}");
    }
    set_status::<HelmRelease>(
        &sb,
        "web",
        json!({"inventory": {"entries": [
            {"id": "apps_web-podinfo_apps_Deployment", "v": "v1"},
            {"id": "apps_web-podinfo__Service", "v": "v1"},
        ]}}),
    )
    .await;
    let out = sb.driftless(&["tree", "hr", "web"]).await.ok();
    assert_eq!(
        out.stdout,
        "HelmRelease/flux-system/web\n├── Deployment/apps/web-podinfo\n└── Service/apps/web-podinfo\n",
        "{out:#?}"
    );
    sb.driftless(&["suspend", "hr", "web"]).await.ok();
    let release: HelmRelease = Api::namespaced(client, "flux-system")
        .get("web")
        .await
        .expect("the HelmRelease exists");
    assert!(release.spec.suspend);
}

#[tokio::test]
async fn build_and_diff_helmrelease_render_a_local_chart_as_the_release_would() {
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/helm-conformance/charts/podinfo");
    if !chart.is_dir() {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but {chart:?} is missing"
        );
        println!("SKIPPED: build/diff helmrelease: {chart:?} missing");
        return;
    }
    let sb = installed("helm-build").await;
    sb.kubectl(
        &[
            "create",
            "configmap",
            "web-values",
            "-n",
            "flux-system",
            "--from-literal=values.yaml=replicaCount: 3",
        ],
        None,
    )
    .await
    .ok();
    sb.driftless(&[
        "create",
        "hr",
        "web",
        "--chart-ref=OCIRepository/podinfo",
        "--values-from=ConfigMap/web-values",
        "--no-wait",
    ])
    .await
    .ok();
    let chart_flag = format!("--chart={}", chart.display());
    let out = sb
        .driftless(&["build", "hr", "web", chart_flag.as_str()])
        .await
        .ok();
    let docs: Vec<Value> = out
        .stdout
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).expect("a YAML object"))
        .collect();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("a Deployment: {}", out.stdout));
    assert_eq!(deployment["metadata"]["name"], "web-podinfo");
    assert_eq!(
        deployment["metadata"]["namespace"], "flux-system",
        "the release namespace"
    );
    assert_eq!(
        deployment["spec"]["replicas"], 3,
        "values from the cluster's ConfigMap"
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["meta.helm.sh/release-name"],
        "web"
    );
    assert_eq!(
        deployment["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"],
        "web"
    );

    // Nothing is installed yet: the diff lists creations and exits 1.
    let out = sb
        .driftless(&["diff", "hr", "web", chart_flag.as_str()])
        .await
        .code(1);
    assert!(
        out.stdout
            .contains("► Deployment/flux-system/web-podinfo created"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn build_helmrelease_skips_the_values_schema_when_the_action_disables_it() {
    let home = tempfile::tempdir().expect("home");
    let chart = home.path().join("strict");
    std::fs::create_dir_all(chart.join("templates")).expect("chart dirs");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: strict\nversion: 0.1.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(chart.join("values.yaml"), "replicas: 1\n").expect("values.yaml");
    std::fs::write(
        chart.join("values.schema.json"),
        r#"{"type": "object", "properties": {"replicas": {"type": "integer"}}}"#,
    )
    .expect("values.schema.json");
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
    )
    .expect("template");
    let sb = installed("helm-schema").await;
    let release = |install: Value| {
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "strict", "namespace": "flux-system"},
            "spec": {
                "interval": "10m",
                "chartRef": {"kind": "OCIRepository", "name": "strict"},
                "values": {"replicas": "many"},
                "install": install,
            },
        })
        .to_string()
    };
    let chart_flag = format!("--chart={}", chart.display());
    sb.kubectl(&["apply", "-f", "-"], Some(&release(json!({}))))
        .await
        .ok();
    let out = sb
        .driftless(&["build", "hr", "strict", chart_flag.as_str()])
        .await
        .code(1);
    assert!(
        out.stderr
            .contains("values don't meet the specifications of the schema"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("at '/replicas': got string, want integer"),
        "{out:#?}"
    );

    // As Helm's install with --skip-schema-validation: the value renders.
    sb.kubectl(
        &["apply", "-f", "-"],
        Some(&release(json!({"disableSchemaValidation": true}))),
    )
    .await
    .ok();
    let out = sb
        .driftless(&["build", "hr", "strict", chart_flag.as_str()])
        .await
        .ok();
    assert!(out.stdout.contains("replicas: many"), "{out:#?}");
}
