//! HTTP: TLS, the authentication and authorization hook (see `auth`), URL routing and encoding of
//! responses (objects, lists, Tables, watch streams, Status errors).
//!
//! Owns the wire format only; every decision about objects is `api`'s.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::api::{
    Api, DeleteOptions, ListOptions, PatchType, Scope, Warnings, WatchStart, WriteOptions,
};
use crate::auth::{Attributes, User};
use crate::codec;
use crate::discovery;
use crate::faults::{Fault, Faults};
use crate::metrics::{Labels, Metrics, RequestLine};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{EventType, WatchEvent};
use crate::table::{self, IncludeObject};

pub type Body = BoxBody<Bytes, Infallible>;

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);
/// How long a watch lasts when the client sets no `timeoutSeconds`.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

pub struct ServerState {
    pub api: Arc<Api>,
    pub auth: Arc<crate::auth::Auth>,
    pub server_address: String,
    /// Faults a test asked for (none by default).
    pub faults: Faults,
    /// What `/metrics` reports.
    pub metrics: Metrics,
    /// Where each request is logged, when asked for.
    pub audit: Option<crate::audit::AuditLog>,
}

/// A list response, serialized straight from the stored objects without copying them.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListBody<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: Vec<std::borrow::Cow<'a, Value>>,
}

fn json_response(code: u16, value: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Full::new(Bytes::from(bytes)).boxed())
        .expect("static headers are valid")
}

fn error_response(err: &ApiError) -> Response<Body> {
    json_response(err.code, &err.to_status())
}

/// An empty OpenAPI v2 document. kubectl asks for it in protobuf only, to
/// validate kinds the v3 documents lack (an unknown kind, a `List`): zero
/// protobuf bytes give it no schema, so it validates nothing and the request
/// goes on to the error a real cluster gives ("no matches for kind").
/// Anyone else (`kubectl get --raw /openapi/v2`, older clients) gets the
/// same empty document as JSON. Kept empty although the built-in kinds now
/// have schemas: kubectl reads v2 as gnostic protobuf only, and client-side
/// `kubectl apply` takes its patch type and merge keys from a v2 document
/// that lists a kind — without every `x-kubernetes-patch-merge-key` and the
/// strategic-merge content type, it would send patches that replace lists
/// instead of merging them. With nothing here it uses its compiled-in types.
fn openapi_v2_empty(accept: &str) -> Response<Body> {
    if !accept.contains("protobuf") {
        return json_response(
            200,
            &json!({
                "swagger": "2.0",
                "info": {"title": "Kubernetes", "version": discovery::version()["gitVersion"]},
                "paths": {},
                "definitions": {},
            }),
        );
    }
    Response::builder()
        .status(200)
        .header(
            "content-type",
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        )
        .body(Full::new(Bytes::new()).boxed())
        .expect("static headers are valid")
}

fn text_response(code: u16, text: &'static str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from_static(text.as_bytes())).boxed())
        .expect("static headers are valid")
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: \"{other}\": supported values: \"All\""
            ))),
        }
    }
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

