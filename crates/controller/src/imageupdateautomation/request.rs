//! An automation's spec, read into one request before a run: the
//! GitRepository's URL, credentials and timeout, the checkout and push
//! targets (Flux's branch rules), the policies' images, the commit identity,
//! signing key and message template. Async (it reads Secrets); what it
//! builds is all the blocking part needs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use driftless_api::conditions::reasons;
use driftless_api::image::{GitSpec, SigningKeyType};
use driftless_api::{GitRepository, ImageUpdateAutomation};
use driftless_gitwrite::{CheckoutRequest, Identity, PushSpec, SigningKey};
use driftless_image::message::Automation;
use driftless_image::setters::{ImageRef as SetterImage, PolicyRef};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::policies::{self, Observed};
use crate::Context;
use crate::gitrepository::auth;
use crate::reconciler::ReconcileError;

/// Everything a run needs, read from the cluster beforehand so the
/// blocking part touches only git and files.
pub(super) struct UpdateRequest {
    pub checkout: CheckoutRequest,
    pub push: PushSpec,
    /// `spec.git.push.branch`, when it differs from the checkout branch:
    /// the run starts from it when it exists.
    pub switch_to: Option<String>,
    pub update_path: String,
    /// The policies' images, as the setters address them.
    pub images: BTreeMap<PolicyRef, SetterImage>,
    pub author: Identity,
    pub signing: Option<SigningKey>,
    pub template: Option<String>,
    pub values: BTreeMap<String, String>,
    pub automation: Automation,
    pub now: i64,
}

/// Where an automation's checkouts live: the files in `checkout/`, the
/// repository beside them.
pub(super) fn work_dir(automation: &ImageUpdateAutomation, context: &Context) -> PathBuf {
    context
        .options
        .storage_dir
        .join("imageupdateautomation")
        .join(automation.namespace().unwrap_or_default())
        .join(automation.name_any())
}

/// The run's request: the source's URL, credentials and timeout, the
/// checkout and push targets, the images and the commit settings.
pub(super) async fn request(
    automation: &ImageUpdateAutomation,
    git: &GitSpec,
    repo: &GitRepository,
    observed: &Observed,
    context: &Context,
) -> Result<UpdateRequest, ReconcileError> {
    let namespace = automation.namespace().unwrap_or_default();
    let source = auth::git_source(repo, &context.client).await?;
    let checkout_ref = git
        .checkout
        .as_ref()
        .map(|c| &c.reference)
        .or(repo.spec.reference.as_ref());
    let reference = auth::reference(checkout_ref);
    // Flux's rule: without `push.branch` the checkout ref must name a branch.
    let checkout_branch = checkout_ref.and_then(|r| r.branch.clone());
    let push = git.push.clone().unwrap_or_default();
    let branch = push
        .branch
        .clone()
        .or_else(|| checkout_branch.clone())
        .ok_or_else(|| {
            ReconcileError::stalled(
                reasons::INVALID_SOURCE_CONFIG,
                "push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref: set spec.git.push.branch",
            )
        })?;
    // Without a checkout ref, the checkout is of the default branch.
    let checked_out = checkout_branch.as_deref().unwrap_or("master");
    let switch_to = push.branch.clone().filter(|b| b != checked_out);
    if push.change_request.is_some() && switch_to.is_some() {
        return Err(ReconcileError::stalled(
            reasons::INVALID_SOURCE_CONFIG,
            "spec.git.push.branch cannot be combined with spec.git.push.changeRequest: requests target the checkout branch; remove push.branch or set it to the checkout branch",
        ));
    }
    let mut checkout = CheckoutRequest::new(
        source.url.clone(),
        reference,
        work_dir(automation, context).join("checkout"),
    );
    checkout.auth = source.auth;
    checkout.timeout = source.timeout;
    let push_spec = PushSpec {
        branch: Some(branch),
        refspec: push.refspec.clone(),
        options: push
            .options
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect(),
        force: false,
    };
    let signing = match &git.commit.signing_key {
        Some(key) => Some(signing_key(&namespace, key, &context.client).await?),
        None => None,
    };
    Ok(UpdateRequest {
        checkout,
        push: push_spec,
        switch_to,
        update_path: automation
            .spec
            .update
            .as_ref()
            .and_then(|u| u.path.clone())
            .unwrap_or_default(),
        images: policies::for_setters(&namespace, observed),
        author: Identity::new(
            git.commit.author.name.clone(),
            git.commit.author.email.clone(),
        ),
        signing,
        template: git.commit.message_template.clone(),
        values: git.commit.message_template_values.clone(),
        automation: Automation {
            namespace,
            name: automation.name_any(),
        },
        now: crate::now().0.as_second(),
    })
}

/// The key of `spec.git.commit.signingKey`: `git.asc` (+ `passphrase`) for
/// `gpg`, `identity` (+ `password`) for `ssh`.
async fn signing_key(
    namespace: &str,
    key: &driftless_api::image::SigningKey,
    client: &kube::Client,
) -> Result<SigningKey, ReconcileError> {
    let name = &key.secret_ref.name;
    let failed =
        |message: String| ReconcileError::retryable(reasons::AUTHENTICATION_FAILED, message);
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| failed(format!("cannot read secret '{namespace}/{name}' of spec.git.commit.signingKey: {e}")))?
        .ok_or_else(|| failed(format!("secret '{namespace}/{name}' of spec.git.commit.signingKey not found; create it or fix the reference")))?;
    let value = |k: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    let missing = |k: &str| {
        failed(format!(
            "secret '{namespace}/{name}' of spec.git.commit.signingKey has no `{k}` key"
        ))
    };
    Ok(match key.key_type.unwrap_or_default() {
        SigningKeyType::Gpg => SigningKey::OpenPgp {
            armored_key: value("git.asc").ok_or_else(|| missing("git.asc"))?,
            passphrase: value("passphrase"),
        },
        SigningKeyType::Ssh => SigningKey::Ssh {
            private_key: value("identity").ok_or_else(|| missing("identity"))?,
            passphrase: value("password"),
        },
    })
}
