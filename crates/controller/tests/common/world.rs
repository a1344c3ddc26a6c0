//! The world most Kustomization tests share: a git daemon serving one
//! repository, a GitRepository polling it every second, the sandbox and a
//! controller, with helpers to create Kustomizations and wait on them.

use std::time::Duration;

use driftless_api::{GitRepository, Kustomization};
use driftless_testkit::cluster::eventually;
use driftless_testkit::{Fixture, GitDaemon};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use super::{Env, ready_of};

/// The namespace every test object lives in.
pub const NS: &str = "default";

/// A ConfigMap manifest with one `color`.
pub fn configmap(name: &str, color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  color: {color}\n"
    )
}

/// A one-replica Deployment manifest.
pub fn deployment(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: default\n{annotations}spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n"
    )
}

pub struct World {
    pub env: Env,
    _served: tempfile::TempDir,
    _daemon: GitDaemon,
    pub fixture: Fixture,
    pub url: String,
}

impl World {
    /// A repository with `deploy/` holding two ConfigMaps, a GitRepository
    /// polling it every second, and the controller running.
    pub async fn start() -> World {
        World::start_with(|_| {}).await
    }

    pub async fn start_with(
        adjust: impl FnOnce(&mut driftless_controller::ControllerOptions),
    ) -> World {
        let mut env = Env::without_controller().await;
        env.start_controller(|options| {
            options.dependency_requeue = Duration::from_millis(500);
            adjust(options);
        })
        .await;
        World::around(env).await
    }

    pub async fn around(env: Env) -> World {
        let served = tempfile::tempdir().expect("tempdir");
        let fixture = Fixture::new(served.path(), "fleet");
        fixture.write("deploy/red.yaml", &configmap("red", "red"));
        fixture.write("deploy/blue.yaml", &configmap("blue", "blue"));
        fixture.commit("initial");
        let daemon = GitDaemon::start(served.path());
        let url = daemon.url("fleet");
        let world = World {
            env,
            _served: served,
            _daemon: daemon,
            fixture,
            url,
        };
        let mut source = GitRepository::test("fleet")
            .in_namespace(NS)
            .url(&world.url)
            .branch("main");
        source.spec.interval = "1s".into();
        world
            .sources()
            .create(&PostParams::default(), &source)
            .await
            .expect("source created");
        world
    }

    pub fn sources(&self) -> Api<GitRepository> {
        Api::namespaced(self.env.client.clone(), NS)
    }

    pub fn kustomizations(&self) -> Api<Kustomization> {
        Api::namespaced(self.env.client.clone(), NS)
    }

    pub fn configmaps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.env.client.clone(), NS)
    }

    pub async fn create(&self, ks: Kustomization) {
        self.kustomizations()
            .create(&PostParams::default(), &ks)
            .await
            .expect("kustomization created");
    }

    pub fn kustomization(name: &str, path: &str) -> Kustomization {
        let mut ks = Kustomization::test(name)
            .in_namespace(NS)
            .git_source("fleet")
            .path(path);
        ks.spec.interval = "1h".into();
        ks
    }

    /// Waits until the Kustomization's Ready condition has `status` and the
    /// last attempted revision is at `commit`.
    pub async fn wait_for(&self, name: &str, status: &str, commit: &str) -> Kustomization {
        let api = self.kustomizations();
        eventually(&format!("{name} Ready={status} at {commit}"), || async {
            let ks = api.get(name).await.map_err(|e| e.to_string())?;
            let st = ks.status.clone().unwrap_or_default();
            let ready = ready_of(st.conditions.as_deref().unwrap_or_default());
            let attempted = st.last_attempted_revision.clone().unwrap_or_default();
            match &ready {
                Some((s, _, _)) if s == status && attempted.ends_with(commit) => Ok(ks),
                _ => Err(format!("ready {ready:?}, attempted {attempted}")),
            }
        })
        .await
    }

    /// Waits until the Kustomization is Stalled and returns the message.
    pub async fn stalled_message(&self, name: &str) -> String {
        super::message_when(&self.kustomizations(), name, "Stalled", "True").await
    }

    pub async fn color(&self, name: &str) -> Option<String> {
        self.configmaps()
            .get_opt(name)
            .await
            .expect("get")
            .and_then(|cm| cm.data)
            .and_then(|d| d.get("color").cloned())
    }

    pub async fn wait_color(&self, name: &str, want: Option<&str>) {
        eventually(&format!("configmap {name} color {want:?}"), || async {
            let color = self.color(name).await;
            (color.as_deref() == want)
                .then_some(())
                .ok_or(format!("color {color:?}"))
        })
        .await;
    }
}

/// The condition of `type_` on the Kustomization, once it has one.
pub async fn condition_of(world: &World, name: &str, type_: &str) -> (String, String, String) {
    eventually(&format!("{name} has {type_}"), || async {
        let ks = world
            .kustomizations()
            .get(name)
            .await
            .map_err(|e| e.to_string())?;
        let conditions = ks.status.and_then(|s| s.conditions).unwrap_or_default();
        driftless_api::conditions::find(&conditions, type_)
            .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
            .ok_or(format!("{conditions:?}"))
    })
    .await
}
