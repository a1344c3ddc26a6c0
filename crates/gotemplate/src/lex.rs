//! The lexer: template text to tokens, with Go's rules for delimiters, trim
//! markers (`{{- ` and ` -}}`), comments, quoting and number syntax.
//!
//! It mirrors the states of Go's `text/template/parse` lexer so the same
//! inputs fail with the same messages, but runs eagerly into a `Vec` instead
//! of a goroutine channel.

/// What a token is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// Plain text outside actions.
    Text,
    /// `{{`
    LeftDelim,
    /// `}}`
    RightDelim,
    /// Run of spaces inside an action.
    Space,
    /// A function name.
    Identifier,
    /// A reserved word such as `if` or `end`.
    Keyword,
    /// `.Name` (the text includes the dot).
    Field,
    /// `$name` or `$`.
    Variable,
    /// A character constant such as `'a'` (the text includes the quotes).
    Char,
    /// A number literal.
    Number,
    /// A double-quoted string (the text includes the quotes).
    String,
    /// A back-quoted string (the text includes the quotes).
    RawString,
    /// `true` or `false`.
    Bool,
    /// A lone `.`.
    Dot,
    /// `nil`.
    Nil,
    /// `|`
    Pipe,
    /// `=`
    Assign,
    /// `:=`
    Declare,
    /// A printable ASCII character with no role of its own, such as `,`.
    Punct,
    /// `(`
    LeftParen,
    /// `)`
    RightParen,
    /// End of input.
    Eof,
    /// A lexing error; the text is the message.
    Error,
}

/// One token with its byte offset and line in the template text; its text
/// borrows the template (only error messages are owned), keeping lexing
/// free of per-token allocations.
#[derive(Clone, Debug)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind,
    pub text: std::borrow::Cow<'a, str>,
    pub pos: usize,
    pub line: usize,
}

impl std::fmt::Display for Token<'_> {
    /// Go's `item.String()`, used in "unexpected X in Y" messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            TokenKind::Eof => f.write_str("EOF"),
            TokenKind::Error => f.write_str(&self.text),
            TokenKind::Keyword => write!(f, "<{}>", self.text),
            _ if self.text.chars().count() > 10 => {
                let head: String = self.text.chars().take(10).collect();
                write!(f, "{}...", crate::fmt::quote_go(&head))
            }
            _ => f.write_str(&crate::fmt::quote_go(&self.text)),
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";
const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template", "with",
];

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn has_left_trim(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1])
}

fn has_right_trim(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.len() >= 2 && is_space(b[0]) && b[1] == b'-'
}

fn leading_space_len(s: &str) -> usize {
    s.len() - s.trim_start_matches([' ', '\t', '\r', '\n']).len()
}

