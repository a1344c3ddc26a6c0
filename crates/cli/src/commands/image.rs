//! The flags and objects of `driftless create image repository|policy|update`,
//! as `flux create image …` takes and writes them.
//!
//! What one flag can check, its clap value parser checks (image name,
//! semver range, regular expressions, durations), so a mistake exits 2
//! before any cluster call. What needs two flags (a `--filter-extract`
//! group missing from `--filter-regex`, `--interval` without
//! `--reflect-digest=Always`) fails when the object is built, with flux's
//! wording. Beyond flux's flags, `create image repository` takes
//! `--exclusion-list`, `--insecure` and `--provider`, which set the
//! ImageRepository fields of the same names.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use driftless_api::image::{
    AlphabeticalPolicy, AutomationSourceKind, AutomationSourceReference, CommitUser,
    GitCheckoutSpec, GitCommitSpec, GitPushSpec, GitSpec, ImagePolicyChoice, NumericalPolicy,
    ReflectionPolicy, SemVerPolicy, SigningKey, SigningKeyType, SortOrder, TagFilter,
    UpdateStrategy, UpdateStrategyName,
};
use driftless_api::meta::{LocalObjectReference, NamespacedObjectReference};
use driftless_api::{
    GitRepositoryRef, GoDuration, ImagePolicy, ImagePolicySpec, ImageRepository,
    ImageRepositorySpec, ImageUpdateAutomation, ImageUpdateAutomationSpec,
};

use super::create::parse_interval;
use crate::flux::parse_go_duration;

/// `create image repository`.
#[derive(clap::Args)]
pub struct RepositoryArgs {
    /// The name of the ImageRepository.
    pub name: String,
    /// The image repository to scan, without a tag, e.g. ghcr.io/org/app or library/alpine.
    #[arg(long, required = true, value_parser = parse_image)]
    image: String,
    /// How often to scan the repository.
    #[arg(long, default_value = "1m", value_parser = parse_interval)]
    interval: GoDuration,
    /// A Secret of type kubernetes.io/dockerconfigjson with the registry credentials.
    #[arg(long, value_name = "NAME")]
    secret_ref: Option<String>,
    /// A Secret with TLS material (ca.crt, tls.crt, tls.key).
    #[arg(long, value_name = "NAME", visible_alias = "cert-secret-ref")]
    cert_ref: Option<String>,
    /// A timeout for one scan; the interval when unset (--timeout is how long the command waits).
    #[arg(long, value_name = "DURATION", value_parser = parse_scan_timeout)]
    scan_timeout: Option<GoDuration>,
    /// A regular expression of tags to leave out (repeatable); Flux's default `^.*\.sig$` when unset.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    exclusion_list: Vec<String>,
    /// Scan over plain HTTP instead of HTTPS.
    #[arg(long)]
    insecure: bool,
    /// Where the credentials come from: the Secret (generic) or the cloud's identity.
    #[arg(long, value_parser = ["generic", "aws", "azure", "gcp"])]
    provider: Option<String>,
}

/// `create image policy`.
#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("select")
        .args(["select_semver", "select_numeric", "select_alpha"])
        .required(true)
        .multiple(false)
))]
pub struct PolicyArgs {
    /// The name of the ImagePolicy.
    pub name: String,
    /// The name of the ImageRepository (in the same namespace) whose tags to choose from.
    #[arg(long, required = true, value_name = "NAME")]
    image_ref: String,
    /// Select the highest version in this semver range, e.g. '>=1.0.0' or '1.x'.
    #[arg(long, value_name = "RANGE", value_parser = parse_semver_range)]
    select_semver: Option<String>,
    /// Select by number: asc picks the largest, desc the smallest.
    #[arg(long, value_name = "ORDER", value_parser = parse_order)]
    select_numeric: Option<SortOrder>,
    /// Select alphabetically: asc picks the last, desc the first.
    #[arg(long, value_name = "ORDER", value_parser = parse_order)]
    select_alpha: Option<SortOrder>,
    /// Only tags matching this regular expression take part, e.g. '^main-[a-f0-9]+-(?P<ts>[0-9]+)'.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    filter_regex: Option<String>,
    /// What of a matching tag is compared, from --filter-regex's groups, e.g. '$ts'.
    #[arg(long, value_name = "TEMPLATE", requires = "filter_regex")]
    filter_extract: Option<String>,
    /// When to record the selected image's digest.
    #[arg(
        long,
        value_name = "POLICY",
        value_parser = PossibleValuesParser::new(["Never", "IfNotPresent", "Always"]).map(|s| reflection_policy(&s))
    )]
    reflect_digest: Option<ReflectionPolicy>,
    /// How often to check the digest again; only with --reflect-digest=Always.
    #[arg(long, value_parser = parse_interval)]
    interval: Option<GoDuration>,
}

