//! The token never shows: not in error text (even when a host echoes it
//! back), not in `Debug` output, not in logs, not from a URL's user-info.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use driftless_changerequest::{
    ChangeRequest, Host, HostOptions, ProviderKind, Repository, RetryPolicy, Token,
};
use support::{FakeHost, TOKEN, TestPause};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn request() -> ChangeRequest {
    ChangeRequest {
        source_branch: "driftless/apps-web".into(),
        target_branch: "main".into(),
        title: "t".into(),
        body: "b".into(),
    }
}

#[tokio::test]
async fn an_echoed_token_is_masked_in_errors_and_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    for kind in [
        ProviderKind::GitHub,
        ProviderKind::GitLab,
        ProviderKind::Gitea,
    ] {
        let fake = FakeHost::start(kind).await;
        let echo = format!(r#"{{"message":"rate limit for token {TOKEN}"}}"#);
        fake.script(429, &[("retry-after", "1")], &echo);
        fake.script(
            401,
            &[],
            &format!(r#"{{"message":"Bad credentials: {TOKEN}"}}"#),
        );
        let host = fake.host(Arc::new(TestPause::default()), RetryPolicy::default());
        let err = host.ensure(&request()).await.expect_err("refused");
        let shown = format!("{err} / {err:?} / {:?} / {host:?}", err.hint());
        assert!(!shown.contains(TOKEN), "{kind}: {shown}");
        assert!(
            shown.contains("Bad credentials: <redacted>"),
            "{kind}: {shown}"
        );
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).expect("utf-8");
    assert!(
        logs.contains("rate limited"),
        "the retry was logged: {logs}"
    );
    assert!(!logs.contains(TOKEN), "{logs}");
}

#[test]
fn debug_output_of_token_host_and_options_hides_the_token() {
    let token = Token::new(TOKEN).expect("token");
    assert!(!format!("{token:?}").contains(TOKEN));
    let repo = Repository::from_git_url(ProviderKind::GitHub, "https://github.com/org/app", None)
        .expect("repo");
    let host = Host::new(repo, token, HostOptions::default()).expect("host");
    let shown = format!("{host:?} {:?}", HostOptions::default());
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[test]
fn credentials_in_urls_do_not_reach_errors() {
    let err = Repository::from_git_url(
        ProviderKind::GitHub,
        &format!("https://bot:{TOKEN}@github.com/only-owner"),
        None,
    )
    .expect_err("one segment");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert!(
        err.to_string().contains("https://github.com/only-owner"),
        "{err}"
    );

    let err = Repository::from_git_url(
        ProviderKind::GitLab,
        "https://gitlab.example.com/group/app",
        Some(&format!("https://bot:{TOKEN}@gitlab.example.com/api/v4")),
    )
    .expect_err("credentials in the API base");
    assert!(!err.to_string().contains(TOKEN), "{err}");
}
