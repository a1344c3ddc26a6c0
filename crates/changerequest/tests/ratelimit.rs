//! Rate limits against the stand-in hosts: 429 and 403 answers with
//! `Retry-After`, GitHub's exhausted quota (`x-ratelimit-remaining: 0` +
//! `x-ratelimit-reset`) and secondary limit (403 naming it, no headers),
//! GitLab's `RateLimit-*` headers; then success, or exhaustion of the
//! budget as a clear error. The wait is injected: nothing sleeps.

mod support;

use std::sync::Arc;
use std::time::Duration;

use driftless_changerequest::{ChangeRequest, Error, Outcome, ProviderKind, RetryPolicy};
use support::{FakeHost, NOW, TestPause};

fn request() -> ChangeRequest {
    ChangeRequest {
        source_branch: "driftless/apps-web".into(),
        target_branch: "main".into(),
        title: "Update web to 1.1.0".into(),
        body: "1.0.0 -> 1.1.0".into(),
    }
}

async fn fake(kind: ProviderKind) -> (FakeHost, Arc<TestPause>) {
    let fake = FakeHost::start(kind).await;
    fake.push_branch("driftless/apps-web");
    (fake, Arc::new(TestPause::default()))
}

#[tokio::test]
async fn retry_after_on_429_and_403_then_success_on_every_host() {
    for kind in [
        ProviderKind::GitHub,
        ProviderKind::GitLab,
        ProviderKind::Gitea,
    ] {
        for status in [429, 403] {
            let (fake, pause) = fake(kind).await;
            fake.script(
                status,
                &[("retry-after", "7")],
                r#"{"message":"slow down"}"#,
            );
            let host = fake.host(pause.clone(), RetryPolicy::default());
            let outcome = host
                .ensure(&request())
                .await
                .expect("succeeds after waiting");
            assert!(
                matches!(outcome, Outcome::Opened { number: 1, .. }),
                "{kind} {status}"
            );
            assert_eq!(pause.waits(), [Duration::from_secs(7)], "{kind} {status}");
            let seen = fake.seen();
            assert_eq!(
                seen[0].path, seen[1].path,
                "{kind} {status}: the same call is repeated"
            );
            assert_eq!(fake.violations(), Vec::<String>::new(), "{kind} {status}");
        }
    }
}

#[tokio::test]
async fn github_exhausted_quota_waits_until_the_reset() {
    let (fake, pause) = fake(ProviderKind::GitHub).await;
    let reset = (NOW + 30).to_string();
    fake.script(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
        r#"{"message":"API rate limit exceeded"}"#,
    );
    let host = fake.host(pause.clone(), RetryPolicy::default());
    host.ensure(&request())
        .await
        .expect("succeeds after the reset");
    assert_eq!(pause.waits(), [Duration::from_secs(30)]);
}

#[tokio::test]
async fn github_secondary_limit_without_headers_waits_a_minute_then_longer() {
    let (fake, pause) = fake(ProviderKind::GitHub).await;
    let secondary = r#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later."}"#;
    fake.script(403, &[], secondary);
    fake.script(403, &[], secondary);
    let host = fake.host(pause.clone(), RetryPolicy::default());
    host.ensure(&request())
        .await
        .expect("succeeds after backing off");
    assert_eq!(
        pause.waits(),
        [Duration::from_secs(60), Duration::from_secs(120)]
    );
}

#[tokio::test]
async fn gitlab_ratelimit_headers_are_honoured() {
    let (fake, pause) = fake(ProviderKind::GitLab).await;
    let reset = (NOW + 12).to_string();
    fake.script(
        429,
        &[("ratelimit-remaining", "0"), ("ratelimit-reset", &reset)],
        r#"{"message":"Retry later"}"#,
    );
    let host = fake.host(pause.clone(), RetryPolicy::default());
    host.ensure(&request())
        .await
        .expect("succeeds after the reset");
    assert_eq!(pause.waits(), [Duration::from_secs(12)]);
}

#[tokio::test]
async fn exhausting_the_wait_budget_is_a_clear_error_without_sleeping_past_it() {
    let (fake, pause) = fake(ProviderKind::GitHub).await;
    for _ in 0..5 {
        fake.script(429, &[("retry-after", "120")], "");
    }
    // 4 attempts, 300 s: two waits of 120 s fit, a third would not.
    let host = fake.host(pause.clone(), RetryPolicy::default());
    let err = host.ensure(&request()).await.expect_err("rate limited");
    assert!(
        matches!(err, Error::RateLimited { attempts: 3, retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "github org/app: find open pull request for driftless/apps-web: rate limited by the host after 3 attempt(s) (host asks to wait 120s)"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert!(err.hint().is_some());
    assert_eq!(pause.waits(), [Duration::from_secs(120); 2]);
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test]
async fn exhausting_the_attempts_is_a_clear_error() {
    let (fake, pause) = fake(ProviderKind::Gitea).await;
    for _ in 0..3 {
        fake.script(429, &[("retry-after", "1")], "");
    }
    let policy = RetryPolicy {
        max_attempts: 2,
        ..RetryPolicy::default()
    };
    let host = fake.host(pause.clone(), policy);
    let err = host.ensure(&request()).await.expect_err("rate limited");
    assert!(
        matches!(err, Error::RateLimited { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(pause.waits(), [Duration::from_secs(1)]);
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn a_wait_longer_than_the_budget_is_not_slept() {
    let (fake, pause) = fake(ProviderKind::GitLab).await;
    fake.script(429, &[("retry-after", "3600")], "");
    let host = fake.host(pause.clone(), RetryPolicy::default());
    let err = host.ensure(&request()).await.expect_err("rate limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(pause.waits().is_empty());
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_permission_403_is_not_retried() {
    let (fake, pause) = fake(ProviderKind::GitHub).await;
    fake.script(
        403,
        &[("x-ratelimit-remaining", "4999")],
        r#"{"message":"Resource not accessible by personal access token"}"#,
    );
    let host = fake.host(pause.clone(), RetryPolicy::default());
    let err = host.ensure(&request()).await.expect_err("forbidden");
    assert!(matches!(err, Error::Status { status: 403, .. }), "{err:?}");
    assert!(err.to_string().contains("Resource not accessible"), "{err}");
    assert!(err.hint().is_some_and(|h| h.contains("permission")));
    assert!(pause.waits().is_empty());
}
