//! Reading YAML as go-yaml v3 decodes it: the event stream of a YAML 1.2
//! parser folded into [`Value`]s, plain scalars resolved with go-yaml's
//! rules (ints in Go's bases, YAML 1.1 floats, timestamps as strings).

use granit_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

use super::number::format_float;
use super::value::{Map, Value};

/// Parses a YAML stream into its documents, skipping empty ones.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    parse_documents_with(text, false)
}

/// Like [`parse_documents`]; with `allow_duplicates` a repeated key replaces
/// the earlier one (as Kustomize reads kustomization files).
pub fn parse_documents_with(text: &str, allow_duplicates: bool) -> Result<Vec<Value>, String> {
    parse(
        text,
        Options {
            allow_duplicates,
            as_kustomize_prints: false,
        },
    )
}

/// Parses Kubernetes manifests as Kustomize ends up printing them, where
/// that differs from what the YAML says:
/// - a folded block scalar (`>`) reads as Kustomize's round trip through
///   go-yaml's folded emitter leaves it ([`folded_round_trip`]): an extra
///   line break before each more-indented line;
/// - the values of a document's `metadata.annotations` are strings, the
///   text as written (`port: 8080` is `"8080"`, `0x10` stays `"0x10"`),
///   since Kustomize re-sets annotations as a string map.
pub fn parse_manifests(text: &str) -> Result<Vec<Value>, String> {
    parse(
        text,
        Options {
            allow_duplicates: false,
            as_kustomize_prints: true,
        },
    )
}

#[derive(Clone, Copy)]
struct Options {
    allow_duplicates: bool,
    as_kustomize_prints: bool,
}

