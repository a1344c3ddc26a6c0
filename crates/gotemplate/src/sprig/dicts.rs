//! Dict functions: `dict`, `get`, `set`, `unset`, `hasKey`, `pluck`,
//! `keys`, `values`, `pick`, `omit`, `merge`, `mergeOverwrite` (and
//! `must` variants), `deepCopy`, `dig`.
//!
//! `set`/`unset`/`merge` change the dict in place, as Go maps are shared:
//! charts build state with `$_ := set $ctx "k" v`. `merge` follows
//! `dario.cat/mergo` as Sprig calls it, quirks included (an empty
//! destination value is filled, a non-empty one kept; nested dicts merge).
//! `keys` and `values` come out in key order where Go's map order is random.

use std::collections::BTreeMap;

use crate::args::{string, to_string};
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap, FuncResult, MapParams};
use crate::value::{List, Map, Value};

/// A Go `map[string]interface{}` parameter: a nil map for nil, else Go's
/// type error.
fn dict_arg(value: &Value) -> Result<Option<Map>, FuncError> {
    // A named map[string]interface{} type (Helm's `.Values`) is assignable
    // to the parameter; other named collections (`.Files`, a
    // map[string][]byte) are not.
    if let Value::Object(object) = value
        && object.as_map().is_none()
    {
        return Err(FuncError::wrong_type("map[string]interface {}", value));
    }
    match &*value.collection() {
        Value::Map(map) if !map.has_string_values() => Ok(Some(map.clone())),
        Value::Nil => Ok(None),
        _ => Err(FuncError::wrong_type("map[string]interface {}", value)),
    }
}

