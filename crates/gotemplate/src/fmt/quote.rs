//! Go's `strconv` quoting: `Quote`, `QuoteToASCII`, `QuoteRune`, `Unquote`
//! and `%#U`, used by `%q`, by `printf`'s error forms, by parse errors and by
//! the lexer's string and character literals.

/// Go's `unicode.IsPrint`, approximated from Rust's character classes: what
/// `strconv.Quote` leaves unescaped.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{F0000}'..='\u{10FFFF}'
    )
}

fn push_escaped(out: &mut String, c: char, quote: char, ascii_only: bool) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_ascii() && is_print(c) => out.push(c),
        c if !c.is_ascii() && !ascii_only && is_print(c) => out.push(c),
        c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
        c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
        c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
    }
}

/// Go's `strconv.Quote`.
#[must_use]
pub fn quote_go(s: &str) -> String {
    quote_with(s, false)
}

/// Go's `strconv.Quote` (`ascii_only` false) or `QuoteToASCII` (true).
pub(crate) fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// [`quote_with`] for a Go string's bytes: a byte that does not start a
/// valid UTF-8 sequence is written `\xNN`, as Go's `strconv.Quote` does.
pub(crate) fn quote_bytes(s: &[u8], ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c, '"', ascii_only);
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut out = String::from('\'');
    push_escaped(&mut out, c, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`, for `%#q`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

/// `%#U`'s form: `U+0041 'A'`, used in Go's lexer messages.
pub(crate) fn unicode_hash(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    if is_print(c) {
        format!("{code} '{c}'")
    } else {
        code
    }
}

/// Reads one escape sequence after a backslash; returns the character.
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char) -> Option<char> {
    let c = chars.next()?;
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
        let digits: String = (0..n).filter_map(|_| chars.next()).collect();
        if digits.len() != n {
            return None;
        }
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
    };
    match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        'x' => hex(chars, 2),
        'u' => hex(chars, 4),
        'U' => hex(chars, 8),
        '0'..='7' => {
            let mut value = c.to_digit(8)?;
            for _ in 0..2 {
                value = value * 8 + chars.next()?.to_digit(8)?;
            }
            if value > 255 {
                return None;
            }
            char::from_u32(value)
        }
        c if c == quote => Some(c),
        _ => None,
    }
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` literals.
#[must_use]
pub fn unquote_go(literal: &str) -> Option<String> {
    if let Some(raw) = literal
        .strip_prefix('`')
        .and_then(|rest| rest.strip_suffix('`'))
    {
        return Some(raw.replace('\r', ""));
    }
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(unescape(&mut chars, '"')?),
            '"' | '\n' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The character of a `'x'` literal.
pub(crate) fn unquote_char(literal: &str) -> Option<char> {
    let body = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut chars = body.chars().peekable();
    let c = match chars.next()? {
        '\\' => unescape(&mut chars, '\'')?,
        '\'' | '\n' => return None,
        c => c,
    };
    chars.next().is_none().then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_strconv() {
        assert_eq!(quote_go("a\"b\n\tü\u{1}"), "\"a\\\"b\\n\\tü\\x01\"");
        assert_eq!(quote_with("ü", true), "\"\\u00fc\"");
        assert_eq!(quote_rune('\'', false), "'\\''");
    }

    #[test]
    fn unquoting_reads_go_escapes() {
        assert_eq!(
            unquote_go("\"a\\x41\\u00e9\\101\\n\"").as_deref(),
            Some("aAéA\n")
        );
        assert_eq!(unquote_go("`a\\n`").as_deref(), Some("a\\n"));
        assert_eq!(unquote_go("\"\\q\""), None);
        assert_eq!(unquote_char("'\\n'"), Some('\n'));
        assert_eq!(unquote_char("'ab'"), None);
    }
}
