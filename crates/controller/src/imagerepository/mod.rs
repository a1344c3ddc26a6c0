//! The `ImageRepository` reconciler (Flux's image-reflector-controller):
//! spec (+ its Secrets) → a scan of the registry's tags → the tags kept in
//! memory for the ImagePolicies ([`TagStore`]) and `status.lastScanResult`.
//!
//! A scan runs when the object changed (generation, image, exclusion
//! list), on a reconcile request, when the interval passed, and when this
//! process has no tags for it yet. A scan that finds the same tags writes
//! nothing. On a failure the last scan result stays, in the status and in
//! memory, so the policies keep their choice.

mod scan;
mod status;
mod store;

pub(crate) use store::TagStore;

use std::sync::Arc;
use std::time::Duration;

use driftless_api::ImageRepository;
use driftless_api::ImageRepositoryStatus;
use driftless_api::conditions::{self, reasons, types};
use driftless_source::oci::{ImageName, OciAuth, OciError, ScanOptions, scan_tags};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::ResourceExt;
use kube::api::Api;

use crate::reconciler::{self, Event, Outcome, ReconcileError, Reconciler, Run, Stamp};
use crate::{Context, duration_of};

/// Reconciles ImageRepositories until the watch ends.
pub(crate) async fn run(context: Arc<Context>) {
    let api: Api<ImageRepository> = Api::all(context.client.clone());
    let controller = crate::watch::controller(api);
    reconciler::run(controller, context, ImageRepositories).await;
}

/// The ImageRepository kind's reconcile logic.
pub(crate) struct ImageRepositories;

impl Reconciler for ImageRepositories {
    type Object = ImageRepository;
    type Status = ImageRepositoryStatus;

    fn status(repo: &ImageRepository) -> Option<&ImageRepositoryStatus> {
        repo.status.as_ref()
    }

    fn conditions(status: &ImageRepositoryStatus) -> &[Condition] {
        status.conditions.as_deref().unwrap_or_default()
    }

    async fn reconcile(
        &self,
        repo: &ImageRepository,
        run: &Run<'_, Self::Object>,
    ) -> Result<Outcome<ImageRepositoryStatus>, ReconcileError> {
        let context = run.context;
        let interval = duration_of("interval", &repo.spec.interval)
            .map_err(|message| ReconcileError::stalled(reasons::RECONCILIATION_FAILED, message))?;
        if let Some(field) = unsupported_field(repo) {
            return Err(ReconcileError::unsupported_field("ImageRepository", field));
        }
        let image = ImageName::parse(&repo.spec.image).map_err(|e| scan_failed(&e))?;
        let exclusion_list = repo.exclusion_list();
        let exclusions = scan::exclusions(&exclusion_list)?;
        let status = repo.status.clone().unwrap_or_default();
        let namespace = repo.namespace().unwrap_or_default();
        let name = repo.name_any();
        let canonical = image.canonical();
        // Flux scans at once when the image or the exclusion list changed,
        // or when it holds no tags for the repository (here: after a restart).
        let inputs_changed = status.canonical_image_name.as_deref() != Some(canonical.as_str())
            || status.observed_exclusion_list != exclusion_list
            || status.last_scan_result.is_none()
            || context.image_tags.get(&namespace, &name).is_none();
        let up_to_date = status.observed_generation == repo.metadata.generation;
        if let Err(remaining) = run.due(up_to_date, inputs_changed, interval) {
            return Ok(Outcome::NotDue(remaining));
        }
        run.start();

        let (auth, options) = registry_access(repo, &image, context).await?;
        let tags = scan_tags(&image, &auth, &options)
            .await
            .map_err(|e| scan_failed(&e))?;
        let tags = scan::kept(tags, &exclusions);
        let found = status::Found {
            revision: scan::revision(&tags),
            tag_count: tags.len(),
            latest_tags: scan::latest(&tags),
            canonical: canonical.clone(),
        };
        context.image_tags.put(
            &namespace,
            &name,
            store::Scanned {
                revision: found.revision.clone(),
                canonical,
                tags,
            },
        );
        let was_ready = conditions::find(repo.conditions(), types::READY).cloned();
        let new = status::scanned(repo, status, found, &run.stamp);
        let revision = new.last_scan_result.as_ref().map(|r| r.revision.clone());
        let mut events = Vec::new();
        // Flux's events: on becoming ready, and when the Ready message
        // (tag count, checksum) changed; an unchanged scan says nothing.
        if let Some(ready) = conditions::find(Self::conditions(&new), types::READY) {
            let same = was_ready
                .as_ref()
                .is_some_and(|old| old.status == ready.status && old.message == ready.message);
            if !same {
                events.push(Event::normal(reasons::SUCCEEDED, ready.message.clone()));
            }
        }
        Ok(Outcome::Done {
            status: new,
            events,
            requeue: interval,
            revision,
        })
    }

