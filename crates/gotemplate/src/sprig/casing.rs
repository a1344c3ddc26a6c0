//! Case conversion as `huandu/xstrings` v1.5 does it, for Sprig's
//! `snakecase`, `kebabcase` and `camelcase` (which is xstrings'
//! `ToPascalCase`).
//!
//! xstrings splits text into typed words (upper-case runs, lower-case
//! words, numbers, connectors, punctuation) and joins them with rules about
//! numbers that are easy to get subtly wrong (`"Abc123Def"` →
//! `"abc123_def"`), so the word scanner mirrors its state machine.

use crate::args::string;
use crate::funcs::{Arity, FuncMap};
use crate::value::Value;

pub(crate) fn register(map: &mut FuncMap) {
    map.add("snakecase", Arity::Exact(1), |a| {
        Ok(Value::string(to_lower_words(string(&a[0])?, '_')))
    });
    map.add("kebabcase", Arity::Exact(1), |a| {
        Ok(Value::string(to_lower_words(string(&a[0])?, '-')))
    });
    map.add("camelcase", Arity::Exact(1), |a| {
        Ok(Value::string(to_pascal_case(string(&a[0])?)))
    });
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// Go's `unicode.IsPunct`: ASCII punctuation (not symbols such as `$+<=>^`
/// and backquote, `|`, `~`) and the common Unicode punctuation blocks.
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    matches!(c, '\u{00A1}' | '\u{00A7}' | '\u{00AB}' | '\u{00B6}' | '\u{00B7}' | '\u{00BB}' | '\u{00BF}'
        | '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}' | '\u{3001}'..='\u{3003}' | '\u{3008}'..='\u{3011}'
        | '\u{FF01}'..='\u{FF0F}')
}

