//! Finding the marked scalars of one YAML text and computing their edits.
//!
//! The text is parsed into events with byte spans; a marker is a comment
//! after a value scalar on the same line (`image: app:1 # {...}`), or a
//! lone own-line comment before a scalar sequence item — the two
//! places where Flux's YAML library attaches a comment to a scalar node
//! (its line and head comments). Keys, block scalars and comments inside
//! block scalars are never markers, because the parser says what they are.

use std::borrow::Cow;

use granit_parser::{Event, Parser, Placement, ScalarStyle, Span};

use super::result::{Change, ObjectIdentifier};
use super::{Field, Setters, YamlError, style};

/// The quoted token Flux screens files for.
pub(crate) const TOKEN: &str = "\"$imagepolicy\"";

/// One scalar to rewrite.
#[derive(Debug)]
pub(crate) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// What one text needs.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub edits: Vec<Edit>,
    pub changes: Vec<(ObjectIdentifier, Change)>,
    /// (1-based line, reason) of marker-like comments not acted on.
    pub ignored: Vec<(usize, String)>,
}

/// Where the parser is: a mapping (waiting for a key or a value) or a
/// sequence.
enum Frame {
    Map {
        expect_key: bool,
        key: Option<String>,
    },
    Seq,
}

type Events<'a> = Vec<(Event<'a>, Span)>;

/// Scans `text`. Fails when it is not YAML, or when a document is a list
/// or a scalar: Flux's reader cannot annotate such a document and skips
/// the whole file.
pub(crate) fn scan(text: &str, setters: &Setters) -> Result<Scan, YamlError> {
    let events: Events<'_> = Parser::new_from_str(text)
        .collect::<Result<_, _>>()
        .map_err(|e| YamlError {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info(),
        })?;
    if let Some(span) = non_mapping_document(&events) {
        return Err(YamlError {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: "a document that is a list or a scalar, not a mapping".to_owned(),
        });
    }
    let mut out = Scan::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut object = ObjectIdentifier::default();
    // Changes of the current document, labelled once it is complete.
    let mut pending: Vec<Change> = Vec::new();
    for (i, (event, span)) in events.iter().enumerate() {
        match event {
            Event::DocumentStart(..) => {
                stack.clear();
                object = ObjectIdentifier::default();
            }
            Event::DocumentEnd => {
                out.changes
                    .extend(pending.drain(..).map(|c| (object.clone(), c)));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                advance(&mut stack);
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map {
                        expect_key: true,
                        key: None,
                    },
                    _ => Frame::Seq,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            Event::Alias(_) => advance(&mut stack),
            Event::Scalar(value, style, ..) => {
                let is_key = matches!(
                    stack.last(),
                    Some(Frame::Map {
                        expect_key: true,
                        ..
                    })
                );
                advance(&mut stack);
                if is_key {
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = Some(value.to_string());
                    }
                } else {
                    identify(&stack, value, &mut object);
                    let in_seq = matches!(stack.last(), Some(Frame::Seq));
                    if let Some((line, comment)) = marker_comment(text, &events, i, span, in_seq) {
                        let scalar = Scalar {
                            text,
                            value,
                            style: *style,
                            span,
                        };
                        apply(&scalar, line, comment, setters, &mut out, &mut pending);
                    }
                }
            }
            _ => {}
        }
    }
    // A stream without an explicit end still ends its document.
    out.changes
        .extend(pending.drain(..).map(|c| (object.clone(), c)));
    Ok(out)
}

/// The start of the first document whose root is a sequence or a
/// non-null scalar. (An empty or `null` document is skipped, as in Flux.)
fn non_mapping_document(events: &Events<'_>) -> Option<Span> {
    let mut at_root = false;
    for (event, span) in events {
        match event {
            Event::DocumentStart(..) => at_root = true,
            Event::MappingStart(..) => at_root = false,
            Event::SequenceStart(..) | Event::Alias(_) if at_root => return Some(*span),
            Event::Scalar(value, style, ..) if at_root => {
                let null = *style == ScalarStyle::Plain
                    && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                if !null {
                    return Some(*span);
                }
                at_root = false;
            }
            _ => {}
        }
    }
    None
}

/// A node starts where the top frame is: a mapping now waits for the
/// other half of its entry. The key of an entry stays known while its
/// value is read (the path to `metadata.name`); a key that is not a
/// scalar has no name.
fn advance(stack: &mut [Frame]) {
    if let Some(Frame::Map { expect_key, key }) = stack.last_mut() {
        if *expect_key {
            *key = None;
        }
        *expect_key = !*expect_key;
    }
}

/// Fills `apiVersion`, `kind`, `metadata.name` and `metadata.namespace`
/// from the value just read, when that is where it sits.
fn identify(stack: &[Frame], value: &str, object: &mut ObjectIdentifier) {
    fn key(frame: &Frame) -> Option<&str> {
        match frame {
            Frame::Map { key, .. } => key.as_deref(),
            Frame::Seq => None,
        }
    }
    let slot = match stack {
        [root] => match key(root) {
            Some("apiVersion") => &mut object.api_version,
            Some("kind") => &mut object.kind,
            _ => return,
        },
        [root, meta] if key(root) == Some("metadata") => match key(meta) {
            Some("name") => &mut object.name,
            Some("namespace") => &mut object.namespace,
            _ => return,
        },
        _ => return,
    };
    value.clone_into(slot);
}

