//! Every provider against a loopback server: exact method, path, headers
//! and JSON body, as each service documents and Flux sends.

mod support;

use driftless_notify::{Notifier, ProviderConfig, ProviderType, Severity, commit_status_id};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use support::{SHA, TestServer, event};

async fn send(config: ProviderConfig, severity: Severity) {
    Notifier::new(config)
        .expect("notifier")
        .send(&event(severity))
        .await
        .expect("send succeeds");
}

#[tokio::test]
async fn generic_posts_the_event_json_with_custom_headers() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Generic, server.url("/events"));
    config.headers.insert("X-Team".into(), "platform".into());
    send(config, Severity::Info).await;
    let r = server.only_request();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/events"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("gotk-component"), Some("kustomize-controller"));
    assert_eq!(r.header("x-team"), Some("platform"));
    assert_eq!(r.header("x-signature"), None);
    assert_eq!(
        r.json(),
        json!({
            "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
                "uid": "7d0cdc51-ddcd-4fe5-a4b5-0e9f1e3e7a11", "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
            "severity": "info",
            "timestamp": "2024-05-01T12:00:00Z",
            "message": "Applied revision: main@sha1:5394cb7",
            "reason": "ReconciliationSucceeded",
            "metadata": {"revision": format!("main@sha1:{SHA}"), "summary": "prod cluster"},
            "reportingController": "kustomize-controller",
        })
    );
}

#[tokio::test]
async fn generic_hmac_signs_the_exact_body() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::GenericHmac, server.url("/signed"));
    config.token = Some("s3cr3t-hmac-key".into());
    send(config, Severity::Error).await;
    let r = server.only_request();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cr3t-hmac-key").unwrap();
    mac.update(&r.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-signature"), Some(expected.as_str()));
    assert_eq!(r.json()["severity"], "error");
}

#[tokio::test]
async fn slack_webhook_payload() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Slack, server.url("/services/T0/B0/XYZ"));
    config.channel = "#deploys".into();
    send(config, Severity::Error).await;
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/services/T0/B0/XYZ")
    );
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.json(),
        json!({
            "channel": "#deploys", "username": "kustomize-controller", "icon_url": "", "icon_emoji": "",
            "attachments": [{
                "fallback": "kustomization/apps.flux-system: Applied revision: main@sha1:5394cb7",
                "color": "danger",
                "author_name": "kustomization/apps.flux-system",
                "text": "Applied revision: main@sha1:5394cb7",
                "mrkdwn_in": ["text"],
                "fields": [
                    {"title": "revision", "value": format!("main@sha1:{SHA}"), "short": false},
                    {"title": "summary", "value": "prod cluster", "short": false},
                ],
            }],
        })
    );
}

#[tokio::test]
async fn slack_bot_token_uses_bearer_and_checks_ok() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Slack, server.url("/api/chat.postMessage"));
    config.token = Some("xoxb-bot-token".into());
    config.channel = "C0123".into();
    config.username = "flux".into();
    send(config.clone(), Severity::Info).await;
    let r = server.only_request();
    assert_eq!(r.header("authorization"), Some("Bearer xoxb-bot-token"));
    assert_eq!(r.json()["channel"], "C0123");
    assert_eq!(r.json()["username"], "flux");
    assert_eq!(r.json()["attachments"][0]["color"], "good");

    server.respond(200, None, r#"{"ok":false,"error":"channel_not_found"}"#);
    let err = Notifier::new(config)
        .unwrap()
        .send(&event(Severity::Info))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "slack: post message: service reported an error: channel_not_found"
    );
}

#[tokio::test]
async fn discord_uses_the_slack_endpoint() {
    let server = TestServer::start().await;
    send(
        ProviderConfig::new(ProviderType::Discord, server.url("/api/webhooks/1/tok")),
        Severity::Info,
    )
    .await;
    let r = server.only_request();
    assert_eq!(r.path, "/api/webhooks/1/tok/slack");
    let body = r.json();
    assert_eq!(body["channel"], "");
    assert_eq!(body["username"], "kustomize-controller");
    assert_eq!(body["attachments"][0]["fallback"], "");
    assert_eq!(
        body["attachments"][0]["author_name"],
        "kustomization/apps.flux-system"
    );
}

