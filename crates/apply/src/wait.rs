//! Waiting for applied objects to become healthy.

use std::time::{Duration, Instant};

use driftless_api::inventory::{ObjectId, ResourceRef};
use futures::StreamExt;
use kube::api::{Api, DynamicObject};

use crate::Applier;
use crate::apply::to_value;
use crate::error::HealthError;
use crate::health::{self, Health};

/// The first and the longest pause between two looks at the objects.
const FIRST_POLL: Duration = Duration::from_millis(50);
const MAX_POLL: Duration = Duration::from_secs(1);

impl Applier {
    /// Waits until every listed object is healthy (kstatus Current), or
    /// `timeout` passes. Returns early when an object has Failed, since it
    /// will not recover without a change. The error names each object that
    /// is not healthy and why.
    pub async fn wait_healthy(
        &self,
        objects: &[ResourceRef],
        timeout: Duration,
    ) -> Result<(), HealthError> {
        let start = Instant::now();
        let mut pending: Vec<(ObjectId, String, Option<Api<DynamicObject>>)> = Vec::new();
        let mut unhealthy = Vec::new();
        for entry in objects {
            match entry.object_id() {
                Ok(id) => pending.push((id, entry.version.clone(), None)),
                Err(err) => unhealthy.push((
                    ObjectId::new("", &entry.id, "", "?"),
                    format!("malformed inventory entry: {err}"),
                )),
            }
        }
        if !unhealthy.is_empty() {
            return Err(HealthError { unhealthy, timeout });
        }
        let mut delay = FIRST_POLL;
        loop {
            let checks: Vec<_> =
                futures::stream::iter(pending.into_iter().map(|(id, version, api)| async move {
                    let (api, health) = self.check(&id, &version, api).await;
                    (id, version, api, health)
                }))
                .buffered(self.concurrency())
                .collect()
                .await;
            let mut failed = false;
            unhealthy.clear();
            pending = Vec::new();
            for (id, version, api, health) in checks {
                match health {
                    Health::Current => {}
                    Health::InProgress(why) => {
                        unhealthy.push((id.clone(), why));
                        pending.push((id, version, api));
                    }
                    Health::Failed(why) => {
                        failed = true;
                        unhealthy.push((id.clone(), why));
                        pending.push((id, version, api));
                    }
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            let elapsed = start.elapsed();
            if failed || elapsed >= timeout {
                return Err(HealthError { unhealthy, timeout });
            }
            tokio::time::sleep(delay.min(timeout - elapsed)).await;
            delay = (delay * 2).min(MAX_POLL);
        }
    }

    /// Waits until every listed object is gone from the cluster (deleted
    /// objects can linger while finalizers run), or `timeout` passes; the
    /// error names those still there. A kind no longer served counts as gone.
    pub async fn wait_deleted(
        &self,
        objects: &[ResourceRef],
        timeout: Duration,
    ) -> Result<(), HealthError> {
        let start = Instant::now();
        let mut delay = FIRST_POLL;
        loop {
            let mut remaining = Vec::new();
            for entry in objects {
                let Ok(id) = entry.object_id() else { continue };
                let present = match self.api_for(&id, &entry.version).await {
                    Ok(Some(api)) => !matches!(api.get_opt(&id.name).await, Ok(None)),
                    Ok(None) => false,
                    Err(_) => true,
                };
                if present {
                    remaining.push((id, "still present (finalizers may be running)".to_owned()));
                }
            }
            let elapsed = start.elapsed();
            if remaining.is_empty() {
                return Ok(());
            }
            if elapsed >= timeout {
                return Err(HealthError {
                    unhealthy: remaining,
                    timeout,
                });
            }
            tokio::time::sleep(delay.min(timeout - elapsed)).await;
            delay = (delay * 2).min(MAX_POLL);
        }
    }

    /// One look at one object; the API is resolved once and kept.
    async fn check(
        &self,
        id: &ObjectId,
        version: &str,
        api: Option<Api<DynamicObject>>,
    ) -> (Option<Api<DynamicObject>>, Health) {
        let api = match api {
            Some(api) => api,
            None => match self.api_for(id, version).await {
                Ok(Some(api)) => api,
                Ok(None) => {
                    return (
                        None,
                        Health::InProgress("its kind is not served; is its CRD installed?".into()),
                    );
                }
                Err(err) => return (None, Health::InProgress(format!("{err}"))),
            },
        };
        let health = match api.get_opt(&id.name).await {
            Ok(Some(obj)) => health::status(&to_value(obj)),
            Ok(None) => Health::InProgress("not found".into()),
            Err(err) => Health::InProgress(format!("cannot be read: {err}")),
        };
        (Some(api), health)
    }
}
