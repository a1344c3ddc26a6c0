//! The reconciler scaffold: the one shape every kind's reconciler has.
//!
//! A kind implements [`Reconciler`] — observe, decide, act, and compute its
//! new status as a pure function of (object, outcome) — and this module does
//! the rest the same way for every kind, on every path:
//!
//! - the finalizer (kube-runtime's helper) and the kind's cleanup on delete;
//! - a time budget and a panic boundary around each reconcile, so one
//!   object's failure never stops the others;
//! - `spec.suspend` (nothing runs, nothing is written);
//! - the schedule: when each object last ran, so status writes and watch
//!   echoes inside the interval cost nothing;
//! - a pending `reconcile.fluxcd.io/requestedAt`, echoed into the status;
//! - on failure, the kind's failed status, a Warning event (Normal while
//!   waiting on a dependency), a log line and the requeue [`Retry`] asks for;
//! - the status patch — skipped when nothing changed, and a failed write is
//!   an error for kube-runtime's error policy, never swallowed; a kind may
//!   also write part of it before acting ([`Run::checkpoint`]), and the
//!   final write and a failure's status then build on that copy;
//! - the metrics: reconcile duration and the Ready/Healthy gauges.
//!
//! It must not know what any kind does: no source, render or apply calls.
//! Modelled on kube-runtime's controller example (reconcile as a function of
//! object and context, a typed error, one error policy).

mod error;
mod guard;
mod schedule;
mod superseded;

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_api::FluxObject;
use driftless_api::annotations;
use driftless_api::conditions::{self, types};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) use error::{ReconcileError, Retry};
use schedule::Schedule;
use superseded::Superseded;

use crate::Context;
use crate::events::EventType;

/// Flux's finalizer, so objects Flux created are cleaned up the same way.
pub(crate) const FINALIZER: &str = "finalizers.fluxcd.io";

/// One kind's reconcile logic; everything around it is the scaffold's.
pub(crate) trait Reconciler: Send + Sync + Sized + 'static {
    /// The custom resource this reconciles.
    type Object: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + FluxObject
        + Clone
        + Debug
        + DeserializeOwned
        + Serialize
        + Send
        + Sync
        + 'static;
    /// Its status.
    type Status: Serialize + Clone + PartialEq + Default + Send + Sync;

    /// The object's current status, if any.
    fn status(object: &Self::Object) -> Option<&Self::Status>;

    /// The conditions in a status.
    fn conditions(status: &Self::Status) -> &[Condition];

    /// Observes, decides and acts. Returns the new status (or that nothing
    /// was due), or the failure to report.
    fn reconcile(
        &self,
        object: &Self::Object,
        run: &Run<'_, Self::Object>,
    ) -> impl Future<Output = Result<Outcome<Self::Status>, ReconcileError>> + Send;

    /// The status after `error`: a pure function, tested without a cluster.
    fn failed_status(object: &Self::Object, error: &ReconcileError, stamp: &Stamp) -> Self::Status;

    /// Points what a failed status keeps of the last success at this
    /// controller (default: nothing). Sources rewrite their kept artifact's
    /// URL, as Flux's source-controller does at every reconcile: after a
    /// restart on another address, consumers still reach the last good
    /// artifact while the source itself fails.
    fn refresh_failed_status(_status: &mut Self::Status, _context: &Context) {}

    /// How soon a retryable failure runs again.
    fn retry_interval(object: &Self::Object) -> Duration;

    /// Undoes what reconciling did, when the object is deleted.
    fn cleanup(
        &self,
        object: &Self::Object,
        context: &Context,
    ) -> impl Future<Output = Result<(), ReconcileError>> + Send;

    /// The body of the status merge patch. A merge patch keeps the keys it
    /// leaves out; a kind whose status fields can go away clears them here.
    fn status_patch(status: &Self::Status) -> serde_json::Value {
        serde_json::json!({ "status": status })
    }
}

/// What a reconcile that did not fail produced.
pub(crate) enum Outcome<S> {
    /// Nothing was due yet: no write, no metrics; look again after this.
    NotDue(Duration),
    /// The new status, the events to record, and when to run again.
    Done {
        status: S,
        events: Vec<Event>,
        requeue: Duration,
        /// The source revision the events are about (their `revision`
        /// metadata, which commit-status providers report on).
        revision: Option<String>,
    },
}

/// An event a reconcile asks the scaffold to record.
pub(crate) struct Event {
    pub kind: EventType,
    pub reason: &'static str,
    pub message: String,
}

