//! Regular expressions: `regexMatch`, `regexFind`, `regexFindAll`,
//! `regexReplaceAll`, `regexReplaceAllLiteral`, `regexSplit`,
//! `regexQuoteMeta` and their `must` variants.
//!
//! Go's `regexp` is RE2, which the `regex` crate also implements; where
//! their syntaxes differ, patterns are rewritten first (see `goregexp`).
//! Replacement templates
//! (`$1`, `${name}`, longest-name rule) already agree. Compiled patterns
//! are cached because charts call these functions in loops.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use crate::args::{int, string};
use crate::budget::{MAX_LIST_ITEMS, check_list_len, check_string_len};
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap, FuncResult};
use crate::value::{List, ListKind, Value};

const CACHE_LIMIT: usize = 512;

static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles `pattern` with Go's semantics; `Err` has Go's prefix.
///
/// # Errors
/// `error parsing regexp: ...` for an invalid pattern.
pub fn compile(pattern: &str) -> Result<Regex, FuncError> {
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(regex) = cache.get(pattern) {
        return Ok(regex.clone());
    }
    let regex = Regex::new(&super::goregexp::translate(pattern)).map_err(|e| {
        FuncError::new(format!(
            "error parsing regexp: {}",
            first_line(&e.to_string())
        ))
    })?;
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), regex.clone());
    Ok(regex)
}

fn first_line(message: &str) -> String {
    message.lines().last().unwrap_or(message).trim().to_owned()
}

