//! Go's `time` package as the date functions need it: instants with a
//! zone offset and Go's reference-layout formatting and parsing
//! (`2006-01-02 15:04:05.999999999 -0700 MST`). Durations are in
//! [`duration`](super::duration).
//!
//! Time zones: an instant carries the offset and abbreviation it is shown
//! in. Go's `Local` is taken to be UTC (what Helm sees in a container
//! without `TZ`); a named zone is read from the host's zone database as Go
//! reads it ([`zoneinfo`](super::zoneinfo)), UTC where that fails.

use std::fmt::Write as _;

/// An instant with the offset and zone name it is shown in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GoTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset east of UTC, seconds.
    pub offset: i32,
    /// Zone abbreviation (`UTC`), empty when unnamed.
    pub zone: String,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = u32::try_from(day_of_year - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Broken-down local time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    weekday: usize,
    year_day: u32,
}

impl GoTime {
    /// The current time in UTC.
    pub(crate) fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            unix: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            nanos: since.subsec_nanos(),
            offset: 0,
            zone: "UTC".to_owned(),
        }
    }

    /// `time.Unix(seconds, 0)` shown in UTC.
    pub(crate) fn from_unix(unix: i64) -> Self {
        Self {
            unix,
            nanos: 0,
            offset: 0,
            zone: "UTC".to_owned(),
        }
    }

    /// The same instant shown in the zone Go's `time.LoadLocation(name)`
    /// loads, or in UTC where it fails (Sprig's fallback); see
    /// [`zoneinfo`](super::zoneinfo).
    pub(crate) fn in_zone(&self, name: &str) -> Self {
        let (offset, zone) = super::zoneinfo::zone_at(name, self.unix)
            .map_or((0, "UTC".to_owned()), |at| (at.offset, at.abbreviation));
        Self {
            offset,
            zone,
            ..self.clone()
        }
    }

    fn civil(&self) -> Civil {
        let local = self.unix + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let secs = u32::try_from(local.rem_euclid(86_400)).unwrap_or(0);
        let (year, month, day) = civil_from_days(days);
        let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
        let year_day = u32::try_from(days - days_from_civil(year, 1, 1) + 1).unwrap_or(1);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            weekday,
            year_day,
        }
    }

    /// Year, month (1-12), day, hour, minute, second, weekday (0 = Sunday),
    /// day of the year, for the object's methods.
    pub(crate) fn parts(&self) -> (i64, u32, u32, u32, u32, u32, usize, u32) {
        let c = self.civil();
        (
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday, c.year_day,
        )
    }

    /// Go's `Time.Format(layout)`.
    pub(crate) fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, suffix) = next_chunk(rest);
            out.push_str(prefix);
            let Some(chunk) = chunk else { break };
            self.format_chunk(&mut out, &chunk, &c);
            rest = suffix;
        }
        out
    }

    fn format_chunk(&self, out: &mut String, chunk: &Chunk, c: &Civil) {
        let hour12 = match c.hour % 12 {
            0 => 12,
            h => h,
        };
        match chunk {
            Chunk::LongYear => {
                let _ = write!(out, "{:04}", c.year);
            }
            Chunk::Year => {
                let _ = write!(out, "{:02}", c.year.rem_euclid(100));
            }
            Chunk::LongMonth => out.push_str(MONTHS[c.month as usize - 1]),
            Chunk::Month => out.push_str(&MONTHS[c.month as usize - 1][..3]),
            Chunk::NumMonth => {
                let _ = write!(out, "{}", c.month);
            }
            Chunk::ZeroMonth => {
                let _ = write!(out, "{:02}", c.month);
            }
            Chunk::LongWeekDay => out.push_str(DAYS[c.weekday]),
            Chunk::WeekDay => out.push_str(&DAYS[c.weekday][..3]),
            Chunk::Day => {
                let _ = write!(out, "{}", c.day);
            }
            Chunk::UnderDay => {
                let _ = write!(out, "{:>2}", c.day);
            }
            Chunk::ZeroDay => {
                let _ = write!(out, "{:02}", c.day);
            }
            Chunk::UnderYearDay => {
                let _ = write!(out, "{:>3}", c.year_day);
            }
            Chunk::ZeroYearDay => {
                let _ = write!(out, "{:03}", c.year_day);
            }
            Chunk::Hour => {
                let _ = write!(out, "{:02}", c.hour);
            }
            Chunk::Hour12 => {
                let _ = write!(out, "{hour12}");
            }
            Chunk::ZeroHour12 => {
                let _ = write!(out, "{hour12:02}");
            }
            Chunk::Minute => {
                let _ = write!(out, "{}", c.minute);
            }
            Chunk::ZeroMinute => {
                let _ = write!(out, "{:02}", c.minute);
            }
            Chunk::Second => {
                let _ = write!(out, "{}", c.second);
            }
            Chunk::ZeroSecond => {
                let _ = write!(out, "{:02}", c.second);
            }
            Chunk::Pm(upper) => {
                let text = if c.hour >= 12 { "PM" } else { "AM" };
                out.push_str(&if *upper {
                    text.to_owned()
                } else {
                    text.to_lowercase()
                });
            }
            Chunk::ZoneName => {
                if self.zone.is_empty() {
                    let minutes = self.offset / 60;
                    out.push(if minutes < 0 { '-' } else { '+' });
                    let _ = write!(out, "{:02}{:02}", minutes.abs() / 60, minutes.abs() % 60);
                } else {
                    out.push_str(&self.zone);
                }
            }
            Chunk::Offset {
                iso,
                colon,
                minutes,
                seconds,
            } => {
                if *iso && self.offset == 0 {
                    out.push('Z');
                    return;
                }
                let total = self.offset.abs();
                out.push(if self.offset < 0 { '-' } else { '+' });
                let _ = write!(out, "{:02}", total / 3600);
                if *minutes {
                    if *colon {
                        out.push(':');
                    }
                    let _ = write!(out, "{:02}", total / 60 % 60);
                }
                if *seconds {
                    if *colon {
                        out.push(':');
                    }
                    let _ = write!(out, "{:02}", total % 60);
                }
            }
            Chunk::Fraction {
                separator,
                digits,
                trim,
            } => {
                let nanos = format!("{:09}", self.nanos);
                let mut shown = nanos[..(*digits).min(9)].to_owned();
                if *trim {
                    while shown.ends_with('0') {
                        shown.pop();
                    }
                    if shown.is_empty() {
                        return;
                    }
                }
                out.push(*separator);
                out.push_str(&shown);
            }
        }
    }

    /// Go's `Time.String()`.
    pub(crate) fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// Adds a Go duration in nanoseconds.
    pub(crate) fn add_nanos(&self, nanos: i128) -> Self {
        let total = i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos) + nanos;
        Self {
            unix: i64::try_from(total.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
            nanos: u32::try_from(total.rem_euclid(1_000_000_000)).unwrap_or(0),
            ..self.clone()
        }
    }

    /// Nanoseconds since the epoch.
    pub(crate) fn unix_nanos(&self) -> i128 {
        i128::from(self.unix) * 1_000_000_000 + i128::from(self.nanos)
    }
}

