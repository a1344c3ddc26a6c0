//! The sandbox observed as a real API server is: `/metrics` counts exactly
//! the requests a client made, labelled as kube-apiserver labels them, and
//! only for those allowed to read it; the audit log names who asked (and
//! whom they impersonated), what, and the answer; `kubectl auth whoami`
//! says who the caller is, with kubectl 1.32 and 1.37.

use crate::common::TestSandbox;
use driftless_sandbox::StaticUser;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchParams};
use serde_json::{Value, json};

fn user(token: &str, name: &str, groups: &[&str]) -> StaticUser {
    StaticUser {
        token: token.into(),
        name: name.into(),
        uid: String::new(),
        groups: groups.iter().map(|g| (*g).to_string()).collect(),
    }
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}}))
        .expect("a valid ConfigMap")
}

/// The value of one `apiserver_request_total` series (0 when absent),
/// matched on every label.
fn count(metrics: &str, code: u16, verb: &str, scope: &str, dry_run: &str) -> u64 {
    let series = format!(
        "apiserver_request_total{{code=\"{code}\",component=\"apiserver\",dry_run=\"{dry_run}\",group=\"\",resource=\"configmaps\",scope=\"{scope}\",subresource=\"\",verb=\"{verb}\",version=\"v1\"}} "
    );
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |n| n.parse().expect("a count"))
}

