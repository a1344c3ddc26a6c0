//! Argument conversions for template functions, with Go's rules.
//!
//! Go checks a function's typed parameters by reflection before calling it
//! (`wrong type for value; expected int; got float64`), while Sprig's
//! `interface{}` parameters go through `spf13/cast`-style conversions
//! (`toString`, `toInt64`...). Both live here so every function converts the
//! same way.

use crate::error::FuncError;
use crate::value::Value;

/// A Go `string` parameter.
///
/// # Errors
/// Go's `wrong type for value` when `value` is not a string.
pub fn string(value: &Value) -> Result<&str, FuncError> {
    match value {
        Value::String(s) => Ok(s),
        Value::Raw(raw) => Ok(raw.runes()),
        other => Err(FuncError::wrong_type("string", other)),
    }
}

/// A Go `string` parameter as its bytes, for functions that work on
/// bytes (`b64enc`, the checksums): a string that is not UTF-8 keeps them.
///
/// # Errors
/// Go's `wrong type for value` when `value` is not a string.
pub fn string_bytes(value: &Value) -> Result<&[u8], FuncError> {
    value
        .go_bytes()
        .ok_or_else(|| FuncError::wrong_type("string", value))
}

/// Go's reflection check of a method call's argument count, in its words
/// (`wrong number of args for Get: want 1 got 2`), for [`Object`]
/// methods.
///
/// [`Object`]: crate::Object
///
/// # Errors
/// The message when `args` does not hold `want` arguments.
pub fn method_arity(method: &str, args: &[Value], want: usize) -> Result<(), String> {
    if args.len() == want {
        return Ok(());
    }
    Err(format!(
        "wrong number of args for {method}: want {want} got {}",
        args.len()
    ))
}

/// A method's one Go `string` argument (`.Files.Get "a.txt"`).
///
/// # Errors
/// Go's message for another count or type.
pub fn method_string<'a>(method: &str, args: &'a [Value]) -> Result<&'a str, String> {
    method_arity(method, args, 1)?;
    string(&args[0]).map_err(|e| e.message)
}

/// A Go `int` parameter (only a Go `int` is assignable to it).
///
/// # Errors
/// Go's `wrong type for value` for anything else, including `int64` and
/// `float64`.
pub fn int(value: &Value) -> Result<i64, FuncError> {
    match value {
        Value::Int(i) => Ok(*i),
        other => Err(FuncError::wrong_type("int", other)),
    }
}

/// A Go `bool` parameter.
///
/// # Errors
/// Go's `wrong type for value` when `value` is not a bool.
pub fn bool(value: &Value) -> Result<bool, FuncError> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(FuncError::wrong_type("bool", other)),
    }
}

/// A Go `[]interface{}` parameter (any slice converts).
///
/// # Errors
/// Go's `wrong type for value` for non-slices.
pub fn list(value: &Value) -> Result<Vec<Value>, FuncError> {
    match value {
        Value::List(l) => Ok(l.items().to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(FuncError::wrong_type("[]interface {}", other)),
    }
}

/// Sprig's `strval`/`cast.ToString` view of a value: strings as is, `[]byte`
/// as text, errors' messages, anything else as `fmt.Sprintf("%v")`.
#[must_use]
pub fn to_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => crate::raw_string::rune_view(b),
        other => crate::fmt::format_value(other),
    }
}

/// [`to_string`] as a Go string value, keeping bytes that are not UTF-8
/// (Sprig's `toString` of a binary file's `[]byte` is those bytes).
#[must_use]
pub fn to_go_string(value: &Value) -> Value {
    match value {
        Value::String(_) | Value::Raw(_) => value.clone(),
        Value::Bytes(b) => crate::raw_string::go_string(b.to_vec()),
        other => {
            let mut text = crate::fmt::GoText::default();
            crate::fmt::print_value_into(&mut text, other);
            text.into_value()
        }
    }
}

/// `cast.ToInt64` as Sprig uses it: numbers truncate, numeric strings
/// parse (base prefixes allowed), bools are 0/1, anything else is 0.
#[must_use]
pub fn to_i64(value: &Value) -> i64 {
    match value {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Float(f) => go_float_to_int(*f),
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_cast_int(s).unwrap_or(0),
        Value::Object(object) => object.as_int().unwrap_or(0),
        _ => 0,
    }
}

/// Go's `int64(f)` on amd64, where Helm runs: truncation toward zero, and
/// the CPU's "integer indefinite" (the smallest int64) for NaN and for
/// values out of range either way (Rust would saturate instead).
fn go_float_to_int(f: f64) -> i64 {
    // 2^63 is exact in f64; everything in [-2^63, 2^63) converts.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if (-LIMIT..LIMIT).contains(&f) {
        #[expect(clippy::cast_possible_truncation, reason = "in range: Go truncates")]
        let truncated = f as i64;
        truncated
    } else {
        i64::MIN
    }
}

fn parse_cast_int(s: &str) -> Option<i64> {
    // cast trims a zero fraction ("10.0") before parsing.
    let s = match s.split_once('.') {
        Some((whole, fraction))
            if !whole.is_empty() && !fraction.is_empty() && fraction.bytes().all(|b| b == b'0') =>
        {
            whole
        }
        _ => s,
    };
    crate::strconv::parse_int(s)
}

/// `cast.ToFloat64` as Sprig uses it: numbers convert, numeric strings
/// parse, bools are 0/1, anything else is 0.
#[must_use]
pub fn to_f64(value: &Value) -> f64 {
    match value {
        #[expect(
            clippy::cast_precision_loss,
            reason = "Go's float64(i) rounds the same way"
        )]
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => crate::strconv::parse_float(s).unwrap_or(0.0),
        #[expect(
            clippy::cast_precision_loss,
            reason = "Go's float64(i) rounds the same way"
        )]
        Value::Object(object) => object.as_int().unwrap_or(0) as f64,
        _ => 0.0,
    }
}
