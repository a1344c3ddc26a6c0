//! Helm 4's words for schema failures: the layout of its error tree, each
//! failure kind's message, and its quoting and number printing (through
//! golang.org/x/text's English printer). boon's own messages are an older
//! wording of the same library, so they are rebuilt here from its error
//! kinds; where boon reports a little differently (a rewritten pattern, the
//! first duplicate, checks Go stops after), the schema and instance fill in.

use std::fmt::Write as _;

use boon::{ErrorKind, Type, ValidationError};
use serde_json::Value as J;

use super::SCHEMA_URL;

/// Failures written as Helm 4 lists them, with the schema and instance
/// they came from (for what boon's errors do not keep as Go's do).
pub(super) struct Report<'a> {
    pub(super) schema: &'a J,
    pub(super) instance: &'a J,
}

impl Report<'_> {
    /// `errors` (siblings) at `depth`. Go's validator stops at a failed
    /// `type`, then `const`, `enum`, `format`, where boon goes on: among
    /// the failures of one place only the first of those is kept.
    pub(super) fn write_all(
        &self,
        out: &mut String,
        errors: &[ValidationError<'_, '_>],
        depth: usize,
    ) {
        let rank = |e: &ValidationError<'_, '_>| match e.kind {
            ErrorKind::Type { .. } => 0,
            ErrorKind::Const { .. } => 1,
            ErrorKind::Enum { .. } => 2,
            ErrorKind::Format { .. } => 3,
            _ => 4,
        };
        let first = errors.iter().map(rank).min().unwrap_or(4);
        for error in errors {
            if first < 4
                && rank(error) != first
                && errors
                    .iter()
                    .any(|e| same_place(e, error) && rank(e) == first)
            {
                continue;
            }
            self.write(out, error, depth);
        }
    }

    /// One failure and its causes, indented under it. A `$ref` adds no
    /// line of its own, nor does a group left with one failure.
    fn write(&self, out: &mut String, error: &ValidationError<'_, '_>, depth: usize) {
        let wrapper = matches!(error.kind, ErrorKind::Reference { .. })
            || (matches!(error.kind, ErrorKind::Group) && self.kept(&error.causes) == 1);
        if wrapper {
            self.write_all(out, &error.causes, depth);
            return;
        }
        let _ = writeln!(
            out,
            "{}- at {}: {}",
            "  ".repeat(depth),
            quote(&error.instance_location.to_string()),
            self.message(error)
        );
        self.write_all(out, &error.causes, depth + 1);
    }

    /// How many of `errors` [`write_all`](Self::write_all) keeps.
    fn kept(&self, errors: &[ValidationError<'_, '_>]) -> usize {
        let mut lines = String::new();
        self.write_all(&mut lines, errors, 0);
        lines.lines().filter(|l| l.starts_with('-')).count()
    }

    fn message(&self, error: &ValidationError<'_, '_>) -> String {
        match &error.kind {
            // boon keeps the pattern it rewrote for Rust's engine.
            ErrorKind::Pattern { got, .. } => {
                let written = schema_at(self.schema, error.schema_url)
                    .and_then(|node| node.get("pattern"))
                    .and_then(J::as_str);
                match written {
                    Some(pattern) => {
                        format!("{} does not match pattern {}", quote(got), quote(pattern))
                    }
                    None => message(&error.kind),
                }
            }
            // Go reports the duplicate whose second index is smallest.
            ErrorKind::UniqueItems { got } => {
                let pair = self
                    .instance
                    .pointer(&error.instance_location.to_string())
                    .and_then(J::as_array)
                    .and_then(|items| first_duplicate(items))
                    .unwrap_or((got[0], got[1]));
                format!("items at {} and {} are equal", pair.0, pair.1)
            }
            kind => message(kind),
        }
    }
}

/// Whether two failures come from one subschema at one place (siblings
/// from different `anyOf` branches do not stop each other).
fn same_place(a: &ValidationError<'_, '_>, b: &ValidationError<'_, '_>) -> bool {
    a.schema_url == b.schema_url
        && a.instance_location.to_string() == b.instance_location.to_string()
}

/// The schema node a validator's `schema_url` (`file:///…#/json/pointer`)
/// names, in the chart's own schema.
fn schema_at<'a>(schema: &'a J, url: &str) -> Option<&'a J> {
    let pointer = url.strip_prefix(SCHEMA_URL)?.strip_prefix('#')?;
    let pointer = percent_decoded(pointer);
    schema.pointer(&pointer)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            (byte, ..) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's search for equal items: the first `j` with an earlier equal `i`.
