//! Constraints: parsing into `||` alternatives of `,`/space conjunctions,
//! and the check of each operator, wildcard by wildcard, as Masterminds v3
//! (v3.4 and later) does it.

use std::fmt;
use std::str::FromStr;

use crate::version::{Version, valid_ident};

/// A constraint that is not Masterminds syntax. Its text is Masterminds'
/// (`improper constraint: …`), which Sprig's `semverCompare` shows too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("improper constraint: {constraint}")]
pub struct ParseError {
    /// The constraint as given.
    pub constraint: String,
}

/// A parsed constraint such as `>=1.2.0 <2.0.0 || ~3.1`.
#[derive(Debug, Clone)]
pub struct Constraint {
    text: String,
    any_of: Vec<Group>,
}

/// One `||` alternative: every term must hold. Pre-releases are admitted
/// when any term names one (v3.4's group rule).
#[derive(Debug, Clone)]
struct Group {
    terms: Vec<Term>,
    admits_prerelease: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

/// Which parts were wildcards (`x`, `*` or absent). Masterminds keeps three
/// flags; a wildcard major sets only `dirty`, which its operators treat
/// like a fully given `0.0.0` except for `=`/`~`.
#[derive(Debug, Clone, Copy, Default)]
struct Wild {
    any: bool,
    minor: bool,
    patch: bool,
}

#[derive(Debug, Clone)]
struct Term {
    op: Op,
    con: Version,
    wild: Wild,
}

impl Constraint {
    /// Parses Masterminds syntax.
    ///
    /// # Errors
    /// [`ParseError`] for an empty constraint, an unknown operator or a
    /// malformed version.
    pub fn parse(text: &str) -> Result<Constraint, ParseError> {
        let error = || ParseError {
            constraint: text.to_string(),
        };
        let any_of = text
            .split("||")
            .map(|alt| parse_group(alt).ok_or_else(error))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Constraint {
            text: text.to_string(),
            any_of,
        })
    }

    /// Whether `version` satisfies any alternative.
    #[must_use]
    pub fn matches(&self, version: &Version) -> bool {
        self.any_of.iter().any(|group| {
            let admitted = version.prerelease().is_empty() || group.admits_prerelease;
            admitted && group.terms.iter().all(|t| t.check(version))
        })
    }
}

impl FromStr for Constraint {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Constraint::parse(s)
    }
}

/// The constraint as it was written.
impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_group(alt: &str) -> Option<Group> {
    let tokens: Vec<&str> = alt
        .split([',', ' ', '\t'])
        .filter(|t| !t.is_empty())
        .collect();
    let mut terms = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // `a - b`: both ends inclusive, each with its own wildcards.
        if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
            terms.push(term(Op::Ge, tokens[i])?);
            terms.push(term(Op::Le, tokens[i + 2])?);
            i += 3;
            continue;
        }
        let token = tokens[i];
        let split = token
            .find(|c: char| !"<>=!~^".contains(c))
            .unwrap_or(token.len());
        let (op, mut version) = token.split_at(split);
        // An operator written apart from its version (`>= 1.2`).
        if version.is_empty() {
            i += 1;
            version = tokens.get(i)?;
        }
        let op = match op {
            "" | "=" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" | "=>" => Op::Ge,
            "<=" | "=<" => Op::Le,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            _ => return None,
        };
        terms.push(term(op, version)?);
        i += 1;
    }
    if terms.is_empty() {
        return None;
    }
    let admits_prerelease = terms.iter().any(|t| !t.con.prerelease().is_empty());
    Some(Group {
        terms,
        admits_prerelease,
    })
}

fn term(op: Op, text: &str) -> Option<Term> {
    let text = text.strip_prefix('v').unwrap_or(text);
    let (text, meta) = match text.split_once('+') {
        Some((t, m)) => (t, Some(m)),
        None => (text, None),
    };
    let (core, pre) = match text.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (text, None),
    };
    if pre.is_some_and(|p| !valid_ident(p)) || meta.is_some_and(|m| !valid_ident(m)) {
        return None;
    }
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut numbers = [0u64; 3];
    let mut first_wild = None;
    for (n, part) in parts.iter().enumerate() {
        if matches!(*part, "x" | "X" | "*") {
            first_wild.get_or_insert(n);
        } else if first_wild.is_none() {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            numbers[n] = part.parse().ok()?;
        } else if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let given = first_wild.unwrap_or(parts.len());
    let wild = match given {
        0 => Wild {
            any: true,
            ..Wild::default()
        },
        1 => Wild {
            any: true,
            minor: true,
            patch: false,
        },
        2 => Wild {
            any: true,
            minor: false,
            patch: true,
        },
        _ => Wild::default(),
    };
    // Parts after the first wildcard count as zero, as Masterminds rebuilds
    // the version from the given parts only.
    for slot in numbers.iter_mut().skip(given) {
        *slot = 0;
    }
    let con = Version::release(numbers[0], numbers[1], numbers[2])
        .with_prerelease(pre.unwrap_or_default());
    Some(Term { op, con, wild })
}

impl Term {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let (vmaj, vmin, vpat) = v.numbers();
        let (cmaj, cmin, cpat) = c.numbers();
        let w = self.wild;
        match self.op {
            Op::Eq => {
                if w.any {
                    tilde(v, c, w)
                } else {
                    v == c
                }
            }
            Op::Ne => {
                if !w.any {
                    return v != c;
                }
                if cmaj != vmaj {
                    true
                } else if w.minor {
                    false
                } else if cmin != vmin {
                    true
                } else if w.patch {
                    // `!=1.2` excludes all of 1.2.x; a pre-release on either
                    // side is compared, as Masterminds does.
                    (!v.prerelease().is_empty() || !c.prerelease().is_empty())
                        && v.prerelease() != c.prerelease()
                } else if cpat != vpat {
                    true
                } else {
                    v != c
                }
            }
            Op::Gt => {
                if !w.any || vmaj != cmaj {
                    return v > c;
                }
                if w.minor {
                    false
                } else if w.patch {
                    vmin > cmin
                } else {
                    v > c
                }
            }
            Op::Lt => v < c,
            Op::Ge => v >= c,
            Op::Le => {
                if !w.any {
                    return v <= c;
                }
                !(vmaj > cmaj || (vmaj == cmaj && vmin > cmin && !w.minor))
            }
            Op::Tilde => tilde(v, c, w),
            Op::Caret => {
                if v < c {
                    return false;
                }
                if cmaj > 0 || w.minor {
                    return vmaj == cmaj;
                }
                if vmaj > 0 {
                    return false;
                }
                if cmin > 0 || w.patch {
                    return vmin == cmin;
                }
                vmin == 0 && vpat == cpat
            }
        }
    }
}

/// `~`: at least the constraint, same major, and same minor unless the
/// minor was a wildcard; `~0.0.0` (and `*`) admit everything.
fn tilde(v: &Version, c: &Version, w: Wild) -> bool {
    if v < c {
        return false;
    }
    let (vmaj, vmin, _) = v.numbers();
    let (cmaj, cmin, cpat) = c.numbers();
    if (cmaj, cmin, cpat) == (0, 0, 0) && !w.minor && !w.patch {
        return true;
    }
    vmaj == cmaj && (w.minor || vmin == cmin)
}

#[cfg(test)]
mod tests;
