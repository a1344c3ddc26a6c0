//! driftless's change-request mode (`spec.git.push.changeRequest`): each
//! policy's update is committed on its own branch, built from the checkout
//! branch, and a pull/merge request opens (or is updated) for it through
//! the git host's API; requests of ours that were merged or closed get their
//! branch deleted, superseded ones are closed (`driftless-changerequest`).
//!
//! The update branches belong to driftless: each run rebuilds a branch from
//! the current checkout branch and force-pushes it, so a newer tag for the
//! same policy replaces the branch's commit and updates its request instead
//! of opening another. The user's own branches are never force-pushed.
//!
//! Updates arriving within `batchWindow` are held and coalesced, one change
//! per policy, so a burst of tags costs one push and one API round.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use driftless_api::GitRepository;
use driftless_api::conditions::reasons;
use driftless_api::image::{ChangeRequestProvider, ChangeRequestSpec};
use driftless_changerequest::{
    Batcher, BranchTemplate, DEFAULT_BRANCH_TEMPLATE, Host, HostOptions, Outcome, ProviderKind,
    Repository, Token, Update,
};
use driftless_gitwrite::PushSpec;
use driftless_image::setters::{ImageRef as SetterImage, PolicyRef};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::policies::Observed;
use super::request::UpdateRequest;
use super::update::{self, Pushed, UpdateOutcome};
use crate::reconciler::{Event, ReconcileError};

/// The host to talk to and how branches are named, read from the spec and
/// its Secret.
pub(super) struct Settings {
    host: Host,
    template: BranchTemplate,
    window: Duration,
}

/// Reads `spec.git.push.changeRequest`: the API token from its Secret's
/// `token`, the host and repository from the GitRepository's URL.
pub(super) async fn settings(
    namespace: &str,
    spec: &ChangeRequestSpec,
    repo: &GitRepository,
    client: &kube::Client,
) -> Result<Settings, ReconcileError> {
    let field = "spec.git.push.changeRequest";
    let name = &spec.secret_ref.name;
    let auth_failed =
        |message: String| ReconcileError::retryable(reasons::AUTHENTICATION_FAILED, message);
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| auth_failed(format!("cannot read secret '{namespace}/{name}' of {field}.secretRef: {e}")))?
        .ok_or_else(|| auth_failed(format!("secret '{namespace}/{name}' of {field}.secretRef not found; create it with the API token in `token`")))?;
    let token = secret
        .data
        .as_ref()
        .and_then(|d| d.get("token"))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .ok_or_else(|| {
            auth_failed(format!(
                "secret '{namespace}/{name}' of {field}.secretRef has no `token` key"
            ))
        })?;
    let invalid = |error: driftless_changerequest::Error| {
        ReconcileError::stalled(
            reasons::INVALID_SOURCE_CONFIG,
            format!("{field}: {}", described(&error)),
        )
    };
    let token = Token::new(token)
        .map_err(|e| auth_failed(format!("secret '{namespace}/{name}': {}", described(&e))))?;
    let kind = match spec.provider {
        ChangeRequestProvider::Github => ProviderKind::GitHub,
        ChangeRequestProvider::Gitlab => ProviderKind::GitLab,
        ChangeRequestProvider::Gitea => ProviderKind::Gitea,
    };
    let repository =
        Repository::from_git_url(kind, &repo.spec.url, spec.api_url.as_deref()).map_err(invalid)?;
    let host = Host::new(repository, token, HostOptions::default()).map_err(invalid)?;
    let template = BranchTemplate::parse(
        spec.branch_template
            .as_deref()
            .unwrap_or(DEFAULT_BRANCH_TEMPLATE),
    )
    .map_err(invalid)?;
    let window = match &spec.batch_window {
        Some(window) => crate::duration_of("batchWindow", window)
            .map_err(|message| ReconcileError::stalled(reasons::INVALID_SOURCE_CONFIG, message))?,
        None => Duration::ZERO,
    };
    Ok(Settings {
        host,
        template,
        window,
    })
}

/// The updates each automation holds back for its batch window.
#[derive(Default)]
pub(super) struct Batches(Mutex<HashMap<String, Batcher>>);

