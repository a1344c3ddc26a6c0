//! `values.schema.json` validation, as Helm runs it after coalescing: each
//! chart's schema against its values, each enabled subchart's schema
//! against its own part, errors gathered under the chart's name.
//!
//! The JSON Schema semantics are `boon`'s, a Rust port by the author of the
//! Go library Helm 4 validates with (santhosh-tekuri/jsonschema): every
//! draft from 4 to 2020-12, 2020-12 when a schema names none, metaschema
//! checks, `format` asserted under drafts 4 to 7 only. This module owns what Helm adds: which
//! values each schema sees (as JSON: numbers, not YAML's types), the words
//! Helm 4 prints for each failure, and references. A render reads nothing
//! outside the chart and never the network: a reference to another file is
//! refused as Helm refuses one it cannot open (it resolves them against
//! `file:///`), and a remote one accepts anything, where Helm would fetch.

mod words;

use std::error::Error;
use std::fmt::Write as _;

use boon::{CompileError, Compiler, Schemas, UrlLoader};
use driftless_render::yaml::Value;
use serde_json::Value as J;

use crate::chart::Chart;
use crate::error::ChartError;
use words::{Report, quote};

/// Where Helm's validator places a chart's schema.
const SCHEMA_URL: &str = "file:///values.schema.json";

/// The schemas of a chart tree, taken out of it so a render can validate
/// on one thread while it executes templates on another: charts by name,
/// as `validate` finds each chart's part of the values.
pub struct SchemaTree {
    chart: String,
    schema: Option<Vec<u8>>,
    dependencies: Vec<SchemaTree>,
}

impl SchemaTree {
    /// Moves every schema out of `chart` and its enabled subcharts.
    pub fn take(chart: &mut Chart) -> SchemaTree {
        SchemaTree {
            chart: chart.name().to_string(),
            schema: chart.schema.take(),
            dependencies: chart
                .dependencies
                .iter_mut()
                .map(SchemaTree::take)
                .collect(),
        }
    }

    /// Whether any chart in the tree has a schema: without one, validating
    /// only checks that each subchart's values are a map.
    pub fn has_schemas(&self) -> bool {
        self.schema.is_some() || self.dependencies.iter().any(SchemaTree::has_schemas)
    }
}

/// Validates `values` (the root chart's map) against the chart tree's
/// schemas.
///
/// # Errors
/// Every violation, by chart, in Helm's layout.
pub fn validate(tree: &SchemaTree, values: &Value) -> Result<(), ChartError> {
    let mut report = String::new();
    validate_into(tree, values, &mut report);
    if report.is_empty() {
        Ok(())
    } else {
        Err(ChartError::Invalid(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
        )))
    }
}

fn validate_into(tree: &SchemaTree, values: &Value, report: &mut String) {
    if let Some(raw) = &tree.schema
        && let Err(failures) = check(raw, values)
    {
        let _ = write!(report, "{}:\n{failures}", tree.chart);
    }
    let Value::Map(values) = values else {
        return;
    };
    for sub in &tree.dependencies {
        match values.get(&sub.chart) {
            None | Some(Value::Null) => {}
            Some(map @ Value::Map(_)) => validate_into(sub, map, report),
            Some(other) => {
                let _ = writeln!(
                    report,
                    "{}:\ninvalid type for values: expected object (map), got {}",
                    sub.chart,
                    other.type_name()
                );
            }
        }
    }
}

/// `values` against the schema text `raw`: `Err` holds the lines Helm
/// prints under the chart's name.
fn check(raw: &[u8], values: &Value) -> Result<(), String> {
    if raw.trim_ascii().is_empty() {
        // Go's JSON decoder on nothing.
        return Err("EOF\n".into());
    }
    let schema = parse(raw)?;
    let mut compiler = Compiler::new();
    compiler.use_loader(Box::new(NoFilesNoNetwork));
    // Formats Go's validator does not know, which it lets pass.
    for name in ["idn-email", "idn-hostname"] {
        compiler.register_format(boon::Format {
            name,
            func: |_| Ok(()),
        });
    }
    let mut schemas = Schemas::new();
    // The compiler takes the parsed schema rather than a copy and is
    // dropped (with the metaschemas) before the values are validated: a
    // large schema costs a render's peak memory once. The rare failure
    // parses the text again for its report.
    let compiled = match compiler.add_resource(SCHEMA_URL, schema) {
        Ok(()) => compiler.compile(SCHEMA_URL, &mut schemas),
        Err(error) => Err(error),
    };
    drop(compiler);
    let index = compiled.map_err(|e| compile_message(&e, &parse(raw).unwrap_or_default()))?;
    let instance = to_json(values);
    schemas.validate(&instance, index).map_err(|error| {
        let schema = parse(raw).unwrap_or_default();
        let report = Report {
            schema: &schema,
            instance: &instance,
        };
        let mut lines = String::new();
        report.write_all(&mut lines, &error.causes, 0);
        lines
    })
}

