//! Helm release records: each revision of a release stored as Helm stores
//! it, so the real `helm list`, `history`, `get`, `status` and `rollback`
//! work on releases we made, and a release made by `helm install` is ours
//! to upgrade.
//!
//! Owns: the record's plain-data types ([`Release`] and its parts), Helm's
//! encoding ([`encode`], [`decode`]), the storage Secrets
//! (`sh.helm.release.v1.<name>.v<revision>`, type `helm.sh/release.v1`,
//! labels `name`, `owner=helm`, `status`, `version`, `createdAt` or
//! `modifiedAt`) through [`ReleaseStore`], history pruning as Helm's
//! `maxHistory` does it, and unlocking a release left pending by a crash
//! ([`ReleaseStore::unlock`], Flux's rule).
//!
//! Must not: render charts, apply or delete the release's objects, or read
//! files. The HelmRelease reconciler renders, applies, and then records the
//! outcome here.
//!
//! Why our own code instead of Helm's storage driver: there is no Rust
//! crate for it, and the format is small (JSON, gzip, base64 in one Secret
//! per revision). It is checked against the real `helm` 3.17 and 4.3 in
//! `tests/release.rs`.
//!
//! ```no_run
//! # async fn demo(client: kube::Client, manifest: String) -> Result<(), driftless_apply::release::ReleaseError> {
//! use driftless_apply::release::{APPLY_METHOD_SSA, Info, Release, ReleaseStore, Status, go_time};
//! let store = ReleaseStore::new(client, "apps");
//! store.unlock("web").await?; // a crash mid-upgrade left it pending
//! let last = store.last("web").await?;
//! let now = go_time(time::OffsetDateTime::now_utc());
//! // An upgrade keeps the release's first deployment time, as Helm's does.
//! let first = last
//!     .as_ref()
//!     .and_then(|r| r.release.info.as_ref()?.first_deployed.clone())
//!     .unwrap_or_else(|| now.clone());
//! let next = Release {
//!     name: "web".into(),
//!     namespace: "apps".into(),
//!     version: last.as_ref().map_or(1, |r| r.release.version + 1),
//!     manifest,
//!     apply_method: APPLY_METHOD_SSA.into(),
//!     info: Some(Info {
//!         first_deployed: Some(first),
//!         last_deployed: Some(now),
//!         status: Status::PendingUpgrade,
//!         description: "Preparing upgrade".into(),
//!         ..Info::default()
//!     }),
//!     ..Release::default()
//! };
//! let stored = store.create(&next, 5).await?;
//! // ... apply the manifest ...
//! store.mark_deployed(stored, "Upgrade complete").await?;
//! # Ok(()) }
//! ```

mod codec;
mod lock;
mod record;
mod storage;

pub use codec::{decode, encode, go_time, to_go_json};
pub use lock::{Unlocked, unlock_description};
pub use record::{
    APPLY_METHOD_SSA, Chart, ChartFile, ChartMetadata, Hook, HookExecution, Info, Release, Status,
};
pub use storage::{FIELD_MANAGER, ReleaseStore, StoredRelease, prune_versions};

/// The Secret type Helm 3 and 4 give release records.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// The Secret holding revision `version` of release `name`.
pub fn secret_name(name: &str, version: u32) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// Checks `name` as Helm's `ValidateReleaseName` does
/// ([`is_valid_release_name`](driftless_api::helmrelease::is_valid_release_name)):
/// dot-separated lowercase DNS labels, at most 53 characters. Every store
/// operation checks it, so a name cannot widen a label selector.
///
/// # Errors
/// [`ReleaseError::InvalidName`].
pub fn validate_name(name: &str) -> Result<(), ReleaseError> {
    if driftless_api::helmrelease::is_valid_release_name(name) {
        Ok(())
    } else {
        Err(ReleaseError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Why reading or writing a release record failed. Each names the record
/// (its Secret) or the release and namespace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// Not a name Helm accepts for a release.
    #[error(
        "{name:?} is not a valid Helm release name; use lowercase letters, digits, '-' and '.', at most 53 characters, starting and ending with a letter or digit"
    )]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// The record could not be encoded.
    #[error("cannot encode Helm release record {release}")]
    Encode {
        /// The record's Secret name.
        release: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A stored record is not one Helm wrote.
    #[error(
        "Helm release record {key} is unreadable ({problem}); delete the Secret if the revision is not needed"
    )]
    Decode {
        /// The Secret's name.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The revision was written by someone else first (another controller,
    /// or `helm` run by hand).
    #[error(
        "Helm release record {namespace}/{key} already exists; another client is operating on the release, reconcile again"
    )]
    Exists {
        /// The storage namespace.
        namespace: String,
        /// The Secret's name.
        key: String,
    },
    /// The record changed or went away since it was read.
    #[error(
        "Helm release record {namespace}/{key} changed since it was read; another client is operating on the release, reconcile again"
    )]
    Changed {
        /// The storage namespace.
        namespace: String,
        /// The Secret's name.
        key: String,
    },
    /// Any other API error.
    #[error(
        "{action} of Helm release records {namespace}/{name} failed; check the API server and the permissions on Secrets in {namespace}"
    )]
    Api {
        /// What was being done (`list`, `create`, ...).
        action: &'static str,
        /// The storage namespace.
        namespace: String,
        /// The release or Secret name.
        name: String,
        /// The API server's answer (boxed: it is large, and errors travel
        /// up every call).
        #[source]
        source: Box<kube::Error>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_helm() {
        for good in ["web", "a", "my-app.v2", "0x", &"a".repeat(53)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Web",
            "-web",
            "web-",
            "a..b",
            "a,owner!=helm",
            "a_b",
            &"a".repeat(54),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
