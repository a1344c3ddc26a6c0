//! Reading a rendered manifest's head (`kind`, `apiVersion`,
//! `metadata.name`, annotations) without the full YAML parser, when that
//! gives provably the same answer.
//!
//! Helm parses every rendered document (a YAML error fails the render) and
//! reads its head to set hooks apart and sort by kind. Running the full
//! parser over every document was the largest single cost of rendering a
//! big chart. Nearly all rendered documents are block YAML of a narrow
//! shape: mappings and sequences by indentation, one-line plain or quoted
//! scalars, literal and folded block scalars, `{}` and `[]`, comments. This
//! scanner reads that shape in one pass over the lines and answers only
//! when every line is in it. Anything else — anchors, aliases, tags, flow
//! collections, quoted scalars over several lines, plain scalars continued
//! on the next line, complex keys, merge keys, tabs outside block scalars,
//! directives and document markers, escapes and characters it does not
//! list, explicit block indentation, indentation it does not expect, deep
//! nesting, and what Helm's JSON step or its decoding into `SimpleHead`
//! refuses (null keys, infinities and NaN, a collection where a head
//! string or mapping belongs) — makes it give up (`None`), and the caller
//! runs the full parser, which then reads the head or fails with Helm's
//! message. The shape accepted is valid YAML to go-yaml and to our parser
//! alike, and a repeated key replaces the earlier one, as in the full read.
//!
//! A hand-written scanner rather than a crate: it must accept exactly a
//! subset of what the full parser accepts and reuse its scalar typing, and
//! no crate offers a strict "validate and pick three keys" pass.

use std::borrow::Cow;

use crate::json_step;
use crate::yaml::{plain_key, resolve_plain_v2};

