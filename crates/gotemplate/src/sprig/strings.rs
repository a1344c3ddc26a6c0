//! String functions: trimming, case, substrings, quoting, indentation,
//! splitting and joining, `wrap`/`abbrev`/`initials` (Masterminds/goutils
//! semantics), and the random-string functions.
//!
//! Parameters Sprig declares as Go `string` or `int` are checked the way
//! Go's reflection does (`trunc .Values.n "x"` with a float fails), those
//! it declares `interface{}` are converted with [`to_string`].

use std::collections::BTreeMap;

use super::casing::{go_to_lower, go_to_upper, lower, upper};
use crate::args::{int, string, string_bytes, to_go_string, to_string};
use crate::budget::{check_expansion, check_list_len, check_string_len};
use crate::error::FuncError;
use crate::fmt::GoText;
use crate::funcs::{Arity, FuncMap, FuncResult};
use crate::raw_string::go_string;
use crate::value::{ListKind, Map, Value};

fn s(v: impl Into<std::sync::Arc<str>>) -> FuncResult {
    Ok(Value::String(v.into()))
}

fn usize_of(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Byte-slices `text` like Go's `s[a:b]`; a cut inside a character gives
/// a Go string that is not UTF-8, as in Go.
fn byte_slice(text: &[u8], from: usize, to: usize) -> Value {
    go_string(text[from.min(text.len())..to.min(text.len())].to_vec())
}

/// [`byte_slice`] of text as text (`wrap`'s pieces), a cut character read
/// as Go's rune view.
fn text_slice(text: &str, from: usize, to: usize) -> String {
    crate::raw_string::rune_view(&text.as_bytes()[from.min(text.len())..to.min(text.len())])
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("hello", Arity::Exact(0), |_| s("Hello!"));
    map.add("trim", Arity::Exact(1), |a| {
        s(string(&a[0])?.trim_matches(char::is_whitespace))
    });
    map.add("upper", Arity::Exact(1), |a| s(go_to_upper(string(&a[0])?)));
    map.add("lower", Arity::Exact(1), |a| s(go_to_lower(string(&a[0])?)));
    map.add("title", Arity::Exact(1), |a| s(title(string(&a[0])?)));
    map.add("untitle", Arity::Exact(1), |a| {
        s(uncapitalize(string(&a[0])?))
    });
    map.add("substr", Arity::Exact(3), |a| {
        let (start, end, text) = (int(&a[0])?, int(&a[1])?, string_bytes(&a[2])?);
        substring(start, end, text)
    });
    map.add("repeat", Arity::Exact(2), |a| {
        let (count, text) = (int(&a[0])?, string(&a[1])?);
        if count < 0 {
            return Err(FuncError::new("strings: negative Repeat count"));
        }
        check_string_len(usize_of(count).saturating_mul(text.len()))?;
        s(text.repeat(usize_of(count)))
    });
    for name in ["trimall", "trimAll"] {
        map.add(name, Arity::Exact(2), |a| {
            let cutset: Vec<char> = string(&a[0])?.chars().collect();
            s(string(&a[1])?.trim_matches(cutset.as_slice()))
        });
    }
    map.add("trimSuffix", Arity::Exact(2), |a| {
        let (suffix, text) = (string(&a[0])?, string(&a[1])?);
        s(text.strip_suffix(suffix).unwrap_or(text))
    });
    map.add("trimPrefix", Arity::Exact(2), |a| {
        let (prefix, text) = (string(&a[0])?, string(&a[1])?);
        s(text.strip_prefix(prefix).unwrap_or(text))
    });
    map.add("nospace", Arity::Exact(1), |a| {
        s(string(&a[0])?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>())
    });
    map.add("initials", Arity::Exact(1), |a| s(initials(string(&a[0])?)));
    map.add("swapcase", Arity::Exact(1), |a| s(swapcase(string(&a[0])?)));
    map.add("wrap", Arity::Exact(2), |a| {
        let (width, text) = (int(&a[0])?, string(&a[1])?);
        check_string_len(wrapped_len(text, width, "\n"))?;
        s(wrap(text, width, "\n", false))
    });
    map.add("wrapWith", Arity::Exact(3), |a| {
        let (width, newline, text) = (int(&a[0])?, string(&a[1])?, string(&a[2])?);
        check_string_len(wrapped_len(text, width, newline))?;
        s(wrap(text, width, newline, true))
    });
    map.add("contains", Arity::Exact(2), |a| {
        Ok(Value::Bool(string(&a[1])?.contains(string(&a[0])?)))
    });
    map.add("hasPrefix", Arity::Exact(2), |a| {
        Ok(Value::Bool(string(&a[1])?.starts_with(string(&a[0])?)))
    });
    map.add("hasSuffix", Arity::Exact(2), |a| {
        Ok(Value::Bool(string(&a[1])?.ends_with(string(&a[0])?)))
    });
    map.add("quote", Arity::AtLeast(0), |a| {
        let mut quoted: Vec<String> = Vec::new();
        let mut total = 0usize;
        for v in a.iter().filter(|v| !matches!(v, Value::Nil)) {
            let text = match to_go_string(v) {
                Value::Raw(raw) => crate::fmt::quote_bytes(raw.bytes(), false),
                text => crate::fmt::quote_go(text.as_str().unwrap_or_default()),
            };
            total = total.saturating_add(text.len() + 1);
            check_string_len(total)?;
            quoted.push(text);
        }
        s(quoted.join(" "))
    });
    map.add("squote", Arity::AtLeast(0), |a| {
        let mut quoted = GoText::default();
        for (i, v) in a.iter().filter(|v| !matches!(v, Value::Nil)).enumerate() {
            if i > 0 {
                quoted.push(' ');
            }
            quoted.push('\'');
            crate::fmt::print_value_into(&mut quoted, v);
            quoted.push('\'');
        }
        Ok(quoted.into_value())
    });
    map.add("cat", Arity::AtLeast(0), |a| {
        let mut joined = GoText::default();
        for (i, v) in a.iter().filter(|v| !matches!(v, Value::Nil)).enumerate() {
            if i > 0 {
                joined.push(' ');
            }
            crate::fmt::print_value_into(&mut joined, v);
        }
        Ok(joined.into_value())
    });
    map.add("indent", Arity::Exact(2), |a| {
        indent(int(&a[0])?, &a[1], "")
    });
    map.add("nindent", Arity::Exact(2), |a| {
        indent(int(&a[0])?, &a[1], "\n")
    });
    map.add("replace", Arity::Exact(3), |a| {
        let (old, new) = (string(&a[0])?, string(&a[1])?);
        check_string_len(replaced_len(string_bytes(&a[2])?, old, new))?;
        match &a[2] {
            Value::Raw(raw) if !old.is_empty() => {
                Ok(go_string(replace_bytes(raw.bytes(), old, new)))
            }
            text => s(go_replace_all(string(text)?, old, new)),
        }
    });
    map.add("plural", Arity::Exact(3), |a| {
        let (one, many, count) = (string(&a[0])?, string(&a[1])?, int(&a[2])?);
        s(if count == 1 { one } else { many })
    });
    map.add("toString", Arity::Exact(1), |a| Ok(to_go_string(&a[0])));
    map.add("trunc", Arity::Exact(2), |a| {
        let (count, text) = (int(&a[0])?, string_bytes(&a[1])?);
        let len = i64::try_from(text.len()).unwrap_or(i64::MAX);
        Ok(if count < 0 && len + count > 0 {
            byte_slice(text, usize_of(len + count), text.len())
        } else if count >= 0 && len > count {
            byte_slice(text, 0, usize_of(count))
        } else {
            a[1].clone()
        })
    });
    map.add("abbrev", Arity::Exact(2), |a| {
        let (width, text) = (int(&a[0])?, string(&a[1])?);
        s(if width < 4 {
            text.to_owned()
        } else {
            abbreviate(text, 0, width)
        })
    });
    map.add("abbrevboth", Arity::Exact(3), |a| {
        let (left, right, text) = (int(&a[0])?, int(&a[1])?, string(&a[2])?);
        s(if right < 4 || left > 0 && right < 7 {
            text.to_owned()
        } else {
            abbreviate(text, left, right)
        })
    });
    map.add("split", Arity::Exact(2), |a| {
        let (sep, text) = (string(&a[0])?, string(&a[1])?);
        check_list_len(split_count(text, sep))?;
        Ok(indexed_parts(go_split(text, sep, -1)))
    });
    map.add("splitn", Arity::Exact(3), |a| {
        let (sep, n, text) = (string(&a[0])?, int(&a[1])?, string(&a[2])?);
        let most = if n < 0 { usize::MAX } else { usize_of(n) };
        check_list_len(split_count(text, sep).min(most))?;
        Ok(indexed_parts(go_split(text, sep, n)))
    });
    map.add("splitList", Arity::Exact(2), |a| {
        let (sep, text) = (string(&a[0])?, string(&a[1])?);
        check_list_len(split_count(text, sep))?;
        Ok(Value::string_list(go_split(text, sep, -1)))
    });
    // These copy every element as text: a list that repeats a big string
    // is refused before it is copied.
    map.add("toStrings", Arity::Exact(1), |a| {
        check_expansion(&a[0])?;
        Ok(Value::string_list(str_slice(&a[0])))
    });
    map.add("join", Arity::Exact(2), |a| {
        let sep = string(&a[0])?;
        check_expansion(&a[1])?;
        let items = str_slice(&a[1]);
        let total: usize = items.iter().map(String::len).sum();
        check_string_len(total.saturating_add(items.len().saturating_mul(sep.len())))?;
        s(items.join(sep))
    });
    map.add("sortAlpha", Arity::Exact(1), |a| {
        check_expansion(&a[0])?;
        let mut items = match &a[0] {
            Value::List(_) | Value::Bytes(_) => str_slice(&a[0]),
            other => vec![to_string(other)],
        };
        items.sort();
        Ok(Value::string_list(items))
    });
    map.add("atoi", Arity::Exact(1), |a| {
        let text = string(&a[0])?;
        Ok(Value::Int(crate::strconv::atoi(text).unwrap_or(0)))
    });
}

/// Sprig's `indent` (after `prefix`, which `nindent` sets to a line
/// break). A Go string that is not UTF-8 is indented as bytes and stays one.
fn indent(spaces: i64, value: &Value, prefix: &str) -> FuncResult {
    let text = string_bytes(value)?;
    if spaces < 0 {
        return Err(FuncError::new("strings: negative Repeat count"));
    }
    let lines = memchr::memchr_iter(b'\n', text).count() + 1;
    check_string_len(
        lines
            .saturating_mul(usize_of(spaces))
            .saturating_add(text.len() + prefix.len()),
    )?;
    let pad = " ".repeat(usize_of(spaces));
    let Value::Raw(raw) = value else {
        let text = string(value)?;
        return s(format!(
            "{prefix}{pad}{}",
            text.replace('\n', &format!("\n{pad}"))
        ));
    };
    let mut out = prefix.as_bytes().to_vec();
    out.extend_from_slice(pad.as_bytes());
    let mut line_start = 0;
    for line_end in memchr::memchr_iter(b'\n', raw.bytes()) {
        out.extend_from_slice(&raw.bytes()[line_start..=line_end]);
        out.extend_from_slice(pad.as_bytes());
        line_start = line_end + 1;
    }
    out.extend_from_slice(&raw.bytes()[line_start..]);
    Ok(go_string(out))
}

/// Sprig's `substr`: `s[:end]` for a negative start, `s[start:]` for a
/// negative or too large end, else `s[start:end]`; out-of-range slices
/// panic in Go, reported here as Go's runtime error.
fn substring(start: i64, end: i64, text: &[u8]) -> FuncResult {
    let len = text.len();
    let out_of_range = |a: i64, b: i64| {
        FuncError::new(format!(
            "runtime error: slice bounds out of range [{a}:{b}]"
        ))
    };
    if start < 0 {
        if end < 0 || usize_of(end) > len {
            return Err(FuncError::new(format!(
                "runtime error: slice bounds out of range [:{end}] with length {len}"
            )));
        }
        return Ok(byte_slice(text, 0, usize_of(end)));
    }
    if end < 0 || usize_of(end) > len {
        if usize_of(start) > len {
            return Err(FuncError::new(format!(
                "runtime error: slice bounds out of range [{start}:{len}]"
            )));
        }
        return Ok(byte_slice(text, usize_of(start), len));
    }
    if start > end {
        return Err(out_of_range(start, end));
    }
    Ok(byte_slice(text, usize_of(start), usize_of(end)))
}

/// The length of `replace old new text`, computed before building it.
fn replaced_len(text: &[u8], old: &str, new: &str) -> usize {
    let count = if old.is_empty() {
        crate::raw_string::rune_count(text) + 1
    } else {
        memchr::memmem::find_iter(text, old.as_bytes()).count()
    };
    text.len()
        .saturating_add(count.saturating_mul(new.len()))
        .saturating_sub(count.saturating_mul(old.len()))
}

/// How many parts splitting `text` at `sep` gives, at most.
fn split_count(text: &str, sep: &str) -> usize {
    if sep.is_empty() {
        text.chars().count()
    } else {
        memchr::memmem::find_iter(text.as_bytes(), sep.as_bytes()).count() + 1
    }
}

/// The most `wrap` can write: each line break it inserts takes at least
/// one byte of `text` or one `width` of it.
fn wrapped_len(text: &str, width: i64, newline: &str) -> usize {
    let breaks = (text.len() / usize_of(width.max(1)))
        .saturating_add(memchr::memchr_iter(b' ', text.as_bytes()).count())
        .min(text.len());
    text.len()
        .saturating_add(breaks.saturating_mul(newline.len()))
}

/// Go's `strings.Replace(s, old, new, -1)`: an empty `old` inserts `new`
/// around every character.
pub(crate) fn go_replace_all(text: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return text.replace(old, new);
    }
    let mut out = String::from(new);
    for c in text.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

/// Go's `strings.Replace(s, old, new, -1)` with a non-empty `old` on a
/// string that is not UTF-8: its other bytes stay as they are.
fn replace_bytes(text: &[u8], old: &str, new: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = memchr::memmem::find(rest, old.as_bytes()) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(new.as_bytes());
        rest = &rest[at + old.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Go's `strings.SplitN(s, sep, n)` (`n` < 0: all parts); an empty `sep`
/// splits into characters.
pub(crate) fn go_split(text: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = text.chars().map(String::from).collect();
        if n > 0 && chars.len() > usize_of(n) {
            let keep = usize_of(n) - 1;
            let mut parts: Vec<String> = chars[..keep].to_vec();
            parts.push(chars[keep..].concat());
            return parts;
        }
        return chars;
    }
    if n < 0 {
        return text.split(sep).map(str::to_owned).collect();
    }
    text.splitn(usize_of(n), sep).map(str::to_owned).collect()
}

/// Sprig's `split` result: `map[string]string` keyed `_0`, `_1`...
fn indexed_parts(parts: Vec<String>) -> Value {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| (format!("_{i}"), Value::string(part)))
        .collect();
    Value::Map(Map::from_string_entries(entries))
}

/// Sprig's `strslice`: a list's non-nil elements as strings; nil is an
/// empty list; anything else a one-element list.
pub(crate) fn str_slice(value: &Value) -> Vec<String> {
    match value {
        Value::List(list) if list.kind() == ListKind::String => {
            list.items().iter().map(to_string).collect()
        }
        Value::List(list) => list
            .items()
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(to_string)
            .collect(),
        Value::Bytes(bytes) => bytes.iter().map(ToString::to_string).collect(),
        Value::Nil => Vec::new(),
        other => vec![to_string(other)],
    }
}

/// Go's deprecated `strings.Title`: upper-case (title-case) the first
/// letter of each word, words separated by anything but letters, digits,
/// `_` and non-ASCII non-space characters.
fn title(text: &str) -> String {
    let is_separator = |c: char| {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        c.is_whitespace()
    };
    let mut previous = ' ';
    text.chars()
        .map(|c| {
            let mapped = if is_separator(previous) {
                title_case(c)
            } else {
                c.to_string()
            };
            previous = c;
            mapped
        })
        .collect()
}

fn title_case(c: char) -> String {
    // Title case differs from upper case only for a few digraphs.
    match c {
        'ǆ' | 'ǅ' | 'Ǆ' => "ǅ".to_owned(),
        'ǉ' | 'ǈ' | 'Ǉ' => "ǈ".to_owned(),
        'ǌ' | 'ǋ' | 'Ǌ' => "ǋ".to_owned(),
        'ǳ' | 'ǲ' | 'Ǳ' => "ǲ".to_owned(),
        c => {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u.to_string(),
                _ => c.to_string(),
            }
        }
    }
}

