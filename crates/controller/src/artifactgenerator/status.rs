//! An ArtifactGenerator's checks and status as pure functions: the spec
//! rules its schema cannot state (checked before anything is read), and
//! the status after a success or a failure, as source-watcher writes them.

use std::collections::HashSet;

use driftless_api::conditions::{self, reasons, types};
use driftless_api::{
    ArtifactGenerator, ArtifactGeneratorStatus, ExternalArtifactReference, GeneratorSourceKind,
};
use kube::ResourceExt;

use super::copy;
use crate::reconciler::{ReconcileError, Stamp};

/// Refuses a spec that cannot work, naming the field: duplicate aliases
/// or names, unknown aliases, bad globs, cross-namespace sources when
/// they are blocked, and what we do not support yet.
pub(super) fn validate(
    generator: &ArtifactGenerator,
    no_cross_namespace_refs: bool,
) -> Result<(), ReconcileError> {
    let invalid = |message: String| ReconcileError::stalled(reasons::VALIDATION_FAILED, message);
    let spec = &generator.spec;
    if spec.path_pattern.is_some() {
        return Err(ReconcileError::unsupported_field(
            "ArtifactGenerator",
            "pathPattern",
        ));
    }
    let own = generator.namespace().unwrap_or_default();
    let mut aliases = HashSet::new();
    for (i, source) in spec.sources.iter().enumerate() {
        if !aliases.insert(source.alias.as_str()) {
            return Err(invalid(format!(
                "duplicate source alias '{}' found at spec.sources[{i}].alias; give each source its own alias",
                source.alias
            )));
        }
        if source.kind == GeneratorSourceKind::Bucket {
            return Err(ReconcileError::stalled(
                reasons::UNSUPPORTED_FIELD,
                format!(
                    "spec.sources[{i}].kind Bucket is not supported by driftless yet; use a GitRepository, OCIRepository, HelmChart or ExternalArtifact"
                ),
            ));
        }
        let namespace = source.namespace.as_deref().unwrap_or(&own);
        if no_cross_namespace_refs && namespace != own {
            return Err(ReconcileError::stalled(
                reasons::ACCESS_DENIED,
                format!(
                    "cross-namespace reference to source {}/{namespace}/{} is not allowed (spec.sources[{i}].namespace); move the source into namespace {own}",
                    source.kind.as_str(),
                    source.name
                ),
            ));
        }
    }
    let mut names = HashSet::new();
    for (i, artifact) in spec.output_artifacts.iter().enumerate() {
        if !names.insert(artifact.name.as_str()) {
            return Err(invalid(format!(
                "duplicate artifact name '{}' found at spec.artifacts[{i}].name",
                artifact.name
            )));
        }
        if !is_dns_subdomain(&artifact.name) {
            return Err(invalid(format!(
                "spec.artifacts[{i}].name {:?} is not a valid Kubernetes object name (lower case letters, digits, '-' and '.')",
                artifact.name
            )));
        }
        for (field, value) in [
            ("revision", &artifact.revision),
            ("originRevision", &artifact.origin_revision),
        ] {
            if let Some(value) = value {
                let alias = value.strip_prefix('@').unwrap_or(value);
                if !aliases.contains(alias) {
                    return Err(invalid(format!(
                        "spec.artifacts[{i}].{field}: source alias '{alias}' not found in spec.sources"
                    )));
                }
            }
        }
        for (j, op) in artifact.copy.iter().enumerate() {
            copy::check(op, &aliases).map_err(|e| {
                invalid(format!(
                    "spec.artifacts[{i}].copy[{j}] (from '{}' to '{}'): {e}",
                    op.from, op.to
                ))
            })?;
        }
    }
    Ok(())
}

/// Kubernetes' DNS subdomain rule for object names.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The status after generating `inventory` from sources with `digest`.
pub(super) fn succeeded(
    generator: &ArtifactGenerator,
    inventory: Vec<ExternalArtifactReference>,
    digest: String,
    stamp: &Stamp,
) -> ArtifactGeneratorStatus {
    let mut status = generator.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::remove_condition(&mut list, types::RECONCILING);
    conditions::remove_condition(&mut list, types::STALLED);
    let message = format!(
        "reconciliation succeeded, generated {} artifact(s)",
        inventory.len()
    );
    conditions::set_condition(
        &mut list,
        conditions::ready(reasons::SUCCEEDED, message),
        &stamp.now,
    );
    observe_generation(&mut list, generator);
    status.conditions = Some(list);
    status.inventory = Some(inventory);
    status.observed_sources_digest = Some(digest);
    handled(&mut status, stamp);
    status
}

/// The status when nothing had to be regenerated: only a reconcile
/// request is echoed.
pub(super) fn unchanged(generator: &ArtifactGenerator, stamp: &Stamp) -> ArtifactGeneratorStatus {
    let mut status = generator.status.clone().unwrap_or_default();
    handled(&mut status, stamp);
    status
}

/// The status after `error`: `Ready=False` with its reason, `Stalled`
/// when retrying cannot help, else `Reconciling` with a retry; the
/// inventory of the last success stays (its artifacts are still served).
pub(super) fn failed(
    generator: &ArtifactGenerator,
    error: &ReconcileError,
    stamp: &Stamp,
) -> ArtifactGeneratorStatus {
    let mut status = generator.status.clone().unwrap_or_default();
    let mut list = status.conditions.take().unwrap_or_default();
    error.mark(&mut list, &stamp.now);
    if !error.is_stalled() {
        conditions::set_condition(
            &mut list,
            conditions::reconciling(reasons::PROGRESSING_WITH_RETRY, "retrying"),
            &stamp.now,
        );
    }
    observe_generation(&mut list, generator);
    status.conditions = Some(list);
    handled(&mut status, stamp);
    status
}

