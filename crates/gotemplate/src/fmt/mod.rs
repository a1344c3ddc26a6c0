//! Go's `fmt` printing of template values: `Sprint`, `Sprintln`, `Sprintf`.
//!
//! Templates print every action's value with `fmt.Fprint`, and charts build
//! names and annotations with `printf`, so Helm's output is Go's `fmt`
//! output: `map[a:1 b:2]`, `[1 2 3]`, `<nil>`, `1e+06`, and the
//! `%!d(string=x)` error forms. This module owns those rules.

mod float;
mod printf;
mod quote;

pub(crate) use float::format_float;
pub use printf::sprintf;
pub(crate) use quote::{is_print, quote_bytes, quote_rune, unicode_hash, unquote_char};
pub use quote::{quote_go, unquote_go};

use crate::budget::MAX_STRING_BYTES;
use crate::raw_string::{first_runes, go_string, rune_count, rune_view};
use crate::value::Value;

/// What `fmt` prints into: bytes, as Go's printer writes them, because an
/// operand may be a Go string that is not UTF-8 (see
/// [`raw_string`](crate::raw_string)); everything else it writes is UTF-8.
///
/// Once it holds more than [`MAX_STRING_BYTES`] it takes nothing more
/// and printers stop early ([`GoText::is_full`]): the engine then refuses
/// the over-long result, and a value that repeats or nests big parts
/// costs at most one bound's worth of memory and work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoText(Vec<u8>);

impl GoText {
    /// An empty text with room for `capacity` bytes.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Appends UTF-8 text.
    pub fn push_str(&mut self, text: &str) {
        self.push_bytes(text.as_bytes());
    }

    /// Appends one character.
    pub fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Appends a Go string's bytes, UTF-8 or not.
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        if !self.is_full() {
            self.0.extend_from_slice(bytes);
        }
    }

    /// Whether the text is past [`MAX_STRING_BYTES`] and takes no more.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.0.len() > MAX_STRING_BYTES
    }

    /// The bytes printed so far.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The printed text as a Go string value.
    #[must_use]
    pub fn into_value(self) -> Value {
        go_string(self.0)
    }

    /// The printed text, each byte of a bad sequence as U+FFFD (Go's rune
    /// view), for callers that need text.
    #[must_use]
    pub fn into_string(self) -> String {
        String::from_utf8(self.0).unwrap_or_else(|not_utf8| rune_view(not_utf8.as_bytes()))
    }
}

impl PartialEq<&str> for GoText {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Deepest nesting printed; beyond it a self-containing value is cut.
pub(crate) const MAX_DEPTH: usize = 512;

/// The flags, width and precision of one verb.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Flags {
    pub minus: bool,
    pub plus: bool,
    pub sharp: bool,
    pub space: bool,
    pub zero: bool,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    /// `%#v`: Go-syntax representation.
    pub sharp_v: bool,
}

impl Flags {
    /// Pads `s` to the width, on the left unless `-`; with zeros when `0`.
    pub(crate) fn pad(&self, out: &mut GoText, s: &str) {
        self.pad_bytes(out, s.as_bytes());
    }

    /// [`pad`](Self::pad) for a Go string's bytes; the width counts runes
    /// as Go does.
    pub(crate) fn pad_bytes(&self, out: &mut GoText, s: &[u8]) {
        let Some(width) = self.width else {
            out.push_bytes(s);
            return;
        };
        let len = rune_count(s);
        if len >= width {
            out.push_bytes(s);
            return;
        }
        let fill = if self.zero && !self.minus { '0' } else { ' ' };
        let padding: String = std::iter::repeat_n(fill, width - len).collect();
        if self.minus {
            out.push_bytes(s);
            out.push_str(&padding);
        } else {
            out.push_str(&padding);
            out.push_bytes(s);
        }
    }

    fn without_zero(self) -> Self {
        Self {
            zero: false,
            ..self
        }
    }
}

