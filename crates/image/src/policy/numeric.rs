//! Go's `strconv.ParseFloat(s, 64)`, which Flux's numerical policy applies
//! to every candidate tag: a tag it refuses fails the whole policy.
//!
//! Rust's `f64::from_str` reads a different language: it takes `+nan` and
//! refuses `1_000`, hexadecimal floats (`0x1p4`) and returns infinity for
//! `1e400` where Go reports a range error. So the syntax is checked here as
//! Go checks it; decimal values are then converted by Rust (both are
//! correctly rounded, so they agree) and hexadecimal ones here.

/// The value Go's `strconv.ParseFloat(s, 64)` returns, or `None` where it
/// returns an error (bad syntax, or a finite literal out of `f64` range).
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    if let Some(special) = special(s) {
        return Some(special);
    }
    let bytes = s.as_bytes();
    let (negative, body) = match bytes.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let b = body.as_bytes();
    let hex = b.len() > 2 && b[0] == b'0' && (b[1] | 0x20) == b'x';
    let value = if hex {
        parse_hex(&body[2..])?
    } else {
        parse_decimal(body)?
    };
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    if value.is_infinite() {
        // A finite literal that rounds to infinity is Go's ErrRange.
        return None;
    }
    Some(if negative { -value } else { value })
}

/// `inf`, `infinity` (optionally signed) and `nan` (unsigned), any case.
fn special(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Digits with at most one `.`, at least one digit, then an optional
/// `e`/`E` exponent with at least one digit; `_` may appear among the
/// digits (checked separately, as Go does).
fn parse_decimal(body: &str) -> Option<f64> {
    let b = body.as_bytes();
    let mut i = 0;
    let (mut digits, mut dot) = (false, false);
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' => digits = true,
            b'_' => {}
            b'.' if !dot => dot = true,
            _ => break,
        }
        i += 1;
    }
    if !digits {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    if i != b.len() {
        return None;
    }
    body.replace('_', "").parse::<f64>().ok()
}

/// Hex digits with at most one `.` and a mandatory `p` exponent.
fn parse_hex(body: &str) -> Option<f64> {
    let b = body.as_bytes();
    let mut i = 0;
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let (mut digits, mut dot, mut sticky) = (false, false, false);
    while i < b.len() {
        let c = b[i];
        if c == b'_' {
            i += 1;
            continue;
        }
        if c == b'.' && !dot {
            dot = true;
            i += 1;
            continue;
        }
        let Some(d) = char::from(c).to_digit(16) else {
            break;
        };
        digits = true;
        if mantissa >> 60 == 0 {
            mantissa = mantissa << 4 | u64::from(d);
            if dot {
                exp -= 4;
            }
        } else {
            // Keep 60+ significant bits; the rest only decide rounding.
            sticky |= d != 0;
            if !dot {
                exp += 4;
            }
        }
        i += 1;
    }
    if !digits || i >= b.len() || (b[i] | 0x20) != b'p' {
        return None;
    }
    i += 1;
    let negative_exp = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut e: i64 = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        if b[i] != b'_' && e < 100_000 {
            e = e * 10 + i64::from(b[i] - b'0');
        }
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    exp += if negative_exp { -e } else { e };
    Some(scale(mantissa, sticky, exp))
}

/// `mantissa × 2^exp` rounded to nearest-even, with `sticky` standing for
/// non-zero bits below the mantissa.
fn scale(mantissa: u64, sticky: bool, exp: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    // Reduce to at most 53 significant bits, rounding half to even.
    let bits = 64 - i64::from(mantissa.leading_zeros());
    let mut m = mantissa;
    let mut e = exp;
    if bits > 53 {
        let drop = u32::try_from(bits - 53).unwrap_or(0);
        let half = 1u64 << (drop - 1);
        let rest = m & ((1u64 << drop) - 1);
        m >>= drop;
        e += i64::from(drop);
        let round_up = rest > half || (rest == half && (sticky || m & 1 == 1));
        if round_up {
            m += 1;
        }
    }
    // m < 2^54 is exact in f64; scale by powers of two in safe steps.
    #[allow(clippy::cast_precision_loss, reason = "m has at most 54 bits")]
    let mut value = m as f64;
    while e > 0 {
        let step = e.min(1000);
        value *= pow2(step);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(1000);
        value /= pow2(step);
        e += step;
    }
    value
}

fn pow2(n: i64) -> f64 {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    2f64.powi(n)
}

/// Go's rule for digit separators: each `_` sits between two digits (or
/// after a base prefix and before a digit).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= i + 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = (b[i + 1] | 0x20) == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::parse_go_float;

    #[test]
    fn accepts_what_go_accepts() {
        let cases: &[(&str, f64)] = &[
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+3", 3.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("2.5e-1", 0.25),
            ("1_000", 1000.0),
            ("1_000.000_1", 1000.0001),
            ("0x1p4", 16.0),
            ("0x1.8p1", 3.0),
            ("0X_1P-2", 0.25),
            ("1e-400", 0.0),
            ("Inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
            ("20230102150405", 20_230_102_150_405.0),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_float(s), Some(*want), "{s}");
        }
        assert!(parse_go_float("NaN").is_some_and(f64::is_nan));
        assert!(parse_go_float("nan").is_some_and(f64::is_nan));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for s in [
            "", ".", "+", "e5", "1e", "1e+", "1.2.3", "v1", "1-rc", "0x1", "0x", "0x1.8", "1__0",
            "_1", "1_", "1_.5", "+nan", "-nan", "1e400", "0x1p2000", "latest", " 1", "1 ",
            "infinit", "0b101",
        ] {
            assert_eq!(parse_go_float(s), None, "{s:?}");
        }
    }
}
