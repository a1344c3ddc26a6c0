//! One object's two passes within a stage, as Flux's applier makes them.
//!
//! The first pass ([`Applier::first_pass`]) reads every object of the stage and
//! has the server dry-run it; only when the server accepts all of them does
//! the second ([`Applier::second_pass`]) change anything. A forbidden, invalid
//! or immutable object so stops its whole stage before any sibling is
//! applied, and the cluster keeps the last good revision of that stage.
//! The dry run of the first pass is the one that classifies the object, so
//! an unchanged object still costs one read and one dry run.

use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::Value;

use super::{
    Mode, Outcome, RECREATE_TIMEOUT, Target, api_error, comparable, immutable_fields,
    reconcile_disabled, takeover_patch, to_value,
};
use crate::Applier;
use crate::changeset::Action;
use crate::error::ApplyError;
use driftless_api::annotations;

/// What the first pass decided for one object.
pub(super) enum Plan {
    /// The server's answer is all there is to it.
    Decided(Decision),
    /// kubectl owns fields of the live object: the second pass takes them
    /// over and dry-runs again, since without them the object may differ.
    TakeOver,
}

/// What a dry run found an object needs.
pub(super) enum Decision {
    /// Nothing more to send: skipped, unchanged, or a diff's result.
    Done(Outcome),
    /// It differs from the live object: apply it.
    Apply { action: Action, live: Option<Value> },
    /// An immutable field changed and `force` allows deleting it first.
    Recreate { live: Option<Value> },
}

impl Applier {
    /// The first pass: reads the live object and dry-runs the apply;
    /// any refusal is the stage's error.
    pub(super) async fn first_pass(&self, t: &Target, dry_only: bool) -> Result<Plan, ApplyError> {
        let live = read_live(t).await?;
        // Disabling reconciliation on the live object is how people pause
        // one object by hand.
        if let Some(current) = &live
            && reconcile_disabled(current)
        {
            return Ok(Plan::Decided(Decision::Done(Outcome {
                action: Action::Skipped(format!(
                    "{}: {} on the live object",
                    annotations::RECONCILE,
                    annotations::DISABLED
                )),
                merged: current.clone(),
                live,
            })));
        }
        if t.mode == Mode::IfNotPresent
            && let Some(live) = live
        {
            return Ok(Plan::Decided(Decision::Done(Outcome {
                action: Action::Skipped(format!(
                    "{}: IfNotPresent and it exists",
                    annotations::SSA
                )),
                merged: live.clone(),
                live: Some(live),
            })));
        }
        let take_over = !dry_only
            && t.mode == Mode::Apply
            && live.as_ref().is_some_and(|current| {
                takeover_patch(current, &self.options.field_manager).is_some()
            });
        let decision = self.decide(t, live, dry_only).await?;
        Ok(if take_over {
            Plan::TakeOver
        } else {
            Plan::Decided(decision)
        })
    }

    /// The second pass: carries out what the first decided.
    pub(super) async fn second_pass(&self, t: &Target, plan: Plan) -> Result<Outcome, ApplyError> {
        let decision = match plan {
            Plan::Decided(decision) => decision,
            Plan::TakeOver => {
                let live = self.take_over(t).await?;
                self.decide(t, live, false).await?
            }
        };
        match decision {
            Decision::Done(outcome) => Ok(outcome),
            Decision::Recreate { live } => self.recreate(t, live).await,
            Decision::Apply { action, live } => {
                let params = PatchParams::apply(&self.options.field_manager).force();
                let applied = t
                    .api
                    .patch(
                        &t.name,
                        &params,
                        &Patch::Apply(self.body_over(t, live.as_ref())),
                    )
                    .await
                    .map_err(|e| api_error(&t.subject, "apply", e))?;
                Ok(Outcome {
                    action,
                    live,
                    merged: to_value(applied),
                })
            }
        }
    }