/// Go's `fmt.Sprint`: operands printed with `%v`, a space between two
/// operands when neither is a string.
#[must_use]
pub fn sprint(args: &[Value]) -> GoText {
    let mut out = GoText::default();
    let mut previous_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_) | Value::Raw(_));
        if i > 0 && !is_string && !previous_string {
            out.push(' ');
        }
        print_value(&mut out, arg, 'v', &Flags::default(), 0);
        previous_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`: operands with `%v`, always space-separated, and a
/// final newline.
#[must_use]
pub fn sprintln(args: &[Value]) -> GoText {
    let mut out = GoText::default();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_value(&mut out, arg, 'v', &Flags::default(), 0);
    }
    out.push('\n');
    out
}

/// One value with `%v`, as text (a Go string that is not UTF-8 in its
/// rune view; [`print_value_into`] keeps its bytes).
#[must_use]
pub fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        Value::Raw(raw) => raw.runes().to_owned(),
        other => {
            let mut out = GoText::default();
            print_value(&mut out, other, 'v', &Flags::default(), 0);
            out.into_string()
        }
    }
}

/// Appends `value` printed with `%v` to `out`: what a template action
/// writes.
pub fn print_value_into(out: &mut GoText, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Raw(raw) => out.push_bytes(raw.bytes()),
        other => print_value(out, other, 'v', &Flags::default(), 0),
    }
}

/// `%!verb(type=value)`, Go's report of a verb that does not fit its operand.
/// The value is printed with `%v` under the verb's own flags, as Go does
/// (`%5d` of "ab" gives `%!d(string=   ab)`).
pub(crate) fn bad_verb(out: &mut GoText, value: &Value, verb: char, flags: &Flags) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if let Value::Nil = value {
        out.push_str("<nil>");
    } else {
        out.push_str(&value.type_name());
        out.push('=');
        // Go prints the operand under the verb's flags, `+` and `#`
        // included (`%+d` of 2.5 gives `%!d(float64=+2.5)`).
        print_value(out, value, 'v', flags, 0);
    }
    out.push(')');
}

/// Go's `printArg`/`printValue`: `value` under `verb`; `depth` > 0 inside
/// a slice or map, where nil prints as `<nil>` whatever the verb.
pub(crate) fn print_value(
    out: &mut GoText,
    value: &Value,
    verb: char,
    flags: &Flags,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        // Only a map or list that contains itself nests this deep; Go
        // would recurse until its stack limit kills the process.
        out.push_str("...");
        return;
    }
    if verb == 'T' {
        flags.pad(out, &value.type_name());
        return;
    }
    if verb == 'v' && flags.sharp_v {
        if let Value::Float(f) = value {
            // `%#v` of a float64 is its `%v`, precision and all.
            print_float(out, value, *f, 'v', flags);
            return;
        }
        let mut text = GoText::default();
        go_syntax(&mut text, value, depth);
        flags.pad_bytes(out, text.as_bytes());
        return;
    }
    match value {
        Value::Nil => {
            if depth > 0 {
                // An element's nil is written as it is, never padded.
                out.push_str("<nil>");
            } else if verb == 'v' {
                flags.pad(out, "<nil>");
            } else {
                bad_verb(out, value, verb, flags);
            }
        }
        Value::Bool(b) => match verb {
            't' | 'v' => flags.pad(out, if *b { "true" } else { "false" }),
            _ => bad_verb(out, value, verb, flags),
        },
        Value::Int(i) | Value::Int64(i) => print_integer(out, value, *i, verb, flags),
        Value::Float(f) => print_float(out, value, *f, verb, flags),
        Value::String(s) => print_string(out, value, s.as_bytes(), verb, flags),
        Value::Raw(raw) => print_string(out, value, raw.bytes(), verb, flags),
        Value::Bytes(bytes) => match verb {
            's' | 'q' | 'x' | 'X' => print_string(out, value, bytes, verb, flags),
            _ => {
                out.push('[');
                for (i, byte) in bytes.iter().enumerate() {
                    if out.is_full() {
                        return;
                    }
                    if i > 0 {
                        out.push(' ');
                    }
                    let byte = Value::Int(i64::from(*byte));
                    print_value(out, &byte, verb, flags, depth + 1);
                }
                out.push(']');
            }
        },
        Value::List(list) => {
            out.push('[');
            for (i, item) in list.items().iter().enumerate() {
                if out.is_full() {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                print_value(out, item, verb, flags, depth + 1);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (key, item)) in map.read().iter().enumerate() {
                if out.is_full() {
                    return;
                }
                if i > 0 {
                    out.push(' ');
                }
                print_value(out, &Value::string(key.as_str()), verb, flags, depth + 1);
                out.push(':');
                print_value(out, item, verb, flags, depth + 1);
            }
            out.push(']');
        }
        Value::Object(object) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => {
                let text = object.format();
                print_string(
                    out,
                    &Value::string(text.as_str()),
                    text.as_bytes(),
                    verb,
                    flags,
                );
            }
            'd' | 'b' | 'o' | 'O' | 'c' | 'U' if object.as_int().is_some() => {
                let number = object.as_int().unwrap_or_default();
                print_value(out, &Value::Int(number), verb, flags, depth);
            }
            _ => bad_verb(out, value, verb, flags),
        },
    }
}