/// The schema text as JSON, or Helm's words for text that is not.
fn parse(raw: &[u8]) -> Result<J, String> {
    serde_json::from_slice(raw).map_err(|e| format!("values.schema.json is not JSON: {e}\n"))
}

/// Refuses every file (Helm would open it from `/`) and answers every
/// remote reference with the schema that accepts anything.
struct NoFilesNoNetwork;

impl UrlLoader for NoFilesNoNetwork {
    fn load(&self, url: &str) -> Result<J, Box<dyn Error>> {
        match url.strip_prefix("file://") {
            Some(path) => Err(format!("open {path}: no such file or directory").into()),
            None => Ok(J::Bool(true)),
        }
    }
}

/// Helm's words for a schema it cannot compile, with a line break.
fn compile_message(error: &CompileError, schema: &J) -> String {
    match error {
        CompileError::LoadUrlError { url, src } => format!("failing loading {url:?}: {src}\n"),
        CompileError::JsonPointerNotFound(url) => format!("json-pointer in {url:?} not found\n"),
        CompileError::ValidationError { url, src } => {
            let mut lines = format!(
                "{url:?} is not valid against metaschema: jsonschema validation failed with {}\n",
                quote(src.schema_url)
            );
            let metaschema = J::Null;
            let report = Report {
                schema: &metaschema,
                instance: schema,
            };
            report.write_all(&mut lines, &src.causes, 0);
            lines
        }
        other => format!("{other}\n"),
    }
}

/// A value as the JSON Helm hands its validator.
fn to_json(value: &Value) -> J {
    match value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => {
            i64::try_from(*i).map_or_else(|_| u64::try_from(*i).map_or(J::Null, J::from), J::from)
        }
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => J::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), to_json(item)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::words::{localized_count, localized_float};
    use super::*;

    fn values(text: &str) -> Value {
        Value::Map(crate::values::load_values(text).unwrap_or_else(|e| panic!("{e}")))
    }

    fn sorted(lines: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = lines.lines().collect();
        lines.sort_unstable();
        lines
    }

    #[test]
    fn valid_values_pass_and_violations_read_as_helms() {
        let schema = br#"{"type":"object","required":["a","b"],"properties":{
            "s":{"type":"string","minLength":3,"pattern":"^x+$"},
            "e":{"enum":["x","y"]},"o":{"oneOf":[{"type":"string"},{"type":"boolean"}]},
            "l":{"type":"array","minItems":3,"uniqueItems":true}}}"#;
        check(
            schema,
            &values(
                "a: 1
b: 2
s: xxx
",
            ),
        )
        .unwrap();
        let failures = check(
            schema,
            &values(
                "s: zz
e: q
o: 1
l: [1, 1]
",
            ),
        )
        .unwrap_err();
        // The lines the real Helm v4.3.1 printed (their order varies
        // between Helm's own runs).
        let helm = "- at '': missing properties 'a', 'b'
- at '/s': validation failed
  - at '/s': minLength: got 2, want 3
  - at '/s': 'zz' does not match pattern '^x+$'
- at '/e': value must be one of 'x', 'y'
- at '/l': validation failed
  - at '/l': minItems: got 2, want 3
  - at '/l': items at 0 and 1 are equal
- at '/o': 'oneOf' failed, none matched
  - at '/o': got number, want string
  - at '/o': got number, want boolean
";
        assert_eq!(sorted(&failures), sorted(helm));
    }

    #[test]
    fn references_stay_inside_the_chart() {
        let remote = br#"{"$ref": "https://example.com/schema.json"}"#;
        check(
            remote,
            &values(
                "a: 1
",
            ),
        )
        .unwrap();
        let relative = br#"{"properties": {"a": {"$ref": "defs.json"}}}"#;
        assert_eq!(
            check(
                relative,
                &values(
                    "a: 1
"
                )
            )
            .unwrap_err(),
            "failing loading \"file:///defs.json\": open /defs.json: no such file or directory\n"
        );
    }

    #[test]
    fn numbers_print_as_helms_validator_prints_them() {
        // Each as the real Helm v4.3.1 printed it in a got/want message.
        for (value, shown) in [
            (1000.0, "1,000"),
            (1234.5678, "1,234.5678"),
            (-1000.0, "-1,000"),
            (1_000_000.0, "1×10⁰⁶"),
            (1_234_567.0, "1.234567×10⁰⁶"),
            (1e21, "1×10²¹"),
            (-1e9, "-1×10⁰⁹"),
            (0.0001, "0.0001"),
            (0.00001, "1×10⁻⁰⁵"),
            (0.000_099_9, "9.99×10⁻⁰⁵"),
            (2.5, "2.5"),
            (1.0, "1"),
        ] {
            assert_eq!(localized_float(value), shown, "{value}");
        }
        assert_eq!(localized_count(1_234_567), "1,234,567");
        assert_eq!(quote("it's \\ \"x\"\n"), "'it\\'s \\\\ \"x\"\\n'");
    }
}