fn parse(text: &str, options: Options) -> Result<Vec<Value>, String> {
    Ok(parse_tracked(text, options)?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// The parser's message; past the nesting bound, with the flag that raises it.
pub fn scan_error(error: &granit_parser::ScanError) -> String {
    if matches!(
        error.kind(),
        granit_parser::ErrorKind::RecursionLimitExceeded
    ) {
        format!(
            "{error} (collections nest deeper than {} levels; raise {} if this is honest)",
            driftless_limits::current().yaml_depth,
            driftless_limits::Limit::YamlDepth.flag()
        )
    } else {
        error.to_string()
    }
}

/// A document with the paths of its entries written with no value.
pub(crate) type TrackedDocument = (Value, Vec<Vec<String>>);

/// Like [`parse_manifests`], with each document the paths of its mapping
/// entries written with no value at all (`key:`), which Kustomize's
/// strategic merge drops while a literal `null` stays.
pub(crate) fn parse_manifests_tracked(text: &str) -> Result<Vec<TrackedDocument>, String> {
    parse_tracked(
        text,
        Options {
            allow_duplicates: false,
            as_kustomize_prints: true,
        },
    )
}

/// The path from the document root to the value about to be attached to
/// the innermost frame: its key or index, and those of every enclosing
/// frame.
fn path_to_next(stack: &[Frame]) -> Vec<String> {
    stack
        .iter()
        .map(|f| match f {
            Frame::Map(_, Some(k), ..) => k.clone(),
            Frame::Map(..) => String::new(),
            Frame::Seq(items, _) => items.len().to_string(),
        })
        .collect()
}

/// The parser's options: comments are skipped, never captured. Kustomize
/// drops them, and capturing them (the parser's default) costs a good part
/// of the parse; set here as well as by the crate's features, since another
/// crate in a build may turn the `comments` feature back on.
fn parser_options() -> granit_parser::Options {
    let mut options = granit_parser::Options::default();
    options.set_emit_comments(false);
    let depth = driftless_limits::current().yaml_depth;
    options.flow_nesting_limit = depth;
    options.block_nesting_limit = depth;
    options
}

fn parse_tracked(text: &str, options: Options) -> Result<Vec<TrackedDocument>, String> {
    let text_in = text;
    let mut empty_nulls: Vec<Vec<String>> = Vec::new();
    let allow_duplicates = options.allow_duplicates;
    let mut parser = Parser::new_from_str_with_options(text, parser_options());
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Each anchor with the number of nodes an alias to it copies.
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut expanded = 0usize;
    let max_alias_nodes = driftless_limits::current().yaml_alias_nodes;
    let mut root: Option<Value> = None;
    let mut in_doc = false;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| scan_error(&e))?;
        let value = match ev {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(..) => {
                in_doc = true;
                root = None;
                empty_nulls.clear();
                continue;
            }
            Event::DocumentEnd => {
                if in_doc && let Some(v) = root.take() {
                    docs.push((v, std::mem::take(&mut empty_nulls)));
                }
                in_doc = false;
                continue;
            }
            Event::Alias(id) => {
                let (value, nodes) = anchors
                    .get(&id)
                    .ok_or_else(|| format!("unknown alias at line {}", span.start.line()))?;
                expanded += nodes;
                if expanded > max_alias_nodes {
                    return Err(format!(
                        "line {}: aliases expand to more than {max_alias_nodes} nodes (nested anchors, as in a \"billion laughs\" file); use fewer aliases, or raise {}",
                        span.start.line(),
                        driftless_limits::Limit::YamlAliasNodes.flag()
                    ));
                }
                value.clone()
            }
            Event::Scalar(text, style, anchor, tag) => {
                if options.as_kustomize_prints
                    && style == ScalarStyle::Plain
                    && tag.is_none()
                    // The parser reports an absent value as `~`; its span
                    // shows there was no text.
                    && (text.is_empty()
                        || (&*text == "~" && source_of(text_in, &span).trim().is_empty()))
                    && matches!(stack.last(), Some(Frame::Map(_, Some(_), ..)))
                {
                    empty_nulls.push(path_to_next(&stack));
                }
                if options.as_kustomize_prints
                    && style == ScalarStyle::DoubleQuoted
                    && text.contains('/')
                    && escapes_slash(source_of(text_in, &span))
                {
                    return Err(format!(
                        "line {}: found unknown escape character \\/ (go-yaml, and so Kustomize, refuses it)",
                        span.start.line()
                    ));
                }
                if options.as_kustomize_prints && refused_by_json_round_trip(&text) {
                    return Err(format!(
                        "line {}: control characters are not allowed (Kustomize's JSON round trip refuses U+007F, U+0080 to U+009F but U+0085, U+FFFE and U+FFFF, even escaped)",
                        span.start.line()
                    ));
                }
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && let Some(start) = span.start.byte_offset()
                    && tab_in_block_indentation(text_in, start)
                {
                    return Err(format!(
                        "line {}: found a tab character where an indentation space is expected (go-yaml refuses a tab that starts a block scalar's first lines)",
                        span.start.line()
                    ));
                }
                // A block scalar whose last line ends the file without a
                // line break has no final break to keep (go-yaml).
                let text = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && ends_file_without_break(text_in, &span)
                {
                    let mut t = text.to_string();
                    if t.ends_with('\n') {
                        t.pop();
                    }
                    std::borrow::Cow::Owned(t)
                } else {
                    text
                };
                let v = if options.as_kustomize_prints && style == ScalarStyle::Folded {
                    Value::Str(folded_round_trip(&text)?)
                } else if options.as_kustomize_prints
                    && is_annotation_value(&stack)
                    && !matches!(&tag, Some(t) if t.core_suffix() == Some("null"))
                    && !(style == ScalarStyle::Plain && is_null_text(&text))
                {
                    Value::Str(text.to_string())
                } else {
                    resolve_scalar(&text, style, tag.as_deref())
                };
                if anchor != 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                if let Some(Frame::Map(_, None, _, merges)) = stack.last_mut() {
                    merges.key_is_merge = &*text == "<<"
                        && match &tag {
                            None => style == ScalarStyle::Plain,
                            Some(t) => t.core_suffix() == Some("merge"),
                        };
                }
                v
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor, Merges::default()));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => {
                    let v = Value::Seq(items);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), node_count(&v)));
                    }
                    v
                }
                _ => return Err("unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(mut m, _, anchor, merges)) => {
                    for merge in merges.maps {
                        for (k, v) in merge {
                            m.entry(k).or_insert(v);
                        }
                    }
                    let v = Value::Map(m);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), node_count(&v)));
                    }
                    v
                }
                _ => return Err("unbalanced mapping".into()),
            },
            _ => continue,
        };
        // Attach the finished value to its parent.
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(m, key, _, merges)) => match key.take() {
                None => {
                    let k = match value {
                        Value::Str(s) => s,
                        Value::Null => "null".to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => format_float(f),
                        _ => {
                            return Err(format!(
                                "line {}: a mapping key must be a scalar",
                                span.start.line()
                            ));
                        }
                    };
                    *key = Some(k);
                }
                Some(k) => {
                    let is_merge = std::mem::take(&mut merges.key_is_merge);
                    // Kustomize (kyaml) drops a manifest mapping's first
                    // entry named `<<`, merge key or quoted string alike,
                    // and keeps a later quoted one as an ordinary entry.
                    let drop = options.as_kustomize_prints && k == "<<" && !merges.dropped;
                    if drop {
                        merges.dropped = true;
                    }
                    if is_merge {
                        if std::mem::replace(&mut merges.merged, true) {
                            return Err(format!("line {}: duplicate merge key", span.start.line()));
                        }
                        match &value {
                            Value::Map(mm) => merges.maps.push(mm.clone()),
                            Value::Seq(items) => {
                                for it in items {
                                    match it {
                                        Value::Map(mm) => merges.maps.push(mm.clone()),
                                        _ => {
                                            return Err(format!(
                                                "line {}: a merge key's list must hold mappings only",
                                                span.start.line()
                                            ));
                                        }
                                    }
                                }
                            }
                            _ => {
                                return Err(format!(
                                    "line {}: a merge key (<<) needs a mapping or a list of mappings",
                                    span.start.line()
                                ));
                            }
                        }
                    }
                    if is_merge || drop {
                        // A merge key never shows (go-yaml merges it when
                        // Kustomize decodes the object, whichever entry
                        // kyaml dropped).
                    } else {
                        // One lookup per key: a repeated key is refused,
                        // or replaces the earlier value in its place.
                        match m.entry(k) {
                            indexmap::map::Entry::Occupied(o) if !allow_duplicates => {
                                return Err(format!(
                                    "line {}: mapping key {:?} already defined",
                                    span.start.line(),
                                    o.key()
                                ));
                            }
                            indexmap::map::Entry::Occupied(mut o) => {
                                o.insert(value);
                            }
                            indexmap::map::Entry::Vacant(v) => {
                                v.insert(value);
                            }
                        }
                    }
                }
            },
        }
    }
    if let Some(v) = root.take() {
        docs.push((v, empty_nulls));
    }
    Ok(docs.into_iter().filter(|(d, _)| !d.is_null()).collect())
}

