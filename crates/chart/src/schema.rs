//! `values.schema.json` validation, as Helm runs it after coalescing: each
//! chart's schema against its values, each enabled subchart's schema
//! against its own part, errors gathered under the chart's name.
//!
//! A self-contained validator of the JSON Schema vocabulary charts use
//! (type, enum, const, properties, patternProperties,
//! additionalProperties, required, items/prefixItems, min/max for numbers,
//! strings, arrays and objects, multipleOf, pattern, allOf/anyOf/oneOf/not,
//! if/then/else, dependentRequired, local `$ref`s). Helm would fetch remote
//! `$ref`s over the network; a render never does, so a remote reference
//! accepts anything, as does a `pattern` the regex engine cannot compile.
//! `format` is an annotation only, as in Helm's validator by default.

use driftless_render::yaml::{Map, Value};
use serde_json::Value as J;

use crate::chart::Chart;
use crate::error::ChartError;

/// Validates `values` (the root chart's map) against the chart tree's
/// schemas.
///
/// # Errors
/// Every violation, by chart, in Helm's layout.
pub fn validate(chart: &Chart, values: &Value) -> Result<(), ChartError> {
    let mut report = String::new();
    validate_into(chart, values, &mut report);
    if report.is_empty() {
        Ok(())
    } else {
        Err(ChartError::Invalid(format!(
            "values don't meet the specifications of the schema(s) in the following chart(s):\n{report}"
        )))
    }
}

fn validate_into(chart: &Chart, values: &Value, report: &mut String) {
    if let Some(raw) = &chart.schema {
        match serde_json::from_slice::<J>(raw) {
            Ok(schema) => {
                let mut errors = Vec::new();
                Validator { root: &schema }.check(&schema, values, "", &mut errors, 0);
                if !errors.is_empty() {
                    report.push_str(&format!("{}:\n", chart.name()));
                    for e in errors {
                        report.push_str(&format!("- {e}\n"));
                    }
                }
            }
            Err(e) => report.push_str(&format!(
                "{}:\nvalues.schema.json is not JSON: {e}\n",
                chart.name()
            )),
        }
    }
    let Value::Map(values) = values else {
        return;
    };
    for sub in &chart.dependencies {
        match values.get(sub.name()) {
            None | Some(Value::Null) => {}
            Some(map @ Value::Map(_)) => validate_into(sub, map, report),
            Some(other) => report.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map), got {}\n",
                sub.name(),
                other.type_name()
            )),
        }
    }
}

struct Validator<'a> {
    root: &'a J,
}

/// JSON Schema's name for a value's type.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => "integer",
        Value::Float(_) => "number",
        Value::Str(_) => "string",
        Value::Seq(_) => "array",
        Value::Map(_) => "object",
    }
}

#[allow(clippy::cast_precision_loss)]
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn json_equal(schema: &J, v: &Value) -> bool {
    match (schema, v) {
        (J::Null, Value::Null) => true,
        (J::Bool(a), Value::Bool(b)) => a == b,
        (J::Number(n), _) => number(v).is_some_and(|x| n.as_f64() == Some(x)),
        (J::String(a), Value::Str(b)) => a == b,
        (J::Array(a), Value::Seq(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y))
        }
        (J::Object(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| json_equal(x, y)))
        }
        _ => false,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