#[tokio::test]
async fn msteams_adaptive_card() {
    let server = TestServer::start().await;
    send(
        ProviderConfig::new(
            ProviderType::MsTeams,
            server.url("/workflows/abc/triggers/manual"),
        ),
        Severity::Error,
    )
    .await;
    let r = server.only_request();
    assert_eq!(
        r.json(),
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "Container", "items": [
                        {"type": "TextBlock", "text": "kustomization/apps.flux-system", "size": "large", "weight": "bolder", "wrap": true},
                        {"type": "TextBlock", "text": "Applied revision: main@sha1:5394cb7", "color": "attention", "wrap": true},
                        {"type": "FactSet", "facts": [
                            {"title": "summary", "value": "prod cluster"},
                            {"title": "revision", "value": format!("main@sha1:{SHA}")},
                        ]},
                    ]}],
                    "msteams": {"width": "Full"},
                },
            }],
        })
    );
}

#[tokio::test]
async fn google_chat_card() {
    let server = TestServer::start().await;
    send(
        ProviderConfig::new(
            ProviderType::GoogleChat,
            server.url("/v1/spaces/S/messages?key=k"),
        ),
        Severity::Info,
    )
    .await;
    let r = server.only_request();
    assert_eq!(r.path, "/v1/spaces/S/messages?key=k");
    assert_eq!(
        r.json(),
        json!({"cards": [{
            "header": {"title": "kustomization/apps.flux-system", "subtitle": "kustomize-controller", "imageUrl": null, "imageStyle": null},
            "sections": [
                {"header": "", "widgets": [{"textParagraph": {"text": "Applied revision: main@sha1:5394cb7"}, "keyValue": null}]},
                {"header": "", "widgets": [
                    {"textParagraph": null, "keyValue": {"topLabel": "revision", "content": format!("main@sha1:{SHA}"), "contentMultiline": false, "bottomLabel": null, "icon": null}},
                    {"textParagraph": null, "keyValue": {"topLabel": "summary", "content": "prod cluster", "contentMultiline": false, "bottomLabel": null, "icon": null}},
                ]},
            ],
        }]})
    );
}

#[tokio::test]
async fn telegram_send_message_with_markdown_v2() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Telegram, "");
    config.api_base_url = Some(server.url(""));
    config.token = Some("123:ABC".into());
    config.channel = "-100200:42".into();
    send(config, Severity::Info).await;
    let r = server.only_request();
    assert_eq!(r.path, "/bot123:ABC/sendMessage");
    let text = format!(
        "*💫 kustomization/apps/flux\\-system*\nApplied revision: main@sha1:5394cb7\n\\- *revision*: main@sha1:{SHA}\n\\- *summary*: prod cluster\n"
    );
    assert_eq!(
        r.json(),
        json!({"chat_id": "-100200", "message_thread_id": "42", "text": text, "parse_mode": "MarkdownV2"})
    );
}

#[tokio::test]
async fn matrix_puts_a_room_message_with_txn_id() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Matrix, server.url(""));
    config.token = Some("syt_access".into());
    config.channel = "!room:example.org".into();
    send(config, Severity::Error).await;
    let r = server.only_request();
    use sha1::Digest;
    let txn = hex::encode(sha1::Sha1::digest(
        serde_json::to_vec(&event(Severity::Error)).unwrap(),
    ));
    assert_eq!(r.method, "PUT");
    assert_eq!(
        r.path,
        format!("/_matrix/client/r0/rooms/!room:example.org/send/m.room.message/{txn}")
    );
    assert_eq!(r.header("authorization"), Some("Bearer syt_access"));
    let body = format!(
        "🚨 kustomization/apps.flux-system\nApplied revision: main@sha1:5394cb7\n- revision: main@sha1:{SHA}\n- summary: prod cluster\n"
    );
    assert_eq!(r.json(), json!({"body": body, "msgtype": "m.text"}));
}

