//! Who is asking and what they may do: authentication (bearer tokens),
//! impersonation and RBAC authorization, as a real API server does them.
//!
//! Owns the identity of every request and the decision to serve it. Must
//! not touch objects beyond reading the RBAC kinds (and service accounts
//! for token requests); `server` calls [`Auth::admit`] once per request
//! before routing, and passes the caller on to the write path only for the
//! escalation check on RBAC kinds.
//!
//! Why our own: RBAC is a few pages of matching rules that must agree with
//! the objects in our own store; no crate evaluates Kubernetes RBAC.
//!
//! Layout: `tokens` (who a token is), `attributes` (what a request asks),
//! `impersonation` (acting as someone else), `rbac` (rules, bindings and
//! their cached index), `defaults` (the roles a fresh cluster has),
//! `escalation` (no granting what one does not hold).

mod attributes;
mod defaults;
mod escalation;
mod impersonation;
pub mod rbac;
mod tokens;

use std::sync::Arc;

pub use attributes::{Attributes, ResourceAttributes};
pub use defaults::bootstrap;
pub use tokens::{StaticUser, TokenFileError, Tokens};

use crate::api::Api;
use crate::status::ApiError;

/// The group whose members may do anything, as on a real cluster.
pub const MASTERS: &str = "system:masters";
/// Every authenticated caller is in this group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The sandbox administrator, whose token is in the kubeconfig.
pub const ADMIN: &str = "admin";

/// An authenticated (or impersonated) caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }

    /// The identity of a service account, with the groups Kubernetes gives it.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> User {
        User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.to_string(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.into(),
            ],
        }
    }
}

/// Who sent a request, and whom it acts as.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The owner of the bearer token.
    pub authenticated: User,
    /// The user named by the impersonation headers, when there are any.
    pub impersonated: Option<User>,
}

impl Caller {
    /// The user the request runs as: the impersonated one, else the token's.
    pub fn acting(&self) -> &User {
        self.impersonated.as_ref().unwrap_or(&self.authenticated)
    }
}

/// A request refused by [`Auth::admit`], with whoever was known by then.
#[derive(Debug)]
pub struct Refused {
    /// The 401 or 403 to answer.
    pub error: ApiError,
    /// `None` when the token was unknown.
    pub caller: Option<Caller>,
}

/// How requests are authorized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Authorization {
    /// Role-based access control over the stored RBAC objects (a real
    /// cluster's default).
    #[default]
    Rbac,
    /// Everyone authenticated may do anything (no RBAC): for comparisons
    /// and benchmarks only.
    AlwaysAllow,
}

/// Authentication, impersonation and authorization for one sandbox.
pub struct Auth {
    pub tokens: Tokens,
    pub rbac: rbac::Authorizer,
    pub mode: Authorization,
}

impl Auth {
    pub fn new(tokens: Tokens, mode: Authorization) -> Self {
        Auth {
            tokens,
            rbac: rbac::Authorizer::default(),
            mode,
        }
    }

    /// Who a request comes from and acts as, once its token, its
    /// impersonation headers and the request itself are allowed: 401 for
    /// an unknown token, 403 for a refused impersonation or request. A
    /// refusal still says who was known by then, for the audit log.
    pub fn admit(
        &self,
        api: &Api,
        headers: &hyper::HeaderMap,
        attributes: &Attributes,
    ) -> Result<Caller, Box<Refused>> {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(authenticated) = bearer.and_then(|b| self.tokens.user(b)) else {
            return Err(Box::new(Refused {
                error: ApiError::unauthorized(),
                caller: None,
            }));
        };
        let acting = match impersonation::impersonate(self, api, &authenticated, headers) {
            Ok(acting) => acting,
            Err(error) => {
                return Err(Box::new(Refused {
                    error,
                    caller: Some(Caller {
                        authenticated,
                        impersonated: None,
                    }),
                }));
            }
        };
        let caller = Caller {
            impersonated: headers.contains_key("impersonate-user").then_some(acting),
            authenticated,
        };
        if !self.allows(api, caller.acting(), attributes) {
            return Err(Box::new(Refused {
                error: attributes.forbidden(caller.acting()),
                caller: Some(caller),
            }));
        }
        Ok(caller)
    }

    /// Whether `user` may do what `attributes` describe.
    pub fn allows(&self, api: &Api, user: &User, attributes: &Attributes) -> bool {
        self.mode == Authorization::AlwaysAllow
            || user.is_master()
            || self.rbac.snapshot(api).allows(user, attributes).is_some()
    }

    /// The escalation check a write of an RBAC object by `user` must pass,
    /// or `None` when nothing needs checking (masters, no RBAC, other kinds).
    pub fn escalation_check(
        &self,
        api: &Api,
        user: &User,
        group: &str,
    ) -> Option<crate::api::Admission> {
        if self.mode == Authorization::AlwaysAllow || user.is_master() || group != rbac::GROUP {
            return None;
        }
        Some(escalation::admission(
            self.rbac.snapshot(api),
            Arc::new(user.clone()),
        ))
    }
}
