//! Flux-format YAML (every spec and status field, written as a Flux user
//! and Flux's controllers write it) read into our types and written back:
//! nothing may be lost, renamed or added.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::helmrelease::{
    CrdsPolicy, InstallRemediation, RemediationStrategy, Snapshot, UpgradeRemediation,
};
use crate::inventory::ObjectId;
use crate::meta::Revision;
use crate::{
    DeletionPolicy, GitRepository, GitVerificationMode, GoDuration, HelmChart, HelmChartSourceKind,
    HelmRelease, HelmRepository, Kustomization, OCILayerOperation, OCIRepository,
    ReconcileStrategy, SourceKind, SubstituteKind,
};

const GIT_FULL: &str = include_str!("../tests/fixtures/gitrepository-full.yaml");
const GIT_MINIMAL: &str = include_str!("../tests/fixtures/gitrepository-minimal.yaml");
const KS_FULL: &str = include_str!("../tests/fixtures/kustomization-full.yaml");
const KS_MINIMAL: &str = include_str!("../tests/fixtures/kustomization-minimal.yaml");
const HELM_REPO_FULL: &str = include_str!("../tests/fixtures/helmrepository-full.yaml");
const HELM_CHART_FULL: &str = include_str!("../tests/fixtures/helmchart-full.yaml");
const OCI_REPO_FULL: &str = include_str!("../tests/fixtures/ocirepository-full.yaml");
const HELM_RELEASE_FULL: &str = include_str!("../tests/fixtures/helmrelease-full.yaml");

/// Parses `yaml` as `T`, and checks that writing it back gives the same
/// document as the YAML read generically.
fn round_trip<T: DeserializeOwned + Serialize>(yaml: &str) -> T {
    let typed: T = serde_saphyr::from_str(yaml).expect("the fixture reads as our type");
    let generic: Value = serde_saphyr::from_str(yaml).expect("the fixture is YAML");
    let written = serde_json::to_value(&typed).expect("our type serializes");
    assert_eq!(written, generic, "the round trip changed the document");
    typed
}

#[test]
fn git_repository_with_every_field() {
    let repo: GitRepository = round_trip(GIT_FULL);
    let spec = &repo.spec;
    assert_eq!(
        spec.interval.to_std(),
        Ok(std::time::Duration::from_secs(150))
    );
    assert_eq!(spec.timeout, Some(GoDuration::from("90s")));
    assert!(spec.suspend && spec.recurse_submodules);
    let verify = spec.verification.as_ref().expect("verify is set");
    assert_eq!(verify.mode, Some(GitVerificationMode::TagAndHEAD));
    let include = &spec.include.as_ref().expect("include is set")[0];
    assert_eq!(include.to_path(), "vendor/shared");

    let artifact = repo.artifact().expect("an artifact");
    let revision: Revision = artifact.revision.parse().expect("a Flux revision");
    assert_eq!(revision.reference.as_deref(), Some("release"));
    assert_eq!(artifact.size, Some(48213));
    assert_eq!(repo.conditions().len(), 2);
    assert!(crate::conditions::is_true(
        repo.conditions(),
        crate::conditions::types::ARTIFACT_IN_STORAGE
    ));
}

#[test]
fn kustomization_with_every_field() {
    let ks: Kustomization = round_trip(KS_FULL);
    let spec = &ks.spec;
    assert_eq!(spec.source_ref.kind, SourceKind::GitRepository);
    assert_eq!(ks.deletion_policy(), DeletionPolicy::WaitForTermination);
    assert_eq!(ks.timeout(), Ok(std::time::Duration::from_secs(180)));
    assert_eq!(ks.retry_interval(), Ok(std::time::Duration::from_secs(60)));
    let from = &spec.post_build.as_ref().expect("postBuild").substitute_from;
    let from = from.as_ref().expect("substituteFrom");
    assert_eq!(from[1].kind, SubstituteKind::Secret);
    assert!(from[1].optional && !from[0].optional);
    assert_eq!(spec.patches.as_ref().map(Vec::len), Some(2));
    assert!(spec.force && spec.wait && spec.suspend && spec.ignore_missing_components);

    let status = ks.status.as_ref().expect("a status");
    let ids = status
        .inventory
        .as_ref()
        .expect("an inventory")
        .object_ids()
        .expect("Flux ids parse");
    assert_eq!(ids[0], ObjectId::new("", "webapp", "", "Namespace"));
    let history = &status.history.as_ref().expect("history")[0];
    assert_eq!(
        history.last_reconciled_duration.to_std(),
        Ok(std::time::Duration::from_millis(180_520))
    );
}

