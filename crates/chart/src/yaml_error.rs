//! go-yaml's wording of a YAML syntax error.
//!
//! Helm reads YAML through go-yaml v2, a port of libyaml, and its messages
//! are what chart authors know and search for (`yaml: line 4: did not find
//! expected key`). Our parser finds the same errors but words them its own
//! way and marks some of them elsewhere. This module maps each of its error
//! kinds to go-yaml's problem text and line rule:
//!
//! - a *parser* error (a token where the grammar wants another) prints the
//!   0-based line of that token, a *scanner* error (text that makes no
//!   token) its 1-based line — go-yaml's own asymmetry;
//! - a line that comes out as 0 is left out, and errors go-yaml raises
//!   outside the parser (an unknown anchor, a control character) carry none;
//! - where libyaml notices the problem later than our parser does (a
//!   simple key that never met its `:`, a quoted scalar or flow collection
//!   left open until the end), the line is where libyaml notices it.
//!
//! Kinds without a go-yaml counterpart keep our parser's own message and
//! its 1-based line.

use granit_parser::{ErrorKind, ScanError};

/// `error`, found in `text`, as go-yaml words it after its `yaml: `
/// prefix.
pub(crate) fn go_yaml_message(text: &str, error: &ScanError) -> String {
    let at = byte_offset(text, error);
    let line = error.marker().line();
    let (problem, printed_line) = match error.kind() {
        ErrorKind::UnknownAnchor => {
            let name: String = text[at..]
                .chars()
                .skip(1)
                .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
                .collect();
            return format!("unknown anchor '{name}' referenced");
        }
        ErrorKind::UnexpectedCharacter { character } if !printable(*character) => {
            return "control characters are not allowed".to_string();
        }
        ErrorKind::ExpectedBlockMappingKey => parser("did not find expected key", line),
        ErrorKind::ExpectedBlockSequenceEntry => {
            parser("did not find expected '-' indicator", line)
        }
        ErrorKind::ExpectedNodeContent | ErrorKind::MisplacedFlowCollectionEnd => {
            parser("did not find expected node content", line)
        }
        ErrorKind::ExpectedDocumentStart => match refused_directive(text) {
            Some(refused) => refused,
            None => parser("did not find expected <document start>", line),
        },
        ErrorKind::UndeclaredTagHandle => parser("found undefined tag handle", line),
        ErrorKind::DuplicateVersionDirective => parser("found duplicate %YAML directive", line),
        ErrorKind::DuplicateTagDirective => parser("found duplicate %TAG directive", line),
        ErrorKind::UnsupportedYamlMajorVersion => parser("found incompatible YAML document", line),
        ErrorKind::ExpectedFlowSequenceSeparator
        | ErrorKind::ExpectedFlowMappingSeparator
        | ErrorKind::InvalidColonPlacement => {
            parser(flow_separator(innermost_open(text, at)), line)
        }
        ErrorKind::MismatchedFlowCollectionEnd { open, .. } => parser(flow_separator(*open), line),
        ErrorKind::UnclosedFlowCollection { open } => {
            // libyaml reads on to the end of the stream and fails on its
            // end token: after `[`, `{` or `,` a node was due, after an
            // entry a separator.
            let problem = match last_token_char(text) {
                Some('[' | '{' | ',') => "did not find expected node content",
                _ => flow_separator(*open),
            };
            (problem, end_line(text))
        }
        ErrorKind::InvalidTrailingDoubleQuotedScalar
        | ErrorKind::InvalidTrailingSingleQuotedScalar => {
            // go-yaml reads the text after the quote as a second scalar,
            // which the enclosing block collection does not expect.
            let problem = if in_indented_sequence(text, at) {
                "did not find expected '-' indicator"
            } else {
                "did not find expected key"
            };
            parser(problem, line)
        }
        ErrorKind::MappingValueNotAllowed => {
            scanner("mapping values are not allowed in this context", line)
        }
        ErrorKind::MappingKeyNotAllowed => {
            scanner("mapping keys are not allowed in this context", line)
        }
        ErrorKind::BlockSequenceEntryNotAllowed => scanner(
            "block sequence entries are not allowed in this context",
            line,
        ),
        ErrorKind::UnexpectedCharacter { .. }
        | ErrorKind::TabInIndentation
        | ErrorKind::TabInBlockIndentation
        | ErrorKind::TabNotAllowed => scanner("found character that cannot start any token", line),
        ErrorKind::SimpleKeyExpected | ErrorKind::InvalidSimpleKey => {
            // libyaml gives up on the key once the scalar holding it has
            // run onto a later line (or outgrown 1024 characters).
            let next = if text[at..]
                .lines()
                .next()
                .is_some_and(|l| l.chars().count() > 1024)
            {
                line
            } else {
                plain_scalar_end_line(text, at, error.marker().col())
            };
            scanner("could not find expected ':'", next)
        }
        // The scanner fails on the last line itself (a stream-end token,
        // which counts an unfinished last line, never comes).
        ErrorKind::UnclosedQuotedScalar => scanner(
            "found unexpected end of stream",
            text.matches('\n').count() + 1,
        ),
        ErrorKind::DocumentIndicatorInQuotedScalar => {
            let marker = document_marker_line(text, at).unwrap_or(line);
            scanner("found unexpected document indicator", marker)
        }
        ErrorKind::UnknownQuotedScalarEscape => scanner(
            "found unknown escape character",
            unknown_escape_line(text, at, line),
        ),
        ErrorKind::InvalidQuotedScalarHexEscape => {
            scanner("did not find expected hexdecimal number", line)
        }
        ErrorKind::InvalidUnicodeEscape
        | ErrorKind::InvalidLowSurrogate
        | ErrorKind::MissingLowSurrogate
        | ErrorKind::UnpairedLowSurrogate => {
            scanner("found invalid Unicode character escape code", line)
        }
        ErrorKind::MissingAnchorOrAliasName => scanner(
            "did not find expected alphabetic or numeric character",
            line,
        ),
        ErrorKind::InvalidBlockScalarHeader => {
            scanner("did not find expected comment or line break", line)
        }
        ErrorKind::UnclosedVerbatimTag => scanner("did not find the expected '>'", line),
        ErrorKind::ZeroBlockScalarIndent => {
            scanner("found an indentation indicator equal to 0", line)
        }
        _ => return format!("line {line}: {}", error.kind()),
    };
    if printed_line == 0 {
        problem.to_string()
    } else {
        format!("line {printed_line}: {problem}")
    }
}

