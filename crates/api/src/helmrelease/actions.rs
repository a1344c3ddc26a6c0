//! The per-action settings of a HelmRelease — install, upgrade, test,
//! rollback, uninstall — and their remediation, with Flux's defaults as
//! accessors so every caller reads the same default.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{GoDuration, is_false};

/// What to do with the chart's `crds/` directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CrdsPolicy {
    /// Neither create nor update CRDs.
    Skip,
    /// Create missing CRDs; leave existing ones as they are.
    Create,
    /// Create missing CRDs and update existing ones.
    CreateReplace,
}

/// What a failed release is remediated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStrategy {
    /// Roll back to the previous successful release.
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// Settings of install actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Time limit of the action's Kubernetes operations; `spec.timeout`
    /// when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// What to do when the install fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Do not wait for the resources to be ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Do not validate the rendered objects against the OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "is_false"
    )]
    pub disable_open_api_validation: bool,
    /// Do not let the schema validation of the values fail the install.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Reuse the name of an uninstalled release kept in history.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replace: bool,
    /// Deprecated: `crds: Skip`.
    #[serde(default, skip_serializing_if = "is_false", rename = "skipCRDs")]
    pub skip_crds: bool,
    /// CRD policy; `Create` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Create the target namespace when missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub create_namespace: bool,
}

impl Install {
    /// The CRD policy in force: `crds`, or `Skip` under the deprecated
    /// `skipCRDs`, or `Create`.
    pub fn crds_policy(&self) -> CrdsPolicy {
        match (self.crds, self.skip_crds) {
            (Some(policy), _) => policy,
            (None, true) => CrdsPolicy::Skip,
            (None, false) => CrdsPolicy::Create,
        }
    }
}

/// Remediation of failed installs (always by uninstalling).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Retries before giving up; negative for no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
    /// Do not remediate failed tests; `test.ignoreFailures` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure too, when no retries remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

/// Settings of upgrade actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Time limit of the action's Kubernetes operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// What to do when the upgrade fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Do not wait for the resources to be ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Do not validate the rendered objects against the OpenAPI schema.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "is_false"
    )]
    pub disable_open_api_validation: bool,
    /// Do not let the schema validation of the values fail the upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Replace objects whose update is refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Merge the values into the last release's instead of replacing them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_values: bool,
    /// Delete objects the failed upgrade created.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// CRD policy; `Skip` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
}

impl Upgrade {
    /// The CRD policy in force: `Skip` unless set.
    pub fn crds_policy(&self) -> CrdsPolicy {
        self.crds.unwrap_or(CrdsPolicy::Skip)
    }
}

/// Remediation of failed upgrades.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Retries before giving up; negative for no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
    /// Do not remediate failed tests; `test.ignoreFailures` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure too; true when `retries` > 0 and unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// `rollback` (default) or `uninstall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

/// The remediation rules of one action, read the same way for install and
/// upgrade (Flux's `Remediation` interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remediation {
    /// Retries before giving up; negative for no limit.
    pub retries: i64,
    /// Whether failed tests are ignored.
    pub ignore_test_failures: bool,
    /// Whether the last failure is remediated when no retries remain.
    pub remediate_last_failure: bool,
    /// How a failure is remediated.
    pub strategy: RemediationStrategy,
}

impl Remediation {
    /// Whether `failures` failures leave no retry.
    pub fn retries_exhausted(&self, failures: i64) -> bool {
        self.retries >= 0 && failures > self.retries
    }
}

impl InstallRemediation {
    /// The rules, with `test_ignore_failures` as the tests' default.
    pub fn rules(&self, test_ignore_failures: bool) -> Remediation {
        Remediation {
            retries: self.retries,
            ignore_test_failures: self.ignore_test_failures.unwrap_or(test_ignore_failures),
            remediate_last_failure: self.remediate_last_failure.unwrap_or(false),
            strategy: RemediationStrategy::Uninstall,
        }
    }
}

impl UpgradeRemediation {
    /// The rules, with `test_ignore_failures` as the tests' default.
    pub fn rules(&self, test_ignore_failures: bool) -> Remediation {
        Remediation {
            retries: self.retries,
            ignore_test_failures: self.ignore_test_failures.unwrap_or(test_ignore_failures),
            remediate_last_failure: self.remediate_last_failure.unwrap_or(self.retries > 0),
            strategy: self.strategy.unwrap_or(RemediationStrategy::Rollback),
        }
    }
}

/// Settings of test actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Run the chart's tests after install and upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable: bool,
    /// Time limit of the tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Do not remediate failed tests.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_failures: bool,
    /// Tests to run or leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<TestFilter>>,
}

/// A test to run or leave out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestFilter {
    /// The test's name.
    pub name: String,
    /// Leave it out.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclude: bool,
}

/// Settings of rollback actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Time limit of the action's Kubernetes operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Do not wait for the resources to be ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Restart pods.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recreate: bool,
    /// Replace objects whose update is refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Delete objects the failed rollback created.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
}

/// Settings of uninstall actions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Time limit of the action's Kubernetes operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Keep the release records, marked uninstalled.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_history: bool,
    /// Do not wait for the objects to be gone.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// `background` (default), `foreground` or `orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_propagation: Option<String>,
}

/// For `skip_serializing_if`: Go's `omitempty` on an int.
fn is_zero(value: &i64) -> bool {
    *value == 0
}
