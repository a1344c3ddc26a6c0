//! Go's `strconv.FormatFloat` for the `e`, `f` and `g` formats, which `fmt`
//! uses for `%v`, `%e`, `%f` and `%g`.
//!
//! Helm prints every number from values as a float64 with `%v`, i.e. `g`
//! with the shortest digits and a switch to exponent form from 1e+06 on;
//! getting this exactly right is most of what makes chart output match.
//! Rust's formatter supplies correctly rounded digits; the layout rules are
//! Go's.

/// Decimal digits of a finite, non-negative float: `digits` without
/// leading or trailing zeros and the decimal point position `dp`
/// (value = 0.digits × 10^dp). Zero has no digits.
struct Decimal {
    digits: Vec<u8>,
    dp: i32,
}

fn decimal_from_scientific(sci: &str) -> Decimal {
    // `sci` looks like "1.2345e-5" or "3e2".
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return Decimal { digits, dp: 0 };
    }
    Decimal {
        digits,
        dp: exponent + 1,
    }
}

/// Shortest digits that read back as `value`.
fn shortest(value: f64) -> Decimal {
    decimal_from_scientific(&format!("{:e}", value.abs()))
}

/// `significant` digits, correctly rounded.
fn rounded(value: f64, significant: usize) -> Decimal {
    let significant = significant.max(1);
    decimal_from_scientific(&format!("{:.*e}", significant - 1, value.abs()))
}

fn digit_at(decimal: &Decimal, index: i32) -> u8 {
    usize::try_from(index)
        .ok()
        .and_then(|i| decimal.digits.get(i))
        .copied()
        .unwrap_or(b'0')
}

