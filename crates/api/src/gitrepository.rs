//! `GitRepository` (`source.toolkit.fluxcd.io/v1`): where to fetch a git
//! tree from, and the artifact the last fetch produced.
//!
//! Owns the resource's shape, its CRD metadata (short name `gitrepo`,
//! categories, printer columns) and small pure accessors. Must not fetch,
//! authenticate or build archives: that is the source crate's job.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{Artifact, LocalObjectReference};
use crate::{GoDuration, is_false};

/// The URL forms we accept: Flux's `http`, `https` and `ssh`, plus `git://`,
/// `file://` and scp-like `user@host:path`.
pub const URL_PATTERN: &str = r"^((https?|ssh|git|file)://.+|[A-Za-z0-9._~-]+@[^:/]+:.+)$";

/// Desired state of a GitRepository.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[allow(
    clippy::duplicated_attributes,
    reason = "each printcolumn(...) repeats `type_`; they are separate columns"
)]
#[kube(
    group = "source.toolkit.fluxcd.io",
    version = "v1",
    kind = "GitRepository",
    plural = "gitrepositories",
    singular = "gitrepository",
    namespaced,
    status = "GitRepositoryStatus",
    shortname = "gitrepo",
    category = "all",
    category = "fluxcd",
    category = "fluxcd-sources",
    annotation("kustomize.toolkit.fluxcd.io/substitute", "disabled"),
    doc = "GitRepository is the Schema for the gitrepositories API.",
    derive = "PartialEq",
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].status"#
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type=="Ready")].message"#
    )
)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// Address of the repository: `https://`, `http://`, `ssh://`, `git://`,
    /// `file://` or scp-like `git@host:path`.
    #[schemars(regex(pattern = URL_PATTERN))]
    pub url: String,
    /// Secret with credentials: `username`/`password` or `bearerToken` for
    /// HTTP(S), `identity` and `known_hosts` for SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
    /// Authentication provider; `generic` (the Secret) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<GitProvider>,
    /// ServiceAccount used with the `azure` and `aws` providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// How often to check the repository for changes.
    pub interval: GoDuration,
    /// Timeout of git operations; 60s when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::duration::timeout_schema")]
    pub timeout: Option<GoDuration>,
    /// The reference to track; the `master` branch when unset.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<GitRepositoryRef>,
    /// Commit signature verification.
    #[serde(default, rename = "verify", skip_serializing_if = "Option::is_none")]
    pub verification: Option<GitRepositoryVerification>,
    /// Secret with the proxy settings (`address`, `username`, `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<LocalObjectReference>,
    /// Exclusion patterns in `.sourceignore` (gitignore) syntax, replacing
    /// the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Stops reconciling while true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Clones submodules too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recurse_submodules: bool,
    /// Other GitRepositories whose artifacts are copied into this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<GitRepositoryInclude>>,
    /// Only these directories are checked out and archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparse_checkout: Option<Vec<String>>,
}

/// Authentication provider: `generic` (the `secretRef`), `aws`, `azure` or
/// `github`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitProvider {
    /// Credentials from `secretRef`.
    Generic,
    /// AWS CodeCommit with IAM credentials.
    Aws,
    /// Azure DevOps with a managed identity.
    Azure,
    /// GitHub App authentication.
    Github,
}

/// Which git reference to check out. Precedence: `commit`, then `name`,
/// `semver`, `tag`, `branch`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GitRepositoryRef {
    /// Branch to track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Tag to check out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Semver range; the highest matching tag is checked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// Any full reference name, such as `refs/pull/420/head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A commit SHA; with `branch`, the branch is fetched shallowly and must
    /// contain it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Commit signature verification settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryVerification {
    /// Which objects to verify; `HEAD` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "HEAD"))]
    pub mode: Option<GitVerificationMode>,
    /// Secret with the trusted public keys (`*.asc` PGP, `*.sshpub` SSH).
    pub secret_ref: LocalObjectReference,
}

