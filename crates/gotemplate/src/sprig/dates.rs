//! Date functions: `now`, `date`, `dateInZone`/`date_in_zone`,
//! `htmlDate`, `htmlDateInZone`, `dateModify`/`date_modify` (and `must`),
//! `toDate`/`mustToDate`, `unixEpoch`, `ago`, `duration`, `durationRound`,
//! with a `time.Time` template object (`.Year`, `.Unix`, `.Format`...).
//!
//! Sprig's quirks are kept: `date` formats the current time for anything
//! that is not a time or a Go `int`/`int64` (a float64 from values
//! included), `duration` reads only strings and int64, and `toDate`
//! returns Go's zero time on a parse error. See [`gotime`](super::gotime)
//! for what time zones mean here.

use crate::args::string;
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap};
use crate::value::{Object, Value};

use super::duration::{format_duration, parse_duration};
use super::gotime::{GoTime, parse};

/// A Go `time.Month` or `time.Weekday`: an int whose `String` method
/// names it, so printing shows `May` while comparisons, `%d`, arithmetic
/// and `toJson` see `5`.
#[derive(Debug)]
struct NamedInt {
    type_name: &'static str,
    number: i64,
    name: String,
}

impl Object for NamedInt {
    fn type_name(&self) -> String {
        self.type_name.to_owned()
    }