/// `%e`: d.ddde±XX with `precision` digits after the point.
fn layout_e(out: &mut String, decimal: &Decimal, precision: usize, upper: bool) {
    out.push(char::from(digit_at(decimal, 0)));
    if precision > 0 {
        out.push('.');
        for i in 1..=precision {
            out.push(char::from(digit_at(
                decimal,
                i32::try_from(i).unwrap_or(i32::MAX),
            )));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if decimal.digits.is_empty() {
        0
    } else {
        decimal.dp - 1
    };
    out.push(if exp < 0 { '-' } else { '+' });
    let magnitude = exp.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
}

/// `%f`: ddd.ddd with `precision` digits after the point.
fn layout_f(out: &mut String, decimal: &Decimal, precision: usize) {
    if decimal.dp > 0 {
        for i in 0..decimal.dp {
            out.push(char::from(digit_at(decimal, i)));
        }
    } else {
        out.push('0');
    }
    if precision > 0 {
        out.push('.');
        for i in 1..=precision {
            let index = decimal.dp + i32::try_from(i).unwrap_or(i32::MAX) - 1;
            out.push(char::from(digit_at(decimal, index)));
        }
    }
}

/// Go's `strconv.FormatFloat(value, format, precision, 64)` for format
/// `e`, `E`, `f`, `g` or `G`; `precision` `None` is Go's -1 (shortest).
#[must_use]
pub(crate) fn format_float(value: f64, format: char, precision: Option<usize>) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    let upper = format.is_ascii_uppercase();
    match format.to_ascii_lowercase() {
        'e' => {
            let decimal = match precision {
                None => shortest(value),
                Some(p) => rounded(value, p + 1),
            };
            let precision = precision.unwrap_or_else(|| decimal.digits.len().saturating_sub(1));
            layout_e(&mut out, &decimal, precision, upper);
        }
        'f' => match precision {
            None => {
                let decimal = shortest(value);
                let after_point = usize::try_from(
                    i32::try_from(decimal.digits.len()).unwrap_or(i32::MAX) - decimal.dp,
                )
                .unwrap_or(0);
                layout_f(&mut out, &decimal, after_point);
            }
            Some(p) => {
                // Rust rounds `{:.p}` from the exact binary value, as Go does.
                out.push_str(&format!("{:.*}", p, value.abs()));
            }
        },
        _ => layout_g(&mut out, value, precision, upper),
    }
    out
}

fn layout_g(out: &mut String, value: f64, precision: Option<usize>, upper: bool) {
    let (decimal, mut prec) = match precision {
        None => {
            let decimal = shortest(value);
            let nd = decimal.digits.len();
            (decimal, nd)
        }
        Some(p) => {
            let p = p.max(1);
            (rounded(value, p), p)
        }
    };
    let nd = i32::try_from(decimal.digits.len()).unwrap_or(i32::MAX);
    let prec_i = i32::try_from(prec).unwrap_or(i32::MAX);
    let mut eprec = prec_i;
    if eprec > nd && nd >= decimal.dp {
        eprec = nd;
    }
    if precision.is_none() {
        eprec = 6;
    }
    let exp = if decimal.digits.is_empty() {
        -1
    } else {
        decimal.dp - 1
    };
    if exp < -4 || exp >= eprec {
        if prec > decimal.digits.len() {
            prec = decimal.digits.len();
        }
        layout_e(out, &decimal, prec.saturating_sub(1), upper);
        return;
    }
    if prec_i > decimal.dp {
        prec = decimal.digits.len();
    }
    let after_point =
        usize::try_from(i32::try_from(prec).unwrap_or(i32::MAX) - decimal.dp).unwrap_or(0);
    layout_f(out, &decimal, after_point);
}

/// The sign, significand and binary exponent of a finite `value`, as
/// strconv splits it: `value = mantissa × 2^(exponent − 52)`.
fn decompose(value: f64) -> (bool, u64, i64) {
    let bits = value.to_bits();
    let raw_exponent = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mut mantissa = bits & ((1 << 52) - 1);
    let exponent = if raw_exponent == 0 {
        -1022
    } else {
        mantissa |= 1 << 52;
        raw_exponent - 1023
    };
    (bits >> 63 == 1, mantissa, exponent)
}

/// Go's `%b` of a float64 (`strconv.FormatFloat(f, 'b', -1, 64)`): the
/// integer significand and its power of two, `7881299347898368p-51`.
pub(crate) fn format_binary(value: f64) -> String {
    if !value.is_finite() {
        return format_float(value, 'g', None);
    }
    let (negative, mantissa, exponent) = decompose(value);
    let exponent = exponent - 52;
    format!(
        "{}{mantissa}p{}{}",
        if negative { "-" } else { "" },
        if exponent < 0 { '-' } else { '+' },
        exponent.unsigned_abs()
    )
}

/// Go's `%x` of a float64 (`strconv.FormatFloat(f, 'x', precision, 64)`):
/// `0x1.cp+01`, the shortest hex fraction or `precision` digits rounded
/// half to even, at least two exponent digits.
pub(crate) fn format_hex(value: f64, upper: bool, precision: Option<usize>) -> String {
    if !value.is_finite() {
        return format_float(value, 'g', None);
    }
    let (negative, mut mantissa, mut exponent) = decompose(value);
    if mantissa == 0 {
        exponent = 0;
    }
    // The leading 1 (if any) at bit 60, four bits per hex digit below it.
    mantissa <<= 8;
    while mantissa != 0 && mantissa & (1 << 60) == 0 {
        mantissa <<= 1;
        exponent -= 1;
    }
    if let Some(digits) = precision.filter(|&digits| digits < 15) {
        let shift = u32::try_from(digits * 4).unwrap_or(0);
        let extra = (mantissa << shift) & ((1 << 60) - 1);
        mantissa >>= 60 - shift;
        if extra | (mantissa & 1) > 1 << 59 {
            mantissa += 1;
        }
        mantissa <<= 60 - shift;
        if mantissa & (1 << 61) != 0 {
            mantissa >>= 1;
            exponent += 1;
        }
    }
    let hex: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let digit = |m: u64| char::from(hex[usize::try_from((m >> 60) & 15).unwrap_or(0)]);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push('0');
    out.push(if upper { 'X' } else { 'x' });
    out.push(if mantissa >> 60 & 1 == 1 { '1' } else { '0' });
    mantissa <<= 4;
    match precision {
        None if mantissa != 0 => {
            out.push('.');
            while mantissa != 0 {
                out.push(digit(mantissa));
                mantissa <<= 4;
            }
        }
        Some(digits) if digits > 0 => {
            out.push('.');
            for _ in 0..digits {
                out.push(digit(mantissa));
                mantissa <<= 4;
            }
        }
        _ => {}
    }
    out.push(if upper { 'P' } else { 'p' });
    out.push(if exponent < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    out
}

#[cfg(test)]
mod tests {
    use super::{format_binary, format_float, format_hex};

    #[test]
    fn hex_floats() {
        assert_eq!(format_hex(3.5, false, None), "0x1.cp+01");
        assert_eq!(format_hex(1.0, false, None), "0x1p+00");
        assert_eq!(format_hex(0.0, false, None), "0x0p+00");
        assert_eq!(format_hex(-0.5, true, None), "-0X1P-01");
        // Each as Go's strconv printed it.
        assert_eq!(format_hex(3.5, false, Some(3)), "0x1.c00p+01");
        assert_eq!(format_hex(1.96875, false, Some(1)), "0x1.0p+01");
        assert_eq!(format_hex(1.5, false, Some(0)), "0x1p+01");
        assert_eq!(format_binary(3.5), "7881299347898368p-51");
        assert_eq!(format_binary(0.0), "0p-1074");
    }

    #[test]
    fn shortest_g_switches_to_exponent_at_a_million() {
        let cases = [
            (1_000_000.0, "1e+06"),
            (100_000.0, "100000"),
            (123_456.0, "123456"),
            (1_234_567.0, "1.234567e+06"),
            (2.5e-3, "0.0025"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.0, "0"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (f64::INFINITY, "+Inf"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(value, 'g', None), expected, "{value}");
        }
    }

    #[test]
    fn fixed_and_exponent_precisions() {
        assert_eq!(format_float(2.71928, 'f', Some(2)), "2.72");
        assert_eq!(format_float(2.5, 'f', Some(0)), "2");
        assert_eq!(format_float(1234.5678, 'e', Some(6)), "1.234568e+03");
        assert_eq!(format_float(1234.5678, 'E', Some(2)), "1.23E+03");
        assert_eq!(format_float(0.0, 'e', Some(6)), "0.000000e+00");
        assert_eq!(format_float(1234.5678, 'g', Some(3)), "1.23e+03");
        assert_eq!(format_float(100.0, 'g', Some(3)), "100");
        assert_eq!(format_float(1.0, 'f', None), "1");
        assert_eq!(format_float(1.5e-7, 'g', None), "1.5e-07");
    }
}