/// go-yaml's own refusal of a directive, before it would want a document:
/// a name other than `YAML` and `TAG`, or a version other than 1.1.
fn refused_directive(text: &str) -> Option<(&'static str, usize)> {
    text.lines().enumerate().find_map(|(n, l)| {
        let mut words = l.strip_prefix('%')?.split_whitespace();
        match words.next() {
            Some("TAG") => None,
            Some("YAML") if words.next() == Some("1.1") => None,
            Some("YAML") => Some(parser("found incompatible YAML document", n + 1)),
            _ => Some(scanner("found unknown directive name", n + 1)),
        }
    })
}

/// A parser error: go-yaml prints the 0-based line of the token.
fn parser(problem: &'static str, line: usize) -> (&'static str, usize) {
    (problem, line.saturating_sub(1))
}

/// A scanner error: go-yaml prints the 1-based line, except on the first
/// line, where it prints none.
fn scanner(problem: &'static str, line: usize) -> (&'static str, usize) {
    (problem, if line > 1 { line } else { 0 })
}

fn flow_separator(open: char) -> &'static str {
    if open == '{' {
        "did not find expected ',' or '}'"
    } else {
        "did not find expected ',' or ']'"
    }
}

fn byte_offset(text: &str, error: &ScanError) -> usize {
    let marker = error.marker();
    marker
        .byte_offset()
        .or_else(|| text.char_indices().nth(marker.index()).map(|(b, _)| b))
        .unwrap_or(text.len())
        .min(text.len())
}

/// The 0-based line of the end of the stream, as libyaml counts it (a last
/// line without a line break still counts).
fn end_line(text: &str) -> usize {
    text.matches('\n').count() + usize::from(!text.is_empty() && !text.ends_with('\n'))
}

