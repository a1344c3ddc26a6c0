//! Defaults, JSON and `fail`: `default`, `empty`, `coalesce`, `all`, `any`,
//! `ternary`, `fromJson`, `toJson`, `toPrettyJson`, `toRawJson` and their
//! `must` variants.
//!
//! `empty` is Sprig's zero-value test (0, 0.0, "", false, nil, empty list
//! or map), which `default` builds on. JSON output follows Go's
//! `encoding/json` (sorted keys, `<>&` escaped unless raw, Go's float
//! layout); see [`json`](super::json).

use crate::args::string;
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap};
use crate::value::Value;

use super::json::{JsonStyle, decode, encode};

/// Sprig's `empty`: the Go zero value of the value's type.
#[must_use]
pub fn is_empty(value: &Value) -> bool {
    match value {
        // Sprig treats structs and non-nil pointers as never empty, and a
        // map or slice type by its length.
        Value::Object(object) => object.as_collection().is_some_and(|c| is_empty(&c)),
        other => !other.is_true(),
    }
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("default", Arity::AtLeast(1), |a| {
        Ok(match a.get(1) {
            Some(given) if !is_empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    });
    map.add("fail", Arity::Exact(1), |a| {
        Err(FuncError::new(string(&a[0])?))
    });
    map.add("empty", Arity::Exact(1), |a| {
        Ok(Value::Bool(is_empty(&a[0])))
    });
    map.add("coalesce", Arity::AtLeast(0), |a| {
        Ok(a.iter()
            .find(|v| !is_empty(v))
            .cloned()
            .unwrap_or(Value::Nil))
    });
    map.add("all", Arity::AtLeast(0), |a| {
        Ok(Value::Bool(a.iter().all(|v| !is_empty(v))))
    });
    map.add("any", Arity::AtLeast(0), |a| {
        Ok(Value::Bool(a.iter().any(|v| !is_empty(v))))
    });
    map.add("ternary", Arity::Exact(3), |a| {
        let condition = crate::args::bool(&a[2])?;
        Ok(if condition {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    map.add("fromJson", Arity::Exact(1), |a| {
        let text = string(&a[0])?;
        crate::budget::check_parse_len(text.len())?;
        Ok(decode(text).unwrap_or(Value::Nil))
    });
    map.add("mustFromJson", Arity::Exact(1), |a| {
        let text = string(&a[0])?;
        crate::budget::check_parse_len(text.len())?;
        decode(text).map_err(FuncError::new)
    });
    for (name, style, must) in [
        ("toJson", JsonStyle::Compact, false),
        ("mustToJson", JsonStyle::Compact, true),
        ("toPrettyJson", JsonStyle::Pretty, false),
        ("mustToPrettyJson", JsonStyle::Pretty, true),
        ("toRawJson", JsonStyle::Raw, true),
        ("mustToRawJson", JsonStyle::Raw, true),
    ] {
        map.add(name, Arity::Exact(1), move |a| {
            crate::budget::check_expansion(&a[0])?;
            match encode(&a[0], style) {
                Ok(text) => Ok(Value::string(text)),
                Err(message) if must => Err(FuncError::new(message)),
                Err(_) => Ok(Value::string("")),
            }
        });
    }
}
