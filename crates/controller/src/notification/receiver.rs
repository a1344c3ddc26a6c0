//! The `Receiver` reconciler: reads the token of `spec.secretRef` and
//! publishes the webhook path it names (`status.webhookPath`,
//! `/hook/<sha256(token + name + namespace)>`, as Flux computes it). The
//! hooks server finds Receivers by that path.

use std::time::Duration;

use driftless_api::conditions::{self, reasons, types};
use driftless_api::{Receiver, ReceiverStatus, ReceiverType};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;

use crate::Context;
use crate::reconciler::{Outcome, ReconcileError, Reconciler, Run, Stamp};

/// How often a Receiver is looked at without changes (Flux: 10m).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// The Receiver kind's reconcile logic.
pub(crate) struct Receivers;

impl Reconciler for Receivers {
    type Object = Receiver;
    type Status = ReceiverStatus;

    fn status(receiver: &Receiver) -> Option<&ReceiverStatus> {
        receiver.status.as_ref()
    }

    fn conditions(status: &ReceiverStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        receiver: &Receiver,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<ReceiverStatus>, ReconcileError> {
        if let Some(field) = unsupported_field(receiver) {
            return Err(ReconcileError::unsupported_field("Receiver", field));
        }
        let token = token(&run.context.client, receiver).await?;
        let path = driftless_notify::receiver::webhook_path(
            &token,
            &receiver.name_any(),
            &receiver.namespace().unwrap_or_default(),
        );
        Ok(Outcome::Done {
            status: ready(receiver, path, &run.stamp),
            events: Vec::new(),
            requeue: Self::retry_interval(receiver),
            revision: None,
        })
    }

    fn failed_status(receiver: &Receiver, error: &ReconcileError, stamp: &Stamp) -> ReceiverStatus {
        let mut status = receiver.status.clone().unwrap_or_default();
        let mut list = status.conditions.take().unwrap_or_default();
        error.mark(&mut list, &stamp.now);
        status.conditions = Some(list);
        // No valid token: no path may accept calls any more.
        status.webhook_path = None;
        status.observed_generation = receiver.metadata.generation;
        if stamp.requested.is_some() {
            status.last_handled_reconcile_at = stamp.requested.clone();
        }
        status
    }

    fn retry_interval(receiver: &Receiver) -> Duration {
        receiver
            .spec
            .interval
            .as_ref()
            .and_then(|i| i.to_std().ok())
            .unwrap_or(DEFAULT_INTERVAL)
    }

    async fn cleanup(&self, _: &Receiver, _: &Context) -> Result<(), ReconcileError> {
        Ok(())
    }

    fn status_patch(status: &ReceiverStatus) -> serde_json::Value {
        let mut patch = serde_json::json!({ "status": status });
        if status.webhook_path.is_none() {
            patch["status"]["webhookPath"] = serde_json::Value::Null;
        }
        patch
    }
}

/// The status of a Receiver serving `path`.
fn ready(receiver: &Receiver, path: String, stamp: &Stamp) -> ReceiverStatus {
    let mut status = receiver.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::remove_condition(&mut list, types::STALLED);
    conditions::set_condition(
        &mut list,
        conditions::ready(
            reasons::SUCCEEDED,
            format!("Receiver initialized for path: {path}"),
        ),
        &stamp.now,
    );
    status.conditions = Some(list);
    status.webhook_path = Some(path);
    status.observed_generation = receiver.metadata.generation;
    if stamp.requested.is_some() {
        status.last_handled_reconcile_at = stamp.requested.clone();
    }
    status
}

/// A field we cannot honour: refused rather than ignored (a filter left
/// out would reconcile objects the user meant to exclude).
fn unsupported_field(receiver: &Receiver) -> Option<&'static str> {
    let spec = &receiver.spec;
    if spec.resource_filter.is_some() {
        Some("resourceFilter")
    } else if spec.resources.iter().any(|r| r.filter.is_some()) {
        Some("resources[].filter")
    } else if matches!(spec.type_, ReceiverType::GenericOidc | ReceiverType::Gcr) {
        Some("type")
    } else {
        None
    }
}

/// The `token` of `spec.secretRef`.
pub(super) async fn token(
    client: &kube::Client,
    receiver: &Receiver,
) -> Result<String, ReconcileError> {
    let namespace = receiver.namespace().unwrap_or_default();
    let Some(reference) = &receiver.spec.secret_ref else {
        return Err(ReconcileError::stalled(
            reasons::RECONCILIATION_FAILED,
            "spec.secretRef is required: a Secret whose `token` names and verifies the webhook",
        ));
    };
    let failed =
        |message: String| ReconcileError::retryable(reasons::RECONCILIATION_FAILED, message);
    let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let secret = api
        .get_opt(&reference.name)
        .await
        .map_err(|e| {
            failed(format!(
                "cannot read Secret {namespace}/{}: {e}",
                reference.name
            ))
        })?
        .ok_or_else(|| {
            failed(format!(
                "Secret {namespace}/{} of spec.secretRef not found; create it with a `token` key",
                reference.name
            ))
        })?;
    secret
        .data
        .as_ref()
        .and_then(|d| d.get("token"))
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get("token"))
                .cloned()
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            failed(format!(
                "Secret {namespace}/{} has no `token` key; add one",
                reference.name
            ))
        })
}
