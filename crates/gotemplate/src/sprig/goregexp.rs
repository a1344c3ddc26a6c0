//! Go's `regexp/syntax` (RE2, Perl flags) rewritten into what the `regex`
//! crate reads the same way.
//!
//! Both engines implement RE2, so most patterns pass through unchanged;
//! this module rewrites only where the two *syntaxes* disagree:
//!
//! - Perl classes `\d \w \s \b` (and negations) are ASCII-only in Go and
//!   Unicode-aware in `regex`: they become explicit ASCII classes.
//! - Inside brackets Go reads every item as a single character, a range
//!   `a-z`, or a class; so `-` right after a class (`[\w-.]`) and the
//!   characters `[`, `&`, `~`, `-` that `regex` gives meaning to (nested
//!   classes, `&&`, `~~`, `--` set operations) are literals. Every
//!   punctuation literal in a bracket is written as `\x{..}`.
//! - `\` before ASCII punctuation is that character in Go; `regex` reads
//!   `\<` and `\>` as word boundaries. Such escapes become `\x{..}`.
//! - `{` that does not start a valid `{n}`, `{n,}` or `{n,m}` is a literal
//!   in Go and an error in `regex`; a lone `}` likewise.
//! - `\Q...\E` quotes literally in Go; `regex` has no such syntax.
//! - Octal escapes (`\0`, `\012`, `\12`) are characters in Go and
//!   errors in `regex` (octal is off by default).
//!
//! Anything Go rejects is passed through for `regex` to reject too (the
//! error text then comes from `regex`).

/// Rewrites a Go regular expression into `regex` syntax with the same
/// meaning.
pub(crate) fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i = escape_outside(&chars, i, &mut out),
            '[' => i = class(&chars, i, &mut out),
            '{' => match repeat_len(&chars[i..]) {
                Some(len) => {
                    out.extend(&chars[i..i + len]);
                    i += len;
                }
                None => {
                    push_literal(&mut out, '{');
                    i += 1;
                }
            },
            '}' => {
                push_literal(&mut out, '}');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The ASCII class Go means by a Perl class letter, as a bracket item
/// (`inner`) or a whole class.
fn perl_class(letter: char) -> Option<(&'static str, bool)> {
    let (items, negated) = match letter {
        'd' => ("0-9", false),
        'D' => ("0-9", true),
        'w' => ("0-9A-Za-z_", false),
        'W' => ("0-9A-Za-z_", true),
        's' => ("\\t\\n\\f\\r ", false),
        'S' => ("\\t\\n\\f\\r ", true),
        _ => return None,
    };
    Some((items, negated))
}

/// `\x` at `chars[at]` outside brackets; returns the index after it.
fn escape_outside(chars: &[char], at: usize, out: &mut String) -> usize {
    let Some(&next) = chars.get(at + 1) else {
        out.push('\\');
        return at + 1;
    };
    if let Some((items, negated)) = perl_class(next) {
        out.push_str(if negated { "[^" } else { "[" });
        out.push_str(items);
        out.push(']');
        return at + 2;
    }
    match next {
        'b' => out.push_str("(?-u:\\b)"),
        'B' => out.push_str("(?-u:\\B)"),
        'Q' => return quoted(chars, at + 2, out),
        '0'..='7' => {
            if let Some((c, end)) = octal(chars, at + 1) {
                push_literal(out, c);
                return end;
            }
            out.push('\\');
            out.push(next);
        }
        c if c.is_ascii_punctuation() => push_literal(out, c),
        _ => {
            let end = at + escape_len(&chars[at..]);
            out.extend(&chars[at..end]);
            return end;
        }
    }
    at + 2
}

/// Length of an escape both syntaxes read alike at the start of `chars`
/// (`\n`, `\x41`, `\x{263a}`, `\pL`, `\p{Greek}`).
fn escape_len(chars: &[char]) -> usize {
    let braced = |from: usize| {
        chars[from..]
            .iter()
            .position(|c| *c == '}')
            .map_or(chars.len(), |p| from + p + 1)
    };
    match (chars.get(1), chars.get(2)) {
        (Some('x' | 'p' | 'P'), Some('{')) => braced(2),
        (Some('x'), Some(_)) => 4.min(chars.len()),
        (Some('p' | 'P'), Some(_)) => 3,
        (Some(_), _) => 2,
        (None, _) => 1,
    }
}

/// `\Q...\E` from `start` (just after `\Q`): everything up to `\E` (or
/// the end) is literal.
fn quoted(chars: &[char], start: usize, out: &mut String) -> usize {
    let mut i = start;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
            return i + 2;
        }
        push_literal(out, chars[i]);
        i += 1;
    }
    i
}