pub async fn handle(
    state: Arc<ServerState>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let path = req.uri().path().to_string();
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        state
            .metrics
            .record(Labels::for_health(&path), 200, started.elapsed());
        return Ok(text_response(200, "ok"));
    }
    // What only the audit log needs is kept only when there is one.
    let received = state.audit.as_ref().map(|_| {
        (
            time::OffsetDateTime::now_utc(),
            crate::audit::new_id(),
            req.uri().clone(),
            header(&req, "user-agent").to_string(),
        )
    });
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    let dry_run = query.get("dryRun").is_some_and(|v| !v.is_empty());
    let content_type = header(&req, "content-type")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let asked = Attributes::from_request(
        req.method(),
        &path,
        query.flag("watch"),
        query.get("fieldSelector"),
    );
    let (caller, mut response) = match state.auth.admit(&state.api, req.headers(), &asked) {
        Ok(caller) => {
            let response = serve(&state, req, &path, caller.acting()).await;
            if let Some(labels) = resource_labels(
                &state,
                &method,
                &path,
                &query,
                &asked,
                dry_run,
                &content_type,
            ) {
                state
                    .metrics
                    .record(labels, response.status().as_u16(), started.elapsed());
            }
            (Some(caller), response)
        }
        Err(refused) => (refused.caller, error_response(&refused.error)),
    };
    if let (Some(log), Some((at, id, uri, user_agent))) = (&state.audit, &received) {
        log.write(&crate::audit::Entry {
            audit_id: id,
            uri,
            attributes: &asked,
            version: api_version(&path),
            user: caller.as_ref().map(|c| &c.authenticated),
            impersonated: caller.as_ref().and_then(|c| c.impersonated.as_ref()),
            peer,
            user_agent,
            code: response.status().as_u16(),
            received: *at,
        });
        if let Ok(value) = hyper::header::HeaderValue::from_str(id) {
            response.headers_mut().insert("audit-id", value);
        }
    }
    Ok(response)
}

