//! Release records in Secrets, read and written as Helm's Secret storage
//! driver does, through kube-rs.
//!
//! Reads follow Helm's `Storage`: the history is every Secret labelled
//! `owner=helm,name=<release>` (undecodable ones are skipped with a
//! warning, as Helm skips them), the last revision is the highest
//! `version`, the deployed one the highest with status `deployed`.
//!
//! Writes differ from Helm in one way: an update carries the
//! resourceVersion it read, so a record another client changed meanwhile
//! is not overwritten (Helm writes unconditionally).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use time::OffsetDateTime;

use super::{Release, ReleaseError, SECRET_TYPE, Status, codec, secret_name, validate_name};

/// The field manager of every write, Flux's helm-controller's.
pub const FIELD_MANAGER: &str = "helm-controller";

/// Labels Helm sets itself and keeps out of [`Release::labels`].
const SYSTEM_LABELS: [&str; 6] = [
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// A record as read from (or written to) its Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRelease {
    /// The revision.
    pub release: Release,
    /// The Secret's resourceVersion, so an update cannot overwrite a change
    /// it did not see.
    pub resource_version: Option<String>,
}

/// The release records of one storage namespace.
#[derive(Clone)]
pub struct ReleaseStore {
    secrets: Api<Secret>,
    namespace: String,
}

impl ReleaseStore {
    /// Records in `namespace` (a HelmRelease's storage namespace).
    pub fn new(client: kube::Client, namespace: &str) -> ReleaseStore {
        ReleaseStore {
            secrets: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        }
    }

    /// Every revision of `name`, oldest first.
    ///
    /// # Errors
    /// [`ReleaseError::InvalidName`], or [`ReleaseError::Api`] if the
    /// Secrets cannot be listed.
    pub async fn history(&self, name: &str) -> Result<Vec<StoredRelease>, ReleaseError> {
        validate_name(name)?;
        let params = ListParams::default().labels(&format!("owner=helm,name={name}"));
        let list = self
            .secrets
            .list(&params)
            .await
            .map_err(|source| self.api_error("list", name, source))?;
        let mut history: Vec<StoredRelease> = list
            .items
            .into_iter()
            .filter_map(|secret| match read_secret(secret) {
                Ok(stored) => Some(stored),
                Err(error) => {
                    tracing::warn!(%error, "skipping a Helm release record, as helm does");
                    None
                }
            })
            .collect();
        history.sort_by_key(|s| s.release.version);
        Ok(history)
    }

    /// The newest revision of `name`, if any.
    ///
    /// # Errors
    /// As [`ReleaseStore::history`].
    pub async fn last(&self, name: &str) -> Result<Option<StoredRelease>, ReleaseError> {
        Ok(self.history(name).await?.pop())
    }

    /// The newest revision of `name` with status `deployed`, if any.
    ///
    /// # Errors
    /// As [`ReleaseStore::history`].
    pub async fn deployed(&self, name: &str) -> Result<Option<StoredRelease>, ReleaseError> {
        Ok(self
            .history(name)
            .await?
            .into_iter()
            .rfind(|s| s.release.status() == Status::Deployed))
    }

    /// Stores a new revision. With `max_history` above 0, first deletes the
    /// oldest revisions so at most `max_history` remain with this one, as
    /// Helm does (never the last deployed one, see [`prune_versions`]).
    ///
    /// # Errors
    /// [`ReleaseError::InvalidName`], [`ReleaseError::Exists`] if the
    /// revision is already stored,
    /// [`ReleaseError::Api`] for other API failures.
    pub async fn create(
        &self,
        release: &Release,
        max_history: usize,
    ) -> Result<StoredRelease, ReleaseError> {
        validate_name(&release.name)?;
        if max_history > 0 {
            self.prune(&release.name, max_history - 1).await?;
        }
        let secret = self.to_secret(release, "createdAt", None)?;
        let created = self
            .secrets
            .create(&post_params(), &secret)
            .await
            .map_err(|source| match source {
                kube::Error::Api(ref status) if status.code == 409 => ReleaseError::Exists {
                    namespace: self.namespace.clone(),
                    key: secret_name(&release.name, release.version),
                },
                source => self.api_error("create", &release.name, source),
            })?;
        Ok(StoredRelease {
            release: release.clone(),
            resource_version: created.metadata.resource_version,
        })
    }

