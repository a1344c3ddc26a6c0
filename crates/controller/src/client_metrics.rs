//! The Kubernetes client, instrumented: every request the controller makes
//! is counted by verb, resource and status code, and timed — what
//! controller-runtime exports as `rest_client_requests_total` — so the load
//! we put on an API server at steady state is a number, not a guess.
//!
//! A tower layer in kube's client stack, so the same instrumentation covers
//! the controller's own client and the clients it builds to impersonate a
//! service account.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, Request, Response};
use kube::client::{Body, ClientBuilder};

use crate::metrics::Metrics;

/// A client for `config` whose requests are recorded in `metrics`.
pub(crate) fn client(config: kube::Config, metrics: Arc<Metrics>) -> kube::Result<kube::Client> {
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&RecordRequests { metrics })
        .build())
}

/// The layer: wraps kube's HTTP service.
struct RecordRequests {
    metrics: Arc<Metrics>,
}

impl<S> tower_layer::Layer<S> for RecordRequests {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// kube's HTTP service, with each request recorded.
struct Recorded<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

type Recording<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, B> tower_service::Service<Request<Body>> for Recorded<S>
where
    S: tower_service::Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    B: 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Recording<Response<B>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let target = RequestTarget::of(request.method(), request.uri());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let result = response.await;
            let code = match &result {
                Ok(response) => response.status().as_str().to_owned(),
                Err(_) => "<error>".to_owned(),
            };
            metrics.record_request(target.verb, &target.resource, &code, started.elapsed());
            result
        })
    }
}

/// What a request asks for, in the API server's words.
#[derive(Debug, PartialEq, Eq)]
struct RequestTarget {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or
    /// `deletecollection`, as the API server names verbs.
    verb: &'static str,
    /// The resource (with its subresource: `deployments/status`), or the
    /// path of a non-resource request (`/version`).
    resource: String,
}

impl RequestTarget {
    fn of(method: &Method, uri: &http::Uri) -> RequestTarget {
        let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
        let rest = match segments.first() {
            Some(&"api") if segments.len() >= 2 => &segments[2..],
            Some(&"apis") if segments.len() >= 3 => &segments[3..],
            _ => {
                return RequestTarget {
                    verb: if *method == Method::GET {
                        "get"
                    } else {
                        "other"
                    },
                    resource: uri.path().to_owned(),
                };
            }
        };
        let rest = match rest {
            ["namespaces", _, resource, more @ ..] => {
                let mut inner = vec![*resource];
                inner.extend(more);
                inner
            }
            other => other.to_vec(),
        };
        let named = rest.len() >= 2;
        let resource = match rest.as_slice() {
            [resource, _, subresource, ..] => format!("{resource}/{subresource}"),
            [resource, ..] => (*resource).to_owned(),
            [] => uri.path().to_owned(),
        };
        let watch = uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        let verb = match *method {
            Method::GET if watch => "watch",
            Method::GET if named => "get",
            Method::GET => "list",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if named => "delete",
            Method::DELETE => "deletecollection",
            _ => "other",
        };
        RequestTarget { verb, resource }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(method: Method, uri: &str) -> (&'static str, String) {
        let t = RequestTarget::of(&method, &uri.parse().expect("uri"));
        (t.verb, t.resource)
    }

    #[test]
    fn requests_are_named_as_the_api_server_names_them() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/ns/configmaps/app",
                "get",
                "configmaps",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ns/configmaps?labelSelector=a",
                "list",
                "configmaps",
            ),
            (
                Method::GET,
                "/api/v1/configmaps?watch=true&resourceVersion=1",
                "watch",
                "configmaps",
            ),
            (Method::GET, "/api/v1/namespaces/app", "get", "namespaces"),
            (Method::POST, "/api/v1/namespaces", "create", "namespaces"),
            (
                Method::PATCH,
                "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/ns/kustomizations/apps/status",
                "patch",
                "kustomizations/status",
            ),
            (
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/x/leases/l",
                "update",
                "leases",
            ),
            (
                Method::DELETE,
                "/apis/apps/v1/namespaces/ns/deployments/web",
                "delete",
                "deployments",
            ),
            (
                Method::DELETE,
                "/apis/apps/v1/namespaces/ns/deployments",
                "deletecollection",
                "deployments",
            ),
            (Method::GET, "/version", "get", "/version"),
        ];
        for (method, uri, verb, resource) in cases {
            assert_eq!(target(method, uri), (verb, resource.to_owned()), "{uri}");
        }
    }
}
