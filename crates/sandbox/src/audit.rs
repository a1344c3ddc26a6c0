//! The audit log: one JSON line per request in kube-apiserver's
//! `audit.k8s.io/v1` `Event` format at level `Metadata` — who asked
//! (and whom they impersonated), what, from where, and the answer's code —
//! so tests and users can read what a client did, as with a real server's
//! `--audit-log-path`.
//!
//! Owns the file and the event's shape; `server` says what each request
//! was and how it ended. Every request but the health checks is logged,
//! refused ones included (401s with an empty user, as the real server
//! logs failed authentication). Differences from the real server: one event per
//! request at stage `ResponseComplete` (a watch's when its stream starts),
//! and no policy file — everything is logged at `Metadata`, which never
//! holds a request or response body, so no Secret's data reaches the file.
//!
//! Lines are written unbuffered, one `write` each, so a reader sees whole
//! events as soon as the response is sent.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::auth::{Attributes, User};

/// Why the audit log cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open the audit log {path} for appending; check the directory exists and is writable, or choose another --audit-log"
)]
pub struct AuditLogError {
    /// The file asked for.
    pub path: PathBuf,
    /// The operating system's answer.
    #[source]
    pub source: std::io::Error,
}

/// An open audit log.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// One finished request, as the audit event describes it.
pub struct Entry<'a> {
    pub audit_id: &'a str,
    pub uri: &'a hyper::Uri,
    pub attributes: &'a Attributes,
    /// The API version of a resource request (empty otherwise).
    pub version: &'a str,
    /// Who the token belongs to; `None` when authentication failed.
    pub user: Option<&'a User>,
    /// Whom the request acted as, when it impersonated someone.
    pub impersonated: Option<&'a User>,
    pub peer: SocketAddr,
    pub user_agent: &'a str,
    pub code: u16,
    pub received: time::OffsetDateTime,
}

impl AuditLog {
    /// Opens (creating or appending to) `path`.
    pub fn open(path: &Path) -> Result<AuditLog, AuditLogError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditLogError {
                path: path.to_owned(),
                source,
            })?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends the event of one finished request.
    pub fn write(&self, entry: &Entry<'_>) {
        let mut line =
            serde_json::to_vec(&event(entry, time::OffsetDateTime::now_utc())).unwrap_or_default();
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(err) = file.write_all(&line) {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot write to the audit log");
        }
    }
}

/// A fresh audit ID, a random UUID as the real server makes them.
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| match i {
            // Version 4, variant 1.
            6 => format!("{:02x}", (b & 0x0f) | 0x40),
            8 => format!("{:02x}", (b & 0x3f) | 0x80),
            _ => format!("{b:02x}"),
        })
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// RFC 3339 with microseconds, as audit events carry their times.
fn micro_time(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn user_info(user: &User) -> Value {
    let mut info = json!({"username": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    info
}

fn event(entry: &Entry<'_>, now: time::OffsetDateTime) -> Value {
    let mut event = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": entry.audit_id,
        "stage": "ResponseComplete",
        "requestURI": entry.uri.path_and_query().map_or_else(|| entry.uri.path(), |p| p.as_str()),
        "verb": entry.attributes.verb,
        "user": entry.user.map_or_else(|| json!({}), user_info),
        "sourceIPs": [entry.peer.ip().to_string()],
        "userAgent": entry.user_agent,
        "responseStatus": {"metadata": {}, "code": entry.code},
        "requestReceivedTimestamp": micro_time(entry.received),
        "stageTimestamp": micro_time(now),
    });
    if let Some(impersonated) = entry.impersonated {
        event["impersonatedUser"] = user_info(impersonated);
    }
    if let Some(target) = &entry.attributes.resource {
        let mut object = serde_json::Map::new();
        for (key, value) in [
            ("resource", &target.resource),
            ("namespace", &target.namespace),
            ("name", &target.name),
            ("apiGroup", &target.group),
            ("subresource", &target.subresource),
        ] {
            if !value.is_empty() {
                object.insert(key.into(), json!(value));
            }
        }
        if !entry.version.is_empty() {
            object.insert("apiVersion".into(), json!(entry.version));
        }
        event["objectRef"] = Value::Object(object);
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impersonated_request_names_both_users() {
        let uri: hyper::Uri = "/api/v1/namespaces/other/configmaps?fieldManager=x"
            .parse()
            .expect("uri");
        let attributes = Attributes::from_request(&hyper::Method::POST, uri.path(), false, None);
        let admin = User {
            name: "admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into()],
        };
        let tenant = User::service_account("default", "deployer", "");
        let received = time::macros::datetime!(2026-12-05 07:00:00.000123 UTC);
        let event = event(
            &Entry {
                audit_id: "id",
                uri: &uri,
                attributes: &attributes,
                version: "v1",
                user: Some(&admin),
                impersonated: Some(&tenant),
                peer: "127.0.0.1:4000".parse().expect("addr"),
                user_agent: "kubectl",
                code: 403,
                received,
            },
            received,
        );
        assert_eq!(event["user"]["username"], "admin");
        assert_eq!(
            event["impersonatedUser"]["username"],
            "system:serviceaccount:default:deployer"
        );
        assert_eq!(event["verb"], "create");
        assert_eq!(
            event["objectRef"],
            json!({"resource": "configmaps", "namespace": "other", "apiVersion": "v1"})
        );
        assert_eq!(event["responseStatus"]["code"], 403);
        assert_eq!(
            event["requestReceivedTimestamp"],
            "2026-12-05T07:00:00.000123Z"
        );
        assert_eq!(
            event["requestURI"],
            "/api/v1/namespaces/other/configmaps?fieldManager=x"
        );
        assert_eq!(event["sourceIPs"], json!(["127.0.0.1"]));
    }

    #[test]
    fn audit_ids_are_version_4_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(id, new_id());
    }
}