    /// Rewrites a stored revision (new status, description, times),
    /// labelled `modifiedAt` as Helm's update does.
    ///
    /// # Errors
    /// [`ReleaseError::Changed`] if the Secret changed or went away since
    /// it was read, [`ReleaseError::Api`] for other API failures.
    pub async fn update(&self, stored: &StoredRelease) -> Result<StoredRelease, ReleaseError> {
        let release = &stored.release;
        let key = secret_name(&release.name, release.version);
        let secret = self.to_secret(release, "modifiedAt", stored.resource_version.clone())?;
        let replaced = self
            .secrets
            .replace(&key, &post_params(), &secret)
            .await
            .map_err(|source| match source {
                kube::Error::Api(ref status) if status.code == 409 || status.code == 404 => {
                    ReleaseError::Changed {
                        namespace: self.namespace.clone(),
                        key: key.clone(),
                    }
                }
                source => self.api_error("update", &key, source),
            })?;
        Ok(StoredRelease {
            release: release.clone(),
            resource_version: replaced.metadata.resource_version,
        })
    }

    /// Marks `stored` deployed and every other deployed revision of the
    /// release superseded, as Helm's install, upgrade and rollback do on
    /// success.
    ///
    /// # Errors
    /// As [`ReleaseStore::update`].
    pub async fn mark_deployed(
        &self,
        mut stored: StoredRelease,
        description: &str,
    ) -> Result<StoredRelease, ReleaseError> {
        let name = stored.release.name.clone();
        for mut older in self.history(&name).await? {
            if older.release.version != stored.release.version
                && older.release.status() == Status::Deployed
            {
                self.supersede(&mut older).await?;
            }
        }
        stored.release.set_status(Status::Deployed, description);
        self.update(&stored).await
    }

    /// Marks revision `version` of `name` superseded, keeping its
    /// description, as Helm's rollback does to the revision it rolled back
    /// from when the rollback's update fails. A revision that is gone is
    /// left alone.
    ///
    /// # Errors
    /// As [`ReleaseStore::history`] and [`ReleaseStore::update`].
    pub async fn mark_superseded(&self, name: &str, version: u32) -> Result<(), ReleaseError> {
        let Some(mut revision) = self
            .history(name)
            .await?
            .into_iter()
            .find(|r| r.release.version == version)
        else {
            return Ok(());
        };
        self.supersede(&mut revision).await
    }

    /// Marks `revision` superseded, keeping its description (Helm changes
    /// only the status).
    async fn supersede(&self, revision: &mut StoredRelease) -> Result<(), ReleaseError> {
        let description = revision
            .release
            .info
            .as_ref()
            .map(|i| i.description.clone())
            .unwrap_or_default();
        revision.release.set_status(Status::Superseded, description);
        self.update(revision).await.map(|_| ())
    }

    /// Marks `stored` failed with `description` (what went wrong), as Helm
    /// does when an install, upgrade or rollback fails.
    ///
    /// # Errors
    /// As [`ReleaseStore::update`].
    pub async fn mark_failed(
        &self,
        mut stored: StoredRelease,
        description: &str,
    ) -> Result<StoredRelease, ReleaseError> {
        stored.release.set_status(Status::Failed, description);
        self.update(&stored).await
    }