/// What Helm's `SimpleHead` reads of a manifest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// `kind`.
    pub kind: String,
    /// `apiVersion`.
    pub api_version: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.annotations`, each value as its scalar text ("" when not a
    /// scalar), in first-seen key order.
    pub annotations: Vec<(String, String)>,
}

/// Deepest nesting the scanner follows; deeper documents go to the full
/// parser, which applies the configured limit and its message.
const MAX_DEPTH: usize = 64;
/// YAML caps an implicit key at 1024 characters; stay well under it.
const MAX_KEY: usize = 1000;

/// Where a block mapping sits, as far as the head is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Metadata,
    Annotations,
    Other,
}

/// An open block collection.
#[derive(Clone, Copy)]
struct Block {
    indent: usize,
    seq: bool,
    /// A sequence at its parent key's own indentation (`key:\n- a`).
    compact: bool,
    role: Role,
}

/// A node whose value starts on a later line.
#[derive(Clone, Copy)]
enum Pending {
    Nothing,
    /// `key:` at this indentation; a mapping opened under it has `role`,
    /// a scalar lands in `field`.
    Key {
        indent: usize,
        role: Role,
        field: Field,
    },
    /// `-` alone in a sequence at this indentation.
    Entry {
        indent: usize,
    },
}

/// Which head field a scalar value lands in.
#[derive(Clone, Copy)]
enum Field {
    None,
    Kind,
    ApiVersion,
    Name,
    Annotation(usize),
}

/// A literal or folded block scalar being skipped.
struct BlockScalar {
    /// Indentation of the collection holding it: content is deeper.
    parent: usize,
    /// Its content's indentation, once its first line is seen.
    indent: Option<usize>,
}

struct Scanner {
    stack: Vec<Block>,
    pending: Pending,
    scalar: Option<BlockScalar>,
    /// A plain scalar that deeper lines may continue: its collection's
    /// indentation.
    plain: Option<usize>,
    /// A quoted scalar open across lines: its quote and its collection's
    /// indentation.
    quote: Option<(u8, usize)>,
    head: Head,
}

/// The head of one rendered document, or `None` when the document is not
/// in the shape this scanner proves valid (the full parser decides then).
pub(crate) fn scan(doc: &str) -> Option<Head> {
    let mut scanner = Scanner {
        stack: Vec::new(),
        pending: Pending::Nothing,
        scalar: None,
        plain: None,
        quote: None,
        head: Head::default(),
    };
    for line in doc.split('\n') {
        scanner.line(line)?;
    }
    // A quote never closed is an error.
    scanner.quote.is_none().then_some(scanner.head)
}

impl Scanner {
    fn line(&mut self, line: &str) -> Option<()> {
        let spaces = line.bytes().take_while(|&b| b == b' ').count();
        let rest = &line[spaces..];
        if let Some(scalar) = &mut self.scalar {
            match scalar.indent {
                Some(indent) if spaces >= indent => return printable(rest, true).then_some(()),
                Some(_) if rest.is_empty() => return Some(()),
                // Leading blank lines with spaces can set the indentation
                // by themselves; leave those to the parser.
                None if rest.is_empty() => return (spaces == 0).then_some(()),
                None if spaces > scalar.parent => {
                    if rest.starts_with('\t') {
                        return None;
                    }
                    scalar.indent = Some(spaces);
                    return printable(rest, true).then_some(());
                }
                _ => {
                    // A tab where indentation is expected is an error.
                    if rest.starts_with('\t') {
                        return None;
                    }
                    self.scalar = None;
                }
            }
        }
        if !printable(rest, false) {
            return None;
        }
        if let Some((quote, parent)) = self.quote {
            // Blank lines fold; other lines must be deeper than the
            // collection holding the scalar.
            if rest.is_empty() {
                return Some(());
            }
            if spaces <= parent {
                return None;
            }
            if let Quoted::Closed(_, after) = quoted_from(rest, quote, 0)? {
                self.quote = None;
                return trailing_ok(after).then_some(());
            }
            return Some(());
        }
        if let Some(parent) = self.plain {
            if rest.starts_with('#') {
                // A comment ends the scalar: nothing may continue it.
                self.plain = None;
                return Some(());
            }
            if rest.is_empty() {
                return Some(());
            }
            if spaces > parent {
                return plain_line(rest).then_some(());
            }
            self.plain = None;
        }
        if rest.is_empty() || rest.starts_with('#') {
            return Some(());
        }
        if spaces == 0
            && (rest.starts_with("...") || rest.starts_with("---") || rest.starts_with('%'))
        {
            return None;
        }
        self.structural(spaces, rest)
    }

    /// A line holding a node at column `n`.
    fn structural(&mut self, n: usize, c: &str) -> Option<()> {
        let entry = is_entry(c);
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Key {
                indent,
                role,
                field,
            } if n > indent => return self.nested(n, c, indent, role, field),
            Pending::Key {
                indent,
                role,
                field,
            } if n == indent && entry => {
                if !sequence_allowed(role, field) {
                    return None;
                }
                self.push(Block {
                    indent: n,
                    seq: true,
                    compact: true,
                    role: Role::Other,
                })?;
                return self.entry(n, c);
            }
            Pending::Entry { indent } if n > indent => {
                return self.nested(n, c, indent, Role::Other, Field::None);
            }
            // Otherwise the pending value was null.
            _ => {}
        }
        if self.stack.is_empty() {
            // The document's first node: only a mapping at column 0.
            if n != 0 || entry || key(c)?.is_none() {
                return None;
            }
            return self.nested(0, c, 0, Role::Root, Field::None);
        }
        while let Some(top) = self.stack.last() {
            if top.indent > n || (top.indent == n && top.compact && !entry) {
                self.stack.pop();
            } else {
                break;
            }
        }
        let top = *self.stack.last()?;
        if top.indent != n {
            return None;
        }
        if top.seq {
            if !entry {
                return None;
            }
            self.entry(n, c)
        } else {
            let (key, plain, value) = key(c)??;
            self.map_value(n, top.role, &key, plain, value)
        }
    }

    /// The node of a key or entry (in a collection at column `parent`)
    /// that starts on its own line, at column `n` with `c`: a collection
    /// (a mapping has `role`) or a scalar (landing in `field`).
    fn nested(&mut self, n: usize, c: &str, parent: usize, role: Role, field: Field) -> Option<()> {
        if is_entry(c) {
            if !sequence_allowed(role, field) {
                return None;
            }
            self.push(Block {
                indent: n,
                seq: true,
                compact: false,
                role: Role::Other,
            })?;
            return self.entry(n, c);
        }
        let Some((key, plain, value)) = key(c)? else {
            // `metadata` and `annotations` must be mappings.
            if matches!(role, Role::Metadata | Role::Annotations) {
                return None;
            }
            return self.value(c, parent, field);
        };
        if !matches!(field, Field::None) {
            return None;
        }
        self.push(Block {
            indent: n,
            seq: false,
            compact: false,
            role,
        })?;
        self.map_value(n, role, &key, plain, value)
    }

    fn push(&mut self, block: Block) -> Option<()> {
        if self.stack.len() >= MAX_DEPTH {
            return None;
        }
        self.stack.push(block);
        Some(())
    }

    /// A sequence entry (`- ...`) at column `n`.
    fn entry(&mut self, n: usize, c: &str) -> Option<()> {
        let after = &c[1..];
        let pad = after.bytes().take_while(|&b| b == b' ').count();
        let rest = &after[pad..];
        let col = n + 1 + pad;
        if rest.is_empty() || rest.starts_with('#') {
            self.pending = Pending::Entry { indent: n };
            return Some(());
        }
        if is_entry(rest) {
            self.push(Block {
                indent: col,
                seq: true,
                compact: false,
                role: Role::Other,
            })?;
            return self.entry(col, rest);
        }
        match key(rest)? {
            Some((key, plain, value)) => {
                self.push(Block {
                    indent: col,
                    seq: false,
                    compact: false,
                    role: Role::Other,
                })?;
                self.map_value(col, Role::Other, &key, plain, value)
            }
            None => self.value(rest, n, Field::None),
        }
    }

    /// The value after `key:` in a mapping at column `m`.
    fn map_value(
        &mut self,
        m: usize,
        role: Role,
        key: &str,
        plain: bool,
        value: &str,
    ) -> Option<()> {
        if plain && json_step::is_null(key) {
            return None;
        }
        let head = &mut self.head;
        // A key seen again replaces its value, so each head field is
        // cleared when its key is met and set again by the value.
        let (field, child) = match role {
            Role::Root => match key {
                "kind" => {
                    head.kind.clear();
                    (Field::Kind, Role::Other)
                }
                "apiVersion" => {
                    head.api_version.clear();
                    (Field::ApiVersion, Role::Other)
                }
                "metadata" => {
                    head.name.clear();
                    head.annotations.clear();
                    (Field::None, Role::Metadata)
                }
                _ => (Field::None, Role::Other),
            },
            Role::Metadata => match key {
                "name" => {
                    head.name.clear();
                    (Field::Name, Role::Other)
                }
                "annotations" => {
                    head.annotations.clear();
                    (Field::None, Role::Annotations)
                }
                _ => (Field::None, Role::Other),
            },
            Role::Annotations => {
                let key = if plain {
                    plain_key(key)
                } else {
                    key.to_string()
                };
                let at = match head.annotations.iter().position(|(k, _)| *k == key) {
                    Some(at) => {
                        head.annotations[at].1.clear();
                        at
                    }
                    None => {
                        head.annotations.push((key, String::new()));
                        head.annotations.len() - 1
                    }
                };
                (Field::Annotation(at), Role::Other)
            }
            Role::Other => (Field::None, Role::Other),
        };
        let value = value.trim_start_matches(' ');
        if matches!(child, Role::Metadata | Role::Annotations)
            && !(value.is_empty() || value.starts_with('#') || value.starts_with("{}"))
        {
            return None;
        }
        if value.is_empty() || value.starts_with('#') {
            self.pending = Pending::Key {
                indent: m,
                role: child,
                field,
            };
            return Some(());
        }
        self.value(value, m, field)
    }

    /// A scalar (or `{}`/`[]`) on the line of its key or entry, inside a
    /// collection at column `parent`.
    fn value(&mut self, v: &str, parent: usize, field: Field) -> Option<()> {
        let b = v.as_bytes();
        let text = match b[0] {
            b'|' | b'>' => {
                // A head field written as a block scalar: leave it to the parser.
                if !matches!(field, Field::None) {
                    return None;
                }
                let h = &v[1..];
                let h = h.strip_prefix(['-', '+']).unwrap_or(h);
                if !(h.is_empty() || comment_follows(h)) {
                    return None;
                }
                self.scalar = Some(BlockScalar {
                    parent,
                    indent: None,
                });
                return Some(());
            }
            b'{' | b'[' if !matches!(field, Field::None) => return None,
            b'{' => {
                if b.get(1) != Some(&b'}') || !trailing_ok(&v[2..]) {
                    return None;
                }
                String::new()
            }
            b'[' => {
                if !trailing_ok(flow_sequence(v)?) {
                    return None;
                }
                String::new()
            }
            b'"' | b'\'' => match quoted(v)? {
                Quoted::Closed(text, rest) => {
                    if !trailing_ok(rest) {
                        return None;
                    }
                    if matches!(field, Field::None) {
                        return Some(());
                    }
                    text.into_owned()
                }
                // Head fields over several lines are left to the parser.
                Quoted::Open if matches!(field, Field::None) => {
                    self.quote = Some((b[0], parent));
                    return Some(());
                }
                Quoted::Open => return None,
            },
            _ => {
                let (text, commented) = plain_value(v)?;
                if json_step::non_finite(text).is_some() {
                    return None;
                }
                if matches!(field, Field::None) {
                    if !commented {
                        self.plain = Some(parent);
                    }
                    return Some(());
                }
                resolve_plain_v2(text).scalar_string().unwrap_or_default()
            }
        };
        let head = &mut self.head;
        match field {
            Field::None => {}
            Field::Kind => head.kind = text,
            Field::ApiVersion => head.api_version = text,
            Field::Name => head.name = text,
            Field::Annotation(at) => head.annotations[at].1 = text,
        }
        Some(())
    }
}

/// Whether a sequence may be the value of a key with these: not where
/// `SimpleHead` wants a mapping or a string.
fn sequence_allowed(role: Role, field: Field) -> bool {
    matches!(field, Field::None) && !matches!(role, Role::Metadata | Role::Annotations)
}

/// `- ...` or a lone `-`: a block sequence entry.
fn is_entry(c: &str) -> bool {
    c == "-" || c.starts_with("- ")
}

/// Whether `s` is only characters YAML allows in a document (tabs only
/// where asked), excluding those go-yaml and our parser read differently
/// (line and paragraph separators, next-line) and the byte-order mark.
fn printable(s: &str, tabs: bool) -> bool {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return true;
    }
    s.chars().all(|c| match c {
        '\t' => tabs,
        ' '..='~' => true,
        c => {
            c >= '\u{a0}'
                && !matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                )
        }
    })
}

/// Whether `s` (after a node) is empty, or spaces then an optional comment.
fn trailing_ok(s: &str) -> bool {
    s.is_empty() || comment_follows(s)
}

/// At least one space, then nothing or a comment.
fn comment_follows(s: &str) -> bool {
    let t = s.trim_start_matches(' ');
    t.len() < s.len() && (t.is_empty() || t.starts_with('#'))
}

/// Whether a plain scalar may start with `b[0]` (a conservative set: no
/// indicator, nothing YAML 1.1 and 1.2 read differently, ASCII only).
fn plain_start(b: &[u8]) -> bool {
    match b[0] {
        b'-' => b.get(1).is_some_and(|&c| c != b' '),
        c if c.is_ascii_alphanumeric() => true,
        b'_' | b'.' | b'/' | b'$' | b'(' | b')' | b'~' | b'+' | b'=' | b'^' | b';' | b'\\' => true,
        _ => false,
    }
}

/// The first line of a plain scalar in value position: its text and
/// whether a comment ends it, or `None` when it holds `: ` (a mapping
/// where none may start) or cannot start plain.
fn plain_value(v: &str) -> Option<(&str, bool)> {
    let b = v.as_bytes();
    if !plain_start(b) {
        return None;
    }
    for i in 1..b.len() {
        match b[i] {
            b':' if i + 1 == b.len() || b[i + 1] == b' ' => return None,
            b'#' if b[i - 1] == b' ' => return Some((v[..i].trim_end_matches(' '), true)),
            _ => {}
        }
    }
    Some((v.trim_end_matches(' '), false))
}

/// Whether `rest` (not blank, not a comment) may continue a plain scalar:
/// no `: ` (a multi-line key is an error) and no comment (nothing could
/// follow it).
fn plain_line(rest: &str) -> bool {
    let b = rest.as_bytes();
    (0..b.len()).all(|i| match b[i] {
        b':' => i + 1 < b.len() && b[i + 1] != b' ',
        b'#' => b[i - 1] != b' ',
        _ => true,
    })
}

/// A one-line flow sequence of quoted scalars and simple plain words
/// (`["", "apps"]`, `[a, b]`): what follows its `]`.
fn flow_sequence(v: &str) -> Option<&str> {
    let b = v.as_bytes();
    let spaces = |mut i: usize| {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let mut i = spaces(1);
    if b.get(i) == Some(&b']') {
        return Some(&v[i + 1..]);
    }
    loop {
        match b.get(i)? {
            b'"' | b'\'' => match quoted(&v[i..])? {
                Quoted::Closed(_, rest) => i = v.len() - rest.len(),
                Quoted::Open => return None,
            },
            c if c.is_ascii_alphanumeric() || *c == b'_' || *c == b'/' => {
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"_./-*".contains(c))
                {
                    i += 1;
                }
            }
            _ => return None,
        }
        i = spaces(i);
        match b.get(i)? {
            b']' => return Some(&v[i + 1..]),
            b',' => {
                i = spaces(i + 1);
                // A trailing comma, or anything but an item, is left to the parser.
                if matches!(b.get(i), None | Some(b']' | b',')) {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// A key and what follows its `:`, with whether the key is plain (typed
/// by go-yaml's rules) or quoted. `Some(None)`: the line is not a key
/// (maybe a scalar); `None`: give up.
#[allow(
    clippy::type_complexity,
    reason = "a local tri-state, named in the doc"
)]
fn key(c: &str) -> Option<Option<(Cow<'_, str>, bool, &str)>> {
    let b = c.as_bytes();
    if b[0] == b'"' || b[0] == b'\'' {
        let Quoted::Closed(text, rest) = quoted(c)? else {
            return Some(None);
        };
        let Some(after) = rest.strip_prefix(':') else {
            return Some(None);
        };
        if !(after.is_empty() || after.starts_with(' ')) || c.len() - rest.len() > MAX_KEY {
            return None;
        }
        return Some(Some((text, false, after)));
    }
    if !plain_start(b) {
        return Some(None);
    }
    for i in 1..b.len() {
        match b[i] {
            b':' if i + 1 == b.len() || b[i + 1] == b' ' => {
                let key = c[..i].trim_end_matches(' ');
                if key.len() > MAX_KEY || key == "<<" {
                    return None;
                }
                return Some(Some((Cow::Borrowed(key), true, &c[i + 1..])));
            }
            b'#' if b[i - 1] == b' ' => return Some(None),
            _ => {}
        }
    }
    Some(None)
}

/// A quoted scalar starting a line's node.
enum Quoted<'a> {
    /// Closed on this line: its text and what follows the closing quote.
    Closed(Cow<'a, str>, &'a str),
    /// Going on to the next line.
    Open,
}

/// A quoted scalar at the start of `v`. Double quotes take only the
/// escapes `\\`, `\"`, `\n`, `\t`, `\r`; anything else is `None`.
fn quoted(v: &str) -> Option<Quoted<'_>> {
    quoted_from(v, v.as_bytes()[0], 1)
}

