//! Choosing the latest tag of an image repository, as Flux's
//! image-reflector-controller does for an `ImagePolicy`.
//!
//! **Owns:** the tag filter (`filterTags.pattern` + `extract`), the three
//! policies (`semver`, `alphabetical`, `numerical`) and [`latest`], which
//! applies them to a list of tags and names the tag to deploy. No I/O.
//!
//! Hand-written because no crate has Flux's semantics: the filter expands
//! `extract` with Go's `regexp.ExpandString` rules (module `expand`), the
//! numerical policy reads tags with Go's `strconv.ParseFloat` (module `numeric`)
//! and the semver policy reads tags as Flux's `version.ParseVersion` does
//! (a strict `MAJOR.MINOR.PATCH`, with an optional leading `v`).
//!
//! ## Semantics (Flux's)
//! - Filter: a tag the pattern does not match is dropped; with `extract`
//!   the policy orders the expansion, and the *original* tag is returned.
//!   Two tags with the same expansion keep the later one in input order.
//! - `semver`: the highest version within the range among tags that parse;
//!   tags that do not parse are skipped. The tag is returned as written
//!   (`v1.2.3` stays `v1.2.3`).
//! - `alphabetical`: byte order; `ASC` (the default) picks the *last* tag in
//!   ascending order, `DESC` the first.
//! - `numerical`: every candidate must parse as a Go float, or the policy
//!   fails naming the value; `ASC` (the default) picks the largest, `DESC`
//!   the smallest. The order names are read case-insensitively.
//!
//! ## Where we differ
//! - Flux collects filtered tags in a Go map, so when two candidates tie
//!   (semver versions equal but for build metadata or a `v`; numerically
//!   equal values like `1` and `1.0`; a `NaN`) its pick varies from run to
//!   run. We take candidates in input order: among equal semver versions
//!   the first wins; among equal numbers the last wins (Flux's loop
//!   replaces its pick on equality).
//! - Flux fails when nothing is left to choose from ("version list argument
//!   cannot be empty", or for semver "unable to determine latest version
//!   from provided list"); [`latest`] returns `Ok(None)` and leaves the
//!   message to the caller, which knows which object to name.
//! - Patterns are compiled by the `regex` crate. Its syntax is RE2's, as
//!   Go's is; `\d`, `\w` and `\b` are Unicode-aware there and ASCII in Go,
//!   which cannot matter for OCI tags (ASCII by the distribution spec).
//!   Go allows two groups with the same name; `regex` refuses the pattern.
//!
//! ```
//! use driftless_image::policy::{latest, Order, Policy, TagFilter};
//! let tags = ["main-100-aaa", "main-99-bbb", "dev-500-ccc", "latest"];
//! let filter = TagFilter::new(r"^main-(?P<ts>\d+)-", "$ts")?;
//! let policy = Policy::Numerical { order: Order::Asc };
//! assert_eq!(latest(&tags, Some(&filter), &policy)?.as_deref(), Some("main-100-aaa"));
//! # Ok::<(), driftless_image::policy::Error>(())
//! ```

mod expand;
mod numeric;

use std::collections::HashMap;

use driftless_semver::{Constraint, Version};
use regex::Regex;

/// What went wrong choosing a tag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `filterTags.pattern` is not a valid regular expression.
    #[error("invalid regular expression pattern '{pattern}'")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why it does not compile.
        #[source]
        source: regex::Error,
    },
    /// `policy.semver.range` is not a valid constraint.
    #[error("invalid semver range '{range}'")]
    Range {
        /// The range as given.
        range: String,
        /// Why it does not parse.
        #[source]
        source: driftless_semver::ParseError,
    },
    /// `order` is neither `asc` nor `desc` (in any case).
    #[error("invalid order argument provided: '{0}', must be one of: ASC, DESC")]
    Order(String),
    /// A numerical policy met a candidate that is not a number (Go's
    /// `strconv.ParseFloat` syntax); Flux fails the whole policy.
    #[error("failed to parse invalid numeric value '{value}' (from tag '{tag}')")]
    Numeric {
        /// The value that was ordered (the tag, or its `extract` expansion).
        value: String,
        /// The tag it came from.
        tag: String,
    },
}

/// Which end of the ordering is the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// Ascending order: the latest is the greatest. Flux's default.
    #[default]
    Asc,
    /// Descending order: the latest is the least.
    Desc,
}

impl Order {
    /// Reads `policy.alphabetical.order` / `policy.numerical.order` as Flux
    /// does: case-insensitive `asc` or `desc`, empty meaning `asc`.
    ///
    /// # Errors
    /// [`Error::Order`] for any other value.
    pub fn parse(order: &str) -> Result<Order, Error> {
        match order.to_ascii_uppercase().as_str() {
            "" | "ASC" => Ok(Order::Asc),
            "DESC" => Ok(Order::Desc),
            _ => Err(Error::Order(order.to_owned())),
        }
    }
}

/// An `ImagePolicy`'s `spec.policy`.
#[derive(Clone, Debug)]
pub enum Policy {
    /// `semver.range`: the highest version in range.
    Semver {
        /// The parsed range (Masterminds/semver v3 constraints).
        range: Constraint,
    },
    /// `alphabetical.order`.
    Alphabetical {
        /// Which end is the latest.
        order: Order,
    },
    /// `numerical.order`.
    Numerical {
        /// Which end is the latest.
        order: Order,
    },
}

