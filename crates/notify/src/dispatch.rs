//! Delivery: a bounded queue drained by worker tasks that send each request
//! and retry failures with capped exponential backoff. The caller never
//! waits: [`Dispatcher::try_send`] drops (and counts) when the queue is full.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};

use crate::error::NotifyError;
use crate::event::Event;
use crate::provider::{Notifier, OutgoingRequest, ProviderType};

/// Tuning for a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Notifications waiting at most; more are dropped.
    pub queue_capacity: usize,
    /// Concurrent sends.
    pub workers: usize,
    /// Attempts per request, first included (Flux: 1 + 4 retries).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub initial_backoff: Duration,
    /// Upper bound of a delay, also of a `Retry-After`.
    pub max_backoff: Duration,
}

impl Default for DispatcherConfig {
    /// Flux's retry timing (2s doubling to 30s, 4 retries), 1,000 queued, 4 workers.
    fn default() -> Self {
        Self {
            queue_capacity: 1000,
            workers: 4,
            max_attempts: 5,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Counters of one provider type. Plain atomics for the controller to
/// export (e.g. `notifications_total{type, result}`).
#[derive(Debug, Default)]
pub struct ProviderCounters {
    /// Notifications whose every request succeeded.
    pub sent: AtomicU64,
    /// Notifications given up on (a permanent error or attempts exhausted).
    pub failed: AtomicU64,
    /// Notifications dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Retried attempts.
    pub retries: AtomicU64,
}

/// Counters per provider type.
#[derive(Debug)]
pub struct DispatchMetrics {
    by_type: Vec<ProviderCounters>,
}

impl DispatchMetrics {
    fn new() -> Self {
        Self {
            by_type: ProviderType::ALL
                .iter()
                .map(|_| ProviderCounters::default())
                .collect(),
        }
    }

    /// The counters of one provider type.
    pub fn counters(&self, provider: ProviderType) -> &ProviderCounters {
        &self.by_type[provider.index()]
    }

    /// `(type, sent, failed, dropped, retries)` for every type.
    pub fn snapshot(&self) -> Vec<(ProviderType, u64, u64, u64, u64)> {
        ProviderType::ALL
            .iter()
            .map(|t| {
                let c = self.counters(*t);
                let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
                (
                    *t,
                    load(&c.sent),
                    load(&c.failed),
                    load(&c.dropped),
                    load(&c.retries),
                )
            })
            .collect()
    }
}

/// Why [`Dispatcher::try_send`] did not queue a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The requests could not be built (configuration or event problem).
    #[error(transparent)]
    Build(#[from] NotifyError),
    /// The queue is full (or shut down); the notification was dropped.
    #[error("{0}: notification dropped, delivery queue full")]
    QueueFull(ProviderType),
}

/// What was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// Queued this many requests.
    Requests(usize),
    /// The provider sends nothing for this event; nothing queued.
    Nothing,
}

struct Job {
    notifier: Notifier,
    requests: Vec<OutgoingRequest>,
    object: String,
}

/// The delivery queue and its workers. Create inside a tokio runtime; the
/// workers stop when the dispatcher (every clone) is dropped and the queue
/// has drained.
#[derive(Clone)]
pub struct Dispatcher {
    queue: mpsc::Sender<Job>,
    metrics: Arc<DispatchMetrics>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("queue_free", &self.queue.capacity())
            .finish()
    }
}

impl Dispatcher {
    /// Starts `config.workers` worker tasks on the current tokio runtime.
    pub fn start(config: DispatcherConfig) -> Self {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        let metrics = Arc::new(DispatchMetrics::new());
        let config = Arc::new(config);
        for _ in 0..config.workers.max(1) {
            let receiver = Arc::clone(&receiver);
            let metrics = Arc::clone(&metrics);
            let config = Arc::clone(&config);
            tokio::spawn(async move {
                loop {
                    // Hold the lock only while waiting, not while sending.
                    let job = receiver.lock().await.recv().await;
                    let Some(job) = job else { break };
                    deliver(&config, &metrics, job).await;
                }
            });
        }
        Self { queue, metrics }
    }

    /// The counters.
    pub fn metrics(&self) -> Arc<DispatchMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Builds `notifier`'s requests for `event` and queues them without
    /// waiting. Errors when they cannot be built or the queue is full (the
    /// latter counted as dropped and logged).
    pub fn try_send(&self, notifier: &Notifier, event: &Event) -> Result<Queued, DispatchError> {
        let Some((job, count)) = Self::job(notifier, event)? else {
            return Ok(Queued::Nothing);
        };
        match self.queue.try_send(job) {
            Ok(()) => Ok(Queued::Requests(count)),
            Err(_) => Err(self.dropped(notifier, event)),
        }
    }

    /// Like [`Dispatcher::try_send`], but waits up to `patience` for room in
    /// the queue: for a caller that is itself a background queue (a burst
    /// of one event to many Alerts should be delivered, not dropped), while
    /// a reconcile keeps using `try_send` and never waits.
    pub async fn send(
        &self,
        notifier: &Notifier,
        event: &Event,
        patience: Duration,
    ) -> Result<Queued, DispatchError> {
        let Some((job, count)) = Self::job(notifier, event)? else {
            return Ok(Queued::Nothing);
        };
        match tokio::time::timeout(patience, self.queue.send(job)).await {
            Ok(Ok(())) => Ok(Queued::Requests(count)),
            _ => Err(self.dropped(notifier, event)),
        }
    }

    /// The requests for `event`, and how many; `None` when the provider
    /// deliberately sends nothing for it.
    fn job(notifier: &Notifier, event: &Event) -> Result<Option<(Job, usize)>, DispatchError> {
        let requests = notifier.build(event)?;
        if requests.is_empty() {
            return Ok(None);
        }
        let count = requests.len();
        let job = Job {
            notifier: notifier.clone(),
            requests,
            object: event.object_ref(),
        };
        Ok(Some((job, count)))
    }

    /// Counts and logs a notification the full queue had no room for.
    fn dropped(&self, notifier: &Notifier, event: &Event) -> DispatchError {
        let provider = notifier.provider_type();
        self.metrics
            .counters(provider)
            .dropped
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(provider = %provider, object = %event.object_ref(), "notification dropped: delivery queue full");
        DispatchError::QueueFull(provider)
    }
}

async fn deliver(config: &DispatcherConfig, metrics: &DispatchMetrics, job: Job) {
    let provider = job.notifier.provider_type();
    let counters = metrics.counters(provider);
    for request in &job.requests {
        if let Err(err) = send_with_retry(config, counters, &job.notifier, request).await {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            // NotifyError never holds secrets or the address.
            tracing::error!(provider = %provider, object = %job.object, error = %err, "notification failed");
            return;
        }
    }
    counters.sent.fetch_add(1, Ordering::Relaxed);
}

async fn send_with_retry(
    config: &DispatcherConfig,
    counters: &ProviderCounters,
    notifier: &Notifier,
    request: &OutgoingRequest,
) -> Result<(), NotifyError> {
    let mut attempt = 1;
    loop {
        match notifier.send_request(request).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_retryable() && attempt < config.max_attempts.max(1) => {
                let delay = backoff(config, attempt, err.retry_after());
                tracing::debug!(provider = %notifier.provider_type(), attempt, ?delay, error = %err, "retrying notification");
                counters.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The delay after failed attempt `attempt` (1-based): the service's
/// `Retry-After` when given, else `initial * 2^(attempt-1)`, capped.
pub fn backoff(config: &DispatcherConfig, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exponential = config
        .initial_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    retry_after.unwrap_or(exponential).min(config.max_backoff)
}
