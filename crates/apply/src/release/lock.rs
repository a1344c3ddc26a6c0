//! Releases left pending: a crash mid-install, -upgrade or -rollback (ours
//! or `helm`'s) leaves the last revision `pending-*`, and Helm refuses every
//! later operation ("another operation is in progress") until it leaves
//! that state.
//!
//! The rule is Flux helm-controller's (`internal/reconcile/unlock.go`): a
//! reconcile that finds the last revision pending treats it as stale, marks
//! it `failed` with the description "Release unlocked from stale '`<status>`'
//! state", and proceeds. There is no age threshold: the controller runs one
//! reconcile per HelmRelease at a time, so a pending revision it meets was
//! left by an operation that is no longer running.

use super::{ReleaseError, ReleaseStore, Status};

/// A revision that was unlocked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unlocked {
    /// The revision marked failed.
    pub version: u32,
    /// The pending status it was left in.
    pub was: Status,
}

/// The description Flux writes on a revision it unlocks.
pub fn unlock_description(was: Status) -> String {
    format!("Release unlocked from stale '{was}' state")
}

impl ReleaseStore {
    /// Marks the last revision of `name` failed if it is pending; `None`
    /// when there is no release or it is not pending.
    ///
    /// # Errors
    /// As [`ReleaseStore::history`] and [`ReleaseStore::update`]
    /// ([`ReleaseError::Changed`] if another client moved the release on
    /// meanwhile).
    pub async fn unlock(&self, name: &str) -> Result<Option<Unlocked>, ReleaseError> {
        let Some(mut last) = self.last(name).await? else {
            return Ok(None);
        };
        let was = last.release.status();
        if !was.is_pending() {
            return Ok(None);
        }
        last.release
            .set_status(Status::Failed, unlock_description(was));
        self.update(&last).await?;
        tracing::info!(
            release = name,
            version = last.release.version,
            %was,
            "unlocked a Helm release left pending"
        );
        Ok(Some(Unlocked {
            version: last.release.version,
            was,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_matches_flux() {
        assert_eq!(
            unlock_description(Status::PendingUpgrade),
            "Release unlocked from stale 'pending-upgrade' state"
        );
    }
}
