//! What kubectl asks besides objects: `kubectl auth can-i` (answered yes
//! for the admin, whose token every request carries) and the OpenAPI v2
//! document in JSON.

mod common;

use common::TestSandbox;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_can_do_anything() {
    let sb = TestSandbox::start("can-i").await;
    for args in [
        &["auth", "can-i", "create", "deployments"][..],
        &["auth", "can-i", "delete", "secrets", "-n", "kube-system"],
        &["auth", "can-i", "*", "*"],
        &["auth", "can-i", "get", "/healthz"],
    ] {
        let out = sb.kubectl(args).run().await.ok();
        assert_eq!(out.stdout.trim(), "yes", "{args:?}: {out:#?}");
    }
    let out = sb.kubectl(&["auth", "can-i", "--list"]).run().await.ok();
    let rules: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rules,
        [
            vec![
                "Resources",
                "Non-Resource",
                "URLs",
                "Resource",
                "Names",
                "Verbs"
            ],
            vec!["*.*", "[]", "[]", "[*]"],
            vec!["[*]", "[]", "[*]"],
        ],
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_v2_is_served_as_json_when_asked() {
    let sb = TestSandbox::start("openapi-v2").await;
    let out = sb
        .kubectl(&["get", "--raw", "/openapi/v2"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(out["swagger"], "2.0", "{out:#}");
    assert!(out["paths"].is_object(), "{out:#}");
}
