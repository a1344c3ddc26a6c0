//! What one execution may build, so a hostile template fails with an
//! error instead of exhausting the process's memory.
//!
//! Go bounds none of this. `{{ $l := list $s $s $s }}{{ toJson $l }}`
//! with a 60 MB `$s`, `replace "a" (repeat 1000 "b")` on a long string,
//! or `range` over `append` of a fresh `repeat` each allocate until the
//! process dies, and in a controller that process renders every tenant's
//! charts. So:
//! - **one string** holds at most [`MAX_STRING_BYTES`]: a function that
//!   grows its input (`repeat`, `indent`, `replace`, `join`…) computes
//!   the size first and fails before building it, and the engine checks
//!   every result;
//! - **one list** holds at most [`MAX_LIST_ITEMS`] (`split`, `concat`,
//!   `until`…);
//! - **one text parsed** (`tpl`, `fromJson`, `fromYaml`…) is at most
//!   [`MAX_PARSED_BYTES`]: a parsed tree takes tens of times its text;
//! - **a value written out** (`toJson`, `toYaml`, printing, `deepCopy`)
//!   may expand to at most [`MAX_STRING_BYTES`]: a list or map holding the
//!   same big value many times, or nesting shared lists, is small in
//!   memory but huge written out, so [`check_expansion`] walks it first,
//!   charging each element [`ELEMENT_BYTES`] and each string its length,
//!   and stops at the bound; for the YAML and TOML writers, which recurse
//!   through a copy, [`check_tree`] also tells whether the value nests
//!   past the printers' depth (a map that contains itself);
//! - **one execution** builds at most
//!   [`Options::max_built_bytes`](crate::Options::max_built_bytes) in all:
//!   the engine charges every string and list a function returns
//!   ([`result_bytes`]) and every byte the template writes, so a loop that
//!   keeps making big values stops too.
//!
//! The bounds sit far above what real charts build (the busiest template
//! of our corpus builds a few MiB), and every error says which bound it
//! met.

use crate::error::FuncError;
use crate::value::Value;

/// The longest string a function may build: 64 MiB, far beyond any
/// Kubernetes object (etcd stores 1.5 MiB).
pub const MAX_STRING_BYTES: usize = 64 * 1024 * 1024;

/// The most elements a function may put in one list.
pub const MAX_LIST_ITEMS: usize = 1_000_000;

/// The longest text a function may parse into a tree (a template, JSON,
/// YAML, TOML): more than any chart file may hold (5 MiB in Helm), and a
/// tree of it still costs only a few hundred MiB at worst.
pub const MAX_PARSED_BYTES: usize = 8 * 1024 * 1024;

/// What one element of a list or map is charged: about what it takes in
/// memory, which is more than it takes written out, so the walk errs
/// towards refusing a value that expands hugely.
pub const ELEMENT_BYTES: usize = 32;