    /// Dry-runs the apply of `t` over `live` and classifies the result.
    async fn decide(
        &self,
        t: &Target,
        live: Option<Value>,
        dry_only: bool,
    ) -> Result<Decision, ApplyError> {
        let params = PatchParams::apply(&self.options.field_manager)
            .force()
            .dry_run();
        let dry = t
            .api
            .patch(
                &t.name,
                &params,
                &Patch::Apply(self.body_over(t, live.as_ref())),
            )
            .await;
        let merged = match dry {
            Ok(merged) => to_value(merged),
            Err(err) if immutable_fields(&err).is_some() => {
                let fields = immutable_fields(&err).unwrap_or_default();
                if !t.force {
                    return Err(ApplyError::Immutable {
                        object: t.subject.clone(),
                        fields,
                    });
                }
                if dry_only {
                    return Ok(Decision::Done(Outcome {
                        action: Action::Configured,
                        live,
                        merged: t.body.clone(),
                    }));
                }
                tracing::info!(object = %t.subject, ?fields, "recreating: immutable fields changed");
                return Ok(Decision::Recreate { live });
            }
            // In a diff, the namespace may be in the set but not created yet.
            Err(kube::Error::Api(status)) if dry_only && status.code == 404 => {
                return Ok(Decision::Done(Outcome {
                    action: Action::Created,
                    live,
                    merged: t.body.clone(),
                }));
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Err(ApplyError::NotFound {
                    object: t.subject.clone(),
                    message: status.message,
                });
            }
            Err(err) => return Err(api_error(&t.subject, "dry-run apply", err)),
        };
        let action = match &live {
            None => Action::Created,
            Some(live) if comparable(live) == comparable(&merged) => Action::Unchanged,
            Some(_) => Action::Configured,
        };
        if dry_only || action == Action::Unchanged {
            return Ok(Decision::Done(Outcome {
                action,
                live,
                merged,
            }));
        }
        Ok(Decision::Apply { action, live })
    }

    /// The body to send over `live`: the desired object, with the fields
    /// the ignore rules keep taken from the live one.
    fn body_over<'a>(&self, t: &'a Target, live: Option<&Value>) -> std::borrow::Cow<'a, Value> {
        live.and_then(|current| {
            crate::ignore::keep_live_fields(
                &self.options.ignore_rules,
                &t.id.group,
                &t.version,
                &t.id.kind,
                &t.body,
                current,
            )
        })
        .map_or(std::borrow::Cow::Borrowed(&t.body), std::borrow::Cow::Owned)
    }

    /// Hands kubectl's fields of the live object to our field manager and
    /// returns the object as it is then.
    async fn take_over(&self, t: &Target) -> Result<Option<Value>, ApplyError> {
        let live = read_live(t).await?;
        let Some(patch) = live
            .as_ref()
            .and_then(|current| takeover_patch(current, &self.options.field_manager))
        else {
            return Ok(live);
        };
        tracing::debug!(object = %t.subject, "taking fields over from kubectl");
        let params = PatchParams {
            field_manager: Some(self.options.field_manager.clone()),
            ..PatchParams::default()
        };
        let taken = t
            .api
            .patch(&t.name, &params, &Patch::Merge(patch))
            .await
            .map_err(|e| api_error(&t.subject, "take over fields from kubectl", e))?;
        Ok(Some(to_value(taken)))
    }

    /// Deletes the object, waits until it is gone, and creates it again.
    async fn recreate(&self, t: &Target, live: Option<Value>) -> Result<Outcome, ApplyError> {
        let api_error = |action, source| api_error(&t.subject, action, source);
        let old_uid = live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/uid"))
            .cloned();
        match t.api.delete(&t.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(err) => return Err(api_error("delete for recreation", err)),
        }
        let start = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            let current = t
                .api
                .get_opt(&t.name)
                .await
                .map_err(|e| api_error("read", e))?;
            let gone = match current {
                None => true,
                Some(obj) => to_value(obj).pointer("/metadata/uid") != old_uid.as_ref(),
            };
            if gone {
                break;
            }
            if start.elapsed() > RECREATE_TIMEOUT {
                return Err(ApplyError::RecreateTimeout {
                    object: t.subject.clone(),
                    timeout: RECREATE_TIMEOUT,
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
        let params = PatchParams::apply(&self.options.field_manager).force();
        let created = t
            .api
            .patch(&t.name, &params, &Patch::Apply(&t.body))
            .await
            .map_err(|e| api_error("apply after recreation", e))?;
        Ok(Outcome {
            action: Action::Created,
            live,
            merged: to_value(created),
        })
    }
}

/// The object as the cluster has it now, if it exists.
async fn read_live(t: &Target) -> Result<Option<Value>, ApplyError> {
    Ok(t.api
        .get_opt(&t.name)
        .await
        .map_err(|e| api_error(&t.subject, "read", e))?
        .map(to_value))
}
