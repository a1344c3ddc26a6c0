//! `spec.decryption` end to end: a repository with files encrypted by the
//! real `sops` (an age-encrypted Secret, an encrypted ConfigMap and a
//! `secretGenerator` reading an encrypted dotenv file) syncs to the sandbox
//! with the right cleartext; a rotated value updates the Secret; a commit
//! with a broken MAC fails visibly and leaves the previous Secret; and no
//! cleartext reaches a condition or an event.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::event_messages;
use crate::common::world::{NS, World, condition_of};
use driftless_testkit::cluster::eventually;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, PostParams};

fn fixture(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../decrypt/tests/fixtures")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: default
resources:
- secret.enc.yaml
- configmap.enc.yaml
secretGenerator:
- name: app-env
  envs:
  - app.enc.env
";

/// A Secret value in the cluster, from `data` or, where the server keeps
/// it so, `stringData`.
fn value(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key).cloned())
        })
}

async fn password(secrets: &Api<Secret>) -> Option<String> {
    let secret = secrets.get_opt("db").await.expect("get")?;
    value(&secret, "password")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_secrets_sync_rotate_and_refuse_tampering() {
    let world = World::start().await;
    world
        .fixture
        .write("secrets/kustomization.yaml", KUSTOMIZATION)
        .write(
            "secrets/secret.enc.yaml",
            &fixture("enc/secret-data-only.yaml"),
        )
        .write("secrets/configmap.enc.yaml", &fixture("enc/configmap.yaml"))
        .write("secrets/app.enc.env", &fixture("enc/app.env"));
    let head = world.fixture.commit("encrypted secrets");

    let secrets: Api<Secret> = Api::namespaced(world.env.client.clone(), NS);
    let keys = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("sops-age".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "identity.agekey".to_owned(),
            ByteString(fixture("keys/a.agekey").into_bytes()),
        )])),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &keys)
        .await
        .expect("key secret");

    let mut ks = World::kustomization("secrets", "./secrets");
    ks.spec.prune = true;
    ks.spec.decryption = Some(driftless_api::Decryption {
        provider: driftless_api::DecryptionProvider::Sops,
        service_account_name: None,
        secret_ref: Some(driftless_api::meta::LocalObjectReference {
            name: "sops-age".into(),
        }),
    });
    world.create(ks).await;
    world.wait_for("secrets", "True", &head).await;

    assert_eq!(
        password(&secrets).await.as_deref(),
        Some("s3cr3t with spaces & symbols <>")
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(world.env.client.clone(), NS);
    let settings = configmaps.get("settings").await.expect("configmap");
    assert_eq!(
        settings
            .data
            .unwrap_or_default()
            .get("endpoint")
            .map(String::as_str),
        Some("https://db.apps.svc:5432")
    );
    let generated = secrets
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .find(|s| {
            s.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("app-env-"))
        })
        .expect("generated secret");
    assert_eq!(value(&generated, "DB_PASS").as_deref(), Some("p@ss=word"));

    // Rotating the value in git updates the Secret.
    world.fixture.write(
        "secrets/secret.enc.yaml",
        &fixture("enc/secret-rotated.yaml"),
    );
    let rotated = world.fixture.commit("rotate the password");
    world.wait_for("secrets", "True", &rotated).await;
    assert_eq!(
        password(&secrets).await.as_deref(),
        Some("rotated-password-2")
    );

    // A commit that changes a clear field after encryption breaks the MAC:
    // the Kustomization fails, the last good Secret stays, nothing is pruned.
    let tampered = fixture("enc/secret-rotated.yaml")
        .replace("type: Opaque", "type: kubernetes.io/basic-auth");
    world.fixture.write("secrets/secret.enc.yaml", &tampered);
    let bad = world.fixture.commit("tampered");
    world.wait_for("secrets", "False", &bad).await;
    let (_, reason, message) = condition_of(&world, "secrets", "Ready").await;
    assert_eq!(reason, "BuildFailed", "{message}");
    assert!(
        message.contains("secrets/secret.enc.yaml") && message.contains("MAC"),
        "{message}"
    );
    assert_eq!(
        password(&secrets).await.as_deref(),
        Some("rotated-password-2")
    );
    assert!(configmaps.get_opt("settings").await.expect("get").is_some());

    // No cleartext in conditions or events.
    let events = event_messages(&world.env.client, NS, "secrets")
        .await
        .join("\n");
    let status = serde_json::to_string(
        &world
            .kustomizations()
            .get("secrets")
            .await
            .expect("ks")
            .status,
    )
    .expect("json");
    for secret in [
        "s3cr3t",
        "rotated-password-2",
        "p@ss=word",
        "AGE-SECRET-KEY",
    ] {
        assert!(!events.contains(secret), "{secret} in events: {events}");
        assert!(!status.contains(secret), "{secret} in status: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_secrets_without_decryption_or_keys_are_refused() {
    let world = World::start().await;
    world
        .fixture
        .write(
            "secrets/kustomization.yaml",
            "resources:\n- secret.enc.yaml\n",
        )
        .write(
            "secrets/secret.enc.yaml",
            &fixture("enc/secret-data-only.yaml"),
        );
    world.fixture.commit("encrypted secret");

    world
        .create(World::kustomization("plain", "./secrets"))
        .await;
    let refused = world.stalled_message("plain").await;
    assert!(
        refused.contains("is SOPS encrypted, configuring decryption is required"),
        "{refused}"
    );

    let mut ks = World::kustomization("missing-key", "./secrets");
    ks.spec.decryption = Some(driftless_api::Decryption {
        provider: driftless_api::DecryptionProvider::Sops,
        service_account_name: None,
        secret_ref: Some(driftless_api::meta::LocalObjectReference {
            name: "absent".into(),
        }),
    });
    world.create(ks).await;
    eventually("missing key secret reported", || async {
        let (status, _, message) = condition_of(&world, "missing-key", "Ready").await;
        (status == "False" && message.contains("decryption Secret 'default/absent' not found"))
            .then_some(())
            .ok_or(message)
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(world.env.client.clone(), NS);
    assert!(secrets.get_opt("db").await.expect("get").is_none());
}
