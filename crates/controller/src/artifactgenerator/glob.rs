//! The two glob dialects source-watcher uses, compiled to regular
//! expressions: Go's `path.Match` for one path segment of a copy's `from`
//! (`*`, `?`, `[...]`, `\` escapes; `**` is no more than `*` there), and
//! doublestar's whole-path patterns for `exclude` and for `Extract`
//! selections (`**` as a segment spans any number of directories, `{a,b}`
//! alternatives).
//!
//! Hand-written over the `regex` crate we already use: `globset` (the
//! usual crate) reads `**` and `{}` everywhere, so it cannot give
//! `path.Match`'s answers, and the differences are what users' patterns
//! were written against.

use regex::Regex;

/// Why a pattern cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob pattern '{pattern}': {problem}")]
pub(crate) struct GlobError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Whether a path holds glob metacharacters (source-watcher's test).
pub(crate) fn has_meta(path: &str) -> bool {
    path.contains(['*', '?', '[', ']'])
}

/// One segment in Go's `path.Match` dialect.
pub(crate) fn segment(pattern: &str) -> Result<Regex, GlobError> {
    let mut out = String::from("^");
    translate(pattern, pattern, &mut out, false)?;
    out.push('$');
    Ok(Regex::new(&out).expect("a translated glob is a valid regex"))
}

/// A whole `/`-separated path in doublestar's dialect.
pub(crate) fn path(pattern: &str) -> Result<Regex, GlobError> {
    let mut out = String::from("^");
    let parts: Vec<&str> = pattern.split('/').collect();
    let last = parts.len() - 1;
    for (i, part) in parts.iter().enumerate() {
        if *part == "**" {
            // `a/**/b` is `a/b`, `a/x/b`, ...; a trailing `/**` also
            // matches the directory itself, as doublestar does.
            if i == last {
                if i == 0 {
                    out.push_str(".*");
                } else {
                    out.push_str("(?:/.*)?");
                }
            } else if i == 0 {
                out.push_str("(?:[^/]*/)*");
            } else {
                out.push_str("(?:/[^/]*)*/");
            }
            continue;
        }
        if i > 0 && parts[i - 1] != "**" {
            out.push('/');
        }
        translate(part, pattern, &mut out, true)?;
    }
    out.push('$');
    Ok(Regex::new(&out).expect("a translated glob is a valid regex"))
}

/// Appends the regex of `text` (no `/`-level structure) to `out`; `braces`
/// turns `{a,b}` into alternatives (doublestar), else they are literal
/// (Go).
fn translate(text: &str, pattern: &str, out: &mut String, braces: bool) -> Result<(), GlobError> {
    let bad = |problem| GlobError {
        pattern: pattern.to_owned(),
        problem,
    };
    let mut chars = text.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                out.push_str("[^/]*");
            }
            '?' => out.push_str("[^/]"),
            '\\' => {
                let escaped = chars.next().ok_or_else(|| bad("it ends with '\\'"))?;
                out.push_str(&regex::escape(&escaped.to_string()));
            }
            '[' => {
                out.push('[');
                let negated = chars.peek() == Some(&'^') || (braces && chars.peek() == Some(&'!'));
                if negated {
                    chars.next();
                    out.push('^');
                }
                let mut members = 0;
                loop {
                    let c = chars.next().ok_or_else(|| bad("'[' is not closed"))?;
                    if c == ']' && members > 0 {
                        break;
                    }
                    let c = if c == '\\' {
                        chars.next().ok_or_else(|| bad("it ends with '\\'"))?
                    } else if c == '-' || c == ']' {
                        return Err(bad("a character class is empty or starts with '-'"));
                    } else {
                        c
                    };
                    push_class_char(out, c);
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        let mut hi = chars.next().ok_or_else(|| bad("'[' is not closed"))?;
                        if hi == '\\' {
                            hi = chars.next().ok_or_else(|| bad("it ends with '\\'"))?;
                        } else if hi == ']' {
                            return Err(bad("a character range has no end"));
                        }
                        if hi < c {
                            return Err(bad("a character range is reversed"));
                        }
                        out.push('-');
                        push_class_char(out, hi);
                    }
                    members += 1;
                }
                // A negated class never matches the separator either.
                if negated {
                    out.push_str("\\/");
                }
                out.push(']');
            }
            '{' if braces => {
                depth += 1;
                out.push_str("(?:");
            }
            ',' if braces && depth > 0 => out.push('|'),
            '}' if braces && depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    if depth > 0 {
        return Err(bad("'{' is not closed"));
    }
    Ok(())
}

