//! List functions: `list`, `append`/`push`, `prepend`, `first`, `rest`,
//! `last`, `initial`, `reverse`, `uniq`, `without`, `has`, `compact`,
//! `slice`, `concat`, `chunk`, `until`/`untilStep`/`seq`, and their
//! `must` variants.
//!
//! Sprig's plain variants *panic* on a non-list, which Go's template engine
//! turns into an `error calling X:` failure just like the `must` variants'
//! errors, so both report the same way here. Sprig's `slice` replaces Go's
//! builtin `slice` in Helm.

use std::collections::HashSet;

use crate::args::{int, to_i64};
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap, FuncResult};
use crate::value::{List, ListKind, Value, deep_equal};

/// What Go reports when `reflect.TypeOf(nil).Kind()` is called.
pub(crate) const NIL_DEREFERENCE: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// The elements of a slice argument, or Sprig's error naming the kind.
fn items(value: &Value, what: &str) -> Result<Vec<Value>, FuncError> {
    match &*value.collection() {
        Value::List(list) => Ok(list.items().to_vec()),
        Value::Bytes(bytes) => Ok(bytes.iter().map(|b| Value::Int(i64::from(*b))).collect()),
        Value::Nil => Err(FuncError::new(NIL_DEREFERENCE)),
        other => Err(FuncError::new(format!("{what} {}", other.kind_name()))),
    }
}

fn list_value(items: Vec<Value>) -> FuncResult {
    Ok(Value::list(items))
}

/// The nil slice Sprig returns where it has nothing to return.
fn nil_list() -> FuncResult {
    Ok(Value::List(List::nil(ListKind::Interface)))
}

fn register_both(map: &mut FuncMap, name: &str, arity: Arity, body: fn(Vec<Value>) -> FuncResult) {
    map.add(name, arity, body);
    let must = format!("must{}{}", name[..1].to_uppercase(), &name[1..]);
    map.add(&must, arity, body);
}