/// The innermost flow collection still open before byte `end`, skipping
/// quoted scalars and comments; `[` when none is found.
fn innermost_open(text: &str, end: usize) -> char {
    let mut open = Vec::new();
    let mut quote = None;
    let mut previous = ' ';
    let mut in_comment = false;
    for c in text[..end].chars() {
        match (quote, c) {
            (_, '\n') if in_comment => in_comment = false,
            _ if in_comment => {}
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if !open.is_empty() => quote = Some(c),
            (None, '#') if previous.is_whitespace() => in_comment = true,
            (None, '[' | '{') => open.push(c),
            (None, ']' | '}') => {
                open.pop();
            }
            _ => {}
        }
        previous = c;
    }
    open.pop().unwrap_or('[')
}

/// The last character of the text that is not blank or in a comment.
fn last_token_char(text: &str) -> Option<char> {
    text.lines()
        .rev()
        .map(|l| match l.find(" #") {
            Some(i) => &l[..i],
            None if l.trim_start().starts_with('#') => "",
            None => l,
        })
        .find_map(|l| l.trim_end().chars().last())
}

/// The 1-based line where libyaml stops reading a plain scalar that
/// starts at byte `at`, in column `col` of a block collection: at a `: `
/// or ` #` on one of its lines, or at the first later line that is a
/// comment, a document marker, or not indented past `col`.
fn plain_scalar_end_line(text: &str, at: usize, col: usize) -> usize {
    let first = text[..at].matches('\n').count() + 1;
    let ends = |l: &str| l.contains(": ") || l.ends_with(':') || l.contains(" #");
    let mut lines = text[at..].split('\n');
    if lines.next().is_some_and(ends) {
        return first;
    }
    let mut n = first;
    for l in lines {
        n += 1;
        let content = l.trim_start_matches(' ');
        if content.is_empty() {
            continue;
        }
        let indent = l.len() - content.len();
        if indent <= col
            || content.starts_with('#')
            || l.starts_with("---")
            || l.starts_with("...")
            || ends(content)
        {
            return n;
        }
    }
    n
}

/// Whether the block sequence entry holding byte `at` is indented past
/// its parent mapping's key (go-yaml then wants the next `-`); an entry at
/// the key's own column (`key:\n- a`) ends with the key's mapping, which
/// wants the next key.
fn in_indented_sequence(text: &str, at: usize) -> bool {
    let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[start..];
    let indent = line.len() - line.trim_start_matches(' ').len();
    if !line[indent..].starts_with("- ") {
        return false;
    }
    let parent = text[..start].lines().rev().find(|l| {
        let content = l.trim_start_matches(' ');
        let column = l.len() - content.len();
        !content.is_empty()
            && !content.starts_with('#')
            && (column < indent || (column == indent && !content.starts_with('-')))
    });
    parent.is_none_or(|l| l.len() - l.trim_start_matches(' ').len() < indent)
}

/// The 1-based line of the first escape YAML does not know in the double
/// quoted scalar starting at byte `at` (on 1-based `line`).
fn unknown_escape_line(text: &str, at: usize, line: usize) -> usize {
    let mut chars = text[at..].char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some((_, e)) if "0abt\tnvfre \"/\\N_LPxuU\n\r".contains(e) => {}
                _ => return line + text[at..at + i].matches('\n').count(),
            },
            _ => {}
        }
    }
    line
}

/// The 1-based line of the first `---` or `...` line after byte `at`.
fn document_marker_line(text: &str, at: usize) -> Option<usize> {
    let first = text[..at].matches('\n').count() + 1;
    text[at..]
        .lines()
        .enumerate()
        .skip(1)
        .find(|(_, l)| {
            (l.starts_with("---") || l.starts_with("..."))
                && l[3..].chars().next().is_none_or(char::is_whitespace)
        })
        .map(|(n, _)| first + n)
}

