//! Watches that come back within seconds of an API server restart.
//!
//! **Owns:** how every watch of the controller waits after an error — the
//! reconcilers' own watches, the watches that wake them, the drift watches
//! and the notification caches. **Must not:** filter or reorder events; a
//! stream out of here carries exactly what kube-runtime's watcher saw.
//!
//! Why not kube-runtime's `default_backoff` (or the `Controller`'s built-in
//! trigger backoff): both apply one exponential schedule (0.8 s doubling to
//! 30 s, plus up to as much again in jitter) to every error alike. A
//! restarted API server answers each resumed watch `410 Expired` (its watch
//! cache starts at the newest version, so any older resourceVersion is too
//! old, as kube-apiserver's `too old resource version` says); the watcher has
//! then already gone back to relisting, but the backoff first sleeps out the
//! schedule the connection errors of the outage built up. The `Controller`
//! makes it worse by sharing a single schedule across all of its watches and
//! pausing all of them while it sleeps, so a controller with four watches
//! climbs it four times as fast: two restarts took its waits from 1.5 s to
//! 12 s (the cap, with jitter, is a minute). Here each watch has its own
//! schedule, capped at a few seconds plus a fifth in jitter; an expired
//! watch relists at once (at most once per
//! [`FREE_RELIST_EVERY`], so a server that expires every watch cannot make
//! it spin); and errors are logged here rather than passed on, so the
//! `Controller`'s own backoff never engages for these streams.
//!
//! ```ignore
//! let controller = watch::controller(Api::<Kustomization>::all(client.clone()))
//!     .watches_stream(watch::touched(Api::<GitRepository>::all(client)), mapper);
//! ```

use std::fmt::Debug;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// The wait after the first error in a row; it doubles with each further one.
const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest wait between two attempts. Short, because a watch that waits
/// is a controller that does not see changes; one list or watch request per
/// watch every few seconds is no load for an API server that is down anyway.
const MAX_WAIT: Duration = Duration::from_secs(5);
/// Up to this fraction of a wait is added at random, so that the watches of
/// many controllers that lost the same API server do not retry in step.
const JITTER: f64 = 0.2;
/// How often an expired watch may relist without waiting.
pub(crate) const FREE_RELIST_EVERY: Duration = Duration::from_secs(10);

/// A `Controller` for every `K` in the cluster whose own watch recovers as
/// this module describes (in place of `Controller::new(api, Config::default())`).
pub(crate) fn controller<K>(api: Api<K>) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let objects = recovering(watcher(api, watcher::Config::default()), K::kind(&()))
        .map(Ok)
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(objects, reader)
}

/// Every `K` the watch of `api` sees change or go, for `Controller::watches_stream`.
pub(crate) fn touched<K>(api: Api<K>) -> impl Stream<Item = watcher::Result<K>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    touched_with(api, watcher::Config::default())
}

/// [`touched`], for the objects `config` selects (a label selector).
pub(crate) fn touched_with<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<K>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    recovering(watcher(api, config), K::kind(&()))
        .map(Ok)
        .touched_objects()
}

/// The events of `events`, each error logged and waited out per [`Retry`]
/// instead of passed on.
pub(crate) fn recovering<K>(
    events: impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static,
    what: impl Into<String>,
) -> impl Stream<Item = watcher::Event<K>> + Send + 'static
where
    K: Send + 'static,
{
    let what = what.into();
    let state = (events.boxed(), Retry::default(), what);
    futures::stream::unfold(state, |(mut events, mut retry, what)| async move {
        loop {
            match events.next().await? {
                Ok(event) => {
                    retry.succeeded();
                    return Some((event, (events, retry, what)));
                }
                Err(error) => {
                    let first = retry.failures == 0;
                    let wait = retry.after(&error, Instant::now());
                    if is_expired(&error) {
                        tracing::debug!(watch = %what, ?wait, "watch expired (410); relisting");
                    } else if first {
                        tracing::warn!(watch = %what, %error, ?wait, "watch failed; retrying");
                    } else {
                        tracing::debug!(watch = %what, %error, ?wait, "watch failed again; retrying");
                    }
                    tokio::time::sleep(jittered(wait)).await;
                }
            }
        }
    })
}