/// Which git objects a signature check covers: `HEAD` (or legacy `head`),
/// `Tag` or `TagAndHEAD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GitVerificationMode {
    /// The commit HEAD points to (older spelling of `HEAD`).
    #[serde(rename = "head")]
    LegacyHead,
    /// The commit HEAD points to.
    #[serde(rename = "HEAD")]
    Head,
    /// The tag object.
    Tag,
    /// Both the tag object and its commit.
    TagAndHEAD,
}

/// Another GitRepository's artifact copied into this one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryInclude {
    /// The GitRepository to include, in the same namespace.
    pub repository: LocalObjectReference,
    /// Path in the included artifact to copy from; its root when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_path: Option<String>,
    /// Path to copy to; the included repository's name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_path: Option<String>,
}

impl GitRepositoryInclude {
    /// Where the included content lands.
    pub fn to_path(&self) -> &str {
        self.to_path.as_deref().unwrap_or(&self.repository.name)
    }
}

/// Observed state of a GitRepository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositoryStatus {
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: `Ready`, `Reconciling`, `Stalled`, `FetchFailed`,
    /// `ArtifactInStorage`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The artifact of the last successful reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    /// The artifacts included by `spec.include` in the last success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_artifacts: Option<Vec<Artifact>>,
    /// The ignore patterns used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_ignore: Option<String>,
    /// The `recurseSubmodules` used for the current artifact.
    #[serde(default, skip_serializing_if = "is_false")]
    pub observed_recurse_submodules: bool,
    /// The `include` list used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_include: Option<Vec<GitRepositoryInclude>>,
    /// The `sparseCheckout` list used for the current artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_sparse_checkout: Option<Vec<String>>,
    /// The verification mode last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_verification_mode: Option<GitVerificationMode>,
    /// The last `reconcile.fluxcd.io/requestedAt` value handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

impl GitRepository {
    /// A GitRepository for tests: namespace `default`, an `https` URL,
    /// branch `main`, interval `1m`. Chain the builder methods to vary it.
    pub fn test(name: &str) -> GitRepository {
        let mut repo = GitRepository::new(
            name,
            GitRepositorySpec {
                url: format!("https://git.example.com/{name}.git"),
                secret_ref: None,
                provider: None,
                service_account_name: None,
                interval: GoDuration::from("1m"),
                timeout: None,
                reference: Some(GitRepositoryRef {
                    branch: Some("main".to_string()),
                    ..Default::default()
                }),
                verification: None,
                proxy_secret_ref: None,
                ignore: None,
                suspend: false,
                recurse_submodules: false,
                include: None,
                sparse_checkout: None,
            },
        );
        repo.metadata.namespace = Some("default".to_string());
        repo
    }

    /// Sets the namespace (named so as not to shadow `ResourceExt::namespace`).
    pub fn in_namespace(mut self, namespace: &str) -> GitRepository {
        self.metadata.namespace = Some(namespace.to_string());
        self
    }

    /// Sets the URL.
    pub fn url(mut self, url: &str) -> GitRepository {
        self.spec.url = url.to_string();
        self
    }

    /// Tracks this branch.
    pub fn branch(mut self, branch: &str) -> GitRepository {
        self.spec.reference = Some(GitRepositoryRef {
            branch: Some(branch.to_string()),
            ..Default::default()
        });
        self
    }

    /// Sets the credentials Secret.
    pub fn secret(mut self, name: &str) -> GitRepository {
        self.spec.secret_ref = Some(LocalObjectReference {
            name: name.to_string(),
        });
        self
    }

    /// Marks it suspended.
    pub fn suspended(mut self) -> GitRepository {
        self.spec.suspend = true;
        self
    }

    /// Sets the generation, as the API server would after an edit.
    pub fn at_generation(mut self, generation: i64) -> GitRepository {
        self.metadata.generation = Some(generation);
        self
    }

    /// The conditions in the status, empty when there are none.
    pub fn conditions(&self) -> &[Condition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default()
    }

    /// The artifact of the last successful reconcile.
    pub fn artifact(&self) -> Option<&Artifact> {
        self.status.as_ref().and_then(|s| s.artifact.as_ref())
    }
}
