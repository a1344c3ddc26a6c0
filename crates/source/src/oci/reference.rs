//! What to pull: the repository of `spec.url` and the reference of
//! `spec.ref`, with Flux's precedence and semver selection over tags.
//!
//! Pure: no network. The tag list comes from the caller (see `super::tags`).

use crate::oci::OciError;

/// Flux's URL prefix for OCI repositories.
const OCI_PREFIX: &str = "oci://";

/// Helm's chart layer media type, whose tags write a version's `+` as `_`.
pub const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// A registry host and a repository path in it, from `oci://host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `host` or `host:port`.
    pub registry: String,
    /// The path below the host, e.g. `org/manifests/app`.
    pub repository: String,
}

impl Repository {
    /// Parses `spec.url`. Refuses another scheme, a missing path, a tag or
    /// digest in the URL (they belong in `spec.ref`) and characters the
    /// distribution spec does not allow in a repository name.
    pub fn parse(url: &str) -> Result<Repository, OciError> {
        let invalid = |problem| OciError::InvalidUrl {
            url: url.to_owned(),
            problem,
        };
        let rest = url
            .strip_prefix(OCI_PREFIX)
            .ok_or_else(|| invalid("it must start with oci://"))?;
        let (registry, repository) = rest
            .split_once('/')
            .ok_or_else(|| invalid("it has no repository path after the host"))?;
        let host_ok = !registry.is_empty()
            && registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(invalid(
                "the host is empty or has characters a host cannot have",
            ));
        }
        if repository.contains('@') {
            return Err(invalid(
                "it must not contain a digest; put it in spec.ref.digest",
            ));
        }
        if repository.contains(':') {
            return Err(invalid("it must not contain a tag; put it in spec.ref.tag"));
        }
        let path_ok = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                    })
                    && part.starts_with(|c: char| c.is_ascii_alphanumeric())
            });
        if !path_ok {
            return Err(invalid(
                "the repository path must be lower-case letters, digits, '.', '_', '-' between '/'",
            ));
        }
        Ok(Repository {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
        })
    }
}

/// `spec.ref`: which manifest of the repository to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciReference {
    /// A manifest digest, `sha256:<hex>`; the revision is the digest alone.
    Digest(String),
    /// The highest tag that is a version inside `range` (Masterminds
    /// syntax), among the tags matching the `filter` regular expression if set.
    Semver {
        /// `spec.ref.semver`.
        range: String,
        /// `spec.ref.semverFilter`.
        filter: Option<String>,
    },
    /// A tag; the revision is `<tag>@<manifest digest>`.
    Tag(String),
}

impl Default for OciReference {
    /// Flux's default: the `latest` tag.
    fn default() -> Self {
        OciReference::Tag("latest".to_owned())
    }
}

impl OciReference {
    /// The reference Flux picks from `spec.ref`'s fields: digest, then
    /// semver (with its filter), then tag, else `latest`. Empty strings
    /// count as unset, as in Flux.
    pub fn from_spec(
        tag: Option<&str>,
        semver: Option<&str>,
        semver_filter: Option<&str>,
        digest: Option<&str>,
    ) -> OciReference {
        let set = |v: Option<&str>| v.filter(|v| !v.is_empty()).map(str::to_owned);
        if let Some(digest) = set(digest) {
            OciReference::Digest(digest)
        } else if let Some(range) = set(semver) {
            OciReference::Semver {
                range,
                filter: set(semver_filter),
            }
        } else if let Some(tag) = set(tag) {
            OciReference::Tag(tag)
        } else {
            OciReference::default()
        }
    }
}

/// Checks a `spec.ref.digest`: `sha256:` and 64 lower-case hex digits.
pub(crate) fn check_digest(digest: &str) -> Result<(), OciError> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    });
    if ok {
        Ok(())
    } else {
        Err(OciError::InvalidReference {
            field: "spec.ref.digest",
            value: digest.to_owned(),
            problem: "expected sha256: followed by 64 lower-case hex digits".to_owned(),
        })
    }
}

/// Checks `spec.ref.tag` against the distribution spec's grammar, so it is safe in a URL path.
pub(crate) fn check_tag(tag: &str) -> Result<(), OciError> {
    check_tag_of("spec.ref.tag", tag)
}

/// Checks a tag named by `field` against the distribution spec's grammar.
pub(crate) fn check_tag_of(field: &'static str, tag: &str) -> Result<(), OciError> {
    let ok = tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(OciError::InvalidReference {
            field,
            value: tag.to_owned(),
            problem:
                "a tag is up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'"
                    .to_owned(),
        })
    }
}