/// Whether nothing but blanks follows the span and the file's last line,
/// which holds content, has no line break.
fn ends_file_without_break(text: &str, span: &granit_parser::Span) -> bool {
    // The file's last line must hold content: after a line of blanks the
    // scalar's last line did end with a break.
    let last_line = text.rsplit(['\n', '\r']).next().unwrap_or("");
    if last_line.chars().all(|c| c == ' ' || c == '\t') {
        return false;
    }
    match span.end.byte_offset() {
        Some(end) => text
            .get(end..)
            .is_some_and(|rest| rest.chars().all(|c| c == ' ' || c == '\t')),
        None => false,
    }
}

/// The source text a span covers (empty when the parser gave no offsets).
fn source_of<'a>(text: &'a str, span: &granit_parser::Span) -> &'a str {
    match (span.start.byte_offset(), span.end.byte_offset()) {
        (Some(a), Some(b)) if a <= b && b <= text.len() => text.get(a..b).unwrap_or(""),
        _ => "",
    }
}

/// Whether Kustomize fails on a manifest string holding this text: it
/// turns each object into JSON and reads that back as YAML, and JSON
/// leaves these characters unescaped where YAML's reader refuses them.
pub(crate) fn refused_by_json_round_trip(text: &str) -> bool {
    // Most text is ASCII, where only U+007F counts; both tests are
    // word-at-a-time or memchr scans.
    if text.is_ascii() {
        return text.as_bytes().contains(&0x7F);
    }
    text.chars()
        .any(|c| matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}'))
}

