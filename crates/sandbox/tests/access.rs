//! Who may do what, as kubectl sees it: `kubectl auth can-i` (also with
//! `--as` and `--list`) answered from RBAC, users from bearer tokens and
//! service account tokens, impersonation, Forbidden errors in the API
//! server's words, escalation prevention; and the OpenAPI v2 document in
//! JSON.

use crate::common::TestSandbox;
use driftless_sandbox::StaticUser;

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
    // The admin is in system:masters, bound to cluster-admin as on a real
    // cluster; the bootstrap roles every user has are listed too.
    let out = sb.kubectl(&["auth", "can-i", "--list"]).run().await.ok();
    let rules: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rules.contains(&vec!["*.*", "[]", "[]", "[*]"]), "{out:#?}");
    assert!(rules.contains(&vec!["[*]", "[]", "[*]"]), "{out:#?}");
    assert!(
        rules.contains(&vec![
            "selfsubjectaccessreviews.authorization.k8s.io",
            "[]",
            "[]",
            "[create]"
        ]),
        "{out:#?}"
    );
}

fn user(token: &str, name: &str, groups: &[&str]) -> StaticUser {
    StaticUser {
        token: token.into(),
        name: name.into(),
        uid: String::new(),
        groups: groups.iter().map(|g| (*g).to_string()).collect(),
    }
}

