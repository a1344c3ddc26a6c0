//! YAML in and out, the way Kustomize sees it.
//!
//! Kustomize decodes YAML with go-yaml v3 into plain Go values, goes through
//! JSON, and prints with go-yaml's emitter (itself a port of libyaml). This
//! module reproduces that round trip: [`parse_documents`] resolves plain
//! scalars with go-yaml v3's rules (so `on` stays a string, `0x1F` becomes 31,
//! a date becomes an RFC 3339 string) and [`emit_document`] prints a value with
//! sorted keys, 2-space indent, indentless sequences, go-yaml's quoting choice
//! and libyaml's 80-column folding. It owns no Kubernetes knowledge.
//!
//! `parse` reads, `emit` prints; this module holds the value type both share.

mod emit;
mod number;
mod parse;
mod value;

pub(crate) use emit::emit_document_checked;
pub use emit::{
    EmitOptions, FloatFormat, emit_document, emit_document_into, emit_document_with,
    go_json_string, go_yaml_key_order,
};
pub use number::{format_float, format_float_go};
pub(crate) use parse::parse_manifests_tracked;
pub use parse::{
    parse_documents, parse_documents_with, parse_manifests, resolve_plain, scan_error,
};
pub use value::{Map, Value};
pub(crate) use value::{lookup, lookup_mut};

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        let docs = parse_documents(s).expect("parses");
        emit_document(&docs[0])
    }

    #[test]
    fn sorts_keys_and_quotes_like_go_yaml() {
        let out = roundtrip("b: 'on'\na: [1, \"2\"]\nc: {}\nd: \"0123\"\ne: \"\"\n");
        assert_eq!(
            out,
            "a:\n- 1\n- \"2\"\nb: \"on\"\nc: {}\nd: \"0123\"\ne: \"\"\n"
        );
    }

    #[test]
    fn literal_blocks_and_chomping() {
        let out = roundtrip("a: \"x\\ny\"\nb: \"x\\n\"\nc: \"x\\n\\n\"\n");
        assert_eq!(out, "a: |-\n  x\n  y\nb: |\n  x\nc: |+\n  x\n\n");
    }

    #[test]
    fn only_a_plain_merge_key_merges() {
        // go-yaml: a quoted "<<" is an ordinary key; a plain one merges,
        // the mapping's own entries winning.
        let d = parse_documents("\"<<\": v\n<<: {a: 1, b: 2}\nb: 3\n").unwrap();
        assert_eq!(
            emit_document(&d[0]),
            "<<: v\na: 1\nb: 3\n",
            "a quoted key stays, the plain one merges"
        );
        assert!(parse_documents("<<: {a: 1}\n<<: {b: 2}\n").is_err());
        assert!(parse_documents("<<: scalar\n").is_err());
    }

    #[test]
    fn resolves_numbers_like_go() {
        let d = parse_documents("a: 0x1F\nb: 1_000\nc: 017\nd: 1.0\ne: 2001-12-14\n").unwrap();
        assert_eq!(d[0].get("a"), Some(&Value::Int(31)));
        assert_eq!(d[0].get("b"), Some(&Value::Int(1000)));
        assert_eq!(d[0].get("c"), Some(&Value::Int(15)));
        assert_eq!(
            emit_document(&d[0]),
            "a: 31\nb: 1000\nc: 15\nd: 1\ne: \"2001-12-14T00:00:00Z\"\n"
        );
    }

    /// Digit runs compare as numbers and letters sort after other
    /// characters, on the ASCII fast path and the character path alike.
    #[test]
    fn key_order_compares_digit_runs_as_numbers() {
        use std::cmp::Ordering::{Greater, Less};
        for (a, b, want) in [
            ("a9", "a10", Less),
            ("a1", "a01", Less),
            ("a_", "ab", Less),
            ("b", "a", Greater),
            ("é9", "é10", Less),
            ("xé", "x1", Greater),
        ] {
            assert_eq!(go_yaml_key_order(a, b), want, "{a} vs {b}");
            assert_eq!(go_yaml_key_order(b, a), want.reverse(), "{b} vs {a}");
        }
        let doc = parse_documents("a10: 1\na9: 2\nb: 3\n_x: 4\n").expect("parses");
        assert_eq!(emit_document(&doc[0]), "_x: 4\na9: 2\na10: 1\nb: 3\n");
    }

    /// Small mappings are searched in order, larger ones by hash: both
    /// find every key and miss absent ones.
    #[test]
    fn lookups_find_keys_in_small_and_large_mappings() {
        for n in [1, 8, 9, 40] {
            let mut m = Map::new();
            for i in 0..n {
                m.insert(format!("k{i}"), Value::Int(i));
            }
            let mut v = Value::Map(m);
            for i in 0..n {
                assert_eq!(v.get(&format!("k{i}")), Some(&Value::Int(i)), "{n} entries");
            }
            assert_eq!(v.get("k"), None);
            *v.get_mut(&format!("k{}", n - 1)).expect("present") = Value::Null;
            assert_eq!(v.get(&format!("k{}", n - 1)), Some(&Value::Null));
        }
    }

    #[test]
    fn folds_long_plain_strings() {
        let long = "hello world this is a very long string that should exceed the eighty column limit for sure yes";
        let out = roundtrip(&format!("p: {long}\n"));
        assert_eq!(
            out,
            "p: hello world this is a very long string that should exceed the eighty column limit\n  for sure yes\n"
        );
    }

    /// go-yaml v3 at indent 2 (Helm's `toYamlPretty`): sequences indented
    /// under their key, nothing folded, Go's float formatting; the
    /// expected text is what Helm v4.3.1 printed for the same values.
    #[test]
    fn go_yaml_v3_layout_indents_sequences_and_never_folds() {
        let long = "word ".repeat(30).trim_end().to_string();
        let doc = parse_documents(&format!(
            "a:\n  l: [1, [2, 3], {{k: [x]}}]\n  f: 1000000.5\nlong: {long}\n"
        ))
        .expect("parses");
        let mut value = doc[0].clone();
        *value.get_mut("a").and_then(|a| a.get_mut("f")).expect("f") = Value::Float(1e6);
        let pretty = emit_document_with(&value, EmitOptions::go_yaml_v3_indent2());
        assert_eq!(
            pretty,
            format!(
                "a:\n  f: 1e+06\n  l:\n    - 1\n    - - 2\n      - 3\n    - k:\n        - x\nlong: {long}\n"
            )
        );
        let kustomize = emit_document(&value);
        assert!(
            kustomize.starts_with("a:\n  f: 1000000\n  l:\n  - 1\n  - - 2\n"),
            "{kustomize}"
        );
        assert!(
            kustomize.contains("\n  word"),
            "folds at 80 columns: {kustomize}"
        );
        assert_eq!(
            emit_document_with(&value, EmitOptions::default()),
            kustomize,
            "the default options are Kustomize's layout"
        );
    }

    /// The "billion laughs" file: nine levels of ten aliases would expand
    /// to a billion nodes; it must fail fast instead of eating memory.
    #[test]
    fn nested_aliases_are_refused_before_they_expand() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let prev = level - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let error = parse_documents(&text).expect_err("refused");
        assert!(error.contains("aliases expand to more than"), "{error}");
        assert!(
            error.contains("--yaml-max-alias-nodes"),
            "names the flag: {error}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // A few honest aliases still work.
        let docs = parse_documents("base: &b {x: 1}\nuse: *b\n").expect("parses");
        assert_eq!(docs[0].path(&["use", "x"]), Some(&Value::Int(1)));
    }

    /// The parser bounds nesting itself (256 levels), flow and block alike.
    #[test]
    fn absurd_nesting_is_refused() {
        let flow = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        let error = parse_documents(&flow).expect_err("refused");
        assert!(error.contains("recursion limit"), "{error}");
        assert!(
            error.contains("--yaml-max-depth"),
            "names the flag: {error}"
        );
        let block: String = (0..1_000)
            .map(|i| format!("{}k:\n", "  ".repeat(i)))
            .collect();
        let error = parse_documents(&block).expect_err("refused");
        assert!(error.contains("recursion limit"), "{error}");
    }
}
