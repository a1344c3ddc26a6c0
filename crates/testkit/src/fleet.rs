//! A small fleet for the fault-matrix tests, and the one invariant checker
//! every fault case uses.
//!
//! The fleet is a git repository with one directory of ConfigMaps per
//! Kustomization (`apps/<ks>/<object>.yaml`), a model of what each commit
//! holds, and [`Fleet::change`], a commit that changes, adds and removes
//! objects in every directory. Object names are never reused, so an object
//! present in two commits was in git in every commit between them: no
//! correct reconcile of any of them may prune it.
//!
//! The invariants (issue 17, item 3):
//! - [`Fleet::check_converged`]: every Kustomization is `Ready=True` with
//!   `lastAppliedRevision` at the head commit, every object of the head is in
//!   the cluster with its data, no object the fleet labelled is left over,
//!   and `status.inventory` lists exactly the head's objects.
//! - [`Fleet::check_safe`] (also sampled all along a fault by [`Sampler`]):
//!   nothing in git both at a Kustomization's applied revision and at the
//!   head is missing, and `Ready=True` is only claimed for the revision last
//!   attempted.
//!
//! Resources are read as untyped JSON so that this crate needs no
//! dependency on the API types of the crates it tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use crate::cluster::eventually;
use crate::git::Fixture;

/// The namespace every fleet object lives in.
pub const NAMESPACE: &str = "default";
/// The GitRepository every Kustomization of the fleet reads.
pub const SOURCE: &str = "fleet";
const OWNER_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";

/// Kustomization name → (ConfigMap name → its `data.value`).
pub type Model = BTreeMap<String, BTreeMap<String, String>>;

/// The repository, its history, and the Kustomizations that deploy it.
pub struct Fleet {
    fixture: Fixture,
    /// (commit, what it holds), oldest first; shared with [`Sampler`]s.
    history: Arc<Mutex<Vec<(String, Model)>>>,
    next_object: u64,
}

impl Fleet {
    /// A repository `fleet` under `root` (serve that directory) with
    /// `kustomizations` directories of `objects` ConfigMaps each, committed.
    pub fn new(root: &Path, kustomizations: usize, objects: usize) -> Fleet {
        let mut fleet = Fleet {
            fixture: Fixture::new(root, SOURCE),
            history: Arc::new(Mutex::new(Vec::new())),
            next_object: 0,
        };
        let mut model = Model::new();
        for k in 0..kustomizations {
            let mut objects_of = BTreeMap::new();
            for _ in 0..objects {
                objects_of.insert(fleet.object_name(k), "v0".to_owned());
            }
            model.insert(format!("k{k}"), objects_of);
        }
        fleet.commit(model, "initial fleet");
        fleet
    }

    fn object_name(&mut self, k: usize) -> String {
        self.next_object += 1;
        format!("k{k}-o{}", self.next_object)
    }

    /// The head commit's hash.
    pub fn head(&self) -> String {
        lock(&self.history).last().expect("committed").0.clone()
    }

    /// What the head commit holds.
    pub fn model(&self) -> Model {
        lock(&self.history).last().expect("committed").1.clone()
    }

    /// The Kustomizations' names.
    pub fn names(&self) -> Vec<String> {
        self.model().into_keys().collect()
    }

    /// The fixture, e.g. for its bare repository's path.
    pub fn fixture(&self) -> &Fixture {
        &self.fixture
    }

    /// Commits a change to every Kustomization's directory: the first object
    /// gets a new value, a new object is added, and (while more than one is
    /// left) the oldest other object is removed. Returns the new head.
    pub fn change(&mut self, message: &str) -> String {
        let mut model = self.model();
        let step = lock(&self.history).len();
        for (k, objects) in model.values_mut().enumerate() {
            if let Some(first) = objects.values_mut().next() {
                *first = format!("v{step}");
            }
            if objects.len() > 1 {
                let second = objects.keys().nth(1).cloned().expect("two objects");
                objects.remove(&second);
            }
            objects.insert(self.object_name(k), format!("v{step}"));
        }
        self.commit(model, message)
    }

    fn commit(&mut self, model: Model, message: &str) -> String {
        let apps = self.fixture.work.join("apps");
        if apps.exists() {
            std::fs::remove_dir_all(&apps).expect("the work tree is writable");
        }
        for (ks, objects) in &model {
            for (name, value) in objects {
                self.fixture
                    .write(&format!("apps/{ks}/{name}.yaml"), &configmap(name, value));
            }
        }
        let head = self.fixture.commit(message);
        lock(&self.history).push((head.clone(), model));
        head
    }

