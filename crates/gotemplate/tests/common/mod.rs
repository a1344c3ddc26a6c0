//! Shared helpers for the integration tests: render a template with Sprig
//! and the JSON values Helm would pass.

use driftless_gotemplate::{MissingKey, Options, TemplateSet, Value};

/// The data every table case renders against, shaped like Helm's values.
pub fn data() -> Value {
    Value::from(&serde_json::json!({
        // As Helm passes them: values.yaml's `nul: null` key is dropped by
        // Helm's coalescing, so `.Values.nul` is simply missing.
        "Values": {
            "big": 1000000,
            "f": 3.5,
            "i": 3,
            "s": "abc",
            "l": [1, 2, "x"],
            "m": {"b": 2, "a": 1},
            "t": true,
            "empty": "",
            "zero": 0,
            "nested": {"inner": {"v": "deep"}},
        },
        "Release": {"Name": "rel", "Namespace": "ns"},
    }))
}

/// Renders `text` with Sprig, `missingkey=zero` like Helm, against `data()`.
pub fn render(text: &str) -> Result<String, String> {
    render_with(text, MissingKey::Zero)
}

/// Renders `text` with the given missing-key mode.
#[allow(dead_code, reason = "not every test file uses every helper")]
pub fn render_with(text: &str, missing_key: MissingKey) -> Result<String, String> {
    run_with(
        Options {
            missing_key,
            ..Options::default()
        },
        text,
    )
}

/// Renders `text` with Sprig and the given options against `data()`.
#[allow(dead_code, reason = "not every test file uses every helper")]
pub fn run_with(options: Options, text: &str) -> Result<String, String> {
    let mut set = TemplateSet::with_funcs(driftless_gotemplate::sprig::functions());
    set.set_options(options);
    set.parse("t", text).map_err(|e| e.to_string())?;
    set.execute("t", &data()).map_err(|e| e.to_string())
}

/// Asserts every `(template, expected output)` pair; an expected value
/// starting with `ERR:` must be a substring of the error.
#[allow(dead_code, reason = "not every test file uses every helper")]
pub fn check_table(cases: &[(&str, &str)]) {
    check(cases, false);
}

/// As [`check_table`], with Helm's replacement of `<no value>` by "".
#[allow(dead_code, reason = "not every test file uses every helper")]
pub fn check_helm_table(cases: &[(&str, &str)]) {
    check(cases, true);
}

fn check(cases: &[(&str, &str)], like_helm: bool) {
    let mut failures = Vec::new();
    for (template, expected) in cases {
        let got = render(template).map(|out| {
            if like_helm {
                out.replace("<no value>", "")
            } else {
                out
            }
        });
        let ok = match (expected.strip_prefix("ERR:"), &got) {
            (Some(fragment), Err(error)) => error.contains(fragment),
            (None, Ok(output)) => output == expected,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{template}\n  expected: {expected}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