impl Batches {
    /// Offers the policies whose image moved since `previous` and returns
    /// those due now (all of them without a window), those still held, and
    /// when the next held one falls due.
    fn due(
        &self,
        key: &str,
        window: Duration,
        namespace: &str,
        previous: &Observed,
        current: &Observed,
    ) -> (Vec<String>, Vec<String>, Option<Duration>) {
        let now = Instant::now();
        let mut batches = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let batcher = batches
            .entry(key.to_owned())
            .or_insert_with(|| Batcher::new(window));
        let mut offered = Vec::new();
        for (name, image) in current {
            let old = previous.get(name);
            if old == Some(image) {
                continue;
            }
            offered.push(name.clone());
            batcher.offer(
                now,
                Update {
                    policy: driftless_changerequest::PolicyRef {
                        namespace: namespace.to_owned(),
                        name: name.clone(),
                    },
                    image: image.name.clone(),
                    old_tag: old.map(|o| o.tag.clone()),
                    new_tag: image.tag.clone(),
                    files: Vec::new(),
                },
            );
        }
        let due: Vec<String> = batcher
            .take_due(now)
            .into_iter()
            .map(|u| u.policy.name)
            .collect();
        let held = offered.into_iter().filter(|n| !due.contains(n)).collect();
        let next = batcher
            .next_due()
            .map(|at| at.saturating_duration_since(now));
        (due, held, next)
    }

