//! Durations as Flux writes them: Go's `metav1.Duration` text (`5m`, `1h30m`,
//! `90s`, `500ms`, `1.5h`).
//!
//! Owns the text form, its CRD validation pattern and the conversion to and
//! from [`std::time::Duration`]. It must not decide what an interval *means*
//! (jitter, minimums): that belongs to the reconcilers.
//!
//! Key choice: the value is kept as the user's text, not parsed on
//! deserialization. The API server already enforces [`DURATION_PATTERN`]; a
//! stored object that somehow holds an odd value must still deserialize so a
//! reconciler can report it on the object instead of failing in the watcher.
//!
//! ```
//! use driftless_api::GoDuration;
//! let d = GoDuration::from("1m30s");
//! assert_eq!(d.to_std().unwrap(), std::time::Duration::from_secs(90));
//! assert_eq!(GoDuration::from_std(std::time::Duration::from_secs(300)).as_str(), "5m0s");
//! ```

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// The validation pattern Flux puts on its duration fields.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

/// The narrower pattern of `GitRepository.spec.timeout` (no hours).
pub const TIMEOUT_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$";

/// A duration in Go's `time.Duration` text form, as Flux's API stores it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GoDuration(String);

/// Why a duration text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {problem}; expected a sequence like 1h30m, 45s or 500ms")]
pub struct DurationError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl GoDuration {
    /// The text as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the text with the units Flux's pattern allows (`ms`, `s`, `m`,
    /// `h`), each with an optional decimal fraction.
    pub fn to_std(&self) -> Result<std::time::Duration, DurationError> {
        parse(&self.0)
    }

    /// Formats a duration the way Go prints one (`1h0m0s`, `5m0s`, `1.5s`,
    /// `250ms`), at millisecond precision.
    pub fn from_std(duration: std::time::Duration) -> GoDuration {
        GoDuration(format(duration))
    }
}

impl From<&str> for GoDuration {
    fn from(text: &str) -> GoDuration {
        GoDuration(text.to_string())
    }
}

impl From<String> for GoDuration {
    fn from(text: String) -> GoDuration {
        GoDuration(text)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsonSchema for GoDuration {
    fn schema_name() -> Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": DURATION_PATTERN })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Schema for `GitRepository.spec.timeout`: a duration without hours, as
/// Flux validates it.
pub(crate) fn timeout_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": TIMEOUT_PATTERN, "default": "60s", "nullable": true })
}

fn parse(input: &str) -> Result<std::time::Duration, DurationError> {
    let fail = |problem| DurationError {
        input: input.to_string(),
        problem,
    };
    if input.is_empty() {
        return Err(fail("it is empty"));
    }
    let mut rest = input;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| fail("a number has no unit"))?;
        let (number, tail) = rest.split_at(number_len);
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number, ""),
        };
        if whole.is_empty() || whole.chars().any(|c| !c.is_ascii_digit()) {
            return Err(fail("a unit has no number before it"));
        }
        if number.contains('.') && (fraction.is_empty() || fraction.contains('.')) {
            return Err(fail("a decimal fraction is malformed"));
        }
        let (unit_nanos, unit_len): (u128, usize) = if tail.starts_with("ms") {
            (1_000_000, 2)
        } else if tail.starts_with('s') {
            (1_000_000_000, 1)
        } else if tail.starts_with('m') {
            (60_000_000_000, 1)
        } else if tail.starts_with('h') {
            (3_600_000_000_000, 1)
        } else {
            return Err(fail("the unit is not one of ms, s, m, h"));
        };
        let whole: u128 = whole.parse().map_err(|_| fail("a number is too large"))?;
        let mut nanos = whole
            .checked_mul(unit_nanos)
            .ok_or_else(|| fail("it is too large"))?;
        let mut scale = unit_nanos;
        for digit in fraction.chars().take(18) {
            scale /= 10;
            nanos += u128::from(digit.to_digit(10).unwrap_or(0)) * scale;
        }
        total_nanos = total_nanos
            .checked_add(nanos)
            .ok_or_else(|| fail("it is too large"))?;
        rest = &tail[unit_len..];
    }
    let secs = u64::try_from(total_nanos / 1_000_000_000).map_err(|_| fail("it is too large"))?;
    let subsec = (total_nanos % 1_000_000_000) as u32;
    Ok(std::time::Duration::new(secs, subsec))
}

fn format(duration: std::time::Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_string();
    }
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let hours = millis / 3_600_000;
    let minutes = (millis / 60_000) % 60;
    let seconds = (millis / 1000) % 60;
    let frac = millis % 1000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{seconds}s"));
    } else {
        let frac = format!("{frac:03}");
        out.push_str(&format!("{seconds}.{}s", frac.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn parses_flux_examples() {
        let cases = [
            ("1m", Duration::from_secs(60)),
            ("5m0s", Duration::from_secs(300)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5h", Duration::from_secs(5400)),
            ("500ms", Duration::from_millis(500)),
            ("2m30.5s", Duration::from_millis(150_500)),
            ("10s", Duration::from_secs(10)),
        ];
        for (text, want) in cases {
            assert_eq!(GoDuration::from(text).to_std(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_the_pattern_rejects() {
        for text in ["", "5", "m", "5d", "1.m", "-5s", "5 m", ".5s", "1..5s"] {
            let err = GoDuration::from(text).to_std().expect_err(text);
            assert_eq!(err.input, text);
        }
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(45), "45s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::ZERO, "0s"),
        ];
        for (duration, want) in cases {
            let text = GoDuration::from_std(duration);
            assert_eq!(text.as_str(), want);
            assert_eq!(text.to_std(), Ok(duration));
        }
    }
}