impl Validator<'_> {
    /// Resolves a local `#/...` reference; `None` for remote ones.
    fn resolve(&self, reference: &str) -> Option<&J> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }

    fn check(&self, schema: &J, v: &Value, at: &str, errors: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            return;
        }
        let s = match schema {
            J::Bool(true) => return,
            J::Bool(false) => {
                errors.push(format!("at '{at}': false schema"));
                return;
            }
            J::Object(s) => s,
            _ => return,
        };
        let fail = |errors: &mut Vec<String>, message: String| {
            errors.push(format!("at '{at}': {message}"));
        };
        if let Some(J::String(r)) = s.get("$ref")
            && let Some(target) = self.resolve(r)
        {
            self.check(target, v, at, errors, depth + 1);
        }
        if let Some(t) = s.get("type") {
            let actual = type_of(v);
            let allowed: Vec<&str> = match t {
                J::String(t) => vec![t.as_str()],
                J::Array(ts) => ts.iter().filter_map(J::as_str).collect(),
                _ => Vec::new(),
            };
            let ok = allowed.is_empty()
                || allowed
                    .iter()
                    .any(|a| *a == actual || (*a == "number" && actual == "integer"));
            if !ok {
                fail(
                    errors,
                    format!("got {actual}, want {}", allowed.join(" or ")),
                );
                return;
            }
        }
        if let Some(J::Array(options)) = s.get("enum")
            && !options.iter().any(|o| json_equal(o, v))
        {
            let shown: Vec<String> = options.iter().map(J::to_string).collect();
            fail(errors, format!("value must be one of {}", shown.join(", ")));
        }
        if let Some(c) = s.get("const")
            && !json_equal(c, v)
        {
            fail(errors, format!("value must be {c}"));
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            let Some(J::Array(subs)) = s.get(key) else {
                continue;
            };
            let passing = subs
                .iter()
                .filter(|sub| {
                    let mut e = Vec::new();
                    self.check(sub, v, at, &mut e, depth + 1);
                    e.is_empty()
                })
                .count();
            let ok = match key {
                "allOf" => passing == subs.len(),
                "anyOf" => passing > 0,
                _ => passing == 1,
            };
            if !ok {
                if key == "allOf" {
                    for sub in subs {
                        self.check(sub, v, at, errors, depth + 1);
                    }
                } else {
                    fail(errors, format!("{key} failed"));
                }
            }
        }
        if let Some(not) = s.get("not") {
            let mut e = Vec::new();
            self.check(not, v, at, &mut e, depth + 1);
            if e.is_empty() {
                fail(errors, "not failed".into());
            }
        }
        if let Some(condition) = s.get("if") {
            let mut e = Vec::new();
            self.check(condition, v, at, &mut e, depth + 1);
            let branch = if e.is_empty() {
                s.get("then")
            } else {
                s.get("else")
            };
            if let Some(b) = branch {
                self.check(b, v, at, errors, depth + 1);
            }
        }
        match v {
            Value::Map(m) => self.check_object(s, m, at, errors, depth),
            Value::Seq(items) => self.check_array(s, items, at, errors, depth),
            Value::Str(text) => {
                let len = text.chars().count() as u64;
                if s.get("minLength")
                    .and_then(J::as_u64)
                    .is_some_and(|n| len < n)
                {
                    fail(errors, format!("length must be >= {}", s["minLength"]));
                }
                if s.get("maxLength")
                    .and_then(J::as_u64)
                    .is_some_and(|n| len > n)
                {
                    fail(errors, format!("length must be <= {}", s["maxLength"]));
                }
                if let Some(J::String(p)) = s.get("pattern")
                    && let Ok(re) = regex::Regex::new(p)
                    && !re.is_match(text)
                {
                    fail(errors, format!("{text:?} does not match pattern {p:?}"));
                }
            }
            _ => {}
        }
        if let Some(x) = number(v) {
            let bound = |k: &str| s.get(k).and_then(J::as_f64);
            if bound("minimum").is_some_and(|m| x < m) {
                fail(errors, format!("must be >= {}", s["minimum"]));
            }
            if bound("maximum").is_some_and(|m| x > m) {
                fail(errors, format!("must be <= {}", s["maximum"]));
            }
            if bound("exclusiveMinimum").is_some_and(|m| x <= m) {
                fail(errors, format!("must be > {}", s["exclusiveMinimum"]));
            }
            if bound("exclusiveMaximum").is_some_and(|m| x >= m) {
                fail(errors, format!("must be < {}", s["exclusiveMaximum"]));
            }
            if let Some(m) = bound("multipleOf").filter(|m| *m > 0.0) {
                let q = x / m;
                if (q - q.round()).abs() > 1e-9 {
                    fail(errors, format!("must be multiple of {}", s["multipleOf"]));
                }
            }
        }
    }

    fn check_object(
        &self,
        s: &serde_json::Map<String, J>,
        m: &Map,
        at: &str,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        if let Some(J::Array(required)) = s.get("required") {
            let missing: Vec<String> = required
                .iter()
                .filter_map(J::as_str)
                .filter(|k| !m.contains_key(*k))
                .map(|k| format!("'{k}'"))
                .collect();
            if !missing.is_empty() {
                errors.push(format!(
                    "at '{at}': missing property {}",
                    missing.join(", ")
                ));
            }
        }
        let count = m.len() as u64;
        if s.get("minProperties")
            .and_then(J::as_u64)
            .is_some_and(|n| count < n)
        {
            errors.push(format!(
                "at '{at}': minimum {} properties required",
                s["minProperties"]
            ));
        }
        if s.get("maxProperties")
            .and_then(J::as_u64)
            .is_some_and(|n| count > n)
        {
            errors.push(format!(
                "at '{at}': maximum {} properties allowed",
                s["maxProperties"]
            ));
        }
        if let Some(J::Object(deps)) = s.get("dependentRequired") {
            for (k, needs) in deps {
                if m.contains_key(k) {
                    for need in needs.as_array().into_iter().flatten().filter_map(J::as_str) {
                        if !m.contains_key(need) {
                            errors.push(format!(
                                "at '{at}': property '{need}' is required if '{k}' exists"
                            ));
                        }
                    }
                }
            }
        }
        let properties = s.get("properties").and_then(J::as_object);
        let patterns: Vec<(regex::Regex, &J)> = s
            .get("patternProperties")
            .and_then(J::as_object)
            .map(|p| {
                p.iter()
                    .filter_map(|(k, v)| regex::Regex::new(k).ok().map(|r| (r, v)))
                    .collect()
            })
            .unwrap_or_default();
        let mut extra = Vec::new();
        for (k, value) in m {
            let child_at = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            let mut matched = false;
            if let Some(sub) = properties.and_then(|p| p.get(k)) {
                matched = true;
                self.check(sub, value, &child_at, errors, depth + 1);
            }
            for (re, sub) in &patterns {
                if re.is_match(k) {
                    matched = true;
                    self.check(sub, value, &child_at, errors, depth + 1);
                }
            }
            if !matched {
                match s.get("additionalProperties") {
                    Some(J::Bool(false)) => extra.push(format!("'{k}'")),
                    Some(sub @ J::Object(_)) => {
                        self.check(sub, value, &child_at, errors, depth + 1);
                    }
                    _ => {}
                }
            }
        }
        if !extra.is_empty() {
            errors.push(format!(
                "at '{at}': additional properties {} not allowed",
                extra.join(", ")
            ));
        }
    }

    fn check_array(
        &self,
        s: &serde_json::Map<String, J>,
        items: &[Value],
        at: &str,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        let count = items.len() as u64;
        if s.get("minItems")
            .and_then(J::as_u64)
            .is_some_and(|n| count < n)
        {
            errors.push(format!(
                "at '{at}': minimum {} items required, but found {count} items",
                s["minItems"]
            ));
        }
        if s.get("maxItems")
            .and_then(J::as_u64)
            .is_some_and(|n| count > n)
        {
            errors.push(format!(
                "at '{at}': maximum {} items required, but found {count} items",
                s["maxItems"]
            ));
        }
        if s.get("uniqueItems").and_then(J::as_bool) == Some(true) {
            for i in 0..items.len() {
                if items[i + 1..].iter().any(|o| values_equal(o, &items[i])) {
                    errors.push(format!("at '{at}': items at {i} and later are equal"));
                    break;
                }
            }
        }
        let prefix: &[J] = match (s.get("prefixItems"), s.get("items")) {
            (Some(J::Array(p)), _) | (None, Some(J::Array(p))) => p,
            _ => &[],
        };
        for (i, item) in items.iter().enumerate() {
            let child_at = format!("{at}/{i}");
            if let Some(sub) = prefix.get(i) {
                self.check(sub, item, &child_at, errors, depth + 1);
                continue;
            }
            let rest =
                if s.contains_key("prefixItems") || matches!(s.get("items"), Some(J::Array(_))) {
                    s.get(if s.contains_key("prefixItems") {
                        "items"
                    } else {
                        "additionalItems"
                    })
                } else {
                    s.get("items")
                };
            if let Some(sub) = rest {
                self.check(sub, item, &child_at, errors, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::load_values;

    fn check(schema: &str, values: &str) -> Result<(), String> {
        let chart = Chart {
            schema: Some(schema.as_bytes().to_vec()),
            metadata: crate::chart::Metadata {
                name: "c".into(),
                ..Default::default()
            },
            ..Chart::default()
        };
        validate(&chart, &Value::Map(load_values(values).unwrap())).map_err(|e| e.to_string())
    }

    const SCHEMA: &str = r##"{
        "type": "object",
        "required": ["replicas"],
        "properties": {
            "replicas": {"type": "integer", "minimum": 1},
            "mode": {"enum": ["a", "b"]},
            "image": {"$ref": "#/$defs/image"},
            "ports": {"type": "array", "items": {"type": "integer"}}
        },
        "$defs": {"image": {"type": "object", "additionalProperties": false,
                   "properties": {"tag": {"type": "string", "pattern": "^v"}}}}
    }"##;

    #[test]
    fn accepts_valid_values() {
        check(
            SCHEMA,
            "replicas: 3\nmode: a\nimage:\n  tag: v1\nports: [80, 443]\n",
        )
        .unwrap();
    }

    #[test]
    fn reports_each_violation_with_its_path() {
        let e = check(
            SCHEMA,
            "replicas: 0.5\nmode: c\nimage:\n  tag: x\n  other: 1\nports: [a]\n",
        )
        .unwrap_err();
        assert!(e.contains("c:\n"), "{e}");
        assert!(
            e.contains("at '/replicas': got number, want integer"),
            "{e}"
        );
        assert!(e.contains("at '/mode': value must be one of"), "{e}");
        assert!(e.contains("at '/image/tag'"), "{e}");
        assert!(
            e.contains("additional properties 'other' not allowed"),
            "{e}"
        );
        assert!(e.contains("at '/ports/0'"), "{e}");
        let e = check(SCHEMA, "mode: a\n").unwrap_err();
        assert!(e.contains("missing property 'replicas'"), "{e}");
    }

    #[test]
    fn remote_refs_accept_anything() {
        check(r#"{"$ref": "https://example.com/schema.json"}"#, "a: 1\n").unwrap();
    }
}