/// goutils' `Initials`: the first byte of each whitespace-separated word.
fn initials(text: &str) -> String {
    let mut out = String::new();
    let mut last_was_gap = true;
    for c in text.chars() {
        if c.is_whitespace() {
            last_was_gap = true;
        } else if last_was_gap {
            out.push(c);
            last_was_gap = false;
        }
    }
    out
}

/// goutils' `SwapCase`: upper to lower, lower to upper (title case after
/// whitespace).
/// goutils' `Uncapitalize`: the first letter of every word (after
/// whitespace) lowered.
fn uncapitalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word_start = true;
    for c in text.chars() {
        out.push(if word_start { lower(c) } else { c });
        word_start = c.is_whitespace();
    }
    out
}

fn swapcase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_space = false;
    for c in text.chars() {
        let mapped: String = if c.is_uppercase() || is_title_case(c) {
            lower(c).to_string()
        } else if c.is_lowercase() {
            if after_space {
                title_case(c)
            } else {
                upper(c).to_string()
            }
        } else {
            c.to_string()
        };
        after_space = mapped.chars().last().is_some_and(char::is_whitespace);
        out.push_str(&mapped);
    }
    out
}

/// Unicode's title-case letters (`ǅ`, `ǈ`, `ǋ`, `ǲ` and Greek ones with a
/// prosgegrammeni), which Go's `unicode.IsTitle` knows and Rust's classes
/// count as neither upper nor lower case.
fn is_title_case(c: char) -> bool {
    !c.is_uppercase() && !c.is_lowercase() && lower(c) != c
}