/// libyaml's printable characters; anything else in the input is refused
/// before parsing starts.
/// go-yaml's reader problem with `bytes`, a document that is not UTF-8
/// (a template printed a binary file): the first sequence it refuses, in
/// its words. The reader decodes ahead of the parser, so this comes before
/// any syntax error in the document.
pub(crate) fn reader_problem(bytes: &[u8]) -> Option<&'static str> {
    let mut at = 0;
    while at < bytes.len() {
        let lead = bytes[at];
        let (width, bits) = match lead {
            _ if lead & 0x80 == 0 => (1, lead),
            _ if lead & 0xE0 == 0xC0 => (2, lead & 0x1F),
            _ if lead & 0xF0 == 0xE0 => (3, lead & 0x0F),
            _ if lead & 0xF8 == 0xF0 => (4, lead & 0x07),
            _ => return Some("invalid leading UTF-8 octet"),
        };
        let Some(sequence) = bytes.get(at..at + width) else {
            return Some("incomplete UTF-8 octet sequence");
        };
        let mut value = u32::from(bits);
        for &trailing in &sequence[1..] {
            if trailing & 0xC0 != 0x80 {
                return Some("invalid trailing UTF-8 octet");
            }
            value = (value << 6) | u32::from(trailing & 0x3F);
        }
        let shortest = match width {
            1 => true,
            2 => value >= 0x80,
            3 => value >= 0x800,
            _ => value >= 0x10000,
        };
        if !shortest {
            return Some("invalid length of a UTF-8 sequence");
        }
        let Some(c) = char::from_u32(value).filter(|_| value <= 0x10_FFFF) else {
            return Some("invalid Unicode character");
        };
        if !printable(c) && c != '\u{FEFF}' {
            return Some("control characters are not allowed");
        }
        at += width;
    }
    None
}

fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

#[cfg(test)]
mod tests {
    /// Texts and the messages the real Helm v4.3.1 printed for them (after
    /// `error converting YAML to JSON: `).
    #[test]
    fn words_and_places_errors_as_go_yaml_does() {
        let head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n";
        let cases: &[(&str, &str)] = &[
            (
                "  name: x\n data:\n  a: b\n",
                "yaml: line 4: did not find expected key",
            ),
            (
                "  name: x: y\n",
                "yaml: line 4: mapping values are not allowed in this context",
            ),
            (
                "\tname: x\n",
                "yaml: line 4: found character that cannot start any token",
            ),
            (
                "  name: \"x\n",
                "yaml: line 5: found unexpected end of stream",
            ),
            ("  name: *x\n", "yaml: unknown anchor 'x' referenced"),
            (
                "  name: &\n",
                "yaml: line 4: did not find expected alphabetic or numeric character",
            ),
            (
                "  name: \"x\\q\"\n",
                "yaml: line 4: found unknown escape character",
            ),
            (
                "  name: \"x\" y\n",
                "yaml: line 3: did not find expected key",
            ),
            (
                "  name: !e!x y\n",
                "yaml: line 3: found undefined tag handle",
            ),
            (
                "  name: x\u{1}\n",
                "yaml: control characters are not allowed",
            ),
            (
                "  name: x\n  - a\n",
                "yaml: line 4: did not find expected key",
            ),
            (
                "  name: x\ndata\n  a: b\n",
                "yaml: line 6: could not find expected ':'",
            ),
            (
                "  name: x\ndata: {a: b\n",
                "yaml: line 5: did not find expected ',' or '}'",
            ),
            (
                "  name: x\ndata: {\n",
                "yaml: line 5: did not find expected node content",
            ),
            (
                "  name: x\nitems:\n  - a: b\n   c: d\n",
                "yaml: line 6: did not find expected '-' indicator",
            ),
            (
                "  name: x\ndata:\n  a: |x\n",
                "yaml: line 6: did not find expected comment or line break",
            ),
            (
                "  name: x\ndata: [a}\n",
                "yaml: line 4: did not find expected ',' or ']'",
            ),
        ];
        for (tail, expected) in cases {
            let text = format!("{head}{tail}");
            let got = crate::yaml::parse_stream(&text).expect_err(&text);
            assert_eq!(
                got,
                format!("error converting YAML to JSON: {expected}"),
                "{text:?}"
            );
        }
        for (text, expected) in [
            (
                "a: b: c\n",
                "yaml: mapping values are not allowed in this context",
            ),
            (
                "kind: [\n",
                "yaml: line 1: did not find expected node content",
            ),
            ("%FOO bar\n", "yaml: found unknown directive name"),
            ("%YAML 1.2\n", "yaml: found incompatible YAML document"),
            (
                "kind: A\na: \"x",
                "yaml: line 2: found unexpected end of stream",
            ),
            ("a: \"x", "yaml: found unexpected end of stream"),
            (
                "kind: A\na: [x",
                "yaml: line 2: did not find expected ',' or ']'",
            ),
        ] {
            let got = crate::yaml::parse_stream(text).expect_err(text);
            assert_eq!(got, format!("error converting YAML to JSON: {expected}"));
        }
    }
}