fn push_class_char(out: &mut String, c: char) {
    out.push_str(&regex::escape(&c.to_string()));
}

/// A copy's `exclude` list: a path is left out when a pattern matches it,
/// or (for a pattern without `/`) its file name.
pub(crate) struct Excludes {
    patterns: Vec<(Regex, bool)>,
}

impl Excludes {
    pub(crate) fn new(patterns: &[String]) -> Result<Excludes, GlobError> {
        let patterns = patterns
            .iter()
            .map(|p| Ok((path(p)?, !p.contains('/'))))
            .collect::<Result<_, GlobError>>()?;
        Ok(Excludes { patterns })
    }

    /// Whether `path` (relative to the source root) or its path below
    /// `base` (the literal prefix of `from`) is excluded.
    pub(crate) fn excludes(&self, path: &str, base: &str) -> bool {
        if self.matches(path) {
            return true;
        }
        if base.is_empty() {
            return false;
        }
        match path.strip_prefix(base).and_then(|r| r.strip_prefix('/')) {
            Some(rel) if !rel.is_empty() => self.matches(rel),
            _ => false,
        }
    }

    fn matches(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.patterns
            .iter()
            .any(|(re, by_name)| re.is_match(path) || (*by_name && re.is_match(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_go_path_match() {
        let yaml = segment("*.yaml").expect("valid");
        assert!(yaml.is_match("app.yaml"));
        assert!(
            yaml.is_match(".hidden.yaml"),
            "Go's * matches a leading dot"
        );
        assert!(!yaml.is_match("app.yml"));
        assert!(segment("**").expect("valid").is_match("anything"));
        assert!(segment("v[0-9]?").expect("valid").is_match("v1a"));
        assert!(!segment("v[^0-9]").expect("valid").is_match("v1"));
        assert!(
            segment("{a,b}").expect("valid").is_match("{a,b}"),
            "braces are literal"
        );
        assert!(segment(r"\*").expect("valid").is_match("*"));
        for bad in ["[", "a[", "[]", r"a\", "[z-a]"] {
            assert!(segment(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn paths_follow_doublestar() {
        let testdata = path("**/testdata/**").expect("valid");
        assert!(testdata.is_match("a/b/testdata/x.yaml"));
        assert!(testdata.is_match("testdata/x.yaml"));
        assert!(testdata.is_match("testdata"));
        assert!(!testdata.is_match("a/testdatax/x"));
        let sub = path("subdir/**").expect("valid");
        assert!(sub.is_match("subdir/a/b"));
        assert!(sub.is_match("subdir"));
        assert!(!sub.is_match("other/subdir/a"));
        let tgz = path("releases/**/*.tgz").expect("valid");
        assert!(tgz.is_match("releases/a.tgz"));
        assert!(tgz.is_match("releases/x/y/a.tgz"));
        assert!(!tgz.is_match("releases/a.tar"));
        let alt = path("*.{yaml,yml}").expect("valid");
        assert!(alt.is_match("a.yml") && alt.is_match("a.yaml") && !alt.is_match("a/b.yaml"));
        assert!(path("{a,b").is_err());
    }

    #[test]
    fn excludes_match_names_and_paths_below_the_prefix() {
        let ex = Excludes::new(&["*.md".into(), "subdir/**".into()]).expect("valid");
        assert!(ex.excludes("configs/deep/README.md", "configs"));
        assert!(ex.excludes("configs/subdir/x.yaml", "configs"));
        assert!(!ex.excludes("configs/other/x.yaml", "configs"));
        assert!(ex.excludes("subdir/x.yaml", ""));
        assert!(!ex.excludes("configs/x.yaml", "configs"));
    }
}
