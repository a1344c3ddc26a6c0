//! Loopback HTTP server that records requests and answers from a script,
//! plus the event fixture the tests share.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use driftless_notify::{Event, InvolvedObject, Severity};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// Status, optional `Retry-After`, body.
type ScriptedResponse = (u16, Option<String>, String);

#[derive(Clone, Default)]
struct Shared {
    recorded: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<VecDeque<ScriptedResponse>>>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    shared: Shared,
}

impl TestServer {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new().fallback(record).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues a response; unscripted requests get 200 `{"ok":true}`.
    pub fn respond(&self, status: u16, retry_after: Option<&str>, body: &str) {
        self.shared.script.lock().unwrap().push_back((
            status,
            retry_after.map(str::to_string),
            body.to_string(),
        ));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:?}");
        all.into_iter().next().unwrap()
    }
}

async fn record(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.recorded.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map(std::string::ToString::to_string)
            .unwrap_or_default(),
        headers,
        body: body.to_vec(),
    });
    let next = shared.script.lock().unwrap().pop_front();
    let (status, retry_after, body) = next.unwrap_or((200, None, r#"{"ok":true}"#.to_string()));
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    if let Some(value) = retry_after {
        response
            .headers_mut()
            .insert("Retry-After", value.parse().unwrap());
    }
    response
}

pub const SHA: &str = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";

/// A Kustomization event after alert metadata combination.
pub fn event(severity: Severity) -> Event {
    let mut metadata = BTreeMap::new();
    metadata.insert("revision".to_string(), format!("main@sha1:{SHA}"));
    metadata.insert("summary".to_string(), "prod cluster".to_string());
    Event {
        involved_object: InvolvedObject {
            kind: "Kustomization".into(),
            namespace: "flux-system".into(),
            name: "apps".into(),
            uid: "7d0cdc51-ddcd-4fe5-a4b5-0e9f1e3e7a11".into(),
            api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
            ..Default::default()
        },
        severity,
        timestamp: time::macros::datetime!(2024-05-01 12:00:00 UTC),
        message: "Applied revision: main@sha1:5394cb7".into(),
        reason: if severity == Severity::Error {
            "ReconciliationFailed".into()
        } else {
            "ReconciliationSucceeded".into()
        },
        metadata,
        reporting_controller: "kustomize-controller".into(),
        reporting_instance: String::new(),
    }
}
