//! Semantic versions and constraints as `Masterminds/semver/v3` (v3.4 and
//! later, whose messages quote their operands)
//! defines them: Sprig's `semver` and `semverCompare`, and what Helm uses
//! for `kubeVersion` and dependency ranges.
//!
//! Written here rather than taken from the `semver` crate because the
//! rules differ where charts notice: versions are parsed loosely (`v1`,
//! `1.2` become `1.0.0`, `1.2.0`), constraints accept `1.x`, `~1.2`, `^2`,
//! `>= 1.0, < 2`, `||` and hyphen ranges `1 - 2`, wildcards make a
//! constraint "dirty" with its own comparison rules, and a prerelease
//! version only satisfies a constraint group that itself names a
//! prerelease (`>=1.20.0-0` admits `1.33.0-eks.1`).

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use crate::args::string;
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap};
use crate::value::{Object, Value};

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
const LOOSE_VERSION: &str = r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$";

fn regex(pattern: &str) -> Regex {
    // Go's \s is ASCII; the patterns only use it around operators.
    Regex::new(&super::goregexp::translate(pattern)).expect("the semver patterns are valid")
}

static LOOSE_VERSION_RE: LazyLock<Regex> = LazyLock::new(|| regex(LOOSE_VERSION));
static CONSTRAINT_RE: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!(r"^\s*({OPS})\s*({CV})\s*$")));
static RANGE_RE: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"\s*({CV})\s+-\s+({CV})\s*")));
static FIND_CONSTRAINT_RE: LazyLock<Regex> = LazyLock::new(|| regex(&format!(r"({OPS})\s*({CV})")));
static VALID_CONSTRAINT_RE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
    ))
});

/// A semantic version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

/// Why a version or constraint does not parse, in Masterminds' words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// `invalid semantic version`
    #[error("invalid semantic version")]
    InvalidVersion,
    /// `invalid prerelease string`
    #[error("invalid prerelease string")]
    InvalidPrerelease,
    /// `version segment starts with 0`
    #[error("version segment starts with 0")]
    SegmentStartsZero,
    /// `invalid metadata string`
    #[error("invalid metadata string")]
    InvalidMetadata,
    /// `improper constraint: "X"`
    #[error("improper constraint: {}", crate::fmt::quote_go(.0))]
    ImproperConstraint(String),
    /// A constraint whose version part does not parse.
    #[error("constraint parser error")]
    ConstraintParser,
}

const ALLOWED: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

impl Version {
    /// Masterminds' `NewVersion`: loose parsing, missing parts are 0.
    ///
    /// # Errors
    /// [`SemverError`] for text that is not a version.
    pub fn parse(text: &str) -> Result<Self, SemverError> {
        let caps = LOOSE_VERSION_RE
            .captures(text)
            .ok_or(SemverError::InvalidVersion)?;
        let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
        let number = |s: &str| -> Result<u64, SemverError> {
            let digits = s.trim_start_matches('.');
            if digits.is_empty() {
                return Ok(0);
            }
            digits.parse().map_err(|_| SemverError::InvalidVersion)
        };
        let version = Self {
            major: number(part(1))?,
            minor: number(part(2))?,
            patch: number(part(3))?,
            pre: part(5).to_owned(),
            metadata: part(8).to_owned(),
            original: text.to_owned(),
        };
        if !version.pre.is_empty() {
            for piece in version.pre.split('.') {
                if piece.is_empty() {
                    return Err(SemverError::InvalidPrerelease);
                } else if piece.bytes().all(|b| b.is_ascii_digit()) {
                    if piece.len() > 1 && piece.starts_with('0') {
                        return Err(SemverError::SegmentStartsZero);
                    }
                } else if !piece.chars().all(|c| ALLOWED.contains(c)) {
                    return Err(SemverError::InvalidPrerelease);
                }
            }
        }
        if !version.metadata.is_empty()
            && version
                .metadata
                .split('.')
                .any(|piece| piece.is_empty() || !piece.chars().all(|c| ALLOWED.contains(c)))
        {
            return Err(SemverError::InvalidMetadata);
        }
        Ok(version)
    }

    /// The major number.
    #[must_use]
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor number.
    #[must_use]
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch number.
    #[must_use]
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The prerelease, without its `-`.
    #[must_use]
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// Masterminds' `Compare`: numbers, then prerelease (a release sorts
    /// after its prereleases); metadata is ignored.
    #[must_use]
    pub fn compare(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }

    fn v_prefix(&self) -> &'static str {
        if self.original.starts_with(['v', 'V']) {
            "v"
        } else {
            ""
        }
    }

    fn bumped(&self, major: u64, minor: u64, patch: u64) -> Self {
        let mut next = Self {
            major,
            minor,
            patch,
            pre: String::new(),
            metadata: String::new(),
            original: String::new(),
        };
        next.original = format!("{}{next}", self.v_prefix());
        next
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let (left, right): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..left.len().max(right.len()) {
        let order = compare_pre_part(
            left.get(i).copied().unwrap_or(""),
            right.get(i).copied().unwrap_or(""),
        );
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => s.cmp(o),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(x), Ok(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

/// One comparison such as `>=1.2` or `~1.x`.
#[derive(Clone, Debug)]
struct Constraint {
    version: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// A parsed constraint: groups joined by `||`, each a list that must all
/// hold.
#[derive(Clone, Debug)]
pub struct Constraints {
    groups: Vec<(Vec<Constraint>, bool)>,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn rewrite_range(text: &str) -> String {
    let mut out = text.to_owned();
    for caps in RANGE_RE.captures_iter(text) {
        let whole = caps.get(0).map_or("", |m| m.as_str());
        let low = caps.get(1).map_or("", |m| m.as_str());
        let high = caps.get(11).map_or("", |m| m.as_str());
        out = out.replacen(whole, &format!(">= {low}, <= {high} "), 1);
    }
    out
}

fn parse_constraint(text: &str) -> Result<Constraint, SemverError> {
    let caps = CONSTRAINT_RE
        .captures(text)
        .ok_or_else(|| SemverError::ImproperConstraint(text.to_owned()))?;
    let part = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let (major, minor, patch, pre) = (part(3), part(4), part(5), part(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let text = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
        dirty = true;
        minor_dirty = true;
        format!("{major}.0.0{pre}")
    } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        part(2).to_owned()
    };
    let mut version = Version::parse(&text).map_err(|_| SemverError::ConstraintParser)?;
    version.original = part(2).to_owned();
    Ok(Constraint {
        version,
        op: part(1).to_owned(),
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraints {
    /// Masterminds' `NewConstraint`.
    ///
    /// # Errors
    /// `improper constraint: X` for text that is not a constraint.
    pub fn parse(text: &str) -> Result<Self, SemverError> {
        let rewritten = rewrite_range(text);
        let mut groups = Vec::new();
        for group in rewritten.split("||") {
            if !VALID_CONSTRAINT_RE.is_match(group) {
                return Err(SemverError::ImproperConstraint(group.to_owned()));
            }
            let found: Vec<&str> = FIND_CONSTRAINT_RE
                .find_iter(group)
                .map(|m| m.as_str())
                .collect();
            let found = if found.is_empty() { vec![group] } else { found };
            let constraints = found
                .into_iter()
                .map(parse_constraint)
                .collect::<Result<Vec<_>, _>>()?;
            let has_pre = constraints.iter().any(|c| !c.version.pre.is_empty());
            groups.push((constraints, has_pre));
        }
        Ok(Self { groups })
    }

    /// True when `version` satisfies some `||` group.
    #[must_use]
    pub fn check(&self, version: &Version) -> bool {
        self.groups
            .iter()
            .any(|(constraints, has_pre)| constraints.iter().all(|c| c.check(version, *has_pre)))
    }
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.version;
        match self.op.as_str() {
            "" | "=" => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            "!=" => self.not_equal(v),
            ">" => self.greater(v),
            "<" => v.compare(c) == Ordering::Less,
            ">=" | "=>" => v.compare(c) != Ordering::Less,
            "<=" | "=<" => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major || v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            "~" | "~>" => self.tilde(v),
            "^" => self.caret(v),
            _ => false,
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if c.minor != v.minor && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch != v.patch && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre.is_empty() || !c.pre.is_empty() {
                    return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v.compare(c) == Ordering::Greater;
        }
        if v.major != c.major {
            return v.major > c.major;
        }
        if self.minor_dirty {
            return false;
        }
        if self.patch_dirty {
            return v.minor > c.minor;
        }
        v.compare(c) == Ordering::Greater
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (v.minor == c.minor || self.minor_dirty)
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        c.patch == v.patch
    }
}

/// A `*semver.Version` (or, after `IncMajor`..., a `semver.Version`) as a
/// template object with Masterminds' methods.
#[derive(Debug)]
struct VersionObject {
    version: Version,
    pointer: bool,
}

impl Object for VersionObject {
    fn type_name(&self) -> String {
        if self.pointer {
            "*semver.Version"
        } else {
            "semver.Version"
        }
        .to_owned()
    }

    fn kind_name(&self) -> &'static str {
        if self.pointer { "ptr" } else { "struct" }
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let v = &self.version;
        let u = |n: u64| Value::Int64(i64::try_from(n).unwrap_or(i64::MAX));
        let value_object = |version: Version| {
            Value::object(VersionObject {
                version,
                pointer: false,
            })
        };
        let result = match name {
            "Major" => u(v.major),
            "Minor" => u(v.minor),
            "Patch" => u(v.patch),
            "Prerelease" => Value::string(v.pre.as_str()),
            "Metadata" => Value::string(v.metadata.as_str()),
            "Original" => Value::string(v.original.as_str()),
            "String" => Value::string(v.to_string()),
            "IncPatch" if v.pre.is_empty() => value_object(v.bumped(v.major, v.minor, v.patch + 1)),
            "IncPatch" => value_object(v.bumped(v.major, v.minor, v.patch)),
            "IncMinor" => value_object(v.bumped(v.major, v.minor + 1, 0)),
            "IncMajor" => value_object(v.bumped(v.major + 1, 0, 0)),
            "Compare" | "LessThan" | "GreaterThan" | "Equal" | "LessThanEqual"
            | "GreaterThanEqual" => {
                let other = match args {
                    [Value::Object(o)] => match o.as_any().downcast_ref::<VersionObject>() {
                        Some(other) => other.version.clone(),
                        None => {
                            return Some(Err(format!(
                                "wrong type for value; expected *semver.Version; got {}",
                                o.type_name()
                            )));
                        }
                    },
                    _ => {
                        return Some(Err(format!(
                            "wrong number of args for {name}: want 1 got {}",
                            args.len()
                        )));
                    }
                };
                let order = v.compare(&other);
                match name {
                    "Compare" => Value::Int(match order {
                        Ordering::Less => -1,
                        Ordering::Equal => 0,
                        Ordering::Greater => 1,
                    }),
                    "LessThan" => Value::Bool(order == Ordering::Less),
                    "GreaterThan" => Value::Bool(order == Ordering::Greater),
                    "Equal" => Value::Bool(order == Ordering::Equal),
                    "LessThanEqual" => Value::Bool(order != Ordering::Greater),
                    _ => Value::Bool(order != Ordering::Less),
                }
            }
            _ => return None,
        };
        Some(Ok(result))
    }

    fn format(&self) -> String {
        self.version.to_string()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.version.to_string())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("semver", Arity::Exact(1), |a| {
        let version = Version::parse(string(&a[0])?).map_err(|e| FuncError::new(e.to_string()))?;
        Ok(Value::object(VersionObject {
            version,
            pointer: true,
        }))
    });
    map.add("semverCompare", Arity::Exact(2), |a| {
        let constraints =
            Constraints::parse(string(&a[0])?).map_err(|e| FuncError::new(e.to_string()))?;
        let version = Version::parse(string(&a[1])?).map_err(|e| FuncError::new(e.to_string()))?;
        Ok(Value::Bool(constraints.check(&version)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        let c = Constraints::parse(constraint).unwrap_or_else(|e| panic!("{constraint}: {e}"));
        let v = Version::parse(version).unwrap_or_else(|e| panic!("{version}: {e}"));
        c.check(&v)
    }

    #[test]
    fn constraints_follow_masterminds() {
        let cases = [
            (">=1.2.0", "1.3.0", true),
            ("^1.2", "2.0.0", false),
            ("^1.2", "1.9.9", true),
            ("^0.2.3", "0.2.9", true),
            ("^0.2.3", "0.3.0", false),
            ("~1.2", "1.2.9", true),
            ("~1.2", "1.3.0", false),
            ("~1", "1.9.0", true),
            ("1.x", "1.9.0", true),
            ("1.x", "1.9.0-alpha", false),
            (">=1.20.0-0", "1.33.0", true),
            (">=1.20.0-0", "1.33.0-eks.1", true),
            (">=1.20.0", "1.33.0-eks.1", false),
            (">= 1.2, < 2.0", "1.5.0", true),
            (">= 1.2, < 2.0", "2.0.0", false),
            ("<1.0 || >=2.1", "2.1.0", true),
            ("1.1 - 2", "2.0.5", true),
            ("1.1 - 2", "3.0.0", false),
            ("!=1.2.3", "1.2.3", false),
            ("!=1.2.x", "1.2.5", false),
            (">1.x", "2.0.0", true),
            (">1.2.x", "1.2.9", false),
            ("<=1.2.x", "1.2.9", true),
            ("*", "0.0.1", true),
            ("v1.2.3", "1.2.3", true),
            ("=1.2", "1.2.5", true),
            (">=1.16.0-0 <1.30.0-0", "1.29.3", true),
        ];
        for (constraint, version, expected) in cases {
            assert_eq!(
                check(constraint, version),
                expected,
                "{constraint} {version}"
            );
        }
    }

    #[test]
    fn versions_parse_loosely() {
        assert_eq!(
            Version::parse("v1.2").map(|v| v.to_string()),
            Ok("1.2.0".to_owned())
        );
        assert_eq!(
            Version::parse("1.2.3-01"),
            Err(SemverError::SegmentStartsZero)
        );
        assert!(Version::parse("1.2.3.4").is_err());
        assert!(Constraints::parse("foo").is_err());
        assert_eq!(
            Version::parse("1.0.0-alpha")
                .map(|a| a
                    .compare(&Version::parse("1.0.0-alpha.1").unwrap_or_else(|_| unreachable!()))),
            Ok(Ordering::Less)
        );
    }
}