/// Whether go-yaml refuses a block scalar for a tab in its indentation:
/// without an indentation indicator, libyaml's scanner reads the blank
/// lines after the header and the first line with content before it knows
/// the indentation, and refuses a tab right after their leading spaces.
/// `start` is where the parser says the content starts (within its first
/// line with content).
fn tab_in_block_indentation(text: &str, start: usize) -> bool {
    let Some(before) = text.get(..start) else {
        return false;
    };
    let first_line = before.rfind('\n').map_or(0, |i| i + 1);
    // Lines before the first one with content, back to the header.
    let mut end = first_line;
    let mut checked_from = first_line;
    while end > 0 {
        let line_start = before[..end - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = &before[line_start..end - 1];
        if !line.trim().is_empty() {
            // The header: an indentation indicator makes the indentation
            // known from the start.
            let header = line.split(" #").next().unwrap_or(line);
            let indicator = header.rfind(['|', '>']).map_or("", |i| &header[i..]);
            if indicator.chars().any(|c| c.is_ascii_digit()) {
                return false;
            }
            break;
        }
        checked_from = line_start;
        end = line_start;
    }
    let first_end = text[first_line..]
        .find('\n')
        .map_or(text.len(), |i| first_line + i);
    text[checked_from..first_end]
        .split('\n')
        .any(|line| line.trim_start_matches(' ').starts_with('\t'))
}

/// Whether a double-quoted scalar's source escapes a slash (`\/`), which
/// YAML 1.2 allows but go-yaml does not.
fn escapes_slash(source: &str) -> bool {
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next() == Some('/') {
            return true;
        }
    }
    false
}

/// Whether the next scalar is the value of an entry of the document's
/// `metadata.annotations`.
fn is_annotation_value(stack: &[Frame]) -> bool {
    match stack {
        [
            Frame::Map(_, Some(k0), ..),
            Frame::Map(_, Some(k1), ..),
            Frame::Map(_, Some(_), ..),
        ] => k0 == "metadata" && k1 == "annotations",
        _ => false,
    }
}

