//! The proof that the tenant-isolation tests can fail: the attack
//! `crates/controller/tests/tenancy.rs` guards against — a tenant's
//! service account, impersonated as the controller impersonates it,
//! writing into another namespace and granting itself cluster-admin — is
//! refused with the exact Forbidden message those tests look for when RBAC
//! is on, and goes through when authorization is switched off
//! (`--authorization-mode AlwaysAllow`) or when the request is not
//! impersonated (the controller's own identity may do anything). Either
//! way the tenancy tests' assertions (the message, and the object absent)
//! would then fail.

use crate::common::TestSandbox;
use driftless_sandbox::Authorization;

const TENANT: &str = "system:serviceaccount:default:deployer";

/// The tenancy tests' setup: namespace `other`, service account
/// `default/deployer` bound to `edit` in `default` only.
const SETUP: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n---\n\
apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: default\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer-edit\n  namespace: default\n\
roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: edit\n\
subjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: default\n";

const THEIRS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: other\ndata:\n  color: red\n";

const TAKEOVER: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: tenant-takes-over\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: default\n";

/// What the attack achieved: whether each write went through, and the
/// error text of those that did not.
struct Outcome {
    wrote_into_other_namespace: bool,
    granted_itself_cluster_admin: bool,
    errors: String,
}

async fn attack(sb: &TestSandbox, impersonate: bool) -> Outcome {
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(SETUP)
        .run()
        .await
        .ok();
    let mut errors = String::new();
    for object in [THEIRS, TAKEOVER] {
        let mut args = vec!["apply", "--server-side", "-f", "-"];
        if impersonate {
            args.extend(["--as", TENANT]);
        }
        let out = sb.kubectl(&args).stdin(object).run().await;
        errors.push_str(&out.stderr);
    }
    let exists =
        |args: &'static [&'static str]| async move { sb.kubectl(args).run().await.code == 0 };
    Outcome {
        wrote_into_other_namespace: exists(&["get", "configmap", "theirs", "-n", "other"]).await,
        granted_itself_cluster_admin: exists(&["get", "clusterrolebinding", "tenant-takes-over"])
            .await,
        errors,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_rbac_the_impersonated_tenant_is_refused() {
    let sb = TestSandbox::start("mode-rbac").await;
    let outcome = attack(&sb, true).await;
    assert!(!outcome.wrote_into_other_namespace, "{}", outcome.errors);
    assert!(!outcome.granted_itself_cluster_admin, "{}", outcome.errors);
    // The messages the tenancy tests assert on Ready=False.
    assert!(
        outcome.errors.contains(&format!(r#"User "{TENANT}" cannot"#))
            && outcome
                .errors
                .contains(r#"resource "configmaps" in API group "" in the namespace "other""#)
            && outcome.errors.contains(
                r#"resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope"#
            ),
        "{}",
        outcome.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_always_allow_the_same_attack_succeeds() {
    let sb = TestSandbox::start_with("mode-always-allow", Vec::new(), |config| {
        config.authorization = Authorization::AlwaysAllow;
    })
    .await;
    let outcome = attack(&sb, true).await;
    assert!(outcome.wrote_into_other_namespace, "{}", outcome.errors);
    assert!(outcome.granted_itself_cluster_admin, "{}", outcome.errors);
    assert!(outcome.errors.is_empty(), "{}", outcome.errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_impersonation_the_same_attack_succeeds() {
    let sb = TestSandbox::start("mode-no-impersonation").await;
    let outcome = attack(&sb, false).await;
    assert!(outcome.wrote_into_other_namespace, "{}", outcome.errors);
    assert!(outcome.granted_itself_cluster_admin, "{}", outcome.errors);
}
