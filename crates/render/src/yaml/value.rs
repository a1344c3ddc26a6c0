//! The decoded value both the parser and the emitter work on.

use indexmap::IndexMap;

use super::number::format_float;

/// An ordered string-keyed mapping.
pub type Map = IndexMap<String, Value>;

/// A decoded YAML value, as go-yaml v3 would decode it into `interface{}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` (and empty values).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer, as wide as Go's int64 and uint64 together.
    Int(i128),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping, in document order.
    Map(Map),
}

/// Mappings up to this long are searched in order: Kubernetes objects
/// are mostly small mappings, and comparing a few keys (lengths first)
/// costs less than hashing the key once.
const SCAN_UP_TO: usize = 8;

/// The value under `key` in `m`, as [`Map::get`] finds it.
pub(crate) fn lookup<'a>(m: &'a Map, key: &str) -> Option<&'a Value> {
    if m.len() <= SCAN_UP_TO {
        m.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        m.get(key)
    }
}

/// The value under `key` in `m` to change, as [`Map::get_mut`] finds it.
pub(crate) fn lookup_mut<'a>(m: &'a mut Map, key: &str) -> Option<&'a mut Value> {
    if m.len() <= SCAN_UP_TO {
        m.iter_mut()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    } else {
        m.get_mut(key)
    }
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The mapping, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    /// The mapping to change, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    /// The sequence, if this is one.
    pub fn as_seq(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    /// The value under `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| lookup(m, key))
    }
    /// The value under `key` to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_map_mut().and_then(|m| lookup_mut(m, key))
    }
    /// Follows a path of map keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Value> {
        let mut cur = self;
        for k in keys {
            cur = cur.get(k)?;
        }
        Some(cur)
    }
    /// The string at the path of `keys`, if there is one.
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys).and_then(Value::as_str)
    }
    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// The scalar as text, as Kustomize's field setters see it.
    pub fn scalar_string(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            _ => None,
        }
    }
    /// The YAML type's name, for error messages (`a mapping`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }
}
