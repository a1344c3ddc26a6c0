//! The dynamic values templates compute with, modelled on the Go values Helm
//! hands to `text/template`.
//!
//! Go templates see `interface{}` values through reflection; what matters for
//! Helm's output is the *Go type* of each value (it decides how `fmt` prints
//! it, how `eq` compares it and what `typeOf` says), so every variant here
//! stands for one Go type. Maps are shared and mutable like Go maps — Sprig's
//! `set`/`unset` change a dict in place and every holder sees it, which charts
//! rely on (`$_ := set $ctx "key" 1`). Lists are immutable like the way Sprig
//! uses Go slices (every list function returns a new slice).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::raw_string::RawString;

/// A Go value as a template sees it.
#[derive(Clone, Debug)]
pub enum Value {
    /// Go's `nil` (a nil `interface{}`).
    Nil,
    /// Go `bool`.
    Bool(bool),
    /// Go `int` (64-bit, as on every platform Helm ships for).
    Int(i64),
    /// Go `int64` (what Sprig's arithmetic returns).
    Int64(i64),
    /// Go `float64` (every number read from values, through JSON).
    Float(f64),
    /// Go `string`.
    String(Arc<str>),
    /// Go `string` whose bytes are not UTF-8 (a binary file's contents).
    Raw(RawString),
    /// Go `[]byte`.
    Bytes(Arc<[u8]>),
    /// A Go slice; [`ListKind`] keeps its element type for `typeOf`.
    List(List),
    /// A Go map with string keys, shared and mutable like Go's.
    Map(Map),
    /// A value with methods and fields supplied by the embedder or by a
    /// function (semver versions, times, Helm's `.Files`...).
    Object(Arc<dyn Object>),
}

/// The Go element type of a slice, which only `typeOf`/`typeIs` reveal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `[]interface {}`
    Interface,
    /// `[]string`
    String,
    /// `[]int`
    Int,
}

/// A Go slice value.
#[derive(Clone, Debug)]
pub struct List {
    items: Arc<Vec<Value>>,
    kind: ListKind,
    /// A nil slice (Sprig's `rest` of nothing, a `regexFindAll` that finds
    /// nothing): empty in every way but JSON, where it is `null`.
    nil: bool,
}

impl List {
    /// A `[]interface {}` of `items`.
    #[must_use]
    pub fn new(items: Vec<Value>) -> Self {
        Self::with_kind(items, ListKind::Interface)
    }

    /// A slice whose Go element type is `kind`.
    #[must_use]
    pub fn with_kind(items: Vec<Value>, kind: ListKind) -> Self {
        Self {
            items: Arc::new(items),
            kind,
            nil: false,
        }
    }

    /// A nil slice of `kind`.
    #[must_use]
    pub fn nil(kind: ListKind) -> Self {
        Self {
            items: Arc::new(Vec::new()),
            kind,
            nil: true,
        }
    }

    /// True for a nil slice.
    #[must_use]
    pub fn is_nil(&self) -> bool {
        self.nil
    }

    /// The Go element type.
    #[must_use]
    pub fn kind(&self) -> ListKind {
        self.kind
    }

    /// The elements.
    #[must_use]
    pub fn items(&self) -> &[Value] {
        &self.items
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the slice has no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when both handles share one backing array (Go's slice identity).
    #[must_use]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.items, &other.items)
    }
}

/// A Go `map[string]interface{}` (or `map[string]string`), shared by every
/// holder: cloning the handle does not copy the entries.
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Arc<RwLock<BTreeMap<String, Value>>>,
    string_values: bool,
    /// A nil map (Helm's `.Chart.Annotations` of a chart without any):
    /// empty in every way but JSON, where it is `null`.
    nil: bool,
}

impl Map {
    /// An empty `map[string]interface {}`.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A map over `entries`.
    #[must_use]
    pub fn from_entries(entries: BTreeMap<String, Value>) -> Self {
        Self {
            entries: Arc::new(RwLock::new(entries)),
            string_values: false,
            nil: false,
        }
    }

    /// A `map[string]string` (what Sprig's `split` returns).
    #[must_use]
    pub fn from_string_entries(entries: BTreeMap<String, Value>) -> Self {
        Self {
            entries: Arc::new(RwLock::new(entries)),
            string_values: true,
            nil: false,
        }
    }

    /// A nil `map[string]interface {}`.
    #[must_use]
    pub fn nil() -> Self {
        Self {
            entries: Arc::default(),
            string_values: false,
            nil: true,
        }
    }

    /// A nil `map[string]string`.
    #[must_use]
    pub fn nil_string_map() -> Self {
        Self {
            entries: Arc::default(),
            string_values: true,
            nil: true,
        }
    }