async fn scrape(sb: &TestSandbox) -> String {
    sb.kubectl(&["get", "--raw", "/metrics"])
        .run()
        .await
        .ok()
        .stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_what_was_asked() {
    let sb = TestSandbox::start("metrics").await;
    let before = scrape(&sb).await;
    let api: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &config_map(name))
            .await
            .expect("create");
    }
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&dry, &config_map("d")).await.expect("dry run");
    api.get("a").await.expect("get");
    api.get("b").await.expect("get");
    assert!(api.get_opt("missing").await.expect("get").is_none());
    api.list(&ListParams::default()).await.expect("list");
    // Narrowed to one name by a field selector, a list is still a LIST.
    api.list(&ListParams::default().fields("metadata.name=a"))
        .await
        .expect("list");
    api.patch(
        "a",
        &PatchParams::apply("observer").force(),
        &Patch::Apply(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a"},
            "data": {"k": "w"},
        })),
    )
    .await
    .expect("apply");
    api.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "x"}})),
    )
    .await
    .expect("merge patch");
    let mut watch = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .expect("watch")
        .boxed();
    while watch.next().await.is_some() {}

    let after = scrape(&sb).await;
    for (code, verb, scope, dry_run, asked) in [
        (201, "POST", "resource", "", 3),
        (201, "POST", "resource", "All", 1),
        (200, "GET", "resource", "", 2),
        (404, "GET", "resource", "", 1),
        (200, "LIST", "namespace", "", 2),
        (200, "APPLY", "resource", "", 1),
        (200, "PATCH", "resource", "", 1),
        (200, "WATCH", "namespace", "", 1),
    ] {
        let rose =
            count(&after, code, verb, scope, dry_run) - count(&before, code, verb, scope, dry_run);
        assert_eq!(
            rose, asked,
            "{verb} {scope} {code} dry_run={dry_run}:\n{after}"
        );
    }
    // The histogram saw the same three creates, in the real server's buckets.
    let labels = r#"component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1""#;
    for line in [
        format!("apiserver_request_duration_seconds_count{{{labels}}} 3"),
        format!("apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 3"),
    ] {
        assert!(after.lines().any(|l| l == line), "{line}:\n{after}");
    }
    for bound in ["0.005", "0.025", "1.25", "45", "60"] {
        let bucket =
            format!("apiserver_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} ");
        assert!(after.contains(&bucket), "{bucket}:\n{after}");
    }
    assert!(after.contains("# TYPE apiserver_request_duration_seconds histogram"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_monitoring_and_admins_read_metrics() {
    let sb = TestSandbox::start_with_users(
        "metrics-rbac",
        vec![
            user("jane-token", "jane", &[]),
            user("prom-token", "prometheus", &["system:monitoring"]),
        ],
    )
    .await;
    let out = sb
        .kubectl(&["--token", "jane-token", "get", "--raw", "/metrics"])
        .run()
        .await;
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr
            .contains(r#"User \"jane\" cannot get path \"/metrics\""#)
            || out
                .stderr
                .contains(r#"User "jane" cannot get path "/metrics""#),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["--token", "prom-token", "get", "--raw", "/metrics"])
        .run()
        .await
        .ok();
    assert!(
        out.stdout
            .contains("# TYPE apiserver_request_total counter")
    );
}

/// The audit events in `path`, one per line.
fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the audit log exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON event"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_names_both_users_of_an_impersonated_request() {
    let log_dir = crate::common::TempDir::new("audit");
    let log = log_dir.path().join("audit.log");
    let log_path = log.clone();
    let sb = TestSandbox::start_with("audit", Vec::new(), |config| {
        config.audit_log = Some(log_path);
    })
    .await;
    sb.kubectl(&["create", "namespace", "other"])
        .run()
        .await
        .ok();
    let tenant = "system:serviceaccount:default:deployer";
    let out = sb
        .kubectl(&[
            "create",
            "configmap",
            "theirs",
            "-n",
            "other",
            "--as",
            tenant,
        ])
        .run()
        .await;
    assert_ne!(out.code, 0, "{out:#?}");
    let out = sb
        .kubectl(&["--token", "not-a-token", "get", "namespaces"])
        .run()
        .await;
    assert_ne!(out.code, 0, "{out:#?}");

    let events = events(&log);
    let refused = events
        .iter()
        .find(|e| {
            e["verb"] == "create"
                && e["objectRef"]["resource"] == "configmaps"
                && e["objectRef"]["namespace"] == "other"
        })
        .unwrap_or_else(|| panic!("no event for the refused create in {events:#?}"));
    assert_eq!(refused["kind"], "Event");
    assert_eq!(refused["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(refused["level"], "Metadata");
    assert_eq!(refused["stage"], "ResponseComplete");
    assert_eq!(refused["user"]["username"], "admin");
    assert_eq!(refused["impersonatedUser"]["username"], tenant);
    assert_eq!(refused["objectRef"]["apiVersion"], "v1");
    assert_eq!(refused["responseStatus"]["code"], 403);
    assert_eq!(refused["sourceIPs"], json!(["127.0.0.1"]));
    assert!(
        refused["requestURI"]
            .as_str()
            .is_some_and(|u| u.starts_with("/api/v1/namespaces/other/configmaps")),
        "{refused:#?}"
    );
    for field in ["auditID", "requestReceivedTimestamp", "stageTimestamp"] {
        assert!(refused[field].is_string(), "{field}: {refused:#?}");
    }

    let created = events
        .iter()
        .find(|e| e["verb"] == "create" && e["objectRef"]["resource"] == "namespaces")
        .unwrap_or_else(|| panic!("no event for the namespace in {events:#?}"));
    assert_eq!(created["responseStatus"]["code"], 201);
    assert!(created.get("impersonatedUser").is_none(), "{created:#?}");

    let unknown = events
        .iter()
        .find(|e| e["responseStatus"]["code"] == 401)
        .unwrap_or_else(|| panic!("no event for the unknown token in {events:#?}"));
    assert_eq!(unknown["user"], json!({}));

    let mut ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["auditID"].as_str())
        .collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "audit IDs are unique");
}

/// The kubectl binaries to check `whoami` with: 1.32 always, 1.37 when
/// on PATH (required under `DRIFTLESS_REQUIRE_SHARED=1`).
fn kubectls() -> Vec<&'static str> {
    let mut programs = vec!["kubectl"];
    let found = std::process::Command::new("kubectl-1.37")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        programs.push("kubectl-1.37");
    } else {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "DRIFTLESS_REQUIRE_SHARED=1 but kubectl-1.37 is not on PATH"
        );
        println!("SKIPPED: kubectl-1.37 is not on PATH; whoami is checked with kubectl 1.32 only");
    }
    programs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_auth_whoami_says_who_asks() {
    let sb =
        TestSandbox::start_with_users("whoami", vec![user("jane-token", "jane", &["devs"])]).await;
    for program in kubectls() {
        let out = sb
            .kubectl(&["auth", "whoami", "-o", "json"])
            .program(program)
            .run()
            .await
            .ok();
        let review = out.json();
        assert_eq!(review["kind"], "SelfSubjectReview", "{program}");
        assert_eq!(
            review["apiVersion"], "authentication.k8s.io/v1",
            "{program}"
        );
        assert_eq!(
            review["status"]["userInfo"]["username"], "admin",
            "{program}"
        );
        assert!(
            review["status"]["userInfo"]["groups"]
                .as_array()
                .is_some_and(|g| g.contains(&json!("system:masters"))),
            "{program}: {review:#?}"
        );

        let out = sb
            .kubectl(&["auth", "whoami", "--token", "jane-token"])
            .program(program)
            .run()
            .await
            .ok();
        let rows: Vec<Vec<&str>> = out
            .stdout
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert!(
            rows.contains(&vec!["Username", "jane"]),
            "{program}: {out:#?}"
        );
        assert!(
            rows.contains(&vec!["Groups", "[devs", "system:authenticated]"]),
            "{program}: {out:#?}"
        );

        // Impersonation applied: the answer is the impersonated user.
        let out = sb
            .kubectl(&[
                "auth",
                "whoami",
                "-o",
                "json",
                "--as",
                "system:serviceaccount:team:bot",
            ])
            .program(program)
            .run()
            .await
            .ok();
        let info = &out.json()["status"]["userInfo"];
        assert_eq!(
            info["username"], "system:serviceaccount:team:bot",
            "{program}"
        );
        assert_eq!(
            info["groups"],
            json!([
                "system:serviceaccounts",
                "system:serviceaccounts:team",
                "system:authenticated"
            ]),
            "{program}"
        );

        let out = sb
            .kubectl(&["api-resources", "--api-group", "authentication.k8s.io"])
            .program(program)
            .run()
            .await
            .ok();
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("selfsubjectreviews ") && l.contains("SelfSubjectReview")),
            "{program}: {out:#?}"
        );
    }
}