fn is_null_text(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// The value a folded scalar has after Kustomize prints it with go-yaml's
/// folded emitter and reads that back (Kustomize's JSON conversion does
/// this to every object). The emitter writes each line break that ends a
/// line not starting with a blank as two breaks, which folds back to one,
/// except before a more-indented line, where both are kept; and when the
/// value's first character is a blank, it writes single breaks only (its
/// check looks at the value's start instead of the current position), so
/// ordinary lines fold into one. We print the same text and read it back.
pub fn folded_round_trip(value: &str) -> Result<String, String> {
    let is_break = |c: char| c == '\n' || c == '\r';
    let starts_blank = value
        .chars()
        .find(|&c| !is_break(c))
        .is_none_or(|c| c == ' ' || c == '\t');
    let mut body = String::with_capacity(value.len() + 16);
    let (mut breaks, mut leading_spaces) = (true, true);
    for c in value.chars() {
        if is_break(c) {
            if !breaks && !leading_spaces && c == '\n' && !starts_blank {
                body.push('\n');
            }
            body.push('\n');
            breaks = true;
        } else {
            if breaks {
                body.push_str("  ");
                leading_spaces = c == ' ' || c == '\t';
            }
            body.push(c);
            breaks = false;
        }
    }
    let chomp = {
        let mut rev = value.chars().rev();
        match (rev.next(), rev.next()) {
            (None, _) => "-",
            (Some(last), _) if !is_break(last) => "-",
            (Some(_), None) => "+",
            (Some(_), Some(before)) if is_break(before) => "+",
            _ => "",
        }
    };
    let doc = format!("k: >2{chomp}\n{body}");
    let docs = parse(
        &doc,
        Options {
            allow_duplicates: false,
            as_kustomize_prints: false,
        },
    )?;
    match docs.first().and_then(|d| d.get("k")) {
        Some(Value::Str(s)) => Ok(s.clone()),
        _ => Ok(String::new()),
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map, Option<String>, usize, Merges),
}

/// A mapping's merge keys (`<<`) while it is read.
#[derive(Default)]
struct Merges {
    /// The mappings its merge key names, the first one winning.
    maps: Vec<Map>,
    /// Whether the pending key is a merge key: a plain, untagged `<<`
    /// (or one tagged `!!merge`); a quoted `"<<"` is an ordinary string.
    key_is_merge: bool,
    /// Whether the mapping had a merge key already.
    merged: bool,
    /// Whether an entry named `<<` was dropped already (see
    /// [`Options::as_kustomize_prints`] in `attach`).
    dropped: bool,
}

fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&granit_parser::Tag>) -> Value {
    if let Some(tag) = tag {
        match tag.core_suffix() {
            Some("str") => return Value::Str(text.to_string()),
            Some("int" | "float" | "bool" | "null") => {
                return resolve_plain(text);
            }
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Value::Str(text.to_string());
    }
    resolve_plain(text)
}

/// How many nodes `value` holds, itself included.
fn node_count(value: &Value) -> usize {
    match value {
        Value::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Map(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// Resolves a plain scalar with go-yaml v3's rules.
pub fn resolve_plain(s: &str) -> Value {
    if let Some(v) = keyword(s) {
        return v;
    }
    if !may_be_number(s) {
        return Value::Str(s.to_string());
    }
    let first = s.as_bytes()[0];
    // Digit separators go; most numbers have none, and are read in place.
    let plain: std::borrow::Cow<str> = if s.contains('_') {
        s.chars().filter(|&c| c != '_').collect::<String>().into()
    } else {
        s.into()
    };
    if let Some(i) = parse_go_int(&plain) {
        return Value::Int(i);
    }
    // Go's ParseFloat refuses what overflows (`1e400`), which go-yaml then
    // keeps as a string; Rust's parse gives an infinity.
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    if first.is_ascii_digit()
        && let Some(ts) = parse_timestamp(s)
    {
        return Value::Str(ts);
    }
    Value::Str(s.to_string())
}

/// The null, bool, infinity and not-a-number words of plain scalars.
fn keyword(s: &str) -> Option<Value> {
    Some(match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => return None,
    })
}

/// Whether a plain scalar that is no keyword may be a number or a
/// timestamp (only those start with a digit, a sign or a dot).
fn may_be_number(s: &str) -> bool {
    s.as_bytes()
        .first()
        .is_some_and(|&b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'))
}

/// Whether the plain scalar `s` reads as the string `s` itself, as
/// [`resolve_plain`] reads it, without building the value: the emitter
/// asks this of every string it prints.
pub(super) fn resolves_to_itself(s: &str) -> bool {
    if keyword(s).is_some() {
        return false;
    }
    !may_be_number(s) || matches!(resolve_plain(s), Value::Str(ref r) if r == s)
}

fn parse_go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(r) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, r)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        if v > (i64::MAX as u128) + 1 {
            return None;
        }
        Some(-(v as i128))
    } else {
        if v > u64::MAX as u128 {
            return None;
        }
        Some(v as i128)
    }
}

fn is_yaml_float(s: &str) -> bool {
    // ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let start = i;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let d = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == d {
            return false;
        }
    } else {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let d = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == d {
            return false;
        }
    }
    i == b.len()
}

fn parse_timestamp(s: &str) -> Option<String> {
    // Only the date form `YYYY-M-D` is handled; Go prints it as midnight UTC.
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3
        || parts[0].len() != 4
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 || p.len() == 4)
        || !parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let m: u32 = parts[1].parse().ok()?;
    let d: u32 = parts[2].parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(format!("{}-{m:02}-{d:02}T00:00:00Z", parts[0]))
}

pub(super) fn looks_like_timestamp(s: &str) -> bool {
    use std::sync::OnceLock;
    // The pattern starts with four digits: most strings fail at the first.
    if !s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]{1,9})?(Z|[-+][0-9]{2}:[0-9]{2}))|( [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]{1,9})?))?$",
        )
        .expect("valid regex")
    })
    .is_match(s)
}