/// Serves an admitted request, faults first.
async fn serve(
    state: &ServerState,
    req: Request<Incoming>,
    path: &str,
    user: &User,
) -> Response<Body> {
    match state.faults.decide(req.method(), path) {
        Some(Fault::InternalError) => {
            return error_response(&ApiError::internal("injected fault: internal error"));
        }
        Some(Fault::TooManyRequests {
            retry_after_seconds,
        }) => {
            let mut response = error_response(&ApiError::new(
                429,
                "TooManyRequests",
                "injected fault: too many requests, please try again later",
            ));
            response.headers_mut().insert(
                "retry-after",
                hyper::header::HeaderValue::from(retry_after_seconds),
            );
            return response;
        }
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    route(state, req, path, user)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

/// The API version a resource URL names (`/api/v1/...`, `/apis/g/v1/...`).
fn api_version(path: &str) -> &str {
    let mut parts = path.split('/').filter(|s| !s.is_empty());
    match parts.next() {
        Some("api") => parts.next().unwrap_or_default(),
        Some("apis") => parts.nth(1).unwrap_or_default(),
        _ => "",
    }
}

/// The metric labels of a request to a served resource; `None` for the
/// rest (discovery, OpenAPI, unknown resources), which the real server
/// does not count either.
fn resource_labels(
    state: &ServerState,
    method: &Method,
    path: &str,
    query: &Query,
    asked: &Attributes,
    dry_run: bool,
    content_type: &str,
) -> Option<Labels> {
    let target = asked.resource.as_ref()?;
    let version = api_version(path);
    let served = state
        .api
        .catalog()
        .lookup(&target.group, version, &target.resource)
        .is_some()
        || discovery::is_review(&target.group, version, &target.resource);
    if !served {
        return None;
    }
    // The scope is the URL's: a list narrowed to one name by a field
    // selector is still a list.
    let names_object = if query.get("fieldSelector").is_some() {
        Attributes::from_request(method, path, false, None)
            .resource
            .is_some_and(|r| !r.name.is_empty())
    } else {
        !target.name.is_empty()
    };
    Some(Labels::for_resource(
        &RequestLine {
            method,
            version,
            watch: asked.verb == "watch",
            dry_run,
            content_type,
        },
        target,
        names_object,
    ))
}

async fn route(
    state: &ServerState,
    req: Request<Incoming>,
    path: &str,
    user: &User,
) -> Result<Response<Body>, ApiError> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let api = &state.api;
    let get_only = |req: &Request<Incoming>| {
        if req.method() == Method::GET {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource: {}",
                req.method()
            )))
        }
    };
    match segs.as_slice() {
        ["version"] => {
            get_only(&req)?;
            Ok(json_response(200, &discovery::version()))
        }
        ["api"] => {
            get_only(&req)?;
            Ok(json_response(
                200,
                &discovery::api_versions(&state.server_address),
            ))
        }
        ["apis"] => {
            get_only(&req)?;
            Ok(json_response(200, &discovery::group_list(&api.catalog())))
        }
        ["apis", group] => {
            get_only(&req)?;
            let doc =
                discovery::group(&api.catalog(), group).ok_or_else(ApiError::no_such_resource)?;
            Ok(json_response(200, &doc))
        }
        ["api", version] => {
            get_only(&req)?;
            let doc = discovery::resource_list(&api.catalog(), "", version)
                .ok_or_else(ApiError::no_such_resource)?;
            Ok(json_response(200, &doc))
        }
        ["apis", group, version] => {
            get_only(&req)?;
            let doc = discovery::resource_list(&api.catalog(), group, version)
                .ok_or_else(ApiError::no_such_resource)?;
            Ok(json_response(200, &doc))
        }
        ["metrics"] => {
            get_only(&req)?;
            Ok(Response::builder()
                .status(200)
                .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                .body(Full::new(Bytes::from(state.metrics.render())).boxed())
                .expect("static headers are valid"))
        }
        ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"] => {
            let body = post_body(req).await?;
            Ok(json_response(
                201,
                &crate::review::self_subject_review(user, body)?,
            ))
        }
        ["openapi", "v2"] => {
            get_only(&req)?;
            Ok(openapi_v2_empty(header(&req, "accept")))
        }
        ["openapi", "v3"] => {
            get_only(&req)?;
            Ok(json_response(
                200,
                &discovery::openapi_v3_root(&api.catalog()),
            ))
        }
        ["openapi", "v3", "api", version] => {
            get_only(&req)?;
            let doc = discovery::openapi_v3_group_version(&api.catalog(), "", version)
                .ok_or_else(ApiError::no_such_resource)?;
            Ok(json_response(200, &doc))
        }
        ["openapi", "v3", "apis", group, version] => {
            get_only(&req)?;
            let doc = discovery::openapi_v3_group_version(&api.catalog(), group, version)
                .ok_or_else(ApiError::no_such_resource)?;
            Ok(json_response(200, &doc))
        }
        [
            "apis",
            "authorization.k8s.io",
            "v1",
            review @ ("selfsubjectaccessreviews"
            | "selfsubjectrulesreviews"
            | "subjectaccessreviews"),
        ]
        | [
            "apis",
            "authorization.k8s.io",
            "v1",
            "namespaces",
            _,
            review @ "localsubjectaccessreviews",
        ] => {
            let body = post_body(req).await?;
            let auth = &state.auth;
            let answer = match *review {
                "selfsubjectaccessreviews" => {
                    crate::review::self_subject_access_review(auth, api, user, body)?
                }
                "selfsubjectrulesreviews" => {
                    crate::review::self_subject_rules_review(auth, api, user, body)?
                }
                "subjectaccessreviews" => {
                    crate::review::subject_access_review(auth, api, body, None)?
                }
                _ => crate::review::subject_access_review(auth, api, body, segs.get(4).copied())?,
            };
            Ok(json_response(201, &answer))
        }
        [
            "api",
            "v1",
            "namespaces",
            namespace,
            "serviceaccounts",
            name,
            "token",
        ] => {
            let body = post_body(req).await?;
            let answer = state.auth.tokens.request(api, namespace, name, body)?;
            Ok(json_response(201, &answer))
        }
        ["api", version, rest @ ..] => resource(state, req, user, "", version, rest).await,
        ["apis", group, version, rest @ ..] => {
            resource(state, req, user, group, version, rest).await
        }
        _ => Err(ApiError::no_such_resource()),
    }
}

/// The parts of a resource URL after `/api/v1` or `/apis/{group}/{version}`.
struct ResourcePath<'a> {
    namespace: Option<&'a str>,
    resource: &'a str,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
    watch: bool,
}

