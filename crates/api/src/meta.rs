//! Types shared by all Flux kinds (Flux's `fluxcd/pkg/apis/meta`): object
//! references, the source [`Artifact`], reconcile history snapshots, and the
//! text forms of an artifact's revision and digest.
//!
//! Owns the shapes and the parsing of `<ref>@sha1:<hash>` revisions and
//! `sha256:<hex>` digests. Must not compute digests or touch storage: the
//! source crate does that and fills these fields in.
//!
//! ```
//! use driftless_api::meta::Revision;
//! let rev: Revision = "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738".parse().unwrap();
//! assert_eq!(rev.reference.as_deref(), Some("main"));
//! assert_eq!(rev.to_string(), "main@sha1:5394cb7f48332b2de7c17dd8b8384bbc84b7e738");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::GoDuration;

/// A reference to an object in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LocalObjectReference {
    /// Name of the referent.
    pub name: String,
}

/// A reference to a Secret in the same namespace, with an optional key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretKeyReference {
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret; when unset, an implementation-specific default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Which namespaces may refer to a source from elsewhere (Flux's ACL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessFrom {
    /// Namespaces whose labels match any of these selectors.
    pub namespace_selectors: Vec<NamespaceSelector>,
}

/// Labels a namespace must carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Every pair must match the namespace's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
}

/// A reference to an object of a named kind, in the referrer's namespace
/// or another.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectReference {
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the referrer's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A typed reference to an object in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectKindReference {
    /// API version of the referent; the preferred version when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent; the referrer's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// How to reach a remote cluster: a kubeconfig in a Secret, or a cloud
/// provider's identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfigReference {
    /// Cloud provider used to authenticate; `generic` (a kubeconfig Secret)
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<KubeConfigProvider>,
    /// Fully qualified cluster resource name at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// HTTPS address of the API server, to pick among the cluster's endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://.*"))]
    pub address: Option<String>,
    /// ServiceAccount used to authenticate to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret holding the kubeconfig (key `value` unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
}

/// Cloud provider: `generic` (a kubeconfig Secret), `aws`, `azure` or `gcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KubeConfigProvider {
    /// A kubeconfig read from a Secret.
    Generic,
    /// Amazon EKS.
    Aws,
    /// Azure AKS.
    Azure,
    /// Google GKE.
    Gcp,
}

/// The output of a source reconcile: an archive in storage, served at `url`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Path of the archive relative to the storage root.
    pub path: String,
    /// HTTP address the archive is served at.
    pub url: String,
    /// Source revision, for git `<ref>@sha1:<hash>`.
    pub revision: String,
    /// Checksum of the archive, `<algorithm>:<hex>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"))]
    pub digest: Option<String>,
    /// When the archive was last written.
    pub last_update_time: Time,
    /// Size of the archive in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Free-form metadata of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// One entry of a Kustomization's reconcile history: a set of applied
/// objects (identified by digest) and how its reconciles went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistorySnapshot {
    /// Checksum `<algorithm>:<hex>` of the applied objects.
    pub digest: String,
    /// When this set was first reconciled.
    pub first_reconciled: Time,
    /// When this set was last reconciled; history is sorted by it.
    pub last_reconciled: Time,
    /// How long the last reconcile of this set took.
    pub last_reconciled_duration: GoDuration,
    /// Outcome of the last reconcile of this set.
    pub last_reconciled_status: String,
    /// How many times this set was reconciled.
    pub total_reconciliations: i64,
    /// Extra facts about the snapshot (revision, object counts, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// Why a revision or digest text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A revision without `<algorithm>:<hash>`.
    #[error("invalid revision {input:?}: expected <ref>@<algorithm>:<hash> or <algorithm>:<hash>")]
    Revision {
        /// The text as given.
        input: String,
    },
    /// A digest without `<algorithm>:<hex>`.
    #[error("invalid digest {input:?}: expected <algorithm>:<hex>, such as sha256:...")]
    Digest {
        /// The text as given.
        input: String,
    },
}

/// A source revision in Flux's form: `main@sha1:<hash>`,
/// `refs/tags/v1.0@sha1:<hash>`, or just `sha1:<hash>` for a bare commit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Revision {
    /// The named reference (branch, tag, ref name), if any.
    pub reference: Option<String>,
    /// The hash algorithm, `sha1` or `sha256` for git.
    pub algorithm: String,
    /// The commit hash in hex.
    pub hash: String,
}

impl Revision {
    /// A git revision of `reference` at `commit` (sha1).
    pub fn git(reference: impl Into<String>, commit: impl Into<String>) -> Revision {
        Revision {
            reference: Some(reference.into()),
            algorithm: "sha1".to_string(),
            hash: commit.into(),
        }
    }
}

impl FromStr for Revision {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Revision, ParseError> {
        let fail = || ParseError::Revision {
            input: input.to_string(),
        };
        let (reference, checksum) = match input.rsplit_once('@') {
            Some((reference, checksum)) if !reference.is_empty() => {
                (Some(reference.to_string()), checksum)
            }
            Some(_) => return Err(fail()),
            None => (None, input),
        };
        let (algorithm, hash) = split_checksum(checksum).ok_or_else(fail)?;
        Ok(Revision {
            reference,
            algorithm: algorithm.to_string(),
            hash: hash.to_string(),
        })
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reference) = &self.reference {
            write!(f, "{reference}@")?;
        }
        write!(f, "{}:{}", self.algorithm, self.hash)
    }
}

/// A content digest, `<algorithm>:<hex>` (`sha256:…` for artifacts).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    /// The algorithm, such as `sha256`.
    pub algorithm: String,
    /// The encoded checksum.
    pub encoded: String,
}

impl FromStr for Digest {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Digest, ParseError> {
        let (algorithm, encoded) = split_checksum(input).ok_or_else(|| ParseError::Digest {
            input: input.to_string(),
        })?;
        Ok(Digest {
            algorithm: algorithm.to_string(),
            encoded: encoded.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.encoded)
    }
}

fn split_checksum(text: &str) -> Option<(&str, &str)> {
    let (algorithm, hash) = text.split_once(':')?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let hash_ok = !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric());
    (algorithm_ok && hash_ok).then_some((algorithm, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "5394cb7f48332b2de7c17dd8b8384bbc84b7e738";

    #[test]
    fn revision_round_trips() {
        for text in [
            format!("main@sha1:{SHA}"),
            format!("refs/tags/v1.2.0@sha1:{SHA}"),
            format!("feature/a@b@sha1:{SHA}"),
            format!("sha1:{SHA}"),
        ] {
            let revision: Revision = text.parse().expect(&text);
            assert_eq!(revision.to_string(), text);
            assert_eq!(revision.hash, SHA);
        }
        assert_eq!(
            Revision::git("main", SHA).to_string(),
            format!("main@sha1:{SHA}")
        );
    }

    #[test]
    fn revision_rejects_garbage() {
        for text in [
            "main",
            "@sha1:abc",
            "main@sha1:",
            "main@:abc",
            "main@SHA1:abc",
        ] {
            assert!(text.parse::<Revision>().is_err(), "{text}");
        }
    }

    #[test]
    fn digest_round_trips() {
        let digest: Digest = "sha256:abcdef0123".parse().expect("a digest");
        assert_eq!(digest.algorithm, "sha256");
        assert_eq!(digest.to_string(), "sha256:abcdef0123");
        assert!("abcdef".parse::<Digest>().is_err());
    }
}
