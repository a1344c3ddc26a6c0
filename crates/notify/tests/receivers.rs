//! Receiver verification with real-format payloads and signatures computed
//! here, independently of the crate.

use axum::http::{HeaderMap, HeaderValue};
use driftless_notify::max_body_bytes;
use driftless_notify::receiver::{
    Accepted, GcrAuth, IdTokenClaims, IdTokenVerifier, ReceiverSpec, ReceiverType, RejectReason,
    verify, webhook_path,
};
use hmac::{Hmac, KeyInit, Mac};

const TOKEN: &str = "receiver-token-42";

const GITHUB_PUSH: &str = r#"{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"5394cb7f48332b2de7c17dd8b8384bbc84b7e738","repository":{"id":1,"full_name":"org/repo","clone_url":"https://github.com/org/repo.git"},"pusher":{"name":"dev"}}"#;

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn spec(receiver_type: ReceiverType, events: &[String]) -> ReceiverSpec<'_> {
    ReceiverSpec {
        receiver_type,
        token: TOKEN,
        events,
        gcr: None,
    }
}

fn hmac_hex<M: Mac + KeyInit>(body: &[u8]) -> String {
    let mut mac = <M as KeyInit>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn reason(result: Result<Accepted, driftless_notify::receiver::Rejected>) -> RejectReason {
    let rejected = result.expect_err("request must be rejected");
    assert!(
        !rejected.to_string().contains(TOKEN),
        "rejection echoes the token"
    );
    rejected.reason
}

#[test]
fn webhook_path_is_sha256_of_token_name_namespace() {
    use sha2::Digest;
    let expected = format!(
        "/hook/{}",
        hex::encode(sha2::Sha256::digest(b"tokenapp-hookflux-system"))
    );
    assert_eq!(webhook_path("token", "app-hook", "flux-system"), expected);
    assert_ne!(webhook_path("token", "app-hook", "other"), expected);
}

#[test]
fn github_push_with_sha256_signature() {
    let events = vec!["push".to_string()];
    let sig = format!(
        "sha256={}",
        hmac_hex::<Hmac<sha2::Sha256>>(GITHUB_PUSH.as_bytes())
    );
    let h = headers(&[
        ("content-type", "application/json".into()),
        ("x-github-event", "push".into()),
        ("x-hub-signature-256", sig),
    ]);
    let ok = verify(
        &spec(ReceiverType::GitHub, &events),
        &h,
        GITHUB_PUSH.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        ok,
        Accepted {
            reconcile: true,
            event: Some("push".into())
        }
    );

    let tampered = GITHUB_PUSH.replace("main", "evil");
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::GitHub, &events),
            &h,
            tampered.as_bytes()
        )),
        RejectReason::BadSignature("X-Hub-Signature-256")
    );
}

#[test]
fn github_sha1_signature_event_filter_and_ping() {
    let events = vec!["push".to_string()];
    let sig = format!(
        "sha1={}",
        hmac_hex::<Hmac<sha1::Sha1>>(GITHUB_PUSH.as_bytes())
    );
    let mut h = headers(&[
        ("content-type", "application/json".into()),
        ("x-github-event", "release".into()),
        ("x-hub-signature", sig),
    ]);
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::GitHub, &events),
            &h,
            GITHUB_PUSH.as_bytes()
        )),
        RejectReason::EventNotAllowed("release".into())
    );
    h.insert("x-github-event", HeaderValue::from_static("ping"));
    let ping = verify(
        &spec(ReceiverType::GitHub, &events),
        &h,
        GITHUB_PUSH.as_bytes(),
    )
    .unwrap();
    assert!(!ping.reconcile);
    h.remove("x-hub-signature");
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::GitHub, &events),
            &h,
            GITHUB_PUSH.as_bytes()
        )),
        RejectReason::MissingHeader("X-Hub-Signature-256")
    );
}

#[test]
fn generic_hmac_accepts_sha512_and_rejects_wrong_key() {
    let body = br#"{"action":"deploy"}"#;
    let good = headers(&[(
        "x-signature",
        format!("sha512={}", hmac_hex::<Hmac<sha2::Sha512>>(body)),
    )]);
    assert!(
        verify(&spec(ReceiverType::GenericHmac, &[]), &good, body)
            .unwrap()
            .reconcile
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"wrong").unwrap();
    mac.update(body);
    let bad = headers(&[(
        "x-signature",
        format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
    )]);
    assert_eq!(
        reason(verify(&spec(ReceiverType::GenericHmac, &[]), &bad, body)),
        RejectReason::BadSignature("X-Signature")
    );
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::GenericHmac, &[]),
            &HeaderMap::new(),
            body
        )),
        RejectReason::MissingHeader("X-Signature")
    );
}