/// Go's `%#v`: values as Go source (`[]interface {}{1, "a"}`,
/// `map[string]interface {}{"a":1}`, quoted strings).
fn go_syntax(out: &mut GoText, value: &Value, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("...");
        return;
    }
    match value {
        Value::Nil if depth > 0 => out.push_str("interface {}(nil)"),
        Value::Nil => out.push_str("<nil>"),
        Value::String(s) => out.push_str(&quote_go(s)),
        Value::Raw(raw) => out.push_str(&quote::quote_bytes(raw.bytes(), false)),
        Value::Bytes(bytes) => {
            out.push_str("[]byte{");
            for (i, byte) in bytes.iter().enumerate() {
                if out.is_full() {
                    return;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("0x{byte:x}"));
            }
            out.push('}');
        }
        Value::List(list) => {
            out.push_str(&value.type_name());
            out.push('{');
            for (i, item) in list.items().iter().enumerate() {
                if out.is_full() {
                    return;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                go_syntax(out, item, depth + 1);
            }
            out.push('}');
        }
        Value::Map(map) => {
            out.push_str(&value.type_name());
            out.push('{');
            for (i, (key, item)) in map.read().iter().enumerate() {
                if out.is_full() {
                    return;
                }
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote_go(key));
                out.push(':');
                go_syntax(out, item, depth + 1);
            }
            out.push('}');
        }
        // A named integer has no `GoString`: `%#v` shows the number.
        Value::Object(object) if object.as_int().is_some() => {
            let number = object.as_int().unwrap_or_default();
            out.push_str(&number.to_string());
        }
        other => print_value(out, other, 'v', &Flags::default(), depth),
    }
}

fn print_integer(out: &mut GoText, value: &Value, i: i64, verb: char, flags: &Flags) {
    let (base, upper) = match verb {
        'v' | 'd' => (10, false),
        'b' => (2, false),
        'o' | 'O' => (8, false),
        'x' => (16, false),
        'X' => (16, true),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            flags.pad(out, &c.to_string());
            return;
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            flags.pad(out, &quote_rune(c, flags.plus));
            return;
        }
        'U' => {
            // Go formats the integer as a uint64: -1 is U+FFFFFFFFFFFFFFFF.
            let code = u64::from_ne_bytes(i.to_ne_bytes());
            let digits = flags.precision.unwrap_or(4).max(4);
            let mut text = format!("U+{code:0digits$X}");
            if flags.sharp
                && let Some(c) = u32::try_from(code).ok().and_then(char::from_u32)
                && quote::is_print(c)
            {
                text.push_str(&format!(" '{c}'"));
            }
            flags.pad(out, &text);
            return;
        }
        _ => {
            bad_verb(out, value, verb, flags);
            return;
        }
    };
    let negative = i < 0;
    let magnitude = i.unsigned_abs();
    let mut digits = match (base, upper) {
        (2, _) => format!("{magnitude:b}"),
        (8, _) => format!("{magnitude:o}"),
        (16, false) => format!("{magnitude:x}"),
        (16, true) => format!("{magnitude:X}"),
        _ => magnitude.to_string(),
    };
    // Go's two ways to ask for leading zeros: precision, or the 0 flag
    // with a width (the sign keeps its place in front).
    let mut min_digits = 0;
    if let Some(precision) = flags.precision {
        if precision == 0 && magnitude == 0 {
            flags.without_zero().pad(out, "");
            return;
        }
        min_digits = precision;
    } else if flags.zero
        && !flags.minus
        && let Some(width) = flags.width
    {
        min_digits = width;
        if negative || flags.plus || flags.space {
            min_digits = min_digits.saturating_sub(1);
        }
    }
    if digits.len() < min_digits {
        digits = "0".repeat(min_digits - digits.len()) + &digits;
    }
    let mut prefix = String::new();
    if negative {
        prefix.push('-');
    } else if flags.plus {
        prefix.push('+');
    } else if flags.space {
        prefix.push(' ');
    }
    if flags.sharp {
        match base {
            2 => prefix.push_str("0b"),
            8 if !digits.starts_with('0') => prefix.push('0'),
            16 => prefix.push_str(if upper { "0X" } else { "0x" }),
            _ => {}
        }
    }
    if verb == 'O' {
        prefix.push_str("0o");
    }
    flags.without_zero().pad(out, &(prefix + &digits));
}