/// `create image update`.
#[derive(clap::Args)]
pub struct UpdateArgs {
    /// The name of the ImageUpdateAutomation.
    pub name: String,
    /// The GitRepository to check out and push to.
    #[arg(long, required = true, value_name = "NAME")]
    git_repo_ref: String,
    /// The GitRepository's namespace; the automation's when unset.
    #[arg(long, value_name = "NS")]
    git_repo_namespace: Option<String>,
    /// The directory whose manifests are updated; the repository root when unset.
    #[arg(long, value_name = "PATH")]
    git_repo_path: Option<String>,
    /// The branch to check out.
    #[arg(long, required = true, value_name = "BRANCH")]
    checkout_branch: String,
    /// The branch to push to (created when missing); the checkout branch when unset.
    #[arg(long, value_name = "BRANCH")]
    push_branch: Option<String>,
    /// The commit message, a Go template; Flux's default when unset.
    #[arg(long, value_name = "TEMPLATE")]
    commit_template: Option<String>,
    /// The commits' author name.
    #[arg(long, required = true)]
    author_name: String,
    /// The commits' author email.
    #[arg(long, required = true)]
    author_email: String,
    /// A Secret with the key that signs the commits.
    #[arg(long, value_name = "NAME")]
    signing_key_secret: Option<String>,
    /// The signing key's format (gpg when unset).
    #[arg(long, value_name = "TYPE", requires = "signing_key_secret", value_parser = parse_signing_key_type)]
    signing_key_type: Option<SigningKeyType>,
    /// How often the automation runs.
    #[arg(long, default_value = "1m", value_parser = parse_interval)]
    interval: GoDuration,
}

/// Checks a repository name as the registry client reads it (as flux
/// does with go-containerregistry): an optional `host[:port]/` (a first
/// part with `.` or `:`), then 2–255 of `a-z 0-9 _ - . /`.
fn parse_image(text: &str) -> Result<String, String> {
    let hint = "write [host[:port]/]path without a tag or digest, e.g. ghcr.io/org/app";
    let (registry, repository) = match text.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) => (Some(host), rest),
        _ => (None, text),
    };
    if let Some(host) = registry {
        let valid = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
        if !valid {
            return Err(format!("`{text}`: `{host}` is not a registry host; {hint}"));
        }
    }
    if let Some(bad) = repository
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '_' | '-' | '.' | '/'))
    {
        return Err(format!(
            "`{text}`: a repository has only lowercase letters, digits and `_-./`, not `{bad}`; {hint}"
        ));
    }
    if !(2..=255).contains(&repository.len()) {
        return Err(format!(
            "`{text}`: a repository is 2 to 255 characters long; {hint}"
        ));
    }
    Ok(text.to_owned())
}

fn parse_scan_timeout(text: &str) -> Result<GoDuration, String> {
    let duration: Duration = parse_go_duration(text)?;
    if duration.is_zero() {
        return Err(
            "the scan timeout must be more than zero; leave it out to use the interval".to_owned(),
        );
    }
    Ok(GoDuration::from_std(duration))
}

fn parse_regex(text: &str) -> Result<String, String> {
    regex::Regex::new(text)
        .map(|_| text.to_owned())
        .map_err(|err| format!("not a valid regular expression: {err}"))
}

/// Checks the range with the same Masterminds-compatible parser HelmCharts
/// and GitRepositories use, so a range the controller would refuse fails here.
fn parse_semver_range(text: &str) -> Result<String, String> {
    driftless_semver::Constraint::parse(text)
        .map(|_| text.to_owned())
        .map_err(|err| {
            format!("not a semver range ({err}); write e.g. '>=1.0.0 <2.0.0', '1.x' or '~1.2'")
        })
}

fn parse_order(text: &str) -> Result<SortOrder, String> {
    match text {
        "asc" => Ok(SortOrder::Asc),
        "desc" => Ok(SortOrder::Desc),
        _ => Err("must be one of [\"asc\", \"desc\"]".to_owned()),
    }
}

