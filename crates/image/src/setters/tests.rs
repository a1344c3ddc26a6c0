//! `update_text` on small texts: what counts as a marker and how values
//! are written.

use super::*;

fn policies() -> BTreeMap<PolicyRef, ImageRef> {
    BTreeMap::from([(
        PolicyRef::new("ns", "app"),
        ImageRef {
            name: "reg/app".into(),
            tag: "1.10".into(),
            digest: None,
        },
    )])
}

fn updated(text: &str) -> String {
    update_text(text, &policies())
        .expect("parses")
        .text
        .unwrap_or_else(|| text.to_owned())
}

#[test]
fn only_the_marked_scalar_changes() {
    let text = "a: 1   # keep\nimage:  reg/app:1.0   # {\"$imagepolicy\": \"ns:app\"}\nb: {x: 1}\n";
    assert_eq!(
        updated(text),
        "a: 1   # keep\nimage:  reg/app:1.10   # {\"$imagepolicy\": \"ns:app\"}\nb: {x: 1}\n"
    );
}

#[test]
fn numeric_looking_tags_are_quoted_as_flux_quotes_them() {
    let text = "tag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
    assert_eq!(
        updated(text),
        "tag: \"1.10\" # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
    let quoted = "tag: '1.0' # {\"$imagepolicy\": \"ns:app:tag\"}\n";
    assert_eq!(
        updated(quoted),
        "tag: '1.10' # {\"$imagepolicy\": \"ns:app:tag\"}\n"
    );
}

#[test]
fn markers_in_block_scalars_and_after_keys_are_not_markers() {
    let block = "patch: |\n  image: a:1 # {\"$imagepolicy\": \"ns:app\"}\n";
    let update = update_text(block, &policies()).expect("parses");
    assert_eq!(update.text, None);
    assert!(update.ignored.is_empty());
    let on_key = "spec: # {\"$imagepolicy\": \"ns:app\"}\n  image: a:1\n";
    assert_eq!(update_text(on_key, &policies()).expect("parses").text, None);
}

#[test]
fn extra_hashes_and_fields_in_the_marker_are_accepted() {
    let text = "image: a:1 ## {\"$imagepolicy\": \"ns:app\", \"note\": \"x\"}\n";
    assert_eq!(
        updated(text),
        "image: reg/app:1.10 ## {\"$imagepolicy\": \"ns:app\", \"note\": \"x\"}\n"
    );
}

#[test]
fn flow_sequence_items_and_head_comments() {
    let flow = "args: [a:1, b] # {\"$imagepolicy\": \"ns:app\"}\n";
    // The comment follows the sequence, not a scalar: not a marker.
    assert_eq!(update_text(flow, &policies()).expect("parses").text, None);
    let two_comments = "args:\n  # first\n  # {\"$imagepolicy\": \"ns:app\"}\n  - a:1\n";
    assert_eq!(
        update_text(two_comments, &policies()).expect("parses").text,
        None
    );
}

#[test]
fn values_that_cannot_be_set_are_reported() {
    let empty = "image: # {\"$imagepolicy\": \"ns:app\"}\n";
    let update = update_text(empty, &policies()).expect("parses");
    assert_eq!(update.text, None);
    assert!(
        update.ignored[0].1.contains("empty value"),
        "{:?}",
        update.ignored
    );
    let folded = "image: >-\n  a:1\nx: \"multi\n  line\" # {\"$imagepolicy\": \"ns:app\"}\n";
    let update = update_text(folded, &policies()).expect("parses");
    assert_eq!(update.text, None);
    assert_eq!(update.ignored.len(), 1);
    assert_eq!(update.ignored[0].0, 4);
    assert!(
        update.ignored[0].1.contains("multi-line"),
        "{:?}",
        update.ignored
    );
}

#[test]
fn documents_are_identified_after_they_are_read() {
    let text = "spec:\n  image: a:1 # {\"$imagepolicy\": \"ns:app\"}\nmetadata:\n  name: late\nkind: Pod\napiVersion: v1\n";
    let update = update_text(text, &policies()).expect("parses");
    let (object, change) = &update.changes[0];
    assert_eq!(object.kind, "Pod");
    assert_eq!(object.name, "late");
    assert_eq!(object.api_version, "v1");
    assert_eq!(change.new_value, "reg/app:1.10");
}

#[test]
fn non_ascii_text_keeps_its_bytes() {
    let text = "note: \"héllo ✓\"\nimage: a:1 # {\"$imagepolicy\": \"ns:app\"} é\n";
    // Trailing text after the JSON makes it an ordinary comment.
    assert_eq!(update_text(text, &policies()).expect("parses").text, None);
    let text = "note: \"héllo ✓\"\nimage: a:1 # {\"$imagepolicy\": \"ns:app\"}\n";
    assert_eq!(
        updated(text),
        "note: \"héllo ✓\"\nimage: reg/app:1.10 # {\"$imagepolicy\": \"ns:app\"}\n"
    );
}

#[test]
fn text_that_is_not_yaml_names_the_position() {
    let text = "a: 1\nimage: [x # {\"$imagepolicy\": \"ns:app\"}\n  - : :\n";
    let err = update_text(text, &policies()).expect_err("not YAML");
    assert!(err.line >= 2, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("line {}, column", err.line)),
        "{err}"
    );
    // Without the token the text is not even parsed, as in Flux.
    assert_eq!(update_text("a: [", &policies()), Ok(TextUpdate::default()));
}