impl Event {
    pub fn normal(reason: &'static str, message: impl Into<String>) -> Event {
        Event {
            kind: EventType::Normal,
            reason,
            message: message.into(),
        }
    }

    pub fn warning(reason: &'static str, message: impl Into<String>) -> Event {
        Event {
            kind: EventType::Warning,
            reason,
            message: message.into(),
        }
    }
}

/// What a status computed in this run is stamped with: the pure status
/// functions take this instead of reading a clock.
#[derive(Clone, Debug)]
pub(crate) struct Stamp {
    /// The time this run's conditions carry.
    pub now: Time,
    /// A `reconcile.fluxcd.io/requestedAt` the status has not handled yet
    /// (echoed into `lastHandledReconcileAt`).
    pub requested: Option<String>,
}

/// What the scaffold knows of this run of a `K`, handed to the kind.
pub(crate) struct Run<'a, K> {
    /// The controller's shared clients and options.
    pub context: &'a Context,
    /// Time and reconcile request for the status.
    pub stamp: Stamp,
    schedule: &'a Schedule,
    key: String,
    /// The object as this run's [`checkpoint`](Run::checkpoint)s wrote it,
    /// oldest first: the last is what the final status write (and a
    /// failed status) builds on.
    checkpointed: Mutex<Vec<K>>,
}

impl<K> Run<'_, K> {
    /// Whether a full run is due: the object changed, a reconcile was
    /// requested, `force` (the kind saw an input change), or `interval`
    /// passed since the last full run. `Err` holds the time left.
    pub fn due(&self, up_to_date: bool, force: bool, interval: Duration) -> Result<(), Duration> {
        if up_to_date && !force && self.stamp.requested.is_none() {
            self.schedule.remaining(&self.key, interval)
        } else {
            Ok(())
        }
    }

    /// Marks the start of a full run for the schedule.
    pub fn start(&self) {
        self.schedule.record(&self.key);
    }
}

impl<K> Run<'_, K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    /// Writes `patch` (a status merge patch) now, before the reconcile
    /// ends: for what must be on record before acting on it — the objects
    /// an apply is about to create, so that a crash or a failure halfway
    /// through cannot lose track of them. Conditional on the resourceVersion
    /// like the final write, which then builds on this one, as does the
    /// status of a failure after it.
    pub async fn checkpoint(&self, object: &K, patch: Value) -> Result<(), ReconcileError> {
        let version = self
            .checkpoints()
            .last()
            .unwrap_or(object)
            .resource_version();
        let written = patch_status_at(&self.context.client, object, version, patch)
            .await
            .map_err(|error| match error {
                kube::Error::Api(status) if status.code == 409 => ReconcileError::retryable(
                    conditions::reasons::RECONCILIATION_FAILED,
                    "the object changed while it was reconciled; reconciling the newer copy",
                )
                .retry_after(Duration::from_secs(1)),
                other => ReconcileError::retryable(
                    conditions::reasons::RECONCILIATION_FAILED,
                    format!(
                        "cannot record the status before acting on it: {}",
                        crate::error_chain(&other)
                    ),
                ),
            })?;
        self.checkpoints().push(written);
        Ok(())
    }

    /// The object as each checkpoint wrote it, oldest first.
    fn checkpoints(&self) -> std::sync::MutexGuard<'_, Vec<K>> {
        self.checkpointed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why kube-runtime's error policy was called: the scaffold's own plumbing
/// failed (a reconcile's failure is reported in the status instead).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScaffoldError {
    #[error("cannot manage the finalizer of {object}: {message}")]
    Finalizer { object: String, message: String },
    #[error("cannot clean up {object}")]
    Cleanup {
        object: String,
        #[source]
        source: ReconcileError,
    },
    #[error("cannot write the status of {object}")]
    StatusWrite {
        object: String,
        #[source]
        source: kube::Error,
    },
}

/// A kind's reconciler with the scaffold's state; what kube-runtime's
/// `Controller::run` is given.
pub(crate) struct Scaffold<R> {
    pub context: Arc<Context>,
    pub reconciler: R,
    schedule: Schedule,
    superseded: Superseded,
}

impl<R: Reconciler> Scaffold<R> {
    pub fn new(context: Arc<Context>, reconciler: R) -> Arc<Scaffold<R>> {
        Arc::new(Scaffold {
            context,
            reconciler,
            schedule: Schedule::default(),
            superseded: Superseded::default(),
        })
    }
}

