//! Payload shape checks for the registry receivers, the CDEvents check, and
//! the GCR (Pub/Sub push) token check.
//!
//! GCR limit: Flux verifies the Pub/Sub push JWT against Google's public
//! keys, which needs the network. This crate takes an [`IdTokenVerifier`]
//! from the caller for the signature and audience, then applies Flux's claim
//! rules (issuer, email, `email_verified`); without one, `gcr` requests are
//! rejected.

use base64::Engine;
use serde_json::Value;

use super::{GcrAuth, RejectReason};

/// Claims of a verified Google ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// `iss`.
    pub issuer: String,
    /// `email`.
    pub email: String,
    /// `email_verified`.
    pub email_verified: bool,
}

/// Verifies a Google-signed ID token (signature, expiry, `aud`).
pub trait IdTokenVerifier {
    /// The token's claims if it is valid for `audience`, else `None`.
    fn verify(&self, token: &str, audience: &str) -> Option<IdTokenClaims>;
}

fn parse(kind: &'static str, body: &[u8]) -> Result<Value, RejectReason> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| RejectReason::InvalidPayload(kind, "not JSON"))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(RejectReason::InvalidPayload(kind, "not a JSON object"))
    }
}

fn string_at<'v>(value: &'v Value, pointer: &str) -> Option<&'v str> {
    value.pointer(pointer).and_then(Value::as_str)
}

pub(super) fn dockerhub(body: &[u8]) -> Result<(), RejectReason> {
    let v = parse("DockerHub", body)?;
    string_at(&v, "/push_data/tag").ok_or(RejectReason::InvalidPayload(
        "DockerHub",
        "push_data.tag missing",
    ))?;
    string_at(&v, "/repository/repo_url").ok_or(RejectReason::InvalidPayload(
        "DockerHub",
        "repository.repo_url missing",
    ))?;
    Ok(())
}

pub(super) fn quay(body: &[u8]) -> Result<(), RejectReason> {
    let v = parse("Quay", body)?;
    string_at(&v, "/docker_url")
        .ok_or(RejectReason::InvalidPayload("Quay", "docker_url missing"))?;
    match v.get("updated_tags") {
        None | Some(Value::Array(_)) => Ok(()),
        Some(_) => Err(RejectReason::InvalidPayload(
            "Quay",
            "updated_tags is not a list",
        )),
    }
}

pub(super) fn acr(body: &[u8]) -> Result<(), RejectReason> {
    let v = parse("ACR", body)?;
    string_at(&v, "/action").ok_or(RejectReason::InvalidPayload("ACR", "action missing"))?;
    string_at(&v, "/target/repository").ok_or(RejectReason::InvalidPayload(
        "ACR",
        "target.repository missing",
    ))?;
    Ok(())
}

pub(super) fn nexus(body: &[u8]) -> Result<(), RejectReason> {
    let v = parse("Nexus", body)?;
    string_at(&v, "/repositoryName").ok_or(RejectReason::InvalidPayload(
        "Nexus",
        "repositoryName missing",
    ))?;
    Ok(())
}

/// CDEvents v0.4: a `context` with `version`, `id`, `source`, `type`
/// (`dev.cdevents.*`), `timestamp`, and a `subject` with `content`.
pub(super) fn cdevent(body: &[u8]) -> Result<(), RejectReason> {
    let v = parse("CDEvent", body)?;
    for field in [
        "/context/version",
        "/context/id",
        "/context/source",
        "/context/timestamp",
    ] {
        string_at(&v, field).ok_or(RejectReason::InvalidPayload(
            "CDEvent",
            "context field missing",
        ))?;
    }
    let event_type = string_at(&v, "/context/type").unwrap_or_default();
    if !event_type.starts_with("dev.cdevents.") {
        return Err(RejectReason::InvalidPayload(
            "CDEvent",
            "context.type is not a CDEvents type",
        ));
    }
    if !v.pointer("/subject/content").is_some_and(Value::is_object) {
        return Err(RejectReason::InvalidPayload(
            "CDEvent",
            "subject.content missing",
        ));
    }
    Ok(())
}

/// Pub/Sub push: `Authorization: Bearer <ID token>` for the subscription's
/// service account, and a body whose `message.data` is base64 JSON.
pub(super) fn gcr(
    auth: &GcrAuth<'_>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<(), RejectReason> {
    if auth.email.is_empty() || auth.audience.is_empty() {
        return Err(RejectReason::GcrNotConfigured);
    }
    let token = authorization
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or(RejectReason::GcrToken(
            "the Authorization header is missing or malformed",
        ))?;
    let claims = auth
        .verifier
        .verify(token, auth.audience)
        .ok_or(RejectReason::GcrToken("invalid ID token"))?;
    if claims.issuer != "accounts.google.com" && claims.issuer != "https://accounts.google.com" {
        return Err(RejectReason::GcrToken(
            "token issuer is not accounts.google.com",
        ));
    }
    if claims.email != auth.email {
        return Err(RejectReason::GcrToken(
            "token email is not the expected service account",
        ));
    }
    if !claims.email_verified {
        return Err(RejectReason::GcrToken("token email is not verified"));
    }
    let v = parse("GCR", body)?;
    let data = string_at(&v, "/message/data")
        .ok_or(RejectReason::InvalidPayload("GCR", "message.data missing"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| RejectReason::InvalidPayload("GCR", "message.data is not base64"))?;
    parse("GCR", &raw).map(|_| ())
}