#[tokio::test]
async fn alertmanager_v2_alert() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Alertmanager, server.url("/api/v2/alerts"));
    config.username = "am".into();
    config.password = Some("am-pass".into());
    send(config, Severity::Error).await;
    let r = server.only_request();
    assert_eq!(r.path, "/api/v2/alerts");
    assert_eq!(r.header("authorization"), Some("Basic YW06YW0tcGFzcw=="));
    assert_eq!(
        r.json(),
        json!([{
            "status": "firing",
            "labels": {
                "alertname": "FluxKustomizationReconciliationfailed",
                "kind": "Kustomization", "name": "apps", "namespace": "flux-system",
                "reason": "ReconciliationFailed", "reportingcontroller": "kustomize-controller",
                "revision": format!("main@sha1:{SHA}"), "severity": "error",
            },
            "annotations": {"message": "Applied revision: main@sha1:5394cb7", "summary": "prod cluster"},
            "startsAt": "2024-05-01T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }])
    );
}

#[tokio::test]
async fn grafana_annotation() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Grafana, server.url("/api/annotations"));
    config.token = Some("glsa_token".into());
    send(config, Severity::Info).await;
    let r = server.only_request();
    assert_eq!(r.header("authorization"), Some("Bearer glsa_token"));
    assert_eq!(
        r.json(),
        json!({"when": 1714564800, "text": "kustomization/apps.flux-system", "tags": [
            "flux", "kustomize-controller", format!("revision: main@sha1|{SHA}"), "summary: prod cluster",
            "kind: Kustomization", "name: apps", "namespace: flux-system",
        ]})
    );
}

#[tokio::test]
async fn opsgenie_alert() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::Opsgenie, server.url("/v2/alerts"));
    config.token = Some("genie-key".into());
    send(config, Severity::Error).await;
    let r = server.only_request();
    assert_eq!(r.header("authorization"), Some("GenieKey genie-key"));
    assert_eq!(
        r.json(),
        json!({"message": "Kustomization/apps", "description": "Applied revision: main@sha1:5394cb7",
            "details": {"revision": format!("main@sha1:{SHA}"), "severity": "error", "summary": "prod cluster"}})
    );
}

#[tokio::test]
async fn pagerduty_trigger_on_error() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::PagerDuty, server.url("/ignored/path"));
    config.channel = "routing-key-1".into();
    send(config, Severity::Error).await;
    let r = server.only_request();
    assert_eq!(r.path, "/v2/enqueue");
    assert_eq!(
        r.json(),
        json!({
            "routing_key": "routing-key-1", "event_action": "trigger",
            "dedup_key": "7d0cdc51-ddcd-4fe5-a4b5-0e9f1e3e7a11",
            "payload": {
                "summary": "reconciliation failed: kustomization/apps",
                "source": "Flux kustomize-controller", "severity": "error",
                "timestamp": "2024-05-01T12:00:00Z", "component": "apps", "group": "Kustomization",
                "custom_details": {"message": "Applied revision: main@sha1:5394cb7",
                    "metadata": {"revision": format!("main@sha1:{SHA}"), "summary": "prod cluster"}},
            },
        })
    );
}

#[tokio::test]
async fn pagerduty_resolve_and_change_event_on_info() {
    let server = TestServer::start().await;
    let mut config = ProviderConfig::new(ProviderType::PagerDuty, server.url(""));
    config.channel = "routing-key-1".into();
    send(config, Severity::Info).await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v2/enqueue");
    assert_eq!(
        requests[0].json(),
        json!({"routing_key": "routing-key-1", "event_action": "resolve", "dedup_key": "7d0cdc51-ddcd-4fe5-a4b5-0e9f1e3e7a11"})
    );
    assert_eq!(requests[1].path, "/v2/change/enqueue");
    assert_eq!(
        requests[1].json(),
        json!({"routing_key": "routing-key-1", "payload": {
            "summary": "reconciliation succeeded: kustomization/apps", "source": "Flux kustomize-controller",
            "timestamp": "2024-05-01T12:00:00Z",
            "custom_details": {"message": "Applied revision: main@sha1:5394cb7",
                "metadata": {"revision": format!("main@sha1:{SHA}"), "summary": "prod cluster"}},
        }})
    );
}

fn git_config(provider: ProviderType, address: String) -> ProviderConfig {
    let mut config = ProviderConfig::new(provider, address);
    config.token = Some("git-token".into());
    config.commit_status = commit_status_id(
        "Kustomization",
        "apps",
        "0c9c2e41-d2f9-4f9b-9c41-2131a4b0aecb",
    );
    config
}

#[tokio::test]
async fn github_commit_status() {
    let server = TestServer::start().await;
    send(
        git_config(ProviderType::GitHub, server.url("/org/repo.git")),
        Severity::Error,
    )
    .await;
    let r = server.only_request();
    assert_eq!(r.path, format!("/api/v3/repos/org/repo/statuses/{SHA}"));
    assert_eq!(r.header("authorization"), Some("Bearer git-token"));
    assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(
        r.json(),
        json!({"state": "failure", "description": "reconciliation failed", "context": "kustomization/apps/0c9c2e41"})
    );
}