/// Fails when a string of `len` bytes is more than one value may hold.
///
/// # Errors
/// Names the bound.
pub fn check_string_len(len: usize) -> Result<(), FuncError> {
    if len > MAX_STRING_BYTES {
        return Err(FuncError::new(format!(
            "the result would be a string of more than {MAX_STRING_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Fails when a list of `len` elements is more than one value may hold.
///
/// # Errors
/// Names the bound.
pub fn check_list_len(len: usize) -> Result<(), FuncError> {
    if len > MAX_LIST_ITEMS {
        return Err(FuncError::new(format!(
            "the result would be a list of more than {MAX_LIST_ITEMS} elements"
        )));
    }
    Ok(())
}

/// Fails when a text of `len` bytes is more than a function may parse.
///
/// # Errors
/// Names the bound.
pub fn check_parse_len(len: usize) -> Result<(), FuncError> {
    if len > MAX_PARSED_BYTES {
        return Err(FuncError::new(format!(
            "the text to parse is {len} bytes, more than the {MAX_PARSED_BYTES} a function may parse"
        )));
    }
    Ok(())
}

/// Fails when `value` written out would take more than
/// [`MAX_STRING_BYTES`], counting shared parts each time they appear.
/// Costs at most one pass over the first [`MAX_STRING_BYTES`] charged.
///
/// # Errors
/// Names the bound.
pub fn check_expansion(value: &Value) -> Result<(), FuncError> {
    check_walk(value, Walk::WrittenOut)
}

/// How deep a value nests, for a writer with no depth guard of its own
/// (the YAML and TOML writers recurse through a copy of the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// Within the printers' depth: safe to write.
    Within,
    /// Deeper than the printers go, as a map that contains itself is:
    /// the writer must not recurse into it.
    TooDeep,
}

/// [`check_expansion`] for a writer with no depth guard of its own, which
/// also learns whether the value nests too deep to write ([`Nesting`]).
///
/// # Errors
/// Names the bound on size.
pub fn check_tree(value: &Value) -> Result<Nesting, FuncError> {
    let mut left = MAX_STRING_BYTES;
    let mut too_deep = false;
    let fits = charge(value, Walk::WrittenOut, 0, &mut left, &mut too_deep);
    if too_deep {
        return Ok(Nesting::TooDeep);
    }
    if fits {
        Ok(Nesting::Within)
    } else {
        Err(too_large(Walk::WrittenOut))
    }
}

/// The error of a writer refusing a value that nests [`Nesting::TooDeep`].
#[must_use]
pub fn too_deep() -> FuncError {
    FuncError::new(format!(
        "the value nests more than {} levels deep (a map or list that contains itself?)",
        crate::fmt::MAX_DEPTH
    ))
}

/// Fails when a deep copy of `value` would make more than
/// [`MAX_STRING_BYTES`] worth of elements ([`ELEMENT_BYTES`] each; strings
/// are shared, not copied).
///
/// # Errors
/// Names the bound.
pub fn check_copy(value: &Value) -> Result<(), FuncError> {
    check_walk(value, Walk::Copied)
}

/// What a walk charges strings for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Written out: every string's bytes each time it appears.
    WrittenOut,
    /// Deep-copied: strings are shared, so only elements cost.
    Copied,
}

/// Walks past the printers' depth stop there: those writers cut the value
/// or report the cycle themselves.
fn check_walk(value: &Value, walk: Walk) -> Result<(), FuncError> {
    let mut left = MAX_STRING_BYTES;
    if charge(value, walk, 0, &mut left, &mut false) {
        return Ok(());
    }
    Err(too_large(walk))
}

fn too_large(walk: Walk) -> FuncError {
    FuncError::new(match walk {
        Walk::WrittenOut => format!(
            "the value written out would take more than {MAX_STRING_BYTES} bytes (it repeats or nests large parts)"
        ),
        Walk::Copied => format!(
            "the copy would take more than {MAX_STRING_BYTES} bytes (the value repeats or nests large parts)"
        ),
    })
}

/// Takes `value`'s charge from `left`; false once it runs out. A value
/// nested deeper than the printers go is a cycle they cut or report, so
/// the walk stops there too and leaves the report to them.
fn charge(value: &Value, walk: Walk, depth: usize, left: &mut usize, too_deep: &mut bool) -> bool {
    let text = match (walk, value) {
        (Walk::Copied, _) => 0,
        (_, Value::String(s)) => s.len(),
        (_, Value::Raw(raw)) => raw.bytes().len(),
        (_, Value::Bytes(bytes)) => bytes.len(),
        _ => 0,
    };
    let Some(rest) = left.checked_sub(ELEMENT_BYTES + text) else {
        return false;
    };
    *left = rest;
    if depth > crate::fmt::MAX_DEPTH {
        *too_deep = true;
        return true;
    }
    match value {
        Value::List(list) => list
            .items()
            .iter()
            .all(|item| charge(item, walk, depth + 1, left, too_deep)),
        Value::Map(map) => map.read().iter().all(|(key, item)| {
            match left.checked_sub(key.len()) {
                Some(rest) => *left = rest,
                None => return false,
            }
            charge(item, walk, depth + 1, left, too_deep)
        }),
        Value::Object(object) => object
            .as_collection()
            .is_none_or(|collection| charge(&collection, walk, depth + 1, left, too_deep)),
        _ => true,
    }
}

/// What the engine charges an execution for a function's result: a
/// string's bytes, [`ELEMENT_BYTES`] per element of a list; a map is
/// charged as it grows, one step per `set`, so not here.
#[must_use]
pub fn result_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Raw(raw) => raw.bytes().len(),
        Value::Bytes(bytes) => bytes.len(),
        Value::List(list) => list.items().len().saturating_mul(ELEMENT_BYTES),
        _ => 0,
    }
}

/// Fails when a function's `value` is larger than one value may be.
///
/// # Errors
/// Names the bound.
pub fn check_result(value: &Value) -> Result<(), FuncError> {
    match value {
        Value::String(s) => check_string_len(s.len()),
        Value::Raw(raw) => check_string_len(raw.bytes().len()),
        Value::Bytes(bytes) => check_string_len(bytes.len()),
        Value::List(list) => check_list_len(list.items().len()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_repeating_a_big_string_expands_past_the_bound() {
        let big = Value::string("a".repeat(MAX_STRING_BYTES / 8));
        let list = Value::list(vec![big.clone(); 4]);
        assert!(check_expansion(&list).is_ok());
        let twice = Value::list(vec![list.clone(), list]);
        let error = check_expansion(&twice).expect_err("twice the bound");
        assert!(
            error.message.contains("more than 67108864 bytes"),
            "{}",
            error.message
        );
    }

    #[test]
    fn shared_nested_lists_expand_exponentially_and_stop_early() {
        let mut value = Value::list(vec![Value::Int(1); 16]);
        for _ in 0..12 {
            value = Value::list(vec![value; 16]);
        }
        assert!(check_expansion(&value).is_err());
    }

    #[test]
    fn a_copy_shares_strings_but_not_elements() {
        let big = Value::string("a".repeat(MAX_STRING_BYTES / 8));
        let list = Value::list(vec![big; 16]);
        assert!(check_copy(&list).is_ok());
        assert!(check_expansion(&list).is_err());
        let wide = Value::list(vec![Value::Nil; MAX_STRING_BYTES / ELEMENT_BYTES]);
        assert!(check_copy(&wide).is_err());
    }

    #[test]
    fn results_are_charged_by_size() {
        assert_eq!(result_bytes(&Value::string("abc")), 3);
        assert_eq!(result_bytes(&Value::list(vec![Value::Nil; 2])), 64);
        assert_eq!(result_bytes(&Value::Int(7)), 0);
        assert!(check_result(&Value::list(vec![Value::Nil; MAX_LIST_ITEMS + 1])).is_err());
    }
}