/// source-watcher records the generation it acted on in its conditions
/// (the status has no `observedGeneration`).
fn observe_generation(
    list: &mut [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    generator: &ArtifactGenerator,
) {
    for condition in list {
        condition.observed_generation = generator.metadata.generation;
    }
}

fn handled(status: &mut ArtifactGeneratorStatus, stamp: &Stamp) {
    if stamp.requested.is_some() {
        status
            .last_handled_reconcile_at
            .clone_from(&stamp.requested);
    }
}

/// Whether the last success still stands for this generation and these
/// sources (else everything is regenerated).
pub(super) fn up_to_date(generator: &ArtifactGenerator, digest: &str) -> bool {
    let Some(status) = &generator.status else {
        return false;
    };
    let ready = conditions::find(generator.conditions(), types::READY);
    ready.is_some_and(|c| {
        c.status == conditions::status::TRUE
            && c.observed_generation == generator.metadata.generation
    }) && status.observed_sources_digest.as_deref() == Some(digest)
        && generator.inventory().len() == generator.spec.output_artifacts.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftless_api::{CopyOperation, OutputArtifact, SourceReference};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn generator() -> ArtifactGenerator {
        let mut generator = ArtifactGenerator::new(
            "apps",
            driftless_api::ArtifactGeneratorSpec {
                sources: vec![SourceReference {
                    alias: "repo".into(),
                    name: "fleet".into(),
                    ..SourceReference::default()
                }],
                output_artifacts: vec![OutputArtifact {
                    name: "apps".into(),
                    revision: Some("@repo".into()),
                    copy: vec![CopyOperation {
                        from: "@repo/apps/**".into(),
                        to: "@artifact/".into(),
                        ..CopyOperation::default()
                    }],
                    ..OutputArtifact::default()
                }],
                ..Default::default()
            },
        );
        generator.metadata.namespace = Some("default".into());
        generator.metadata.generation = Some(2);
        generator
    }

    fn stamp() -> Stamp {
        Stamp {
            now: Time(k8s_openapi::jiff::Timestamp::from_second(100).expect("time")),
            requested: Some("now".into()),
        }
    }

    #[test]
    fn a_valid_spec_passes() {
        validate(&generator(), true).expect("valid");
    }

    #[test]
    fn spec_errors_stall_and_name_the_field() {
        type Change = fn(&mut ArtifactGenerator);
        let cases: [(Change, &str); 8] = [
            (
                |g| g.spec.sources.push(g.spec.sources[0].clone()),
                "duplicate source alias 'repo' found at spec.sources[1].alias",
            ),
            (
                |g| g.spec.output_artifacts[0].revision = Some("@nope".into()),
                "spec.artifacts[0].revision: source alias 'nope'",
            ),
            (
                |g| g.spec.output_artifacts[0].copy[0].from = "@repo/apps/[x".into(),
                "spec.artifacts[0].copy[0] (from '@repo/apps/[x' to '@artifact/'): invalid glob pattern",
            ),
            (
                |g| g.spec.output_artifacts[0].copy[0].from = "@other/x".into(),
                "spec.artifacts[0].copy[0] (from '@other/x' to '@artifact/'): source alias 'other'",
            ),
            (
                |g| g.spec.output_artifacts[0].copy[0].exclude = vec!["{a".into()],
                "spec.artifacts[0].copy[0]",
            ),
            (
                |g| g.spec.output_artifacts[0].name = "Not_A_Name".into(),
                "spec.artifacts[0].name",
            ),
            (
                |g| g.spec.sources[0].namespace = Some("elsewhere".into()),
                "spec.sources[0].namespace",
            ),
            (
                |g| g.spec.sources[0].kind = GeneratorSourceKind::Bucket,
                "spec.sources[0].kind Bucket",
            ),
        ];
        for (change, expected) in cases {
            let mut g = generator();
            change(&mut g);
            let error = validate(&g, true).expect_err(expected);
            assert!(error.is_stalled(), "{error}");
            assert!(error.message.contains(expected), "{}", error.message);
        }
    }

    #[test]
    fn success_and_failure_write_sourcewatchers_conditions() {
        let g = generator();
        let error = ReconcileError::retryable(reasons::BUILD_FAILED, "no files match");
        let status = failed(&g, &error, &stamp());
        let list = status.conditions.clone().expect("conditions");
        let ready = conditions::find(&list, types::READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "BuildFailed")
        );
        assert_eq!(ready.observed_generation, Some(2));
        assert!(conditions::is_true(&list, types::RECONCILING));
        assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("now"));

        let mut g = g;
        g.status = Some(status);
        let reference = ExternalArtifactReference {
            name: "apps".into(),
            namespace: "default".into(),
            digest: "sha256:1".into(),
            filename: "1.tar.gz".into(),
        };
        let status = succeeded(&g, vec![reference], "sha256:src".into(), &stamp());
        let list = status.conditions.clone().expect("conditions");
        assert!(!conditions::is_true(&list, types::RECONCILING));
        let ready = conditions::find(&list, types::READY).expect("Ready");
        assert_eq!(ready.reason, "Succeeded");
        assert_eq!(
            ready.message,
            "reconciliation succeeded, generated 1 artifact(s)"
        );
        g.status = Some(status);
        assert!(up_to_date(&g, "sha256:src"));
        assert!(!up_to_date(&g, "sha256:other"), "a source changed");
        g.metadata.generation = Some(3);
        assert!(!up_to_date(&g, "sha256:src"), "the spec changed");
    }
}
