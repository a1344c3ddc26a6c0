//! A sandbox with our CRDs installed and a controller running in-process
//! against it, plus helpers to read conditions.
#![allow(dead_code)] // each test binary uses a different part

pub mod fleet;
pub mod helm;
pub mod image;
pub mod world;

use std::time::Duration;

use driftless_api::conditions::{self, types};
use driftless_controller::ControllerOptions;
use driftless_testkit::cluster::{TestCluster, eventually};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use tokio::sync::oneshot;

pub struct Env {
    pub cluster: TestCluster,
    pub client: kube::Client,
    controllers: Vec<RunningController>,
}

impl Env {
    /// A sandbox with the CRDs, and a controller (no leader election).
    pub async fn start() -> Env {
        let mut env = Env::without_controller().await;
        env.start_controller(|_| {}).await;
        env
    }

    pub async fn without_controller() -> Env {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let cluster = TestCluster::start().await;
        let client = cluster.client().await;
        install_crds(&client).await;
        Env {
            cluster,
            client,
            controllers: Vec::new(),
        }
    }

    pub fn options(&self, storage: &std::path::Path) -> ControllerOptions {
        let mut options = ControllerOptions::new(storage);
        options.artifact_listen = "127.0.0.1:0".parse().expect("loopback");
        options.dependency_requeue = Duration::from_millis(500);
        options.lease_timings.lease_duration = Duration::from_secs(3);
        options.lease_timings.renew_period = Duration::from_millis(500);
        options.lease_timings.retry_period = Duration::from_millis(300);
        options
    }

    pub async fn start_controller(&mut self, adjust: impl FnOnce(&mut ControllerOptions)) {
        self.controllers.push(self.spawn_controller(adjust).await);
    }

    /// Another controller against the same cluster (each with its own storage).
    pub async fn spawn_controller(
        &self,
        adjust: impl FnOnce(&mut ControllerOptions),
    ) -> RunningController {
        let storage = tempfile::tempdir().expect("a temp dir");
        let mut options = self.options(storage.path());
        let kubeconfig = kube::config::Kubeconfig::read_from(self.cluster.kubeconfig_path())
            .expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        adjust(&mut options);
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::spawn(driftless_controller::run(config, options, async {
            let _ = stopped.await;
        }));
        RunningController {
            stop,
            handle,
            storage_dir: storage,
        }
    }
}

/// A controller running in this process.
pub struct RunningController {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<Result<(), driftless_controller::ControllerError>>,
    storage_dir: tempfile::TempDir,
}

impl RunningController {
    /// Its storage directory: artifacts appear there only when it reconciles.
    pub fn storage(&self) -> &std::path::Path {
        self.storage_dir.path()
    }

    /// Kills it as SIGKILL would: it stops at once and keeps its Lease
    /// until the Lease expires.
    pub fn kill(&self) {
        self.handle.abort();
    }

    /// Stops it as SIGTERM would: it releases its Lease on the way out.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

pub async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in driftless_api::crds() {
        api.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    for crd in driftless_api::crds() {
        let name = crd.metadata.name.clone().expect("named");
        eventually(&format!("CRD {name} established"), || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.map_err(|e| e.to_string())?;
                let established = crd
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established
                    .then_some(())
                    .ok_or_else(|| "not established".to_owned())
            }
        })
        .await;
    }
}

/// (status, reason, message) of the `Ready` condition.
pub fn ready_of(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Option<(String, String, String)> {
    conditions::find(conditions, types::READY)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the object's `type_` condition has `status`; returns its
/// message.
pub async fn message_when<K>(api: &Api<K>, name: &str, type_: &str, status: &str) -> String
where
    K: driftless_api::FluxObject
        + kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    eventually(&format!("{name} {type_}={status}"), || async {
        let object = api.get(name).await.map_err(|e| e.to_string())?;
        match conditions::find(object.status_conditions(), type_) {
            Some(found) if found.status == status => Ok(found.message.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Messages of core/v1 Events about an object.
pub async fn event_messages(client: &kube::Client, namespace: &str, name: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), namespace);
    api.list(&Default::default())
        .await
        .expect("events list")
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| {
            format!(
                "{} {}: {}",
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect()
}
