//! Property fuzzing of webhook receivers (issue 17, item 4): random
//! headers and bodies for every receiver type never panic, and a type that
//! checks a token never accepts a request that does not carry it.
//!
//! The default case count keeps `cargo test` short; `DRIFTLESS_FUZZ_CASES`
//! raises it (`.ci/fuzz` sets it).

use driftless_notify::max_body_bytes;
use driftless_notify::receiver::{ReceiverSpec, ReceiverType, RejectReason, verify};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

fn config() -> ProptestConfig {
    let cases = std::env::var("DRIFTLESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const TOKEN: &str = "s3cr3t-token";

/// Types whose requests must prove they know the token.
const TOKEN_CHECKED: [ReceiverType; 6] = [
    ReceiverType::GenericHmac,
    ReceiverType::GitHub,
    ReceiverType::GitLab,
    ReceiverType::Bitbucket,
    ReceiverType::Harbor,
    ReceiverType::Nexus,
];

/// Headers receivers read, with values that look right but carry no
/// knowledge of the token (wrong signatures, other tokens, empty).
fn headers() -> impl Strategy<Value = HeaderMap> {
    let name = prop::sample::select(vec![
        "X-Signature",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "X-Gitlab-Token",
        "X-Gitlab-Event",
        "Authorization",
        "X-Nexus-Webhook-Signature",
        "X-GitHub-Event",
        "X-Event-Key",
        "Content-Type",
        "Ce-Type",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            "sha256=",
            "sha1=00",
            "sha512=zz",
            "s3cr3t-token ",
            "S3CR3T-TOKEN",
            "s3cr3t",
            "Bearer s3cr3t-token",
            "push",
            "ping",
            "application/json",
            "application/x-www-form-urlencoded",
            "dev.cdevents.artifact.published.0.1.1",
        ])
        .prop_map(str::to_owned),
        "(sha1=|sha256=)?[0-9a-f]{0,80}",
    ];
    prop::collection::vec((name, value), 0..6).prop_map(|pairs| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(leak_lower(name)),
                HeaderValue::from_str(&value).expect("printable header value"),
            );
        }
        map
    })
}

/// `HeaderName::from_static` wants lower case; the names above are few and
/// fixed, so each is lowered once.
fn leak_lower(name: &str) -> &'static str {
    Box::leak(name.to_ascii_lowercase().into_boxed_str())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let json = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "null",
        "1",
        "\"push_data\"",
        "\"tag\"",
        "\"target\"",
        "\"repository\"",
        "\"updated_tags\"",
        "\"action\"",
        "\"context\"",
        "\"subject\"",
        "\"message\"",
        "\"data\"",
        "\"eyJ9\"",
        "\u{e9}",
    ]);
    prop_oneof![
        prop::collection::vec(json, 0..24).prop_map(|p| p.concat().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn spec<'a>(receiver_type: ReceiverType, token: &'a str, events: &'a [String]) -> ReceiverSpec<'a> {
    ReceiverSpec {
        receiver_type,
        token,
        events,
        gcr: None,
    }
}

proptest! {
    #![proptest_config(config())]

    /// No receiver type panics on any request, and the token-checked ones
    /// never accept a request that does not carry the token.
    #[test]
    fn never_accepts_without_the_token(
        which in any::<prop::sample::Index>(),
        headers in headers(),
        body in body(),
        filtered in any::<bool>(),
    ) {
        let receiver_type = ReceiverType::ALL[which.index(ReceiverType::ALL.len())];
        let events = if filtered { vec!["push".to_owned()] } else { Vec::new() };
        let result = verify(&spec(receiver_type, TOKEN, &events), &headers, &body);
        if TOKEN_CHECKED.contains(&receiver_type) {
            prop_assert!(result.is_err(), "{} accepted {:?}", receiver_type.as_str(), headers);
        }
        // A type that checks a token accepts nothing when none is set.
        let without = verify(&spec(receiver_type, "", &events), &headers, &body);
        if TOKEN_CHECKED.contains(&receiver_type) {
            prop_assert!(without.is_err(), "{} accepted with no token", receiver_type.as_str());
        }
    }

    /// The shared-token types accept exactly their token, whatever else
    /// the request holds.
    #[test]
    fn shared_token_is_enough(headers in headers(), body in body(), gitlab in any::<bool>()) {
        let (receiver_type, name) = if gitlab {
            (ReceiverType::GitLab, "x-gitlab-token")
        } else {
            (ReceiverType::Harbor, "authorization")
        };
        let mut headers = headers;
        headers.insert(name, HeaderValue::from_static(TOKEN));
        let result = verify(&spec(receiver_type, TOKEN, &[]), &headers, &body);
        prop_assert!(result.is_ok(), "{:?}", result);
    }
}

/// A body one byte over the limit is refused with 413 for every type,
/// before any parsing.
#[test]
fn oversized_body_is_refused_for_every_type() {
    let body = vec![b'{'; max_body_bytes() + 1];
    for receiver_type in ReceiverType::ALL {
        let rejected = verify(&spec(receiver_type, TOKEN, &[]), &HeaderMap::new(), &body)
            .expect_err("an oversized body is refused");
        assert_eq!(rejected.status, 413, "{}", receiver_type.as_str());
        assert_eq!(rejected.reason, RejectReason::BodyTooLarge);
    }
}
