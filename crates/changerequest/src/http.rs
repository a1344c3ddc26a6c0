//! Sending one API call with reqwest over rustls (`ring` provider): auth
//! and provider headers on every request, answers read up to a bound,
//! rate-limited answers retried within the [`RetryPolicy`]. reqwest's own
//! errors are never kept: their text includes the URL.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Url};
use serde::de::DeserializeOwned;

use crate::error::{Error, TransportKind};
use crate::ratelimit::{Pause, RetryPolicy, rate_limit_wait, wait_for};
use crate::token::Token;

/// The largest answer body read; listings are paginated well below it.
const MAX_BODY: usize = 8 << 20;

/// Host-facing text kept in errors is cut to this many characters.
const MAX_MESSAGE: usize = 300;

/// How the token is presented.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: token <token>` (Gitea/Forgejo).
    TokenScheme,
}

/// Tuning shared by every host.
#[derive(Clone)]
pub struct HostOptions {
    /// Rate-limit retry bounds.
    pub retry: RetryPolicy,
    /// Where waits and "now" come from.
    pub pause: Arc<dyn Pause>,
    /// Timeout of each request.
    pub timeout: Duration,
}

impl Default for HostOptions {
    /// The default retry policy, real time, 30 s per request.
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            pause: Arc::new(crate::ratelimit::RealPause),
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for HostOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostOptions")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A host's answer.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The client, the headers every call carries, and the retry budget.
pub(crate) struct Transport {
    client: Client,
    headers: HeaderMap,
    token: Token,
    options: HostOptions,
}

impl Transport {
    pub(crate) fn new(
        token: Token,
        auth: Auth,
        extra: &[(&'static str, &'static str)],
        options: HostOptions,
    ) -> Result<Self, Error> {
        // Our ring provider as the process default, unless one is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(options.timeout)
            .no_proxy()
            .build()
            .map_err(|_| Error::Client)?;
        let mut headers = HeaderMap::new();
        let scheme = match auth {
            Auth::Bearer => "Bearer",
            Auth::TokenScheme => "token",
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {}", token.expose()))
            .map_err(|_| Error::InvalidToken("the token cannot be sent in a header"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(concat!(
                "driftless-changerequest/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        for (name, value) in extra {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        Ok(Self {
            client,
            headers,
            token,
            options,
        })
    }

    /// Sends the call, retrying rate-limited answers; any other answer
    /// (success or not) is returned for the caller to judge.
    pub(crate) async fn call(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, Error> {
        let policy = &self.options.retry;
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .headers(self.headers.clone());
            if let Some(body) = body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
            }
            let response = request.send().await.map_err(|err| Error::Transport {
                operation: operation.to_owned(),
                kind: classify(&err),
            })?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = read_bounded(response)
                .await
                .map_err(|kind| Error::Transport {
                    operation: operation.to_owned(),
                    kind,
                })?;
            let Some(wait) = rate_limit_wait(status, &headers, &body, self.options.pause.now())
            else {
                return Ok(Reply { status, body });
            };
            let wait = wait_for(wait, attempt, policy);
            if attempt >= policy.max_attempts || waited + wait > policy.max_total_wait {
                return Err(Error::RateLimited {
                    operation: operation.to_owned(),
                    attempts: attempt,
                    retry_after: Some(wait),
                });
            }
            tracing::warn!(
                operation,
                status,
                attempt,
                wait_secs = wait.as_secs(),
                "rate limited by the git host; waiting"
            );
            self.options.pause.sleep(wait).await;
            waited += wait;
        }
    }

    /// [`Self::call`], then a 2xx answer's JSON body as `T`.
    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        operation: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let reply = self.call(operation, method, url, body).await?;
        self.check(operation, &reply)?;
        serde_json::from_slice(&reply.body).map_err(|err| Error::UnexpectedAnswer {
            operation: operation.to_owned(),
            reason: self.clean(&err.to_string()),
        })
    }

    /// `Ok` for 2xx; otherwise the status error with the host's message.
    pub(crate) fn check(&self, operation: &str, reply: &Reply) -> Result<(), Error> {
        if (200..300).contains(&reply.status) {
            return Ok(());
        }
        Err(Error::Status {
            operation: operation.to_owned(),
            status: reply.status,
            message: self.clean(&host_message(&reply.body)),
        })
    }

    /// Host text made safe to keep: token masked, controls dropped, cut short.
    fn clean(&self, text: &str) -> String {
        let masked = self.token.mask(text);
        let mut clean: String = masked
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_MESSAGE)
            .collect();
        if masked.chars().count() > MAX_MESSAGE {
            clean.push('…');
        }
        clean
    }
}

/// The message in a host's error body: `message` (a string, or GitLab's
/// list/object of messages), GitHub's `errors[].message`, or `error`.
fn host_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let mut parts = Vec::new();
    match json.get("message") {
        Some(serde_json::Value::String(text)) => parts.push(text.clone()),
        Some(other) if !other.is_null() => parts.push(other.to_string()),
        _ => {}
    }
    if let Some(errors) = json.get("errors").and_then(|e| e.as_array()) {
        parts.extend(
            errors
                .iter()
                .filter_map(|e| e.get("message").and_then(|m| m.as_str()).map(str::to_owned)),
        );
    }
    if parts.is_empty()
        && let Some(error) = json.get("error").and_then(|e| e.as_str())
    {
        parts.push(error.to_owned());
    }
    parts.join("; ")
}

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, TransportKind> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| TransportKind::Body)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(TransportKind::Body);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn classify(err: &reqwest::Error) -> TransportKind {
    if err.is_timeout() {
        TransportKind::Timeout
    } else if err.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    }
}

/// `base` with `segments` appended, each percent-encoded as one segment
/// (so a `/` inside one becomes `%2F`).
pub(crate) fn endpoint<'a>(base: &Url, segments: impl IntoIterator<Item = &'a str>) -> Url {
    let mut url = base.clone();
    url.path_segments_mut()
        .expect("API bases are http(s) URLs: checked when parsed")
        .pop_if_empty()
        .extend(segments);
    url
}

/// `url` with the query pairs appended.
pub(crate) fn with_query(mut url: Url, pairs: &[(&str, &str)]) -> Url {
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

/// Reads pages `1..` of a listing until one is shorter than `per_page`,
/// failing past `MAX_PAGES`.
pub(crate) async fn paged<T: DeserializeOwned>(
    transport: &Transport,
    operation: &str,
    per_page: usize,
    page_url: impl Fn(&str) -> Url,
) -> Result<Vec<T>, Error> {
    const MAX_PAGES: u32 = 20;
    let mut all = Vec::new();
    for page in 1..=MAX_PAGES {
        let items: Vec<T> = transport
            .call_json(operation, Method::GET, page_url(&page.to_string()), None)
            .await?;
        let last = items.len() < per_page;
        all.extend(items);
        if last {
            return Ok(all);
        }
    }
    Err(Error::TooManyPages {
        operation: operation.to_owned(),
        pages: MAX_PAGES,
    })
}