/// Go's `fmtFloat`: the number under `verb`, a `+` or space sign when
/// asked, `#` forcing a point and keeping trailing zeros, zero padding
/// after the sign, infinities and NaN never zero-padded.
fn print_float(out: &mut GoText, value: &Value, f: f64, verb: char, flags: &Flags) {
    let default_precision = match verb {
        'v' | 'b' | 'g' | 'G' | 'x' | 'X' => None,
        'e' | 'E' | 'f' | 'F' => Some(6),
        _ => {
            bad_verb(out, value, verb, flags);
            return;
        }
    };
    let precision = flags.precision.or(default_precision);
    let text = match verb {
        'v' => format_float(f, 'g', precision),
        'b' => float::format_binary(f),
        'x' | 'X' => float::format_hex(f, verb == 'X', precision),
        'F' => format_float(f, 'f', precision),
        _ => format_float(f, verb, precision),
    };
    // The number with its sign always written, as Go builds it.
    let mut num = match text.as_bytes().first() {
        Some(b'-' | b'+') => text,
        _ => format!("+{text}"),
    };
    if flags.space && num.starts_with('+') && !flags.plus {
        num.replace_range(..1, " ");
    }
    if !f.is_finite() {
        if f.is_nan() && !flags.space && !flags.plus {
            num.remove(0);
        }
        flags.without_zero().pad(out, &num);
        return;
    }
    if flags.sharp && verb != 'b' {
        num = with_point_kept(num, verb, precision);
    }
    if flags.plus || !num.starts_with('+') {
        if flags.zero
            && !flags.minus
            && let Some(width) = flags.width
            && width > num.len()
        {
            out.push_str(&num[..1]);
            out.push_str(&"0".repeat(width - num.len()));
            out.push_str(&num[1..]);
            return;
        }
        flags.pad(out, &num);
    } else {
        flags.pad(out, &num[1..]);
    }
}

/// `#` on a float: a decimal point always, and for `%v`, `%g`, `%G` and
/// (Go's quirk) `%x` the significant digits padded with zeros to the
/// precision (6 unless given); `num` starts with its sign.
fn with_point_kept(num: String, verb: char, precision: Option<usize>) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => precision.map_or(6, |p| i64::try_from(p).unwrap_or(i64::MAX)),
        _ => 0,
    };
    let (mut body, mut tail) = (num, String::new());
    let mut has_point = false;
    let mut seen_nonzero = false;
    for (at, c) in body.char_indices().skip(1) {
        match c {
            '.' => has_point = true,
            'p' | 'P' => {
                tail = body[at..].to_owned();
                break;
            }
            'e' | 'E' if verb != 'x' && verb != 'X' => {
                tail = body[at..].to_owned();
                break;
            }
            _ => {
                seen_nonzero |= c != '0';
                if seen_nonzero {
                    digits -= 1;
                }
            }
        }
    }
    body.truncate(body.len() - tail.len());
    if !has_point {
        if body.len() == 2 && body.ends_with('0') {
            digits -= 1;
        }
        body.push('.');
    }
    while digits > 0 {
        body.push('0');
        digits -= 1;
    }
    body + &tail
}

/// A Go string (or `[]byte`) under `%s`, `%v`, `%q`, `%x`, `%X`: its bytes
/// are printed as they are, UTF-8 or not, as Go does.
fn print_string(out: &mut GoText, value: &Value, s: &[u8], verb: char, flags: &Flags) {
    let truncated = match flags.precision {
        Some(precision) if verb != 'x' && verb != 'X' => first_runes(s, precision),
        _ => s,
    };
    match verb {
        'v' | 's' => flags.pad_bytes(out, truncated),
        'q' => {
            let quoted = match std::str::from_utf8(truncated) {
                Ok(text) if flags.sharp && quote::can_backquote(text) => format!("`{text}`"),
                _ => quote::quote_bytes(truncated, flags.plus),
            };
            flags.pad(out, &quoted);
        }
        'x' | 'X' => {
            let bytes = match flags.precision {
                Some(p) => &s[..p.min(s.len())],
                None => s,
            };
            let mut hex = String::new();
            for (i, byte) in bytes.iter().enumerate() {
                if flags.space && i > 0 {
                    hex.push(' ');
                }
                if flags.sharp && (flags.space || i == 0) {
                    hex.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    hex.push_str(&format!("{byte:02x}"));
                } else {
                    hex.push_str(&format!("{byte:02X}"));
                }
            }
            flags.pad(out, &hex);
        }
        _ => bad_verb(out, value, verb, flags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        let args = [
            Value::Int(1),
            Value::Int(2),
            Value::from("a"),
            Value::Int(3),
            Value::from("b"),
        ];
        assert_eq!(sprint(&args), "1 2a3b");
        assert_eq!(sprintln(&[Value::from("a"), Value::Int(1)]), "a 1\n");
    }

    #[test]
    fn composites_print_like_go() {
        let mut entries = BTreeMap::new();
        entries.insert("b".to_owned(), Value::Float(2.0));
        entries.insert(
            "a".to_owned(),
            Value::list(vec![Value::Nil, Value::from("x")]),
        );
        assert_eq!(format_value(&Value::map(entries)), "map[a:[<nil> x] b:2]");
        assert_eq!(format_value(&Value::Float(1e6)), "1e+06");
        assert_eq!(format_value(&Value::Nil), "<nil>");
        assert_eq!(
            format_value(&Value::Bytes(b"hi".to_vec().into())),
            "[104 105]"
        );
    }
}