/// Splits `input` into tokens; the last is `Eof` or `Error`.
pub(crate) fn lex(input: &str) -> Vec<Token<'_>> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        start: 0,
        paren_depth: 0,
        tokens: Vec::new(),
        counted_to: 0,
        line: 1,
    };
    lexer.run();
    lexer.tokens
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    tokens: Vec<Token<'a>>,
    /// Newlines are counted incrementally up to here (tokens start in
    /// increasing order), keeping lexing linear.
    counted_to: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn line_at(&mut self, pos: usize) -> usize {
        if pos > self.counted_to {
            self.line += self.input.as_bytes()[self.counted_to..pos]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.counted_to = pos;
        }
        self.line
    }

    fn emit(&mut self, kind: TokenKind) {
        let input: &'a str = self.input;
        let text = &input[self.start..self.pos];
        self.emit_text(kind, std::borrow::Cow::Borrowed(text));
    }

    fn emit_text(&mut self, kind: TokenKind, text: std::borrow::Cow<'a, str>) {
        let line = self.line_at(self.start);
        self.tokens.push(Token {
            kind,
            text,
            pos: self.start,
            line,
        });
        self.start = self.pos;
    }

    fn error(&mut self, message: String) {
        self.emit_text(TokenKind::Error, std::borrow::Cow::Owned(message));
    }

    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Runs the state machine; every state returns false once it emitted
    /// `Eof` or `Error`.
    fn run(&mut self) {
        loop {
            if !self.lex_text() {
                return;
            }
            if !self.lex_left_delim() {
                return;
            }
        }
    }

    /// Text up to the next `{{`; false at end of input.
    fn lex_text(&mut self) -> bool {
        if let Some(offset) = memchr::memmem::find(self.rest().as_bytes(), LEFT.as_bytes()) {
            let delim_at = self.pos + offset;
            let mut text_end = delim_at;
            if has_left_trim(&self.input[delim_at + LEFT.len()..]) {
                text_end = self.input[..delim_at]
                    .trim_end_matches([' ', '\t', '\r', '\n'])
                    .len()
                    .max(self.start);
            }
            self.pos = text_end;
            if self.pos > self.start {
                self.emit(TokenKind::Text);
            }
            self.pos = delim_at;
            self.start = delim_at;
            return true;
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.emit(TokenKind::Text);
        }
        self.emit(TokenKind::Eof);
        false
    }

    /// `{{` with its optional trim marker, then the action or comment.
    fn lex_left_delim(&mut self) -> bool {
        self.pos += LEFT.len();
        let trim = has_left_trim(self.rest());
        let after_marker = if trim { 2 } else { 0 };
        if self.rest()[after_marker..].starts_with("/*") {
            self.pos += after_marker;
            self.start = self.pos;
            return self.lex_comment();
        }
        self.emit(TokenKind::LeftDelim);
        self.pos += after_marker;
        self.start = self.pos;
        self.paren_depth = 0;
        self.lex_inside_action()
    }

    fn lex_comment(&mut self) -> bool {
        self.pos += 2;
        let Some(end) = self.rest().find("*/") else {
            self.error("unclosed comment".to_owned());
            return false;
        };
        self.pos += end + 2;
        let Some(trim) = self.at_right_delim() else {
            self.error("comment ends before closing delimiter".to_owned());
            return false;
        };
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT.len();
        if trim {
            self.pos += leading_space_len(self.rest());
        }
        self.start = self.pos;
        true
    }

    /// `Some(trim)` when the input continues with `}}` or ` -}}`.
    fn at_right_delim(&self) -> Option<bool> {
        let rest = self.rest();
        if has_right_trim(rest) && rest[2..].starts_with(RIGHT) {
            return Some(true);
        }
        rest.starts_with(RIGHT).then_some(false)
    }

    fn lex_right_delim(&mut self, trim: bool) {
        if trim {
            self.pos += 2;
            self.start = self.pos;
        }
        self.pos += RIGHT.len();
        self.emit(TokenKind::RightDelim);
        if trim {
            self.pos += leading_space_len(self.rest());
            self.start = self.pos;
        }
    }

    fn lex_inside_action(&mut self) -> bool {
        loop {
            if let Some(trim) = self.at_right_delim() {
                if self.paren_depth == 0 {
                    self.lex_right_delim(trim);
                    return true;
                }
                self.error("unclosed left paren".to_owned());
                return false;
            }
            let Some(c) = self.next_char() else {
                self.error("unclosed action".to_owned());
                return false;
            };
            let ok = match c {
                ' ' | '\t' | '\r' | '\n' => {
                    self.pos -= 1;
                    self.lex_space();
                    true
                }
                '=' => {
                    self.emit(TokenKind::Assign);
                    true
                }
                ':' => {
                    if self.next_char() == Some('=') {
                        self.emit(TokenKind::Declare);
                        true
                    } else {
                        self.error("expected :=".to_owned());
                        false
                    }
                }
                '|' => {
                    self.emit(TokenKind::Pipe);
                    true
                }
                '"' => self.lex_quote(),
                '`' => self.lex_raw_quote(),
                '$' => self.lex_field_or_variable(TokenKind::Variable),
                '\'' => self.lex_char(),
                '.' if !self.peek().is_some_and(|n| n.is_ascii_digit()) => {
                    self.lex_field_or_variable(TokenKind::Field)
                }
                '.' | '+' | '-' | '0'..='9' => {
                    self.pos -= 1;
                    self.lex_number()
                }
                c if is_alnum(c) => {
                    self.pos -= c.len_utf8();
                    self.lex_identifier()
                }
                '(' => {
                    self.emit(TokenKind::LeftParen);
                    self.paren_depth += 1;
                    true
                }
                ')' => {
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        self.error("unexpected right paren".to_owned());
                        false
                    } else {
                        self.emit(TokenKind::RightParen);
                        true
                    }
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.emit(TokenKind::Punct);
                    true
                }
                c => {
                    self.error(format!(
                        "unrecognized character in action: {}",
                        crate::fmt::unicode_hash(c)
                    ));
                    false
                }
            };
            if !ok {
                return false;
            }
        }
    }

    fn lex_space(&mut self) {
        let mut spaces = 0;
        while self.rest().as_bytes().first().is_some_and(|&b| is_space(b)) {
            self.pos += 1;
            spaces += 1;
        }
        // A trim-marked closing delimiter starts with a space: leave that
        // space to the delimiter.
        let before = &self.input[self.pos - 1..];
        if has_right_trim(before) && before[2..].starts_with(RIGHT) {
            self.pos -= 1;
            if spaces == 1 {
                return;
            }
        }
        self.emit(TokenKind::Space);
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None | Some(' ' | '\t' | '\r' | '\n' | '.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with(RIGHT),
        }
    }

    fn lex_identifier(&mut self) -> bool {
        while self.peek().is_some_and(is_alnum) {
            self.next_char();
        }
        if !self.at_terminator() {
            let bad = self.next_char().unwrap_or(' ');
            self.error(format!("bad character {}", crate::fmt::unicode_hash(bad)));
            return false;
        }
        let word = &self.input[self.start..self.pos];
        let kind = match word {
            "true" | "false" => TokenKind::Bool,
            "nil" => TokenKind::Nil,
            w if KEYWORDS.contains(&w) => TokenKind::Keyword,
            _ => TokenKind::Identifier,
        };
        self.emit(kind);
        true
    }

    fn lex_field_or_variable(&mut self, kind: TokenKind) -> bool {
        if self.at_terminator() {
            let kind = if kind == TokenKind::Variable {
                TokenKind::Variable
            } else {
                TokenKind::Dot
            };
            self.emit(kind);
            return true;
        }
        while self.peek().is_some_and(is_alnum) {
            self.next_char();
        }
        if !self.at_terminator() {
            let bad = self.next_char().unwrap_or(' ');
            self.error(format!("bad character {}", crate::fmt::unicode_hash(bad)));
            return false;
        }
        self.emit(kind);
        true
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next_char() {
                Some('\\') => {
                    if self.next_char().is_some_and(|c| c != '\n') {
                        continue;
                    }
                    self.error("unterminated character constant".to_owned());
                    return false;
                }
                None | Some('\n') => {
                    self.error("unterminated character constant".to_owned());
                    return false;
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(TokenKind::Char);
        true
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next_char() {
                Some('\\') => {
                    if self.next_char().is_some_and(|c| c != '\n') {
                        continue;
                    }
                    self.error("unterminated quoted string".to_owned());
                    return false;
                }
                None | Some('\n') => {
                    self.error("unterminated quoted string".to_owned());
                    return false;
                }
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(TokenKind::String);
        true
    }

    fn lex_raw_quote(&mut self) -> bool {
        match self.rest().find('`') {
            Some(end) => {
                self.pos += end + 1;
                self.emit(TokenKind::RawString);
                true
            }
            None => {
                self.error("unterminated raw quoted string".to_owned());
                false
            }
        }
    }

    fn accept(&mut self, valid: &str) -> bool {
        if self.peek().is_some_and(|c| valid.contains(c)) {
            self.next_char();
            return true;
        }
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn lex_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        let mut hex = false;
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
                hex = true;
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if !hex && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if hex && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if self.peek().is_some_and(is_alnum) {
            self.next_char();
            let text = self.input[self.start..self.pos].to_owned();
            self.error(format!(
                "bad number syntax: {}",
                crate::fmt::quote_go(&text)
            ));
            return false;
        }
        self.emit(TokenKind::Number);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<(TokenKind, String)> {
        lex(input)
            .into_iter()
            .map(|t| (t.kind, t.text.into_owned()))
            .collect()
    }

    #[test]
    fn trim_markers_eat_surrounding_whitespace() {
        let tokens = kinds("a  \n{{- .x -}}\n  b");
        let texts: Vec<_> = tokens
            .iter()
            .filter(|(k, _)| *k == TokenKind::Text)
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(texts, ["a", "b"]);
    }

    #[test]
    fn minus_number_is_not_a_trim_marker() {
        let tokens = kinds("{{-3}}");
        assert_eq!(tokens[1], (TokenKind::Number, "-3".to_owned()));
    }

    #[test]
    fn comments_vanish_and_trim() {
        let tokens = kinds("a {{- /* c */ -}} b");
        assert_eq!(
            tokens,
            [
                (TokenKind::Text, "a".to_owned()),
                (TokenKind::Text, "b".to_owned()),
                (TokenKind::Eof, String::new())
            ]
        );
    }

    #[test]
    fn errors_carry_go_messages() {
        assert_eq!(
            lex("{{ .x ")
                .last()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
            "unclosed action"
        );
        assert_eq!(
            lex("{{ 3x }}")
                .last()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
            "bad number syntax: \"3x\""
        );
        assert_eq!(
            lex("{{/* x */ }}")
                .last()
                .map(|t| t.text.clone())
                .unwrap_or_default(),
            "comment ends before closing delimiter"
        );
    }
}