/// One layout element (Go's `std*` codes).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Chunk {
    LongYear,
    Year,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    Pm(bool),
    ZoneName,
    Offset {
        iso: bool,
        colon: bool,
        minutes: bool,
        seconds: bool,
    },
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

fn starts_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: the text before the first layout element, the
/// element, and the rest.
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    for i in 0..b.len() {
        let found = match b[i] {
            b'J' if at(i, "January") => Some((Chunk::LongMonth, 7)),
            b'J' if at(i, "Jan") && !starts_lower(&layout[i + 3..]) => Some((Chunk::Month, 3)),
            b'M' if at(i, "Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !starts_lower(&layout[i + 3..]) => Some((Chunk::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Chunk::ZoneName, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                match b[i + 1] {
                    b'1' => Chunk::ZeroMonth,
                    b'2' => Chunk::ZeroDay,
                    b'3' => Chunk::ZeroHour12,
                    b'4' => Chunk::ZeroMinute,
                    b'5' => Chunk::ZeroSecond,
                    _ => Chunk::Year,
                },
                2,
            )),
            b'0' if at(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'1' if at(i, "15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if at(i, "_2006") => {
                return (&layout[..=i], Some(Chunk::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => Some((Chunk::UnderDay, 2)),
            b'_' if at(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if at(i, "PM") => Some((Chunk::Pm(true), 2)),
            b'p' if at(i, "pm") => Some((Chunk::Pm(false), 2)),
            b'-' | b'Z' => {
                let iso = b[i] == b'Z';
                let forms: [(&str, bool, bool, bool); 5] = [
                    ("070000", false, true, true),
                    ("07:00:00", true, true, true),
                    ("0700", false, true, false),
                    ("07:00", true, true, false),
                    ("07", false, false, false),
                ];
                forms.iter().find(|(form, ..)| at(i + 1, form)).map(
                    |(form, colon, minutes, seconds)| {
                        (
                            Chunk::Offset {
                                iso,
                                colon: *colon,
                                minutes: *minutes,
                                seconds: *seconds,
                            },
                            form.len() + 1,
                        )
                    },
                )
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let digit = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == digit {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((
                        Chunk::Fraction {
                            separator: char::from(b[i]),
                            digits: j - i - 1,
                            trim: digit == b'9',
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

fn parse_number(value: &str, min: usize, max: usize) -> Option<(i64, &str)> {
    let digits = value
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if digits < min {
        return None;
    }
    Some((value[..digits].parse().ok()?, &value[digits..]))
}

fn lookup_name<'a>(value: &'a str, names: &[&str], abbreviated: bool) -> Option<(usize, &'a str)> {
    for (i, name) in names.iter().enumerate() {
        let name = if abbreviated { &name[..3] } else { name };
        if value.len() >= name.len() && value[..name.len()].eq_ignore_ascii_case(name) {
            return Some((i, &value[name.len()..]));
        }
    }
    None
}

/// Go's `time.Parse(layout, value)` in UTC (`ParseInLocation` with UTC as
/// Local), for the common layout elements.
///
/// # Errors
/// Go's `parsing time "V" as "L": cannot parse "REST" as "ELEMENT"`.
pub(crate) fn parse(layout: &str, value: &str) -> Result<GoTime, String> {
    let fail = |rest: &str, element: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            crate::fmt::quote_go(value),
            crate::fmt::quote_go(layout),
            crate::fmt::quote_go(rest),
            crate::fmt::quote_go(element)
        )
    };
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) =
        (0i64, 1i64, 1i64, 0i64, 0i64, 0i64);
    let (mut nanos, mut offset, mut pm, mut zone) = (0u32, 0i32, None, String::new());
    let mut rest_layout = layout;
    let mut rest = value;
    loop {
        let (prefix, chunk, suffix) = next_chunk(rest_layout);
        let element = &rest_layout[prefix.len()..rest_layout.len() - suffix.len()];
        let Some(stripped) = rest.strip_prefix(prefix) else {
            return Err(fail(rest, prefix));
        };
        rest = stripped;
        let Some(chunk) = chunk else {
            if !rest.is_empty() {
                return Err(format!(
                    "parsing time {}: extra text: {}",
                    crate::fmt::quote_go(value),
                    crate::fmt::quote_go(rest)
                ));
            }
            break;
        };
        let parsed: Option<&str> = match chunk {
            Chunk::LongYear => parse_number(rest, 4, 4).map(|(n, r)| {
                year = n;
                r
            }),
            Chunk::Year => parse_number(rest, 2, 2).map(|(n, r)| {
                year = if n >= 69 { 1900 + n } else { 2000 + n };
                r
            }),
            Chunk::LongMonth | Chunk::Month => lookup_name(rest, &MONTHS, chunk == Chunk::Month)
                .map(|(i, r)| {
                    month = i64::try_from(i).unwrap_or(0) + 1;
                    r
                }),
            Chunk::NumMonth | Chunk::ZeroMonth => {
                let min = if chunk == Chunk::ZeroMonth { 2 } else { 1 };
                parse_number(rest, min, 2).map(|(n, r)| {
                    month = n;
                    r
                })
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                lookup_name(rest, &DAYS, chunk == Chunk::WeekDay).map(|(_, r)| r)
            }
            Chunk::Day | Chunk::ZeroDay | Chunk::UnderDay => {
                let trimmed = if chunk == Chunk::UnderDay {
                    rest.strip_prefix(' ').unwrap_or(rest)
                } else {
                    rest
                };
                let min = if chunk == Chunk::ZeroDay { 2 } else { 1 };
                parse_number(trimmed, min, 2).map(|(n, r)| {
                    day = n;
                    r
                })
            }
            Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                parse_number(rest.trim_start_matches(' '), 1, 3).map(|(_, r)| r)
            }
            Chunk::Hour | Chunk::Hour12 | Chunk::ZeroHour12 => {
                let min = if chunk == Chunk::Hour12 { 1 } else { 2 };
                parse_number(rest, min, 2).map(|(n, r)| {
                    hour = n;
                    r
                })
            }
            Chunk::Minute | Chunk::ZeroMinute => {
                parse_number(rest, if chunk == Chunk::ZeroMinute { 2 } else { 1 }, 2).map(
                    |(n, r)| {
                        minute = n;
                        r
                    },
                )
            }
            Chunk::Second | Chunk::ZeroSecond => {
                parse_number(rest, if chunk == Chunk::ZeroSecond { 2 } else { 1 }, 2).map(
                    |(n, r)| {
                        second = n;
                        // Go accepts a fraction after seconds even if the
                        // layout has none.
                        if let Some(frac) = r
                            .strip_prefix('.')
                            .filter(|f| f.starts_with(|c: char| c.is_ascii_digit()))
                            && !matches!(next_chunk(suffix).1, Some(Chunk::Fraction { .. }))
                        {
                            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
                            nanos = fraction_nanos(&frac[..digits]);
                            return &frac[digits..];
                        }
                        r
                    },
                )
            }
            Chunk::Pm(_) => {
                let head = rest.get(..2).unwrap_or("");
                match head.to_ascii_uppercase().as_str() {
                    "PM" => {
                        pm = Some(true);
                        Some(&rest[2..])
                    }
                    "AM" => {
                        pm = Some(false);
                        Some(&rest[2..])
                    }
                    _ => None,
                }
            }
            Chunk::ZoneName => {
                let len = rest.bytes().take_while(u8::is_ascii_uppercase).count();
                if len >= 3 {
                    zone = rest[..len].to_owned();
                    Some(&rest[len..])
                } else {
                    None
                }
            }
            Chunk::Offset {
                iso,
                colon,
                minutes,
                seconds,
            } => {
                if iso && rest.starts_with('Z') {
                    Some(&rest[1..])
                } else {
                    parse_offset(rest, colon, minutes, seconds).map(|(o, r)| {
                        offset = o;
                        r
                    })
                }
            }
            Chunk::Fraction {
                separator,
                digits,
                trim,
            } => {
                if let Some(frac) = rest.strip_prefix(separator) {
                    let available = frac.bytes().take_while(u8::is_ascii_digit).count();
                    let take = if trim { available } else { digits };
                    if available < take {
                        None
                    } else {
                        nanos = fraction_nanos(&frac[..take]);
                        Some(&frac[take..])
                    }
                } else if trim {
                    Some(rest)
                } else {
                    None
                }
            }
        };
        let Some(after) = parsed else {
            return Err(fail(rest, element));
        };
        rest = after;
        rest_layout = suffix;
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let month_u = u32::try_from(month).unwrap_or(0);
    let day_u = u32::try_from(day).unwrap_or(0);
    let days_in_month = match month_u {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&month_u)
        || day_u < 1
        || day_u > days_in_month
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(format!(
            "parsing time {}: day out of range",
            crate::fmt::quote_go(value)
        ));
    }
    let days = days_from_civil(year, month_u, day_u);
    let unix = days * 86_400 + hour * 3600 + minute * 60 + second - i64::from(offset);
    if zone.is_empty() && offset == 0 {
        zone = "UTC".to_owned();
    }
    Ok(GoTime {
        unix,
        nanos,
        offset,
        zone,
    })
}

fn fraction_nanos(digits: &str) -> u32 {
    let mut padded: String = digits.chars().take(9).collect();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().unwrap_or(0)
}

fn parse_offset(rest: &str, colon: bool, minutes: bool, seconds: bool) -> Option<(i32, &str)> {
    let sign = match rest.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, mut r) = parse_number(&rest[1..], 2, 2)?;
    let mut total = hours * 3600;
    for (wanted, scale) in [(minutes, 60), (seconds, 1)] {
        if !wanted {
            continue;
        }
        if colon {
            r = r.strip_prefix(':')?;
        }
        let (n, after) = parse_number(r, 2, 2)?;
        total += n * scale;
        r = after;
    }
    Some((sign * i32::try_from(total).ok()?, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_go_layouts() {
        let t =
            parse("2006-01-02 15:04:05", "2020-03-04 17:05:09").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.format("2006-01-02T15:04:05Z07:00"),
            "2020-03-04T17:05:09Z"
        );
        assert_eq!(
            t.format("Mon Jan _2 3:04PM 06 -0700 MST .000"),
            "Wed Mar  4 5:05PM 20 +0000 UTC .000"
        );
        assert_eq!(t.format("January 2, 2006 002"), "March 4, 2020 064");
        assert_eq!(t.go_string(), "2020-03-04 17:05:09 +0000 UTC");
        let with_offset = parse("2006-01-02T15:04:05-07:00", "2020-01-01T00:00:00+02:00")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with_offset.unix, 1_577_829_600);
        assert!(parse("2006-01-02", "2020-13-01").is_err());
        assert!(parse("2006-01-02", "x").is_err());
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 59, 18_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