fn parse_resource_path<'a>(
    api: &Api,
    group: &str,
    version: &str,
    rest: &[&'a str],
) -> Option<ResourcePath<'a>> {
    let (watch, rest) = match rest {
        ["watch", tail @ ..] => (true, tail),
        _ => (false, rest),
    };
    let namespaced_resource = |r: &str| {
        api.catalog()
            .lookup(group, version, r)
            .is_some_and(|rt| rt.namespaced)
    };
    let (namespace, tail) = match rest {
        ["namespaces", ns, resource, tail @ ..] if namespaced_resource(resource) => (Some(*ns), {
            let mut t = vec![*resource];
            t.extend_from_slice(tail);
            t
        }),
        _ => (None, rest.to_vec()),
    };
    match tail.as_slice() {
        [resource] => Some(ResourcePath {
            namespace,
            resource,
            name: None,
            subresource: None,
            watch,
        }),
        [resource, name] => Some(ResourcePath {
            namespace,
            resource,
            name: Some(name),
            subresource: None,
            watch,
        }),
        [resource, name, sub] => Some(ResourcePath {
            namespace,
            resource,
            name: Some(name),
            subresource: Some(sub),
            watch,
        }),
        _ => None,
    }
}

fn list_options(query: &Query, kind: &str) -> Result<ListOptions, ApiError> {
    let limit = match query.get("limit") {
        None | Some("") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("limit: Invalid value: \"{l}\"")))?,
        ),
    };
    Ok(ListOptions {
        labels: LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), kind)
            .map_err(ApiError::bad_request)?,
        limit,
        continue_token: query
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        resource_version: query.get("resourceVersion").map(str::to_string),
        send_initial_events: query.get("sendInitialEvents").map(|v| v == "true"),
    })
}

/// The body of a create-only resource (reviews, token requests).
async fn post_body(req: Request<Incoming>) -> Result<Value, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {}",
            req.method()
        )));
    }
    let content_type = header(&req, "content-type").to_string();
    parse_write_body(&content_type, &read_body(req).await?)
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    req.into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))
}

