//! One automation run, from the spec to a pushed commit: read the
//! GitRepository's URL and credentials and the signing key (async, from the
//! cluster), then check out, apply the setters, commit and push (blocking).
//!
//! A push the remote refuses because the branch moved (non-fast-forward)
//! starts again from a fresh checkout, a few times; nothing is ever
//! force-pushed to the user's branch. Every failure leaves the remote as it
//! was.

use std::collections::BTreeMap;
use std::path::PathBuf;

use driftless_api::conditions::reasons;
use driftless_api::image::{GitSpec, SigningKeyType};
use driftless_api::{GitRepository, ImageUpdateAutomation};
use driftless_gitwrite::{CheckoutRequest, CommitSpec, Identity, PushSpec, SigningKey, WorkTree};
use driftless_image::message::Automation;
use driftless_image::setters::{ImageRef as SetterImage, PolicyRef, UpdateResult};
use driftless_source::GitReference;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use super::policies::{self, Observed};
use crate::Context;
use crate::gitrepository::auth;
use crate::reconciler::ReconcileError;

/// How many times a run checks out again after the branch moved under it.
const PUSH_ATTEMPTS: usize = 3;

/// Everything a run needs, read from the cluster beforehand so the
/// blocking part touches only git and files.
pub(super) struct UpdateRequest {
    checkout: CheckoutRequest,
    push: PushSpec,
    /// `spec.git.push.branch`, when it differs from the checkout branch:
    /// the run starts from it when it exists.
    switch_to: Option<String>,
    update_path: String,
    /// The policies' images, as the setters address them.
    images: BTreeMap<PolicyRef, SetterImage>,
    author: Identity,
    signing: Option<SigningKey>,
    template: Option<String>,
    values: BTreeMap<String, String>,
    automation: Automation,
    now: i64,
}

/// What a completed run did.
pub(super) struct UpdateOutcome {
    /// The revision checked out (`<branch>@sha1:<hash>`).
    pub revision: String,
    /// The commit pushed; none when the files already carried every image.
    pub pushed: Option<Pushed>,
    /// Markers and files the setters left alone, each naming file (and
    /// line) and why: Flux ignores them silently, we warn.
    pub warnings: Vec<String>,
}

/// A pushed commit.
pub(super) struct Pushed {
    /// Its hash.
    pub commit: String,
    /// The branch it went to.
    pub branch: String,
    /// The refspecs it was also pushed with.
    pub refspecs: Vec<String>,
    /// Its message.
    pub message: String,
}

/// At most this many ignored markers are named in one warning event.
const MAX_WARNINGS: usize = 10;

impl UpdateOutcome {
    /// Flux's event text for a push: `pushed commit '<short>' to branch
    /// '<branch>'`, the refspecs, then the commit message.
    pub fn summary(&self) -> Option<String> {
        let pushed = self.pushed.as_ref()?;
        let short = &pushed.commit[..pushed.commit.len().min(7)];
        let mut summary = format!("pushed commit '{short}' to branch '{}'", pushed.branch);
        if !pushed.refspecs.is_empty() {
            summary.push_str(&format!(" and refspecs '{}'", pushed.refspecs.join("', '")));
        }
        summary.push('\n');
        summary.push_str(&pushed.message);
        Some(summary)
    }
}

/// What the setters left alone, for the warning event.
fn warnings(result: &UpdateResult, update_path: &str) -> Vec<String> {
    let at = |file: &str| {
        let path = update_path.trim_start_matches("./").trim_end_matches('/');
        if path.is_empty() || path == "." {
            file.to_owned()
        } else {
            format!("{path}/{file}")
        }
    };
    let skipped = result
        .skipped
        .iter()
        .map(|s| format!("{}: skipped: {}", at(&s.file), s.reason));
    let ignored = result
        .ignored_markers
        .iter()
        .map(|m| format!("{}:{}: marker ignored: {}", at(&m.file), m.line, m.reason));
    skipped.chain(ignored).take(MAX_WARNINGS).collect()
}

/// Where an automation's checkouts live.
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
    let switch_to = push.branch.clone().filter(|b| {
        *b != checkout_branch
            .clone()
            .unwrap_or_else(|| "master".to_owned())
    });
    let mut checkout =
        CheckoutRequest::new(source.url.clone(), reference, work_dir(automation, context));
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