fn parse_signing_key_type(text: &str) -> Result<SigningKeyType, String> {
    match text {
        "gpg" => Ok(SigningKeyType::Gpg),
        "ssh" => Ok(SigningKeyType::Ssh),
        _ => Err("must be one of: gpg, ssh".to_owned()),
    }
}

/// Only called with one of the values the flag's parser lists.
fn reflection_policy(text: &str) -> ReflectionPolicy {
    match text {
        "Always" => ReflectionPolicy::Always,
        "IfNotPresent" => ReflectionPolicy::IfNotPresent,
        _ => ReflectionPolicy::Never,
    }
}

/// The ImageRepository the flags describe.
pub fn image_repository(namespace: &str, args: &RepositoryArgs) -> ImageRepository {
    let mut repo = ImageRepository::new(
        &args.name,
        ImageRepositorySpec {
            image: args.image.clone(),
            interval: args.interval.clone(),
            timeout: args.scan_timeout.clone(),
            secret_ref: args
                .secret_ref
                .clone()
                .map(|name| LocalObjectReference { name }),
            proxy_secret_ref: None,
            service_account_name: None,
            cert_secret_ref: args
                .cert_ref
                .clone()
                .map(|name| LocalObjectReference { name }),
            suspend: false,
            access_from: None,
            exclusion_list: args.exclusion_list.clone(),
            provider: args.provider.clone(),
            insecure: args.insecure,
        },
    );
    repo.metadata.namespace = Some(namespace.to_owned());
    repo.metadata.annotations = None;
    repo
}

/// The ImagePolicy the flags describe; fails where two flags disagree.
pub fn image_policy(namespace: &str, args: &PolicyArgs) -> anyhow::Result<ImagePolicy> {
    let policy = ImagePolicyChoice {
        semver: args
            .select_semver
            .clone()
            .map(|range| SemVerPolicy { range }),
        alphabetical: args.select_alpha.map(|order| AlphabeticalPolicy { order }),
        numerical: args.select_numeric.map(|order| NumericalPolicy { order }),
    };
    let filter_tags = match (&args.filter_regex, &args.filter_extract) {
        (Some(pattern), extract) => {
            let extract = extract.clone().unwrap_or_default();
            check_extract(pattern, &extract)?;
            Some(TagFilter {
                pattern: pattern.clone(),
                extract,
            })
        }
        // clap's `requires` keeps --filter-extract from coming alone.
        (None, _) => None,
    };
    if args.interval.is_some() && args.reflect_digest != Some(ReflectionPolicy::Always) {
        bail!(
            "the --interval flag can only be used with the 'Always' digest reflection policy, use --reflect-digest=Always"
        );
    }
    let mut object = ImagePolicy::new(
        &args.name,
        ImagePolicySpec {
            image_repository_ref: NamespacedObjectReference {
                name: args.image_ref.clone(),
                namespace: None,
            },
            policy,
            filter_tags,
            digest_reflection_policy: args.reflect_digest,
            interval: args.interval.clone(),
            suspend: false,
        },
    );
    object.metadata.namespace = Some(namespace.to_owned());
    object.metadata.annotations = None;
    Ok(object)
}

/// Checks that every `$name`/`${name}` in `extract` is a named group of
/// `pattern`, reading the template as Go's `Regexp.Expand` does (`$$` is
/// a dollar; a name is the longest run of letters, digits and `_`;
/// numbered groups are not checked, as flux does not check them).
fn check_extract(pattern: &str, extract: &str) -> anyhow::Result<()> {
    let regex = regex::Regex::new(pattern).map_err(|err| {
        anyhow::anyhow!("--filter-regex is not a valid regular expression: {err}")
    })?;
    let groups: Vec<&str> = regex.capture_names().flatten().collect();
    let mut rest = extract;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
            continue;
        }
        let (braced, body) = match rest.strip_prefix('{') {
            Some(body) => (true, body),
            None => (false, rest),
        };
        let end = body
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let name = &body[..end];
        let mut after = &body[end..];
        if braced {
            match after.strip_prefix('}') {
                Some(tail) => after = tail,
                None => {
                    bail!("--filter-extract is malformed: `${{` has no closing `}}` in `{extract}`")
                }
            }
        }
        if name.is_empty() {
            bail!(
                "--filter-extract is malformed: `$` names no group in `{extract}`; write $name or ${{name}}, or $$ for a dollar"
            );
        }
        let numbered =
            name.bytes().all(|b| b.is_ascii_digit()) && (name == "0" || !name.starts_with('0'));
        if !numbered && !groups.contains(&name) {
            bail!("capture group ${name} used in --filter-extract not found in --filter-regex");
        }
        rest = after;
    }
    Ok(())
}