/// Go's octal escape whose first digit is `chars[at]`: `\0` alone or with
/// up to two more digits; `\1`-`\7` only when another octal digit follows
/// (a lone `\1` is a backreference, which Go rejects).
fn octal(chars: &[char], at: usize) -> Option<(char, usize)> {
    let is_octal = |c: Option<&char>| c.is_some_and(|c| ('0'..='7').contains(c));
    if chars[at] != '0' && !is_octal(chars.get(at + 1)) {
        return None;
    }
    let mut end = at + 1;
    while end < at + 3 && is_octal(chars.get(end)) {
        end += 1;
    }
    let digits: String = chars[at..end].iter().collect();
    let code = u32::from_str_radix(&digits, 8).ok()?;
    Some((char::from_u32(code)?, end))
}

/// The length of a valid Go repetition `{n}`, `{n,}` or `{n,m}` at the
/// start of `chars`, or `None` when Go reads the `{` as a literal.
fn repeat_len(chars: &[char]) -> Option<usize> {
    let digits = |from: usize| {
        chars[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let min = digits(1);
    if min == 0 {
        return None;
    }
    let mut i = 1 + min;
    if chars.get(i) == Some(&',') {
        i += 1;
        i += digits(i);
    }
    (chars.get(i) == Some(&'}')).then_some(i + 1)
}

/// A bracket expression starting at `chars[at] == '['`, read item by item
/// as Go reads it; returns the index after its `]`.
fn class(chars: &[char], at: usize, out: &mut String) -> usize {
    let mut i = at + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    while i < chars.len() && (chars[i] != ']' || first) {
        first = false;
        // POSIX class such as [:alpha:] or [:^alpha:]: same in both.
        if chars[i] == '['
            && chars.get(i + 1) == Some(&':')
            && let Some(len) = posix_len(&chars[i..])
        {
            out.extend(&chars[i..i + len]);
            i += len;
            continue;
        }
        if chars[i] == '\\'
            && let Some(&letter) = chars.get(i + 1)
        {
            if let Some((items, negated)) = perl_class(letter) {
                if negated {
                    out.push_str("[^");
                    out.push_str(items);
                    out.push(']');
                } else {
                    out.push_str(items);
                }
                i += 2;
                continue;
            }
            if letter == 'p' || letter == 'P' {
                let len = escape_len(&chars[i..]);
                out.extend(&chars[i..i + len]);
                i += len;
                continue;
            }
        }
        let (lo, next) = class_char(chars, i);
        out.push_str(&lo);
        i = next;
        // `a-z`, but `a-]` is `a` and `-`.
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let (hi, next) = class_char(chars, i + 1);
            out.push('-');
            out.push_str(&hi);
            i = next;
        }
    }
    if i < chars.len() {
        out.push(']');
        i += 1;
    }
    i
}

/// One character inside brackets at `chars[at]`, written for `regex`.
fn class_char(chars: &[char], at: usize) -> (String, usize) {
    let mut text = String::new();
    if chars[at] != '\\' {
        push_literal(&mut text, chars[at]);
        return (text, at + 1);
    }
    let Some(&next) = chars.get(at + 1) else {
        return ("\\".to_owned(), at + 1);
    };
    if let Some((c, end)) = ('0'..='7')
        .contains(&next)
        .then(|| octal(chars, at + 1))
        .flatten()
    {
        push_literal(&mut text, c);
        return (text, end);
    }
    if next.is_ascii_punctuation() {
        push_literal(&mut text, next);
        return (text, at + 2);
    }
    // `\n`, `\x41`, `\x{263a}`...: the same in both syntaxes.
    let end = at + escape_len(&chars[at..]);
    (chars[at..end].iter().collect(), end)
}

/// Length of `[:name:]` at the start of `chars`, if it is one.
fn posix_len(chars: &[char]) -> Option<usize> {
    (2..chars.len().saturating_sub(1))
        .find(|&i| chars[i] == ':' && chars[i + 1] == ']')
        .map(|i| i + 2)
}

/// A literal character: punctuation as `\x{..}` so neither syntax gives
/// it a meaning.
fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c.is_ascii_whitespace() {
        out.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::translate;
    use regex::Regex;

    fn re(p: &str) -> Regex {
        Regex::new(&translate(p)).unwrap_or_else(|e| panic!("{p} -> {}: {e}", translate(p)))
    }

    #[test]
    fn dash_after_a_class_is_literal() {
        // redis-ha's masterGroupName check, as Go reads it.
        let r = re(r"^[\w-\.]+$");
        assert!(r.is_match("my-master.1_x"));
        assert!(!r.is_match("a/b"));
        assert!(re(r"^[[:digit:]-a]$").is_match("-"));
        assert!(!re(r"^[[:digit:]-a]$").is_match("b"));
        assert!(re(r"^[[:digit:]-a]+$").is_match("5-a"));
        assert!(re(r"^[a-c-e]+$").is_match("a-e"));
        assert!(!re(r"^[a-c-e]+$").is_match("d"));
    }

    #[test]
    fn bracket_punctuation_has_no_set_meaning() {
        let r = re(r"^[a&&b~~c[d]+$");
        for ok in ["a", "&", "~", "[", "d"] {
            assert!(r.is_match(ok), "{ok}");
        }
        assert!(re(r"^[]a]+$").is_match("]a"));
        assert!(re(r"^[^]a]$").is_match("b"));
        assert!(re(r"^[\]\-]+$").is_match("]-"));
        assert!(re(r"^[\x41-\x{43}]+$").is_match("ABC"));
        assert!(re(r"^[\p{Greek}\d]+$").is_match("α1"));
    }

    #[test]
    fn literals_go_accepts() {
        assert!(re(r"^a{$").is_match("a{"));
        assert!(re(r"^{x}$").is_match("{x}"));
        assert!(re(r"^a{,2}$").is_match("a{,2}"));
        assert!(re(r"^a{2}$").is_match("aa"));
        assert!(re(r"^a{1,}b{1,2}$").is_match("aabb"));
        assert!(re(r"^\<a\>$").is_match("<a>"));
        assert!(re(r"^\Q.*\E+$").is_match(".**"));
        assert!(!re(r"^\Q.*\E+$").is_match(".*.*"));
        assert!(re(r"^\Q.*$").is_match(".*$"));
        assert!(re(r"^\0\101\12$").is_match("\0A\n"));
        assert!(re(r"^\p{Greek}\x{3b1}\x41\pL$").is_match("ααAx"));
        assert!(Regex::new(&translate(r"\1")).is_err());
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(!re(r"^\d$").is_match("٣"));
        assert!(!re(r"^\w+$").is_match("é"));
        assert!(re(r"^[\D]$").is_match("x"));
        assert!(!re(r"^[\D]$").is_match("1"));
        assert!(re(r"^\s\S$").is_match(" x"));
        assert!(re(r"(?i)^A\bb?").is_match("a"));
    }
}
