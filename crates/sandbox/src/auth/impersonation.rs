//! Acting as someone else: the `Impersonate-User`, `Impersonate-Group` and
//! `Impersonate-Uid` headers, each authorized with the `impersonate` verb
//! (on `users`, `serviceaccounts`, `groups`, and `uids` in
//! `authentication.k8s.io`), as Kubernetes does. The request then runs as
//! the impersonated user, with only the groups asked for plus
//! `system:authenticated` (a service account without groups asked for gets
//! its own).

use super::attributes::{Attributes, ResourceAttributes};
use super::{AUTHENTICATED, Auth, User};
use crate::api::Api;
use crate::status::ApiError;

fn values<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// The user the request acts as: `user`, or whom it impersonates once
/// `user` may.
pub fn impersonate(
    auth: &Auth,
    api: &Api,
    user: &User,
    headers: &hyper::HeaderMap,
) -> Result<User, ApiError> {
    let names = values(headers, "impersonate-user");
    let groups = values(headers, "impersonate-group");
    let uids = values(headers, "impersonate-uid");
    let Some(name) = names.first() else {
        if groups.is_empty() && uids.is_empty() {
            return Ok(user.clone());
        }
        return Err(ApiError::bad_request(
            "requested impersonation of groups or a uid without impersonating a user: add Impersonate-User",
        ));
    };
    let check = |resource: &str, group: &str, namespace: &str, name: &str| {
        let attributes = Attributes::resource(
            "impersonate",
            ResourceAttributes {
                group: group.into(),
                resource: resource.into(),
                name: name.into(),
                namespace: namespace.into(),
                ..Default::default()
            },
        );
        if auth.allows(api, user, &attributes) {
            Ok(())
        } else {
            Err(attributes.forbidden(user))
        }
    };
    let account = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    match account {
        Some((namespace, account)) => check("serviceaccounts", "", namespace, account)?,
        None => check("users", "", "", name)?,
    }
    for group in &groups {
        check("groups", "", "", group)?;
    }
    for uid in &uids {
        check("uids", "authentication.k8s.io", "", uid)?;
    }
    let mut impersonated = match account {
        Some((namespace, account)) if groups.is_empty() => {
            User::service_account(namespace, account, "")
        }
        _ => User {
            name: (*name).to_string(),
            uid: String::new(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
        },
    };
    if let Some(uid) = uids.first() {
        impersonated.uid = (*uid).to_string();
    }
    if !impersonated.groups.iter().any(|g| g == AUTHENTICATED) {
        impersonated.groups.push(AUTHENTICATED.into());
    }
    Ok(impersonated)
}