    /// Forgets a deleted automation's pending updates.
    pub fn forget(&self, key: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

/// What a change-request run did, for the status and the events.
pub(super) struct Run {
    pub outcome: UpdateOutcome,
    /// The images handled: held policies keep their previous entry, so a
    /// restart offers them again.
    pub observed: Observed,
    pub events: Vec<Event>,
    /// When held updates fall due, if any are held.
    pub requeue: Option<Duration>,
}

/// One run: for each policy due, a branch with its update and a request for
/// it; then the clean-up of finished and superseded requests.
pub(super) async fn run(
    settings: Settings,
    request: UpdateRequest,
    batches: &Batches,
    key: &str,
    previous: &Observed,
    current: &Observed,
) -> Result<Run, ReconcileError> {
    // Requests target the checkout branch, the one each update starts from.
    let target_branch = request.push.branch.clone().unwrap_or_default();
    let namespace = request.automation.namespace.clone();
    // A first run, or a policy whose image moved, is offered to the batch;
    // a policy already in its requested state costs nothing.
    let (due, held, requeue) = batches.due(key, settings.window, &namespace, previous, current);
    let observed = current
        .iter()
        .filter_map(|(name, image)| match held.contains(name) {
            true => previous.get(name).map(|old| (name.clone(), old.clone())),
            false => Some((name.clone(), image.clone())),
        })
        .collect();
    let request = std::sync::Arc::new(request);
    let template = std::sync::Arc::new(settings.template.clone());
    let mut events = Vec::new();
    let mut keep = Vec::new();
    let mut revision = String::new();
    let mut warnings = Vec::new();
    let mut last_pushed = None;
    for (policy, image) in request.images.clone() {
        let task = {
            let request = request.clone();
            let template = template.clone();
            let is_due = due.contains(&policy.name);
            tokio::task::spawn_blocking(move || {
                prepare(&request, &policy, &image, &template, is_due)
            })
        };
        let prepared = task.await.map_err(|join| {
            ReconcileError::retryable(
                reasons::GIT_OPERATION_FAILED,
                format!("the update task failed: {join}"),
            )
        })??;
        revision = prepared.revision;
        warnings.extend(prepared.warnings);
        let Some(branch) = prepared.branch else {
            continue;
        };
        keep.push(branch.name.clone());
        let Some(pushed) = branch.pushed else {
            continue;
        };
        let change = branch
            .update
            .change_request(&settings.template, &target_branch, None)
            .map_err(|e| host_failed(&e))?;
        let outcome = settings
            .host
            .ensure(&change)
            .await
            .map_err(|e| host_failed(&e))?;
        events.push(Event::normal(
            reasons::SUCCEEDED,
            opened_message(&outcome, &pushed),
        ));
        last_pushed = Some(pushed);
    }
    // Each policy's pass reads the same files: say each warning once.
    warnings.sort();
    warnings.dedup();
    let cleaned = settings
        .host
        .clean_up(settings.template.prefix(), &keep)
        .await
        .map_err(|e| host_failed(&e))?;
    for closed in &cleaned.closed {
        events.push(Event::normal(
            reasons::SUCCEEDED,
            format!(
                "closed superseded request #{} ({})",
                closed.number, closed.url
            ),
        ));
    }
    if !cleaned.deleted_branches.is_empty() {
        events.push(Event::normal(
            reasons::SUCCEEDED,
            format!(
                "deleted the branches of finished requests: {}",
                cleaned.deleted_branches.join(", ")
            ),
        ));
    }
    Ok(Run {
        outcome: UpdateOutcome {
            revision,
            pushed: last_pushed,
            warnings,
        },
        observed,
        events,
        requeue,
    })
}

/// A policy's branch in this run.
struct Branch {
    name: String,
    update: Update,
    /// Pushed now (the update was due); none when it is held in its batch.
    pushed: Option<Pushed>,
}

struct Prepared {
    revision: String,
    warnings: Vec<String>,
    /// None when the checkout branch already carries the policy's image.
    branch: Option<Branch>,
}

/// Blocking: the policy's update on a fresh checkout of the checkout
/// branch; committed and pushed to its own branch when due.
fn prepare(
    request: &UpdateRequest,
    policy: &PolicyRef,
    image: &SetterImage,
    template: &BranchTemplate,
    due: bool,
) -> Result<Prepared, ReconcileError> {
    let images = BTreeMap::from([(policy.clone(), image.clone())]);
    let edited = update::checkout_and_edit(request, &images)?;
    let revision = edited.revision.clone();
    if edited.changed.is_empty() {
        return Ok(Prepared {
            revision,
            warnings: edited.warnings,
            branch: None,
        });
    }
    let prefix = request
        .update_path
        .trim_start_matches("./")
        .trim_matches('/');
    let files = edited
        .changed
        .file_changes
        .keys()
        .map(|f| {
            if prefix.is_empty() || prefix == "." {
                f.clone()
            } else {
                format!("{prefix}/{f}")
            }
        })
        .collect();
    let old_tag = edited
        .changed
        .changes()
        .first()
        .and_then(|c| tag_of(&c.old_value, &c.setter));
    let update = Update {
        policy: driftless_changerequest::PolicyRef {
            namespace: policy.namespace.clone(),
            name: policy.name.clone(),
        },
        image: image.name.clone(),
        old_tag,
        new_tag: image.tag.clone(),
        files,
    };
    let name = template.render(&update).map_err(|e| host_failed(&e))?;
    let mut pushed = None;
    if due && let Some((commit, message)) = update::commit(request, &edited)? {
        let spec = PushSpec {
            branch: Some(name.clone()),
            refspec: None,
            options: request.push.options.clone(),
            // The branch is driftless's own: rebuilt from the checkout
            // branch at every update.
            force: true,
        };
        edited
            .tree
            .push(&commit, &spec)
            .map_err(|e| update::git_failed(&e, &revision))?;
        pushed = Some(Pushed {
            commit,
            branch: name.clone(),
            refspecs: Vec::new(),
            message,
        });
    }
    Ok(Prepared {
        revision,
        warnings: edited.warnings,
        branch: Some(Branch {
            name,
            update,
            pushed,
        }),
    })
}

/// The tag in a value a setter wrote: the whole value for `:tag`, the part
/// after the last `:` of the name for a full reference.
fn tag_of(value: &str, setter: &str) -> Option<String> {
    if setter.ends_with(":tag") {
        return Some(value.to_owned());
    }
    if setter.ends_with(":name") || setter.ends_with(":digest") {
        return None;
    }
    let reference = value.split('@').next().unwrap_or(value);
    let (name, tag) = reference.rsplit_once(':')?;
    (!tag.contains('/') && !name.is_empty()).then(|| tag.to_owned())
}

fn opened_message(outcome: &Outcome, pushed: &Pushed) -> String {
    let short = &pushed.commit[..pushed.commit.len().min(7)];
    let verb = match outcome {
        Outcome::Opened { .. } => "opened",
        Outcome::Updated { .. } => "updated",
        Outcome::Unchanged { .. } => "kept",
    };
    format!(
        "pushed commit '{short}' to branch '{}' and {verb} request #{} ({})\n{}",
        pushed.branch,
        outcome.number(),
        outcome.url(),
        pushed.message
    )
}

fn host_failed(error: &driftless_changerequest::Error) -> ReconcileError {
    let error_message = described(error);
    let failure = ReconcileError::retryable(
        reasons::GIT_OPERATION_FAILED,
        format!("change request: {error_message}"),
    );
    match error.retry_after() {
        Some(delay) => failure.retry_after(delay),
        None => failure,
    }
}

fn described(error: &driftless_changerequest::Error) -> String {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_come_from_the_setter_kind() {
        assert_eq!(
            tag_of("ghcr.io/org/web:1.0.0", "apps:web").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            tag_of("127.0.0.1:5000/web:1.0.0@sha256:ab", "apps:web").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(tag_of("127.0.0.1:5000/web", "apps:web"), None);
        assert_eq!(tag_of("1.0.0", "apps:web:tag").as_deref(), Some("1.0.0"));
        assert_eq!(tag_of("ghcr.io/org/web", "apps:web:name"), None);
    }
}