/// The rest of a scalar quoted with `quote`, read from byte `from` of `v`.
fn quoted_from(v: &str, quote: u8, from: usize) -> Option<Quoted<'_>> {
    let b = v.as_bytes();
    let mut owned: Option<String> = None;
    let (start, mut from, mut i) = (from, from, from);
    let close = |owned: Option<String>, from: usize, at: usize| match owned {
        Some(mut s) => {
            s.push_str(&v[from..at]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(&v[start..at]),
    };
    while i < b.len() {
        match b[i] {
            b'\'' if quote == b'\'' => {
                if b.get(i + 1) != Some(&b'\'') {
                    return Some(Quoted::Closed(close(owned, from, i), &v[i + 1..]));
                }
                owned.get_or_insert_with(String::new).push_str(&v[from..=i]);
                i += 2;
                from = i;
            }
            b'"' if quote == b'"' => {
                return Some(Quoted::Closed(close(owned, from, i), &v[i + 1..]));
            }
            b'\\' if quote == b'"' => {
                let c = match b.get(i + 1)? {
                    b'\\' => '\\',
                    b'"' => '"',
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    _ => return None,
                };
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&v[from..i]);
                s.push(c);
                i += 2;
                from = i;
            }
            _ => i += 1,
        }
    }
    Some(Quoted::Open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::{parse_head, split_documents};

    /// The scanner answers only as the full parse would.
    fn agrees(doc: &str) -> bool {
        let Some(fast) = scan(doc) else {
            return false;
        };
        match parse_head(doc) {
            Ok(full) => assert_eq!(fast, full, "{doc:?}"),
            Err(e) => panic!("the scanner took a document the parser rejects ({e}): {doc:?}"),
        }
        true
    }

    #[test]
    fn reads_the_head_of_plain_block_yaml() {
        let doc = "# a comment\napiVersion: apps/v1\nkind: Deployment # trailing\nmetadata:\n  name: 'it''s'\n  labels:\n    a: b\n  annotations:\n    helm.sh/hook: \"pre-install,post-install\"\n    helm.sh/hook-weight: -5\n    1.0: one\n    n: no\n    empty:\nspec:\n  list:\n  - a\n  - b: c\n    d: [] # none\n  -\n    - deep\n  script: |-\n    kind: Secret\n\n      metadata: {\n  folded: >\n   text\t with a tab\n  args: {a: b}\n";
        // The flow mapping in `args` sends it to the parser.
        assert!(scan(doc).is_none());
        let doc = doc.replace("{a: b}", "{}");
        assert!(agrees(&doc));
        let head = scan(&doc).unwrap();
        assert_eq!(head.kind, "Deployment");
        assert_eq!(head.api_version, "apps/v1");
        assert_eq!(head.name, "it's");
        assert_eq!(
            head.annotations,
            [
                ("helm.sh/hook".into(), "pre-install,post-install".into()),
                ("helm.sh/hook-weight".into(), "-5".into()),
                ("1".into(), "one".into()),
                ("false".into(), "false".into()),
                ("empty".into(), String::new()),
            ]
        );
    }

    #[test]
    fn a_kind_not_at_the_top_is_not_the_kind() {
        for doc in [
            "spec:\n  kind: Secret\nkind: ConfigMap\n",
            "data:\n  x: |\n    kind: Secret\nkind: ConfigMap\n",
            "# kind: Secret\nkind: ConfigMap\n",
            "kind: \"Config\\tMap\"\n",
            "kind: Secret\nkind: ConfigMap\n",
            "metadata:\n  name: a\nmetadata:\n  labels: {}\n",
            "metadata:\n  annotations:\n    a: '1'\n    a: '2'\n",
            "items:\n- kind: Secret\n",
            "data:\n  text: a long\n    line, folded\n\n    - twice\n  next: 'quoted\n\n    over '' lines'\n  dq: \"x\\\"\n   y\" # done\nkind: ConfigMap\n",
            "spec:\n  resources:\n    {}\n  rules:\n  - apiGroups: [\"\", 'apps']\n    verbs: [ get, list ]\n    none: [ ]\n  -\n    plain\n    continued\nkind: Role\n",
            "kind:\n  Secret\nmetadata:\n  name:\n    'quoted'\n",
            "",
            "# only comments\n",
        ] {
            assert!(agrees(doc), "{doc:?}");
        }
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for doc in [
            // Invalid after the kind line.
            "kind: ConfigMap\nmetadata: name: x\n",
            "kind: ConfigMap\ndata:\n  a: 1\n b: 2\n",
            "kind: ConfigMap\ndata:\n  a: \"open\n",
            "kind: ConfigMap\n- a\n",
            "kind: ConfigMap\ndata:\n\ta: 1\n",
            // What Helm's JSON step or its SimpleHead decoding refuses.
            "kind:\n  - x\n",
            "kind: [x]\n",
            "kind: {}\n",
            "kind:\nmetadata: x\n",
            "metadata:\n  - x\n",
            "metadata:\n- x\n",
            "metadata:\n  x\n",
            "metadata:\n  name:\n    a: b\n",
            "metadata:\n  annotations: []\n",
            "metadata:\n  annotations:\n    a:\n      b: c\n",
            "metadata:\n  annotations:\n    a:\n    - b\n",
            "kind: ConfigMap\ndata:\n  a: .inf\n",
            "kind: ConfigMap\nitems:\n- -.Inf\n",
            "kind: ConfigMap\ndata:\n  ~: a\n",
            "kind: ConfigMap\nnull: a\n",
            // Valid, but outside the shape.
            "kind: ConfigMap\ndata: &d\n  a: 1\n",
            "kind: ConfigMap\nmore: *d\n",
            "kind: !!str ConfigMap\n",
            "kind: ConfigMap\ndata: {a: 1}\n",
            "kind: ConfigMap\ndata:\n  a: plain\n    continued: x\n",
            "kind: ConfigMap\ndata:\n  a: plain # ends here\n    continued\n",
            "kind: ConfigMap\ndata:\n  a: 'quoted\n\n  on' more\n",
            "kind: ConfigMap\ndata:\n  a: 'quoted\n on'\n",
            "kind: ConfigMap\ndata:\n  a: [x, ]\n",
            "kind: ConfigMap\ndata:\n  a: [*x]\n",
            "kind: ConfigMap\ndata:\n  a: [a b]\n",
            "kind: ConfigMap\ndata:\n  a:\n    {}\n    x\n",
            "kind: Config\n  Map\n",
            "kind: 'Config\n  Map'\n",
            "kind: ConfigMap\n? complex\n: key\n",
            "kind: ConfigMap\n<<: {a: 1}\n",
            "%YAML 1.1\nkind: ConfigMap\n",
            "kind: ConfigMap\n...\n",
            "\u{feff}kind: ConfigMap\n",
            "kind: Config\u{2028}Map\n",
            "kind: ConfigMap\r\n",
            "kind: |\n  ConfigMap\n",
            "kind: ConfigMap\ndata:\n  a: |2\n     x\n",
            "- a\n",
            "  kind: ConfigMap\n",
            "kind: \"\\u0041\"\n",
        ] {
            assert!(scan(doc).is_none(), "{doc:?}");
        }
    }

    /// Every document of the shared corpus, and many small corruptions of
    /// each: whenever the scanner answers, the full parse accepts the
    /// document and reads the same head.
    #[test]
    fn agrees_with_the_parser_on_the_corpus_and_its_corruptions() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/helm-conformance/cases");
        let Ok(dirs) = std::fs::read_dir(&corpus) else {
            assert!(
                std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
                "DRIFTLESS_REQUIRE_SHARED=1 but the Helm conformance corpus is missing at {}",
                corpus.display()
            );
            println!(
                "SKIPPED: no Helm conformance corpus at {}",
                corpus.display()
            );
            return;
        };
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap_or(0)
        };
        // `HEAD_FUZZ_ROUNDS` raises the corruptions per document for a longer run.
        let rounds: usize = std::env::var("HEAD_FUZZ_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(12);
        let (mut docs, mut fast, mut variants, mut variants_fast) = (0, 0, 0, 0);
        for dir in dirs.flatten() {
            let Ok(text) = std::fs::read_to_string(dir.path().join("expected.yaml")) else {
                continue;
            };
            for doc in split_documents(&text) {
                docs += 1;
                fast += usize::from(agrees(doc));
                if doc.len() > 16 * 1024 {
                    continue;
                }
                let lines: Vec<&str> = doc.split('\n').collect();
                for round in 0..rounds {
                    let mut v: Vec<String> = lines.iter().map(|l| (*l).to_string()).collect();
                    // One to three corruptions per variant.
                    for _ in 0..=round % 3 {
                        let at = rand(v.len());
                        let line = &mut v[at];
                        let pos = (0..=line.len())
                            .filter(|&i| line.is_char_boundary(i))
                            .nth(rand(line.chars().count() + 1))
                            .unwrap_or(0);
                        const INSERTS: &[&str] = &[
                            "\t", " ", ":", ": ", " #", "#", "\"", "'", "- ", "-", "&a ", "*a",
                            "!t ", "|", ">", "{", "[", "}", "]", ",", "?", "\\", "%", "@", "...",
                            "---", "kind: X", "\r", "\u{85}", "\u{feff}", "<<: ", "|2",
                        ];
                        match rand(6) {
                            0 | 1 => line.insert_str(pos, INSERTS[rand(INSERTS.len())]),
                            2 => {
                                if pos < line.len() {
                                    line.remove(pos);
                                }
                            }
                            3 => {
                                let dup = line.clone();
                                v.insert(at, dup);
                            }
                            4 => {
                                let other = rand(v.len());
                                v.swap(at, other);
                            }
                            _ => v.truncate(at + 1),
                        }
                    }
                    let variant = v.join("\n");
                    variants += 1;
                    variants_fast += usize::from(agrees(&variant));
                }
            }
        }
        println!(
            "scanner: {fast}/{docs} corpus documents, {variants_fast}/{variants} corrupted ones"
        );
        assert!(docs > 0, "the corpus has documents");
        assert!(
            fast * 10 > docs * 9,
            "the scanner reads most real documents"
        );
    }
}
