//! YAML as Helm reads it: `sigs.k8s.io/yaml`, that is go-yaml v2's scalar
//! resolution followed by a JSON round trip.
//!
//! This module owns the reading side only (values files, Chart.yaml,
//! `fromYaml`); printing goes through the render crate's go-yaml emitter.
//! The differences from the render crate's reader are deliberate: go-yaml v2
//! takes `yes`/`no`/`on`/`off`/`y`/`n` for booleans, keeps timestamps as the
//! text written, and the JSON step turns every number into a float64 (so a
//! values file's `1000000` later prints as `1e+06`) and refuses what JSON
//! cannot hold ([`crate::json_step`]). Errors read as Helm's do, from
//! `error converting YAML to JSON:` on.

use std::borrow::Cow;
use std::collections::HashMap;

use driftless_render::yaml::{Map, Value, format_float};
use granit_parser::{ErrorKind, Event, Options, Parser, ScalarStyle, ScanError};

use crate::json_step;

/// How many times a text is read again after giving a `#` that follows a
/// token directly the blank our parser wants (see [`parse_text`]).
const MAX_COMMENT_FIXES: usize = 64;

/// Parses every document of `text` the way `sigs.k8s.io/yaml.Unmarshal`
/// would decode it into `interface{}`; empty documents come back as `Null`.
///
/// # Errors
/// Helm's message from `error converting YAML to JSON:` on, when `text` is
/// not YAML or holds what JSON cannot (`.inf`, a null key).
pub fn parse_stream(text: &str) -> Result<Vec<Value>, String> {
    match parse_text(text, Reading::Stream)? {
        Parsed::Docs(docs) => Ok(docs),
        Parsed::NeedsFull => unreachable!("a full parse never asks for one"),
    }
}

/// The first document of a manifest as Helm decodes it into `SimpleHead`
/// (`yaml.Unmarshal` reads one document and never looks past its end, so
/// `a: 1` then `...` then anything parses), keeping only what `SimpleHead`
/// reads: top-level scalars, and `metadata`'s scalars and `annotations`.
/// Every other collection comes back empty (of its kind), but the whole
/// document is still parsed, so the same texts fail with the same errors.
/// Building and dropping the rest of a large document (a CRD's schema) was
/// most of the cost of sorting manifests.
///
/// # Errors
/// As [`parse_stream`].
pub fn parse_head_stream(text: &str) -> Result<Vec<Value>, String> {
    match parse_text(text, Reading::Head)? {
        Parsed::Docs(docs) => Ok(docs),
        // Anchors, merge keys and null keys can need a skipped node.
        Parsed::NeedsFull => match parse_text(text, Reading::FirstDocument)? {
            Parsed::Docs(docs) => Ok(docs),
            Parsed::NeedsFull => unreachable!("a full parse never asks for one"),
        },
    }
}

/// How much of a text to read, and how.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Every document, every node.
    Stream,
    /// The first document, every node.
    FirstDocument,
    /// The first document, skipping what `SimpleHead` does not read.
    Head,
}

/// libyaml (so go-yaml) takes a `#` right after a quoted scalar or a flow
/// collection (`"x"# note`) as a comment; our parser wants a blank before
/// it. Such a `#` gets one and the text is read again, a bounded number of
/// times; the blank changes no value and no line.
fn parse_text(text: &str, reading: Reading) -> Result<Parsed, String> {
    let mut text = Cow::Borrowed(text);
    let mut fixes = 0;
    loop {
        match parse_events(&text, reading) {
            Ok(parsed) => return Ok(parsed),
            Err(Failure::Message(message)) => return Err(message),
            Err(Failure::Syntax(error)) => match unseparated_comment(&text, &error) {
                Some(at) if fixes < MAX_COMMENT_FIXES => {
                    text.to_mut().insert(at, ' ');
                    fixes += 1;
                }
                _ => return Err(syntax_message(&text, &error)),
            },
        }
    }
}

