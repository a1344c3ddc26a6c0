//! The credentials of a git chart's dependencies, found as Flux's
//! dependency manager finds them: the namespace's HelmRepository whose
//! `spec.url` is the dependency's `repository` (trailing `/` ignored) —
//! an HTTP one for `http(s)://`, a `type: oci` one for `oci://` — else
//! anonymous. The `oci://` ones are pulled here, before the blocking
//! build, because the registry client is async; the source crate decides
//! versions and checks the packages.

use std::path::Path;
use std::time::Duration;

use driftless_api::HelmRepository;
use driftless_api::conditions::reasons;
use driftless_source::helm::{self, OciRegistry, PulledChart};
use driftless_source::oci::{OciAuth, Repository};
use kube::api::Api;

use crate::helmrepository::{helm_failed, http_repository, secret_data};
use crate::ocirepository::pull_failed;
use crate::reconciler::ReconcileError;
use crate::{Context, duration_of};

/// The namespace's HTTP HelmRepositories whose URL a dependency of the
/// chart at `chart_path` names, with their credentials.
pub(super) async fn http_repositories(
    context: &Context,
    namespace: &str,
    source_root: &Path,
    chart_path: &str,
) -> Result<Vec<helm::HelmRepository>, ReconcileError> {
    let urls = helm::dependency_repository_urls(source_root, chart_path);
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for repo in list(context, namespace).await?.iter().filter(|r| {
        !r.is_oci()
            && urls
                .iter()
                .any(|url| url == r.spec.url.trim_end_matches('/'))
    }) {
        found.push(http_repository(repo, &context.client, namespace).await?);
    }
    Ok(found)
}

/// The packages of the chart's `oci://` dependencies not vendored in
/// `charts/`, pulled with the credentials of the namespace's `type: oci`
/// HelmRepository for each registry URL.
pub(super) async fn pull_oci(
    context: &Context,
    namespace: &str,
    source_root: &Path,
    chart_path: &str,
) -> Result<Vec<PulledChart>, ReconcileError> {
    let dependencies = helm::oci_dependencies(source_root, chart_path);
    if dependencies.is_empty() {
        return Ok(Vec::new());
    }
    let mut registries = Vec::new();
    for repo in list(context, namespace).await?.iter().filter(|r| {
        r.is_oci()
            && dependencies
                .iter()
                .any(|d| d.repository == r.spec.url.trim_end_matches('/'))
    }) {
        let timeout = match &repo.spec.timeout {
            Some(t) => duration_of("timeout", t)
                .map_err(|message| ReconcileError::stalled(reasons::URL_INVALID, message))?,
            None => Duration::from_secs(60),
        };
        registries.push(OciRegistry {
            url: repo.spec.url.clone(),
            auth: registry_auth(repo, &context.client, namespace).await?,
            insecure: repo.spec.insecure,
            timeout,
        });
    }
    helm::pull_oci_dependencies(&context.oci, chart_path, &dependencies, &registries)
        .await
        .map_err(|e| {
            let mut error = helm_failed(&e);
            error.reason = reasons::BUILD_FAILED;
            error
        })
}

/// The registry credentials of a `type: oci` HelmRepository's
/// `spec.secretRef`, as Flux reads them: the `.dockerconfigjson` entry for
/// the URL's host, else `username` and `password`; anonymous without a
/// Secret or a matching entry.
pub(super) async fn registry_auth(
    repo: &HelmRepository,
    client: &kube::Client,
    namespace: &str,
) -> Result<OciAuth, ReconcileError> {
    let Some(secret) = &repo.spec.secret_ref else {
        return Ok(OciAuth::Anonymous);
    };
    let data = secret_data(client, namespace, &secret.name).await?;
    if let Some(config) = data.get(".dockerconfigjson") {
        let host = Repository::parse(&repo.spec.url)
            .map_err(|e| pull_failed(&e))?
            .registry;
        return OciAuth::from_docker_config(config, &host).map_err(|e| pull_failed(&e));
    }
    let text = |key: &str| {
        data.get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    Ok(match (text("username"), text("password")) {
        (Some(username), Some(password)) => OciAuth::Basic { username, password },
        _ => OciAuth::Anonymous,
    })
}

async fn list(context: &Context, namespace: &str) -> Result<Vec<HelmRepository>, ReconcileError> {
    Ok(Api::<HelmRepository>::namespaced(context.client.clone(), namespace)
        .list(&Default::default())
        .await
        .map_err(|e| {
            ReconcileError::retryable(
                reasons::ARTIFACT_FAILED,
                format!(
                    "cannot list the HelmRepositories of namespace {namespace} for the chart's dependencies: {e}"
                ),
            )
        })?
        .items)
}
