//! `GitRepository.spec.include`: resolving each entry to the other
//! GitRepository's current artifact, deciding when the including artifact
//! must be rebuilt, and finding who includes a repository that changed.
//!
//! The copying itself is the source crate's ([`driftless_source::Include`]);
//! this module only reads objects and says what to pass in. As in Flux, a
//! missing include (or one without an artifact yet) is `IncludeUnavailable`
//! and retried; a path that leaves the artifact or a cycle of includes is
//! `Stalled` until the spec changes. Either way the previous artifact stays.

use std::collections::BTreeSet;

use driftless_api::conditions::reasons;
use driftless_api::meta::Artifact;
use driftless_api::{GitRepository, GitRepositoryStatus};
use driftless_source::{ArtifactPath, Include};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;

use crate::reconciler::ReconcileError;

/// Objects followed when looking for a cycle of includes; a chain longer
/// than this is refused as if it were one.
const MAX_INCLUDE_CHAIN: usize = 64;

/// The includes of a GitRepository, resolved.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    /// What the fetcher copies in, in spec order.
    pub includes: Vec<Include>,
    /// The included repositories' artifacts (for `status.includedArtifacts`).
    pub artifacts: Vec<Artifact>,
}

/// `fromPath` and `toPath` of every entry, checked before anything is read.
fn paths(repo: &GitRepository) -> Result<Vec<(ArtifactPath, ArtifactPath)>, ReconcileError> {
    let invalid = |e: driftless_source::Error| {
        ReconcileError::stalled(reasons::INVALID_PATH, crate::gitrepository::describe(&e))
    };
    let mut out = Vec::new();
    for (i, entry) in repo.spec.include.iter().flatten().enumerate() {
        let from = match &entry.from_path {
            Some(from) => ArtifactPath::parse(&format!("spec.include[{i}].fromPath"), from)
                .map_err(invalid)?,
            None => ArtifactPath::root(),
        };
        let to = ArtifactPath::parse(&format!("spec.include[{i}].toPath"), entry.to_path())
            .map_err(invalid)?;
        out.push((from, to));
    }
    Ok(out)
}

/// Resolves `repo`'s includes to the other GitRepositories' artifacts.
pub(crate) async fn resolve(
    repo: &GitRepository,
    client: &kube::Client,
) -> Result<Resolved, ReconcileError> {
    let Some(entries) = repo.spec.include.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(Resolved::default());
    };
    let paths = paths(repo)?;
    let namespace = repo.namespace().unwrap_or_default();
    let api: Api<GitRepository> = Api::namespaced(client.clone(), &namespace);
    check_cycle(repo, &api).await?;
    let mut resolved = Resolved::default();
    for (i, (entry, (from_path, to_path))) in entries.iter().zip(paths).enumerate() {
        let name = &entry.repository.name;
        let id = format!("GitRepository '{namespace}/{name}'");
        let included = api
            .get_opt(name)
            .await
            .map_err(|e| {
                ReconcileError::retryable(
                    reasons::INCLUDE_NOT_FOUND,
                    format!("cannot read included {id} of spec.include[{i}]: {e}"),
                )
            })?
            .ok_or_else(|| {
                ReconcileError::retryable(
                    reasons::INCLUDE_NOT_FOUND,
                    format!(
                        "included {id} of spec.include[{i}] not found; create it or fix spec.include[{i}].repository.name"
                    ),
                )
            })?;
        let no_artifact = || {
            ReconcileError::retryable(
                reasons::NO_ARTIFACT,
                format!(
                    "included {id} of spec.include[{i}] has no artifact yet; retrying when it has one"
                ),
            )
        };
        let artifact = included
            .status
            .and_then(|s| s.artifact)
            .ok_or_else(no_artifact)?;
        let source_artifact =
            crate::gitrepository::to_source_artifact(&artifact).ok_or_else(no_artifact)?;
        resolved.includes.push(Include {
            name: id,
            artifact: source_artifact,
            from_path,
            to_path,
        });
        resolved.artifacts.push(artifact);
    }
    Ok(resolved)
}

/// Refuses a repository that includes itself, directly or through others:
/// each new artifact would change the other's, forever.
async fn check_cycle(repo: &GitRepository, api: &Api<GitRepository>) -> Result<(), ReconcileError> {
    let own = repo.name_any();
    let namespace = repo.namespace().unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut pending: Vec<String> = included_names(repo);
    while let Some(name) = pending.pop() {
        if name == own {
            return Err(ReconcileError::stalled(
                reasons::INCLUDE_CYCLE,
                format!(
                    "GitRepository '{namespace}/{own}' includes itself through spec.include (directly or via other GitRepositories); remove the include that closes the cycle"
                ),
            ));
        }
        if !seen.insert(name.clone()) || seen.len() > MAX_INCLUDE_CHAIN {
            continue;
        }
        // Unreadable or missing objects are reported by `resolve`; here they end the walk.
        if let Ok(Some(next)) = api.get_opt(&name).await {
            pending.extend(included_names(&next));
        }
    }
    Ok(())
}

