//! Signature and shared-token checks. Comparisons are constant time:
//! HMACs through `Mac::verify_slice`, tokens through `subtle`.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::RejectReason;

/// Checks `<header>: sha1=|sha256=|sha512=<hex>` against HMAC(body, token).
pub(super) fn verify_prefixed(
    headers: &HeaderMap,
    name: &'static str,
    token: &str,
    body: &[u8],
) -> Result<(), RejectReason> {
    let value = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(RejectReason::MissingHeader(name))?;
    let (algorithm, hex_mac) = value
        .split_once('=')
        .ok_or(RejectReason::BadSignature(name))?;
    let mac = hex::decode(hex_mac.trim()).map_err(|_| RejectReason::BadSignature(name))?;
    let key = token.as_bytes();
    let valid = match algorithm {
        "sha1" => hmac_matches::<Hmac<Sha1>>(key, body, &mac),
        "sha256" => hmac_matches::<Hmac<Sha256>>(key, body, &mac),
        "sha512" => hmac_matches::<Hmac<Sha512>>(key, body, &mac),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(RejectReason::BadSignature(name))
    }
}

/// GitHub's `ValidatePayload`: JSON or form content type, and the
/// `X-Hub-Signature-256` header (else `X-Hub-Signature`) over the raw body.
pub(super) fn verify_github_style(
    headers: &HeaderMap,
    token: &str,
    body: &[u8],
) -> Result<(), RejectReason> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media_type != "application/json" && media_type != "application/x-www-form-urlencoded" {
        return Err(RejectReason::UnsupportedContentType);
    }
    if headers.contains_key("X-Hub-Signature-256") {
        verify_prefixed(headers, "X-Hub-Signature-256", token, body)
    } else if headers.contains_key("X-Hub-Signature") {
        verify_prefixed(headers, "X-Hub-Signature", token, body)
    } else {
        Err(RejectReason::MissingHeader("X-Hub-Signature-256"))
    }
}

/// Nexus: `X-Nexus-Webhook-Signature: <hex HMAC-SHA1(body, token)>`.
pub(super) fn verify_nexus(
    headers: &HeaderMap,
    token: &str,
    body: &[u8],
) -> Result<(), RejectReason> {
    const NAME: &str = "X-Nexus-Webhook-Signature";
    let value = headers
        .get(NAME)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(RejectReason::MissingHeader(NAME))?;
    let mac = hex::decode(value.trim()).map_err(|_| RejectReason::BadSignature(NAME))?;
    if hmac_matches::<Hmac<Sha1>>(token.as_bytes(), body, &mac) {
        Ok(())
    } else {
        Err(RejectReason::BadSignature(NAME))
    }
}

/// A header that must equal the token (GitLab, Harbor).
pub(super) fn verify_shared_token(
    headers: &HeaderMap,
    name: &'static str,
    token: &str,
) -> Result<(), RejectReason> {
    let value = headers.get(name).ok_or(RejectReason::MissingHeader(name))?;
    if bool::from(value.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(RejectReason::TokenMismatch(name))
    }
}

fn hmac_matches<M: Mac + KeyInit>(key: &[u8], body: &[u8], expected: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(expected).is_ok()
}
