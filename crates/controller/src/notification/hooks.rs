//! Webhooks in: the receiver server (`--receiver-listen`). A call to a
//! Receiver's `/hook/<digest>` is verified as its type demands (signature
//! or token, compared in constant time, by the notify crate); an accepted
//! call sets `reconcile.fluxcd.io/requestedAt` on the Receiver's resources,
//! so they reconcile at once. Bodies are capped; nothing a caller sends is
//! echoed back, and no secret is logged.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use driftless_api::Receiver;
use driftless_notify::receiver::{ReceiverSpec, ReceiverType, verify};
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use super::annotate::request_reconcile;

struct Hooks {
    client: kube::Client,
    receivers: Store<Receiver>,
}

/// The routes of the receiver server.
pub(crate) fn router(client: kube::Client, receivers: Store<Receiver>) -> Router {
    Router::new()
        .route("/hook/{digest}", post(hook))
        // One byte over the cap reaches `verify`, which answers 413.
        .layer(DefaultBodyLimit::max(
            driftless_notify::max_body_bytes() + 1,
        ))
        .with_state(Arc::new(Hooks { client, receivers }))
}

async fn hook(
    State(hooks): State<Arc<Hooks>>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let path = format!("/hook/{digest}");
    let Some(receiver) = hooks
        .receivers
        .state()
        .into_iter()
        .find(|r| r.status.as_ref().and_then(|s| s.webhook_path.as_deref()) == Some(&path))
    else {
        return (StatusCode::NOT_FOUND, "no receiver at this path\n");
    };
    if receiver.spec.suspend {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the receiver is suspended\n",
        );
    }
    let described = format!(
        "Receiver {}/{}",
        receiver.namespace().unwrap_or_default(),
        receiver.name_any()
    );
    let Ok(token) = super::receiver::token(&hooks.client, &receiver).await else {
        tracing::warn!(receiver = %described, "cannot read the receiver's token");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot verify the call\n",
        );
    };
    let Ok(receiver_type) = receiver.spec.type_.as_str().parse::<ReceiverType>() else {
        return (StatusCode::NOT_IMPLEMENTED, "receiver type not supported\n");
    };
    let events = receiver.spec.events.clone().unwrap_or_default();
    let verified = verify(
        &ReceiverSpec {
            receiver_type,
            token: &token,
            events: &events,
            gcr: None,
        },
        &headers,
        &body,
    );
    let accepted = match verified {
        Ok(accepted) => accepted,
        Err(rejected) => {
            tracing::info!(receiver = %described, reason = %rejected.reason, "webhook call rejected");
            let status = StatusCode::from_u16(rejected.status).unwrap_or(StatusCode::BAD_REQUEST);
            return (status, "rejected\n");
        }
    };
    if !accepted.reconcile {
        return (StatusCode::OK, "accepted\n");
    }
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let namespace = receiver.namespace().unwrap_or_default();
    for resource in &receiver.spec.resources {
        match request_reconcile(&hooks.client, &resource.target, &namespace, &now).await {
            Ok(count) => {
                tracing::info!(receiver = %described, kind = %resource.target.kind, name = %resource.target.name, count, "reconcile requested");
            }
            Err(error) => {
                tracing::warn!(receiver = %described, error = %crate::error_chain(&error), "cannot request a reconcile");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot request the reconcile\n",
                );
            }
        }
    }
    (StatusCode::OK, "accepted\n")
}
