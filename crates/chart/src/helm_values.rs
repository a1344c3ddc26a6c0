//! `common.Values`: the Go type Helm gives `.`, `.Values` and `.Template`.
//!
//! It is a named `map[string]interface{}` with methods, and charts see both
//! sides: `.Values.AsMap` (the usual way round `dig`, which refuses the named
//! type with `interface conversion: interface {} is common.Values`),
//! `.Values.Table "a.b"`, `.Values.PathValue "a.b.c"` and `.Values.YAML`,
//! and `typeOf .Values` is `common.Values`. A method name shadows a values
//! key of the same name, as in Go. Everything else — field lookup, `range`,
//! `set`, `merge` — reaches the shared map underneath.

use std::any::Any;

use driftless_gotemplate::args::{method_arity, method_string};
use driftless_gotemplate::{Map, Object, Value};

/// A `common.Values` over a shared map.
#[derive(Debug)]
pub struct HelmValues(Map);

impl HelmValues {
    /// `map` as a `common.Values` value.
    #[must_use]
    pub fn value(map: Map) -> Value {
        Value::object(HelmValues(map))
    }

    /// Go's `Values.Table`: the table at the dotted path `name`.
    fn table(&self, name: &str) -> Result<Map, String> {
        let mut table = self.0.clone();
        for key in name.split('.') {
            table = match table.get(key) {
                Some(Value::Map(inner)) if !inner.has_string_values() => inner,
                Some(Value::Object(object)) => match object.as_any().downcast_ref::<HelmValues>() {
                    Some(values) => values.0.clone(),
                    None => return Err(not_a_table(key)),
                },
                _ => return Err(not_a_table(key)),
            };
        }
        Ok(table)
    }

    /// Go's `Values.PathValue`: the value (not a table) at the dotted path.
    fn path_value(&self, path: &str) -> Result<Value, String> {
        if path.is_empty() {
            return Err("YAML path cannot be empty".into());
        }
        let (table, key) = match path.rsplit_once('.') {
            Some((table, key)) => (self.table(table).map_err(|_| not_a_value(key))?, key),
            None => (self.0.clone(), path),
        };
        match table.get(key) {
            Some(value) if !is_table(&value) => Ok(value),
            _ => Err(not_a_value(key)),
        }
    }
}

fn not_a_table(key: &str) -> String {
    format!(
        "{} is not a table",
        driftless_gotemplate::fmt::quote_go(key)
    )
}

fn not_a_value(key: &str) -> String {
    format!(
        "{} is not a value",
        driftless_gotemplate::fmt::quote_go(key)
    )
}

/// Helm's `istable`: a `map[string]interface{}`.
fn is_table(value: &Value) -> bool {
    matches!(value, Value::Map(map) if !map.has_string_values())
}

impl Object for HelmValues {
    fn type_name(&self) -> String {
        "common.Values".into()
    }

    fn kind_name(&self) -> &'static str {
        "map"
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let result = match name {
            "AsMap" => method_arity(name, args, 0).map(|()| Value::Map(self.0.clone())),
            "YAML" => method_arity(name, args, 0)
                .and_then(|()| crate::helm_funcs::try_to_yaml(&Value::Map(self.0.clone())))
                .map(|yaml| Value::from(yaml + "\n")),
            "Table" => method_string(name, args)
                .and_then(|path| self.table(path))
                .map(HelmValues::value),
            "PathValue" => method_string(name, args).and_then(|path| self.path_value(path)),
            // `Encode(io.Writer)`: no template value is a writer.
            "Encode" => method_arity(name, args, 1).and_then(|()| {
                Err(format!(
                    "wrong type for value; expected io.Writer; got {}",
                    args[0].type_name()
                ))
            }),
            _ => return None,
        };
        Some(result)
    }

    fn as_collection(&self) -> Option<Value> {
        Some(Value::Map(self.0.clone()))
    }

    fn as_map(&self) -> Option<&Map> {
        Some(&self.0)
    }

    fn with_collection(&self, collection: Value) -> Option<Value> {
        match collection {
            Value::Map(map) => Some(HelmValues::value(map)),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
