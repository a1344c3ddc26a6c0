//! Printing YAML as go-yaml's emitter (a port of libyaml) prints what
//! Kustomize hands it: sorted keys, 2-space indent, indentless sequences,
//! go-yaml's choice of quoting and block styles, 80-column folding.
//!
//! [`EmitOptions`] turns the few knobs go-yaml's callers turn differently
//! (Helm's `toYamlPretty` encodes with go-yaml v3's own defaults at indent
//! 2: sequences indented under their key, no folding, floats in Go's `%g`)
//! without a second emitter to keep in step with this one.

use std::fmt::Write as _;

use super::number::{format_float, format_float_go};
use super::parse::{looks_like_timestamp, refused_by_json_round_trip, resolves_to_itself};
use super::value::{Map, Value};

/// libyaml's preferred line width, past which plain and quoted scalars fold.
const BEST_WIDTH: usize = 80;

/// How a float is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatFormat {
    /// As a float64 comes out of a JSON round trip then go-yaml
    /// (Kustomize, Helm's `toYaml`): integral values below 1e21 print as
    /// integers (`1000000`), others in the `%g`-like shortest form.
    JsonRoundTrip,
    /// As go-yaml prints a Go float64 it is handed directly:
    /// `strconv.FormatFloat(f, 'g', -1, 64)`, so `1000000` is `1e+06`.
    GoShortest,
}

/// The emitter's knobs. [`EmitOptions::default`] is Kustomize's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// Whether a block sequence under a mapping key is indented by two
    /// (`key:\n  - a`, go-yaml v3's own layout) rather than written at the
    /// key's column (`key:\n- a`, Kustomize's compact layout).
    pub indent_sequences: bool,
    /// The column past which long scalars fold onto the next line; `None`
    /// never folds.
    pub line_width: Option<usize>,
    /// How floats are printed.
    pub floats: FloatFormat,
}

impl Default for EmitOptions {
    fn default() -> Self {
        Self {
            indent_sequences: false,
            line_width: Some(BEST_WIDTH),
            floats: FloatFormat::JsonRoundTrip,
        }
    }
}

impl EmitOptions {
    /// go-yaml v3's encoder with `SetIndent(2)` and nothing else, as Helm's
    /// `toYamlPretty` uses it.
    #[must_use]
    pub fn go_yaml_v3_indent2() -> Self {
        Self {
            indent_sequences: true,
            line_width: None,
            floats: FloatFormat::GoShortest,
        }
    }
}

/// Prints one document as Kustomize does (keys sorted, block style).
pub fn emit_document(v: &Value) -> String {
    let mut out = String::new();
    emit_document_into(v, &mut out);
    out
}

/// Prints one document with `options` instead of Kustomize's layout.
pub fn emit_document_with(v: &Value, options: EmitOptions) -> String {
    let mut out = String::new();
    emit_checked_with(v, &mut out, options);
    out
}

/// Appends one document, printed as [`emit_document`] prints it, to
/// `out`: a build prints thousands of documents into one stream, and
/// writing in place spares a buffer and a copy per document.
pub fn emit_document_into(v: &Value, out: &mut String) {
    emit_document_checked(v, out);
}

/// Like [`emit_document_into`]; also says whether a string printed holds
/// a character Kustomize's JSON round trip refuses (checked here, where
/// every string is looked at anyway, rather than in a pass of its own).
pub(crate) fn emit_document_checked(v: &Value, out: &mut String) -> bool {
    emit_checked_with(v, out, EmitOptions::default())
}

fn emit_checked_with(v: &Value, out: &mut String, options: EmitOptions) -> bool {
    let mut e = Emitter {
        out: std::mem::take(out),
        column: 0,
        refused: false,
        width: options.line_width.unwrap_or(usize::MAX),
        indent_sequences: options.indent_sequences,
        floats: options.floats,
    };
    match v {
        Value::Map(m) if !m.is_empty() => e.block_map(m, 0),
        Value::Seq(s) if !s.is_empty() => e.block_seq(s, 0),
        other => {
            // go-yaml indents a root scalar's continuation and block lines
            // as a mapping value's: by its indent step.
            e.scalar_or_empty(other, 2, false);
            if e.column != 0 {
                e.newline();
            }
        }
    }
    *out = e.out;
    e.refused
}

