//! The apply stage: desired objects plus live cluster state in; staged
//! server-side apply, drift classification, pruning and health out.
//!
//! Owns: the order objects are applied in ([`Stage`]), the per-object
//! classification (Created / Configured / Unchanged, from a server-side dry
//! run compared with the live object), taking fields over from kubectl,
//! recreation on immutable-field changes, prune safety (owner labels, the
//! prune annotation) and kstatus health ([`health`]), and Helm release
//! records, stored as Helm stores them ([`release`]).
//!
//! Must not: read files, render, fetch sources, or write any custom
//! resource's status. The controller calls it and turns the [`ChangeSet`]
//! and errors into conditions and events. Everything goes through kube-rs.
//!
//! Why a dry run before every apply: an apply that would change nothing is
//! not sent, so a no-op reconcile writes nothing (no new resourceVersion,
//! no watch events) and any difference the dry run shows is drift.
//!
//! ```no_run
//! # async fn demo(client: kube::Client, objects: Vec<serde_json::Value>) -> Result<(), Box<dyn std::error::Error>> {
//! use driftless_apply::{Applier, ApplyOptions};
//! let applier = Applier::new(client, ApplyOptions::default());
//! let changes = applier.apply(objects).await?;
//! println!("{}", changes.summary());
//! let inventory = changes.inventory();
//! applier.wait_healthy(&inventory.entries, std::time::Duration::from_secs(60)).await?;
//! # Ok(()) }
//! ```

mod apply;
mod changeset;
mod error;
pub mod health;
mod ignore;
mod order;
mod prune;
pub mod release;
mod resolve;
mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use changeset::{Action, Change, ChangeSet, ObjectDiff, subject};
pub use error::{ApplyError, HealthError};
pub use ignore::{IgnoreRule, IgnoreTarget};
pub use order::{Stage, rank};

/// How objects are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyOptions {
    /// The server-side apply field manager.
    pub field_manager: String,
    /// Labels stamped on every applied object; prune refuses objects that
    /// do not carry them all.
    pub owner_labels: BTreeMap<String, String>,
    /// Recreate objects whose immutable fields changed.
    pub force: bool,
    /// The most API calls in flight within a stage.
    pub concurrency: usize,
    /// Fields of existing objects to leave as they are live.
    pub ignore_rules: Vec<IgnoreRule>,
    /// Where namespaced objects without `metadata.namespace` go (Helm's
    /// release namespace); without it such an object is an error.
    pub default_namespace: Option<String>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            field_manager: "kustomize-controller".into(),
            owner_labels: BTreeMap::new(),
            force: false,
            concurrency: 8,
            ignore_rules: Vec::new(),
            default_namespace: None,
        }
    }
}

/// Applies, diffs, prunes and health-checks sets of objects in one cluster.
/// Cheap to clone; clones share the discovery cache.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
    options: Arc<ApplyOptions>,
    kinds: Arc<resolve::Kinds>,
}

impl Applier {
    /// An applier acting through `client` with `options`.
    pub fn new(client: kube::Client, options: ApplyOptions) -> Applier {
        Applier {
            client,
            options: Arc::new(options),
            kinds: Arc::default(),
        }
    }

    /// An applier with other options (another Kustomization's owner labels)
    /// that shares this one's discovery cache, so a reconcile does not
    /// rediscover the cluster's kinds.
    pub fn with_options(&self, options: ApplyOptions) -> Applier {
        Applier {
            client: self.client.clone(),
            options: Arc::new(options),
            kinds: self.kinds.clone(),
        }
    }

    /// The options this applier was made with.
    pub fn options(&self) -> &ApplyOptions {
        &self.options
    }

    fn concurrency(&self) -> usize {
        self.options.concurrency.max(1)
    }
}