/// Where the `#` is, when `error` is about a comment with no blank
/// before it.
fn unseparated_comment(text: &str, error: &ScanError) -> Option<usize> {
    if !matches!(error.kind(), ErrorKind::CommentNotSeparated) {
        return None;
    }
    let at = error.marker().byte_offset()?;
    (text.as_bytes().get(at) == Some(&b'#')).then_some(at)
}

/// Helm's words for a YAML syntax error (our limit's own, for nesting).
fn syntax_message(text: &str, error: &ScanError) -> String {
    let problem = if matches!(error.kind(), ErrorKind::RecursionLimitExceeded) {
        driftless_render::yaml::scan_error(error)
    } else {
        crate::yaml_error::go_yaml_message(text, error)
    };
    format!("error converting YAML to JSON: yaml: {problem}")
}

/// Why a text could not be read.
enum Failure {
    /// Our parser's syntax error, worded later against the text.
    Syntax(ScanError),
    /// A finished message.
    Message(String),
}

/// A message for go-yaml's decoding step (after `yaml: `).
fn decode_failure(problem: &str) -> Failure {
    Failure::Message(format!("error converting YAML to JSON: yaml: {problem}"))
}

enum Parsed {
    Docs(Vec<Value>),
    NeedsFull,
}

/// Whether a collection opened under `parent` (with its pending key) is
/// part of the head: the root, `metadata`, `metadata.annotations`.
fn in_head(stack: &[Frame]) -> bool {
    match stack {
        [] => true,
        [Frame::Map(_, Some(key), ..)] => key == "metadata",
        [Frame::Map(..), Frame::Map(_, Some(key), ..)] => key == "annotations",
        _ => false,
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one event loop; splitting it would scatter its shared state"
)]
fn parse_events(source: &str, reading: Reading) -> Result<Parsed, Failure> {
    let head_only = reading == Reading::Head;
    // Comments mean nothing to Helm's reading, and with the parser's
    // `comments` feature on (another crate of the build enables it) each
    // one would be captured and buffered as an event: turn that off.
    let mut options = Options::default();
    options.set_emit_comments(false);
    let depth = driftless_limits::current().yaml_depth;
    options.flow_nesting_limit = depth;
    options.block_nesting_limit = depth;
    let mut parser = Parser::new_from_str_with_options(source, options);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut expanded = 0usize;
    let mut root: Option<Value> = None;
    let mut in_doc = false;
    // What the JSON step will refuse, once the whole text has parsed: the
    // first null key (its message names the value, attached at this
    // depth) before the first infinity or NaN.
    let mut null_key: Option<Result<String, usize>> = None;
    let mut non_finite: Option<&'static str> = None;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(Failure::Syntax)?;
        let line = span.start.line();
        let skipping = matches!(stack.last(), Some(Frame::Skip(..)));
        let key_next = matches!(
            stack.last(),
            Some(Frame::Map(_, None, ..) | Frame::Skip(true, true))
        );
        if let Event::Scalar(text, ScalarStyle::Plain, _, tag) = &event
            && tag
                .as_ref()
                .is_none_or(|t| t.core_suffix() == Some("float"))
        {
            // Our parser reads a missing key as `~`.
            if key_next
                && matches!(text.as_ref(), "" | "~")
                && starts_block_line_with_colon(source, &span)
            {
                // go-yaml has no empty implicit key in a block mapping.
                let problem = "did not find expected key";
                return Err(decode_failure(&match line - 1 {
                    0 => problem.to_string(),
                    n => format!("line {n}: {problem}"),
                }));
            }
            if key_next && skipping && json_step::is_null(text) {
                return Ok(Parsed::NeedsFull);
            }
            if !key_next && non_finite.is_none() {
                non_finite = json_step::non_finite(text);
            }
        }
        let value = match event {
            Event::StreamStart | Event::StreamEnd => continue,
            Event::DocumentStart(..) => {
                in_doc = true;
                root = None;
                continue;
            }
            Event::DocumentEnd => {
                if in_doc {
                    docs.push(root.take().unwrap_or(Value::Null));
                }
                in_doc = false;
                if reading == Reading::Stream {
                    continue;
                }
                break;
            }
            Event::Alias(_) if head_only => return Ok(Parsed::NeedsFull),
            Event::Alias(id) => {
                let (value, nodes) = anchors
                    .get(&id)
                    .ok_or_else(|| decode_failure("unknown anchor referenced"))?;
                expanded += nodes;
                let max = driftless_limits::current().yaml_alias_nodes;
                if expanded > max {
                    return Err(decode_failure(&format!(
                        "line {line}: aliases expand to more than {max} nodes; use fewer aliases, or raise {}",
                        driftless_limits::Limit::YamlAliasNodes.flag()
                    )));
                }
                value.clone()
            }
            Event::Scalar(text, _, anchor, _) if head_only && (anchor != 0 || text == "<<") => {
                return Ok(Parsed::NeedsFull);
            }
            // Only its kind matters to a skipped collection.
            // A resolvable tag can fail; only the full parse checks it.
            Event::Scalar(_, _, _, Some(_)) if skipping => return Ok(Parsed::NeedsFull),
            Event::Scalar(..) if skipping => Value::Null,
            Event::Scalar(mut text, style, anchor, tag) => {
                if text.ends_with('\n')
                    && ends_block_scalar_at_eof_without_break(source, style, &span)
                {
                    // libyaml keeps a block scalar's last line break only
                    // when the text has one; our parser always adds it.
                    text.to_mut().pop();
                }
                let v = resolve_scalar(&text, style, tag.as_deref())?;
                if anchor != 0 {
                    anchors.insert(anchor, (v.clone(), 1));
                }
                v
            }
            Event::SequenceStart(_, anchor, _) | Event::MappingStart(_, anchor, _)
                if head_only && anchor != 0 =>
            {
                return Ok(Parsed::NeedsFull);
            }
            Event::SequenceStart(..) if head_only && !in_head(&stack) => {
                stack.push(Frame::Skip(false, true));
                continue;
            }
            Event::MappingStart(..) if head_only && !in_head(&stack) => {
                stack.push(Frame::Skip(true, true));
                continue;
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame::Map(Map::new(), None, anchor, Vec::new()));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Skip(false, _)) => Value::Seq(Vec::new()),
                Some(Frame::Seq(items, anchor)) => {
                    let v = Value::Seq(items);
                    if anchor != 0 {
                        anchors.insert(anchor, (v.clone(), node_count(&v)));
                    }
                    v
                }
                _ => return Err(decode_failure(&format!("line {line}: unbalanced sequence"))),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Skip(true, _)) => Value::Map(Map::new()),
                Some(Frame::Map(mut m, _, anchor, merges)) => {
                    for merge in merges {
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
                _ => return Err(decode_failure(&format!("line {line}: unbalanced mapping"))),
            },
            _ => continue,
        };
        let depth = stack.len();
        match stack.last_mut() {
            None => root = Some(value),
            Some(Frame::Skip(false, _)) => {}
            Some(Frame::Skip(true, expecting_key)) => {
                // A skipped key's text is gone: one that is a collection
                // needs the full parse to be named in the error.
                if *expecting_key && matches!(value, Value::Map(_) | Value::Seq(_)) {
                    return Ok(Parsed::NeedsFull);
                }
                *expecting_key = !*expecting_key;
            }
            Some(Frame::Seq(items, _)) => items.push(value),
            Some(Frame::Map(m, key, _, merges)) => match key.take() {
                None => {
                    // A collection key is only named whole by the full parse.
                    if head_only && matches!(value, Value::Map(_) | Value::Seq(_)) {
                        return Ok(Parsed::NeedsFull);
                    }
                    if value == Value::Null && null_key.is_none() {
                        if head_only {
                            return Ok(Parsed::NeedsFull);
                        }
                        null_key = Some(Err(depth));
                    }
                    *key = Some(key_string(&value)?);
                }
                Some(k) if k == "<<" => {
                    let maps = match value {
                        Value::Map(mm) => vec![mm],
                        Value::Seq(items) => items
                            .into_iter()
                            .map(|i| match i {
                                Value::Map(mm) => Some(mm),
                                _ => None,
                            })
                            .collect::<Option<Vec<Map>>>()
                            .ok_or_else(merge_failure)?,
                        _ => return Err(merge_failure()),
                    };
                    merges.extend(maps);
                }
                // go-yaml v2 (non-strict) lets a repeated key replace the first.
                Some(k) => {
                    if null_key == Some(Err(depth)) {
                        null_key = Some(Ok(json_step::null_key(&value)));
                    }
                    m.insert(k, value);
                }
            },
        }
    }
    if let Some(v) = root.take() {
        docs.push(v);
    }
    if let Some(Ok(message)) = null_key {
        return Err(Failure::Message(format!(
            "error converting YAML to JSON: {message}"
        )));
    }
    if let Some(go_name) = non_finite {
        return Err(Failure::Message(format!(
            "error converting YAML to JSON: {}",
            json_step::unsupported_value(go_name)
        )));
    }
    Ok(Parsed::Docs(docs))
}