struct Emitter {
    out: String,
    column: usize,
    /// Whether a string printed holds a character Kustomize refuses.
    refused: bool,
    /// [`EmitOptions::line_width`], `usize::MAX` for never.
    width: usize,
    /// [`EmitOptions::indent_sequences`].
    indent_sequences: bool,
    /// [`EmitOptions::floats`].
    floats: FloatFormat,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        };
    }
    fn newline(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
    fn indent_to(&mut self, indent: usize) {
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
    }

    fn block_map(&mut self, m: &Map, indent: usize) {
        let mut entries: Vec<(&String, &Value)> = m.iter().collect();
        entries.sort_by(|a, b| go_yaml_key_order(a.0, b.0));
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if i > 0 || self.column != indent {
                if self.column != 0 {
                    self.newline();
                }
                self.indent_to(indent);
            }
            if self.key(k, indent) {
                self.write(":");
                self.value_after_explicit_key(v, indent);
            } else {
                self.write(":");
                self.value_after_key(v, indent);
            }
        }
    }

    /// Writes a key; true when it had to be an explicit one (`? key`).
    fn key(&mut self, k: &str, indent: usize) -> bool {
        let multiline = k.contains('\n');
        if k.chars().count() > 128 || multiline {
            self.write("? ");
            self.string(k, indent + 2, false);
            // A block scalar ends its own last line.
            if self.column != 0 {
                self.newline();
            }
            self.indent_to(indent);
            return true;
        }
        self.string(k, indent + 2, true);
        false
    }

    /// After an explicit key's `:`, go-yaml starts a block collection on
    /// the same line, indented as a sequence item's would be.
    fn value_after_explicit_key(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Map(m) if !m.is_empty() => {
                self.write(" ");
                self.block_map(m, indent + 2);
            }
            Value::Seq(s) if !s.is_empty() => {
                self.write(" ");
                self.block_seq(s, indent + 2);
            }
            other => self.value_after_key(other, indent),
        }
    }

    fn value_after_key(&mut self, v: &Value, indent: usize) {
        match v {
            Value::Map(m) if !m.is_empty() => {
                self.newline();
                self.indent_to(indent + 2);
                self.block_map(m, indent + 2);
            }
            Value::Seq(s) if !s.is_empty() => {
                let indent = if self.indent_sequences {
                    indent + 2
                } else {
                    indent
                };
                self.newline();
                self.indent_to(indent);
                self.block_seq(s, indent);
            }
            other => {
                self.write(" ");
                self.scalar_or_empty(other, indent + 2, false);
                if self.column != 0 {
                    self.newline();
                }
            }
        }
    }

    fn block_seq(&mut self, s: &[Value], indent: usize) {
        for (i, item) in s.iter().enumerate() {
            if i > 0 || self.column != indent {
                if self.column != 0 {
                    self.newline();
                }
                self.indent_to(indent);
            }
            self.write("- ");
            match item {
                Value::Map(m) if !m.is_empty() => self.block_map(m, indent + 2),
                Value::Seq(s2) if !s2.is_empty() => self.block_seq(s2, indent + 2),
                other => {
                    self.scalar_or_empty(other, indent + 2, false);
                    if self.column != 0 {
                        self.newline();
                    }
                }
            }
        }
        if self.column != 0 {
            self.newline();
        }
    }

    fn scalar_or_empty(&mut self, v: &Value, indent: usize, simple_key: bool) {
        match v {
            Value::Null => self.write("null"),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let start = self.out.len();
                let _ = write!(self.out, "{i}");
                self.column += self.out.len() - start;
            }
            Value::Float(f) => match self.floats {
                FloatFormat::JsonRoundTrip => self.write(&format_float(*f)),
                FloatFormat::GoShortest => self.write(&format_float_go(*f)),
            },
            Value::Str(s) => self.string(s, indent, simple_key),
            Value::Map(_) => self.write("{}"),
            Value::Seq(_) => self.write("[]"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        if is_plain_word(s) {
            // The common case (names, keys, images): plain, no folding.
            self.out.push_str(s);
            self.column += s.len();
            return;
        }
        self.refused = self.refused || refused_by_json_round_trip(s);
        let style = choose_style(s, simple_key);
        match style {
            Style::Plain => self.write_plain(s, indent, !simple_key),
            Style::Single => self.write_single(s, indent, !simple_key),
            Style::Double => self.write_double(s, indent, !simple_key),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let mut chars = s.chars().peekable();
        let mut spaces = false;
        while let Some(c) = chars.next() {
            if c == ' ' {
                let next_space = chars.peek() == Some(&' ');
                if allow_breaks && !spaces && self.column > self.width && !next_space {
                    self.newline();
                    self.indent_to(indent);
                } else {
                    self.out.push(c);
                    self.column += 1;
                }
                spaces = true;
            } else {
                self.out.push(c);
                self.column += 1;
                spaces = false;
            }
        }
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write("'");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.width
                    && i != 0
                    && i != chars.len() - 1
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.newline();
                    self.indent_to(indent);
                } else {
                    self.out.push(c);
                    self.column += 1;
                }
                spaces = true;
            } else if c == '\n' {
                if !breaks && c == '\n' {
                    self.newline();
                }
                self.newline();
                breaks = true;
            } else {
                if breaks {
                    self.indent_to(indent);
                }
                if c == '\'' {
                    self.out.push('\'');
                    self.column += 1;
                }
                self.out.push(c);
                self.column += 1;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.indent_to(indent);
        }
        self.write("'");
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.write("\"");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                let esc = match c {
                    '\0' => "\\0".to_string(),
                    '\u{7}' => "\\a".into(),
                    '\u{8}' => "\\b".into(),
                    '\t' => "\\t".into(),
                    '\n' => "\\n".into(),
                    '\u{b}' => "\\v".into(),
                    '\u{c}' => "\\f".into(),
                    '\r' => "\\r".into(),
                    '\u{1b}' => "\\e".into(),
                    '"' => "\\\"".into(),
                    '\\' => "\\\\".into(),
                    '\u{85}' => "\\N".into(),
                    '\u{a0}' => "\\_".into(),
                    '\u{2028}' => "\\L".into(),
                    '\u{2029}' => "\\P".into(),
                    c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                    c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                    c => format!("\\U{:08X}", c as u32),
                };
                self.write(&esc);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.width
                    && i != 0
                    && i != chars.len() - 1
                {
                    self.newline();
                    self.indent_to(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.out.push(' ');
                    self.column += 1;
                }
                spaces = true;
            } else {
                self.out.push(c);
                self.column += 1;
                spaces = false;
            }
        }
        self.write("\"");
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.write("|");
        let first = s.chars().next();
        if matches!(first, Some(' ' | '\n')) {
            self.write("2");
        }
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        if n == 0 || chars[n - 1] != '\n' {
            self.write("-");
        } else if n == 1 || chars[n - 2] == '\n' {
            self.write("+");
        }
        self.newline();
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            if !line.is_empty() {
                self.indent_to(indent);
                self.out.push_str(line);
            }
            self.out.push('\n');
        }
        self.column = 0;
    }
}