    /// Creates the GitRepository (at `url`, polled every `source_interval`,
    /// with `timeout` per fetch) and one Kustomization per directory
    /// (interval `interval`, pruning on).
    pub async fn create(
        &self,
        client: &kube::Client,
        url: &str,
        source_interval: &str,
        timeout: &str,
        interval: &str,
    ) {
        let source = json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": SOURCE, "namespace": NAMESPACE},
            "spec": {"url": url, "interval": source_interval, "timeout": timeout, "ref": {"branch": "main"}},
        });
        create(client, &git_repository(), source).await;
        for name in self.names() {
            let ks = json!({
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "interval": interval,
                    "path": format!("./apps/{name}"),
                    "prune": true,
                    "sourceRef": {"kind": "GitRepository", "name": SOURCE},
                },
            });
            create(client, &kustomization(), ks).await;
        }
    }

    /// Points the GitRepository at `url` (e.g. a proxy in front of the server).
    pub async fn set_url(&self, client: &kube::Client, url: &str) {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), NAMESPACE, &git_repository());
        api.patch(
            SOURCE,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"url": url}})),
        )
        .await
        .expect("the GitRepository's URL is patched");
    }

    /// Waits until [`Fleet::check_converged`] holds.
    pub async fn converged(&self, client: &kube::Client) {
        eventually("the fleet converges on the head commit", || {
            self.check_converged(client)
        })
        .await;
    }

    /// The invariants after convergence on the head commit (module docs).
    pub async fn check_converged(&self, client: &kube::Client) -> Result<(), String> {
        self.check_applied(client, &self.head()).await
    }

    /// The invariants after convergence on `commit` (an earlier one: the
    /// last good revision while a fault stops newer ones).
    pub async fn check_applied(&self, client: &kube::Client, commit: &str) -> Result<(), String> {
        let (head, model) = lock(&self.history)
            .iter()
            .find(|(c, _)| c == commit)
            .cloned()
            .ok_or_else(|| format!("{commit} is not a fleet commit"))?;
        let kustomizations = list(client, &kustomization(), "").await?;
        for (ks, objects) in &model {
            let status = &kustomizations
                .get(ks)
                .ok_or_else(|| format!("Kustomization {ks} is missing"))?["status"];
            let (ready, message) = ready(status);
            let applied = status["lastAppliedRevision"].as_str().unwrap_or_default();
            if ready != "True" || !applied.ends_with(&head) {
                return Err(format!(
                    "{ks}: Ready={ready} ({message}), applied {applied}, head {head}"
                ));
            }
            let inventory: BTreeSet<String> = status["inventory"]["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .collect();
            let expected: BTreeSet<String> = objects
                .keys()
                .map(|name| format!("{NAMESPACE}_{name}__ConfigMap"))
                .collect();
            if inventory != expected {
                return Err(format!(
                    "{ks}: inventory {inventory:?} is not the head's {expected:?}"
                ));
            }
        }
        self.check_objects(client, commit).await
    }

    /// The cluster holds exactly `commit`'s objects with their data: none
    /// missing, none left over (whatever the statuses say).
    pub async fn check_objects(&self, client: &kube::Client, commit: &str) -> Result<(), String> {
        let model = lock(&self.history)
            .iter()
            .find(|(c, _)| c == commit)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| format!("{commit} is not a fleet commit"))?;
        let configmaps = list(client, &configmap_resource(), OWNER_LABEL).await?;
        for (ks, objects) in &model {
            for (name, value) in objects {
                let live = configmaps
                    .get(name)
                    .ok_or_else(|| format!("{ks}: {name} is in git but not in the cluster"))?;
                if live["data"]["value"].as_str() != Some(value) {
                    return Err(format!(
                        "{ks}: {name} has {} in the cluster, {value} in git",
                        live["data"]["value"]
                    ));
                }
            }
        }
        for (name, live) in &configmaps {
            let owner = live["metadata"]["labels"][OWNER_LABEL]
                .as_str()
                .unwrap_or_default();
            if !model.get(owner).is_some_and(|o| o.contains_key(name)) {
                return Err(format!(
                    "{name} (of {owner}) is not in git at {commit} but is in the cluster"
                ));
            }
        }
        Ok(())
    }

    /// The invariants that hold at every moment, fault or not (module docs).
    pub async fn check_safe(&self, client: &kube::Client) -> Result<(), String> {
        check_safe(&self.history, client).await
    }

    /// Starts checking [`Fleet::check_safe`] every `period` in the background.
    pub fn sample(&self, client: &kube::Client, period: Duration) -> Sampler {
        let history = self.history.clone();
        let client = client.clone();
        let violations = Arc::new(Mutex::new(Vec::new()));
        let samples = Arc::new(Mutex::new(0_u64));
        let (v, s) = (violations.clone(), samples.clone());
        let task = tokio::spawn(async move {
            loop {
                match check_safe(&history, &client).await {
                    Ok(()) => *lock(&s) += 1,
                    // The API server being down is a fault, not a violation.
                    Err(e) if e.starts_with("cannot list") => {}
                    Err(e) => {
                        *lock(&s) += 1;
                        lock(&v).push(e);
                    }
                }
                tokio::time::sleep(period).await;
            }
        });
        Sampler {
            task,
            violations,
            samples,
        }
    }
}

