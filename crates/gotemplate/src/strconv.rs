//! Go's `strconv` number syntax, which template number literals and
//! Sprig's casts (`int`, `float64`, `atoi`, the float math) both read
//! through: base prefixes, underscores only where Go allows them, hex
//! floats, and a value out of range as a failure. Rust's own parsers take
//! a different grammar (no underscores or hex floats, overflow to
//! infinity), so these wrap them with Go's checks.

/// Go's `underscoreOK`: an underscore only between digits, or between a
/// base prefix and a digit.
fn underscore_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    let bytes = bytes
        .strip_prefix(b"-")
        .or_else(|| bytes.strip_prefix(b"+"))
        .unwrap_or(bytes);
    // What came last: start, digit (or base prefix), underscore, other.
    let (mut saw, mut digits, mut hex) = (b'^', bytes, false);
    if bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1] | 0x20, b'b' | b'o' | b'x') {
        (saw, digits, hex) = (b'0', &bytes[2..], bytes[1] | 0x20 == b'x');
    }
    for &b in digits {
        if b.is_ascii_digit() || hex && b.is_ascii_hexdigit() {
            saw = b'0';
        } else if b == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// `strconv.ParseInt(text, 0, 64)`: an optional sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal) choosing the base, underscores as Go
/// allows them.
#[must_use]
pub fn parse_int(text: &str) -> Option<i64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if body.contains('_') && !underscore_ok(text) {
        return None;
    }
    let lower = body.replace('_', "").to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // `from_str_radix` would take a second sign.
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// `strconv.Atoi`: decimal only, no underscores; a number out of range is
/// the nearest int64, which is what Sprig's `atoi` keeps of Go's error.
#[must_use]
pub fn atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

/// `strconv.ParseFloat(text, 64)`: decimal or hex (`0x1.8p3`, exponent
/// required) floats with Go's underscores, `inf`/`infinity`/`nan` in any
/// case; `None` for bad syntax and for a finite number too large for f64.
#[must_use]
pub fn parse_float(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    // `from_str` would take a second sign.
    if body.starts_with(['+', '-']) {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        // Go reads no sign before NaN.
        "nan" if body.len() == text.len() => return Some(f64::NAN),
        _ => {}
    }
    if lower.contains('_') && !underscore_ok(text) {
        return None;
    }
    let lower = lower.replace('_', "");
    let magnitude = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        let decimal = lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'));
        if !decimal {
            return None;
        }
        lower.parse::<f64>().ok()?
    };
    if magnitude.is_infinite() {
        return None;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// A hex float body such as `1.8p3` (mantissa in hex, binary exponent
/// required), as Go's `strconv.ParseFloat` reads after `0x`.
fn parse_hex_float(body: &str) -> Option<f64> {
    let (mantissa, exponent) = body.split_once('p')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for digit in whole.chars() {
        value = value * 16.0 + f64::from(digit.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for digit in fraction.chars() {
        value += f64::from(digit.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exponent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_read_as_go_reads_them() {
        for (text, want) in [
            ("1_000", Some(1000)),
            ("0x_1f", Some(31)),
            ("0_17", Some(15)),
            ("-0b101", Some(-5)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("0x", None),
            ("08", None),
            ("+-1", None),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
        ] {
            assert_eq!(parse_int(text), want, "{text}");
        }
        assert_eq!(atoi("12345678901234567890"), Some(i64::MAX));
        assert_eq!(atoi("-12345678901234567890"), Some(i64::MIN));
        assert_eq!(atoi("1_0"), None);
    }

    #[test]
    fn floats_read_as_go_reads_them() {
        for (text, want) in [
            ("1_000", Some(1000.0)),
            ("0x1p4", Some(16.0)),
            ("0x1.8p1", Some(3.0)),
            ("-1.5e3", Some(-1500.0)),
            (".5", Some(0.5)),
            ("1__0", None),
            ("0x10", None),
            ("1e400", None),
            ("12345678901234567890", Some(1.234_567_890_123_456_8e19)),
            ("Infinity", Some(f64::INFINITY)),
            ("-inf", Some(f64::NEG_INFINITY)),
            (" 1", None),
            ("+-1", None),
            ("--1", None),
        ] {
            assert_eq!(parse_float(text), want, "{text}");
        }
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("+nan"), None);
    }
}
