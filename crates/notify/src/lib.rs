//! # driftless-notify: Flux notification semantics, as a library
//!
//! **Owns:** events in → HTTP requests out, and webhook requests in →
//! accept or reject, with the semantics of Flux's notification-controller:
//!
//! - [`Event`]: Flux's event JSON (`event.toolkit.fluxcd.io/v1beta1`), and
//!   [`ingest_event`] for the body controllers `POST /` (400/413/202/429
//!   semantics documented there).
//! - [`DuplicateEventLimiter`]: Flux's duplicate-event rate limiting.
//! - [`AlertFilter`]: does an Alert take an event, and the event as sent
//!   (metadata merged like Flux's `combineEventMetadata`).
//! - [`ProviderConfig`] / [`build_requests`] / [`Notifier`]: the exact
//!   request each provider type sends, and sending it (reqwest, rustls on `ring`).
//! - [`Dispatcher`]: bounded queue, worker tasks, retries with backoff,
//!   counters per provider type.
//! - [`receiver::verify`] and [`receiver::webhook_path`]: Receiver webhooks.
//!
//! **Must not touch:** Kubernetes (no client: the controller reads Alerts,
//! Providers, Receivers and Secrets and passes plain values in), rendering
//! or applying, and HTTP serving (the controller routes requests here).
//! **Never logs or returns secrets:** errors name the provider type and
//! step, never a token, password, header value or address URL (webhook URLs
//! embed credentials); config types redact them in `Debug`.
//!
//! ```no_run
//! use driftless_notify::{AlertFilter, AlertSpec, Dispatcher, DispatcherConfig, EventSource,
//!     Notifier, ProviderConfig, ProviderGate, ProviderType, ingest_event, provider_gate};
//! # async fn run(body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let dispatcher = Dispatcher::start(DispatcherConfig::default());
//! let event = ingest_event(body)?; // 400/413 on Err
//! let alert = AlertFilter::new(AlertSpec {
//!     namespace: "flux-system".into(),
//!     event_sources: vec![EventSource { kind: "Kustomization".into(), name: "*".into(), ..Default::default() }],
//!     ..Default::default()
//! });
//! let mut slack = ProviderConfig::new(ProviderType::Slack, "https://hooks.example.com/services/T/B/X");
//! slack.channel = "#deploys".into();
//! let notifier = Notifier::new(slack)?;
//! if alert.matches(&event, None) && provider_gate(notifier.provider_type(), &event) == ProviderGate::Send {
//!     dispatcher.try_send(&notifier, &alert.notification(&event).event)?;
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alert;
mod dispatch;
mod error;
mod event;
mod provider;
mod ratelimit;
pub mod receiver;

pub use alert::{AlertFilter, AlertSpec, EventSource, MetadataConflict, Notification};
pub use dispatch::{
    DispatchError, DispatchMetrics, Dispatcher, DispatcherConfig, ProviderCounters, Queued, backoff,
};
pub use error::{NotifyError, TransportKind};
pub use event::{
    EVENT_GROUP, Event, IngestError, InvolvedObject, META_CHECKSUM, META_COMMIT,
    META_COMMIT_STATUS, META_COMMIT_STATUS_UPDATE, META_DIGEST, META_ORIGIN_REVISION,
    META_REVISION, META_SUMMARY, META_TOKEN, REASON_PROGRESSING, Severity, clean_metadata,
    exclude_internal_metadata, format_timestamp, ingest_event, max_body_bytes,
};
pub use provider::{
    DEFAULT_TIMEOUT, HttpMethod, Notifier, OutgoingRequest, ProviderConfig, ProviderGate,
    ProviderType, TlsOptions, UnsupportedProvider, build_requests, commit_status_id, provider_gate,
};
pub use ratelimit::{
    Admission, Clock, DEFAULT_RATE_LIMIT_INTERVAL, DuplicateEventLimiter, SystemClock,
    rate_limit_key,
};