fn limit(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn find_all(regex: &Regex, text: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    regex
        .find_iter(text)
        .take(limit(n))
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Go's `Regexp.Split(s, n)`.
fn split(regex: &Regex, text: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !regex.as_str().is_empty() && text.is_empty() {
        return vec![String::new()];
    }
    let mut parts = Vec::new();
    let (mut begin, mut end) = (0, 0);
    for m in regex.find_iter(text) {
        if n > 0 && parts.len() == limit(n) - 1 {
            break;
        }
        end = m.start();
        if m.end() != 0 {
            parts.push(text[begin..end].to_owned());
        }
        begin = m.end();
    }
    if end != text.len() {
        parts.push(text[begin..].to_owned());
    }
    parts
}

/// Go's `strconv.Quote`-or-backquote as `MustCompile` uses it.
fn backquote(pattern: &str) -> String {
    if pattern.contains('`') {
        crate::fmt::quote_go(pattern)
    } else {
        format!("`{pattern}`")
    }
}

/// Go's `regexp.QuoteMeta`.
#[must_use]
pub fn quote_meta(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn compiles(pattern: &Value) -> bool {
    pattern
        .as_str()
        .is_some_and(|pattern| compile(pattern).is_ok())
}

/// How many of the first `n` matches of `regex` (all for a negative `n`)
/// `text` holds, counted up to one past the bound on a list (enough to
/// refuse it).
fn match_count(regex: &Regex, text: &str, n: i64) -> usize {
    regex
        .find_iter(text)
        .take(limit(n).min(MAX_LIST_ITEMS + 1))
        .count()
}

/// The most `regexReplaceAll` can write: each match replaced by the
/// replacement, which, when `expand`ed, may copy the match once per `$`.
fn replaced_len(regex: &Regex, text: &str, replacement: &str, expand: bool) -> usize {
    let copies = if expand {
        replacement.matches('$').count()
    } else {
        0
    };
    regex.find_iter(text).fold(text.len(), |total, found| {
        total.saturating_add(
            replacement
                .len()
                .saturating_add(copies.saturating_mul(found.len())),
        )
    })
}

/// Registers `name` and `mustName`; `fallback` is what the plain variant
/// returns when the pattern does not compile (`None`: it fails too, as
/// Sprig's `MustCompile` panics).
fn both(
    map: &mut FuncMap,
    name: &str,
    arity: Arity,
    fallback: Option<Value>,
    body: fn(&[Value]) -> FuncResult,
) {
    map.add(name, arity, move |a| match body(&a) {
        // Only a pattern that does not compile takes the fallback; a
        // result past a bound fails as it is.
        Err(error) if !error.is_argument_error && compiles(&a[0]) => Err(error),
        Err(error) if !error.is_argument_error => match &fallback {
            Some(value) => Ok(value.clone()),
            // MustCompile's panic names the pattern.
            None => Err(FuncError::new(format!(
                "regexp: Compile({}): {}",
                backquote(a[0].as_str().unwrap_or_default()),
                error.message
            ))),
        },
        other => other,
    });
    let must = format!("must{}{}", name[..1].to_uppercase(), &name[1..]);
    map.add(&must, arity, move |a| body(&a));
}

pub(crate) fn register(map: &mut FuncMap) {
    both(
        map,
        "regexMatch",
        Arity::Exact(2),
        Some(Value::Bool(false)),
        |a| {
            let (pattern, text) = (string(&a[0])?, string(&a[1])?);
            Ok(Value::Bool(compile(pattern)?.is_match(text)))
        },
    );
    both(map, "regexFindAll", Arity::Exact(3), None, |a| {
        let (pattern, text, n) = (string(&a[0])?, string(&a[1])?, int(&a[2])?);
        let regex = compile(pattern)?;
        check_list_len(match_count(&regex, text, n))?;
        // Go's FindAllString answers nil when nothing matches.
        let found = find_all(&regex, text, n);
        Ok(if found.is_empty() {
            Value::List(List::nil(ListKind::String))
        } else {
            Value::string_list(found)
        })
    });
    both(map, "regexFind", Arity::Exact(2), None, |a| {
        let (pattern, text) = (string(&a[0])?, string(&a[1])?);
        Ok(Value::string(
            compile(pattern)?.find(text).map_or("", |m| m.as_str()),
        ))
    });
    both(map, "regexReplaceAll", Arity::Exact(3), None, |a| {
        let (pattern, text, replacement) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
        let regex = compile(pattern)?;
        check_string_len(replaced_len(&regex, text, replacement, true))?;
        Ok(Value::string(
            regex.replace_all(text, replacement).into_owned(),
        ))
    });
    both(map, "regexReplaceAllLiteral", Arity::Exact(3), None, |a| {
        let (pattern, text, replacement) = (string(&a[0])?, string(&a[1])?, string(&a[2])?);
        let regex = compile(pattern)?;
        check_string_len(replaced_len(&regex, text, replacement, false))?;
        Ok(Value::string(
            regex
                .replace_all(text, regex::NoExpand(replacement))
                .into_owned(),
        ))
    });
    both(map, "regexSplit", Arity::Exact(3), None, |a| {
        let (pattern, text, n) = (string(&a[0])?, string(&a[1])?, int(&a[2])?);
        // Go's Split answers nil for a count of 0.
        if n == 0 {
            return Ok(Value::List(List::nil(ListKind::String)));
        }
        let regex = compile(pattern)?;
        check_list_len(match_count(&regex, text, n).saturating_add(1))?;
        Ok(Value::string_list(split(&regex, text, n)))
    });
    map.add("regexQuoteMeta", Arity::Exact(1), |a| {
        Ok(Value::string(quote_meta(string(&a[0])?)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> Regex {
        compile(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn perl_classes_are_ascii_like_go() {
        assert!(!re(r"^\d$").is_match("٣"));
        assert!(re(r"^[\d_]+$").is_match("1_2"));
        assert!(!re(r"^\w+$").is_match("é"));
        assert!(re(r"^[]a]+$").is_match("]a"));
        assert!(re(r"^[[:alpha:]]+$").is_match("ab"));
    }

    #[test]
    fn split_and_find_follow_go() {
        assert_eq!(split(&re("a"), "banana", -1), ["b", "n", "n", ""]);
        assert_eq!(split(&re("a"), "banana", 2), ["b", "nana"]);
        assert_eq!(split(&re(""), "abc", -1), ["a", "b", "c"]);
        assert_eq!(find_all(&re("a."), "banana", 1), ["an"]);
        assert_eq!(
            re("(a)(n)").replace_all("banana", "$2$1").into_owned(),
            "bnanaa"
        );
        assert_eq!(re("a").replace_all("banana", "$1x").into_owned(), "bnn");
        assert_eq!(quote_meta("a.b*c"), "a\\.b\\*c");
    }
}
