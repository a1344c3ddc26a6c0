//! Property fuzzing of the template engine (issue 17, item 4): texts built
//! from the language's pieces are parsed and executed with a small output
//! budget; each must finish (with output or an error) in bounded time and
//! within the budget, and never panic.
//!
//! The default case count keeps `cargo test` short; `DRIFTLESS_FUZZ_CASES`
//! raises it (`.ci/fuzz` sets it).

use std::sync::mpsc;
use std::time::Duration;

use driftless_gotemplate::{MissingKey, Options, TemplateSet, Value};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("DRIFTLESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The output budget of one execution in these targets.
const MAX_OUTPUT: usize = 64 * 1024;

/// The bytes one execution may build in these targets.
const MAX_BUILT: u64 = 64 * 1024 * 1024;

/// The step budget of one execution in these targets.
const MAX_STEPS: u64 = 1_000_000;

/// How long one parse and execution may take before it counts as running
/// away (generous: a debug build on a shared machine).
const DEADLINE: Duration = Duration::from_secs(20);

/// Pieces of templates: actions, control structures (balanced or not),
/// pipelines, variables, definitions and recursion, Sprig builders.
fn template_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "text ",
        "\n",
        "{{",
        "}}",
        "{{-",
        "-}}",
        "{{ . }}",
        "{{ .Values.a }}",
        "{{ .Values.list }}",
        "{{ .missing.deeper }}",
        "{{ range .Values.list }}",
        "{{ range $i, $v := until 50 }}",
        "{{ range until 3 }}",
        "{{ end }}",
        "{{ if .Values.a }}",
        "{{ else }}",
        "{{ with .Values }}",
        "{{ $x := 1 }}",
        "{{ $x = 2 }}",
        "{{ $x }}",
        "{{ define \"t\" }}",
        "{{ template \"t\" . }}",
        "{{ template \"missing\" }}",
        "{{ block \"b\" . }}",
        "{{ printf \"%v %q %d\" 1 \"a\" }}",
        "{{ repeat 1000 \"ab\" }}",
        "{{ indent 4 \"a\\nb\" }}",
        "{{ toJson .Values }}",
        "{{ len .Values.list }}",
        "{{ index .Values.list 5 }}",
        "{{ .Values.a | quote | upper }}",
        "{{ dict \"k\" 1 | toJson }}",
        "{{ add 1 \"x\" }}",
        "{{ div 1 0 }}",
        "{{ break }}",
        "{{ continue }}",
        "{{/* c */}}",
        "{{ nil }}",
        "{{ (1) }}",
        "{{ \"unterminated }}",
        "{{ 1.5e309 }}",
        "{{ 0x }}",
        "{{ and 1 0 }}",
        "{{ call .Values }}",
        "{{ trunc -5 \"abc\" }}",
        "{{ substr 5 1 \"abc\" }}",
        "{{ regexFind \"[\" \"a\" }}",
        "{{ semverCompare \">1\" \"x\" }}",
        "{{ fromJson \"{\" }}",
        "{{ range until 100000 }}",
        "{{ splitList \"\" \"abc\" }}",
        "{{ untilStep 0 10 0 }}",
    ]);
    prop::collection::vec(piece, 0..14).prop_map(|p| p.concat())
}

fn data() -> Value {
    Value::from(&serde_json::json!({
        "Values": { "a": "x", "list": [1, "two", {"k": [3]}, null] }
    }))
}

/// Parses and executes `text` on another thread; `None` when it did not
/// finish within [`DEADLINE`].
fn run(text: String) -> Option<Result<String, String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut set = TemplateSet::with_funcs(driftless_gotemplate::sprig::functions());
        set.set_options(Options {
            missing_key: MissingKey::Zero,
            max_depth: 200,
            max_output_bytes: MAX_OUTPUT,
            max_steps: MAX_STEPS,
            max_built_bytes: MAX_BUILT,
        });
        let result = set
            .parse("t.yaml", &text)
            .map_err(|e| e.to_string())
            .and_then(|()| set.execute("t.yaml", &data()).map_err(|e| e.to_string()));
        let _ = tx.send(result);
    });
    rx.recv_timeout(DEADLINE).ok()
}

proptest! {
    #![proptest_config(config())]

    /// Every text parses and runs to output or an error, in bounded time,
    /// with output within the budget.
    #[test]
    fn parse_and_execute_are_bounded(text in template_text()) {
        let outcome = run(text.clone());
        let Some(outcome) = outcome else {
            return Err(TestCaseError::fail(format!("ran for more than {DEADLINE:?}: {text:?}")));
        };
        if let Ok(out) = outcome {
            prop_assert!(out.len() <= MAX_OUTPUT, "{} bytes of output", out.len());
        }
    }
}

/// Regression: two nested ranges over `until 100000` print nothing, so
/// neither the output nor the depth bound stopped them (ten billion
/// iterations, hours of work); `Options::max_steps` now does.
#[test]
fn nested_ranges_without_output_are_bounded() {
    let text = "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}".to_owned();
    let outcome = run(text).expect("execution finishes within the deadline");
    assert!(
        outcome.is_err(),
        "ten billion iterations are refused: {outcome:?}"
    );
}