#[test]
fn a_document_that_is_not_a_mapping_makes_the_file_unreadable() {
    let list = "- image: a:1 # {\"$imagepolicy\": \"ns:app\"}\n";
    let err = update_text(list, &policies()).expect_err("top-level list");
    assert_eq!((err.line, err.column), (1, 1));
    let scalar = "a: 1 # {\"$imagepolicy\": \"ns:app\"}\n---\njust text\n";
    assert_eq!(
        update_text(scalar, &policies()).expect_err("scalar").line,
        3
    );
    // Empty and null documents are fine.
    let empty = "---\n# nothing\n---\n~\n---\nimage: a:1 # {\"$imagepolicy\": \"ns:app\"}\n";
    assert_eq!(
        updated(empty),
        "---\n# nothing\n---\n~\n---\nimage: reg/app:1.10 # {\"$imagepolicy\": \"ns:app\"}\n"
    );
}

#[test]
fn head_comment_markers_on_list_items() {
    // As yaml.v3 attaches head comments: to the first item through the
    // list start, across blank lines, and not when two comment lines join.
    let first = "args:\n  # {\"$imagepolicy\": \"ns:app\"}\n\n  - a:1\n  - b\n";
    assert_eq!(
        updated(first),
        "args:\n  # {\"$imagepolicy\": \"ns:app\"}\n\n  - reg/app:1.10\n  - b\n"
    );
    let later = "args:\n- zero # c\n# {\"$imagepolicy\": \"ns:app\"}\n- a:1\n";
    assert_eq!(
        updated(later),
        "args:\n- zero # c\n# {\"$imagepolicy\": \"ns:app\"}\n- reg/app:1.10\n"
    );
    // Above a key, a comment belongs to the key: not a marker.
    let key = "a:\n  # {\"$imagepolicy\": \"ns:app\"}\n  image: a:1\n";
    assert_eq!(update_text(key, &policies()).expect("parses").text, None);
}

#[test]
fn anchors_tags_and_aliases() {
    // The anchor and the tag stay; an alias is not a scalar and is not set.
    let text = "a: &img a:1 # {\"$imagepolicy\": \"ns:app\"}\nb: !!str a:1 # {\"$imagepolicy\": \"ns:app\"}\nc: *img # {\"$imagepolicy\": \"ns:app\"}\n";
    assert_eq!(
        updated(text),
        "a: &img reg/app:1.10 # {\"$imagepolicy\": \"ns:app\"}\nb: !!str reg/app:1.10 # {\"$imagepolicy\": \"ns:app\"}\nc: *img # {\"$imagepolicy\": \"ns:app\"}\n"
    );
}
