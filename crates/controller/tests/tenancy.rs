//! Tenant isolation with RBAC on (the sandbox's default, as on a real
//! cluster): a Kustomization with `spec.serviceAccountName` applies as that
//! service account, impersonated, so a Role bound in its own namespace is
//! all it may change. What it may not do fails the whole apply with the API
//! server's Forbidden message on Ready=False, nothing else of that stage is
//! applied, and nothing is pruned. The Secrets it reads for
//! `postBuild.substituteFrom` and `decryption.secretRef` are those of its
//! own namespace only: the API has no field that names another.
//!
//! Each test fails if the controller stops impersonating (the admin may do
//! everything) or if the sandbox stops enforcing RBAC:
//! `crates/sandbox/tests/authorization_mode.rs` runs the same attack
//! against a sandbox with `--authorization-mode AlwaysAllow`, and without
//! impersonation, and sees both writes go through.

use crate::common::world::{NS, World, configmap};
use driftless_testkit::cluster::eventually;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

/// The tenant: service account `default/deployer`, allowed by a RoleBinding
/// in `default` what the `edit` ClusterRole allows (ConfigMaps, Secrets,
/// Deployments… but no RBAC objects and nothing cluster-wide), and a
/// namespace `other` it has no rights in.
async fn tenant(world: &World) {
    let setup = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: deployer\n  namespace: {NS}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: deployer-edit\n  namespace: {NS}\n\
         roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: edit\n\
         subjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: {NS}\n"
    );
    let (code, _, stderr) = world
        .env
        .cluster
        .kubectl(&["apply", "-f", "-"], Some(&setup))
        .await;
    assert_eq!(code, 0, "{stderr}");
}

fn in_namespace(name: &str, namespace: &str) -> String {
    configmap(name, "red").replace("namespace: default", &format!("namespace: {namespace}"))
}

const CLUSTER_ROLE_BINDING: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: tenant-takes-over\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: deployer\n  namespace: default\n";

/// Waits until Ready is False at `commit` and returns its message.
async fn refused(world: &World, name: &str, commit: &str) -> String {
    let ks = world.wait_for(name, "False", commit).await;
    let conditions = ks.status.and_then(|s| s.conditions).unwrap_or_default();
    driftless_api::conditions::find(&conditions, "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_write_outside_its_namespace_and_nothing_is_pruned() {
    let world = World::start().await;
    tenant(&world).await;
    world
        .fixture
        .write("tenant/mine.yaml", &in_namespace("mine", NS));
    world
        .fixture
        .write("tenant/gone.yaml", &in_namespace("gone", NS));
    let first = world.fixture.commit("the tenant's own objects");
    let mut ks = World::kustomization("tenant", "./tenant");
    ks.spec.service_account_name = Some("deployer".into());
    ks.spec.prune = true;
    world.create(ks).await;
    world.wait_for("tenant", "True", &first).await;
    assert_eq!(world.color("gone").await.as_deref(), Some("red"));

    // One object in another namespace: the revision is refused and
    // nothing is pruned (`gone` stays).
    world
        .fixture
        .write("tenant/mine.yaml", &configmap("mine", "blue"));
    world.fixture.git(&["rm", "-q", "tenant/gone.yaml"]);
    world
        .fixture
        .write("tenant/theirs.yaml", &in_namespace("theirs", "other"));
    let second = world.fixture.commit("reach into another namespace");
    let message = refused(&world, "tenant", &second).await;
    assert!(
        message.contains(r#"User "system:serviceaccount:default:deployer" cannot"#)
            && message
                .contains(r#"resource "configmaps" in API group "" in the namespace "other""#),
        "{message}"
    );
    let other: Api<ConfigMap> = Api::namespaced(world.env.client.clone(), "other");
    assert!(other.get_opt("theirs").await.expect("get").is_none());
    assert_eq!(world.color("gone").await.as_deref(), Some("red"));
    // Its permitted sibling in the same stage is not applied either.
    assert_eq!(world.color("mine").await.as_deref(), Some("red"));

    // A cluster-wide RBAC object is refused alike.
    world.fixture.git(&["rm", "-q", "tenant/theirs.yaml"]);
    world
        .fixture
        .write("tenant/takeover.yaml", CLUSTER_ROLE_BINDING);
    let third = world.fixture.commit("grant itself cluster-admin");
    let message = refused(&world, "tenant", &third).await;
    assert!(
        message.contains(r#"User "system:serviceaccount:default:deployer" cannot"#)
            && message.contains(r#"resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope"#),
        "{message}"
    );
    let (code, stdout, _) = world
        .env
        .cluster
        .kubectl(&["get", "clusterrolebinding", "tenant-takes-over"], None)
        .await;
    assert_ne!(code, 0, "{stdout}");
    assert_eq!(world.color("gone").await.as_deref(), Some("red"));

    // Back within its rights, the tenant's revision applies and prunes.
    world.fixture.git(&["rm", "-q", "tenant/takeover.yaml"]);
    let fourth = world.fixture.commit("only its own objects again");
    world.wait_for("tenant", "True", &fourth).await;
    assert_eq!(world.color("mine").await.as_deref(), Some("blue"));
    world.wait_color("gone", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_reads_variables_and_keys_of_its_own_namespace_only() {
    let world = World::start().await;
    tenant(&world).await;
    // The Secrets exist, but in `other`.
    let secrets = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: vars\n  namespace: other\nstringData:\n  color: stolen\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: keys\n  namespace: other\nstringData:\n  identity.agekey: not-a-key\n";
    let (code, _, stderr) = world
        .env
        .cluster
        .kubectl(&["apply", "-f", "-"], Some(secrets))
        .await;
    assert_eq!(code, 0, "{stderr}");
    world
        .fixture
        .write("vars/cm.yaml", &configmap("painted", "${color}"));
    let head = world.fixture.commit("a variable");

    let mut ks = World::kustomization("vars", "./vars");
    ks.spec.service_account_name = Some("deployer".into());
    ks.spec.post_build = Some(driftless_api::PostBuild {
        substitute: None,
        substitute_from: Some(vec![driftless_api::SubstituteReference {
            kind: driftless_api::SubstituteKind::Secret,
            name: "vars".into(),
            optional: false,
        }]),
    });
    world.create(ks).await;
    let message = refused(&world, "vars", &head).await;
    assert!(
        message.contains("Secret/default/vars of spec.postBuild.substituteFrom not found"),
        "{message}"
    );

    let mut ks = World::kustomization("keys", "./vars");
    ks.spec.service_account_name = Some("deployer".into());
    ks.spec.decryption = Some(driftless_api::Decryption {
        provider: driftless_api::DecryptionProvider::Sops,
        service_account_name: None,
        secret_ref: Some(driftless_api::meta::LocalObjectReference {
            name: "keys".into(),
        }),
    });
    world.create(ks).await;
    let message = refused(&world, "keys", &head).await;
    assert!(
        message.contains("decryption Secret 'default/keys' not found"),
        "{message}"
    );
    let painted: Api<ConfigMap> = Api::namespaced(world.env.client.clone(), NS);
    let found = eventually("nothing painted", || async {
        painted.get_opt("painted").await.map_err(|e| e.to_string())
    })
    .await;
    assert!(found.is_none(), "{found:?}");
}
