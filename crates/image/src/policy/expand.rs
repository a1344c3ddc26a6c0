//! Go's `regexp.Regexp.ExpandString`, which Flux's `filterTags.extract`
//! uses to turn a matching tag into the value the policy orders.
//!
//! The `regex` crate has its own replacement syntax (`$name` stops at the
//! first non-word character, like Go, but a missing `}` or an empty name
//! behave differently and `$$` is handled elsewhere); the template
//! semantics below are Go's, read from its documentation and behaviour:
//! - `$name` / `${name}`: `name` is the longest run of letters, digits and
//!   `_` (Unicode letters and digits count), so `$1x` is `${1x}`;
//! - an all-digit name without a leading zero (below 10^8) is a group
//!   number, anything else a group name; a group that is absent or did not
//!   take part in the match expands to nothing;
//! - `$$` is a literal `$`; a `$` not followed by a valid reference (an
//!   empty name, `${` without its `}`) is kept as a literal `$`.

use regex::{CaptureLocations, Regex};

/// Appends the expansion of `template` for the match of `re` in `src`
/// (whose group positions are `locs`) to `out`.
pub(crate) fn expand_into(
    out: &mut String,
    re: &Regex,
    template: &str,
    src: &str,
    locs: &CaptureLocations,
) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.as_bytes().get(1) == Some(&b'$') {
            out.push('$');
            rest = &rest[2..];
            continue;
        }
        let Some((name, after)) = reference(rest) else {
            out.push('$');
            rest = &rest[1..];
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => Some(n),
            None => re.capture_names().position(|n| n == Some(name)),
        };
        if let Some((start, end)) = group.and_then(|g| locs.get(g)) {
            out.push_str(&src[start..end]);
        }
    }
    out.push_str(rest);
}

/// The name of the reference at the start of `s` (which starts with `$`)
/// and the text after it; `None` when it is not a valid reference.
fn reference(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix('$')?;
    let (body, braced) = match body.strip_prefix('{') {
        Some(inner) => (inner, true),
        None => (body, false),
    };
    let len = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || c.is_numeric() || *c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let after = &body[len..];
    if braced {
        return Some((name, after.strip_prefix('}')?));
    }
    Some((name, after))
}

/// Go reads a name as a group number when it is all ASCII digits, has no
/// leading zero and stays below 10^8 (checked before each digit is added).
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if !b.is_ascii_digit() || n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(pattern: &str, template: &str, src: &str) -> String {
        let re = Regex::new(pattern).expect("test pattern");
        let mut locs = re.capture_locations();
        re.captures_read(&mut locs, src)
            .expect("test input matches");
        let mut out = String::new();
        expand_into(&mut out, &re, template, src, &locs);
        out
    }

    #[test]
    fn go_expand_semantics() {
        let p = r"^(?P<branch>[a-z]+)-(?P<ts>[0-9]+)-(?<sha>[a-f0-9]+)$";
        let src = "main-1700000000-abc123";
        let cases = [
            ("$ts", "1700000000"),
            ("${ts}", "1700000000"),
            ("$1", "main"),
            ("$0", "main-1700000000-abc123"),
            ("${1}x", "mainx"),
            // Longest name: `$1x` is group "1x", which does not exist.
            ("$1x", ""),
            ("$tsx", ""),
            ("$$ts", "$ts"),
            ("$", "$"),
            ("a$-b", "a$-b"),
            ("${ts", "${ts"),
            ("${}", "${}"),
            ("$01", ""),
            ("$9", ""),
            ("$sha.$branch", "abc123.main"),
            ("v${branch}_${sha}", "vmain_abc123"),
            ("no refs", "no refs"),
        ];
        for (template, want) in cases {
            assert_eq!(expand(p, template, src), want, "template {template:?}");
        }
    }

    #[test]
    fn unmatched_group_expands_to_nothing() {
        assert_eq!(expand(r"^(a)|(b)$", "[$1][$2]", "b"), "[][b]");
    }
}