/// Checks [`Fleet::check_safe`] in the background until [`Sampler::finish`].
pub struct Sampler {
    task: tokio::task::JoinHandle<()>,
    violations: Arc<Mutex<Vec<String>>>,
    samples: Arc<Mutex<u64>>,
}

impl Sampler {
    /// Stops sampling; panics with every violation seen, or if the cluster
    /// could never be read (so the check cannot pass vacuously).
    pub fn finish(self) -> u64 {
        self.task.abort();
        let violations = lock(&self.violations).clone();
        let samples = *lock(&self.samples);
        assert!(
            violations.is_empty(),
            "the invariants broke during the fault: {violations:#?}"
        );
        assert!(samples > 0, "the cluster was never sampled");
        samples
    }
}

async fn check_safe(
    history: &Mutex<Vec<(String, Model)>>,
    client: &kube::Client,
) -> Result<(), String> {
    let history = lock(history).clone();
    let (_, head_model) = history.last().cloned().expect("committed");
    let kustomizations = list(client, &kustomization(), "").await?;
    let configmaps = list(client, &configmap_resource(), OWNER_LABEL).await?;
    for (ks, head_objects) in &head_model {
        let Some(status) = kustomizations.get(ks).map(|k| &k["status"]) else {
            continue;
        };
        let applied = status["lastAppliedRevision"].as_str().unwrap_or_default();
        let attempted = status["lastAttemptedRevision"].as_str().unwrap_or_default();
        let (ready, message) = ready(status);
        if ready == "True" && applied != attempted {
            return Err(format!(
                "{ks}: Ready=True ({message}) but applied {applied} is not attempted {attempted}"
            ));
        }
        let Some((_, applied_model)) = history
            .iter()
            .find(|(commit, _)| !applied.is_empty() && applied.ends_with(commit.as_str()))
        else {
            continue;
        };
        for name in applied_model[ks].keys() {
            if head_objects.contains_key(name) && !configmaps.contains_key(name) {
                return Err(format!(
                    "{ks}: {name} is in git at the applied {applied} and at the head, but missing from the cluster"
                ));
            }
        }
    }
    Ok(())
}

/// (status, message) of the Ready condition in a status.
fn ready(status: &Value) -> (String, String) {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .unwrap_or_else(|| ("none".to_owned(), String::new()))
}

/// (status, message) of the Ready condition of `kind` (`GitRepository` or
/// `Kustomization`) `name` in the fleet's namespace.
pub async fn ready_of(client: &kube::Client, kind: &str, name: &str) -> (String, String) {
    let resource = if kind == "GitRepository" {
        git_repository()
    } else {
        kustomization()
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
    match api.get(name).await {
        Ok(object) => ready(&object.data["status"]),
        Err(e) => ("unreadable".to_owned(), e.to_string()),
    }
}

/// Objects by name, as JSON (metadata included).
async fn list(
    client: &kube::Client,
    resource: &ApiResource,
    label: &str,
) -> Result<BTreeMap<String, Value>, String> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, resource);
    let params = if label.is_empty() {
        ListParams::default()
    } else {
        ListParams::default().labels(label)
    };
    let listed = api
        .list(&params)
        .await
        .map_err(|e| format!("cannot list {}: {e}", resource.plural))?;
    Ok(listed
        .items
        .into_iter()
        .filter_map(|o| {
            let name = o.metadata.name.clone()?;
            serde_json::to_value(&o).ok().map(|v| (name, v))
        })
        .collect())
}

async fn create(client: &kube::Client, resource: &ApiResource, object: Value) {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, resource);
    let object: DynamicObject = serde_json::from_value(object).expect("a valid object");
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("{} created: {e}", resource.kind));
}

fn git_repository() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
    ))
}

fn kustomization() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
    ))
}

fn configmap_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
}

fn configmap(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\ndata:\n  value: {value}\n"
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread leaves consistent data behind.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
