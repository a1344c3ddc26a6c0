//! One automation run, blocking: check out, apply the setters, commit and
//! push.
//!
//! A push the remote refuses because the branch moved (non-fast-forward)
//! starts again from a fresh checkout, a few times; nothing is ever
//! force-pushed to the user's branch. Every failure leaves the remote as it
//! was.

use std::collections::BTreeMap;

use driftless_api::conditions::reasons;
use driftless_gitwrite::{CommitSpec, WorkTree};
use driftless_image::setters::{ImageRef as SetterImage, PolicyRef, UpdateResult};
use driftless_source::GitReference;

use super::request::UpdateRequest;
use crate::reconciler::ReconcileError;

/// How many times a run checks out again after the branch moved under it.
const PUSH_ATTEMPTS: usize = 3;

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
    let edited = checkout_and_edit(request, &request.images)?;
    let Some((commit, message)) = commit(request, &edited)? else {
        return Ok(UpdateOutcome {
            revision: edited.revision,
            pushed: None,
            warnings: edited.warnings,
        });
    };
    match edited.tree.push(&commit, &request.push) {
        Ok(_) => Ok(UpdateOutcome {
            revision: edited.revision,
            pushed: Some(Pushed {
                commit,
                branch: request.push.branch.clone().unwrap_or_default(),
                refspecs: request.push.refspec.iter().cloned().collect(),
                message,
            }),
            warnings: edited.warnings,
        }),
        // Only a branch that moved is worth a fresh checkout; a server's
        // refusal (protected branch, hook) would refuse again.
        Err(error)
            if matches!(&error, driftless_gitwrite::Error::PushRejected { reason, .. }
                if reason.starts_with("non-fast-forward")) =>
        {
            Err(Attempt::BranchMoved(git_failed(&error, &edited.revision)))
        }
        Err(error) => Err(Attempt::Failed(git_failed(&error, &edited.revision))),
    }
}

/// A fresh checkout with the setters applied for `images`.
pub(super) struct Edited {
    pub tree: WorkTree,
    /// The revision checked out.
    pub revision: String,
    /// What the setters changed.
    pub changed: UpdateResult,
    /// What they left alone (see [`UpdateOutcome::warnings`]).
    pub warnings: Vec<String>,
}

/// Checks out afresh and applies the setters for `images`.
pub(super) fn checkout_and_edit(
    request: &UpdateRequest,
    images: &BTreeMap<PolicyRef, SetterImage>,
) -> Result<Edited, ReconcileError> {
    let tree = fresh_checkout(request)?;
    let revision = tree.revision().to_owned();
    let changed =
        driftless_image::setters::update_with_setters(tree.dir(), &request.update_path, images)
            .map_err(|e| {
                ReconcileError::retryable(
                    reasons::UPDATE_FAILED,
                    format!("failed to apply policies: {}", crate::error_chain(&e)),
                )
                .on_revision(revision.clone())
            })?;
    let warnings = warnings(&changed, &request.update_path);
    Ok(Edited {
        tree,
        revision,
        changed,
        warnings,
    })
}

/// Commits what the setters changed, with the rendered message: the
/// commit and its message, or none when no file changed.
pub(super) fn commit(
    request: &UpdateRequest,
    edited: &Edited,
) -> Result<Option<(String, String)>, ReconcileError> {
    if edited.changed.is_empty() {
        return Ok(None);
    }
    let message = driftless_image::message::render(
        request.template.as_deref(),
        &request.automation,
        &edited.changed,
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
    Ok(edited
        .tree
        .commit(&spec)
        .map_err(|e| git_failed(&e, &edited.revision))?
        .map(|commit| (commit, message)))
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

/// A failed checkout; refused credentials and an unknown host key are
/// both `AuthenticationFailed`, as the GitRepository reconciler says them.
fn checkout_failed(error: &driftless_gitwrite::Error) -> ReconcileError {
    use driftless_source::Error as Remote;
    let reason = match error {
        driftless_gitwrite::Error::Remote(
            Remote::AuthFailed { .. } | Remote::HostKeyVerification { .. },
        ) => reasons::AUTHENTICATION_FAILED,
        _ => reasons::GIT_OPERATION_FAILED,
    };
    ReconcileError::retryable(
        reason,
        format!("failed to checkout source: {}", described(error)),
    )
}

pub(super) fn git_failed(error: &driftless_gitwrite::Error, revision: &str) -> ReconcileError {
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