#[test]
fn gitlab_token_and_event_filter() {
    let events = vec!["Push Hook".to_string()];
    let body = br#"{"object_kind":"push","ref":"refs/heads/main","project":{"path_with_namespace":"g/r"}}"#;
    let good = headers(&[
        ("x-gitlab-token", TOKEN.into()),
        ("x-gitlab-event", "Push Hook".into()),
    ]);
    assert_eq!(
        verify(&spec(ReceiverType::GitLab, &events), &good, body)
            .unwrap()
            .event
            .as_deref(),
        Some("Push Hook")
    );
    let wrong = headers(&[
        ("x-gitlab-token", "nope".into()),
        ("x-gitlab-event", "Push Hook".into()),
    ]);
    assert_eq!(
        reason(verify(&spec(ReceiverType::GitLab, &events), &wrong, body)),
        RejectReason::TokenMismatch("X-Gitlab-Token")
    );
    let tag = headers(&[
        ("x-gitlab-token", TOKEN.into()),
        ("x-gitlab-event", "Tag Push Hook".into()),
    ]);
    assert_eq!(
        reason(verify(&spec(ReceiverType::GitLab, &events), &tag, body)),
        RejectReason::EventNotAllowed("Tag Push Hook".into())
    );
}

#[test]
fn bitbucket_server_signature_and_event_key() {
    let events = vec!["repo:refs_changed".to_string()];
    let body = br#"{"eventKey":"repo:refs_changed","changes":[{"ref":{"id":"refs/heads/main"}}]}"#;
    let sig = format!("sha256={}", hmac_hex::<Hmac<sha2::Sha256>>(body));
    let h = headers(&[
        ("content-type", "application/json; charset=utf-8".into()),
        ("x-event-key", "repo:refs_changed".into()),
        ("x-hub-signature", sig),
    ]);
    assert!(
        verify(&spec(ReceiverType::Bitbucket, &events), &h, body)
            .unwrap()
            .reconcile
    );
    let mut other = h.clone();
    other.insert("x-event-key", HeaderValue::from_static("pr:opened"));
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::Bitbucket, &events),
            &other,
            body
        )),
        RejectReason::EventNotAllowed("pr:opened".into())
    );
}

#[test]
fn harbor_authorization_header() {
    let body =
        br#"{"type":"PUSH_ARTIFACT","event_data":{"repository":{"repo_full_name":"lib/app"}}}"#;
    assert!(
        verify(
            &spec(ReceiverType::Harbor, &[]),
            &headers(&[("authorization", TOKEN.into())]),
            body
        )
        .is_ok()
    );
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::Harbor, &[]),
            &headers(&[("authorization", "x".into())]),
            body
        )),
        RejectReason::TokenMismatch("Authorization")
    );
}

#[test]
fn nexus_hmac_sha1() {
    let body = br#"{"timestamp":"2024-05-01T12:00:00.000+0000","nodeId":"n","initiator":"admin","repositoryName":"docker-hosted","action":"UPDATED"}"#;
    let good = headers(&[(
        "x-nexus-webhook-signature",
        hmac_hex::<Hmac<sha1::Sha1>>(body),
    )]);
    assert!(verify(&spec(ReceiverType::Nexus, &[]), &good, body).is_ok());
    let bad = headers(&[("x-nexus-webhook-signature", "00".repeat(20))]);
    assert_eq!(
        reason(verify(&spec(ReceiverType::Nexus, &[]), &bad, body)),
        RejectReason::BadSignature("X-Nexus-Webhook-Signature")
    );
}

#[test]
fn registry_payload_shapes() {
    let none = HeaderMap::new();
    let dockerhub = br#"{"push_data":{"pushed_at":1417566161,"pusher":"trustedbuilder","tag":"latest"},"repository":{"repo_url":"https://registry.hub.docker.com/u/svendowideit/testhook/","name":"testhook"}}"#;
    assert!(verify(&spec(ReceiverType::DockerHub, &[]), &none, dockerhub).is_ok());
    assert!(matches!(
        reason(verify(&spec(ReceiverType::DockerHub, &[]), &none, b"{}")),
        RejectReason::InvalidPayload(..)
    ));
    let quay =
        br#"{"repository":"org/app","docker_url":"quay.io/org/app","updated_tags":["latest"]}"#;
    assert!(verify(&spec(ReceiverType::Quay, &[]), &none, quay).is_ok());
    assert!(matches!(
        reason(verify(&spec(ReceiverType::Quay, &[]), &none, b"[1]")),
        RejectReason::InvalidPayload(..)
    ));
    let acr = br#"{"id":"1","timestamp":"2024-05-01T12:00:00Z","action":"push","target":{"repository":"app","tag":"v1"}}"#;
    assert!(verify(&spec(ReceiverType::Acr, &[]), &none, acr).is_ok());
    assert!(matches!(
        reason(verify(&spec(ReceiverType::Acr, &[]), &none, b"not json")),
        RejectReason::InvalidPayload(..)
    ));
}

