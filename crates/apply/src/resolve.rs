//! Which API resource serves an (apiVersion, kind), from discovery.
//!
//! Cached per group version and refetched on a miss, because an apply
//! installs CRDs and then applies their custom resources: a kind unknown a
//! moment ago may be served now. Misses are not cached for the same
//! reason.

use std::collections::HashMap;
use std::sync::RwLock;

use kube::Client;
use kube::core::{ApiResource, GroupVersion};
use kube::discovery::{Scope, oneshot};

/// An API resource and whether its objects live in namespaces.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// Kinds by apiVersion, then by kind.
#[derive(Default)]
pub struct Kinds {
    cache: RwLock<HashMap<String, HashMap<String, Resolved>>>,
}

impl Kinds {
    /// The resource serving `kind` at `api_version`, or `None` when the
    /// cluster serves no such kind (even after asking again).
    pub async fn resolve(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resolved>, kube::Error> {
        if let Some(found) = self.cached(api_version, kind) {
            return Ok(Some(found));
        }
        let gv: GroupVersion = match api_version.parse() {
            Ok(gv) => gv,
            Err(_) => return Ok(None),
        };
        let group = match oneshot::pinned_group(client, &gv).await {
            Ok(group) => group,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(err) => return Err(err),
        };
        let kinds: HashMap<String, Resolved> = group
            .versioned_resources(&gv.version)
            .into_iter()
            .map(|(resource, caps)| {
                let resolved = Resolved {
                    namespaced: caps.scope == Scope::Namespaced,
                    resource,
                };
                (resolved.resource.kind.clone(), resolved)
            })
            .collect();
        let found = kinds.get(kind).cloned();
        self.cache
            .write()
            .expect("no writer panics while holding the lock")
            .insert(api_version.to_string(), kinds);
        Ok(found)
    }

    fn cached(&self, api_version: &str, kind: &str) -> Option<Resolved> {
        self.cache
            .read()
            .expect("no writer panics while holding the lock")
            .get(api_version)?
            .get(kind)
            .cloned()
    }
}
