//! HelmRelease tests (`spec.test`) and `upgrade.preserveValues` against the
//! sandbox, with a small chart packaged by the real `helm` and served by a
//! chart repository on loopback (lighttpd): test Pods run after install and
//! upgrade, their results reach `TestSuccess`, the snapshot's `testHooks`
//! and the release record (read back by the real `helm status`); a failed
//! test rolls the upgrade back unless failures are ignored; the real
//! `helm` (v4 and v3) rolls back a release the controller made.
//! `preserveValues` keeps what only the previous release set, without an
//! upgrade on every reconcile.

use std::path::{Path, PathBuf};

use crate::common::Env;
use crate::common::helm::{self, apply, helm_as};
use driftless_api::HelmRelease;
use driftless_api::conditions;
use driftless_testkit::cluster::eventually;
use driftless_testkit::helm_repo::StaticServer;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

const NAMESPACE: &str = "apps";
const NAME: &str = "tested";

/// A chart with a ConfigMap of its values and two test Pods: `check`
/// (weight -1, the default delete policy) and `smoke` (deleted when it
/// succeeds; fails in the sandbox when `smokeOutcome` is `fail`).
fn write_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("tested");
    std::fs::create_dir_all(chart.join("templates/tests")).expect("chart dirs");
    let files = [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: tested\nversion: 0.1.0\n",
        ),
        (
            "values.yaml",
            "message: hello\nsmokeOutcome: \"\"\nextra: {}\n",
        ),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  message: {{ .Values.message | quote }}\n{{- range $key, $value := .Values.extra }}\n  {{ $key }}: {{ $value | quote }}\n{{- end }}\n",
        ),
        (
            "templates/tests/check.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-check\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-weight: \"-1\"\nspec:\n  restartPolicy: Never\n  containers:\n    - name: check\n      image: busybox\n      command: [\"true\"]\n",
        ),
        (
            "templates/tests/smoke.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-smoke\n  annotations:\n    helm.sh/hook: test-success\n    helm.sh/hook-delete-policy: hook-succeeded\n{{- with .Values.smokeOutcome }}\n    sandbox.driftless.dev/rollout: {{ . }}\n{{- end }}\nspec:\n  restartPolicy: Never\n  containers:\n    - name: smoke\n      image: busybox\n      command: [\"true\"]\n",
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

fn helm_release(spec: serde_json::Value) -> serde_json::Value {
    let mut full = json!({
        "interval": "1m",
        "timeout": "20s",
        "chart": {"spec": {"chart": "tested", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
    });
    for (key, value) in spec.as_object().expect("a spec object") {
        full[key] = value.clone();
    }
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": full,
    })
}

async fn release(client: &kube::Client) -> HelmRelease {
    helm::release(client, NAMESPACE, NAME).await
}

/// (status, reason, message) of condition `type_`.
fn condition_of(hr: &HelmRelease, type_: &str) -> Option<(String, String, String)> {
    conditions::find(hr.conditions(), type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until `check` accepts the HelmRelease, then returns it.
async fn until(
    client: &kube::Client,
    what: &str,
    check: impl Fn(&HelmRelease) -> bool,
) -> HelmRelease {
    eventually(what, || async {
        let hr = release(client).await;
        if check(&hr) {
            Ok(hr)
        } else {
            Err(format!(
                "Ready {:?}, TestSuccess {:?}, Remediated {:?}, history {:?}",
                crate::common::ready_of(hr.conditions()),
                condition_of(&hr, "TestSuccess"),
                condition_of(&hr, "Remediated"),
                hr.status
                    .as_ref()
                    .and_then(|s| s.history.as_ref())
                    .map(|h| h
                        .iter()
                        .map(|s| (s.version, s.status.clone()))
                        .collect::<Vec<_>>())
            ))
        }
    })
    .await
}

fn latest_version(hr: &HelmRelease) -> Option<i64> {
    hr.latest_snapshot().map(|s| s.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tests_run_after_releases_and_a_failed_test_rolls_the_upgrade_back() {
    if !helm::helm_or_skip("HelmRelease tests", true) {
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let (env, _server) = start(home.path()).await;
    let client = env.client.clone();
    let kubeconfig = env.cluster.kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().expect("utf8");
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);

    // Install: both tests pass, in weight order; Ready says so.
    apply(
        &client,
        helm_release(json!({
            "test": {"enable": true},
            "upgrade": {"remediation": {"retries": 1}},
        })),
    )
    .await;
    let hr = until(&client, "installed and tested", |hr| {
        condition_of(hr, "TestSuccess").is_some_and(|c| c.0 == "True")
    })
    .await;
    let (status, reason, message) = crate::common::ready_of(hr.conditions()).expect("Ready");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "TestSucceeded")
    );
    assert_eq!(
        message,
        "Helm test succeeded for release apps/tested.v1 with chart tested@0.1.0: 2 test hooks completed successfully"
    );
    let tests = hr
        .latest_snapshot()
        .and_then(|s| s.test_hooks.clone())
        .expect("testHooks");
    let check = &tests["tested-check"];
    let smoke = &tests["tested-smoke"];
    assert_eq!(check.phase.as_deref(), Some("Succeeded"));
    assert_eq!(smoke.phase.as_deref(), Some("Succeeded"));
    let completed = |t: &driftless_api::helmrelease::TestHookStatus| {
        t.last_completed.as_ref().expect("completed").0
    };
    let started = |t: &driftless_api::helmrelease::TestHookStatus| {
        t.last_started.as_ref().expect("started").0
    };
    assert!(
        completed(check) <= started(smoke),
        "weight -1 runs first: {tests:?}"
    );
    // `hook-succeeded` deleted the smoke Pod; the check Pod stays until its
    // next run replaces it.
    assert!(pods.get_opt("tested-smoke").await.expect("read").is_none());
    let check_pod = pods.get("tested-check").await.expect("the check Pod");
    assert_eq!(
        check_pod.status.and_then(|s| s.phase).as_deref(),
        Some("Succeeded")
    );
    // The real helm sees the test suite in the record.
    let status = helm_as(
        "helm",
        home.path(),
        &["status", NAME, "-n", NAMESPACE, "--kubeconfig", kubeconfig],
    );
    for name in ["tested-check", "tested-smoke"] {
        assert!(
            status.contains(&format!("TEST SUITE:     {name}\nLast Started:")),
            "{status}"
        );
    }
    assert_eq!(
        status.matches("Phase:          Succeeded").count(),
        2,
        "{status}"
    );

    // Upgrade to values that fail the smoke test: the upgrade counts as
    // failed and is rolled back to revision 1.
    apply(
        &client,
        helm_release(json!({
            "values": {"smokeOutcome": "fail"},
            "test": {"enable": true},
            "upgrade": {"remediation": {"retries": 1}},
        })),
    )
    .await;
    let hr = until(&client, "the failed test rolled back", |hr| {
        condition_of(hr, "Remediated").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(
        condition_of(&hr, "Remediated").map(|c| c.1),
        Some("RollbackSucceeded".into())
    );
    let (status, reason, message) = condition_of(&hr, "TestSuccess").expect("TestSuccess");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "TestFailed"));
    assert!(
        message.starts_with("Helm test failed for release apps/tested.v2 with chart tested@0.1.0: test hook tested-smoke"),
        "{message}"
    );
    let ready = crate::common::ready_of(hr.conditions()).expect("Ready");
    assert_eq!(ready.0, "False", "{ready:?}");
    let status = hr.status.clone().expect("status");
    assert_eq!((status.failures, status.upgrade_failures), (1, 1));
    let failed = status
        .history
        .as_ref()
        .and_then(|h| h.iter().find(|s| s.version == 2))
        .and_then(|s| s.test_hooks.clone())
        .expect("revision 2's tests");
    assert_eq!(failed["tested-check"].phase.as_deref(), Some("Succeeded"));
    assert_eq!(failed["tested-smoke"].phase.as_deref(), Some("Failed"));
    assert_eq!(
        helm::history("helm", home.path(), kubeconfig, NAMESPACE, NAME),
        [
            (1, "superseded".into(), "Install complete".into()),
            (2, "superseded".into(), "Upgrade complete".into()),
            (3, "deployed".into(), "Rollback to 1".into()),
        ]
    );

    // With test failures ignored, the same failing test leaves the
    // upgrade in place and the release Ready.
    apply(
        &client,
        helm_release(json!({
            "values": {"smokeOutcome": "fail", "message": "ignored"},
            "test": {"enable": true, "ignoreFailures": true},
            "upgrade": {"remediation": {"retries": 1}},
        })),
    )
    .await;
    let hr = until(&client, "the ignored failure is Ready", |hr| {
        latest_version(hr) == Some(4)
            && crate::common::ready_of(hr.conditions()).is_some_and(|r| r.0 == "True")
    })
    .await;
    assert_eq!(
        crate::common::ready_of(hr.conditions()).map(|r| r.1),
        Some("UpgradeSucceeded".into())
    );
    assert_eq!(
        condition_of(&hr, "TestSuccess").map(|c| (c.0, c.1)),
        Some(("False".into(), "TestFailed".into()))
    );
    assert_eq!(
        helm::history("helm", home.path(), kubeconfig, NAMESPACE, NAME)
            .last()
            .cloned(),
        Some((4, "deployed".into(), "Upgrade complete".into()))
    );

    // Filters: only the check test runs; disabling tests drops the condition.
    apply(
        &client,
        helm_release(json!({
            "values": {"smokeOutcome": "fail", "message": "filtered"},
            "test": {"enable": true, "filters": [{"name": "tested-smoke", "exclude": true}]},
        })),
    )
    .await;
    let hr = until(&client, "only the check test ran", |hr| {
        latest_version(hr) == Some(5)
            && condition_of(hr, "TestSuccess").is_some_and(|c| c.0 == "True")
    })
    .await;
    let tests = hr
        .latest_snapshot()
        .and_then(|s| s.test_hooks.clone())
        .expect("testHooks");
    assert_eq!(tests.keys().collect::<Vec<_>>(), ["tested-check"]);

    // The real helm rolls back what the controller released, once the
    // HelmRelease is suspended (or it would upgrade straight back).
    apply(
        &client,
        helm_release(json!({
            "suspend": true,
            "values": {"smokeOutcome": "fail", "message": "filtered"},
            "test": {"enable": true, "filters": [{"name": "tested-smoke", "exclude": true}]},
        })),
    )
    .await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let message_now = || async {
        configmaps
            .get(NAME)
            .await
            .expect("the ConfigMap")
            .data
            .unwrap_or_default()
            .get("message")
            .cloned()
    };
    helm_as(
        "helm",
        home.path(),
        &[
            "rollback",
            NAME,
            "1",
            "-n",
            NAMESPACE,
            "--kubeconfig",
            kubeconfig,
        ],
    );
    assert_eq!(message_now().await.as_deref(), Some("hello"));
    helm_as(
        "helm3",
        home.path(),
        &[
            "rollback",
            NAME,
            "5",
            "-n",
            NAMESPACE,
            "--kubeconfig",
            kubeconfig,
        ],
    );
    assert_eq!(message_now().await.as_deref(), Some("filtered"));
    let after = helm::history("helm", home.path(), kubeconfig, NAMESPACE, NAME);
    assert_eq!(
        after[after.len() - 2..],
        [
            (6, "superseded".into(), "Rollback to 1".into()),
            (7, "deployed".into(), "Rollback to 5".into()),
        ],
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn preserve_values_keeps_what_only_the_previous_release_set() {
    if !helm::helm_or_skip("HelmRelease preserveValues", false) {
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let (env, _server) = start(home.path()).await;
    let client = env.client.clone();
    let kubeconfig = env.cluster.kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().expect("utf8");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let data = || async {
        configmaps
            .get(NAME)
            .await
            .expect("the ConfigMap")
            .data
            .unwrap_or_default()
    };
    let ready_at = |version: i64| {
        let client = client.clone();
        async move {
            until(&client, &format!("Ready at revision {version}"), |hr| {
                latest_version(hr) == Some(version)
                    && crate::common::ready_of(hr.conditions()).is_some_and(|r| r.0 == "True")
            })
            .await
        }
    };

    apply(
        &client,
        helm_release(
            json!({"values": {"message": "one", "extra": {"kept": "yes", "changed": "old"}}}),
        ),
    )
    .await;
    ready_at(1).await;

    // The new values drop `extra.kept`; preserveValues keeps it.
    apply(
        &client,
        helm_release(json!({
            "values": {"message": "two", "extra": {"changed": "new"}},
            "upgrade": {"preserveValues": true},
        })),
    )
    .await;
    ready_at(2).await;
    let now = data().await;
    assert_eq!(now.get("message").map(String::as_str), Some("two"));
    assert_eq!(now.get("kept").map(String::as_str), Some("yes"));
    assert_eq!(now.get("changed").map(String::as_str), Some("new"));
    let values = helm_as(
        "helm",
        home.path(),
        &[
            "get",
            "values",
            NAME,
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
        json!({"message": "two", "extra": {"kept": "yes", "changed": "new"}})
    );

    // Reconciling again finds the release as desired: no upgrade loop
    // although the spec's values lack what the release keeps.
    Api::<HelmRelease>::namespaced(client.clone(), NAMESPACE)
        .patch(
            NAME,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "again"}}}),
            ),
        )
        .await
        .expect("reconcile requested");
    let hr = until(&client, "the request handled", |hr| {
        hr.status
            .as_ref()
            .and_then(|s| s.last_handled_reconcile_at.as_deref())
            == Some("again")
    })
    .await;
    assert_eq!(latest_version(&hr), Some(2), "no new revision");

    // Without preserveValues the spec's values alone count again.
    apply(
        &client,
        helm_release(json!({"values": {"message": "three"}})),
    )
    .await;
    ready_at(3).await;
    let now = data().await;
    assert_eq!(now.get("message").map(String::as_str), Some("three"));
    assert!(!now.contains_key("kept"), "{now:?}");

    // Tests enabled on a release already as desired run on it (Flux's
    // untested state) without a new revision.
    apply(
        &client,
        helm_release(json!({"values": {"message": "three"}, "test": {"enable": true}})),
    )
    .await;
    let hr = until(&client, "the released revision tested", |hr| {
        condition_of(hr, "TestSuccess").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(latest_version(&hr), Some(3), "no new revision");
    assert_eq!(
        crate::common::ready_of(hr.conditions()).map(|r| (r.0, r.1)),
        Some(("True".into(), "TestSucceeded".into()))
    );
}