/// Checks out, applies the setters, commits and pushes; again from a fresh
/// checkout when the branch moved meanwhile.
pub(super) fn run(request: &UpdateRequest) -> Result<UpdateOutcome, ReconcileError> {
    let mut attempt = 1;
    loop {
        match attempt_once(request) {
            Err(Attempt::BranchMoved(error)) if attempt < PUSH_ATTEMPTS => {
                tracing::info!(
                    automation = %format!("{}/{}", request.automation.namespace, request.automation.name),
                    %error,
                    "the branch moved during the update; checking out again"
                );
                attempt += 1;
            }
            Err(Attempt::BranchMoved(error) | Attempt::Failed(error)) => return Err(error),
            Ok(outcome) => return Ok(outcome),
        }
    }
}

enum Attempt {
    BranchMoved(ReconcileError),
    Failed(ReconcileError),
}

impl From<ReconcileError> for Attempt {
    fn from(error: ReconcileError) -> Self {
        Attempt::Failed(error)
    }
}

fn attempt_once(request: &UpdateRequest) -> Result<UpdateOutcome, Attempt> {
    let tree = fresh_checkout(request)?;
    let revision = tree.revision().to_owned();
    let root = tree.dir().to_owned();
    let changed =
        driftless_image::setters::update_with_setters(&root, &request.update_path, &request.images)
            .map_err(|e| {
                ReconcileError::retryable(
                    reasons::UPDATE_FAILED,
                    format!("failed to apply policies: {}", crate::error_chain(&e)),
                )
                .on_revision(revision.clone())
            })?;
    let warnings = warnings(&changed, &request.update_path);
    if changed.is_empty() {
        return Ok(UpdateOutcome {
            revision,
            pushed: None,
            warnings,
        });
    }
    let message = driftless_image::message::render(
        request.template.as_deref(),
        &request.automation,
        &changed,
        &request.values,
    )
    .map_err(|e| {
        ReconcileError::stalled(
            reasons::UPDATE_FAILED,
            format!(
                "spec.git.commit.messageTemplate: {}",
                crate::error_chain(&e)
            ),
        )
    })?;
    let mut spec = CommitSpec::new(request.author.clone(), request.now, message.clone());
    spec.signing.clone_from(&request.signing);
    let Some(commit) = tree.commit(&spec).map_err(|e| git_failed(&e, &revision))? else {
        return Ok(UpdateOutcome {
            revision,
            pushed: None,
            warnings,
        });
    };
    match tree.push(&commit, &request.push) {
        Ok(_) => Ok(UpdateOutcome {
            revision,
            pushed: Some(Pushed {
                commit,
                branch: request.push.branch.clone().unwrap_or_default(),
                refspecs: request.push.refspec.iter().cloned().collect(),
                message,
            }),
            warnings,
        }),
        Err(error @ driftless_gitwrite::Error::PushRejected { .. }) => {
            Err(Attempt::BranchMoved(git_failed(&error, &revision)))
        }
        Err(error) => Err(Attempt::Failed(git_failed(&error, &revision))),
    }
}

/// A checkout in an empty directory: of the push branch when it differs
/// from the checkout branch and exists (Flux switches to it), else of the
/// checkout ref.
fn fresh_checkout(request: &UpdateRequest) -> Result<WorkTree, ReconcileError> {
    let dir = &request.checkout.dir;
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(ReconcileError::retryable(
            reasons::GIT_OPERATION_FAILED,
            format!("cannot clear the checkout directory {}: {e}", dir.display()),
        ));
    }
    if let Some(branch) = &request.switch_to {
        let mut switched = request.checkout.clone();
        switched.reference = GitReference::Branch(branch.clone());
        match driftless_gitwrite::checkout(&switched) {
            Ok(tree) => return Ok(tree),
            Err(driftless_gitwrite::Error::Remote(driftless_source::Error::RefNotFound {
                ..
            })) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Err(error) => return Err(checkout_failed(&error)),
        }
    }
    driftless_gitwrite::checkout(&request.checkout).map_err(|e| checkout_failed(&e))
}

fn checkout_failed(error: &driftless_gitwrite::Error) -> ReconcileError {
    let reason = match error {
        driftless_gitwrite::Error::Remote(driftless_source::Error::AuthFailed { .. }) => {
            reasons::AUTHENTICATION_FAILED
        }
        _ => reasons::GIT_OPERATION_FAILED,
    };
    ReconcileError::retryable(
        reason,
        format!("failed to checkout source: {}", described(error)),
    )
}

fn git_failed(error: &driftless_gitwrite::Error, revision: &str) -> ReconcileError {
    ReconcileError::retryable(
        reasons::GIT_OPERATION_FAILED,
        format!("failed to update source: {}", described(error)),
    )
    .on_revision(revision)
}

/// The error chain and the hint.
fn described(error: &driftless_gitwrite::Error) -> String {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    message
}
