//! Semantic versions and constraints as Masterminds/semver v3 reads them
//! (what Helm uses for a dependency's `version` and a chart's
//! `kubeVersion`): lenient versions (`v1`, `1.2`), `||` alternatives,
//! comma- or space-separated conjunctions, `=`, `!=`, `>`, `>=`, `<`, `<=`,
//! `~`, `^`, `x`/`*` wildcards and `a - b` ranges; a pre-release version
//! only satisfies a constraint that itself names a pre-release.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

impl Version {
    /// Parses `v?MAJOR(.MINOR(.PATCH))?(-PRE)?(+META)?`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, _meta) = match s.split_once('+') {
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
        })
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

    fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

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

/// One `op version` term, wildcards remembered.
struct Term {
    op: String,
    version: Version,
    /// How many of major/minor/patch were given (the rest were `x` or absent).
    given: usize,
}

/// Sprig's `semverCompare`: an error for a malformed constraint or version.
///
/// # Errors
/// Masterminds' messages for a malformed constraint or version.
pub fn compare(constraint: &str, version: &str) -> Result<bool, String> {
    if Version::parse(version).is_none() {
        return Err("Invalid Semantic Version".into());
    }
    if constraint.trim().is_empty() || constraint.split("||").any(|alt| parse_terms(alt).is_none())
    {
        return Err(format!("improper constraint: {constraint}"));
    }
    Ok(satisfies(constraint, version))
}

/// Whether `version` satisfies `constraint` (Helm's `IsCompatibleRange`:
/// anything unparsable is not compatible).
#[must_use]
pub fn satisfies(constraint: &str, version: &str) -> bool {
    let Some(v) = Version::parse(version) else {
        return false;
    };
    let constraint = constraint.trim();
    // Masterminds refuses an empty constraint, so Helm finds a dependency
    // without a version incompatible (and keeps the vendored chart as is).
    if constraint.is_empty() {
        return false;
    }
    constraint.split("||").any(|alt| match parse_terms(alt) {
        Some(terms) => terms.iter().all(|t| t.check(&v)),
        None => false,
    })
}

fn parse_terms(alt: &str) -> Option<Vec<Term>> {
    let tokens: Vec<String> = alt
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // `a - b` hyphen range.
        if i + 2 < tokens.len() && tokens[i + 1] == "-" {
            terms.push(term(&format!(">={}", tokens[i]))?);
            terms.push(term(&format!("<={}", tokens[i + 2]))?);
            i += 3;
            continue;
        }
        // An operator written apart from its version (`>= 1.2`).
        let token = if i + 1 < tokens.len() && tokens[i].chars().all(|c| "<>=!~^".contains(c)) {
            i += 1;
            format!("{}{}", tokens[i - 1], tokens[i])
        } else {
            tokens[i].clone()
        };
        terms.push(term(&token)?);
        i += 1;
    }
    if terms.is_empty() { None } else { Some(terms) }
}

fn term(token: &str) -> Option<Term> {
    let split = token
        .find(|c: char| !"<>=!~^".contains(c))
        .unwrap_or(token.len());
    let (op, rest) = token.split_at(split);
    let op = match op {
        "=>" => ">=",
        "=<" => "<=",
        "~>" => "~",
        other => other,
    };
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, suffix) = match rest.find(['-', '+']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let given = parts
        .iter()
        .position(|p| matches!(*p, "x" | "X" | "*"))
        .unwrap_or(parts.len());
    let mut numbers = [0u64; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts[..given]) {
        *slot = part.parse().ok()?;
    }
    let text = format!("{}.{}.{}{suffix}", numbers[0], numbers[1], numbers[2]);
    let version = Version::parse(&text)?;
    Some(Term {
        op: op.to_string(),
        version,
        given,
    })
}

impl Term {
    fn check(&self, v: &Version) -> bool {
        if !v.pre.is_empty() && self.version.pre.is_empty() {
            return false;
        }
        let c = &self.version;
        let ord = v.compare(c);
        let upper = |level: usize| -> Version {
            let mut u = Version {
                major: c.major,
                minor: c.minor,
                patch: c.patch,
                pre: String::new(),
            };
            match level {
                0 => {
                    u.major += 1;
                    u.minor = 0;
                    u.patch = 0;
                }
                1 => {
                    u.minor += 1;
                    u.patch = 0;
                }
                _ => u.patch += 1,
            }
            u
        };
        let below = |u: &Version| v.compare(u) == Ordering::Less;
        match self.op.as_str() {
            "" | "=" => {
                if self.given >= 3 {
                    ord == Ordering::Equal
                } else if self.given == 0 {
                    true
                } else {
                    ord != Ordering::Less && below(&upper(self.given - 1))
                }
            }
            "!=" => {
                if self.given >= 3 {
                    ord != Ordering::Equal
                } else if self.given == 0 {
                    false
                } else {
                    !(ord != Ordering::Less && below(&upper(self.given - 1)))
                }
            }
            ">" => {
                if self.given >= 3 || self.given == 0 {
                    ord == Ordering::Greater
                } else {
                    !below(&upper(self.given - 1))
                }
            }
            ">=" => ord != Ordering::Less,
            "<" => ord == Ordering::Less,
            "<=" => {
                if self.given >= 3 || self.given == 0 {
                    ord != Ordering::Greater
                } else {
                    below(&upper(self.given - 1))
                }
            }
            "~" => {
                let level = if self.given >= 2 { 1 } else { 0 };
                ord != Ordering::Less && below(&upper(level))
            }
            "^" => {
                let level = if c.major > 0 || self.given <= 1 {
                    0
                } else if c.minor > 0 || self.given == 2 {
                    1
                } else {
                    2
                };
                ord != Ordering::Less && below(&upper(level))
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(Version::parse("1.2.3").is_some());
        assert!(Version::parse("v1.2").is_some());
        assert!(Version::parse("1.2.3-rc.1+meta").is_some());
        assert!(Version::parse("abc").is_none());
        assert!(Version::parse("1.2.3.4").is_none());
    }

    #[test]
    fn constraints() {
        assert!(satisfies(">=1.16.0-0", "v1.33.0"));
        assert!(satisfies(">= 1.19.0-0, < 2", "v1.33.0"));
        assert!(!satisfies("<1.20", "1.33.0"));
        assert!(satisfies("~1.2", "1.2.9"));
        assert!(!satisfies("~1.2", "1.3.0"));
        assert!(satisfies("^1.2.3", "1.9.0"));
        assert!(!satisfies("^1.2.3", "2.0.0"));
        assert!(satisfies("1.x", "1.5.0"));
        assert!(satisfies("*", "3.0.0"));
        assert!(satisfies("1.2 - 1.4", "1.3.0"));
        assert!(!satisfies(">=1.0.0", "1.2.0-rc1"));
        assert!(satisfies(">=1.0.0-0", "1.2.0-rc1"));
        assert!(satisfies("<2 || >3", "4.0.0"));
        assert!(satisfies("1.2.3", "1.2.3"));
        assert!(!satisfies("", "1.2.3"));
    }
}
