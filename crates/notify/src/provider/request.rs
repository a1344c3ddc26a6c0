//! A built, not yet sent, HTTP request. Its `Debug` hides the URL and
//! credential headers.

use std::fmt;

use serde::Serialize;

/// The HTTP methods providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// POST.
    Post,
    /// PUT (Matrix).
    Put,
}

/// How a 2xx response is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseCheck {
    /// Any 2xx is success.
    Status,
    /// 2xx and a JSON body with `"ok": true` (Slack Web API).
    SlackOk,
}

/// One HTTP request a provider sends.
#[derive(Clone)]
pub struct OutgoingRequest {
    /// What this request does, for errors and logs (e.g. `post message`).
    pub step: &'static str,
    /// Method.
    pub method: HttpMethod,
    /// Full URL. Secret: may embed webhook credentials or a bot token.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes (JSON).
    pub body: Vec<u8>,
    pub(crate) check: ResponseCheck,
}

impl OutgoingRequest {
    /// A JSON POST of `payload` to `url`.
    pub(crate) fn post_json(
        step: &'static str,
        url: impl Into<String>,
        payload: &impl Serialize,
    ) -> Self {
        Self {
            step,
            method: HttpMethod::Post,
            url: url.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            // Payloads are maps, strings and numbers; serializing cannot fail.
            body: serde_json::to_vec(payload).unwrap_or_default(),
            check: ResponseCheck::Status,
        }
    }

    /// Sets a header, replacing any earlier one of the same name.
    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The value of a header, by case-insensitive name.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, for inspection.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OutgoingRequest")
            .field("step", &self.step)
            .field("method", &self.method)
            .field("url", &"<redacted>")
            .field("header_names", &header_names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `Basic base64(user:password)`.
pub(crate) fn basic_auth(username: &str, password: &str) -> String {
    use base64::Engine;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    format!("Basic {encoded}")
}