/// xstrings' `isAlphabet`: a letter that is not a CJK ideograph.
fn is_alphabet(c: char) -> bool {
    c.is_alphabetic()
        && !matches!(c, '\u{4E00}'..='\u{9FCC}' | '\u{3400}'..='\u{4D85}' | '\u{20000}'..='\u{2B81D}')
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    UpperCase,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord`: the type and text of the next word, and the rest.
fn next_word(text: &str) -> (Word, &str, &str) {
    let mut chars = text.char_indices().peekable();
    let Some((_, first)) = chars.next() else {
        return (Word::Invalid, "", "");
    };
    let mut end = first.len_utf8();
    let take_while = |end: &mut usize,
                      chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                      keep: &dyn Fn(char) -> bool| {
        while let Some(&(i, c)) = chars.peek() {
            if !keep(c) {
                break;
            }
            *end = i + c.len_utf8();
            chars.next();
        }
    };
    let kind = if is_connector(first) {
        take_while(&mut end, &mut chars, &is_connector);
        Word::Connector
    } else if is_punct(first) {
        take_while(&mut end, &mut chars, &is_punct);
        Word::Punct
    } else if first.is_uppercase() {
        match chars.peek().copied() {
            Some((_, c)) if c.is_uppercase() => {
                // An upper-case run; its last letter starts the next word
                // when a lower-case letter follows ("HTTPServer").
                let mut last_start = end;
                while let Some(&(i, c)) = chars.peek() {
                    if !c.is_uppercase() {
                        break;
                    }
                    last_start = i;
                    end = i + c.len_utf8();
                    chars.next();
                }
                if chars.peek().is_some_and(|&(_, c)| is_alphabet(c)) {
                    end = last_start;
                }
            }
            Some((_, c)) if is_alphabet(c) => {
                take_while(&mut end, &mut chars, &|c| {
                    is_alphabet(c) && !c.is_uppercase()
                });
            }
            _ => {}
        }
        Word::UpperCase
    } else if is_alphabet(first) {
        take_while(&mut end, &mut chars, &|c| {
            is_alphabet(c) && !c.is_uppercase()
        });
        Word::Alphabet
    } else if first.is_numeric() {
        take_while(&mut end, &mut chars, &char::is_numeric);
        Word::Number
    } else {
        take_while(&mut end, &mut chars, &|c| {
            !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c))
        });
        Word::Other
    };
    (kind, &text[..end], &text[end..])
}

/// xstrings' `toLower`: words as they are, upper-case words lowered and
/// connectors replaced.
fn push_lower(out: &mut String, kind: Word, word: &str, connector: char) {
    if kind != Word::UpperCase && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase` (`ToSnakeCase`, `ToKebabCase`).
fn to_lower_words(text: &str, connector: char) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let (mut kind, mut word, mut rest) = next_word(text);
    while !rest.is_empty() {
        if kind != Word::Connector {
            push_lower(&mut out, kind, word, connector);
        }
        let (previous, last) = (kind, word);
        (kind, word, rest) = next_word(rest);
        match previous {
            Word::Number => {
                while kind == Word::Alphabet || kind == Word::Number {
                    push_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Punct | Word::Connector) {
                    out.push(connector);
                }
            }
            Word::Connector => push_lower(&mut out, previous, last, connector),
            Word::Punct => {}
            _ => {
                if kind != Word::Number {
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (kind, word, rest) = next_word(rest);
                if kind != Word::Alphabet {
                    push_lower(&mut out, Word::Number, number, connector);
                    if kind != Word::Connector && kind != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                push_lower(&mut out, Word::Number, number, connector);
                while kind == Word::Alphabet || kind == Word::Number {
                    push_lower(&mut out, kind, word, connector);
                    (kind, word, rest) = next_word(rest);
                }
                if !matches!(kind, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(connector);
                }
            }
        }
    }
    push_lower(&mut out, kind, word, connector);
    out
}

/// Go's `unicode.ToUpper`: the simple (one-character) mapping. Rust's is
/// the full one, which turns `ß` into `SS`; where that is longer than one
/// character Go has no simple mapping and keeps the character.
pub(crate) fn upper(c: char) -> char {
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Go's `unicode.ToLower`: the simple mapping. The one character whose
/// full lowercase is longer, `İ`, maps simply to the first of it, `i`.
pub(crate) fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Go's `strings.ToUpper`: rune by rune (no final-sigma or other context
/// rules, no expansions).
pub(crate) fn go_to_upper(text: &str) -> String {
    text.chars().map(upper).collect()
}

/// Go's `strings.ToLower`, rune by rune.
pub(crate) fn go_to_lower(text: &str) -> String {
    text.chars().map(lower).collect()
}

/// xstrings' `ToPascalCase`: connectors removed, the letter after each
/// upper-cased, runs of capitals after an upper-cased letter lowered.
fn to_pascal_case(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    let mut current = None;
    let mut first_upper = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = c.is_uppercase();
            current = Some(upper(c));
            break;
        }
        out.push(c);
    }
    let Some(mut r0) = current else {
        return out;
    };
    for next in chars {
        let r1 = r0;
        r0 = next;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = upper(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = lower(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_and_kebab_follow_xstrings() {
        let cases = [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("already_snake", "already_snake"),
            ("with space", "with_space"),
            ("Abc123Def", "abc123_def"),
            ("a1b2", "a_1b2"),
            ("fooBar2Baz", "foo_bar2_baz"),
            ("v1.2.3", "v1.2.3"),
            ("foo-bar", "foo_bar"),
            ("ID", "id"),
        ];
        for (input, expected) in cases {
            assert_eq!(to_lower_words(input, '_'), expected, "{input}");
        }
        assert_eq!(to_lower_words("FirstName", '-'), "first-name");
    }

    #[test]
    fn pascal_case() {
        assert_eq!(to_pascal_case("http_server"), "HttpServer");
        assert_eq!(to_pascal_case("hello world"), "HelloWorld");
        assert_eq!(to_pascal_case("HTTP_SERVER"), "HttpServer");
        assert_eq!(to_pascal_case("ABC"), "Abc");
        assert_eq!(to_pascal_case("fooBAR"), "FooBAR");
        assert_eq!(to_pascal_case("_foo"), "_Foo");
    }
}
