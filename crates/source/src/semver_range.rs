//! Semver ranges as Flux writes them (Masterminds style: `>=1.0.0 <2.0.0`,
//! `1.2 - 1.4`, `^1.2 || ~2.0`) mapped onto the `semver` crate, and tag
//! names (`v1.2.3` or `1.2.3`) parsed as versions.

use crate::Error;

/// One or more `semver::VersionReq`, any of which may match.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    any_of: Vec<semver::VersionReq>,
}

impl Range {
    pub(crate) fn parse(range: &str) -> Result<Self, Error> {
        let mut any_of = Vec::new();
        for alternative in range.split("||") {
            let normalized = normalize(alternative);
            let req =
                semver::VersionReq::parse(&normalized).map_err(|source| Error::InvalidSemver {
                    range: range.to_owned(),
                    source,
                })?;
            any_of.push(req);
        }
        Ok(Range { any_of })
    }

    pub(crate) fn matches(&self, version: &semver::Version) -> bool {
        self.any_of.iter().any(|req| req.matches(version))
    }
}

/// Turn space-separated comparators into the comma-separated form, and
/// `a - b` into `>=a, <=b`.
fn normalize(alternative: &str) -> String {
    let tokens: Vec<&str> = alternative.split_whitespace().collect();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
            parts.push(format!(">={}", strip_v(token)));
            parts.push(format!("<={}", strip_v(tokens[i + 2])));
            i += 3;
            continue;
        }
        let is_operator = token
            .chars()
            .all(|c| matches!(c, '<' | '>' | '=' | '~' | '^'));
        if is_operator && i + 1 < tokens.len() {
            parts.push(format!("{token}{}", strip_v(tokens[i + 1])));
            i += 2;
            continue;
        }
        let op_len = token
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '~' | '^'))
            .unwrap_or(token.len());
        parts.push(format!("{}{}", &token[..op_len], strip_v(&token[op_len..])));
        i += 1;
    }
    parts.join(", ").replace(",,", ",")
}

fn strip_v(version: &str) -> &str {
    version
        .trim_end_matches(',')
        .strip_prefix('v')
        .unwrap_or(version.trim_end_matches(','))
}

/// A tag as a version: `v1.2.3`, `1.2.3`, `v1.2.3-rc.1`; anything else is not a version.
pub(crate) fn parse_tag(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(range: &str, v: &str) -> bool {
        Range::parse(range)
            .expect("range")
            .matches(&parse_tag(v).expect("version"))
    }

    #[test]
    fn flux_style_ranges() {
        assert!(m(">=1.0.0 <2.0.0", "v1.9.0"));
        assert!(!m(">=1.0.0 <2.0.0", "v2.0.0"));
        assert!(m(">= 1.0.0, < 2.0.0", "1.0.0"));
        assert!(m("1.2 - 1.4", "1.3.7"));
        assert!(!m("1.2 - 1.4", "1.5.0"));
        assert!(m("^1.2 || ~2.0", "2.0.5"));
        assert!(m("~v1.2", "1.2.9"));
        assert!(!m(">=1.0.0", "v3.0.0-rc.1"));
        assert!(Range::parse("not a range").is_err());
        assert_eq!(parse_tag("release-1"), None);
    }
}