fn first_duplicate(items: &[J]) -> Option<(usize, usize)> {
    (1..items.len()).find_map(|j| (0..j).find(|&i| items[i] == items[j]).map(|i| (i, j)))
}

/// Helm 4's words for a failure.
fn message(kind: &ErrorKind<'_, '_>) -> String {
    match kind {
        ErrorKind::Group
        | ErrorKind::Schema { .. }
        | ErrorKind::Reference { .. }
        | ErrorKind::ContentSchema => "validation failed".into(),
        ErrorKind::PropertyName { prop } => format!("invalid propertyName {}", quote(prop)),
        ErrorKind::RefCycle {
            url,
            kw_loc1,
            kw_loc2,
        } => format!("both {kw_loc1} and {kw_loc2} resolve to {url:?} causing reference cycle"),
        ErrorKind::FalseSchema => "false schema".into(),
        ErrorKind::Type { got, want } => {
            let want: Vec<String> = want.iter().map(|t| t.to_string()).collect();
            format!("got {}, want {}", json_type(*got), want.join(" or "))
        }
        ErrorKind::Enum { want } => {
            if want.iter().all(is_primitive) {
                match want.as_slice() {
                    [one] => format!("value must be {}", display(one)),
                    many => {
                        let shown: Vec<String> = many.iter().map(display).collect();
                        format!("value must be one of {}", shown.join(", "))
                    }
                }
            } else {
                "'enum' failed".into()
            }
        }
        ErrorKind::Const { want } if is_primitive(want) => {
            format!("value must be {}", display(want))
        }
        ErrorKind::Const { .. } => "'const' failed".into(),
        ErrorKind::Format { got, want, err } => {
            format!("{} is not valid {want}: {err}", display(got))
        }
        ErrorKind::MinProperties { got, want } => count_bound("minProperties", *got, *want),
        ErrorKind::MaxProperties { got, want } => count_bound("maxProperties", *got, *want),
        ErrorKind::AdditionalProperties { got } => format!(
            "additional properties {} not allowed",
            join_quoted(got.iter().map(AsRef::as_ref))
        ),
        ErrorKind::Required { want } => match want.as_slice() {
            [one] => format!("missing property {}", quote(one)),
            many => format!("missing properties {}", join_quoted(many.iter().copied())),
        },
        ErrorKind::Dependency { prop, missing }
        | ErrorKind::DependentRequired { prop, missing } => {
            format!(
                "properties {} required, if {} exists",
                join_quoted(missing.iter().copied()),
                quote(prop)
            )
        }
        ErrorKind::MinItems { got, want } => count_bound("minItems", *got, *want),
        ErrorKind::MaxItems { got, want } => count_bound("maxItems", *got, *want),
        ErrorKind::Contains => "no items match contains schema".into(),
        ErrorKind::MinContains { got, want } if got.is_empty() => {
            format!("min {want} items required to match contains schema, but none matched")
        }
        ErrorKind::MinContains { got, want } => format!(
            "min {want} items required to match contains schema, but matched {} items at {}",
            got.len(),
            indexes(got)
        ),
        ErrorKind::MaxContains { got, want } => format!(
            "max {want} items required to match contains schema, but matched {} items at {}",
            got.len(),
            indexes(got)
        ),
        ErrorKind::UniqueItems { got } => format!("items at {} and {} are equal", got[0], got[1]),
        ErrorKind::AdditionalItems { got } => {
            format!("last {got} additionalItem(s) not allowed")
        }
        ErrorKind::MinLength { got, want } => count_bound("minLength", *got, *want),
        ErrorKind::MaxLength { got, want } => count_bound("maxLength", *got, *want),
        ErrorKind::Pattern { got, want } => {
            format!("{} does not match pattern {}", quote(got), quote(want))
        }
        ErrorKind::ContentEncoding { want, err } => {
            format!("value is not {} encoded: {err}", quote(want))
        }
        ErrorKind::ContentMediaType { want, err, .. } => {
            format!("value if not of mediatype {}: {err}", quote(want))
        }
        ErrorKind::Minimum { got, want } => bound("minimum", got, want),
        ErrorKind::Maximum { got, want } => bound("maximum", got, want),
        ErrorKind::ExclusiveMinimum { got, want } => bound("exclusiveMinimum", got, want),
        ErrorKind::ExclusiveMaximum { got, want } => bound("exclusiveMaximum", got, want),
        ErrorKind::MultipleOf { got, want } => bound("multipleOf", got, want),
        ErrorKind::Not => "'not' failed".into(),
        ErrorKind::AllOf => "'allOf' failed".into(),
        ErrorKind::AnyOf => "'anyOf' failed".into(),
        ErrorKind::OneOf(None) => "'oneOf' failed, none matched".into(),
        ErrorKind::OneOf(Some((i, j))) => {
            format!("'oneOf' failed, subschemas {i}, {j} matched")
        }
    }
}

