//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several
//! controller replicas exactly one reconciles (and applies) at a time.
//!
//! kube-rs ships no elector, and the protocol is small: whoever holds an
//! unexpired Lease renews it; others take it over only after it expired.
//! Updates use the Lease's resourceVersion, so two candidates racing for an
//! expired Lease cannot both win. A leader that cannot renew within the
//! lease duration reports the loss and must stop, as client-go's does.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

/// The Lease every driftless controller competes for.
pub const LEASE_NAME: &str = "driftless-controller";

/// Timings, as client-go's defaults (15s lease, 10s renew deadline, 2s retry).
#[derive(Clone, Debug)]
pub struct LeaseTimings {
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews it.
    pub renew_period: Duration,
    /// How often a candidate tries to take a free or expired Lease.
    pub retry_period: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            lease_duration: Duration::from_secs(15),
            renew_period: Duration::from_secs(5),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// One candidate for the Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    client: Client,
    namespace: String,
    identity: String,
    timings: LeaseTimings,
}

impl LeaderElector {
    /// A candidate named `identity` for the Lease in `namespace`.
    pub fn new(client: Client, namespace: &str, identity: &str, timings: LeaseTimings) -> Self {
        LeaderElector {
            api: Api::namespaced(client.clone(), namespace),
            client,
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            timings,
        }
    }

    /// The name this candidate writes into the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Waits until this candidate holds the Lease.
    pub async fn acquire(&self) {
        self.ensure_namespace().await;
        let mut waiting_logged = false;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(identity = %self.identity, lease = %format!("{}/{LEASE_NAME}", self.namespace), "became leader");
                    return;
                }
                Ok(false) => {
                    if !waiting_logged {
                        tracing::info!(identity = %self.identity, "another controller holds the lease; waiting");
                        waiting_logged = true;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot acquire the leader lease"),
            }
            tokio::time::sleep(self.timings.retry_period).await;
        }
    }

    /// Renews the Lease for as long as possible; returns when leadership is
    /// lost (no successful renewal within the lease duration, or another
    /// holder took it).
    pub async fn hold(&self) {
        let mut last_renewed = Instant::now();
        loop {
            tokio::time::sleep(self.timings.renew_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = Instant::now(),
                Ok(false) => {
                    tracing::error!(identity = %self.identity, "the leader lease was taken by another controller");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot renew the leader lease");
                    if last_renewed.elapsed() >= self.timings.lease_duration {
                        tracing::error!(identity = %self.identity, "leader lease expired before it could be renewed");
                        return;
                    }
                }
            }
        }
    }

    /// Gives the Lease up so a standby takes over at once instead of after expiry.
    pub async fn release(&self) {
        let Ok(mut lease) = self.api.get(LEASE_NAME).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(&self.identity) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        if let Err(error) = self
            .api
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            tracing::warn!(%error, "cannot release the leader lease");
        }
    }

    /// One attempt: `Ok(true)` when we hold the Lease afterwards.
    async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let duration_seconds = self.timings.lease_duration.as_secs().max(1) as i32;
        let Some(mut lease) = self.api.get_opt(LEASE_NAME).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAME.to_owned()),
                    namespace: Some(self.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(duration_seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let ours = spec.holder_identity.as_deref() == Some(&self.identity);
        let vacant = spec.holder_identity.as_deref().is_none_or(str::is_empty);
        let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
            let held_for = SignedDuration::from_secs(i64::from(
                spec.lease_duration_seconds.unwrap_or(duration_seconds),
            ));
            renewed
                .0
                .saturating_add(held_for)
                .is_ok_and(|until| until < now)
        });
        if !(ours || vacant || expired) {
            return Ok(false);
        }
        if !ours {
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.acquire_time = Some(MicroTime(now));
            spec.holder_identity = Some(self.identity.clone());
        }
        spec.lease_duration_seconds = Some(duration_seconds);
        spec.renew_time = Some(MicroTime(now));
        match self
            .api
            .replace(&lease.name_any(), &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Running outside a cluster (the quickstart, a laptop), the Lease's
    /// namespace may not exist yet; in a cluster `install` created it and
    /// this create is refused or a no-op.
    async fn ensure_namespace(&self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        if matches!(api.get_opt(&self.namespace).await, Ok(Some(_))) {
            return;
        }
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        if let Err(error) = api.create(&PostParams::default(), &namespace).await {
            tracing::debug!(%error, namespace = %self.namespace, "cannot create the lease namespace");
        }
    }
}