    /// True for a nil map.
    #[must_use]
    pub fn is_nil(&self) -> bool {
        self.nil
    }

    /// True for a `map[string]string`.
    #[must_use]
    pub fn has_string_values(&self) -> bool {
        self.string_values
    }

    /// Read access to the entries, sorted by key like Go's template
    /// iteration and `fmt` printing.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        // A poisoned lock means a panic while writing; the map itself is
        // still a valid BTreeMap, so keep serving it.
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write access to the entries (Sprig's `set`, `unset`, `merge`...).
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value under `key`, cloned out of the map.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }

    /// Stores `value` under `key`.
    pub fn insert(&self, key: impl Into<String>, value: Value) {
        self.write().insert(key.into(), value);
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when the map has no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A snapshot of the entries in key order.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(String, Value)> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// True when both handles share the same entries (Go's map identity).
    #[must_use]
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.entries, &other.entries)
    }
}

/// A Go value with methods and fields: how an embedder exposes structs such
/// as Helm's `.Capabilities` or `.Files`, and how functions return typed
/// results such as a semver version.
///
/// Go templates resolve `.Name` on such a value by looking for a method
/// first, then a field; `{{ .Files.Get "a" }}` calls method `Get` with one
/// argument.
pub trait Object: Send + Sync + fmt::Debug {
    /// The Go type name `typeOf` reports, e.g. `*semver.Version`.
    fn type_name(&self) -> String;

    /// The Go kind `kindOf` reports: `struct` or `ptr` for most objects.
    fn kind_name(&self) -> &'static str {
        "ptr"
    }

    /// The field `name`, or `None` when the object has no such field.
    fn field(&self, name: &str) -> Option<Value> {
        let _ = name;
        None
    }

    /// Calls method `name`; `None` when there is no such method, so field
    /// lookup is tried next. An `Err` aborts execution with that message.
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (name, args);
        None
    }

    /// How `fmt`'s `%v` prints the value (Go calls `String()` when the type
    /// has one; otherwise `{field1 field2}`, or the collection's form).
    fn format(&self) -> String {
        self.as_collection()
            .map(|v| crate::fmt::format_value(&v))
            .unwrap_or_default()
    }

    /// What a template action prints for the value, when it differs from
    /// `%v` ([`format`](Object::format)): Go's `printableValue`
    /// dereferences a pointer, and uses a `String` method declared on the
    /// pointer when the value is addressable (a struct field).
    fn format_action(&self) -> String {
        self.format()
    }

    /// Go's zero-value test for `if`: objects are true unless they say
    /// otherwise; collection objects follow their collection.
    fn is_true(&self) -> bool {
        self.as_collection().is_none_or(|v| v.is_true())
    }

    /// For Go map or slice types that also have methods (Helm's `Files`,
    /// which `.Files.Glob` returns and charts both `range` over and call
    /// `.AsConfig` on): the collection that `range`, `index`, `len`, field
    /// lookup (after methods) and printing see.
    fn as_collection(&self) -> Option<Value> {
        None
    }

    /// For Go named map types (`common.Values`): the map underneath,
    /// borrowed, which field lookup reads after methods without copying
    /// the handle. Implies [`as_collection`](Object::as_collection) is
    /// this map.
    fn as_map(&self) -> Option<&Map> {
        None
    }

    /// For collection objects: the same Go type over `collection` instead,
    /// which Sprig's `deepCopy` returns (a copy keeps its type). `None`
    /// when the object cannot be rebuilt; the copy then shares it.
    fn with_collection(&self, collection: Value) -> Option<Value> {
        let _ = collection;
        None
    }

    /// For Go maps whose keys are not strings (a map keyed by a struct,
    /// which [`Map`] cannot hold): the `(key, value)` pairs `range` visits,
    /// in the order Go sorts such keys. Checked before
    /// [`as_collection`](Object::as_collection).
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }

    /// For Go named integer types with a `String` method (`time.Month`):
    /// the integer, which comparisons, integer verbs, arithmetic and JSON
    /// see, while printing shows [`format`](Object::format).
    fn as_int(&self) -> Option<i64> {
        None
    }

    /// The object as JSON, for `toJson` (Go marshals exported fields; a
    /// collection object marshals as its collection).
    fn to_json(&self) -> serde_json::Value {
        match self.as_collection() {
            Some(collection) => collection.to_json(),
            None => serde_json::Value::String(self.format()),
        }
    }

    /// Lets functions recognise their own object types (e.g. the dates
    /// functions accepting a time they returned).
    fn as_any(&self) -> &dyn std::any::Any;
}