#[test]
fn cdevents_shape_and_type_filter() {
    let events = vec!["dev.cdevents.artifact.published.0.1.1".to_string()];
    let body = br#"{"context":{"version":"0.4.1","id":"271069a8","source":"/ci","type":"dev.cdevents.artifact.published.0.1.1","timestamp":"2024-05-01T12:00:00Z"},"subject":{"id":"pkg:oci/app","content":{}}}"#;
    let h = headers(&[("ce-type", "dev.cdevents.artifact.published.0.1.1".into())]);
    assert!(verify(&spec(ReceiverType::CdEvents, &events), &h, body).is_ok());
    let other = headers(&[("ce-type", "dev.cdevents.build.started.0.1.1".into())]);
    assert!(matches!(
        reason(verify(&spec(ReceiverType::CdEvents, &events), &other, body)),
        RejectReason::EventNotAllowed(_)
    ));
    assert!(matches!(
        reason(verify(
            &spec(ReceiverType::CdEvents, &events),
            &h,
            b"{\"context\":{}}"
        )),
        RejectReason::InvalidPayload(..)
    ));
}

struct FakeGoogle;

impl IdTokenVerifier for FakeGoogle {
    fn verify(&self, token: &str, audience: &str) -> Option<IdTokenClaims> {
        (token == "valid.jwt.sig" && audience == "https://hook.example").then(|| IdTokenClaims {
            issuer: "https://accounts.google.com".into(),
            email: "pusher@proj.iam.gserviceaccount.com".into(),
            email_verified: true,
        })
    }
}

#[test]
fn gcr_needs_a_verified_token_and_pubsub_body() {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .encode(r#"{"action":"INSERT","digest":"gcr.io/p/app@sha256:ab","tag":"gcr.io/p/app:v1"}"#);
    let body = format!(
        r#"{{"message":{{"data":"{data}","messageId":"1","publishTime":"2024-05-01T12:00:00Z"}},"subscription":"projects/p/subscriptions/s"}}"#
    );
    let auth = GcrAuth {
        email: "pusher@proj.iam.gserviceaccount.com",
        audience: "https://hook.example",
        verifier: &FakeGoogle,
    };
    let gcr = ReceiverSpec {
        receiver_type: ReceiverType::Gcr,
        token: TOKEN,
        events: &[],
        gcr: Some(auth),
    };
    assert!(
        verify(
            &gcr,
            &headers(&[("authorization", "Bearer valid.jwt.sig".into())]),
            body.as_bytes()
        )
        .is_ok()
    );
    assert!(matches!(
        reason(verify(
            &gcr,
            &headers(&[("authorization", "Bearer forged.jwt.sig".into())]),
            body.as_bytes()
        )),
        RejectReason::GcrToken(_)
    ));
    let wrong_email = GcrAuth {
        email: "other@proj.iam.gserviceaccount.com",
        ..auth
    };
    let gcr_other = ReceiverSpec {
        gcr: Some(wrong_email),
        ..gcr
    };
    assert!(matches!(
        reason(verify(
            &gcr_other,
            &headers(&[("authorization", "Bearer valid.jwt.sig".into())]),
            body.as_bytes()
        )),
        RejectReason::GcrToken(_)
    ));
    assert_eq!(
        reason(verify(
            &spec(ReceiverType::Gcr, &[]),
            &HeaderMap::new(),
            body.as_bytes()
        )),
        RejectReason::GcrNotConfigured
    );
}

#[test]
fn oversized_body_is_rejected_with_413() {
    let body = vec![b' '; max_body_bytes() + 1];
    let rejected = verify(&spec(ReceiverType::Generic, &[]), &HeaderMap::new(), &body).unwrap_err();
    assert_eq!(
        (rejected.status, rejected.reason),
        (413, RejectReason::BodyTooLarge)
    );
    let small = verify(&spec(ReceiverType::Generic, &[]), &HeaderMap::new(), b"{}");
    assert!(small.is_ok());
}

#[test]
fn signature_types_reject_an_empty_token() {
    let empty = ReceiverSpec {
        receiver_type: ReceiverType::GenericHmac,
        token: "",
        events: &[],
        gcr: None,
    };
    let rejected = verify(
        &empty,
        &headers(&[("x-signature", "sha256=00".into())]),
        b"{}",
    )
    .unwrap_err();
    assert_eq!(
        (rejected.status, rejected.reason),
        (400, RejectReason::NoToken)
    );
}