/// Whether a block scalar (`|`, `>`) runs to the end of a text whose last
/// line has no line break, so its value's last `\n` is one libyaml never
/// read.
fn ends_block_scalar_at_eof_without_break(
    source: &str,
    style: ScalarStyle,
    span: &granit_parser::Span,
) -> bool {
    matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
        && !source[source.trim_end().len()..].contains(['\n', '\r'])
        && span
            .end
            .byte_offset()
            .is_some_and(|end| source[end.min(source.len())..].trim().is_empty())
}

/// Whether `span` starts at a `:` with nothing but blanks and sequence
/// entries' `- ` before it on its line: a block mapping entry with no key.
fn starts_block_line_with_colon(text: &str, span: &granit_parser::Span) -> bool {
    let Some(at) = span.start.byte_offset().or_else(|| {
        text.char_indices()
            .nth(span.start.index())
            .map(|(at, _)| at)
    }) else {
        return false;
    };
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |n| n + 1);
    text.as_bytes().get(at) == Some(&b':')
        && text[line_start..at]
            .split("- ")
            .all(|part| part.bytes().all(|b| b == b' '))
}

fn merge_failure() -> Failure {
    decode_failure("map merge requires map or sequence of maps as the value")
}

/// Reads one document into a mapping, as `yaml.Unmarshal(data, &map)` does:
/// an empty document is an empty map, anything else but a map is an error.
///
/// # Errors
/// When the text is not YAML or its first document is not a mapping.
pub fn parse_map(text: &str) -> Result<Map, String> {
    let docs = parse_stream(text)?;
    match docs.into_iter().next() {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Map(m)) => Ok(m),
        Some(other) => Err(format!(
            "cannot unmarshal {} into a mapping",
            other.type_name()
        )),
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map, Option<String>, usize, Vec<Map>),
    /// A collection outside the head: is it a mapping, and is its next
    /// node a key.
    Skip(bool, bool),
}