impl Value {
    /// The collection a collection object stands for, else the value
    /// itself (what `range`, `len` and `index` work on).
    #[must_use]
    pub fn collection(&self) -> std::borrow::Cow<'_, Value> {
        match self {
            Self::Object(object) => match object.as_collection() {
                Some(value) => std::borrow::Cow::Owned(value),
                None => std::borrow::Cow::Borrowed(self),
            },
            other => std::borrow::Cow::Borrowed(other),
        }
    }

    /// A Go string.
    #[must_use]
    pub fn string(s: impl Into<Arc<str>>) -> Self {
        Self::String(s.into())
    }

    /// A `[]interface {}`.
    #[must_use]
    pub fn list(items: Vec<Value>) -> Self {
        Self::List(List::new(items))
    }

    /// A `[]string`.
    #[must_use]
    pub fn string_list(items: impl IntoIterator<Item = String>) -> Self {
        Self::List(List::with_kind(
            items.into_iter().map(Value::string).collect(),
            ListKind::String,
        ))
    }

    /// A fresh `map[string]interface {}` holding `entries`.
    #[must_use]
    pub fn map(entries: BTreeMap<String, Value>) -> Self {
        Self::Map(Map::from_entries(entries))
    }

    /// An embedder's or function's object.
    #[must_use]
    pub fn object(object: impl Object + 'static) -> Self {
        Self::Object(Arc::new(object))
    }

    /// The Go type name, as `fmt`'s `%T` and Sprig's `typeOf` print it.
    #[must_use]
    pub fn type_name(&self) -> String {
        match self {
            Self::Nil => "<nil>".to_owned(),
            Self::Bool(_) => "bool".to_owned(),
            Self::Int(_) => "int".to_owned(),
            Self::Int64(_) => "int64".to_owned(),
            Self::Float(_) => "float64".to_owned(),
            Self::String(_) | Self::Raw(_) => "string".to_owned(),
            Self::Bytes(_) => "[]uint8".to_owned(),
            Self::List(list) => match list.kind {
                ListKind::Interface => "[]interface {}".to_owned(),
                ListKind::String => "[]string".to_owned(),
                ListKind::Int => "[]int".to_owned(),
            },
            Self::Map(map) if map.string_values => "map[string]string".to_owned(),
            Self::Map(_) => "map[string]interface {}".to_owned(),
            Self::Object(object) => object.type_name(),
        }
    }

    /// The Go `reflect.Kind` name, as Sprig's `kindOf` prints it.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Nil => "invalid",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Int64(_) => "int64",
            Self::Float(_) => "float64",
            Self::String(_) | Self::Raw(_) => "string",
            Self::Bytes(_) | Self::List(_) => "slice",
            Self::Map(_) => "map",
            Self::Object(object) => object.kind_name(),
        }
    }

    /// Go's `template.IsTrue`: false for the zero value of the type
    /// (false, 0, "", empty slice or map, nil).
    #[must_use]
    pub fn is_true(&self) -> bool {
        match self {
            Self::Nil => false,
            Self::Bool(b) => *b,
            Self::Int(i) | Self::Int64(i) => *i != 0,
            Self::Float(f) => *f != 0.0,
            Self::String(s) => !s.is_empty(),
            Self::Raw(_) => true,
            Self::Bytes(b) => !b.is_empty(),
            Self::List(l) => !l.is_empty(),
            Self::Map(m) => !m.is_empty(),
            Self::Object(o) => o.is_true(),
        }
    }

    /// The text of a Go `string`, if this is one (for a string that is not
    /// UTF-8, its rune view: what Go's text functions see).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            Self::Raw(raw) => Some(raw.runes()),
            _ => None,
        }
    }

    /// The bytes of a Go `string`, if this is one: what byte-level
    /// functions (`b64enc`, the checksums, `len`) work on.
    #[must_use]
    pub fn go_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::String(s) => Some(s.as_bytes()),
            Self::Raw(raw) => Some(raw.bytes()),
            _ => None,
        }
    }

    /// Converts JSON into template values the way Helm reads values: every
    /// number becomes a `float64`, objects become maps, arrays lists.
    #[must_use]
    pub fn from_json(json: &serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Self::Nil,
            serde_json::Value::Bool(b) => Self::Bool(*b),
            serde_json::Value::Number(n) => Self::Float(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Self::string(s.as_str()),
            serde_json::Value::Array(items) => {
                Self::list(items.iter().map(Self::from_json).collect())
            }
            serde_json::Value::Object(entries) => Self::map(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON the way Go's `encoding/json` marshals the value:
    /// integers stay integers, `[]byte` becomes base64, non-finite floats
    /// are an error in Go and become `null` here for the caller to reject.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::Nil => J::Null,
            Self::Bool(b) => J::Bool(*b),
            Self::Int(i) | Self::Int64(i) => J::from(*i),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Self::String(s) => J::String(s.to_string()),
            Self::Raw(raw) => J::String(raw.runes().to_owned()),
            Self::Bytes(b) => J::String(crate::sprig::encoding::base64_std(b)),
            Self::List(l) if l.is_nil() => J::Null,
            Self::List(l) => J::Array(l.items().iter().map(Self::to_json).collect()),
            Self::Map(m) if m.is_nil() => J::Null,
            Self::Map(m) => J::Object(
                m.read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Self::Object(o) => o.to_json(),
        }
    }
}

// A template can nest lists or maps a million levels deep (`$l = list $l`
// in a loop, within its step bound). The derived drop would free them
// recursively and overflow the stack, aborting the process and every
// tenant's render with it; these free nested collections from a heap list
// instead, one level at a time.
impl Drop for List {
    fn drop(&mut self) {
        if let Some(items) = Arc::get_mut(&mut self.items)
            && items.iter().any(is_collection)
        {
            drop_flat(std::mem::take(items));
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        if let Some(lock) = Arc::get_mut(&mut self.entries) {
            let entries = lock.get_mut().unwrap_or_else(PoisonError::into_inner);
            if entries.values().any(is_collection) {
                drop_flat(std::mem::take(entries).into_values().collect());
            }
        }
    }
}

fn is_collection(value: &Value) -> bool {
    matches!(value, Value::List(_) | Value::Map(_))
}

/// Drops `pending`, moving the elements of every list and map it alone
/// owns into `pending` first, so no drop recurses.
fn drop_flat(mut pending: Vec<Value>) {
    while let Some(value) = pending.pop() {
        match value {
            Value::List(mut list) => {
                if let Some(items) = Arc::get_mut(&mut list.items) {
                    pending.append(items);
                }
            }
            Value::Map(mut map) => {
                if let Some(lock) = Arc::get_mut(&mut map.entries) {
                    let entries = lock.get_mut().unwrap_or_else(PoisonError::into_inner);
                    pending.extend(std::mem::take(entries).into_values());
                }
            }
            _ => {}
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::string(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::string(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Self::Float(f)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Self::list(items)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(entries: BTreeMap<String, Value>) -> Self {
        Self::map(entries)
    }
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        Self::from_json(json)
    }
}

/// A Go named map type without methods of its own, such as Helm's
/// `common.Values` (what `.Values` and `.` are): it behaves exactly like
/// its map but `typeOf` reports its name.
#[derive(Debug)]
pub struct NamedMap {
    type_name: String,
    map: Map,
}

impl NamedMap {
    /// A map shown to templates under the Go type name `type_name`.
    #[must_use]
    pub fn new(type_name: impl Into<String>, map: Map) -> Self {
        Self {
            type_name: type_name.into(),
            map,
        }
    }
}

impl Object for NamedMap {
    fn type_name(&self) -> String {
        self.type_name.clone()
    }

    fn kind_name(&self) -> &'static str {
        "map"
    }

    fn as_collection(&self) -> Option<Value> {
        Some(Value::Map(self.map.clone()))
    }

    fn as_map(&self) -> Option<&Map> {
        Some(&self.map)
    }

    fn with_collection(&self, collection: Value) -> Option<Value> {
        match collection {
            Value::Map(map) => Some(Value::object(NamedMap::new(self.type_name.clone(), map))),
            _ => None,
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Go's `reflect.DeepEqual` over template values, which Sprig's `deepEqual`
/// and `uniq`/`has`/`without` use.
#[must_use]
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    equal_at(a, b, 0)
}

fn equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > crate::fmt::MAX_DEPTH {
        // Values that contain themselves: equal as far as compared.
        return true;
    }
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        #[expect(clippy::float_cmp, reason = "DeepEqual compares floats exactly")]
        (Value::Float(x), Value::Float(y)) => x == y,
        // The same string shared twice is equal without reading it.
        (Value::String(x), Value::String(y)) if Arc::ptr_eq(x, y) => true,
        (Value::String(_) | Value::Raw(_), Value::String(_) | Value::Raw(_)) => {
            a.go_bytes() == b.go_bytes()
        }
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.kind == y.kind
                && x.len() == y.len()
                && x.items()
                    .iter()
                    .zip(y.items())
                    .all(|(p, q)| equal_at(p, q, depth + 1))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.ptr_eq(y) {
                return true;
            }
            let (x, y) = (x.snapshot(), y.snapshot());
            x.len() == y.len()
                && x.iter()
                    .zip(&y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && equal_at(v1, v2, depth + 1))
        }
        (Value::Object(x), Value::Object(y)) => {
            Arc::ptr_eq(x, y) || (x.type_name() == y.type_name() && x.format() == y.format())
        }
        _ => false,
    }
}