fn included_names(repo: &GitRepository) -> Vec<String> {
    repo.spec
        .include
        .iter()
        .flatten()
        .map(|i| i.repository.name.clone())
        .collect()
}

/// Whether the current artifact was built from other inputs than these, so
/// an unchanged revision must still be rebuilt: the includes (spec or the
/// included artifacts), the ignore rules or `recurseSubmodules` changed.
pub(crate) fn inputs_changed(
    repo: &GitRepository,
    status: &GitRepositoryStatus,
    included: &[Artifact],
) -> bool {
    let digests = |artifacts: &[Artifact]| -> Vec<Option<String>> {
        artifacts.iter().map(|a| a.digest.clone()).collect()
    };
    let empty_as_none = |v: &Option<Vec<driftless_api::GitRepositoryInclude>>| {
        v.as_ref().filter(|v| !v.is_empty()).cloned()
    };
    empty_as_none(&status.observed_include) != empty_as_none(&repo.spec.include)
        || status.observed_ignore != repo.spec.ignore
        || status.observed_recurse_submodules != repo.spec.recurse_submodules
        || digests(status.included_artifacts.as_deref().unwrap_or_default()) != digests(included)
}

/// The GitRepositories among `all` that include `changed`: they are
/// reconciled when it changes, so a new included artifact is picked up at
/// once rather than at their next interval.
pub(crate) fn includers<'a>(
    all: impl IntoIterator<Item = &'a GitRepository>,
    changed: &GitRepository,
) -> Vec<ObjectRef<GitRepository>> {
    let namespace = changed.namespace();
    let name = changed.name_any();
    all.into_iter()
        .filter(|repo| repo.namespace() == namespace)
        .filter(|repo| included_names(repo).contains(&name))
        .map(ObjectRef::from_obj)
        .collect()
}

#[cfg(test)]
mod tests {
    use driftless_api::GitRepositoryInclude;
    use driftless_api::meta::LocalObjectReference;

    use super::*;

    fn including(name: &str, entries: &[(&str, Option<&str>)]) -> GitRepository {
        let mut repo = GitRepository::test(name);
        repo.spec.include = Some(
            entries
                .iter()
                .map(|(other, to)| GitRepositoryInclude {
                    repository: LocalObjectReference {
                        name: (*other).to_owned(),
                    },
                    from_path: None,
                    to_path: to.map(str::to_owned),
                })
                .collect(),
        );
        repo
    }

    fn artifact(digest: &str) -> Artifact {
        Artifact {
            path: "gitrepository/default/shared/x.tar.gz".to_owned(),
            url: "http://127.0.0.1/x.tar.gz".to_owned(),
            revision: "main@sha1:0".to_owned(),
            digest: Some(digest.to_owned()),
            last_update_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            size: Some(1),
            metadata: None,
        }
    }

    #[test]
    fn paths_default_and_refuse_escapes() {
        let repo = including("app", &[("shared", None), ("other", Some("./lib/"))]);
        let got = paths(&repo).expect("valid");
        assert_eq!(got[0].1.as_str(), "shared", "toPath defaults to the name");
        assert!(got[0].0.is_root(), "fromPath defaults to the root");
        assert_eq!(got[1].1.as_str(), "lib");

        let bad = including("app", &[("shared", None), ("other", Some("../up"))]);
        let err = paths(&bad).expect_err("escape");
        assert!(err.is_stalled());
        assert_eq!(err.reason, reasons::INVALID_PATH);
        assert!(
            err.message.contains("spec.include[1].toPath \"../up\"")
                && err.message.contains("without `..`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rebuild_when_includes_or_their_artifacts_change() {
        let repo = including("app", &[("shared", None)]);
        let built = GitRepositoryStatus {
            observed_include: repo.spec.include.clone(),
            included_artifacts: Some(vec![artifact("sha256:1")]),
            ..Default::default()
        };
        assert!(!inputs_changed(&repo, &built, &[artifact("sha256:1")]));
        assert!(inputs_changed(&repo, &built, &[artifact("sha256:2")]));
        let moved = including("app", &[("shared", Some("elsewhere"))]);
        assert!(inputs_changed(&moved, &built, &[artifact("sha256:1")]));
        let mut ignoring = repo.clone();
        ignoring.spec.ignore = Some("*.md\n".to_owned());
        assert!(inputs_changed(&ignoring, &built, &[artifact("sha256:1")]));
        let mut recursing = repo.clone();
        recursing.spec.recurse_submodules = true;
        assert!(inputs_changed(&recursing, &built, &[artifact("sha256:1")]));
        // A repository without includes, as written before includes existed.
        let plain = GitRepository::test("plain");
        assert!(!inputs_changed(
            &plain,
            &GitRepositoryStatus::default(),
            &[]
        ));
    }

    #[test]
    fn includers_are_those_in_the_namespace_naming_it() {
        let shared = GitRepository::test("shared");
        let all = [
            including("a", &[("shared", None)]),
            including("b", &[("other", None)]),
            including("c", &[("other", None), ("shared", Some("x"))]),
            including("d", &[("shared", None)]).in_namespace("elsewhere"),
        ];
        let names: Vec<String> = includers(&all, &shared)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a", "c"]);
    }
}
