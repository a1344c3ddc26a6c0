//! One version: lenient parsing (`v` prefix, missing minor or patch), and
//! precedence by SemVer 2.0.0 (build metadata ignored).

use std::cmp::Ordering;
use std::fmt;

/// A parsed version. Equality and order are SemVer precedence: build
/// metadata does not count (`1.0.0+a == 1.0.0+b`), as in Masterminds.
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
}

impl Version {
    /// Parses `v?MAJOR(.MINOR(.PATCH))?(-PRE)?(+META)?` (Masterminds'
    /// `NewVersion`); `None` when it is not one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, meta) = match s.split_once('+') {
            Some((a, m)) if valid_ident(m) => (a, m),
            Some(_) => return None,
            None => (s, ""),
        };
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) if valid_ident(p) => (c, p),
            Some(_) => return None,
            None => (s, ""),
        };
        let mut parts = core.split('.');
        let num = |p: Option<&str>| -> Option<Option<u64>> {
            match p {
                None => Some(None),
                Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                    t.parse().ok().map(Some)
                }
                Some(_) => None,
            }
        };
        let major = num(parts.next())??;
        let minor = num(parts.next())?.unwrap_or(0);
        let patch = num(parts.next())?.unwrap_or(0);
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre: pre.to_string(),
            meta: meta.to_string(),
        })
    }

    /// Parses a full `v?MAJOR.MINOR.PATCH(-PRE)?(+META)?` with no leading
    /// zeros, as Flux reads chart versions and git tags (its
    /// `version.ParseVersion`: a `v` trimmed, then Masterminds'
    /// `StrictNewVersion`): `v1.2` is not a version here.
    #[must_use]
    pub fn parse_strict(s: &str) -> Option<Version> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let core = s.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        let canonical = |p: &&str| p.len() == 1 || !p.starts_with('0');
        if parts.len() != 3 || !parts.iter().all(canonical) {
            return None;
        }
        Version::parse(s)
    }

    /// Major, minor and patch numbers.
    #[must_use]
    pub fn numbers(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }

    /// The pre-release part (empty when none).
    #[must_use]
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// The build metadata (empty when none).
    #[must_use]
    pub fn metadata(&self) -> &str {
        &self.meta
    }

    /// This version with its build metadata replaced (Masterminds'
    /// `SetMetadata`); `None` when `meta` is not dot-separated
    /// alphanumerics and hyphens.
    #[must_use]
    pub fn with_metadata(&self, meta: &str) -> Option<Version> {
        valid_ident(meta).then(|| Version {
            meta: meta.to_string(),
            ..self.clone()
        })
    }

    /// The same numbers with no pre-release or metadata.
    pub(crate) fn release(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
            pre: String::new(),
            meta: String::new(),
        }
    }

    pub(crate) fn with_prerelease(mut self, pre: &str) -> Version {
        self.pre = pre.to_string();
        self
    }
}

/// The canonical form, `MAJOR.MINOR.PATCH[-PRE][+META]` without a `v`
/// (Masterminds' `String`): `v1.2` prints as `1.2.0`.
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

pub(crate) fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// SemVer pre-release precedence: none beats any; identifiers compare in
/// turn, numbers numerically and below words; a longer list wins a tie.
fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect(s)
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(v("v1.2").to_string(), "1.2.0");
        assert_eq!(v("1").to_string(), "1.0.0");
        assert_eq!(v("1.2.3-rc.1+meta").to_string(), "1.2.3-rc.1+meta");
        for bad in [
            "abc",
            "1.2.3.4",
            "",
            "1..2",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "V1.2.3",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn strict_form_needs_three_canonical_numbers() {
        assert_eq!(
            Version::parse_strict("v1.2.3-rc.1+b").map(|v| v.to_string()),
            Some("1.2.3-rc.1+b".into())
        );
        for bad in ["1.2", "v1", "01.2.3", "1.02.3", "1.2.3.4", "latest"] {
            assert!(Version::parse_strict(bad).is_none(), "{bad}");
        }
        assert!(Version::parse_strict("0.10.0").is_some());
    }

    #[test]
    fn precedence_ignores_metadata() {
        assert_eq!(v("1.0.0+a"), v("1.0.0+b"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-alpha.beta"));
        assert!(v("1.0.0-beta.2") < v("1.0.0-beta.11"));
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert!(v("1.9.0") < v("1.10.0"));
    }

    #[test]
    fn metadata_is_replaced() {
        let with = v("v6.0.0+old")
            .with_metadata("abcdef123456.3")
            .expect("valid");
        assert_eq!(with.to_string(), "6.0.0+abcdef123456.3");
        assert!(v("1.0.0").with_metadata("a_b").is_none());
    }
}