#[test]
fn minimal_objects_from_the_flux_docs_shape() {
    let repo: GitRepository = round_trip(GIT_MINIMAL);
    assert_eq!(repo.status, None);
    assert!(!repo.spec.suspend);
    let ks: Kustomization = round_trip(KS_MINIMAL);
    assert_eq!(ks.spec.path.as_deref(), Some("./kustomize"));
    assert_eq!(ks.deletion_policy(), DeletionPolicy::MirrorPrune);
}

#[test]
fn builders_serialize_as_flux_objects() {
    let repo = serde_json::to_value(GitRepository::test("app").branch("dev").suspended())
        .expect("serializable");
    assert_eq!(repo["apiVersion"], "source.toolkit.fluxcd.io/v1");
    assert_eq!(repo["kind"], "GitRepository");
    assert_eq!(repo["spec"]["ref"], serde_json::json!({"branch": "dev"}));
    assert_eq!(repo["spec"]["suspend"], true);
    assert!(repo["spec"].get("recurseSubmodules").is_none());

    let ks = serde_json::to_value(Kustomization::test("app").depends_on("infra").no_prune())
        .expect("serializable");
    assert_eq!(ks["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
    assert_eq!(ks["spec"]["prune"], false);
    assert_eq!(
        ks["spec"]["dependsOn"],
        serde_json::json!([{"name": "infra"}])
    );
    assert_eq!(
        ks["spec"]["sourceRef"],
        serde_json::json!({"kind": "GitRepository", "name": "app"})
    );
    assert!(ks["spec"].get("wait").is_none());
}

#[test]
fn unknown_enum_values_are_rejected() {
    let yaml = KS_MINIMAL.replace("kind: GitRepository", "kind: HelmRepository");
    let err = serde_saphyr::from_str::<Kustomization>(&yaml).expect_err("not a source kind");
    assert!(err.to_string().contains("HelmRepository"), "{err}");
}

#[test]
fn helm_sources_with_every_field() {
    let repo: HelmRepository = round_trip(HELM_REPO_FULL);
    assert!(repo.spec.pass_credentials && repo.spec.insecure && !repo.is_oci());
    let chart: HelmChart = round_trip(HELM_CHART_FULL);
    assert_eq!(chart.version_range(), ">=6.0.0 <7.0.0");
    assert_eq!(chart.reconcile_strategy(), ReconcileStrategy::Revision);
    assert_eq!(
        chart.spec.source_ref.kind,
        HelmChartSourceKind::HelmRepository
    );
    let oci: OCIRepository = round_trip(OCI_REPO_FULL);
    let selector = oci.spec.layer_selector.expect("a layer selector");
    assert_eq!(selector.operation, Some(OCILayerOperation::Copy));
    assert_eq!(
        oci.spec.reference.and_then(|r| r.semver_filter).as_deref(),
        Some(".*-rc.*")
    );
}

#[test]
fn helm_release_with_every_field() {
    let release: HelmRelease = round_trip(HELM_RELEASE_FULL);
    assert_eq!(release.release_name(), "web");
    assert_eq!(release.release_namespace(), "web");
    assert_eq!(release.storage_namespace(), "helm-storage");
    assert_eq!(release.helm_chart_name(), "apps-podinfo");
    assert_eq!(release.timeout(), std::time::Duration::from_secs(540));
    assert_eq!(release.max_history(), 10);
    let install = release.spec.install.as_ref().expect("install");
    assert_eq!(install.crds_policy(), CrdsPolicy::CreateReplace);
    let upgrade = release.spec.upgrade.as_ref().expect("upgrade");
    let rules = upgrade
        .remediation
        .as_ref()
        .expect("remediation")
        .rules(false);
    assert_eq!(rules.strategy, RemediationStrategy::Uninstall);
    assert!(
        !rules.retries_exhausted(1_000),
        "negative retries never run out"
    );
    assert_eq!(
        release
            .latest_snapshot()
            .map(Snapshot::versioned_chart_name),
        Some("podinfo@6.9.2".to_string())
    );
}

#[test]
fn helm_release_defaults_follow_flux() {
    let release: HelmRelease = round_trip(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: apps\nspec:\n  interval: 5m\n  targetNamespace: web\n  chartRef:\n    kind: OCIRepository\n    name: podinfo\n",
    );
    assert_eq!(release.release_name(), "web-podinfo");
    assert_eq!(release.storage_namespace(), "apps");
    assert_eq!(release.timeout(), std::time::Duration::from_secs(300));
    assert_eq!(release.max_history(), 5);
    let install = release.spec.install.clone().unwrap_or_default();
    assert_eq!(install.crds_policy(), CrdsPolicy::Create);
    assert_eq!(
        release
            .spec
            .upgrade
            .clone()
            .unwrap_or_default()
            .crds_policy(),
        CrdsPolicy::Skip
    );
    let upgrade_rules = UpgradeRemediation {
        retries: 2,
        ..UpgradeRemediation::default()
    }
    .rules(false);
    assert!(
        upgrade_rules.remediate_last_failure,
        "retries > 0 remediates the last failure"
    );
    assert_eq!(upgrade_rules.strategy, RemediationStrategy::Rollback);
    let install_rules = InstallRemediation::default().rules(true);
    assert!(install_rules.ignore_test_failures);
    assert!(install_rules.retries_exhausted(1));
    assert!(!install_rules.retries_exhausted(0));
}

#[test]
fn image_kinds_with_every_field() {
    use crate::image::{ReflectionPolicy, SigningKeyType};
    let repo: crate::ImageRepository =
        round_trip(include_str!("../tests/fixtures/imagerepository-full.yaml"));
    assert_eq!(repo.exclusion_list(), vec![r"^.*\.sig$", "^sha-.*"]);
    let policy: crate::ImagePolicy =
        round_trip(include_str!("../tests/fixtures/imagepolicy-full.yaml"));
    assert_eq!(
        policy.spec.digest_reflection_policy,
        Some(ReflectionPolicy::Always)
    );
    assert_eq!(
        policy.latest_ref().map(ToString::to_string).as_deref(),
        Some(
            "ghcr.io/stefanprodan/podinfo:6.1.0@sha256:8f1b0b4cb7d1d2b0d2f0f1a0d9b0f1b8d4f0e8f9e0c3a2b1d0e9f8c7b6a5f4e3"
        )
    );
    let automation: crate::ImageUpdateAutomation = round_trip(include_str!(
        "../tests/fixtures/imageupdateautomation-full.yaml"
    ));
    let git = automation.spec.git.expect("git");
    assert_eq!(
        git.commit.signing_key.and_then(|k| k.key_type),
        Some(SigningKeyType::Ssh)
    );
    assert_eq!(git.push.expect("push").options.len(), 2);
}

#[test]
fn image_repository_defaults_follow_flux() {
    let repo: crate::ImageRepository = serde_saphyr::from_str(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: a}\nspec: {image: nginx, interval: 1m}\n",
    )
    .expect("minimal ImageRepository");
    assert_eq!(repo.exclusion_list(), vec![r"^.*\.sig$"]);
}