/// `kubectl auth can-i`, answered yes (exit 0) or no (exit 1).
async fn can_i(sb: &TestSandbox, args: &[&str]) -> bool {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    let out = sb.kubectl(&all).run().await;
    match (out.code, out.stdout.trim()) {
        (0, "yes") => true,
        (1, "no") => false,
        _ => panic!("kubectl auth can-i {args:?} answered neither yes nor no: {out:#?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_may_do_what_bindings_grant_and_can_i_says_so() {
    let sb =
        TestSandbox::start_with_users("rbac-user", vec![user("jane-token", "jane", &["devs"])])
            .await;
    sb.kubectl(&["create", "namespace", "team"])
        .run()
        .await
        .ok();
    sb.kubectl(&["create", "namespace", "other"])
        .run()
        .await
        .ok();
    let jane = ["--token", "jane-token"];
    assert!(
        !can_i(
            &sb,
            &[&jane[..], &["create", "deployments", "-n", "team"]].concat()
        )
        .await
    );
    assert!(
        !can_i(
            &sb,
            &["create", "deployments", "-n", "team", "--as", "jane"]
        )
        .await
    );
    // Every authenticated user may ask and discover.
    assert!(can_i(&sb, &[&jane[..], &["get", "/apis"]].concat()).await);

    sb.kubectl(&[
        "create",
        "rolebinding",
        "devs-edit",
        "-n",
        "team",
        "--clusterrole",
        "edit",
        "--group",
        "devs",
    ])
    .run()
    .await
    .ok();
    assert!(
        can_i(
            &sb,
            &[&jane[..], &["create", "deployments", "-n", "team"]].concat()
        )
        .await
    );
    assert!(
        can_i(
            &sb,
            &[
                "create",
                "deployments",
                "-n",
                "team",
                "--as",
                "jane",
                "--as-group",
                "devs"
            ]
        )
        .await
    );
    assert!(
        can_i(
            &sb,
            &[
                "patch",
                "deployments.apps/scale",
                "-n",
                "team",
                "--as",
                "jane",
                "--as-group",
                "devs"
            ]
        )
        .await
    );
    assert!(
        !can_i(
            &sb,
            &[
                "create",
                "deployments",
                "-n",
                "other",
                "--as",
                "jane",
                "--as-group",
                "devs"
            ]
        )
        .await
    );
    assert!(
        !can_i(
            &sb,
            &[
                "list",
                "deployments",
                "-A",
                "--as",
                "jane",
                "--as-group",
                "devs"
            ]
        )
        .await
    );
    assert!(
        !can_i(
            &sb,
            &[
                "create",
                "clusterrolebindings",
                "--as",
                "jane",
                "--as-group",
                "devs"
            ]
        )
        .await
    );
    assert!(
        !can_i(
            &sb,
            &[&jane[..], &["create", "roles", "-n", "team"]].concat()
        )
        .await
    );

    // What is refused is refused with the API server's own words.
    let out = sb
        .kubectl(&["get", "secrets", "-n", "other", "--token", "jane-token"])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(r#"Error from server (Forbidden): secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "other""#),
        "{out:#?}"
    );
    sb.kubectl(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team",
        "--from-literal=a=b",
        "--token",
        "jane-token",
    ])
    .run()
    .await
    .ok();
    let listed = sb
        .kubectl(&[
            "get",
            "configmaps",
            "-n",
            "team",
            "--token",
            "jane-token",
            "-o",
            "name",
        ])
        .run()
        .await
        .ok();
    assert!(listed.stdout.contains("configmap/settings"), "{listed:#?}");

    let out = sb
        .kubectl(&[
            "auth",
            "can-i",
            "--list",
            "-n",
            "team",
            "--token",
            "jane-token",
        ])
        .run()
        .await
        .ok();
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("deployments.apps ") && l.contains("create")),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&[
            "auth",
            "can-i",
            "--list",
            "-n",
            "other",
            "--token",
            "jane-token",
        ])
        .run()
        .await
        .ok();
    assert!(!out.stdout.contains("deployments.apps"), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_and_unknown_tokens_are_checked() {
    let sb =
        TestSandbox::start_with_users("rbac-impersonate", vec![user("jane-token", "jane", &[])])
            .await;
    // kubectl's own commands stop at discovery ("Forbidden: unknown", as
    // with a real cluster); a raw request shows the API server's message.
    let out = sb
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods",
            "--token",
            "jane-token",
            "--as",
            "bob",
        ])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(r#"users "bob" is forbidden: User "jane" cannot impersonate resource "users" in API group "" at the cluster scope"#),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["get", "pods", "--token", "not-a-token"])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains("error: You must be logged in to the server"),
        "{out:#?}"
    );

    // jane may impersonate bob once a role lets her, and then acts as bob.
    sb.kubectl(&[
        "create",
        "clusterrole",
        "as-bob",
        "--verb",
        "impersonate",
        "--resource",
        "users",
        "--resource-name",
        "bob",
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&[
        "create",
        "clusterrolebinding",
        "jane-as-bob",
        "--clusterrole",
        "as-bob",
        "--user",
        "jane",
    ])
    .run()
    .await
    .ok();
    let out = sb
        .kubectl(&["get", "pods", "--token", "jane-token", "--as", "bob"])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains(r#"User "bob" cannot list resource "pods""#),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/default/pods",
            "--token",
            "jane-token",
            "--as",
            "carol",
        ])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(r#"User "jane" cannot impersonate"#),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_what_they_do_not_hold() {
    let sb =
        TestSandbox::start_with_users("rbac-escalate", vec![user("jane-token", "jane", &[])]).await;
    sb.kubectl(&["create", "namespace", "team"])
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "create",
        "rolebinding",
        "jane-admin",
        "-n",
        "team",
        "--clusterrole",
        "admin",
        "--user",
        "jane",
    ])
    .run()
    .await
    .ok();
    let jane = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-n", "team", "--token", "jane-token"]);
        sb.kubectl(&all)
    };
    jane(&[
        "create",
        "role",
        "reader",
        "--verb",
        "get,list",
        "--resource",
        "configmaps",
    ])
    .run()
    .await
    .ok();
    jane(&[
        "create",
        "rolebinding",
        "view",
        "--clusterrole",
        "view",
        "--user",
        "bob",
    ])
    .run()
    .await
    .ok();
    let out = jane(&[
        "create",
        "role",
        "everything",
        "--verb",
        "*",
        "--resource",
        "*",
    ])
    .run()
    .await
    .code(1);
    assert!(
        out.stderr.contains(r#"roles.rbac.authorization.k8s.io "everything" is forbidden: user "jane" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held"#),
        "{out:#?}"
    );
    let out = jane(&[
        "create",
        "rolebinding",
        "root",
        "--clusterrole",
        "cluster-admin",
        "--user",
        "jane",
    ])
    .run()
    .await
    .code(1);
    assert!(
        out.stderr
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{out:#?}"
    );
    // With `bind` on cluster-admin (given by the administrator) she may.
    sb.kubectl(&[
        "create",
        "clusterrole",
        "bind-root",
        "--verb",
        "bind",
        "--resource",
        "clusterroles",
        "--resource-name",
        "cluster-admin",
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&[
        "create",
        "clusterrolebinding",
        "jane-binds",
        "--clusterrole",
        "bind-root",
        "--user",
        "jane",
    ])
    .run()
    .await
    .ok();
    jane(&[
        "create",
        "rolebinding",
        "root",
        "--clusterrole",
        "cluster-admin",
        "--user",
        "jane",
    ])
    .run()
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_token_acts_as_the_account() {
    let sb = TestSandbox::start("rbac-sa").await;
    sb.kubectl(&["create", "namespace", "team"])
        .run()
        .await
        .ok();
    sb.kubectl(&["create", "serviceaccount", "deployer", "-n", "team"])
        .run()
        .await
        .ok();
    let token = sb
        .kubectl(&["create", "token", "deployer", "-n", "team"])
        .run()
        .await
        .ok();
    let token = token.stdout.trim();
    assert!(!token.is_empty());
    let out = sb
        .kubectl(&["get", "configmaps", "-n", "team", "--token", token])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(
            r#"User "system:serviceaccount:team:deployer" cannot list resource "configmaps""#
        ),
        "{out:#?}"
    );
    sb.kubectl(&[
        "create",
        "rolebinding",
        "deployer",
        "-n",
        "team",
        "--clusterrole",
        "view",
        "--serviceaccount",
        "team:deployer",
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&["get", "configmaps", "-n", "team", "--token", token])
        .run()
        .await
        .ok();
    // The groups of every service account (of its namespace) apply too.
    assert!(
        can_i(
            &sb,
            &[
                "get",
                "configmaps",
                "-n",
                "team",
                "--as",
                "system:serviceaccount:team:deployer"
            ]
        )
        .await
    );
    let missing = sb
        .kubectl(&["create", "token", "nobody", "-n", "team"])
        .run()
        .await
        .code(1);
    assert!(
        missing
            .stderr
            .contains(r#"serviceaccounts "nobody" not found"#),
        "{missing:#?}"
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