async fn resource(
    state: &ServerState,
    req: Request<Incoming>,
    user: &User,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let api = &state.api;
    let path =
        parse_resource_path(api, group, version, rest).ok_or_else(ApiError::no_such_resource)?;
    let rt = api
        .catalog()
        .lookup(group, version, path.resource)
        .ok_or_else(ApiError::no_such_resource)?;
    if !rt.namespaced && path.namespace.is_some() {
        return Err(ApiError::no_such_resource());
    }
    match path.subresource {
        None => {}
        Some("status") if rt.status_subresource => {}
        Some("finalize") if rt.group.is_empty() && rt.plural == "namespaces" => {}
        Some("scale") if rt.has_scale() => {}
        Some(_) => return Err(ApiError::no_such_resource()),
    }
    if rt.namespaced && path.namespace.is_none() && path.name.is_some() {
        return Err(ApiError::no_such_resource());
    }
    let scope = Scope {
        rt: rt.clone(),
        version: version.to_string(),
        namespace: path.namespace.map(str::to_string),
    };
    let query = Query::parse(req.uri().query());
    let accept = header(&req, "accept").to_string();
    let content_type = header(&req, "content-type").to_string();
    let table =
        table::wants_table(&accept).then(|| IncludeObject::parse(query.get("includeObject")));
    let metadata_only = table.is_none() && table::wants_partial_metadata(&accept);
    let warnings = Warnings::default();
    let write = WriteOptions {
        dry_run: query.dry_run()?,
        field_manager: query
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        user_agent: header(&req, "user-agent").to_string(),
        subresource: path.subresource.map(str::to_string),
        strict_fields: query.get("fieldValidation") == Some("Strict"),
        // Warn is the default when a client names no directive.
        warnings: (!matches!(query.get("fieldValidation"), Some("Ignore" | "Strict")))
            .then(|| warnings.clone()),
        admission: state.auth.escalation_check(api, user, group),
    };
    let method = req.method().clone();
    if path.subresource == Some("scale") {
        let name = path.name.ok_or_else(ApiError::no_such_resource)?;
        return scale(api, &scope, name, req, &content_type, &write).await;
    }
    let present = |object: &Value| -> Value {
        match table {
            Some(include) => table::table(&rt, &[object], include, true, json!({})),
            None if metadata_only => table::partial_metadata(object),
            None => object.clone(),
        }
    };
    let response = match (method, path.name) {
        (Method::GET, Some(name)) if !path.watch => {
            Ok(json_response(200, &present(&api.get(&scope, name)?)))
        }
        (Method::GET, name) => {
            let mut opts = list_options(&query, &rt.kind)?;
            if let Some(name) = name {
                opts.fields = FieldSelector::parse(&format!("metadata.name={name}"), &rt.kind)
                    .map_err(ApiError::bad_request)?;
            }
            if path.watch || query.flag("watch") {
                let timeout = query
                    .get("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
                let start = api.watch(&scope, &opts)?;
                return Ok(watch_response(
                    scope,
                    opts,
                    start,
                    table,
                    metadata_only,
                    query.flag("allowWatchBookmarks"),
                    WatchEnd {
                        timeout,
                        cuts: state.faults.cuts(),
                    },
                ));
            }
            let result = api.list(&scope, &opts)?;
            let mut meta = json!({"resourceVersion": result.resource_version.to_string()});
            if let Some(token) = &result.continue_token {
                meta["continue"] = json!(token);
            }
            if let Some(remaining) = result.remaining {
                meta["remainingItemCount"] = json!(remaining);
            }
            match table {
                Some(include) => {
                    let objects: Vec<&Value> = result
                        .items
                        .iter()
                        .map(std::convert::AsRef::as_ref)
                        .collect();
                    Ok(json_response(
                        200,
                        &table::table(&rt, &objects, include, true, meta),
                    ))
                }
                None if metadata_only => Ok(json_response(
                    200,
                    &ListBody {
                        kind: "PartialObjectMetadataList".into(),
                        api_version: "meta.k8s.io/v1".into(),
                        metadata: meta,
                        items: result
                            .items
                            .iter()
                            .map(|o| std::borrow::Cow::Owned(table::partial_metadata(o)))
                            .collect(),
                    },
                )),
                None => Ok(json_response(
                    200,
                    &ListBody {
                        kind: format!("{}List", rt.kind),
                        api_version: rt.api_version(version),
                        metadata: meta,
                        items: result
                            .items
                            .iter()
                            .map(|o| scope.present_borrowed(o))
                            .collect(),
                    },
                )),
            }
        }
        (Method::POST, None) => {
            let body = read_body(req).await?;
            let object = parse_write_body(&content_type, &body)?;
            let created = api.create(&scope, object, &write)?;
            Ok(json_response(201, &present(&created)))
        }
        (Method::PUT, Some(name)) => {
            let body = read_body(req).await?;
            let object = parse_write_body(&content_type, &body)?;
            let updated = api.update(&scope, name, object, &write)?;
            Ok(json_response(200, &present(&updated)))
        }
        (Method::PATCH, Some(name)) => {
            let patch_type = PatchType::from_content_type(&content_type).ok_or_else(|| {
                ApiError::unsupported_media_type(
                    &content_type,
                    &[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/apply-patch+yaml",
                        "application/strategic-merge-patch+json",
                    ],
                )
            })?;
            let force = query.flag("force");
            if force && patch_type != PatchType::Apply {
                return Err(ApiError::bad_request(
                    "force: Forbidden: may not be specified for non-apply patch",
                ));
            }
            let body = read_body(req).await?;
            let (patched, created) = api.patch(&scope, name, patch_type, &body, force, &write)?;
            Ok(json_response(
                if created { 201 } else { 200 },
                &present(&patched),
            ))
        }
        (Method::DELETE, name) => {
            let mut opts = DeleteOptions::from_query(
                write.dry_run,
                query.get("propagationPolicy"),
                query.get("orphanDependents"),
            )?;
            let body = read_body(req).await?;
            if !body.is_empty() {
                opts.merge_body(&parse_delete_options(&content_type, &body)?)?;
            }
            match name {
                Some(name) => Ok(json_response(200, &api.delete(&scope, name, &opts)?)),
                None => {
                    let list = list_options(&query, &rt.kind)?;
                    Ok(json_response(
                        200,
                        &api.delete_collection(&scope, &list, &opts)?,
                    ))
                }
            }
        }
        (method, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        ))),
    };
    response.map(|response| with_warnings(response, &warnings))
}

