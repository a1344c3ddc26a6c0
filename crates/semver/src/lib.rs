//! # driftless-semver: versions and constraints as Masterminds/semver v3 reads them
//!
//! Helm resolves a dependency's `version`, checks a chart's `kubeVersion`
//! and picks a chart from a repository index with Masterminds/semver v3;
//! Flux uses the same library for `HelmChart.spec.version` and
//! `GitRepository.spec.ref.semver`. This crate reads versions and
//! constraints the same way, so a range selects what Flux would select.
//!
//! **Owns:** parsing lenient versions (`v1`, `1.2`, `1.2.3-rc.1+build`),
//! their precedence, parsing constraints and checking a version against
//! them, and picking the highest version that matches.
//! **Must not touch:** anything else; it has no I/O.
//!
//! Key choice: our own parser rather than the `semver` crate, because that
//! crate follows Cargo's rules, which differ from Masterminds' in ways users
//! see: a bare `1.2.3` means `^1.2.3` to Cargo and `=1.2.3` to Masterminds;
//! Cargo has no `||`, no hyphen ranges, no `!=`, and lets a pre-release
//! match only on the same `major.minor.patch`.
//!
//! ## Constraints
//! - `||` separates alternatives; within one, constraints separated by
//!   commas or spaces must all hold.
//! - Operators: `=` (or none), `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`),
//!   `~` (`~>`), `^`. A missing or `x`/`X`/`*` part is a wildcard: `1.x`
//!   and `1` are `>=1.0.0 <2.0.0`, `*` is any release.
//! - `a - b` is `>=a, <=b` (with `b`'s wildcards: `1.2 - 1.4` admits 1.4.9).
//! - `~1.2.3` is `>=1.2.3 <1.3.0`, `~1` is `>=1.0.0 <2.0.0`; `^1.2.3` is
//!   `>=1.2.3 <2.0.0`, `^0.2.3` is `>=0.2.3 <0.3.0`, `^0.0.3` is `=0.0.3`.
//! - Pre-releases (v3.4 and later, which Flux and Helm 4 use): a version
//!   with a pre-release matches only when some constraint in the same `||`
//!   alternative names a pre-release, whatever its `major.minor.patch`:
//!   `>=1.0.0-0 <2.0.0` admits `1.5.0-rc.1`; `>=1.0.0` and `*` do not.
//!   (Before v3.4 each constraint decided for itself, so `<2.0.0` in that
//!   example refused it.)
//!
//! ```
//! use driftless_semver::{Constraint, Version, highest_match};
//! let range: Constraint = "~1.2 || >=3.0.0-rc.0".parse().unwrap();
//! let tags = ["v1.2.0", "1.2.7", "1.3.0", "2.0.0", "3.0.0-rc.1", "not-a-version"];
//! let versions = tags.iter().filter_map(|t| Some((Version::parse_strict(t)?, *t)));
//! let best = highest_match(&range, versions).unwrap();
//! assert_eq!(best.1, "3.0.0-rc.1");
//! assert_eq!(best.0.to_string(), "3.0.0-rc.1");
//! ```

mod constraint;
mod version;

pub use constraint::{Constraint, ParseError};
pub use version::Version;

/// The candidate with the highest version matching `constraint`. Parse the
/// candidates with the rule the caller needs ([`Version::parse`] as Helm
/// does, [`Version::parse_strict`] as Flux does). Of equal versions (they
/// may differ in build metadata only) the first one wins, so order the
/// candidates to choose among them.
pub fn highest_match<T>(
    constraint: &Constraint,
    candidates: impl IntoIterator<Item = (Version, T)>,
) -> Option<(Version, T)> {
    let mut best: Option<(Version, T)> = None;
    for (version, item) in candidates {
        if !constraint.matches(&version) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| version > *b) {
            best = Some((version, item));
        }
    }
    best
}

/// Whether `version` satisfies `constraint`, Helm's `IsCompatibleRange`:
/// an unparsable version or constraint (including an empty one, which
/// Masterminds refuses) is not compatible.
#[must_use]
pub fn satisfies(constraint: &str, version: &str) -> bool {
    match (Constraint::parse(constraint), Version::parse(version)) {
        (Ok(c), Some(v)) => c.matches(&v),
        _ => false,
    }
}

/// Sprig's `semverCompare`: whether `version` satisfies `constraint`.
///
/// # Errors
/// Masterminds' messages for a malformed constraint or version.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    let Some(version) = Version::parse(version) else {
        return Err("Invalid Semantic Version".into());
    };
    let constraint = Constraint::parse(constraint).map_err(|e| e.to_string())?;
    Ok(constraint.matches(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_match_prefers_the_first_of_equals() {
        let c = Constraint::parse("*").expect("valid");
        let texts = ["junk", "1.0.0", "2.0.0+b", "2.0.0+a", "3.0.0-rc.1", "v4"];
        let parsed = |strict: bool| {
            texts.iter().enumerate().filter_map(move |(i, t)| {
                let v = if strict {
                    Version::parse_strict(t)
                } else {
                    Version::parse(t)
                };
                Some((v?, i))
            })
        };
        assert_eq!(highest_match(&c, parsed(false)).map(|(_, i)| i), Some(5));
        assert_eq!(highest_match(&c, parsed(true)).map(|(_, i)| i), Some(2));
        let none = Constraint::parse(">5").expect("valid");
        assert!(highest_match(&none, parsed(false)).is_none());
    }

    #[test]
    fn satisfies_and_compare_refuse_what_masterminds_refuses() {
        assert!(!satisfies("", "1.2.3"));
        assert!(!satisfies("1.2.3", "abc"));
        assert_eq!(
            compare(">=1", "abc"),
            Err("Invalid Semantic Version".into())
        );
        assert_eq!(
            compare("~>>1", "1.0.0"),
            Err("improper constraint: ~>>1".into())
        );
        assert_eq!(compare(">= 1.19.0-0, < 2", "v1.33.0"), Ok(true));
    }
}