/// `wait` lengthened by up to [`JITTER`] of itself.
fn jittered(wait: Duration) -> Duration {
    wait.mul_f64(1.0 + JITTER * rand::random::<f64>())
}

/// Whether the server said the watch's resourceVersion is too old (410):
/// the watcher has already gone back to listing.
fn is_expired(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::WatchError(status) if status.code == 410)
}

/// When to poll a watch again after an error: pure, so the schedule is
/// tested without a server or a clock.
#[derive(Debug, Default)]
struct Retry {
    /// Errors since the last event, bar free relists.
    failures: u32,
    /// When an expired watch last relisted without waiting.
    last_free_relist: Option<Instant>,
}

impl Retry {
    /// How long to wait after `error`, seen at `now`.
    fn after(&mut self, error: &watcher::Error, now: Instant) -> Duration {
        let free = self
            .last_free_relist
            .is_none_or(|last| now.duration_since(last) >= FREE_RELIST_EVERY);
        if is_expired(error) && free {
            self.last_free_relist = Some(now);
            return Duration::ZERO;
        }
        let wait = FIRST_WAIT
            .saturating_mul(2u32.saturating_pow(self.failures))
            .min(MAX_WAIT);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    /// An event came through: the next error starts the schedule again.
    fn succeeded(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn expired() -> watcher::Error {
        let status = Status::failure("too old resource version: 7 (9)", "Expired").with_code(410);
        watcher::Error::WatchError(status.boxed())
    }

    fn refused() -> watcher::Error {
        watcher::Error::NoResourceVersion
    }

    #[test]
    fn other_errors_double_the_wait_up_to_the_cap() {
        let mut retry = Retry::default();
        let now = Instant::now();
        let waits: Vec<_> = (0..6).map(|_| retry.after(&refused(), now)).collect();
        let ms: Vec<_> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 5000, 5000]);
        retry.succeeded();
        assert_eq!(retry.after(&refused(), now), FIRST_WAIT);
    }

    #[test]
    fn jitter_only_lengthens_a_wait_and_by_a_fifth_at_most() {
        for _ in 0..100 {
            let wait = jittered(MAX_WAIT);
            assert!(
                wait >= MAX_WAIT && wait <= MAX_WAIT.mul_f64(1.0 + JITTER),
                "{wait:?}"
            );
        }
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn an_expired_watch_relists_at_once_even_after_an_outage() {
        let mut retry = Retry::default();
        let now = Instant::now();
        for _ in 0..5 {
            retry.after(&refused(), now);
        }
        assert_eq!(retry.after(&expired(), now), Duration::ZERO);
    }

    #[test]
    fn expiring_again_soon_waits_so_a_server_cannot_make_it_spin() {
        let mut retry = Retry::default();
        let start = Instant::now();
        assert_eq!(retry.after(&expired(), start), Duration::ZERO);
        retry.succeeded();
        let soon = start + FREE_RELIST_EVERY / 2;
        assert_eq!(retry.after(&expired(), soon), FIRST_WAIT);
        assert_eq!(retry.after(&expired(), soon), FIRST_WAIT * 2);
        let later = start + FREE_RELIST_EVERY;
        assert_eq!(retry.after(&expired(), later), Duration::ZERO);
    }

    #[tokio::test]
    async fn errors_are_waited_out_and_never_passed_on() {
        let events: Vec<watcher::Result<watcher::Event<()>>> = vec![
            Err(refused()),
            Err(expired()),
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitDone),
        ];
        let start = Instant::now();
        let out: Vec<_> = recovering(futures::stream::iter(events), "test")
            .collect()
            .await;
        assert!(matches!(
            out[..],
            [watcher::Event::Init, watcher::Event::InitDone]
        ));
        // Had the 410 waited too, this would take 1.5 s.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= FIRST_WAIT && elapsed < FIRST_WAIT * 3,
            "only the first error waited: {elapsed:?}"
        );
    }
}