/// The comment that marks the scalar at `events[i]`, with its 1-based line.
fn marker_comment<'e>(
    text: &str,
    events: &'e Events<'_>,
    i: usize,
    span: &Span,
    in_seq: bool,
) -> Option<(usize, &'e str)> {
    if let Some((Event::Comment(comment, Placement::Right), c)) = events.get(i + 1)
        && c.start.line() == span.end.line()
    {
        return Some((c.start.line(), comment));
    }
    if !in_seq {
        return None;
    }
    // A head comment: an own-line comment before the item (blank lines
    // may separate them); for a list's first item it comes before the
    // list's start. Consecutive comment lines join into one comment,
    // which is then not a marker.
    let mut at = i.checked_sub(1)?;
    if matches!(events[at].0, Event::SequenceStart(..)) {
        at = at.checked_sub(1)?;
    }
    let (Event::Comment(comment, Placement::Above | Placement::Free), c) = &events[at] else {
        return None;
    };
    // (A same-line comment before it belongs to the node before.)
    let lone =
        at == 0 || !matches!(events[at - 1].0, Event::Comment(_, p) if p != Placement::Right);
    let between = text.get(c.end.byte_offset()?..span.start.byte_offset()?)?;
    let only_the_dash = between.chars().filter(|ch| !ch.is_whitespace()).eq(['-']);
    (lone && only_the_dash).then_some((c.start.line(), comment))
}

struct Scalar<'a> {
    text: &'a str,
    value: &'a Cow<'a, str>,
    style: ScalarStyle,
    span: &'a Span,
}

/// Acts on `comment` (the text after `#`) marking `scalar`.
fn apply(
    scalar: &Scalar<'_>,
    line: usize,
    comment: &str,
    setters: &Setters,
    out: &mut Scan,
    pending: &mut Vec<Change>,
) {
    let mut ignore = |reason: String| out.ignored.push((line, reason));
    // Flux trims every leading `#` and reads the rest as a JSON object of
    // strings; anything else is an ordinary comment.
    let body = comment.trim_start_matches('#');
    let Ok(fields) = serde_json::from_str::<std::collections::HashMap<String, String>>(body) else {
        if body.contains(TOKEN) {
            ignore(format!(
                "comment is not a JSON object of strings: write # {{{TOKEN}: \"<namespace>:<policy>\"}}"
            ));
        }
        return;
    };
    let Some(setter) = fields.get("$imagepolicy").filter(|s| !s.is_empty()) else {
        return;
    };
    let Some((policy, field)) = setters.lookup(setter) else {
        if let Some(reason) = malformed_reference(setter) {
            ignore(reason);
        }
        // A well-formed reference to a policy not given: another
        // automation's marker, which Flux skips too.
        return;
    };
    let (Some(start), Some(end)) = (
        scalar.span.start.byte_offset(),
        scalar.span.end.byte_offset(),
    ) else {
        return;
    };
    if start == end {
        ignore(format!(
            "marker {setter:?} is on an empty value: give the field a value first"
        ));
        return;
    }
    if scalar.span.start.line() != scalar.span.end.line() || scalar.text[start..end].contains('\n')
    {
        ignore(format!(
            "marker {setter:?} is on a multi-line value: write the value on one line"
        ));
        return;
    }
    let new_value = match field {
        Field::Image => policy.reference(),
        Field::Tag => policy.tag.clone(),
        Field::Name => policy.name.clone(),
        Field::Digest => policy.digest.clone().unwrap_or_default(),
    };
    if new_value == scalar.value.as_ref() {
        return;
    }
    let Some(text) = style::render(&new_value, scalar.style) else {
        ignore(format!(
            "marker {setter:?} is on a block scalar: use a plain or quoted value"
        ));
        return;
    };
    out.edits.push(Edit { start, end, text });
    pending.push(Change {
        old_value: scalar.value.to_string(),
        new_value,
        setter: setter.clone(),
    });
}

/// Why `setter` cannot name a policy at all, if it cannot.
fn malformed_reference(setter: &str) -> Option<String> {
    let parts: Vec<&str> = setter.split(':').collect();
    match parts.as_slice() {
        [_] => Some(format!(
            "marker {setter:?} names no namespace: write \"<namespace>:{setter}\""
        )),
        [ns, name] if ns.is_empty() || name.is_empty() => Some(format!(
            "marker {setter:?} has an empty namespace or name: write \"<namespace>:<policy>\""
        )),
        [_, _] => None,
        [_, _, field] if ["tag", "name", "digest"].contains(field) => None,
        [_, _, field] => Some(format!(
            "marker {setter:?} has unknown field {field:?}: use :tag, :name or :digest"
        )),
        _ => Some(format!(
            "marker {setter:?} is not \"<namespace>:<policy>\" optionally followed by :tag, :name or :digest"
        )),
    }
}
