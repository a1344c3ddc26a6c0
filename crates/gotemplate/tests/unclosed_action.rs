//! Unclosed actions are parse errors, found at once: a template is user
//! input (charts, commit messages, branch names) and must never hang.

use std::sync::mpsc;
use std::time::Duration;

use driftless_gotemplate::TemplateSet;

#[test]
fn unclosed_actions_fail_to_parse_at_once() {
    let mut hung = Vec::new();
    for text in [
        "x/{{ .Policy.Name ",
        "x/{{ .Policy.Name",
        "{{",
        "{{ ",
        "{{- ",
        "{{ if .A }}",
        "{{ (.A ",
        "{{ \"abc",
        "{{ .A | ",
        "{{/* comment",
        "{{ $x := ",
        "{{ .A.",
        "{{ 12",
        "{{ 'a",
    ] {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut set = TemplateSet::new();
            let _ = sender.send(set.parse("t", text).is_err());
        });
        match receiver.recv_timeout(Duration::from_secs(5)) {
            Ok(failed) => assert!(failed, "{text:?} parsed"),
            Err(_) => hung.push(text),
        }
    }
    assert!(hung.is_empty(), "parsing hangs on {hung:?}");
}
