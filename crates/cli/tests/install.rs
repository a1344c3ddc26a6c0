//! `install`, `check` and `uninstall` against the sandbox, with the real
//! kubectl where a user would pipe our output into it.

use crate::common::{TestSandbox, eventually};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

const CRDS: [&str; 2] = [
    "gitrepositories.source.toolkit.fluxcd.io",
    "kustomizations.kustomize.toolkit.fluxcd.io",
];

#[tokio::test]
async fn the_export_applies_with_kubectl_and_the_crds_become_established() {
    let sb = TestSandbox::start("export").await;
    let export = sb.driftless(&["install", "--export"]).await.ok();
    assert!(export.stdout.starts_with("---\n"), "{}", export.stdout);
    let applied = sb
        .kubectl(&["apply", "-f", "-"], Some(&export.stdout))
        .await
        .ok();
    for crd in CRDS {
        assert!(applied.stdout.contains(crd), "{}", applied.stdout);
    }
    assert!(
        applied
            .stdout
            .contains("deployment.apps/driftless-controller created")
    );
    assert!(
        applied
            .stdout
            .contains("networkpolicy.networking.k8s.io/driftless-controller created")
    );
    for crd in CRDS {
        eventually(&format!("{crd} Established"), || async {
            let out = sb.kubectl(&["get", "crd", crd, "-o", "json"], None).await;
            let established = out.code == 0
                && out.json()["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Established" && c["status"] == "True")
                    });
            established.then_some(())
        })
        .await;
    }
    // The CRDs kubectl applied are the ones this build expects.
    let check = sb.driftless(&["check"]).await.code(1);
    for crd in CRDS {
        assert!(
            check
                .stdout
                .contains(&format!("ok CRD {crd} installed and current")),
            "{check:#?}"
        );
    }
}

#[tokio::test]
async fn install_applies_waits_for_the_rollout_and_uninstall_removes_it() {
    let sb = TestSandbox::start("install").await;
    let install = sb.driftless(&["install", "--timeout=1m"]).await.ok();
    assert!(
        install.stderr.contains("controller available"),
        "{install:#?}"
    );
    let deployment = sb
        .kubectl(
            &[
                "-n",
                "driftless-system",
                "get",
                "deployment",
                "driftless-controller",
                "-o",
                "json",
                "--show-managed-fields",
            ],
            None,
        )
        .await
        .ok()
        .json();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        format!(
            "ghcr.io/driftless-dev/driftless:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(container["args"][0], "controller");
    assert_eq!(
        deployment["metadata"]["managedFields"][0]["manager"],
        "driftless"
    );

    // Applying again changes nothing and still succeeds.
    sb.driftless(&["install", "--no-wait"]).await.ok();

    let refused = sb.driftless(&["uninstall"]).await.code(1);
    assert!(refused.stderr.contains("--yes"), "{refused:#?}");

    sb.driftless(&["uninstall", "--keep-crds"]).await.ok();
    sb.kubectl(&["get", "crd", CRDS[0]], None).await.ok();
    sb.kubectl(
        &[
            "-n",
            "driftless-system",
            "get",
            "deployment",
            "driftless-controller",
        ],
        None,
    )
    .await
    .code(1);

    sb.driftless(&["uninstall", "--yes"]).await.ok();
    let gone = sb.kubectl(&["get", "crd", CRDS[0]], None).await.code(1);
    assert!(gone.stderr.contains("NotFound"), "{gone:#?}");
}

#[tokio::test]
async fn uninstall_strips_our_finalizer_and_keeps_the_objects_when_asked() {
    let sb = TestSandbox::start("finalizers").await;
    sb.driftless(&["install", "--no-wait"]).await.ok();
    sb.kubectl(&["create", "namespace", "flux-system"], None)
        .await
        .ok();
    sb.driftless(&[
        "create",
        "source",
        "git",
        "app",
        "--url=https://git.example.com/app.git",
        "--branch=main",
        "--no-wait",
    ])
    .await
    .ok();
    sb.kubectl(
        &[
            "-n",
            "flux-system",
            "patch",
            "gitrepository",
            "app",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["finalizers.fluxcd.io","example.com/other"]}}"#,
        ],
        None,
    )
    .await
    .ok();
    sb.driftless(&["uninstall", "--keep-crds"]).await.ok();
    let repo = sb
        .kubectl(
            &[
                "-n",
                "flux-system",
                "get",
                "gitrepository",
                "app",
                "-o",
                "json",
            ],
            None,
        )
        .await
        .ok()
        .json();
    assert_eq!(
        repo["metadata"]["finalizers"],
        serde_json::json!(["example.com/other"])
    );
}

#[tokio::test]
async fn check_reports_missing_crds_and_a_fresh_or_expired_lease() {
    let sb = TestSandbox::start("check").await;
    let missing = sb.driftless(&["check"]).await.code(1);
    assert!(
        missing.stdout.contains("ok cluster reachable"),
        "{missing:#?}"
    );
    for crd in CRDS {
        assert!(
            missing
                .stdout
                .contains(&format!("fail CRD {crd} is missing, run driftless install")),
            "{missing:#?}"
        );
    }
    assert!(
        missing.stdout.contains(
            "fail controller not running: no Lease driftless-system/driftless-controller"
        )
    );

    sb.driftless(&["install", "--no-wait"]).await.ok();
    let leases: Api<Lease> = Api::namespaced(sb.client().await, "driftless-system");
    let lease = |name: &str, renewed: Timestamp| Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("driftless-controller-abc".to_string()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(renewed)),
            ..Default::default()
        }),
    };
    leases
        .create(
            &PostParams::default(),
            &lease("driftless-controller", Timestamp::now()),
        )
        .await
        .expect("create the Lease");
    let fresh = sb.driftless(&["check"]).await.ok();
    assert!(
        fresh
            .stdout
            .contains("ok controller running: driftless-controller-abc holds the Lease"),
        "{fresh:#?}"
    );
    assert!(fresh.stdout.contains("all checks passed"));

    // A Lease renewed an hour ago belongs to a controller that is gone.
    let mut stale = leases.get("driftless-controller").await.expect("the Lease");
    stale.spec.as_mut().expect("a spec").renew_time =
        Some(MicroTime(Timestamp::now() - SignedDuration::from_hours(1)));
    leases
        .replace("driftless-controller", &PostParams::default(), &stale)
        .await
        .expect("update the Lease");
    let expired = sb.driftless(&["check"]).await.code(1);
    assert!(
        expired
            .stdout
            .contains("fail controller not running: driftless-controller-abc last renewed"),
        "{expired:#?}"
    );

    // The Lease may live elsewhere.
    let elsewhere = sb
        .driftless(&["check", "--controller-namespace=other"])
        .await
        .code(1);
    assert!(
        elsewhere
            .stdout
            .contains("no Lease other/driftless-controller"),
        "{elsewhere:#?}"
    );
}

#[tokio::test]
async fn check_calls_a_changed_crd_outdated() {
    let sb = TestSandbox::start("outdated").await;
    sb.driftless(&["install", "--no-wait"]).await.ok();
    sb.kubectl(
        &["patch", "crd", CRDS[1], "--type=json", "-p", r#"[{"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/description","value":"an older schema"}]"#],
        None,
    )
    .await
    .ok();
    let check = sb.driftless(&["check"]).await.code(1);
    assert!(
        check
            .stdout
            .contains(&format!("fail CRD {} is outdated", CRDS[1])),
        "{check:#?}"
    );
    assert!(
        check
            .stdout
            .contains(&format!("ok CRD {} installed and current", CRDS[0])),
        "{check:#?}"
    );
}
