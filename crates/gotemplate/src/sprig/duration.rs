//! Go's `time.Duration` as the date functions need it: `ParseDuration`
//! (`1h30m`, `-1.5s`, `300ms`) and `String()` (`1h30m0s`, `1.5s`,
//! `500ms`, `0s`), on nanosecond counts.

use std::fmt::Write as _;

/// Go's `time.ParseDuration`, in nanoseconds.
///
/// # Errors
/// `time: invalid duration "X"` and the unit errors, in Go's words.
pub(crate) fn parse_duration(text: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", crate::fmt::quote_go(text));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if number_len == 0 || rest[..number_len] == *"." {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .bytes()
            .take_while(|b| !b.is_ascii_digit() && *b != b'.')
            .count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    crate::fmt::quote_go(text)
                ));
            }
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::fmt::quote_go(other),
                    crate::fmt::quote_go(text)
                ));
            }
        };
        total += number * scale;
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "durations fit i128 nanoseconds"
    )]
    let nanos = total.round() as i128;
    Ok(if negative { -nanos } else { nanos })
}

/// Go's `time.Duration.String()`.
pub(crate) fn format_duration(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let negative = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            u if u < 1_000 => (0, "ns"),
            u if u < 1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        out.push_str(&fraction(u, prec));
        out.push_str(unit);
    } else {
        let seconds = fraction(u, 9);
        let whole_seconds = u / 1_000_000_000;
        let minutes = whole_seconds / 60;
        let seconds_in_minute = seconds_with_fraction(&seconds, whole_seconds % 60);
        if minutes > 0 {
            let hours = minutes / 60;
            if hours > 0 {
                let _ = write!(out, "{hours}h");
            }
            let _ = write!(out, "{}m", minutes % 60);
        }
        out.push_str(&seconds_in_minute);
        out.push('s');
    }
    if negative {
        out.insert(0, '-');
    }
    out
}

/// `u / 10^prec` with the fraction's trailing zeros (and point) dropped.
fn fraction(u: u128, prec: u32) -> String {
    let scale = 10u128.pow(prec);
    let whole = u / scale;
    let mut frac = format!("{:0width$}", u % scale, width = prec as usize);
    while frac.ends_with('0') {
        frac.pop();
    }
    if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    }
}

fn seconds_with_fraction(seconds: &str, whole_in_minute: u128) -> String {
    match seconds.split_once('.') {
        Some((_, frac)) => format!("{whole_in_minute}.{frac}"),
        None => whole_in_minute.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("-1.5s"), Ok(-1_500_000_000));
        assert!(parse_duration("5").is_err());
        assert_eq!(format_duration(5_400_000_000_000), "1h30m0s");
        assert_eq!(format_duration(95_000_000_000), "1m35s");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(1_500_000), "1.5ms");
        assert_eq!(format_duration(-2_000), "-2µs");
        assert_eq!(format_duration(0), "0s");
    }
}
