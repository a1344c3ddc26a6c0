//! Go's builtin template functions: `and`, `or`, `not`, `len`, `index`,
//! `slice`, `eq`/`ne`/`lt`/`le`/`gt`/`ge`, `print`/`printf`/`println`,
//! `html`, `js`, `urlquery` and `call`, with Go's comparison rules and
//! error messages.
//!
//! `and`/`or` short-circuit in the executor; their bodies here serve a
//! user-supplied override's absence only for arity checks.

use std::sync::LazyLock;

use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap, FuncResult, Function};
use crate::value::Value;

static BUILTINS: LazyLock<FuncMap> = LazyLock::new(|| {
    let mut map = FuncMap::new();
    map.add("and", Arity::AtLeast(1), |args| {
        Ok(args
            .iter()
            .find(|a| !a.is_true())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil))
    });
    map.add("or", Arity::AtLeast(1), |args| {
        Ok(args
            .iter()
            .find(|a| a.is_true())
            .or(args.last())
            .cloned()
            .unwrap_or(Value::Nil))
    });
    map.add("not", Arity::Exact(1), |args| {
        Ok(Value::Bool(!args[0].is_true()))
    });
    map.add("len", Arity::Exact(1), |args| length(&args[0].collection()));
    map.add("index", Arity::AtLeast(1), |args| {
        index(&args[0].collection(), &args[1..])
    });
    map.add("slice", Arity::AtLeast(1), |args| {
        slice(&args[0].collection(), &args[1..])
    });
    map.add("eq", Arity::AtLeast(1), |args| {
        eq(&args[0], &args[1..]).map(Value::Bool)
    });
    map.add("ne", Arity::Exact(2), |args| {
        eq(&args[0], &args[1..2]).map(|b| Value::Bool(!b))
    });
    map.add("lt", Arity::Exact(2), |args| {
        lt(&args[0], &args[1]).map(Value::Bool)
    });
    map.add("le", Arity::Exact(2), |args| {
        le(&args[0], &args[1]).map(Value::Bool)
    });
    map.add("gt", Arity::Exact(2), |args| {
        le(&args[0], &args[1]).map(|b| Value::Bool(!b))
    });
    map.add("ge", Arity::Exact(2), |args| {
        lt(&args[0], &args[1]).map(|b| Value::Bool(!b))
    });
    map.add("print", Arity::AtLeast(0), |args| {
        Ok(crate::fmt::sprint(&args).into_value())
    });
    map.add("println", Arity::AtLeast(0), |args| {
        Ok(crate::fmt::sprintln(&args).into_value())
    });
    map.add("printf", Arity::AtLeast(1), |args| {
        let format = crate::args::string(&args[0])?;
        Ok(crate::fmt::sprintf(format, &args[1..]).into_value())
    });
    map.add("html", Arity::AtLeast(0), |args| {
        Ok(Value::string(html_escape(&eval_args(&args))))
    });
    map.add("js", Arity::AtLeast(0), |args| {
        Ok(Value::string(js_escape(&eval_args(&args))))
    });
    map.add("urlquery", Arity::AtLeast(0), |args| {
        Ok(Value::string(query_escape(&eval_args(&args))))
    });
    map.add("call", Arity::AtLeast(1), |args| match &args[0] {
        Value::Nil => Err(FuncError::new("call of nil")),
        other => Err(FuncError::new(format!(
            "non-function of type {}",
            other.type_name()
        ))),
    });
    map
});

/// True for the names Go predefines.
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(name)
}

/// The builtin `name`.
pub(crate) fn builtin(name: &str) -> Option<Function> {
    BUILTINS.get(name).cloned()
}

/// Go's `evalArgs`: one string as is, otherwise `fmt.Sprint` of the
/// arguments (nil printing as `<no value>`, as template output does).
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.to_string();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Nil => Value::string("<no value>"),
            other => other.clone(),
        })
        .collect();
    crate::fmt::sprint(&printable).into_string()
}