impl Policy {
    /// A semver policy for `range`.
    ///
    /// # Errors
    /// [`Error::Range`] naming the range when it does not parse.
    pub fn semver(range: &str) -> Result<Policy, Error> {
        Constraint::parse(range)
            .map(|range| Policy::Semver { range })
            .map_err(|source| Error::Range {
                range: range.to_owned(),
                source,
            })
    }
}

/// `spec.filterTags`: which tags are candidates, and what is ordered.
#[derive(Clone, Debug)]
pub struct TagFilter {
    /// Tags this does not match are dropped.
    pub pattern: Regex,
    /// Go `ExpandString` template giving the value to order; empty means
    /// the tag itself.
    pub extract: String,
}

impl TagFilter {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// [`Error::Pattern`] naming the pattern when it does not compile.
    pub fn new(pattern: &str, extract: &str) -> Result<TagFilter, Error> {
        let pattern = Regex::new(pattern).map_err(|source| Error::Pattern {
            pattern: pattern.to_owned(),
            source,
        })?;
        Ok(TagFilter {
            pattern,
            extract: extract.to_owned(),
        })
    }

    /// The value `tag` is ordered by, or `None` when it is filtered out.
    #[must_use]
    pub fn apply(&self, tag: &str) -> Option<String> {
        let mut locs = self.pattern.capture_locations();
        let mut out = String::new();
        self.apply_into(tag, &mut locs, &mut out).then_some(out)
    }

    /// [`Self::apply`] reusing the caller's buffers (the hot loop).
    fn apply_into(&self, tag: &str, locs: &mut regex::CaptureLocations, out: &mut String) -> bool {
        out.clear();
        if self.extract.is_empty() {
            if !self.pattern.is_match(tag) {
                return false;
            }
            out.push_str(tag);
            return true;
        }
        if self.pattern.captures_read(locs, tag).is_none() {
            return false;
        }
        expand::expand_into(out, &self.pattern, &self.extract, tag, locs);
        true
    }
}

/// The tag `policy` elects among `tags` after `filter`, or `None` when no
/// candidate remains (see the module docs for Flux's exact rules).
///
/// # Errors
/// [`Error::Numeric`] when a numerical policy meets a candidate that is not
/// a number.
pub fn latest<S: AsRef<str>>(
    tags: &[S],
    filter: Option<&TagFilter>,
    policy: &Policy,
) -> Result<Option<String>, Error> {
    let candidates = candidates(tags, filter);
    let chosen = match policy {
        Policy::Semver { range } => semver_latest(range, &candidates),
        Policy::Alphabetical { order } => alphabetical_latest(*order, &candidates),
        Policy::Numerical { order } => numerical_latest(*order, &candidates)?,
    };
    Ok(chosen.map(|c| c.tag.to_owned()))
}

/// A tag and the value the policy orders it by.
struct Candidate<'a> {
    value: std::borrow::Cow<'a, str>,
    tag: &'a str,
}

fn candidates<'a, S: AsRef<str>>(tags: &'a [S], filter: Option<&TagFilter>) -> Vec<Candidate<'a>> {
    let Some(filter) = filter else {
        return tags
            .iter()
            .map(|t| Candidate {
                value: t.as_ref().into(),
                tag: t.as_ref(),
            })
            .collect();
    };
    let mut out: Vec<Candidate<'a>> = Vec::new();
    // Flux keys its filter results by value: a later tag with the same
    // value replaces the earlier one.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut locs = filter.pattern.capture_locations();
    let mut buf = String::new();
    for tag in tags {
        let tag = tag.as_ref();
        if !filter.apply_into(tag, &mut locs, &mut buf) {
            continue;
        }
        if let Some(&i) = seen.get(buf.as_str()) {
            out[i].tag = tag;
            continue;
        }
        seen.insert(buf.clone(), out.len());
        out.push(Candidate {
            value: buf.clone().into(),
            tag,
        });
    }
    out
}

fn semver_latest<'c, 'a>(
    range: &Constraint,
    candidates: &'c [Candidate<'a>],
) -> Option<&'c Candidate<'a>> {
    let parsed = candidates
        .iter()
        .filter_map(|c| Some((Version::parse_strict(&c.value)?, c)));
    driftless_semver::highest_match(range, parsed).map(|(_, c)| c)
}

fn alphabetical_latest<'c, 'a>(
    order: Order,
    candidates: &'c [Candidate<'a>],
) -> Option<&'c Candidate<'a>> {
    // Ties are equal values; with a filter they were merged already, and
    // without one they are the same tag.
    match order {
        Order::Asc => candidates.iter().max_by(|a, b| a.value.cmp(&b.value)),
        Order::Desc => candidates.iter().min_by(|a, b| a.value.cmp(&b.value)),
    }
}

fn numerical_latest<'c, 'a>(
    order: Order,
    candidates: &'c [Candidate<'a>],
) -> Result<Option<&'c Candidate<'a>>, Error> {
    let mut best: Option<(&Candidate<'a>, f64)> = None;
    for candidate in candidates {
        let Some(value) = numeric::parse_go_float(&candidate.value) else {
            return Err(Error::Numeric {
                value: candidate.value.to_string(),
                tag: candidate.tag.to_owned(),
            });
        };
        // Flux's loop: keep the current pick only when the new value is
        // strictly on the wrong side of it (so equal values, and NaN
        // either way, replace it).
        let keep = best.is_some_and(|(_, b)| match order {
            Order::Asc => value < b,
            Order::Desc => value > b,
        });
        if !keep {
            best = Some((candidate, value));
        }
    }
    Ok(best.map(|(c, _)| c))
}

#[cfg(test)]
mod tests;