    fn kind_name(&self) -> &'static str {
        "int"
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match (name, args) {
            ("String", []) => Some(Ok(Value::string(self.name.as_str()))),
            ("String", _) => Some(Err(format!(
                "wrong number of args for String: want 0 got {}",
                args.len()
            ))),
            _ => None,
        }
    }

    fn format(&self) -> String {
        self.name.clone()
    }

    fn is_true(&self) -> bool {
        self.number != 0
    }

    fn as_int(&self) -> Option<i64> {
        Some(self.number)
    }

    fn to_json(&self) -> serde_json::Value {
        self.number.into()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A Go `time.Time` value.
#[derive(Debug)]
pub(crate) struct TimeObject(pub GoTime);

impl Object for TimeObject {
    fn type_name(&self) -> String {
        "time.Time".to_owned()
    }

    fn kind_name(&self) -> &'static str {
        "struct"
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let t = &self.0;
        let (year, month, day, hour, minute, second, weekday, year_day) = t.parts();
        let int = |n: i64| Value::Int(n);
        let result = match name {
            "Year" => int(year),
            "Month" => Value::object(NamedInt {
                type_name: "time.Month",
                number: i64::from(month),
                name: t.format("January"),
            }),
            "Day" => int(i64::from(day)),
            "Hour" => int(i64::from(hour)),
            "Minute" => int(i64::from(minute)),
            "Second" => int(i64::from(second)),
            "Nanosecond" => int(i64::from(t.nanos)),
            "YearDay" => int(i64::from(year_day)),
            "Weekday" => Value::object(NamedInt {
                type_name: "time.Weekday",
                number: i64::try_from(weekday).unwrap_or_default(),
                name: t.format("Monday"),
            }),
            "Unix" => Value::Int64(t.unix),
            "UnixMilli" => Value::Int64(t.unix * 1000 + i64::from(t.nanos / 1_000_000)),
            "UnixNano" => Value::Int64(i64::try_from(t.unix_nanos()).unwrap_or(i64::MAX)),
            "UTC" => Value::object(TimeObject(t.in_zone("UTC"))),
            "String" => Value::string(t.go_string()),
            "IsZero" => Value::Bool(t.unix == ZERO_TIME_UNIX && t.nanos == 0),
            "Format" => match args {
                [Value::String(layout)] => Value::string(t.format(layout)),
                [other] => {
                    return Some(Err(format!(
                        "wrong type for value; expected string; got {}",
                        other.type_name()
                    )));
                }
                _ => {
                    return Some(Err(format!(
                        "wrong number of args for Format: want 1 got {}",
                        args.len()
                    )));
                }
            },
            _ => return None,
        };
        Some(Ok(result))
    }

    fn format(&self) -> String {
        self.0.go_string()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.0.format("2006-01-02T15:04:05.999999999Z07:00"))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Unix seconds of Go's zero `time.Time` (January 1, year 1, UTC).
const ZERO_TIME_UNIX: i64 = -62_135_596_800;

fn time_value(t: GoTime) -> Value {
    Value::object(TimeObject(t))
}

fn as_time(value: &Value) -> Option<GoTime> {
    match value {
        Value::Object(object) => object
            .as_any()
            .downcast_ref::<TimeObject>()
            .map(|t| t.0.clone()),
        _ => None,
    }
}

/// A `time.Time` parameter.
fn time_arg(value: &Value) -> Result<GoTime, FuncError> {
    as_time(value).ok_or_else(|| FuncError::wrong_type("time.Time", value))
}

/// `dateInZone`'s date argument: a time, a Go int/int64 of Unix seconds,
/// anything else the current time.
fn date_or_now(value: &Value) -> GoTime {
    match value {
        Value::Int(n) | Value::Int64(n) => GoTime::from_unix(*n),
        other => as_time(other).unwrap_or_else(GoTime::now),
    }
}

fn zero_time() -> GoTime {
    GoTime::from_unix(ZERO_TIME_UNIX)
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("now", Arity::Exact(0), |_| Ok(time_value(GoTime::now())));
    map.add("date", Arity::Exact(2), |a| {
        Ok(Value::string(
            date_or_now(&a[1]).in_zone("Local").format(string(&a[0])?),
        ))
    });
    for name in ["dateInZone", "date_in_zone"] {
        map.add(name, Arity::Exact(3), |a| {
            let (layout, zone) = (string(&a[0])?, string(&a[2])?);
            Ok(Value::string(
                date_or_now(&a[1]).in_zone(zone).format(layout),
            ))
        });
    }
    map.add("htmlDate", Arity::Exact(1), |a| {
        Ok(Value::string(
            date_or_now(&a[0]).in_zone("Local").format("2006-01-02"),
        ))
    });
    map.add("htmlDateInZone", Arity::Exact(2), |a| {
        Ok(Value::string(
            date_or_now(&a[0])
                .in_zone(string(&a[1])?)
                .format("2006-01-02"),
        ))
    });
    for name in ["dateModify", "date_modify"] {
        map.add(name, Arity::Exact(2), |a| {
            let (modifier, date) = (string(&a[0])?, time_arg(&a[1])?);
            Ok(time_value(match parse_duration(modifier) {
                Ok(nanos) => date.add_nanos(nanos),
                Err(_) => date,
            }))
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        map.add(name, Arity::Exact(2), |a| {
            let (modifier, date) = (string(&a[0])?, time_arg(&a[1])?);
            let nanos = parse_duration(modifier).map_err(FuncError::new)?;
            Ok(time_value(date.add_nanos(nanos)))
        });
    }
    map.add("toDate", Arity::Exact(2), |a| {
        Ok(time_value(
            parse(string(&a[0])?, string(&a[1])?).unwrap_or_else(|_| zero_time()),
        ))
    });
    map.add("mustToDate", Arity::Exact(2), |a| {
        parse(string(&a[0])?, string(&a[1])?)
            .map(time_value)
            .map_err(FuncError::new)
    });
    map.add("unixEpoch", Arity::Exact(1), |a| {
        Ok(Value::string(time_arg(&a[0])?.unix.to_string()))
    });
    map.add("ago", Arity::Exact(1), |a| {
        let then = date_or_now(&a[0]);
        let elapsed = GoTime::now().unix_nanos() - then.unix_nanos();
        // time.Duration.Round(time.Second): halves away from zero.
        let rounded = (elapsed
            + if elapsed >= 0 {
                500_000_000
            } else {
                -500_000_000
            })
            / 1_000_000_000
            * 1_000_000_000;
        Ok(Value::string(format_duration(rounded)))
    });
    map.add("duration", Arity::Exact(1), |a| {
        let seconds = match &a[0] {
            Value::String(s) => crate::strconv::atoi(s).unwrap_or(0),
            Value::Int64(n) => *n,
            _ => 0,
        };
        // Go's `time.Duration(n) * time.Second` wraps around.
        Ok(Value::string(format_duration(i128::from(
            seconds.wrapping_mul(1_000_000_000),
        ))))
    });
    map.add("durationRound", Arity::Exact(1), |a| {
        let nanos: i128 = match &a[0] {
            Value::String(s) => parse_duration(s).unwrap_or(0),
            Value::Int64(n) => i128::from(*n),
            other => as_time(other).map_or(0, |t| GoTime::now().unix_nanos() - t.unix_nanos()),
        };
        Ok(Value::string(duration_round(nanos.unsigned_abs())))
    });
}

/// Sprig's `durationRound`: the largest whole unit strictly exceeded.
fn duration_round(u: u128) -> String {
    const SECOND: u128 = 1_000_000_000;
    let units: [(u128, &str); 6] = [
        (SECOND * 3600 * 24 * 365, "y"),
        (SECOND * 3600 * 24 * 30, "mo"),
        (SECOND * 3600 * 24, "d"),
        (SECOND * 3600, "h"),
        (SECOND * 60, "m"),
        (SECOND, "s"),
    ];
    units.iter().find(|(size, _)| u > *size).map_or_else(
        || "0s".to_owned(),
        |(size, suffix)| format!("{}{suffix}", u / size),
    )
}

#[cfg(test)]
mod tests {
    use super::duration_round;

    #[test]
    fn duration_round_picks_the_unit_exceeded() {
        assert_eq!(duration_round(7_800_000_000_000), "2h");
        assert_eq!(duration_round(3_600_000_000_000), "60m");
        assert_eq!(duration_round(0), "0s");
    }
}