pub(crate) fn register(map: &mut FuncMap) {
    for name in ["list", "tuple"] {
        map.add(name, Arity::AtLeast(0), list_value);
    }
    for name in ["append", "push"] {
        register_both(map, name, Arity::Exact(2), |a| {
            let mut list = items(&a[0], "Cannot push on type")?;
            list.push(a[1].clone());
            list_value(list)
        });
    }
    register_both(map, "prepend", Arity::Exact(2), |a| {
        let mut list = items(&a[0], "Cannot prepend on type")?;
        list.insert(0, a[1].clone());
        list_value(list)
    });
    register_both(map, "first", Arity::Exact(1), |a| {
        Ok(items(&a[0], "Cannot find first on type")?
            .into_iter()
            .next()
            .unwrap_or(Value::Nil))
    });
    register_both(map, "last", Arity::Exact(1), |a| {
        Ok(items(&a[0], "Cannot find last on type")?
            .pop()
            .unwrap_or(Value::Nil))
    });
    register_both(map, "rest", Arity::Exact(1), |a| {
        let list = items(&a[0], "Cannot find rest on type")?;
        if list.is_empty() {
            return nil_list();
        }
        list_value(list.into_iter().skip(1).collect())
    });
    register_both(map, "initial", Arity::Exact(1), |a| {
        let mut list = items(&a[0], "Cannot find initial on type")?;
        if list.pop().is_none() {
            return nil_list();
        }
        list_value(list)
    });
    register_both(map, "reverse", Arity::Exact(1), |a| {
        let mut list = items(&a[0], "Cannot find reverse on type")?;
        list.reverse();
        list_value(list)
    });
    register_both(map, "uniq", Arity::Exact(1), |a| {
        // Hashing reads every string once per appearance.
        crate::budget::check_expansion(&a[0])?;
        list_value(uniq(items(&a[0], "Cannot find uniq on type")?))
    });
    register_both(map, "without", Arity::AtLeast(1), |a| {
        let omit = &a[1..];
        let kept = items(&a[0], "Cannot find without on type")?
            .into_iter()
            .filter(|item| !omit.iter().any(|o| deep_equal(o, item)))
            .collect();
        list_value(kept)
    });
    register_both(map, "has", Arity::Exact(2), |a| {
        if let Value::Nil = a[1] {
            return Ok(Value::Bool(false));
        }
        let found = items(&a[1], "Cannot find has on type")?
            .iter()
            .any(|item| deep_equal(&a[0], item));
        Ok(Value::Bool(found))
    });
    register_both(map, "compact", Arity::Exact(1), |a| {
        let kept = items(&a[0], "Cannot compact on type")?
            .into_iter()
            .filter(|item| !super::defaults::is_empty(item))
            .collect();
        list_value(kept)
    });
    register_both(map, "slice", Arity::AtLeast(1), |a| {
        let list = items(&a[0], "list should be type of slice or array but")?;
        if list.is_empty() {
            return Ok(Value::Nil);
        }
        let start = a.get(1).map_or(0, to_i64);
        let end = a
            .get(2)
            .map_or(i64::try_from(list.len()).unwrap_or(i64::MAX), to_i64);
        let len = list.len();
        match (usize::try_from(start), usize::try_from(end)) {
            (Ok(start), Ok(end)) if start <= end && end <= len => {
                let kind = match &a[0] {
                    Value::List(l) => l.kind(),
                    _ => ListKind::Interface,
                };
                Ok(Value::List(List::with_kind(
                    list[start..end].to_vec(),
                    kind,
                )))
            }
            _ => Err(FuncError::new(
                "reflect.Value.Slice: slice index out of bounds",
            )),
        }
    });
    map.add("concat", Arity::AtLeast(0), |a| {
        let total = a.iter().map(|list| match list {
            Value::List(l) => l.items().len(),
            _ => 0,
        });
        crate::budget::check_list_len(total.fold(0, usize::saturating_add))?;
        let mut all = Vec::new();
        for list in &a {
            match list {
                Value::List(l) => all.extend(l.items().iter().cloned()),
                Value::Nil => return Err(FuncError::new(NIL_DEREFERENCE)),
                other => {
                    return Err(FuncError::new(format!(
                        "Cannot concat type {} as list",
                        other.kind_name()
                    )));
                }
            }
        }
        if all.is_empty() {
            return nil_list();
        }
        list_value(all)
    });
    register_both(map, "chunk", Arity::Exact(2), |a| {
        let size = int(&a[0])?;
        let list = items(&a[1], "Cannot chunk type")?;
        if size <= 0 {
            return Err(FuncError::new("runtime error: integer divide by zero"));
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let chunks = list.chunks(size).map(|c| Value::list(c.to_vec())).collect();
        list_value(chunks)
    });
    map.add("until", Arity::Exact(1), |a| {
        let count = int(&a[0])?;
        let step = if count < 0 { -1 } else { 1 };
        Ok(int_list(until_step(0, count, step)?))
    });
    map.add("untilStep", Arity::Exact(3), |a| {
        Ok(int_list(until_step(int(&a[0])?, int(&a[1])?, int(&a[2])?)?))
    });
    map.add("seq", Arity::AtLeast(0), |a| {
        let params = a.iter().map(int).collect::<Result<Vec<_>, _>>()?;
        Ok(Value::string(seq(&params)?))
    });
}

fn int_list(values: Vec<i64>) -> Value {
    Value::List(List::with_kind(
        values.into_iter().map(Value::Int).collect(),
        ListKind::Int,
    ))
}

/// Sprig's `uniq`: the first of each run of deeply equal items, in order.
/// Sprig compares each item with every one kept, which is quadratic: a
/// list from `until 1000000` would take hours. Scalars are looked up by a
/// key that is equal exactly when `deep_equal` is; only lists, maps and
/// objects are compared one by one, and only with each other.
fn uniq(items: Vec<Value>) -> Vec<Value> {
    let keep: Vec<bool> = {
        let mut seen = HashSet::new();
        let mut kept_composites: Vec<&Value> = Vec::new();
        items
            .iter()
            .map(|item| match ScalarKey::of(item) {
                Some(ScalarKey::NotANumber) => true,
                Some(key) => seen.insert(key),
                None if kept_composites.iter().any(|kept| deep_equal(kept, item)) => false,
                None => {
                    kept_composites.push(item);
                    true
                }
            })
            .collect()
    };
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect()
}

/// A scalar as `deep_equal` compares it: types apart, floats by value
/// (`-0` is `0`; NaN equals nothing, itself included), Go strings by
/// their bytes.
#[derive(PartialEq, Eq, Hash)]
enum ScalarKey<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Int64(i64),
    Float(u64),
    NotANumber,
    Text(&'a [u8]),
    Bytes(&'a [u8]),
}

impl<'a> ScalarKey<'a> {
    fn of(value: &'a Value) -> Option<ScalarKey<'a>> {
        Some(match value {
            Value::Nil => ScalarKey::Nil,
            Value::Bool(b) => ScalarKey::Bool(*b),
            Value::Int(i) => ScalarKey::Int(*i),
            Value::Int64(i) => ScalarKey::Int64(*i),
            Value::Float(f) if f.is_nan() => ScalarKey::NotANumber,
            // Adding zero turns -0 into 0, which DeepEqual holds equal.
            Value::Float(f) => ScalarKey::Float((f + 0.0).to_bits()),
            Value::String(_) | Value::Raw(_) => {
                ScalarKey::Text(value.go_bytes().unwrap_or_default())
            }
            Value::Bytes(bytes) => ScalarKey::Bytes(bytes),
            Value::List(_) | Value::Map(_) | Value::Object(_) => return None,
        })
    }
}

/// The most elements `untilStep` builds; Go has no bound, a hostile
/// template must fail clearly instead of exhausting memory.
const MAX_RANGE: usize = crate::budget::MAX_LIST_ITEMS;

/// Sprig's `untilStep`: from `start` towards `stop` (exclusive) by `step`;
/// empty when the step points away.
pub(crate) fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, FuncError> {
    let too_many = || {
        FuncError::new(format!(
            "a range of more than {MAX_RANGE} elements is refused"
        ))
    };
    let mut out = Vec::new();
    if stop < start {
        if step >= 0 {
            return Ok(out);
        }
        let mut i = start;
        while i > stop {
            if out.len() == MAX_RANGE {
                return Err(too_many());
            }
            out.push(i);
            i = i.saturating_add(step);
        }
        return Ok(out);
    }
    if step <= 0 {
        return Ok(out);
    }
    let mut i = start;
    while i < stop {
        if out.len() == MAX_RANGE {
            return Err(too_many());
        }
        out.push(i);
        i = i.saturating_add(step);
    }
    Ok(out)
}

/// Sprig's `seq`, like the Unix command: `seq END`, `seq START END`,
/// `seq START STEP END`.
fn seq(params: &[i64]) -> Result<String, FuncError> {
    let values = match *params {
        [end] => {
            let increment = if end < 1 { -1 } else { 1 };
            until_step(1, end + increment, increment)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end + step, step)?
        }
        [start, step, end] => {
            let increment = if end < start { -1 } else { 1 };
            if end < start && step > 0 {
                return Ok(String::new());
            }
            until_step(start, end + increment, step)?
        }
        _ => return Ok(String::new()),
    };
    Ok(values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_sprig() {
        assert_eq!(until_step(0, 5, 2), Ok(vec![0, 2, 4]));
        assert_eq!(until_step(5, 0, -2), Ok(vec![5, 3, 1]));
        assert_eq!(until_step(0, 5, -1), Ok(vec![]));
        assert!(until_step(0, i64::MAX, 1).is_err());
        assert_eq!(seq(&[3]).as_deref(), Ok("1 2 3"));
        assert_eq!(seq(&[2, 0]).as_deref(), Ok("2 1 0"));
        assert_eq!(seq(&[0, 2, 6]).as_deref(), Ok("0 2 4 6"));
        assert_eq!(seq(&[0]).as_deref(), Ok("1 0"));
    }
}