fn nil_map_write() -> FuncError {
    FuncError::new("assignment to entry in nil map")
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("dict", Arity::AtLeast(0), |a| {
        let mut entries = BTreeMap::new();
        for pair in a.chunks(2) {
            let value = pair.get(1).cloned().unwrap_or_else(|| Value::string(""));
            entries.insert(to_string(&pair[0]), value);
        }
        Ok(Value::map(entries))
    });
    map.add_with_map_params("get", MapParams::First, Arity::Exact(2), |a| {
        let (dict, key) = (dict_arg(&a[0])?, string(&a[1])?);
        Ok(dict
            .and_then(|d| d.get(key))
            .unwrap_or_else(|| Value::string("")))
    });
    map.add_with_map_params("set", MapParams::First, Arity::Exact(3), |a| {
        let (dict, key) = (dict_arg(&a[0])?, string(&a[1])?);
        let dict = dict.ok_or_else(nil_map_write)?;
        dict.insert(key, a[2].clone());
        Ok(Value::Map(dict))
    });
    map.add_with_map_params("unset", MapParams::First, Arity::Exact(2), |a| {
        let (dict, key) = (dict_arg(&a[0])?, string(&a[1])?);
        match dict {
            Some(dict) => {
                dict.write().remove(key);
                Ok(Value::Map(dict))
            }
            None => Ok(Value::Map(Map::new())),
        }
    });
    map.add_with_map_params("hasKey", MapParams::First, Arity::Exact(2), |a| {
        let (dict, key) = (dict_arg(&a[0])?, string(&a[1])?);
        Ok(Value::Bool(
            dict.is_some_and(|d| d.read().contains_key(key)),
        ))
    });
    map.add_with_map_params("pluck", MapParams::AllButFirst, Arity::AtLeast(1), |a| {
        let key = string(&a[0])?;
        let mut found = Vec::new();
        for dict in &a[1..] {
            if let Some(value) = dict_arg(dict)?.and_then(|d| d.get(key)) {
                found.push(value);
            }
        }
        Ok(Value::list(found))
    });
    map.add_with_map_params("keys", MapParams::All, Arity::AtLeast(0), |a| {
        let mut keys = Vec::new();
        for dict in &a {
            if let Some(dict) = dict_arg(dict)? {
                keys.extend(dict.read().keys().cloned());
            }
        }
        Ok(Value::string_list(keys))
    });
    map.add_with_map_params("values", MapParams::First, Arity::Exact(1), |a| {
        let values = dict_arg(&a[0])?
            .map(|d| d.read().values().cloned().collect())
            .unwrap_or_default();
        Ok(Value::list(values))
    });
    map.add_with_map_params("pick", MapParams::First, Arity::AtLeast(1), |a| {
        let dict = dict_arg(&a[0])?;
        let mut picked = BTreeMap::new();
        for key in &a[1..] {
            let key = string(key)?;
            if let Some(value) = dict.as_ref().and_then(|d| d.get(key)) {
                picked.insert(key.to_owned(), value);
            }
        }
        Ok(Value::map(picked))
    });
    map.add_with_map_params("omit", MapParams::First, Arity::AtLeast(1), |a| {
        let dict = dict_arg(&a[0])?;
        let omitted = a[1..].iter().map(string).collect::<Result<Vec<_>, _>>()?;
        let kept = dict
            .map(|d| {
                d.snapshot()
                    .into_iter()
                    .filter(|(k, _)| !omitted.contains(&k.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Value::map(kept))
    });
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        map.add_with_map_params(name, MapParams::All, Arity::AtLeast(1), move |a| {
            let dst = dict_arg(&a[0])?.unwrap_or_default();
            for src in &a[1..] {
                if let Some(src) = dict_arg(src)? {
                    merge_into(&dst, &src, overwrite);
                }
            }
            Ok(Value::Map(dst))
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        map.add(name, Arity::Exact(1), |a| match &a[0] {
            // copystructure's reflection panics on a nil interface.
            Value::Nil => Err(FuncError::new(
                "reflect: call of reflect.Value.Type on zero Value",
            )),
            value => {
                crate::budget::check_copy(value)?;
                Ok(deep_copy(value))
            }
        });
    }
    // Variadic in Go; too few arguments is dig's own panic.
    map.add("dig", Arity::AtLeast(0), dig);
}

/// A copy sharing nothing mutable with the original (Sprig's `deepCopy`).
pub fn deep_copy(value: &Value) -> Value {
    copy_at(value, 0)
}

fn copy_at(value: &Value, depth: usize) -> Value {
    if depth > crate::fmt::MAX_DEPTH {
        // A dict that contains itself: share the rest instead of looping.
        return value.clone();
    }
    match value {
        Value::Map(map) => {
            let entries = map
                .read()
                .iter()
                .map(|(k, v)| (k.clone(), copy_at(v, depth + 1)))
                .collect();
            if map.has_string_values() {
                Value::Map(Map::from_string_entries(entries))
            } else {
                Value::map(entries)
            }
        }
        Value::List(list) => Value::List(List::with_kind(
            list.items().iter().map(|v| copy_at(v, depth + 1)).collect(),
            list.kind(),
        )),
        Value::Object(object) => object
            .as_collection()
            .and_then(|collection| object.with_collection(copy_at(&collection, depth + 1)))
            .unwrap_or_else(|| value.clone()),
        other => other.clone(),
    }
}

/// mergo's emptiness test (`isEmptyValue` with dereferencing).
fn is_mergo_empty(value: &Value) -> bool {
    super::defaults::is_empty(value)
}

/// `mergo.Merge` / `mergo.MergeWithOverwrite` of `src` into `dst` for
/// `map[string]interface{}` values.
pub fn merge_into(dst: &Map, src: &Map, overwrite: bool) {
    merge_at(dst, src, overwrite, 0);
}

fn merge_at(dst: &Map, src: &Map, overwrite: bool, depth: usize) {
    if dst.ptr_eq(src) || depth > crate::fmt::MAX_DEPTH {
        return;
    }
    for (key, src_value) in src.snapshot() {
        let dst_value = dst.get(&key);
        match &src_value {
            Value::Nil => {
                if overwrite {
                    dst.insert(key, Value::Nil);
                }
                continue;
            }
            Value::Map(src_map) => {
                if let Some(Value::Map(dst_map)) = &dst_value {
                    merge_at(dst_map, src_map, overwrite, depth + 1);
                    if !dst_map.is_empty() {
                        continue;
                    }
                }
            }
            Value::List(_)
                if !overwrite && dst_value.as_ref().is_some_and(|d| !is_mergo_empty(d)) =>
            {
                continue;
            }
            _ => {}
        }
        let dst_empty = dst_value.as_ref().is_none_or(is_mergo_empty);
        if overwrite || dst_empty {
            dst.insert(key, src_value);
        }
    }
}

/// Sprig's `dig KEY... DEFAULT DICT`; Go's type assertions panic on a
/// non-string key or a non-dict step, reported as Go's runtime message.
fn dig(args: Vec<Value>) -> FuncResult {
    if args.len() < 3 {
        return Err(FuncError::new("dig needs at least three arguments"));
    }
    let (dict, rest) = args.split_last().expect("three arguments, checked above");
    let (default, keys) = rest.split_last().expect("three arguments, checked above");
    let assertion = |value: &Value, wanted: &str| {
        let got = match value {
            Value::Nil => "nil".to_owned(),
            other => other.type_name(),
        };
        FuncError::new(format!(
            "interface conversion: interface {{}} is {got}, not {wanted}"
        ))
    };
    let keys: Vec<&str> = keys
        .iter()
        .map(|k| k.as_str().ok_or_else(|| assertion(k, "string")))
        .collect::<Result<_, _>>()?;
    let mut current = match dict {
        Value::Map(map) if !map.has_string_values() => map.clone(),
        other => return Err(assertion(other, "map[string]interface {}")),
    };
    for (i, key) in keys.iter().enumerate() {
        let Some(step) = current.get(key) else {
            return Ok(default.clone());
        };
        if i == keys.len() - 1 {
            return Ok(step);
        }
        current = match step {
            Value::Map(map) if !map.has_string_values() => map,
            other => return Err(assertion(&other, "map[string]interface {}")),
        };
    }
    Ok(default.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(json: serde_json::Value) -> Map {
        match Value::from(&json) {
            Value::Map(map) => map,
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn merge_keeps_non_empty_destination_values() {
        let dst = m(serde_json::json!({"a": 1, "b": "", "n": {"x": 1}, "l": [1]}));
        let src = m(
            serde_json::json!({"a": 2, "b": "filled", "c": 3, "n": {"x": 2, "y": 2}, "l": [2], "z": null}),
        );
        merge_into(&dst, &src, false);
        assert_eq!(
            crate::fmt::format_value(&Value::Map(dst)),
            "map[a:1 b:filled c:3 l:[1] n:map[x:1 y:2]]"
        );
    }

    #[test]
    fn merge_overwrite_replaces_even_with_empty_values() {
        let dst = m(serde_json::json!({"a": 1, "n": {"x": 1}, "l": [1], "z": 1}));
        let src = m(serde_json::json!({"a": "", "n": {"y": 2}, "l": [], "z": null}));
        merge_into(&dst, &src, true);
        assert_eq!(
            crate::fmt::format_value(&Value::Map(dst)),
            "map[a: l:[] n:map[x:1 y:2] z:<nil>]"
        );
    }
}