/// go-yaml's map key order: letters after other characters, digit runs
/// compared as numbers.
pub fn go_yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    // Keys are nearly always ASCII, where a byte is a character: comparing
    // the bytes in place spares two allocations per comparison.
    if a.is_ascii() && b.is_ascii() {
        key_order(a.as_bytes(), b.as_bytes())
    } else {
        let ar: Vec<char> = a.chars().collect();
        let br: Vec<char> = b.chars().collect();
        key_order(&ar, &br)
    }
}

/// [`go_yaml_key_order`] over the characters of two keys.
fn key_order<T: Copy + Into<char>>(ar: &[T], br: &[T]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ch = |s: &[T], i: usize| -> char { s[i].into() };
    let less = |x: bool| if x { Ordering::Less } else { Ordering::Greater };
    let mut digits = false;
    let n = ar.len().min(br.len());
    for i in 0..n {
        let (a, b) = (ch(ar, i), ch(br, i));
        if a == b {
            digits = a.is_ascii_digit();
            continue;
        }
        let al = a.is_alphabetic();
        let bl = b.is_alphabetic();
        if al && bl {
            return a.cmp(&b);
        }
        if al || bl {
            return if digits { less(al) } else { less(bl) };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if a == '0' || b == '0' {
            let mut j = i;
            while j > 0 && ch(ar, j - 1).is_ascii_digit() {
                j -= 1;
                if ch(ar, j) != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ch(ar, ai).is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(ch(ar, ai) as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && ch(br, bi).is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(ch(br, bi) as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return a.cmp(&b);
    }
    ar.len().cmp(&br.len())
}

#[derive(Debug, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    u == 0x0A
        || (0x20..=0x7E).contains(&u)
        || u == 0x85
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}

fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

fn is_base60_float(s: &str) -> bool {
    // ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let d = i;
        while i < b.len() && b[i].is_ascii_digit() && i - d < 2 {
            i += 1;
        }
        let g = &b[d..i];
        let ok = match g.len() {
            1 => true,
            2 => g[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

fn choose_style(s: &str, simple_key: bool) -> Style {
    let resolves_to_str = plain_reads_back_as_itself(s);
    let can_plain = resolves_to_str && !is_base60_float(s) && !is_old_bool(s);
    let requested = if s.contains('\n') {
        Style::Literal
    } else if can_plain {
        Style::Plain
    } else {
        Style::Double
    };
    let a = analyze(s);
    match requested {
        Style::Plain => {
            if !a.block_plain || (s.is_empty() && simple_key) {
                if a.single {
                    Style::Single
                } else {
                    Style::Double
                }
            } else {
                Style::Plain
            }
        }
        Style::Literal => {
            if !a.block || simple_key {
                Style::Double
            } else {
                Style::Literal
            }
        }
        other => other,
    }
}

/// Whether `s` is one word of letters, digits and `._/-`, starting with a
/// letter, digit, `_` or `/`, that reads back as itself: [`choose_style`]
/// would print it plain, and [`Emitter::write_plain`] has nothing to fold
/// in it (no spaces), so it can be written as it is.
fn is_plain_word(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || first == b'_' || first == b'/')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-'))
        && plain_reads_back_as_itself(s)
        && !is_old_bool(s)
}

/// Whether `s`, printed plain, reads back as the same string (not as
/// null, a bool, a number or a timestamp).
fn plain_reads_back_as_itself(s: &str) -> bool {
    resolves_to_itself(s) && !looks_like_timestamp(s)
}

struct Analysis {
    block_plain: bool,
    single: bool,
    block: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            block_plain: true,
            single: true,
            block: false,
        };
    }
    // Most strings are ASCII, where a byte is a character: no need to
    // collect the characters first.
    if s.is_ascii() {
        analyze_chars(s, s.as_bytes())
    } else {
        let chars: Vec<char> = s.chars().collect();
        analyze_chars(s, &chars)
    }
}

/// [`analyze`] over the characters of the non-empty `s`.
fn analyze_chars<T: Copy + Into<char>>(s: &str, chars: &[T]) -> Analysis {
    let mut block_ind = false;
    if s.starts_with("---") || s.starts_with("...") {
        block_ind = true;
    }
    let mut special = false;
    let mut line_breaks = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_ws = true;
    for i in 0..chars.len() {
        let c: char = chars[i].into();
        let followed_ws = is_blankz(chars.get(i + 1).map(|&n| n.into()));
        let first = i == 0;
        let last = i + 1 == chars.len();
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' if followed_ws => block_ind = true,
                '-' if followed_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => block_ind = true,
                '#' if preceded_ws => block_ind = true,
                _ => {}
            }
        }
        if !is_printable(c) || c == '\u{feff}' {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if prev_break {
                break_space = true;
            }
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if prev_space {
                space_break = true;
            }
            prev_break = true;
            prev_space = false;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = is_blankz(Some(c));
    }
    let mut a = Analysis {
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks {
        a.block_plain = false;
    }
    if block_ind {
        a.block_plain = false;
    }
    a
}

/// Go's `json.Marshal` of a string (with HTML escaping), used for hashes.
pub fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
