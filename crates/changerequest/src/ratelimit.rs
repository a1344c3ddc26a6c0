//! Reading a host's "slow down" answers, and the bounded retry budget.
//!
//! A 429, or a 403 that carries rate-limit signs, is a rejected request
//! that may be sent again after a wait (GitHub documents both statuses for
//! its primary and secondary limits; GitLab answers 429). The wait is, in
//! order: `Retry-After` (seconds or an HTTP date); the reset time when the
//! remaining quota is 0 (`x-ratelimit-remaining`/`x-ratelimit-reset` on
//! GitHub, `RateLimit-Remaining`/`RateLimit-Reset` on GitLab, both epoch
//! seconds); otherwise a fallback that doubles per attempt (GitHub asks for
//! at least a minute). A 403 without those headers counts only when its
//! body says "rate limit" (GitHub's secondary-limit message); any other 403
//! is a permission error and is not retried.
//!
//! [`RetryPolicy`] bounds the attempts and the total wait; a wait that
//! would pass either bound is not slept: the call fails at once with
//! [`crate::Error::RateLimited`] carrying the host's wait, so the caller
//! can requeue. Waits and "now" come from a [`Pause`], so tests never sleep.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// Bounds on retrying rate-limited requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent at most per call, the first included.
    pub max_attempts: u32,
    /// The longest total wait across one call's retries.
    pub max_total_wait: Duration,
    /// The first wait when the host says nothing about how long; doubled
    /// on each further attempt.
    pub fallback_wait: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, at most 5 minutes of waiting, a 60 s first fallback.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            max_total_wait: Duration::from_secs(5 * 60),
            fallback_wait: Duration::from_secs(60),
        }
    }
}

/// Where waits and wall-clock time come from.
pub trait Pause: Send + Sync {
    /// The current wall-clock time (rate-limit resets are epoch seconds).
    fn now(&self) -> SystemTime;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Real time: the system clock and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealPause;

impl Pause for RealPause {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// How long a rate-limited answer asks us to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The host said how long.
    Told(Duration),
    /// Rate limited, but the host did not say for how long.
    Unknown,
}

/// `Some` when the answer is a rate-limit rejection.
pub(crate) fn rate_limit_wait(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Option<Wait> {
    if status != 429 && status != 403 {
        return None;
    }
    if let Some(wait) = header(headers, "retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(Wait::Told(wait));
    }
    let remaining =
        header(headers, "x-ratelimit-remaining").or_else(|| header(headers, "ratelimit-remaining"));
    let reset = header(headers, "x-ratelimit-reset").or_else(|| header(headers, "ratelimit-reset"));
    if remaining.map(str::trim) == Some("0")
        && let Some(reset) = reset.and_then(|r| r.trim().parse::<u64>().ok())
    {
        let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        // A reset already past still means "not now": wait a second.
        let wait = reset.duration_since(now).unwrap_or_default();
        return Some(Wait::Told(wait.max(Duration::from_secs(1))));
    }
    if status == 429
        || String::from_utf8_lossy(body)
            .to_ascii_lowercase()
            .contains("rate limit")
    {
        return Some(Wait::Unknown);
    }
    None
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After`: delay seconds, or an IMF-fixdate HTTP date.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.unix_timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

/// The wait before attempt `attempt + 1`, after `attempt` (1-based)
/// rate-limited answers.
pub(crate) fn wait_for(wait: Wait, attempt: u32, policy: &RetryPolicy) -> Duration {
    match wait {
        Wait::Told(wait) => wait,
        Wait::Unknown => policy
            .fallback_wait
            .saturating_mul(1 << attempt.saturating_sub(1).min(16)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let seconds = headers(&[("retry-after", "30")]);
        assert_eq!(
            rate_limit_wait(429, &seconds, b"", now()),
            Some(Wait::Told(Duration::from_secs(30)))
        );
        // 1_800_000_000 is Fri, 15 Jan 2027 08:00:00 GMT.
        let date = headers(&[("retry-after", "Fri, 15 Jan 2027 08:00:45 GMT")]);
        assert_eq!(
            rate_limit_wait(403, &date, b"", now()),
            Some(Wait::Told(Duration::from_secs(45)))
        );
    }

    #[test]
    fn exhausted_quota_waits_until_the_reset() {
        let github = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(NOW + 120).to_string()),
        ]);
        assert_eq!(
            rate_limit_wait(403, &github, b"", now()),
            Some(Wait::Told(Duration::from_secs(120)))
        );
        let gitlab = headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", &(NOW - 5).to_string()),
        ]);
        assert_eq!(
            rate_limit_wait(429, &gitlab, b"", now()),
            Some(Wait::Told(Duration::from_secs(1)))
        );
    }

    #[test]
    fn a_plain_403_is_not_a_rate_limit_but_a_secondary_limit_message_is() {
        let quota_left = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            rate_limit_wait(
                403,
                &quota_left,
                br#"{"message":"Resource not accessible by integration"}"#,
                now()
            ),
            None
        );
        assert_eq!(
            rate_limit_wait(
                403,
                &quota_left,
                br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes."}"#,
                now()
            ),
            Some(Wait::Unknown)
        );
        assert_eq!(
            rate_limit_wait(429, &HeaderMap::new(), b"", now()),
            Some(Wait::Unknown)
        );
        assert_eq!(
            rate_limit_wait(500, &headers(&[("retry-after", "1")]), b"", now()),
            None
        );
    }

    #[test]
    fn fallback_doubles_per_attempt() {
        let policy = RetryPolicy::default();
        assert_eq!(wait_for(Wait::Unknown, 1, &policy), Duration::from_secs(60));
        assert_eq!(
            wait_for(Wait::Unknown, 3, &policy),
            Duration::from_secs(240)
        );
        assert_eq!(
            wait_for(Wait::Told(Duration::from_secs(7)), 3, &policy),
            Duration::from_secs(7)
        );
    }
}