#[tokio::test]
async fn gitlab_commit_status_with_nested_group() {
    let server = TestServer::start().await;
    send(
        git_config(ProviderType::GitLab, server.url("/group/sub/repo")),
        Severity::Info,
    )
    .await;
    let r = server.only_request();
    assert_eq!(
        r.path,
        format!("/api/v4/projects/group%2Fsub%2Frepo/statuses/{SHA}")
    );
    assert_eq!(r.header("private-token"), Some("git-token"));
    assert_eq!(
        r.json(),
        json!({"state": "success", "name": "kustomization/apps/0c9c2e41", "description": "reconciliation succeeded"})
    );
}

#[tokio::test]
async fn gitea_commit_status() {
    let server = TestServer::start().await;
    send(
        git_config(ProviderType::Gitea, server.url("/org/repo")),
        Severity::Info,
    )
    .await;
    let r = server.only_request();
    assert_eq!(r.path, format!("/api/v1/repos/org/repo/statuses/{SHA}"));
    assert_eq!(r.header("authorization"), Some("token git-token"));
    assert_eq!(
        r.json(),
        json!({"state": "success", "target_url": "", "description": "reconciliation succeeded", "context": "kustomization/apps/0c9c2e41"})
    );
}

#[tokio::test]
async fn bitbucket_cloud_build_status() {
    let server = TestServer::start().await;
    let mut config = git_config(
        ProviderType::Bitbucket,
        "https://bitbucket.org/team/repo.git".into(),
    );
    config.token = Some("bob:app-pass".into());
    config.api_base_url = Some(server.url("/2.0"));
    send(config, Severity::Error).await;
    let r = server.only_request();
    assert_eq!(
        r.path,
        format!("/2.0/repositories/team/repo/commit/{SHA}/statuses/build")
    );
    assert_eq!(r.header("authorization"), Some("Basic Ym9iOmFwcC1wYXNz"));
    use sha1::Digest;
    let key = hex::encode(sha1::Sha1::digest(b"kustomization/apps/0c9c2e41"));
    assert_eq!(
        r.json(),
        json!({"key": key, "url": "https://bitbucket.org", "state": "FAILED", "name": "kustomization/apps", "description": "reconciliation failed"})
    );
}

#[tokio::test]
async fn bitbucket_server_build_status() {
    let server = TestServer::start().await;
    let address = server.url("/context/scm/PROJ/repo.git");
    send(
        git_config(ProviderType::BitbucketServer, address.clone()),
        Severity::Info,
    )
    .await;
    let r = server.only_request();
    assert_eq!(
        r.path,
        format!("/context/rest/api/latest/projects/PROJ/repos/repo/commits/{SHA}/builds")
    );
    assert_eq!(r.header("authorization"), Some("Bearer git-token"));
    assert_eq!(r.header("x-atlassian-token"), Some("no-check"));
    use sha1::Digest;
    let key = hex::encode(sha1::Sha1::digest(b"kustomization/apps/0c9c2e41"));
    assert_eq!(
        r.json(),
        json!({"description": "reconciliation succeeded", "key": key,
            "name": "kustomization/apps [reconciliation succeeded]", "state": "SUCCESSFUL", "url": address})
    );
}

#[tokio::test]
async fn commit_status_skips_progressing_and_needs_a_revision() {
    let config = git_config(ProviderType::GitHub, "https://github.com/org/repo".into());
    let mut progressing = event(Severity::Info);
    progressing.reason = "Progressing".into();
    assert!(
        driftless_notify::build_requests(&config, &progressing)
            .unwrap()
            .is_empty()
    );
    let mut no_revision = event(Severity::Info);
    no_revision.metadata.clear();
    let err = driftless_notify::build_requests(&config, &no_revision).unwrap_err();
    assert_eq!(
        err.to_string(),
        "github: cannot notify for this event: missing revision metadata"
    );
    let requests = driftless_notify::build_requests(&config, &event(Severity::Info)).unwrap();
    assert_eq!(
        requests[0].url,
        format!("https://api.github.com/repos/org/repo/statuses/{SHA}")
    );
}
