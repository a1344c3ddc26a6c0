//! Writing a new value in the style of the scalar it replaces.
//!
//! Flux sets the node's value and lets its YAML encoder print it: quoted
//! scalars keep their quotes, and a plain scalar whose new value a YAML 1.1
//! reader would take for something other than a string (`1.0`, `123`,
//! `yes`, `0x1F`) is double-quoted (kyaml's `FormatNonStringStyle`),
//! so a tag `1.10` stays the string "1.10". We do the same, and also
//! double-quote a value that plain style cannot carry.

use granit_parser::ScalarStyle;

/// The source text for `value` written in `style`, or `None` for styles
/// we do not rewrite (block scalars).
pub(crate) fn render(value: &str, style: ScalarStyle) -> Option<String> {
    match style {
        ScalarStyle::Plain if is_plain_safe(value) && !is_yaml11_non_string(value) => {
            Some(value.to_owned())
        }
        ScalarStyle::Plain | ScalarStyle::DoubleQuoted => Some(double_quoted(value)),
        ScalarStyle::SingleQuoted if !value.chars().any(char::is_control) => {
            Some(format!("'{}'", value.replace('\'', "''")))
        }
        ScalarStyle::SingleQuoted => Some(double_quoted(value)),
        _ => None,
    }
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `value` reads back as the same string in plain style, in block
/// or flow context. Conservative: anything doubtful gets quotes.
fn is_plain_safe(value: &str) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    if first.is_whitespace() || value.ends_with(char::is_whitespace) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if value.contains(": ") || value.contains(" #") || value.ends_with(':') {
        return false;
    }
    !value
        .chars()
        .any(|c| c.is_control() || matches!(c, ',' | '[' | ']' | '{' | '}'))
}

/// Whether a YAML 1.1 reader (Go's yaml.v2, which kyaml asks) resolves the
/// plain scalar `value` to a non-string: null, bool, int or float.
fn is_yaml11_non_string(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if WORDS.contains(&value) {
        return true;
    }
    if !value.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return false;
    }
    let plain = value.replace('_', "");
    // (yaml.v2 leaves timestamps as strings when decoding into an
    // interface, which is how kyaml asks.)
    is_go_int(&plain) || is_yaml11_float(&plain)
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)`: a sign,
/// then `0x`/`0o`/`0b` digits, a leading-zero octal, or decimal digits,
/// within 64 bits. (A decimal too large is still a float to yaml.v2.)
fn is_go_int(s: &str) -> bool {
    let negative = s.starts_with('-');
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(n) if negative => n <= 1 << 63,
        Ok(_) => true,
        Err(_) => radix == 10,
    }
}

/// yaml.v2's float syntax: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_yaml11_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_keep_plain_style_unless_yaml_would_retype_them() {
        let plain = |v: &str| render(v, ScalarStyle::Plain).expect("plain renders");
        assert_eq!(plain("ghcr.io/org/app:1.2.3"), "ghcr.io/org/app:1.2.3");
        assert_eq!(plain("v1.2.3"), "v1.2.3");
        assert_eq!(plain("1.2.3"), "1.2.3");
        assert_eq!(plain("sha256:abc"), "sha256:abc");
        assert_eq!(plain("main-abc-1676403458"), "main-abc-1676403458");
        // Strings to yaml.v2 (checked with gopkg.in/yaml.v2 2.4.0): dates,
        // hex past 64 bits, a lone `1e`, a leading `_`.
        for string in [
            "2024-01-02",
            "2021-01-08T21-18-21Z",
            "0xFFFFFFFFFFFFFFFFFF",
            "1e",
            "_1",
            "0x",
        ] {
            assert_eq!(plain(string), string);
        }
        // Non-strings to yaml.v2, so quoted as Flux quotes them.
        for retyped in [
            "1.10",
            "123",
            "1e3",
            "0x1F",
            "017",
            "yes",
            "on",
            "null",
            "08",
            "1.",
            "99999999999999999999999",
            ".5",
            "1_000",
            "1__0",
            "0b101",
            "0o17",
            "+1",
            "Y",
            "~",
            "",
        ] {
            assert_eq!(plain(retyped), format!("\"{retyped}\""), "{retyped}");
        }
        assert_eq!(plain("a: b"), "\"a: b\"");
    }

    #[test]
    fn quoted_styles_are_kept() {
        assert_eq!(
            render("1.0", ScalarStyle::SingleQuoted).as_deref(),
            Some("'1.0'")
        );
        assert_eq!(
            render("it's", ScalarStyle::SingleQuoted).as_deref(),
            Some("'it''s'")
        );
        assert_eq!(
            render("a\"b\\", ScalarStyle::DoubleQuoted).as_deref(),
            Some("\"a\\\"b\\\\\"")
        );
        assert_eq!(render("x", ScalarStyle::Literal), None);
    }
}