/// Go's validator sees values as Go numbers: every number is a `number`.
fn json_type(got: Type) -> Type {
    match got {
        Type::Integer => Type::Number,
        other => other,
    }
}

fn is_primitive(value: &J) -> bool {
    !matches!(value, J::Array(_) | J::Object(_))
}

/// How Go's validator shows a value: strings quoted, collections as
/// `value`, the rest with `%v`.
fn display(value: &J) -> String {
    match value {
        J::String(s) => quote(s),
        J::Array(_) | J::Object(_) => "value".into(),
        J::Null => "<nil>".into(),
        J::Number(n) => go_number(n),
        J::Bool(b) => b.to_string(),
    }
}

/// `name: got X, want Y` for a count (lengths, items, properties).
fn count_bound(name: &str, got: usize, want: usize) -> String {
    format!(
        "{name}: got {}, want {}",
        localized_count(got),
        localized_count(want)
    )
}

/// `name: got X, want Y` for a numeric limit.
fn bound(name: &str, got: &serde_json::Number, want: &serde_json::Number) -> String {
    let float = |n: &serde_json::Number| localized_float(n.as_f64().unwrap_or(f64::NAN));
    format!("{name}: got {}, want {}", float(got), float(want))
}

/// A schema's number as Go's `%v` shows the JSON literal: integers whole,
/// other numbers in Go's shortest form (`1e+21`, `2.5`).
fn go_number(value: &serde_json::Number) -> String {
    if let Some(i) = value.as_i64() {
        return i.to_string();
    }
    if let Some(u) = value.as_u64() {
        return u.to_string();
    }
    driftless_gotemplate::fmt::sprintf(
        "%v",
        &[driftless_gotemplate::Value::Float(
            value.as_f64().unwrap_or(f64::NAN),
        )],
    )
    .into_string()
}

/// A count as Helm's validator prints it (golang.org/x/text's English
/// printer): thousands separated by commas.
pub(super) fn localized_count(count: usize) -> String {
    group_thousands(&count.to_string())
}

/// A float as that printer shows it: whole numbers without a fraction,
/// thousands separated, and from 10⁶ up or below 10⁻⁴ as `d.ddd×10ⁿⁿ` with
/// a superscript exponent of at least two digits.
pub(super) fn localized_float(value: f64) -> String {
    const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    if !value.is_finite() || value == 0.0 {
        return format!("{value}");
    }
    let magnitude = value.abs();
    if (1e-4..1e6).contains(&magnitude) {
        let text = format!("{value}");
        return match text.split_once('.') {
            Some((whole, fraction)) => format!("{}.{fraction}", group_thousands(whole)),
            None => group_thousands(&text),
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = format!("{:02}", exponent.unsigned_abs())
        .bytes()
        .map(|d| SUPERSCRIPT[usize::from(d - b'0')])
        .collect();
    let sign = if exponent < 0 { "⁻" } else { "" };
    format!("{mantissa}×10{sign}{digits}")
}

/// `1234567` as `1,234,567` (a leading `-` kept).
fn group_thousands(digits: &str) -> String {
    let (sign, digits) = digits
        .strip_prefix('-')
        .map_or(("", digits), |rest| ("-", rest));
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}")
}

fn indexes(at: &[usize]) -> String {
    let shown: Vec<String> = at.iter().map(usize::to_string).collect();
    shown.join(" ")
}

/// The Go validator's `quote`: Go's `%q` between single quotes.
pub(super) fn quote(text: &str) -> String {
    let quoted = driftless_gotemplate::fmt::quote_go(text);
    let inner = &quoted[1..quoted.len() - 1];
    format!("'{}'", inner.replace("\\\"", "\"").replace('\'', "\\'"))
}

fn join_quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.map(quote).collect::<Vec<_>>().join(", ")
}
