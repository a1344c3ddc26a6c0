//! From a GitRepository's spec to the source crate's request: the
//! reference (Flux's precedence) and the credentials of `spec.secretRef`.

use driftless_api::conditions::reasons;
use driftless_api::{GitRepository, GitRepositoryRef};
use driftless_source::{GitAuth, GitReference, GitSource};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;

use crate::duration_of;
use crate::reconciler::ReconcileError;

/// Flux's precedence: commit, name, semver, tag, branch; `master` when unset.
pub(crate) fn reference(reference: Option<&GitRepositoryRef>) -> GitReference {
    let Some(reference) = reference else {
        return GitReference::default();
    };
    if let Some(sha) = &reference.commit {
        GitReference::Commit {
            sha: sha.clone(),
            branch: reference.branch.clone(),
        }
    } else if let Some(name) = &reference.name {
        GitReference::Name(name.clone())
    } else if let Some(range) = &reference.semver {
        GitReference::Semver(range.clone())
    } else if let Some(tag) = &reference.tag {
        GitReference::Tag(tag.clone())
    } else if let Some(branch) = &reference.branch {
        GitReference::Branch(branch.clone())
    } else {
        GitReference::default()
    }
}

/// The source crate's request for `repo`, with the credentials of
/// `spec.secretRef` read from the cluster.
pub(crate) async fn git_source(
    repo: &GitRepository,
    client: &kube::Client,
) -> Result<GitSource, ReconcileError> {
    let failed =
        |message: String| ReconcileError::retryable(reasons::AUTHENTICATION_FAILED, message);
    let mut source = GitSource::new(
        repo.spec.url.clone(),
        reference(repo.spec.reference.as_ref()),
    );
    source.ignore = repo.spec.ignore.clone();
    source.recurse_submodules = repo.spec.recurse_submodules;
    if let Some(timeout) = &repo.spec.timeout {
        source.timeout = duration_of("timeout", timeout).map_err(failed)?;
    }
    if let Some(secret_ref) = &repo.spec.secret_ref {
        let namespace = repo.namespace().unwrap_or_default();
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let secret = api
            .get_opt(&secret_ref.name)
            .await
            .map_err(|e| {
                failed(format!(
                    "cannot read secret '{namespace}/{}' of spec.secretRef: {e}",
                    secret_ref.name
                ))
            })?
            .ok_or_else(|| {
                failed(format!(
                    "secret '{namespace}/{}' of spec.secretRef not found; create it (driftless create secret git) or fix spec.secretRef",
                    secret_ref.name
                ))
            })?;
        source.auth = Some(auth_from_secret(&secret).map_err(|missing| {
            failed(format!(
                "secret '{namespace}/{}' has {missing}",
                secret_ref.name
            ))
        })?);
    }
    Ok(source)
}

/// Flux's keys: `identity` + `known_hosts` (SSH), `bearerToken`, or
/// `username` + `password`.
fn auth_from_secret(secret: &Secret) -> Result<GitAuth, &'static str> {
    let value = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .cloned()
            })
    };
    if let Some(identity) = value("identity") {
        let known_hosts = value("known_hosts")
            .ok_or("an `identity` but no `known_hosts`: add the server's host key (ssh-keyscan) so it can be verified")?;
        return Ok(GitAuth::Ssh {
            identity,
            known_hosts,
        });
    }
    if let Some(token) = value("bearerToken") {
        return Ok(GitAuth::Bearer(token));
    }
    match (value("username"), value("password")) {
        (Some(username), Some(password)) => Ok(GitAuth::Basic { username, password }),
        (Some(_), None) => Err("a `username` but no `password`"),
        _ => Err("none of the keys `identity`, `bearerToken` or `username`/`password`"),
    }
}
