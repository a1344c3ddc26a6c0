//! An `ImageRepository`'s `exclusionList`: tags matching any of these
//! regular expressions are dropped at scan time and never reach a policy.
//!
//! **Owns:** Flux's default list (`^.*\.sig$`, which hides cosign
//! signature tags), compiling a user's list with errors that name the
//! offending expression, and filtering a tag list. No I/O.
//!
//! As in Flux, an empty or absent list means the default one (so an
//! explicit `[]` cannot switch exclusion off), and a tag is dropped when
//! *any* expression matches anywhere in it (unanchored, like Go's
//! `MatchString`).
//!
//! ```
//! use driftless_image::exclusion::ExclusionList;
//! let list = ExclusionList::compile(&[] as &[&str])?;
//! assert_eq!(list.retain(vec!["1.0.0".into(), "sha256-abc.sig".into()]), ["1.0.0"]);
//! # Ok::<(), driftless_image::exclusion::Error>(())
//! ```

use regex::Regex;

/// Flux's default `exclusionList`.
pub const DEFAULT_EXCLUSION_LIST: &[&str] = &[r"^.*\.sig$"];

/// An expression of the list does not compile.
#[derive(Debug, thiserror::Error)]
#[error("exclusionList[{index}]: failed to compile regex {pattern}")]
pub struct Error {
    /// Its position in the list.
    pub index: usize,
    /// The expression as given.
    pub pattern: String,
    /// Why it does not compile.
    #[source]
    pub source: regex::Error,
}

/// A compiled exclusion list.
#[derive(Clone, Debug)]
pub struct ExclusionList {
    regexes: Vec<Regex>,
}

impl ExclusionList {
    /// Compiles `patterns`, or [`DEFAULT_EXCLUSION_LIST`] when it is empty.
    ///
    /// # Errors
    /// The first expression that does not compile, with its index.
    pub fn compile<S: AsRef<str>>(patterns: &[S]) -> Result<ExclusionList, Error> {
        let compile = |index: usize, pattern: &str| {
            Regex::new(pattern).map_err(|source| Error {
                index,
                pattern: pattern.to_owned(),
                source,
            })
        };
        let regexes = if patterns.is_empty() {
            DEFAULT_EXCLUSION_LIST
                .iter()
                .enumerate()
                .map(|(i, p)| compile(i, p))
                .collect::<Result<_, _>>()?
        } else {
            patterns
                .iter()
                .enumerate()
                .map(|(i, p)| compile(i, p.as_ref()))
                .collect::<Result<_, _>>()?
        };
        Ok(ExclusionList { regexes })
    }

    /// Whether `tag` is excluded.
    #[must_use]
    pub fn excludes(&self, tag: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(tag))
    }

    /// `tags` without the excluded ones, order kept.
    #[must_use]
    pub fn retain(&self, mut tags: Vec<String>) -> Vec<String> {
        tags.retain(|t| !self.excludes(t));
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_hides_signatures_only() {
        let list = ExclusionList::compile(&[] as &[&str]).expect("default compiles");
        assert!(list.excludes("sha256-0123abcd.sig"));
        assert!(!list.excludes("1.0.0"));
        assert!(!list.excludes("sig"));
        assert!(!list.excludes("v1.sigx"));
    }

    #[test]
    fn user_list_replaces_the_default() {
        let list = ExclusionList::compile(&["^dev-", "rc"]).expect("compiles");
        let kept = list.retain(
            ["dev-1", "1.0.0-rc.1", "1.0.0", "sha256-1.sig"]
                .map(String::from)
                .to_vec(),
        );
        assert_eq!(kept, ["1.0.0", "sha256-1.sig"]);
    }

    #[test]
    fn bad_expression_is_named() {
        let err = ExclusionList::compile(&["ok", "[z-a]"]).expect_err("bad range");
        assert_eq!(err.index, 1);
        assert_eq!(
            err.to_string(),
            "exclusionList[1]: failed to compile regex [z-a]"
        );
    }
}