fn node_count(value: &Value) -> usize {
    match value {
        Value::Seq(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Map(map) => 1 + map.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

/// The JSON object key a plain YAML key becomes (`n` is `false`, `1.0`
/// is `1`).
pub(crate) fn plain_key(text: &str) -> String {
    key_string(&resolve_plain_v2(text)).unwrap_or_default()
}

/// JSON object keys: sigs.k8s.io/yaml prints a non-string key as its
/// text. A null key gets a placeholder; the caller reports it.
fn key_string(value: &Value) -> Result<String, Failure> {
    Ok(match value {
        Value::Str(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Seq(_) | Value::Map(_) => {
            return Err(decode_failure(&json_step::invalid_key(value)));
        }
    })
}

fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&granit_parser::Tag>,
) -> Result<Value, Failure> {
    if let Some(tag) = tag {
        // `core_suffix` knows only the seven JSON-schema names; go-yaml
        // also resolves `!!binary` and `!!timestamp`.
        match tag.suffix_in_namespace("tag:yaml.org,2002:").as_deref() {
            Some("str") => return Ok(Value::Str(text.to_string())),
            Some("binary") => {
                // go-yaml hands on the decoded bytes as a Go string, which
                // the JSON step writes in Go's rune view.
                return driftless_gotemplate::sprig::encoding::base64_std_decode(text)
                    .map(|bytes| Value::Str(driftless_gotemplate::raw_string::rune_view(&bytes)))
                    .map_err(|_| decode_failure("!!binary value contains invalid base64 data"));
            }
            Some(wanted @ ("int" | "float" | "bool" | "null" | "timestamp")) => {
                let found = implicit_tag(text, wanted == "timestamp");
                // An integer fits a `!!float` tag (it becomes a float64).
                if found != wanted && !(wanted == "float" && found == "int") {
                    return Err(decode_failure(&format!(
                        "cannot decode !!{found} `{text}` as a !!{wanted}"
                    )));
                }
                return Ok(match found {
                    "timestamp" => Value::Str(text.to_string()),
                    _ => resolve_plain_v2(text),
                });
            }
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_string()));
    }
    Ok(resolve_plain_v2(text))
}

/// The tag go-yaml v2's `resolve` finds for `text` (without the `!!`), to
/// check an explicit tag against; timestamps are looked for only under an
/// explicit `!!timestamp`, as go-yaml does for a tagged scalar.
fn implicit_tag(text: &str, timestamp_wanted: bool) -> &'static str {
    if timestamp_wanted && is_timestamp(text) {
        return "timestamp";
    }
    match resolve_plain_v2(text) {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Float(_) if parse_go_int(&text.replace('_', "")).is_some() => "int",
        Value::Float(_) => "float",
        _ if json_step::non_finite(text).is_some() => "float",
        _ => "str",
    }
}

/// go-yaml v2's timestamp forms: a date `YYYY-M-D`, alone or followed by
/// a time after `T`, `t` or a space.
fn is_timestamp(text: &str) -> bool {
    let date_end = text.find(['T', 't', ' ']).unwrap_or(text.len());
    let parts: Vec<&str> = text[..date_end].split('-').collect();
    let digits = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    matches!(parts.as_slice(), [y, m, d] if digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2))
        && (date_end == text.len() || text[date_end + 1..].contains(':'))
}