    /// Records a finished uninstall of `name`, as Helm's uninstall does:
    /// with `keep_history`, the last revision becomes `uninstalled` with
    /// its deletion time; without, every record is deleted. Returns the
    /// revisions that were recorded or deleted.
    ///
    /// # Errors
    /// As [`ReleaseStore::update`] and [`ReleaseStore::delete`].
    pub async fn uninstall(
        &self,
        name: &str,
        keep_history: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<u32>, ReleaseError> {
        let history = self.history(name).await?;
        if keep_history {
            let Some(mut last) = history.into_iter().last() else {
                return Ok(Vec::new());
            };
            last.release
                .set_status(Status::Uninstalled, "Uninstallation complete");
            if let Some(info) = last.release.info.as_mut() {
                info.deleted = Some(codec::go_time(now));
            }
            self.update(&last).await?;
            return Ok(vec![last.release.version]);
        }
        let mut deleted = Vec::new();
        for stored in history {
            self.delete(name, stored.release.version).await?;
            deleted.push(stored.release.version);
        }
        Ok(deleted)
    }

    /// Deletes one revision's record; gone already is fine.
    ///
    /// # Errors
    /// [`ReleaseError::Api`] if the API refuses.
    pub async fn delete(&self, name: &str, version: u32) -> Result<(), ReleaseError> {
        let key = secret_name(name, version);
        match self.secrets.delete(&key, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(self.api_error("delete", &key, source)),
        }
    }

    /// Deletes the oldest revisions so at most `keep` remain.
    async fn prune(&self, name: &str, keep: usize) -> Result<(), ReleaseError> {
        let history: Vec<(u32, Status)> = self
            .history(name)
            .await?
            .iter()
            .map(|s| (s.release.version, s.release.status()))
            .collect();
        for version in prune_versions(&history, keep) {
            self.delete(name, version).await?;
        }
        Ok(())
    }

    fn to_secret(
        &self,
        release: &Release,
        time_label: &str,
        resource_version: Option<String>,
    ) -> Result<Secret, ReleaseError> {
        let mut labels = release.labels.clone();
        for system in SYSTEM_LABELS {
            labels.remove(system);
        }
        labels.insert(
            time_label.to_owned(),
            OffsetDateTime::now_utc().unix_timestamp().to_string(),
        );
        labels.insert("name".into(), release.name.clone());
        labels.insert("owner".into(), "helm".into());
        labels.insert("status".into(), release.status().as_str().into());
        labels.insert("version".into(), release.version.to_string());
        Ok(Secret {
            metadata: ObjectMeta {
                name: Some(secret_name(&release.name, release.version)),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels),
                resource_version,
                ..ObjectMeta::default()
            },
            type_: Some(SECRET_TYPE.into()),
            data: Some(BTreeMap::from([(
                "release".to_owned(),
                ByteString(codec::encode(release)?.into_bytes()),
            )])),
            ..Secret::default()
        })
    }

    fn api_error(&self, action: &'static str, name: &str, source: kube::Error) -> ReleaseError {
        ReleaseError::Api {
            action,
            namespace: self.namespace.clone(),
            name: name.to_owned(),
            source: Box::new(source),
        }
    }
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    }
}

/// Decodes a storage Secret, keeping its non-system labels on the release.
fn read_secret(secret: Secret) -> Result<StoredRelease, ReleaseError> {
    let key = secret.metadata.name.unwrap_or_default();
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| ReleaseError::Decode {
            key: key.clone(),
            problem: "no `release` data key".into(),
        })?;
    let mut release = codec::decode(&key, &data.0)?;
    release.labels = secret
        .metadata
        .labels
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !SYSTEM_LABELS.contains(&k.as_str()))
        .collect();
    Ok(StoredRelease {
        release,
        resource_version: secret.metadata.resource_version,
    })
}

/// The revisions Helm's `maxHistory` pruning deletes so that at most `keep`
/// remain: the oldest first, never the last deployed one. `history` is
/// (revision, status) in any order.
pub fn prune_versions(history: &[(u32, Status)], keep: usize) -> Vec<u32> {
    let mut sorted = history.to_vec();
    sorted.sort_by_key(|(version, _)| *version);
    let last_deployed = sorted
        .iter()
        .rev()
        .find(|(_, status)| *status == Status::Deployed)
        .map(|(version, _)| *version);
    let mut delete = Vec::new();
    for (version, _) in &sorted {
        if sorted.len() - delete.len() <= keep {
            break;
        }
        if Some(*version) != last_deployed {
            delete.push(*version);
        }
    }
    delete
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_and_the_last_deployed() {
        use Status::{Deployed, Failed, Superseded};
        let history = [
            (1, Superseded),
            (2, Deployed),
            (3, Failed),
            (4, Failed),
            (5, Failed),
        ];
        // Helm keeps revision 2 (last deployed) and deletes around it.
        assert_eq!(prune_versions(&history, 2), vec![1, 3, 4]);
        assert_eq!(prune_versions(&history, 4), vec![1]);
        assert_eq!(prune_versions(&history, 5), Vec::<u32>::new());
        // Nothing deployed: plain oldest first.
        let failed = [(3, Failed), (1, Failed), (2, Failed)];
        assert_eq!(prune_versions(&failed, 1), vec![1, 2]);
        // Asked to keep none, the last deployed still stays.
        assert_eq!(prune_versions(&[(1, Deployed), (2, Failed)], 0), vec![2]);
    }
}