    fn failed_status(
        repo: &ImageRepository,
        error: &ReconcileError,
        stamp: &Stamp,
    ) -> ImageRepositoryStatus {
        status::failed(repo, error, stamp)
    }

    fn retry_interval(repo: &ImageRepository) -> Duration {
        duration_of("interval", &repo.spec.interval).unwrap_or(Duration::from_secs(60))
    }

    async fn cleanup(
        &self,
        repo: &ImageRepository,
        context: &Context,
    ) -> Result<(), ReconcileError> {
        context
            .image_tags
            .remove(&repo.namespace().unwrap_or_default(), &repo.name_any());
        Ok(())
    }
}

/// The credentials and connection settings of `repo` (its Secrets read):
/// what a scan and a digest lookup need.
pub(crate) async fn registry_access(
    repo: &ImageRepository,
    image: &ImageName,
    context: &Context,
) -> Result<(OciAuth, ScanOptions), ReconcileError> {
    let spec = &repo.spec;
    let namespace = repo.namespace().unwrap_or_default();
    let mut options = ScanOptions {
        insecure: spec.insecure,
        timeout: timeout(repo)?,
        ..ScanOptions::default()
    };
    let mut auth = OciAuth::Anonymous;
    if let Some(secret) = &spec.secret_ref {
        let data = secret_key(context, &namespace, &secret.name, ".dockerconfigjson").await?;
        auth = OciAuth::from_docker_config(&data, &image.registry).map_err(|e| scan_failed(&e))?;
    }
    if let Some(secret) = &spec.cert_secret_ref {
        options.ca_pem = Some(secret_key(context, &namespace, &secret.name, "ca.crt").await?);
    }
    Ok((auth, options))
}

/// Flux's scan timeout: `spec.timeout`, else `spec.interval`, never under 1s.
fn timeout(repo: &ImageRepository) -> Result<Duration, ReconcileError> {
    let (field, value) = match &repo.spec.timeout {
        Some(timeout) => ("timeout", timeout),
        None => ("interval", &repo.spec.interval),
    };
    let timeout = duration_of(field, value)
        .map_err(|message| ReconcileError::stalled(reasons::RECONCILIATION_FAILED, message))?;
    Ok(timeout.max(Duration::from_secs(1)))
}

/// One key of a Secret; a missing Secret or key names both (retried, as
/// Flux retries a failure to read credentials).
async fn secret_key(
    context: &Context,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, ReconcileError> {
    crate::helmrepository::secret_data(&context.client, namespace, name)
        .await?
        .remove(key)
        .ok_or_else(|| {
            ReconcileError::retryable(
                reasons::AUTHENTICATION_FAILED,
                format!("Secret '{namespace}/{name}' has no key '{key}'"),
            )
        })
}

/// The reconcile error for a registry error, with the hint for
/// ImageRepository's fields: a name or credentials file that cannot work
/// stalls; the rest (`ReadOperationFailed`, as Flux) is retried.
fn scan_failed(error: &OciError) -> ReconcileError {
    let message = registry_message(error);
    match error {
        OciError::InvalidImage { .. } => {
            ReconcileError::stalled(reasons::IMAGE_URL_INVALID, message)
        }
        OciError::DockerConfig { .. } | OciError::InvalidCa { .. } => {
            ReconcileError::stalled(reasons::AUTHENTICATION_FAILED, message)
        }
        _ => ReconcileError::retryable(
            reasons::READ_OPERATION_FAILED,
            format!("scan failed: {message}"),
        ),
    }
}

/// A registry error and its causes on one line, with the hint for
/// ImageRepository's fields; never a credential (the errors hold none).
pub(crate) fn registry_message(error: &OciError) -> String {
    let mut message = crate::error_chain(error);
    if let Some(hint) = error.scan_hint() {
        message.push_str("; ");
        message.push_str(hint);
    }
    message
}

/// A spec field we cannot honour yet: refused, never ignored.
fn unsupported_field(repo: &ImageRepository) -> Option<&'static str> {
    let spec = &repo.spec;
    if spec.proxy_secret_ref.is_some() {
        Some("proxySecretRef")
    } else if spec.service_account_name.is_some() {
        Some("serviceAccountName")
    } else if spec.provider.as_deref().is_some_and(|p| p != "generic") {
        Some("provider")
    } else {
        None
    }
}