/// The ImageUpdateAutomation the flags describe.
pub fn image_update(namespace: &str, args: &UpdateArgs) -> ImageUpdateAutomation {
    let signing_key = args.signing_key_secret.clone().map(|name| SigningKey {
        secret_ref: LocalObjectReference { name },
        key_type: args.signing_key_type,
    });
    let git = GitSpec {
        checkout: Some(GitCheckoutSpec {
            reference: GitRepositoryRef {
                branch: Some(args.checkout_branch.clone()),
                ..GitRepositoryRef::default()
            },
        }),
        commit: GitCommitSpec {
            author: CommitUser {
                name: args.author_name.clone(),
                email: args.author_email.clone(),
            },
            signing_key,
            message_template: args.commit_template.clone().filter(|t| !t.is_empty()),
            message_template_values: BTreeMap::new(),
        },
        push: args.push_branch.clone().map(|branch| GitPushSpec {
            branch: Some(branch),
            ..GitPushSpec::default()
        }),
    };
    let mut object = ImageUpdateAutomation::new(
        &args.name,
        ImageUpdateAutomationSpec {
            source_ref: AutomationSourceReference {
                api_version: None,
                kind: AutomationSourceKind::GitRepository,
                name: args.git_repo_ref.clone(),
                namespace: args.git_repo_namespace.clone(),
            },
            git: Some(git),
            interval: args.interval.clone(),
            policy_selector: None,
            update: args.git_repo_path.clone().map(|path| UpdateStrategy {
                strategy: UpdateStrategyName::Setters,
                path: Some(path),
            }),
            suspend: false,
        },
    );
    object.metadata.namespace = Some(namespace.to_owned());
    // The CRD's own annotation (substitution disabled) is copied onto every
    // `new` object by kube's derive; flux's objects do not carry it.
    object.metadata.annotations = None;
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_checked_as_the_registry_client_reads_them() {
        for good in [
            "alpine",
            "library/alpine",
            "ghcr.io/org/app",
            "localhost:5000/app",
            "127.0.0.1:5000/team/app_1.x",
        ] {
            assert_eq!(parse_image(good).as_deref(), Ok(good));
        }
        assert!(parse_image("alpine:3.1").unwrap_err().contains("not `:`"));
        assert!(
            parse_image("ghcr.io/Org/app")
                .unwrap_err()
                .contains("not `O`")
        );
        assert!(parse_image("a").unwrap_err().contains("2 to 255"));
        assert!(parse_image("ghcr.io/app@sha256:00").is_err());
    }

    #[test]
    fn extract_templates_name_groups_of_the_pattern() {
        let pattern = r"^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$";
        for good in ["$ts", "${ts}", "${sha}-$ts", "$1", "$$ts", "plain"] {
            check_extract(pattern, good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        let missing = check_extract(pattern, "$time").unwrap_err().to_string();
        assert_eq!(
            missing,
            "capture group $time used in --filter-extract not found in --filter-regex"
        );
        // Go reads `$tsx` as the group `tsx`, not `$ts` then `x`.
        assert!(check_extract(pattern, "$tsx").is_err());
        assert!(
            check_extract(pattern, "${ts")
                .unwrap_err()
                .to_string()
                .contains("malformed")
        );
        assert!(
            check_extract(pattern, "cost$")
                .unwrap_err()
                .to_string()
                .contains("malformed")
        );
    }

    #[test]
    fn semver_ranges_and_orders_are_checked() {
        assert!(parse_semver_range(">=1.0.0 <2.0.0").is_ok());
        assert!(parse_semver_range("5.0.x").is_ok());
        assert!(
            parse_semver_range(">=one")
                .unwrap_err()
                .contains("not a semver range")
        );
        assert_eq!(parse_order("desc"), Ok(SortOrder::Desc));
        assert!(parse_order("down").is_err());
        assert!(parse_regex("(unclosed").is_err());
        assert!(parse_scan_timeout("0s").is_err());
        assert_eq!(parse_scan_timeout("30s").expect("valid").as_str(), "30s");
    }
}