/// Runs `controller` (a kind's watch, with whatever extra watches it
/// needs) through the scaffold until the watch ends; failures of the
/// scaffold's own plumbing are logged at debug level (a reconcile's
/// failure is in the object's status).
pub(crate) async fn run<R: Reconciler>(
    controller: kube::runtime::Controller<R::Object>,
    context: Arc<Context>,
    reconciler: R,
) where
    R::Object: kube::Resource<DynamicType = ()>,
{
    use futures::StreamExt as _;
    let concurrency = context.options.concurrency;
    controller
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .run(
            reconcile::<R>,
            error_policy::<R>,
            Scaffold::new(context, reconciler),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, kind = R::Object::KIND, "reconcile error");
            }
        })
        .await;
}

/// `Kind namespace/name`, as logs and errors name an object.
fn describe<K: FluxObject + Resource>(object: &K) -> String {
    format!(
        "{} {}/{}",
        K::KIND,
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// kube-runtime's reconcile function for every kind.
pub(crate) async fn reconcile<R: Reconciler>(
    object: Arc<R::Object>,
    scaffold: Arc<Scaffold<R>>,
) -> Result<Action, ScaffoldError> {
    let namespace = object.namespace().unwrap_or_default();
    let api: Api<R::Object> = Api::namespaced(scaffold.context.client.clone(), &namespace);
    let described = describe(&*object);
    finalizer(&api, FINALIZER, object, |event| async {
        match event {
            FinalizerEvent::Apply(object) => reconcile_live::<R>(&object, &scaffold).await,
            FinalizerEvent::Cleanup(object) => {
                scaffold.schedule.forget(&key(&*object));
                scaffold.context.metrics.forget(
                    R::Object::KIND,
                    &object.namespace().unwrap_or_default(),
                    &object.name_any(),
                );
                scaffold
                    .reconciler
                    .cleanup(&object, &scaffold.context)
                    .await
                    .map_err(|source| ScaffoldError::Cleanup {
                        object: describe(&*object),
                        source,
                    })?;
                Ok(Action::await_change())
            }
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => ScaffoldError::Finalizer {
            object: described,
            message: other.to_string(),
        },
    })
}

/// kube-runtime's error policy for every kind: log, and try again soon.
pub(crate) fn error_policy<R: Reconciler>(
    object: Arc<R::Object>,
    error: &ScaffoldError,
    _: Arc<Scaffold<R>>,
) -> Action {
    if let ScaffoldError::StatusWrite {
        source: kube::Error::Api(status),
        ..
    } = error
        && status.code == 409
    {
        tracing::debug!(
            object = %describe(&*object),
            "the object changed while it was reconciled; reconciling the newer copy"
        );
        return Action::requeue(Duration::from_secs(1));
    }
    tracing::warn!(
        object = %describe(&*object),
        error = %crate::error_chain(error),
        "reconcile failed"
    );
    Action::requeue(Duration::from_secs(10))
}

fn key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

async fn reconcile_live<R: Reconciler>(
    object: &R::Object,
    scaffold: &Scaffold<R>,
) -> Result<Action, ScaffoldError> {
    if object.suspended() {
        tracing::debug!(object = %describe(object), "suspended");
        return Ok(Action::await_change());
    }
    if scaffold
        .superseded
        .is_stale(&key(object), object.resource_version().as_deref())
    {
        // The newer copy's watch event reconciles it; the requeue only
        // covers a missed event.
        tracing::debug!(object = %describe(object), "a copy this controller replaced; waiting for the newer one");
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let context = &*scaffold.context;
    let run = Run {
        context,
        stamp: Stamp {
            now: crate::now(),
            requested: annotations::pending_reconcile_request(
                object.meta(),
                object.last_handled_reconcile_at(),
            )
            .map(str::to_owned),
        },
        schedule: &scaffold.schedule,
        key: key(object),
        checkpointed: Mutex::new(Vec::new()),
    };
    let started = Instant::now();
    let outcome = guard::guarded(
        context.options.reconcile_timeout,
        scaffold.reconciler.reconcile(object, &run),
    )
    .await;
    let checkpointed = std::mem::take(&mut *run.checkpoints());
    let started_from = object;
    let object = checkpointed.last().unwrap_or(object);
    let (status, events, action, revision) = match outcome {
        Ok(Outcome::NotDue(remaining)) => return Ok(Action::requeue(remaining)),
        Ok(Outcome::Done {
            status,
            events,
            requeue,
            revision,
        }) => (status, events, Action::requeue(requeue), revision),
        Err(error) => {
            let error = error.redacted();
            tracing::info!(
                object = %describe(object),
                reason = error.reason,
                revision = error.revision.as_deref(),
                message = %error.message,
                "reconcile failed"
            );
            let mut status = R::failed_status(object, &error, &run.stamp);
            R::refresh_failed_status(&mut status, context);
            let action = match error.retry {
                Retry::Stalled => Action::await_change(),
                Retry::AtRetryInterval => Action::requeue(R::retry_interval(object)),
                Retry::After(delay) => Action::requeue(delay),
            };
            let event = Event {
                kind: error.event_type(),
                reason: error.reason,
                message: error.message,
            };
            (status, vec![event], action, error.revision)
        }
    };
    for event in &events {
        context
            .recorder
            .publish(
                object,
                event.kind,
                event.reason,
                &event.message,
                revision.as_deref(),
            )
            .await;
    }
    record_conditions::<R>(object, &status, context);
    let written = write_status::<R>(object, &status, context).await;
    context.metrics.record_reconcile(
        R::Object::KIND,
        &object.namespace().unwrap_or_default(),
        &object.name_any(),
        started.elapsed(),
    );
    if let Ok(written) = &written {
        let now = written.as_ref().unwrap_or(object).resource_version();
        scaffold.superseded.record(
            &run.key,
            replaced_copies(started_from, &checkpointed, now.as_deref()),
        );
    }
    written.map(|_| action)
}

/// The resourceVersions a run's writes replaced: the copy it started from
/// and each checkpoint, but the version the object is at `now` (a write
/// that changed nothing keeps its version, and that copy is current). A
/// trigger queued during the run may still find a replaced copy in the
/// cache; its status predates what the run did (a release it installed
/// included).
fn replaced_copies<K: Resource>(
    started_from: &K,
    checkpointed: &[K],
    now: Option<&str>,
) -> Vec<String> {
    std::iter::once(started_from)
        .chain(checkpointed)
        .filter_map(ResourceExt::resource_version)
        .filter(|version| Some(version.as_str()) != now)
        .collect()
}

/// The Ready and Healthy gauges, from the status about to be written.
fn record_conditions<R: Reconciler>(object: &R::Object, status: &R::Status, context: &Context) {
    let list = R::conditions(status);
    for type_ in [types::READY, types::HEALTHY] {
        if let Some(condition) = conditions::find(list, type_) {
            context.metrics.record_condition(
                R::Object::KIND,
                &object.namespace().unwrap_or_default(),
                &object.name_any(),
                type_,
                &condition.status,
            );
        }
    }
}

/// Patches the status, unless it is what the object already has (the usual
/// poll): no write means no watch event waking the object's consumers.
/// The object as written, if it wrote.
async fn write_status<R: Reconciler>(
    object: &R::Object,
    status: &R::Status,
    context: &Context,
) -> Result<Option<R::Object>, ScaffoldError> {
    if R::status(object) == Some(status) {
        return Ok(None);
    }
    patch_status_at(
        &context.client,
        object,
        object.resource_version(),
        R::status_patch(status),
    )
    .await
    .map(Some)
    .map_err(|source| ScaffoldError::StatusWrite {
        object: describe(object),
        source,
    })
}

/// Merge-patches the status of `object`, conditional on `version` (its
/// resourceVersion as the status was computed from it). The status comes
/// from that copy (its inventory above all); if the object moved on
/// meanwhile (a cache behind the API server, as after an API server
/// restart, or another writer), writing it would put an older inventory
/// back and a later prune would miss what the newer one listed. So the
/// write is refused instead (409), and the reconcile runs again on the
/// newer copy.
async fn patch_status_at<K>(
    client: &kube::Client,
    object: &K,
    version: Option<String>,
    mut patch: Value,
) -> Result<K, kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    if let Some(version) = version {
        patch["metadata"] = serde_json::json!({ "resourceVersion": version });
    }
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    api.patch_status(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::replaced_copies;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn at(version: &str) -> ConfigMap {
        let mut copy = ConfigMap::default();
        copy.metadata.resource_version = Some(version.to_owned());
        copy
    }

    #[test]
    fn a_run_that_wrote_replaced_the_copy_it_started_from() {
        assert_eq!(replaced_copies(&at("4"), &[], Some("5")), ["4"]);
        assert_eq!(
            replaced_copies(&at("4"), &[at("5"), at("6")], Some("7")),
            ["4", "5", "6"]
        );
    }

    #[test]
    fn the_copy_the_object_is_at_now_is_not_replaced() {
        assert!(replaced_copies(&at("4"), &[], Some("4")).is_empty());
        assert_eq!(
            replaced_copies(&at("4"), &[at("5"), at("6")], Some("6")),
            ["4", "5"]
        );
    }
}
