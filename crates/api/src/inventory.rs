//! The inventory: the record of what a Kustomization applied, in Flux's
//! format, so a cluster Flux managed is adopted with its history intact.
//!
//! Each entry has an id `<namespace>_<name>_<group>_<kind>` and the API
//! version `v`. Cluster-scoped objects have an empty namespace and core
//! objects an empty group (`default_web__Service`, `_apps__Namespace`).
//! Colons in RBAC names are written as `__`, as Flux (cli-utils) does.
//!
//! Owns the format and its parsing. Must not decide what to prune: the apply
//! crate compares two inventories.
//!
//! ```
//! use driftless_api::inventory::ObjectId;
//! let id: ObjectId = "apps_web_apps_Deployment".parse().unwrap();
//! assert_eq!((id.namespace.as_str(), id.name.as_str(), id.group.as_str(), id.kind.as_str()),
//!            ("apps", "web", "apps", "Deployment"));
//! assert_eq!(id.to_string(), "apps_web_apps_Deployment");
//! ```

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The group whose object names may contain `:` (written as `__` in ids).
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The objects applied by a Kustomization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceInventory {
    /// One entry per object.
    pub entries: Vec<ResourceRef>,
}

/// One applied object.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct ResourceRef {
    /// Object id, `<namespace>_<name>_<group>_<kind>`.
    pub id: String,
    /// API version of the object's kind, such as `v1`.
    #[serde(rename = "v")]
    pub version: String,
}

impl ResourceRef {
    /// The entry for an object at an API version.
    pub fn new(id: &ObjectId, version: impl Into<String>) -> ResourceRef {
        ResourceRef {
            id: id.to_string(),
            version: version.into(),
        }
    }

    /// Parses the id.
    pub fn object_id(&self) -> Result<ObjectId, InvalidObjectId> {
        self.id.parse()
    }
}

impl ResourceInventory {
    /// The parsed ids of all entries, failing on the first malformed one.
    pub fn object_ids(&self) -> Result<Vec<ObjectId>, InvalidObjectId> {
        self.entries.iter().map(ResourceRef::object_id).collect()
    }
}

/// The identity of an object in an inventory (its API version aside).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// API group, empty for the core group.
    pub group: String,
    /// Kind.
    pub kind: String,
}

impl ObjectId {
    /// An id from its parts.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        group: impl Into<String>,
        kind: impl Into<String>,
    ) -> ObjectId {
        ObjectId {
            namespace: namespace.into(),
            name: name.into(),
            group: group.into(),
            kind: kind.into(),
        }
    }
}

/// An inventory id that is not `<namespace>_<name>_<group>_<kind>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid inventory id {id:?}: {problem}; expected <namespace>_<name>_<group>_<kind> (namespace and group may be empty)"
)]
pub struct InvalidObjectId {
    /// The id as found.
    pub id: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl FromStr for ObjectId {
    type Err = InvalidObjectId;

    fn from_str(id: &str) -> Result<ObjectId, InvalidObjectId> {
        let fail = |problem| InvalidObjectId {
            id: id.to_string(),
            problem,
        };
        // Namespaces, groups and kinds never contain `_`; names only through
        // the `__` that stands for `:`. So split off the first field and the
        // last two, and the middle is the name.
        let (namespace, rest) = id.split_once('_').ok_or_else(|| fail("it has no `_`"))?;
        let (rest, kind) = rest
            .rsplit_once('_')
            .ok_or_else(|| fail("it has fewer than four fields"))?;
        let (name, group) = rest
            .rsplit_once('_')
            .ok_or_else(|| fail("it has fewer than four fields"))?;
        if name.is_empty() {
            return Err(fail("the name is empty"));
        }
        if kind.is_empty() {
            return Err(fail("the kind is empty"));
        }
        Ok(ObjectId {
            namespace: namespace.to_string(),
            name: name.replace("__", ":"),
            group: group.to_string(),
            kind: kind.to_string(),
        })
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.group == RBAC_GROUP {
            self.name.replace(':', "__")
        } else {
            self.name.clone()
        };
        write!(
            f,
            "{}_{}_{}_{}",
            self.namespace, name, self.group, self.kind
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_shapes_flux_writes() {
        let cases = [
            (
                "apps_web_apps_Deployment",
                ObjectId::new("apps", "web", "apps", "Deployment"),
            ),
            (
                "default_web__Service",
                ObjectId::new("default", "web", "", "Service"),
            ),
            (
                "_apps__Namespace",
                ObjectId::new("", "apps", "", "Namespace"),
            ),
            (
                "_gitrepositories.source.toolkit.fluxcd.io_apiextensions.k8s.io_CustomResourceDefinition",
                ObjectId::new(
                    "",
                    "gitrepositories.source.toolkit.fluxcd.io",
                    "apiextensions.k8s.io",
                    "CustomResourceDefinition",
                ),
            ),
            (
                "_system__controller__manager_rbac.authorization.k8s.io_ClusterRole",
                ObjectId::new("", "system:controller:manager", RBAC_GROUP, "ClusterRole"),
            ),
        ];
        for (text, id) in cases {
            assert_eq!(text.parse::<ObjectId>().as_ref(), Ok(&id), "{text}");
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_ids() {
        for text in [
            "",
            "web",
            "ns_web",
            "ns_web_apps",
            "ns__apps_Deployment",
            "ns_web_apps_",
        ] {
            let err = text.parse::<ObjectId>().expect_err(text);
            assert_eq!(err.id, text);
        }
    }

    #[test]
    fn entries_serialize_as_flux_does() {
        let inventory = ResourceInventory {
            entries: vec![ResourceRef::new(
                &ObjectId::new("default", "web", "apps", "Deployment"),
                "v1",
            )],
        };
        let json = serde_json::to_value(&inventory).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({"entries": [{"id": "default_web_apps_Deployment", "v": "v1"}]})
        );
        assert_eq!(
            inventory.object_ids(),
            Ok(vec![ObjectId::new("default", "web", "apps", "Deployment")])
        );
    }
}