/// Adds a `Warning: 299 - "…"` header per warning, once each, as
/// kube-apiserver reports the unknown fields it dropped under
/// `fieldValidation=Warn`; kubectl prints each as `Warning: …`.
fn with_warnings(mut response: Response<Body>, warnings: &Warnings) -> Response<Body> {
    let warnings = warnings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut seen = std::collections::HashSet::new();
    for text in warnings.iter().filter(|w| seen.insert(*w)) {
        let quoted = serde_json::to_string(text).unwrap_or_default();
        if let Ok(value) = hyper::header::HeaderValue::from_str(&format!("299 - {quoted}")) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

/// The `scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.
async fn scale(
    api: &Api,
    scope: &Scope,
    name: &str,
    req: Request<Incoming>,
    content_type: &str,
    write: &WriteOptions,
) -> Result<Response<Body>, ApiError> {
    let method = req.method().clone();
    let current = api.scale(scope, name)?;
    let requested = match method {
        Method::GET => return Ok(json_response(200, &current)),
        Method::PUT => parse_write_body(content_type, &read_body(req).await?)?,
        Method::PATCH => {
            let body = read_body(req).await?;
            let patch: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            match PatchType::from_content_type(content_type) {
                Some(PatchType::Json) => driftless_merge::json_patch(&current, &patch),
                Some(PatchType::Merge | PatchType::StrategicMerge) => {
                    driftless_merge::merge_patch(&current, &patch)
                }
                _ => {
                    return Err(ApiError::unsupported_media_type(
                        content_type,
                        &[
                            "application/json-patch+json",
                            "application/merge-patch+json",
                        ],
                    ));
                }
            }
            .map_err(|e| ApiError::new(422, "Invalid", e.to_string()))?
        }
        other => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource: {other}"
            )));
        }
    };
    let replicas = requested
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad_request("spec.replicas: Required value"))?;
    Ok(json_response(
        200,
        &api.set_replicas(scope, name, replicas, write)?,
    ))
}

fn parse_write_body(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media == "application/vnd.kubernetes.protobuf" {
        return crate::protobuf::decode(body).map_err(|why| {
            ApiError::unsupported_media_type(
                content_type,
                &["application/json", "application/yaml"],
            )
            .with_message(why)
        });
    }
    if media.contains("protobuf") || media.contains("cbor") {
        return Err(ApiError::unsupported_media_type(
            content_type,
            &["application/json", "application/yaml"],
        ));
    }
    codec::parse_body(content_type, body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded as an object: {e}"
        ))
    })
}

/// A DELETE body: DeleteOptions as JSON, YAML or (as client-go's typed
/// clients send it) protobuf.
fn parse_delete_options(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media == "application/vnd.kubernetes.protobuf" {
        let options = parse_write_body(content_type, body)?;
        if options.get("kind").and_then(Value::as_str) != Some("DeleteOptions") {
            return Err(ApiError::bad_request(format!(
                "invalid DeleteOptions: the protobuf body holds a {}, not DeleteOptions",
                options["kind"].as_str().unwrap_or("object of no kind")
            )));
        }
        return Ok(options);
    }
    codec::parse_body(content_type, body)
        .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))
}