/// goutils' `WrapCustom` (a port of commons-lang `WordUtils.wrap`),
/// working on bytes as Go does.
fn wrap(text: &str, width: i64, newline: &str, wrap_long_words: bool) -> String {
    if text.is_empty() {
        return String::new();
    }
    let width = usize_of(width.max(1));
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut offset = 0;
    let mut out = String::new();
    while len - offset > width {
        if bytes[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(len);
        let space = bytes[offset..end].iter().rposition(|&b| b == b' ');
        if let Some(space) = space.map(|i| i + offset) {
            out.push_str(&text_slice(text, offset, space));
            out.push_str(newline);
            offset = space + 1;
        } else if wrap_long_words {
            out.push_str(&text_slice(text, offset, width + offset));
            out.push_str(newline);
            offset += width;
        } else {
            let end = width + offset;
            match bytes[end..].iter().position(|&b| b == b' ') {
                None => {
                    out.push_str(&text_slice(text, offset, len));
                    offset = len;
                }
                Some(index) => {
                    let space = index + end;
                    out.push_str(&text_slice(text, offset, space));
                    out.push_str(newline);
                    offset = space + 1;
                }
            }
        }
    }
    out.push_str(&text_slice(text, offset, len));
    out
}

/// goutils' `AbbreviateFull(s, offset, width)`.
fn abbreviate(text: &str, offset: i64, width: i64) -> String {
    let len = i64::try_from(text.len()).unwrap_or(i64::MAX);
    if text.is_empty() || width < 4 {
        return String::new();
    }
    if len <= width {
        return text.to_owned();
    }
    let mut offset = offset.min(len);
    if len - offset < width - 3 {
        offset = len - (width - 3);
    }
    if offset <= 4 {
        return format!("{}...", text_slice(text, 0, usize_of(width - 3)));
    }
    if width < 7 {
        return String::new();
    }
    if offset + width - 3 < len {
        let rest = text_slice(text, usize_of(offset), text.len());
        return format!("...{}", abbreviate(&rest, 0, width - 3));
    }
    format!(
        "...{}",
        text_slice(text, usize_of(len - (width - 3)), text.len())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goutils_ports() {
        assert_eq!(
            wrap("Hello world, this is a test", 10, "\n", false),
            "Hello\nworld,\nthis is a\ntest"
        );
        assert_eq!(
            wrap("abcdefghijkl mn", 5, "\n", true),
            "abcde\nfghij\nkl mn"
        );
        assert_eq!(
            abbreviate("Now is the time for all good men", 0, 10),
            "Now is ..."
        );
        assert_eq!(abbreviate("abcdefghijklmno", 5, 10), "...fghi...");
        assert_eq!(initials("First Try"), "FT");
        assert_eq!(swapcase("This Is A.test"), "tHIS iS a.TEST");
        assert_eq!(title("hello wOrld-foo_bar"), "Hello WOrld-Foo_bar");
    }

    #[test]
    fn go_strings_helpers() {
        assert_eq!(go_split("a,b,c", ",", 2), ["a", "b,c"]);
        assert_eq!(go_split("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(go_replace_all("ab", "", "-"), "-a-b-");
        assert_eq!(crate::strconv::atoi("12"), Some(12));
        assert_eq!(crate::strconv::atoi("1.5"), None);
    }
}
