//! An ImagePolicy's status as a pure function of (object, elected image),
//! with Flux's fields and words: `latestRef` (and `observedPreviousRef`
//! when it changes), `Ready=True` with `Latest image tag for <image>
//! resolved to <tag>[ with digest …][ (previously <image>:<tag>[@digest])]`;
//! after a failure `Ready=False` with `Reconciling` (retried) or `Stalled`,
//! the last elected image kept.

use driftless_api::conditions::{self, reasons, types};
use driftless_api::image::{ImagePolicy, ImagePolicyStatus, ImageRef, ReflectionPolicy};

use crate::reconciler::{ReconcileError, Stamp};

/// Where the elected image's digest comes from.
pub(super) enum Digest {
    /// Read it from the registry.
    Fetch,
    /// Record this one (empty: no digest).
    Keep(String),
}

/// Whether the digest of `name:tag` must be read from the registry under
/// `reflection`, given the image the status holds (Flux's rules: `Always`
/// reads it every time, `IfNotPresent` when the image changed or has none,
/// `Never` not at all).
pub(super) fn digest_needed(
    reflection: ReflectionPolicy,
    previous: Option<&ImageRef>,
    name: &str,
    tag: &str,
) -> Digest {
    match reflection {
        ReflectionPolicy::Never => Digest::Keep(String::new()),
        ReflectionPolicy::Always => Digest::Fetch,
        ReflectionPolicy::IfNotPresent => match previous {
            Some(old) if old.name == name && old.tag == tag && !old.digest.is_empty() => {
                Digest::Keep(old.digest.clone())
            }
            _ => Digest::Fetch,
        },
    }
}

/// Flux's Ready message for the status' elected image.
pub(super) fn ready_message(status: &ImagePolicyStatus) -> String {
    let Some(latest) = &status.latest_ref else {
        return String::new();
    };
    let mut message = format!(
        "Latest image tag for {} resolved to {}",
        latest.name, latest.tag
    );
    if !latest.digest.is_empty() {
        message.push_str(&format!(" with digest {}", latest.digest));
    }
    if let Some(previous) = status
        .observed_previous_ref
        .as_ref()
        .filter(|p| *p != latest)
    {
        message.push_str(&format!(" (previously {previous})"));
    }
    message
}

/// The status after electing `latest`.
pub(super) fn elected(
    policy: &ImagePolicy,
    mut status: ImagePolicyStatus,
    latest: ImageRef,
    stamp: &Stamp,
) -> ImagePolicyStatus {
    if status.latest_ref.as_ref() != Some(&latest) {
        status.observed_previous_ref = status.latest_ref.take();
        status.latest_ref = Some(latest);
    }
    let message = ready_message(&status);
    let mut list = status.conditions.take().unwrap_or_default();
    for gone in [types::RECONCILING, types::STALLED] {
        conditions::remove_condition(&mut list, gone);
    }
    conditions::set_condition(
        &mut list,
        conditions::ready(reasons::SUCCEEDED, message),
        &stamp.now,
    );
    status.conditions = Some(list);
    status.observed_generation = policy.metadata.generation;
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

/// The status after a failure; `latestRef` stays.
pub(super) fn failed(
    policy: &ImagePolicy,
    error: &ReconcileError,
    stamp: &Stamp,
) -> ImagePolicyStatus {
    let mut status = policy.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    error.mark(&mut list, &stamp.now);
    if !error.is_stalled() {
        conditions::set_condition(
            &mut list,
            conditions::reconciling(reasons::PROGRESSING_WITH_RETRY, &error.message),
            &stamp.now,
        );
    }
    status.conditions = Some(list);
    status.observed_generation = policy.metadata.generation;
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn policy() -> ImagePolicy {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "image.toolkit.fluxcd.io/v1",
            "kind": "ImagePolicy",
            "metadata": {"name": "app", "namespace": "apps", "generation": 1},
            "spec": {"imageRepositoryRef": {"name": "app"}, "policy": {"semver": {"range": "^1"}}},
        }))
        .expect("an ImagePolicy")
    }

    fn stamp() -> Stamp {
        Stamp {
            now: Time(Timestamp::from_second(1_700_000_000).expect("time")),
            requested: None,
        }
    }

    fn image(tag: &str, digest: &str) -> ImageRef {
        ImageRef {
            name: "127.0.0.1:5000/app".to_owned(),
            tag: tag.to_owned(),
            digest: digest.to_owned(),
        }
    }

    fn ready(status: &ImagePolicyStatus) -> String {
        conditions::find(
            status.conditions.as_deref().unwrap_or_default(),
            types::READY,
        )
        .map(|c| format!("{} {} {}", c.status, c.reason, c.message))
        .unwrap_or_default()
    }

    #[test]
    fn a_new_tag_moves_the_old_one_to_previous_with_flux_words() {
        let mut policy = policy();
        let first = elected(&policy, Default::default(), image("1.0.0", ""), &stamp());
        assert_eq!(
            ready(&first),
            "True Succeeded Latest image tag for 127.0.0.1:5000/app resolved to 1.0.0"
        );
        assert_eq!(first.observed_previous_ref, None);
        policy.status = Some(first.clone());
        let same = elected(&policy, first.clone(), image("1.0.0", ""), &stamp());
        assert_eq!(same, first, "nothing to write");
        let second = elected(&policy, first, image("1.1.0", "sha256:b"), &stamp());
        assert_eq!(second.observed_previous_ref, Some(image("1.0.0", "")));
        assert_eq!(
            ready(&second),
            "True Succeeded Latest image tag for 127.0.0.1:5000/app resolved to 1.1.0 with digest sha256:b (previously 127.0.0.1:5000/app:1.0.0)"
        );
    }

    #[test]
    fn digests_follow_the_reflection_policy() {
        let old = image("1.0.0", "sha256:a");
        let name = old.name.clone();
        let keep = |d: Digest| match d {
            Digest::Keep(digest) => Some(digest),
            Digest::Fetch => None,
        };
        assert_eq!(
            keep(digest_needed(
                ReflectionPolicy::Never,
                Some(&old),
                &name,
                "1.0.0"
            )),
            Some(String::new())
        );
        assert_eq!(
            keep(digest_needed(
                ReflectionPolicy::Always,
                Some(&old),
                &name,
                "1.0.0"
            )),
            None
        );
        assert_eq!(
            keep(digest_needed(
                ReflectionPolicy::IfNotPresent,
                Some(&old),
                &name,
                "1.0.0"
            )),
            Some("sha256:a".to_owned())
        );
        assert_eq!(
            keep(digest_needed(
                ReflectionPolicy::IfNotPresent,
                Some(&old),
                &name,
                "1.1.0"
            )),
            None
        );
        assert_eq!(
            keep(digest_needed(
                ReflectionPolicy::IfNotPresent,
                None,
                &name,
                "1.0.0"
            )),
            None
        );
    }

    #[test]
    fn a_failure_keeps_the_elected_image() {
        let mut policy = policy();
        policy.status = Some(elected(
            &policy,
            Default::default(),
            image("1.0.0", ""),
            &stamp(),
        ));
        let error = ReconcileError::retryable(reasons::ACCESS_DENIED, "access denied");
        let status = failed(&policy, &error, &stamp());
        assert_eq!(status.latest_ref, Some(image("1.0.0", "")));
        assert_eq!(ready(&status), "False AccessDenied access denied");
    }
}
