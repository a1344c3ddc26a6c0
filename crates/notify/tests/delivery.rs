//! Dispatcher retries, queue overflow, and the secret leak check.

mod support;

use std::time::{Duration, Instant};

use driftless_notify::{
    DispatchError, Dispatcher, DispatcherConfig, Notifier, NotifyError, ProviderConfig,
    ProviderType, Queued, Severity, TlsOptions,
};
use support::{TestServer, event};

fn fast(queue_capacity: usize) -> DispatcherConfig {
    DispatcherConfig {
        queue_capacity,
        workers: 1,
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(2),
    }
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn retries_a_server_error_then_succeeds() {
    let server = TestServer::start().await;
    server.respond(500, None, "boom");
    server.respond(502, None, "");
    let dispatcher = Dispatcher::start(fast(10));
    let notifier = Notifier::new(ProviderConfig::new(
        ProviderType::Generic,
        server.url("/hook"),
    ))
    .unwrap();
    assert_eq!(
        dispatcher.try_send(&notifier, &event(Severity::Info)),
        Ok(Queued::Requests(1))
    );
    let metrics = dispatcher.metrics();
    let counters = metrics.counters(ProviderType::Generic);
    wait_until(|| counters.sent.load(std::sync::atomic::Ordering::Relaxed) == 1).await;
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        counters.retries.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(
        counters.failed.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let server = TestServer::start().await;
    server.respond(429, Some("1"), "slow down");
    let dispatcher = Dispatcher::start(fast(10));
    let notifier = Notifier::new(ProviderConfig::new(
        ProviderType::Generic,
        server.url("/hook"),
    ))
    .unwrap();
    let started = Instant::now();
    dispatcher
        .try_send(&notifier, &event(Severity::Info))
        .unwrap();
    let metrics = dispatcher.metrics();
    wait_until(|| {
        metrics
            .counters(ProviderType::Generic)
            .sent
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After of 1s was not honoured"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = TestServer::start().await;
    server.respond(400, None, "bad");
    let dispatcher = Dispatcher::start(fast(10));
    let notifier = Notifier::new(ProviderConfig::new(
        ProviderType::Generic,
        server.url("/hook"),
    ))
    .unwrap();
    dispatcher
        .try_send(&notifier, &event(Severity::Info))
        .unwrap();
    let metrics = dispatcher.metrics();
    wait_until(|| {
        metrics
            .counters(ProviderType::Generic)
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let server = TestServer::start().await;
    for _ in 0..10 {
        server.respond(503, None, "");
    }
    let dispatcher = Dispatcher::start(fast(10));
    let notifier = Notifier::new(ProviderConfig::new(
        ProviderType::Slack,
        server.url("/hook"),
    ))
    .unwrap();
    dispatcher
        .try_send(&notifier, &event(Severity::Info))
        .unwrap();
    let metrics = dispatcher.metrics();
    wait_until(|| {
        metrics
            .counters(ProviderType::Slack)
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn full_queue_drops_and_counts() {
    // A listener that accepts but never answers keeps the single worker busy.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let dispatcher = Dispatcher::start(fast(2));
    let notifier = Notifier::new(ProviderConfig::new(ProviderType::Discord, address)).unwrap();
    let mut dropped = 0;
    for _ in 0..10 {
        match dispatcher.try_send(&notifier, &event(Severity::Info)) {
            Ok(_) => {}
            Err(DispatchError::QueueFull(ProviderType::Discord)) => dropped += 1,
            Err(other) => panic!("unexpected {other}"),
        }
        // Let the worker take the first job so the queue state is settled.
        tokio::task::yield_now().await;
    }
    let metrics = dispatcher.metrics();
    let counted = metrics
        .counters(ProviderType::Discord)
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        dropped >= 7,
        "only {dropped} dropped with capacity 2 and one busy worker"
    );
    assert_eq!(counted, dropped);
}

const TOKEN: &str = "tok-SUPERSECRET-0123456789";
const SECRET_PATH: &str = "/services/T000/B000/XXXXSECRETXXXX";

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "{what} leaks the token: {text}");
    assert!(
        !text.contains("SECRETXXXX"),
        "{what} leaks the webhook URL: {text}"
    );
    assert!(
        !text.contains("hunter2"),
        "{what} leaks the password: {text}"
    );
}

fn check(err: &NotifyError) {
    assert_clean("Display", &err.to_string());
    assert_clean("Debug", &format!("{err:?}"));
}

#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug() {
    let server = TestServer::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let base = |provider: ProviderType, address: String| {
        let mut c = ProviderConfig::new(provider, address);
        c.token = Some(TOKEN.into());
        c.password = Some("hunter2".into());
        c.username = "user".into();
        c.channel = "chan".into();
        c.headers
            .insert("Authorization".into(), format!("Bearer {TOKEN}"));
        c.timeout = Duration::from_millis(300);
        c
    };
    let mut failures = Vec::new();
    for provider in ProviderType::ALL {
        // Connection refused, HTTP error statuses, and a timeout, for every type.
        let refused = format!("http://{closed}{SECRET_PATH}?token={TOKEN}");
        let served = format!("{}?token={TOKEN}", server.url(SECRET_PATH));
        for (address, status) in [
            (refused, None),
            (served.clone(), Some(500)),
            (served, Some(401)),
        ] {
            let mut config = base(provider, address);
            config.api_base_url = Some(format!("http://{closed}/{TOKEN}"));
            assert_clean("config Debug", &format!("{config:?}"));
            if let Some(status) = status {
                server.respond(status, None, &format!("echo {TOKEN} {SECRET_PATH}"));
                config.api_base_url = Some(server.url(&format!("/{TOKEN}")));
            }
            let notifier = Notifier::new(config).unwrap();
            assert_clean("notifier Debug", &format!("{notifier:?}"));
            for request in notifier.build(&event(Severity::Error)).unwrap_or_default() {
                assert_clean("request Debug", &format!("{request:?}"));
            }
            if let Err(err) = notifier.send(&event(Severity::Error)).await {
                check(&err);
                failures.push(err);
            }
        }
    }
    // A non-routable-in-time endpoint: timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}{SECRET_PATH}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let err = Notifier::new(base(ProviderType::Slack, silent_url))
        .unwrap()
        .send(&event(Severity::Info))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::Transport {
                kind: driftless_notify::TransportKind::Timeout,
                ..
            }
        ),
        "{err}"
    );
    check(&err);
    // Broken inputs: invalid URL containing the secret, bad proxy, bad TLS material.
    let mut bad = base(ProviderType::Generic, format!("not a url {TOKEN}"));
    let err = Notifier::new(bad.clone())
        .unwrap()
        .send(&event(Severity::Info))
        .await
        .unwrap_err();
    check(&err);
    bad.proxy = Some(format!("::bad proxy {TOKEN}"));
    check(&Notifier::new(bad.clone()).unwrap_err());
    bad.proxy = None;
    bad.tls = TlsOptions {
        ca_pem: Some(TOKEN.as_bytes().to_vec()),
        ..Default::default()
    };
    check(&Notifier::new(bad).unwrap_err());
    assert!(
        failures.len() >= ProviderType::ALL.len() * 2,
        "too few failures exercised: {}",
        failures.len()
    );
}
