//! Sending built requests with reqwest over rustls (`ring` provider). One
//! attempt per call: retrying belongs to [`crate::Dispatcher`]. Errors are
//! mapped to [`NotifyError`] without the reqwest error itself, whose text
//! includes the URL.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Certificate, Client, Identity, Method, Proxy, Response};

use super::request::{OutgoingRequest, ResponseCheck};
use super::{HttpMethod, ProviderConfig, ProviderType, build_requests};
use crate::error::{NotifyError, TransportKind};
use crate::event::Event;

/// A provider ready to send: its config and an HTTP client built from it
/// (timeout, proxy, CA, client certificate). Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    config: Arc<ProviderConfig>,
    client: Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("config", &self.config)
            .finish()
    }
}

impl Notifier {
    /// Builds the HTTP client for `config`. Installs rustls' `ring` provider
    /// as the process default if none is installed.
    pub fn new(config: ProviderConfig) -> Result<Self, NotifyError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let setup = |reason| NotifyError::Config {
            provider: config.provider_type,
            reason,
        };
        let mut builder = Client::builder().timeout(config.timeout).no_proxy();
        if let Some(proxy) = config.proxy.as_deref().filter(|p| !p.trim().is_empty()) {
            let proxy = Proxy::all(proxy.trim()).map_err(|_| setup("proxy is not a valid URL"))?;
            builder = builder.proxy(proxy);
        }
        if let Some(ca) = &config.tls.ca_pem {
            let certs = Certificate::from_pem_bundle(ca)
                .map_err(|_| setup("ca.crt is not a valid PEM bundle"))?;
            if certs.is_empty() {
                return Err(setup("ca.crt holds no certificate"));
            }
            builder = builder.tls_certs_merge(certs);
        }
        match (&config.tls.client_cert_pem, &config.tls.client_key_pem) {
            (Some(cert), Some(key)) => {
                // rustls reads the key and the chain from one PEM buffer.
                let identity =
                    Identity::from_pem(&[key.as_slice(), b"\n", cert.as_slice()].concat())
                        .map_err(|_| {
                            setup("tls.crt/tls.key are not a valid PEM certificate and key")
                        })?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err(setup("tls.crt and tls.key must be given together")),
        }
        if config.tls.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|_| setup("HTTP client could not be built"))?;
        Ok(Self {
            config: Arc::new(config),
            client,
        })
    }

    /// The provider type.
    pub fn provider_type(&self) -> ProviderType {
        self.config.provider_type
    }

    /// The configuration.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The requests this provider sends for `event` (see [`build_requests`]).
    pub fn build(&self, event: &Event) -> Result<Vec<OutgoingRequest>, NotifyError> {
        build_requests(&self.config, event)
    }

    /// Builds and sends every request for `event`, one attempt each, in order.
    pub async fn send(&self, event: &Event) -> Result<(), NotifyError> {
        for request in self.build(event)? {
            self.send_request(&request).await?;
        }
        Ok(())
    }

    /// Sends one request once and judges the response.
    pub async fn send_request(&self, request: &OutgoingRequest) -> Result<(), NotifyError> {
        let provider = self.config.provider_type;
        let transport = |kind| NotifyError::Transport {
            provider,
            step: request.step,
            kind,
        };
        let method = match request.method {
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
        };
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(request.body.clone())
            .send()
            .await
            .map_err(|err| transport(classify(&err)))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(NotifyError::Status {
                provider,
                step: request.step,
                status,
                retry_after: retry_after(&response),
            });
        }
        match request.check {
            ResponseCheck::Status => Ok(()),
            ResponseCheck::SlackOk => check_slack_ok(provider, request.step, response).await,
        }
    }
}

fn classify(err: &reqwest::Error) -> TransportKind {
    if err.is_timeout() {
        TransportKind::Timeout
    } else if err.is_connect() {
        TransportKind::Connect
    } else if err.is_builder() {
        TransportKind::Setup
    } else {
        TransportKind::Other
    }
}

/// `Retry-After` in seconds (the HTTP-date form is ignored, as Flux's client does).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

async fn check_slack_ok(
    provider: ProviderType,
    step: &'static str,
    response: Response,
) -> Result<(), NotifyError> {
    #[derive(serde::Deserialize)]
    struct SlackAnswer {
        ok: bool,
        #[serde(default)]
        error: String,
    }
    let rejected = |code: String| NotifyError::Rejected {
        provider,
        step,
        code,
    };
    let bytes = response.bytes().await.map_err(|_| NotifyError::Transport {
        provider,
        step,
        kind: TransportKind::Other,
    })?;
    let answer: SlackAnswer =
        serde_json::from_slice(&bytes).map_err(|_| rejected("unreadable_response".into()))?;
    if answer.ok {
        return Ok(());
    }
    // Slack error codes are short snake_case words; anything else is cut so
    // no echoed input can reach logs.
    let code: String = answer
        .error
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .take(64)
        .collect();
    Err(rejected(if code.is_empty() {
        "unknown".into()
    } else {
        code
    }))
}
