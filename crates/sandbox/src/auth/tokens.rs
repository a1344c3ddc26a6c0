//! Who a bearer token is: the administrator's token from the kubeconfig,
//! users from a static token file (kube-apiserver's `--token-file` CSV:
//! `token,user,uid,"group1,group2"`) or given programmatically, and
//! service account tokens issued by the TokenRequest API
//! (`POST .../serviceaccounts/<name>/token`).
//!
//! Issued tokens are random strings kept in memory (not signed JWTs): they
//! end with the sandbox and do not survive a restart on the same data
//! directory. Tokens are secrets: never logged, never in an error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use base64::Engine;
use rand::Rng;
use serde_json::{Value, json};

use super::{ADMIN, AUTHENTICATED, MASTERS, User};
use crate::api::{Api, Scope};
use crate::status::ApiError;

/// A user known by its bearer token, as a static token file line gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticUser {
    /// The bearer token.
    pub token: String,
    /// The user name RBAC bindings name.
    pub name: String,
    /// The user's uid (may be empty).
    pub uid: String,
    /// The groups the user is in (`system:authenticated` is added).
    pub groups: Vec<String>,
}

/// Why a static token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file cannot be read.
    #[error("cannot read the token file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    /// A line lacks the token, the user name or the uid.
    #[error(
        "{path}:{line}: expected token,user,uid[,\"group1,group2\"]; a line needs at least a token, a user name and a uid"
    )]
    Line {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
    },
}

impl StaticUser {
    /// Reads a kube-apiserver static token file: one user per line,
    /// `token,user,uid` and optionally a quoted, comma-separated group list.
    pub fn read_file(path: &Path) -> Result<Vec<StaticUser>, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut users = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || TokenFileError::Line {
                path: path.to_owned(),
                line: index + 1,
            };
            let mut fields = line.splitn(4, ',');
            let mut next = || fields.next().map(str::trim).unwrap_or_default().to_string();
            let (token, name, uid, groups) = (next(), next(), next(), next());
            if token.is_empty() || name.is_empty() {
                return Err(bad());
            }
            let groups = groups.trim_matches('"');
            users.push(StaticUser {
                token,
                name,
                uid,
                groups: groups
                    .split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_string)
                    .collect(),
            });
        }
        Ok(users)
    }
}

/// The tokens the sandbox accepts.
#[derive(Default)]
pub struct Tokens {
    known: HashMap<String, User>,
    issued: RwLock<HashMap<String, User>>,
}

impl Tokens {
    /// The admin's token (user `admin` in `system:masters`) and `users`.
    pub fn new(admin_token: &str, users: &[StaticUser]) -> Self {
        let mut known = HashMap::new();
        for user in users {
            let mut groups = user.groups.clone();
            if !groups.iter().any(|g| g == AUTHENTICATED) {
                groups.push(AUTHENTICATED.into());
            }
            known.insert(
                user.token.clone(),
                User {
                    name: user.name.clone(),
                    uid: user.uid.clone(),
                    groups,
                },
            );
        }
        known.insert(
            admin_token.to_string(),
            User {
                name: ADMIN.into(),
                uid: String::new(),
                groups: vec![MASTERS.into(), AUTHENTICATED.into()],
            },
        );
        Tokens {
            known,
            issued: RwLock::default(),
        }
    }

    /// Who the token belongs to, if anyone.
    pub fn user(&self, token: &str) -> Option<User> {
        if let Some(user) = self.known.get(token) {
            return Some(user.clone());
        }
        self.issued
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned()
    }

    /// Answers a TokenRequest for the service account `name` in
    /// `namespace`: a new token for its identity.
    pub fn request(
        &self,
        api: &Api,
        namespace: &str,
        name: &str,
        mut request: Value,
    ) -> Result<Value, ApiError> {
        let rt = api
            .catalog()
            .lookup("", "v1", "serviceaccounts")
            .ok_or_else(ApiError::no_such_resource)?;
        let scope = Scope {
            rt,
            version: "v1".into(),
            namespace: Some(namespace.to_string()),
        };
        let account = api.get(&scope, name)?;
        let uid = account
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let bytes: [u8; 32] = rand::rng().random();
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let seconds = request
            .pointer("/spec/expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
        let expires = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
        self.issued
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(token.clone(), User::service_account(namespace, name, uid));
        request["apiVersion"] = json!("authentication.k8s.io/v1");
        request["kind"] = json!("TokenRequest");
        if !request.get("metadata").is_some_and(Value::is_object) {
            request["metadata"] = json!({});
        }
        request["metadata"]["name"] = json!(name);
        request["metadata"]["namespace"] = json!(namespace);
        request["spec"]["expirationSeconds"] = json!(seconds);
        request["status"] = json!({
            "token": token,
            "expirationTimestamp": expires
                .replace_nanosecond(0)
                .unwrap_or(expires)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_file_reads_as_kube_apiserver_reads_it() {
        let dir = std::env::temp_dir().join(format!("driftless-tokens-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("tokens.csv");
        std::fs::write(&path, "# users\nt1,jane,42,\"dev,ops\"\nt2,bob,7\n").expect("write");
        let users = StaticUser::read_file(&path).expect("parsed");
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].groups, ["dev", "ops"]);
        assert_eq!(
            (users[1].name.as_str(), users[1].uid.as_str()),
            ("bob", "7")
        );
        let tokens = Tokens::new("admin-token", &users);
        let jane = tokens.user("t1").expect("known");
        assert_eq!(jane.groups, ["dev", "ops", AUTHENTICATED]);
        assert!(tokens.user("admin-token").expect("admin").is_master());
        assert!(tokens.user("nope").is_none());
        std::fs::write(&path, "only-a-token\n").expect("write");
        let err = StaticUser::read_file(&path).expect_err("incomplete line");
        assert!(err.to_string().ends_with("tokens.csv:1: expected token,user,uid[,\"group1,group2\"]; a line needs at least a token, a user name and a uid"), "{err}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