/// Decides what a watcher with these options sees of one store event:
/// objects entering or leaving its selection appear as added or deleted.
fn watch_view(scope: &Scope, opts: &ListOptions, event: &WatchEvent) -> Option<EventType> {
    if event.group_resource != scope.rt.storage_resource() {
        return None;
    }
    if let Some(ns) = &scope.namespace
        && *ns != event.namespace
    {
        return None;
    }
    let now = opts.matches(&event.object);
    let before = event.previous.as_deref().is_some_and(|p| opts.matches(p));
    match (event.event_type, before, now) {
        (EventType::Added, _, true) => Some(EventType::Added),
        (EventType::Modified, true, true) => Some(EventType::Modified),
        (EventType::Modified, false, true) => Some(EventType::Added),
        (EventType::Modified, true, false) => Some(EventType::Deleted),
        (EventType::Deleted, true, _) => Some(EventType::Deleted),
        _ => None,
    }
}

struct WatchEncoder {
    scope: Scope,
    table: Option<IncludeObject>,
    metadata_only: bool,
    headers_sent: bool,
}

impl WatchEncoder {
    fn encode(&mut self, event_type: &str, object: &Value) -> Bytes {
        let object = match self.table {
            Some(include) => {
                let rv = object
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let t = table::table(
                    &self.scope.rt,
                    &[object],
                    include,
                    !self.headers_sent,
                    json!({"resourceVersion": rv}),
                );
                self.headers_sent = true;
                t
            }
            None if self.metadata_only => table::partial_metadata(object),
            None => self.scope.present(object),
        };
        let mut line =
            serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&self, resource_version: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": resource_version.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "kind": self.scope.rt.kind,
            "apiVersion": self.scope.rt.api_version(&self.scope.version),
            "metadata": metadata,
        });
        let mut line =
            serde_json::to_vec(&json!({"type": "BOOKMARK", "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn expired(message: &str) -> Bytes {
    let status = ApiError::gone(message).to_status();
    let mut line =
        serde_json::to_vec(&json!({"type": "ERROR", "object": status})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// What ends a watch besides its client: its timeout, or a cut the
/// chaos switch asks for.
struct WatchEnd {
    timeout: Duration,
    cuts: tokio::sync::watch::Receiver<u64>,
}

fn watch_response(
    scope: Scope,
    opts: ListOptions,
    start: WatchStart,
    table: Option<IncludeObject>,
    metadata_only: bool,
    bookmarks: bool,
    end: WatchEnd,
) -> Response<Body> {
    let WatchEnd { timeout, mut cuts } = end;
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let explicit_initial_events = opts.send_initial_events == Some(true);
    tokio::spawn(async move {
        let mut encoder = WatchEncoder {
            scope: scope.clone(),
            table,
            metadata_only,
            headers_sent: false,
        };
        let mut last_rv = start.resource_version;
        for object in &start.initial {
            if tx.send(encoder.encode("ADDED", object)).await.is_err() {
                return;
            }
        }
        if explicit_initial_events && tx.send(encoder.bookmark(last_rv, true)).await.is_err() {
            return;
        }
        let Some(subscription) = start.subscription else {
            let _ = tx
                .send(expired("too old resource version: the requested version is no longer in the event history"))
                .await;
            return;
        };
        let mut receiver = subscription.receiver;
        for event in subscription.backlog {
            last_rv = event.resource_version;
            if let Some(kind) = watch_view(&scope, &opts, &event)
                && tx
                    .send(encoder.encode(kind.as_str(), &event.object))
                    .await
                    .is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            let line = tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                // A cut ends the stream as a dropped connection would: no ERROR line.
                _ = cuts.changed() => return,
                _ = ticker.tick(), if bookmarks => encoder.bookmark(last_rv, false),
                received = receiver.recv() => match received {
                    Ok(event) => {
                        last_rv = event.resource_version;
                        match watch_view(&scope, &opts, &event) {
                            Some(kind) => encoder.encode(kind.as_str(), &event.object),
                            None => continue,
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(expired("the watcher fell too far behind; restart the watch")).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if tx.send(line).await.is_err() {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), rx))
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(StreamBody::new(stream).boxed())
        .expect("static headers are valid")
}