/// go-yaml v2's implicit typing of a plain scalar, with numbers already
/// turned into float64 as the JSON step does.
#[must_use]
pub fn resolve_plain_v2(s: &str) -> Value {
    if json_step::is_null(s) {
        return Value::Null;
    }
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false);
        }
        // JSON has no infinities or NaN; sigs.k8s.io/yaml hands them on as
        // Go prints them, which no chart relies on. Keep the text.
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::Str(s.to_string());
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        #[allow(clippy::cast_precision_loss)]
        return Value::Float(i as f64);
    }
    // go-yaml keeps a float out of float64's range (`1e400`) as text.
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// `strconv.ParseInt(s, 0, 64)` then `ParseUint`, plus v2's `0b` binary.
fn parse_go_int(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
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
    let v = i128::try_from(v).ok()?;
    if negative {
        (v <= i128::from(i64::MAX) + 1).then_some(-v)
    } else {
        (v <= i128::from(u64::MAX)).then_some(v)
    }
}

/// go-yaml's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parse_keeps_the_head_and_fails_alike() {
        let doc = "kind: CustomResourceDefinition\napiVersion: v1\nmetadata:\n  name: x\n  labels: {a: b}\n  annotations:\n    helm.sh/hook: pre-install\n    n: 5\n    l: [1]\nspec:\n  deep: {a: [1, {b: 2}]}\n";
        let head = parse_head_stream(doc).unwrap();
        let Value::Map(m) = &head[0] else {
            panic!("a map")
        };
        assert_eq!(m["kind"], Value::Str("CustomResourceDefinition".into()));
        assert_eq!(m["spec"], Value::Map(Map::new()));
        let Value::Map(meta) = &m["metadata"] else {
            panic!("metadata")
        };
        assert_eq!(meta["name"], Value::Str("x".into()));
        assert_eq!(meta["labels"], Value::Map(Map::new()));
        let full = parse_stream(doc).unwrap();
        let Value::Map(full) = &full[0] else {
            panic!("a map")
        };
        // What the head reads of annotations: their scalar text.
        let texts = |v: &Value| -> Vec<(String, Option<String>)> {
            v.as_map()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.scalar_string()))
                .collect()
        };
        assert_eq!(
            texts(&meta["annotations"]),
            texts(&full["metadata"].as_map().unwrap()["annotations"])
        );
        // Aliases and merges may copy skipped nodes: the full parse decides.
        let aliased = "x: &m {name: y}\nmetadata: *m\n";
        assert_eq!(
            parse_head_stream(aliased).unwrap(),
            parse_stream(aliased).unwrap()
        );
        for bad in [
            "a: [1\n",
            "spec:\n  ? [k]\n  : v\n",
            "a: *nope\n",
            "- a\nb: c\n",
        ] {
            assert_eq!(parse_head_stream(bad), parse_stream(bad), "{bad}");
        }
        assert!(parse_head_stream("spec:\n  ? [k]\n  : v\n").is_err());
    }

    #[test]
    fn a_block_scalar_keeps_a_last_line_break_only_if_the_text_has_one() {
        // What go-yaml gave Helm's `fromYaml` for each text.
        for (text, value) in [
            ("k: |\n  a\n  b", "a\nb"),
            ("k: >\n  a\n  b", "a b"),
            ("k: |+\n  a", "a"),
            ("k: |-\n  a", "a"),
            ("k: |\n  a\n  ", "a\n"),
            ("k: |\n  a\n", "a\n"),
            ("k: |\n  a\n# c", "a\n"),
        ] {
            assert_eq!(
                parse_map(text).unwrap()["k"],
                Value::Str(value.into()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn yaml_v2_booleans_and_json_numbers() {
        let m = parse_map("a: yes\nb: off\nnum: 1000000\nt: 2001-12-14\nh: 0x1F\no: 017\nq: '1'\nf: 1.5\nbig: 12345678901234567890\n").unwrap();
        assert_eq!(m["a"], Value::Bool(true));
        assert_eq!(m["b"], Value::Bool(false));
        assert_eq!(m["num"], Value::Float(1e6));
        assert_eq!(m["t"], Value::Str("2001-12-14".into()));
        assert_eq!(m["h"], Value::Float(31.0));
        assert_eq!(m["o"], Value::Float(15.0));
        assert_eq!(m["q"], Value::Str("1".into()));
        assert_eq!(m["f"], Value::Float(1.5));
        assert_eq!(m["big"], Value::Float(1.234_567_890_123_456_7e19));
    }

    #[test]
    fn non_string_keys_become_text_and_duplicates_replace() {
        let m = parse_map("1: x\ntrue: y\nn: z\na: 1\na: 2\n").unwrap();
        assert_eq!(m["1"], Value::Str("x".into()));
        assert_eq!(m["true"], Value::Bool(true));
        assert_eq!(m["false"], Value::Str("z".into()));
        assert_eq!(m["a"], Value::Float(2.0));
    }

    #[test]
    fn empty_and_non_map_documents() {
        assert!(parse_map("").unwrap().is_empty());
        assert!(parse_map("# only a comment\n").unwrap().is_empty());
        assert!(parse_map("- a\n").is_err());
        assert_eq!(parse_stream("a: 1\n---\nb: 2\n").unwrap().len(), 2);
    }

    #[test]
    fn merge_keys_and_aliases() {
        let m = parse_map("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n").unwrap();
        assert_eq!(m["use"].get("x"), Some(&Value::Float(1.0)));
    }
}