fn length(item: &Value) -> FuncResult {
    let n = match item {
        Value::String(s) => s.len(),
        Value::Raw(raw) => raw.bytes().len(),
        Value::Bytes(b) => b.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        Value::Nil => {
            return Err(FuncError::new("len of nil pointer"));
        }
        other => return Err(FuncError::new(format!("len of type {}", other.type_name()))),
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// Go's `indexArg`: an integer index within `0..=cap`.
fn index_arg(index: &Value, cap: usize) -> Result<usize, FuncError> {
    let x = match index {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Nil => return Err(FuncError::new("cannot index slice/array with nil")),
        other => {
            return Err(FuncError::new(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            )));
        }
    };
    match usize::try_from(x) {
        Ok(i) if i <= cap => Ok(i),
        _ => Err(FuncError::new(format!("index out of range: {x}"))),
    }
}

fn index(item: &Value, indexes: &[Value]) -> FuncResult {
    if let Value::Nil = item {
        return Err(FuncError::new("index of untyped nil"));
    }
    let mut item = item.clone();
    for index in indexes {
        let current = item.collection().into_owned();
        item = match &current {
            Value::Nil => return Err(FuncError::new("index of nil pointer")),
            Value::List(list) => {
                let i = index_arg(index, list.len())?;
                list.items()
                    .get(i)
                    .cloned()
                    .ok_or_else(|| FuncError::new("reflect: slice index out of range"))?
            }
            Value::Bytes(bytes) => {
                let i = index_arg(index, bytes.len())?;
                bytes
                    .get(i)
                    .map(|b| Value::Int(i64::from(*b)))
                    .ok_or_else(|| FuncError::new("reflect: slice index out of range"))?
            }
            Value::String(_) | Value::Raw(_) => {
                let bytes = item.go_bytes().unwrap_or_default();
                let i = index_arg(index, bytes.len())?;
                bytes
                    .get(i)
                    .map(|b| Value::Int(i64::from(*b)))
                    .ok_or_else(|| FuncError::new("reflect: string index out of range"))?
            }
            Value::Map(map) => {
                let found = match index {
                    Value::String(key) => map.get(key),
                    // Map keys are UTF-8 here: a key that is not is absent.
                    Value::Raw(_) => None,
                    Value::Nil => {
                        return Err(FuncError::new("value is nil; should be of type string"));
                    }
                    other => {
                        return Err(FuncError::new(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        )));
                    }
                };
                match found {
                    Some(value) => value,
                    None if map.has_string_values() => Value::string(""),
                    None => Value::Nil,
                }
            }
            other => {
                return Err(FuncError::new(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> FuncResult {
    if let Value::Nil = item {
        return Err(FuncError::new("slice of untyped nil"));
    }
    if indexes.len() > 3 {
        return Err(FuncError::new(format!(
            "too many slice indexes: {}",
            indexes.len()
        )));
    }
    let len = match item {
        Value::String(_) | Value::Raw(_) => {
            if indexes.len() == 3 {
                return Err(FuncError::new("cannot 3-index slice a string"));
            }
            item.go_bytes().unwrap_or_default().len()
        }
        Value::List(l) => l.len(),
        Value::Bytes(b) => b.len(),
        other => {
            return Err(FuncError::new(format!(
                "can't slice item of type {}",
                other.type_name()
            )));
        }
    };
    let mut bounds = [0, len, len];
    for (i, index) in indexes.iter().enumerate() {
        bounds[i] = index_arg(index, len)?;
    }
    if bounds[0] > bounds[1] {
        return Err(FuncError::new(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        )));
    }
    if indexes.len() == 3 && bounds[1] > bounds[2] {
        return Err(FuncError::new(format!(
            "invalid slice index: {} > {}",
            bounds[1], bounds[2]
        )));
    }
    let (from, to) = (bounds[0], bounds[1]);
    Ok(match item {
        Value::String(s) => match s.get(from..to) {
            Some(part) => Value::string(part),
            None => crate::raw_string::go_string(s.as_bytes()[from..to].to_vec()),
        },
        Value::Raw(raw) => crate::raw_string::go_string(raw.bytes()[from..to].to_vec()),
        Value::List(l) => Value::List(crate::value::List::with_kind(
            l.items()[from..to].to_vec(),
            l.kind(),
        )),
        Value::Bytes(b) => Value::Bytes(b[from..to].to_vec().into()),
        _ => unreachable!("checked above"),
    })
}

/// Go's `basicKind` classes.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    String,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Object(object) if object.as_int().is_some() => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) | Value::Raw(_) => Kind::String,
        _ => Kind::Other,
    }
}

/// A named integer (`time.Month`) as the int Go's comparisons see; any
/// other value as it is.
fn as_number(v: &Value) -> std::borrow::Cow<'_, Value> {
    match v {
        Value::Object(object) => object
            .as_int()
            .map_or(std::borrow::Cow::Borrowed(v), |number| {
                std::borrow::Cow::Owned(Value::Int(number))
            }),
        other => std::borrow::Cow::Borrowed(other),
    }
}

fn incompatible(a: &Value, b: &Value) -> FuncError {
    FuncError::new(format!(
        "incompatible types for comparison: {} and {}",
        a.type_name(),
        b.type_name()
    ))
}

fn go_s(v: &Value) -> String {
    crate::fmt::sprintf("%s", std::slice::from_ref(v)).into_string()
}

/// Go's `eq arg1 arg2...`: true when `arg1` equals any of the others.
pub(crate) fn eq(arg1: &Value, others: &[Value]) -> Result<bool, FuncError> {
    if others.is_empty() {
        return Err(FuncError::new("missing argument for comparison"));
    }
    let k1 = basic_kind(arg1);
    for arg in others {
        let k2 = basic_kind(arg);
        let truth = if k1 == k2 {
            match (as_number(arg1).as_ref(), as_number(arg).as_ref()) {
                (Value::Bool(a), Value::Bool(b)) => a == b,
                (Value::Int(a) | Value::Int64(a), Value::Int(b) | Value::Int64(b)) => a == b,
                (Value::Float(a), Value::Float(b)) => a == b,
                (Value::String(a), Value::String(b)) => a == b,
                (Value::String(_) | Value::Raw(_), Value::String(_) | Value::Raw(_)) => {
                    arg1.go_bytes() == arg.go_bytes()
                }
                _ => compare_other(arg1, arg)?,
            }
        } else {
            if !matches!(arg1, Value::Nil) && !matches!(arg, Value::Nil) {
                return Err(incompatible(arg1, arg));
            }
            false
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `eq` on non-basic values: nil equals only nil; slices and maps are not
/// comparable; objects compare by identity.
fn compare_other(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let same_kind = std::mem::discriminant(a) == std::mem::discriminant(b);
    if matches!(a, Value::Nil) || matches!(b, Value::Nil) {
        return Ok(matches!(a, Value::Nil) && matches!(b, Value::Nil));
    }
    if !same_kind {
        return Err(FuncError::new(format!(
            "non-comparable types {}: {}, {}: {}",
            go_s(a),
            a.type_name(),
            b.type_name(),
            go_s(b)
        )));
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => Ok(std::sync::Arc::ptr_eq(x, y)),
        _ => Err(FuncError::new(format!(
            "non-comparable type {}: {}",
            go_s(b),
            b.type_name()
        ))),
    }
}

fn lt(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Other || k2 == Kind::Other {
        return Err(FuncError::new("invalid type for comparison"));
    }
    if k1 != k2 {
        return Err(incompatible(a, b));
    }
    Ok(match (as_number(a).as_ref(), as_number(b).as_ref()) {
        (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(_) | Value::Raw(_), Value::String(_) | Value::Raw(_)) => {
            a.go_bytes() < b.go_bytes()
        }
        _ => return Err(FuncError::new("invalid type for comparison")),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, FuncError> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c if c.is_ascii() || crate::fmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", u32::from(c))),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
