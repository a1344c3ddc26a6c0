//! Crossing between the chart's values ([`driftless_render::yaml::Value`])
//! and the template engine's Go values, and the `sigs.k8s.io/yaml` view of
//! an engine value.
//!
//! Helm's `toYaml` is `json.Marshal` then JSON → YAML with go-yaml: a
//! float64 that is integral comes out as an integer, keys are sorted, the
//! render crate's go-yaml emitter prints the result. (Helm's `toJson` is
//! Sprig's, the engine's.)

use std::collections::BTreeMap;

use driftless_gotemplate::Value as Gv;
use driftless_render::yaml::{Map, Value};

/// A chart value as the engine sees it (`--set` integers are Go int64).
#[must_use]
pub fn to_engine(v: &Value) -> Gv {
    match v {
        Value::Null => Gv::Nil,
        Value::Bool(b) => Gv::Bool(*b),
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        Value::Int(i) => match i64::try_from(*i) {
            Ok(i) => Gv::Int64(i),
            Err(_) => Gv::Float(*i as f64),
        },
        Value::Float(f) => Gv::Float(*f),
        Value::Str(s) => Gv::string(s.as_str()),
        Value::Seq(items) => Gv::list(items.iter().map(to_engine).collect()),
        Value::Map(m) => map_to_engine(m),
    }
}

/// A values mapping as an engine map.
#[must_use]
pub fn map_to_engine(m: &Map) -> Gv {
    Gv::map(
        m.iter()
            .map(|(k, v)| (k.clone(), to_engine(v)))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// An engine value after Go's JSON round trip, as go-yaml would decode the
/// JSON (integral numbers as ints): what `toYaml` prints.
#[must_use]
pub fn json_round_trip(v: &Gv) -> Value {
    from_json_for_yaml(&v.to_json())
}

fn from_json_for_yaml(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Int(i128::from(u))
            } else {
                json_float_for_yaml(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => {
            Value::Seq(items.iter().map(from_json_for_yaml).collect())
        }
        serde_json::Value::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), from_json_for_yaml(v)))
                .collect(),
        ),
    }
}

/// An engine value as go-yaml v3 sees the Go value itself, with no JSON
/// step between (Helm's `toYamlPretty`): floats stay floats (printed in
/// Go's `%g`), ints stay ints, and a `[]byte` is a sequence of its bytes.
/// Objects that are a Go map or slice (`common.Values`, `.Files`) are that
/// collection; others (semver versions, times) have no Go value here but
/// their JSON form.
#[must_use]
pub fn go_yaml_value(v: &Gv) -> Value {
    match v {
        Gv::Nil => Value::Null,
        Gv::Bool(b) => Value::Bool(*b),
        Gv::Int(i) | Gv::Int64(i) => Value::Int(i128::from(*i)),
        Gv::Float(f) => Value::Float(*f),
        Gv::String(s) => Value::Str(s.to_string()),
        Gv::Raw(raw) => Value::Str(raw.runes().to_owned()),
        Gv::Bytes(b) => Value::Seq(b.iter().map(|&x| Value::Int(i128::from(x))).collect()),
        Gv::List(l) => Value::Seq(l.items().iter().map(go_yaml_value).collect()),
        Gv::Map(m) => Value::Map(
            m.read()
                .iter()
                .map(|(k, v)| (k.clone(), go_yaml_value(v)))
                .collect(),
        ),
        Gv::Object(o) => match o.as_collection() {
            Some(collection) => go_yaml_value(&collection),
            None => from_json_as_decoded(&o.to_json()),
        },
    }
}

/// JSON as Go decodes it into `interface{}`, without go-yaml's reading
/// integral floats back as ints.
fn from_json_as_decoded(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n.as_i64().map_or_else(
            || Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            |i| Value::Int(i128::from(i)),
        ),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => {
            Value::Seq(items.iter().map(from_json_as_decoded).collect())
        }
        serde_json::Value::Object(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), from_json_as_decoded(v)))
                .collect(),
        ),
    }
}

/// A float64 as go-yaml reads back the text `encoding/json` wrote for it:
/// an integral value below 1e21 is written in full with its shortest
/// digits (`12345678901234567000`), which go-yaml takes for an int when
/// it fits int64 or uint64; anything else stays a float.
fn json_float_for_yaml(f: f64) -> Value {
    if f == f.trunc() && f.abs() < 1e21 {
        // Rust's Display is the shortest round-trip digits, no exponent.
        let text = format!("{f}");
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i128::from(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::Int(i128::from(u));
        }
    }
    Value::Float(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_round_trip_makes_integral_floats_ints() {
        assert_eq!(json_round_trip(&Gv::Float(1e6)), Value::Int(1_000_000));
        assert_eq!(json_round_trip(&Gv::Float(1.5)), Value::Float(1.5));
        // Past int64, go-yaml reads JSON's shortest digits as a uint64;
        // past uint64 as a float again (helm printed these).
        assert_eq!(
            json_round_trip(&Gv::Float(12_345_678_901_234_567_890.0)),
            Value::Int(12_345_678_901_234_567_000)
        );
        assert_eq!(json_round_trip(&Gv::Float(2e19)), Value::Float(2e19));
        assert_eq!(json_round_trip(&Gv::Float(-0.0)), Value::Int(0));
    }
}