/// Picks the tag `semver` resolves to among `tags`, as Flux does: keep the
/// tags matching `filter`, read each as a version (a Helm chart's tags write
/// `+` as `_`, so for that `layer_media_type` they are converted back), keep
/// those inside the range, take the highest. `None` when none matches.
pub(crate) fn pick_semver<'t>(
    range: &str,
    filter: Option<&str>,
    layer_media_type: Option<&str>,
    tags: &'t [String],
) -> Result<(Option<&'t str>, usize), OciError> {
    let filter = filter
        .map(|f| {
            regex::Regex::new(f).map_err(|e| OciError::InvalidReference {
                field: "spec.ref.semverFilter",
                value: f.to_owned(),
                problem: e.to_string(),
            })
        })
        .transpose()?;
    let candidates: Vec<(&str, String)> = tags
        .iter()
        .filter(|t| filter.as_ref().is_none_or(|f| f.is_match(t)))
        .map(|t| {
            let version = if layer_media_type == Some(HELM_CHART_LAYER) {
                t.replace('_', "+")
            } else {
                t.clone()
            };
            (t.as_str(), version)
        })
        .collect();
    let versions: Vec<&str> = candidates.iter().map(|(_, v)| v.as_str()).collect();
    let best = highest_in_range(range, &versions)?;
    Ok((best.map(|i| candidates[i].0), candidates.len()))
}

/// The index of the highest of `versions` inside the Masterminds `range`;
/// strings that are not versions (Flux's strict reading: `v1.2.3` or
/// `1.2.3`, never `v1.2`) are skipped. The one place a range is checked and
/// versions are ordered.
fn highest_in_range(range: &str, versions: &[&str]) -> Result<Option<usize>, OciError> {
    let parsed =
        driftless_semver::Constraint::parse(range).map_err(|source| OciError::InvalidSemver {
            range: range.to_owned(),
            source: Box::new(crate::Error::InvalidSemver {
                range: range.to_owned(),
                source,
            }),
        })?;
    let candidates = versions
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((driftless_semver::Version::parse_strict(v)?, i)));
    Ok(driftless_semver::highest_match(&parsed, candidates).map(|(_, i)| i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_flux() {
        let repo = Repository::parse("oci://127.0.0.1:5000/org/app").expect("valid");
        assert_eq!(repo.registry, "127.0.0.1:5000");
        assert_eq!(repo.repository, "org/app");
        for (url, needle) in [
            ("https://ghcr.io/org/app", "oci://"),
            ("oci://ghcr.io", "repository path"),
            ("oci://ghcr.io/org/app:v1", "tag"),
            ("oci://ghcr.io/org/app@sha256:00", "digest"),
            ("oci://ghcr.io/Org/app", "lower-case"),
            ("oci://ghcr.io/org//app", "lower-case"),
            ("oci:///org/app", "host"),
        ] {
            let err = Repository::parse(url).expect_err(url);
            assert!(err.to_string().contains(needle), "{url}: {err}");
            assert!(err.to_string().contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn reference_precedence_is_digest_semver_tag_latest() {
        let d = "sha256:".to_owned() + &"a".repeat(64);
        assert_eq!(
            OciReference::from_spec(Some("v1"), Some(">=1"), None, Some(&d)),
            OciReference::Digest(d)
        );
        assert_eq!(
            OciReference::from_spec(Some("v1"), Some(">=1"), Some("^v"), Some("")),
            OciReference::Semver {
                range: ">=1".into(),
                filter: Some("^v".into())
            }
        );
        assert_eq!(
            OciReference::from_spec(Some("v1"), Some(""), None, None),
            OciReference::Tag("v1".into())
        );
        assert_eq!(
            OciReference::from_spec(None, None, None, None),
            OciReference::Tag("latest".into())
        );
    }

    #[test]
    fn digests_and_tags_are_checked() {
        assert!(check_digest(&format!("sha256:{}", "0f".repeat(32))).is_ok());
        assert!(check_digest("sha256:abc").is_err());
        assert!(check_digest(&format!("sha512:{}", "0".repeat(64))).is_err());
        assert!(check_tag("v1.2.3_build-1").is_ok());
        assert!(check_tag("../x").is_err());
        assert!(check_tag("").is_err());
    }

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn semver_picks_the_highest_matching_tag() {
        let all = tags(&[
            "latest",
            "v1.0.0",
            "v1.2.0",
            "v2.0.0",
            "1.3.0-rc.1",
            "1.1.9",
        ]);
        let (best, seen) = pick_semver(">=1.0.0 <2.0.0", None, None, &all).expect("ok");
        assert_eq!((best, seen), (Some("v1.2.0"), 6));
        let (best, seen) = pick_semver(">=1.0.0", Some("^1\\."), None, &all).expect("ok");
        assert_eq!((best, seen), (Some("1.1.9"), 2));
        let (best, _) = pick_semver(">=3", None, None, &all).expect("ok");
        assert_eq!(best, None);
        assert!(matches!(
            pick_semver("not a range", None, None, &all),
            Err(OciError::InvalidSemver { .. })
        ));
        assert!(matches!(
            pick_semver("*", Some("("), None, &all),
            Err(OciError::InvalidReference {
                field: "spec.ref.semverFilter",
                ..
            })
        ));
    }

    #[test]
    fn helm_chart_tags_write_build_metadata_with_underscore() {
        let all = tags(&["1.0.0_build.1", "0.9.0"]);
        let (best, _) = pick_semver(">=1.0.0", None, Some(HELM_CHART_LAYER), &all).expect("ok");
        assert_eq!(best, Some("1.0.0_build.1"));
        let (best, _) = pick_semver(">=1.0.0", None, None, &all).expect("ok");
        assert_eq!(best, None);
    }
}
