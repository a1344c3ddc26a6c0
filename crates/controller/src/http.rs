//! The controller's two HTTP endpoints: the artifact server (other
//! components, and `curl`, download source tarballs from it, as from Flux's
//! source-controller) and the operations endpoint (`/metrics`, `/healthz`,
//! `/readyz`).
//!
//! Artifacts are served read-only from the storage directory. A request
//! path is only ever joined onto the root after each segment was checked to
//! be a plain name, so no request can read outside it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;

/// Routes `GET /<kind>/<namespace>/<name>/<file>` to the file under
/// `storage_root`: `<digest>.tar.gz` for every kind, and Flux's names for
/// Helm sources (`index-<hex>.yaml`, `<chart>-<version>.tgz`).
pub fn artifact_router(storage_root: PathBuf) -> Router {
    Router::new()
        .route("/{*path}", get(serve_artifact))
        .with_state(Arc::new(storage_root))
}

async fn serve_artifact(State(root): State<Arc<PathBuf>>, Path(path): Path<String>) -> Response {
    let segments: Vec<&str> = path.split('/').collect();
    let plain = segments.len() == 4
        && segments
            .iter()
            .all(|s| !s.is_empty() && !s.starts_with('.') && !s.contains('\\'))
        && served_name(segments[0], segments[3]);
    if !plain {
        return (StatusCode::NOT_FOUND, "no such artifact\n").into_response();
    }
    let file = segments
        .iter()
        .fold(root.as_ref().clone(), |p, s| p.join(s));
    let content_type = if path.ends_with(".yaml") {
        "application/x-yaml"
    } else {
        "application/gzip"
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (StatusCode::NOT_FOUND, "no such artifact\n").into_response()
        }
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "cannot read artifact");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read artifact\n").into_response()
        }
    }
}

/// Whether `file` is an artifact name storage writes for `kind`.
fn served_name(kind: &str, file: &str) -> bool {
    file.ends_with(".tar.gz")
        || (kind == "helmrepository" && file.starts_with("index-") && file.ends_with(".yaml"))
        || (kind == "helmchart" && file.ends_with(".tgz"))
}

/// Health and readiness: live while the process runs; ready once its
/// servers are up and it is connected, leader or standby, so a standby
/// replica does not hold up a rollout (leadership is the Lease's business).
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

pub fn operations_router(metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = health.ready.load(Ordering::SeqCst);
                async move {
                    if ready {
                        (StatusCode::OK, "ok\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
                    }
                }
            }),
        )
}
