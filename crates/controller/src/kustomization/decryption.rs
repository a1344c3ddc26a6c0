//! `spec.decryption`: the keys a Kustomization decrypts with, read from
//! its decryption Secret (or the controller-wide `--sops-age-secret`), and
//! Flux's refusal to apply a SOPS-encrypted Secret when no decryption is
//! configured. Decrypting itself is the decrypt crate's.

use driftless_api::Kustomization;
use driftless_api::conditions::reasons;
use driftless_decrypt::Keyring;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use serde_json::Value;

use crate::reconciler::ReconcileError;

/// The keyring for `ks`, or `None` when it asks for no decryption.
pub async fn keyring(
    ks: &Kustomization,
    client: &kube::Client,
    fallback: Option<&(String, String)>,
) -> Result<Option<Keyring>, ReconcileError> {
    let Some(decryption) = &ks.spec.decryption else {
        return Ok(None);
    };
    let namespace = ks.namespace().unwrap_or_default();
    let (secret_namespace, name, age_only) = match (&decryption.secret_ref, fallback) {
        (Some(reference), _) => (namespace, reference.name.clone(), false),
        (None, Some((ns, name))) => (ns.clone(), name.clone(), true),
        (None, None) => return Ok(Some(Keyring::default())),
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret_namespace);
    let secret = api
        .get_opt(&name)
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::BUILD_FAILED,
                format!("cannot read decryption Secret '{secret_namespace}/{name}': {e}"),
            )
        })?
        .ok_or_else(|| {
            ReconcileError::retryable(
                reasons::BUILD_FAILED,
                format!(
                    "decryption Secret '{secret_namespace}/{name}' not found; create it with `driftless create secret sops {name} --age-key-file=…` or fix spec.decryption.secretRef"
                ),
            )
        })?;
    let mut keys = Keyring::default();
    for (entry, bytes) in secret.data.unwrap_or_default() {
        if age_only && !entry.ends_with(".agekey") {
            continue;
        }
        keys.add_secret_entry(&entry, &bytes.0).map_err(|e| {
            ReconcileError::stalled(
                reasons::BUILD_FAILED,
                format!("decryption Secret '{secret_namespace}/{name}': {e}"),
            )
        })?;
    }
    Ok(Some(keys))
}

/// Flux refuses a Secret still carrying SOPS metadata when the
/// Kustomization configures no decryption: applying it would store
/// ciphertext as the Secret's data.
pub fn refuse_encrypted_secrets(objects: &[Value]) -> Result<(), ReconcileError> {
    let encrypted = objects
        .iter()
        .find(|o| o["kind"] == "Secret" && o["apiVersion"] == "v1" && o.get("sops").is_some());
    match encrypted {
        Some(secret) => Err(ReconcileError::stalled(
            reasons::BUILD_FAILED,
            format!(
                "Secret '{}/{}' is SOPS encrypted, configuring decryption is required for this secret to be reconciled; set spec.decryption",
                secret["metadata"]["namespace"].as_str().unwrap_or_default(),
                secret["metadata"]["name"].as_str().unwrap_or_default()
            ),
        )),
        None => Ok(()),
    }
}
