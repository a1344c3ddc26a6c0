//! Notifications out, webhooks in — Flux's notification-controller:
//!
//! | module | owns |
//! |---|---|
//! | `outbox` | events → the Alerts that select them → their Providers (through the notify crate's bounded dispatcher) |
//! | `events` | the events address: Flux's event JSON posted by other controllers |
//! | `receiver` | the Receiver reconciler: `status.webhookPath` from the token |
//! | `hooks` | the receiver server: verify a call, request the reconciles |
//! | `annotate` | `reconcile.fluxcd.io/requestedAt` on a Receiver's resources |
//!
//! What a notification or a webhook means (payloads, signatures, matching)
//! is the notify crate's; this module reads the cluster and serves HTTP.

mod annotate;
mod events;
mod hooks;
pub(crate) mod outbox;
mod receiver;

use std::sync::Arc;

use driftless_api::Receiver;
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller;

pub(crate) use events::router as events_router;
pub(crate) use hooks::router as hooks_router;

use crate::Context;
use crate::reconciler::{self, Scaffold};

/// Reconciles Receivers until the watch ends.
pub(crate) async fn run_receivers(context: Arc<Context>) {
    let api: Api<Receiver> = Api::all(context.client.clone());
    let concurrency = context.options.concurrency;
    crate::watch::controller(api)
        .with_config(controller::Config::default().concurrency(concurrency))
        .run(
            reconciler::reconcile::<receiver::Receivers>,
            reconciler::error_policy::<receiver::Receivers>,
            Scaffold::new(context, receiver::Receivers),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "Receiver reconcile error");
            }
        })
        .await;
}
