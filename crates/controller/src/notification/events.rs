//! The events address (`--events-listen`): other controllers post Flux's
//! event JSON to `POST /`, as they post to Flux's notification-controller;
//! 202 when accepted (delivered asynchronously), 429 for a duplicate within
//! the rate-limit interval, 400 or 413 for a body that is not an event.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;

use super::outbox::{Outbox, Outgoing};

/// The routes of the events server.
pub(crate) fn router(outbox: Outbox) -> Router {
    Router::new()
        .route("/", post(accept))
        .layer(DefaultBodyLimit::max(
            driftless_notify::max_body_bytes() + 1,
        ))
        .with_state(outbox)
}

async fn accept(State(outbox): State<Outbox>, body: Bytes) -> (StatusCode, String) {
    let event = match driftless_notify::ingest_event(&body) {
        Ok(event) => event,
        Err(error) => {
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            return (status, format!("{}\n", error.reason));
        }
    };
    // Events posted from outside carry no labels: `matchLabels` cannot match them.
    let outgoing = Outgoing {
        event,
        labels: BTreeMap::new(),
    };
    if outbox.send(outgoing) {
        (StatusCode::ACCEPTED, String::new())
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            "duplicate event\n".to_owned(),
        )
    }
}
