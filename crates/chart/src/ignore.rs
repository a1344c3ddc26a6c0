//! `.helmignore`: Helm's own ignore rules (not gitignore's). One glob per
//! line in Go's `filepath.Match` syntax, `#` comments, a trailing `/` for
//! directories only, a leading `/` anchors at the chart root, a pattern with
//! a `/` matches the whole path and one without matches the base name, `**`
//! is refused, and `!pattern` ignores everything the pattern does *not*
//! match (Helm's semantics, kept as they are). `templates/.?*` is always
//! added.
//!
//! This module only decides; the loader walks the directory.

/// Parsed `.helmignore` rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    glob: String,
    negate: bool,
    dir_only: bool,
    kind: MatchOn,
}

#[derive(Debug, Clone, Copy)]
enum MatchOn {
    /// A leading `/`, or any `/` inside: the whole relative path.
    Path,
    /// No `/`: the base name.
    BaseName,
}

impl Rules {
    /// Parses a `.helmignore` file's text and adds Helm's default rule.
    ///
    /// # Errors
    /// A `**` pattern or a malformed glob, naming the line.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut rules = Rules::default();
        for (n, line) in text.lines().enumerate() {
            rules
                .add(line)
                .map_err(|e| format!(".helmignore line {}: {e}", n + 1))?;
        }
        rules.add_defaults();
        Ok(rules)
    }

    /// Only the default rule (`templates/.?*`).
    #[must_use]
    pub fn defaults() -> Rules {
        let mut rules = Rules::default();
        rules.add_defaults();
        rules
    }

    fn add_defaults(&mut self) {
        self.add("templates/.?*")
            .expect("the default rule is valid");
    }

    fn add(&mut self, rule: &str) -> Result<(), String> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err("double-star (**) syntax is not supported".into());
        }
        if glob_match(rule, "abc").is_err() {
            return Err(format!("syntax error in pattern {rule:?}"));
        }
        let (negate, rule) = match rule.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, rule),
        };
        let (dir_only, rule) = match rule.strip_suffix('/') {
            Some(r) => (true, r),
            None => (false, rule),
        };
        let (kind, glob) = if let Some(r) = rule.strip_prefix('/') {
            (MatchOn::Path, r)
        } else if rule.contains('/') {
            (MatchOn::Path, rule)
        } else {
            (MatchOn::BaseName, rule)
        };
        self.patterns.push(Pattern {
            glob: glob.to_string(),
            negate,
            dir_only,
            kind,
        });
        Ok(())
    }

    /// Whether `path` (relative, `/`-separated) is ignored.
    #[must_use]
    pub fn ignores(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let subject = match p.kind {
                MatchOn::Path => path,
                MatchOn::BaseName => path.rsplit('/').next().unwrap_or(path),
            };
            let matched = glob_match(&p.glob, subject).unwrap_or(false);
            if p.negate {
                if (p.dir_only && !is_dir) || !matched {
                    return true;
                }
                continue;
            }
            if p.dir_only && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

/// Go's `path.Match`: `*` (not `/`), `?`, `[...]` classes with ranges and
/// `^` negation, `\` escapes.
///
/// # Errors
/// A malformed pattern (unclosed class, trailing `\`).
#[allow(clippy::result_unit_err)]
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, ()> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the whole pattern first, as Go reports ErrBadPattern even
    // when an early mismatch would stop matching.
    validate(&p)?;
    Ok(match_from(&p, &n))
}

fn validate(p: &[char]) -> Result<(), ()> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(());
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class_end(p, i)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Finds the end of a class starting at `p[start] == '['`; returns the
/// class items' range and the index after `]`.
fn class_end(p: &[char], start: usize) -> Result<(usize, usize), ()> {
    let mut i = start + 1;
    if i < p.len() && p[i] == '^' {
        i += 1;
    }
    let first = i;
    loop {
        if i >= p.len() {
            return Err(());
        }
        if p[i] == ']' && i > first {
            return Ok((first, i + 1));
        }
        if p[i] == ']' {
            // An empty class is malformed in Go.
            return Err(());
        }
        if p[i] == '\\' {
            i += 1;
        }
        i += 1;
        if i < p.len() && p[i] == '-' && i + 1 < p.len() && p[i + 1] != ']' {
            i += 1;
            if p[i] == '\\' {
                i += 1;
            }
            i += 1;
        }
    }
}

fn class_matches(p: &[char], start: usize, end: usize, c: char) -> bool {
    let negated = p[start + 1] == '^';
    let mut i = start + 1 + usize::from(negated);
    let mut matched = false;
    while i < end - 1 {
        let mut lo = p[i];
        if lo == '\\' {
            i += 1;
            lo = p[i];
        }
        i += 1;
        let mut hi = lo;
        if i < end - 1 && p[i] == '-' {
            i += 1;
            hi = p[i];
            if hi == '\\' {
                i += 1;
                hi = p[i];
            }
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    matched != negated
}

fn match_from(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() && n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() && n[ni] != '/' => {
                    let (_, end) = class_end(p, pi).expect("validated");
                    if class_matches(p, pi, end, n[ni]) {
                        pi = end;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if ni < n.len() && p[pi + 1] == n[ni] => {
                    pi += 2;
                    ni += 1;
                    continue;
                }
                c if !matches!(c, '?' | '[' | '\\') && ni < n.len() && c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return true;
        }
        // Backtrack: let the last `*` swallow one more character, never `/`.
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_match() {
        assert_eq!(glob_match("*.txt", "a.txt"), Ok(true));
        assert_eq!(glob_match("*.txt", "d/a.txt"), Ok(false));
        assert_eq!(glob_match("a?c", "abc"), Ok(true));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("files/*", "files/x.conf"), Ok(true));
        assert_eq!(glob_match("[", "x"), Err(()));
        assert_eq!(glob_match(r"a\*", "a*"), Ok(true));
    }

    #[test]
    fn helmignore_rules() {
        let r = Rules::parse("# c\n*.md\n/ci/\ntests/*.yaml\n.git\n").unwrap();
        assert!(r.ignores("README.md", false));
        assert!(r.ignores("docs/x.md", false));
        assert!(r.ignores("ci", true));
        assert!(!r.ignores("ci", false));
        assert!(r.ignores("tests/a.yaml", false));
        assert!(!r.ignores("templates/a.yaml", false));
        assert!(r.ignores("templates/.hidden", false));
        assert!(r.ignores(".git", true));
        assert!(Rules::parse("a/**/b\n").is_err());
    }

    #[test]
    fn negation_ignores_what_does_not_match() {
        let r = Rules::parse("!keep.txt\n").unwrap();
        assert!(r.ignores("other.txt", false));
        assert!(!r.ignores("keep.txt", false));
    }
}
