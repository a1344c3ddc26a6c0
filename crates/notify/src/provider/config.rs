//! Provider configuration: the plain values the controller reads from the
//! `Provider` spec and its Secrets. `Debug` is written by hand and redacts
//! every secret (address, token, password, header values, proxy, key).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::Url;

use super::ProviderType;
use crate::error::NotifyError;

/// Flux's default provider timeout (`spec.timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// TLS material from `spec.certSecretRef` (`ca.crt`, `tls.crt`, `tls.key`).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// PEM CA bundle added to the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain (mutual TLS); needs `client_key_pem`.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM client private key (mutual TLS).
    pub client_key_pem: Option<Vec<u8>>,
    /// Skip server certificate verification (only where Flux allows it).
    pub insecure: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field(
                "ca_pem",
                &self.ca_pem.as_ref().map(|c| format!("<{} bytes>", c.len())),
            )
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(|_| "<set>"),
            )
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Everything needed to send to one provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// `spec.type`.
    pub provider_type: ProviderType,
    /// `spec.address` or the secret's `address`: the webhook or API URL, or
    /// for git providers the repository URL. Treated as a secret.
    pub address: String,
    /// `spec.channel` (Slack channel, Telegram chat id[:thread], Matrix room,
    /// PagerDuty routing key).
    pub channel: String,
    /// `spec.username` (Slack/Discord display name) or basic-auth user.
    pub username: String,
    /// The secret's `token`.
    pub token: Option<String>,
    /// The secret's `password` (basic auth; git providers use it as token
    /// when no token is given, as Flux does).
    pub password: Option<String>,
    /// The secret's `headers` (generic providers).
    pub headers: BTreeMap<String, String>,
    /// HTTP(S) proxy URL (`spec.proxySecretRef` `address`).
    pub proxy: Option<String>,
    /// Per-request timeout (`spec.timeout`, default 15s).
    pub timeout: Duration,
    /// TLS material.
    pub tls: TlsOptions,
    /// Commit status context/name for git providers: Flux's
    /// [`super::commit_status_id`] (or a `commitStatusExpr` result).
    pub commit_status: String,
    /// Base URL replacing a service's fixed API host (Telegram
    /// `https://api.telegram.org`, Bitbucket Cloud `https://api.bitbucket.org/2.0`):
    /// for API-compatible gateways and loopback tests.
    pub api_base_url: Option<String>,
}

impl ProviderConfig {
    /// A config with defaults: no credentials, 15s timeout.
    pub fn new(provider_type: ProviderType, address: impl Into<String>) -> Self {
        Self {
            provider_type,
            address: address.into(),
            channel: String::new(),
            username: String::new(),
            token: None,
            password: None,
            headers: BTreeMap::new(),
            proxy: None,
            timeout: DEFAULT_TIMEOUT,
            tls: TlsOptions::default(),
            commit_status: String::new(),
            api_base_url: None,
        }
    }

    /// The token, if set and not blank (Flux trims it).
    pub(crate) fn token(&self) -> Option<&str> {
        self.token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Token, falling back to the password (Flux's git providers).
    pub(crate) fn token_or_password(&self) -> Option<&str> {
        self.token()
            .or_else(|| self.password.as_deref().filter(|p| !p.is_empty()))
    }

    /// The address parsed as an absolute URL.
    pub(crate) fn address_url(&self) -> Result<Url, NotifyError> {
        Url::parse(self.address.trim())
            .map_err(|_| self.config_error("address is not a valid absolute URL"))
    }

    pub(crate) fn config_error(&self, reason: &'static str) -> NotifyError {
        NotifyError::Config {
            provider: self.provider_type,
            reason,
        }
    }

    pub(crate) fn event_error(&self, reason: &'static str) -> NotifyError {
        NotifyError::Event {
            provider: self.provider_type,
            reason,
        }
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<unset>" };
        let header_names: Vec<&str> = self.headers.keys().map(String::as_str).collect();
        f.debug_struct("ProviderConfig")
            .field("provider_type", &self.provider_type)
            .field("address", &redacted(!self.address.is_empty()))
            .field("channel", &self.channel)
            .field("username", &self.username)
            .field("token", &redacted(self.token.is_some()))
            .field("password", &redacted(self.password.is_some()))
            .field("header_names", &header_names)
            .field("proxy", &redacted(self.proxy.is_some()))
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("commit_status", &self.commit_status)
            .field("api_base_url", &redacted(self.api_base_url.is_some()))
            .finish()
    }
}
