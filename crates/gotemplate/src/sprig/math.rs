//! Arithmetic and number conversion: `add`, `add1`, `sub`, `mul`, `div`,
//! `mod`, `max`/`biggest`, `min` (all int64, as Sprig returns), `addf`,
//! `add1f`, `subf`, `mulf`, `divf` (decimal arithmetic, as Sprig does
//! through shopspring/decimal, so `addf 0.1 0.2` is 0.3), `maxf`, `minf`,
//! `floor`, `ceil`, `round`, `int`, `int64`, `float64`, `toDecimal`,
//! `randInt`.

use crate::args::{int, to_f64, to_i64};
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap, FuncResult};
use crate::value::Value;

fn divide_by_zero() -> FuncError {
    FuncError::new("runtime error: integer divide by zero")
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("add1", Arity::Exact(1), |a| {
        Ok(Value::Int64(to_i64(&a[0]).wrapping_add(1)))
    });
    map.add("add", Arity::AtLeast(0), |a| {
        Ok(Value::Int64(
            a.iter().map(to_i64).fold(0, i64::wrapping_add),
        ))
    });
    map.add("sub", Arity::Exact(2), |a| {
        Ok(Value::Int64(to_i64(&a[0]).wrapping_sub(to_i64(&a[1]))))
    });
    map.add("mul", Arity::AtLeast(1), |a| {
        Ok(Value::Int64(
            a.iter().map(to_i64).fold(1, i64::wrapping_mul),
        ))
    });
    map.add("div", Arity::Exact(2), |a| {
        let divisor = to_i64(&a[1]);
        if divisor == 0 {
            return Err(divide_by_zero());
        }
        Ok(Value::Int64(to_i64(&a[0]).wrapping_div(divisor)))
    });
    map.add("mod", Arity::Exact(2), |a| {
        let divisor = to_i64(&a[1]);
        if divisor == 0 {
            return Err(divide_by_zero());
        }
        Ok(Value::Int64(to_i64(&a[0]).wrapping_rem(divisor)))
    });
    for name in ["max", "biggest"] {
        map.add(name, Arity::AtLeast(1), |a| {
            Ok(Value::Int64(a.iter().map(to_i64).max().unwrap_or(0)))
        });
    }
    map.add("min", Arity::AtLeast(1), |a| {
        Ok(Value::Int64(a.iter().map(to_i64).min().unwrap_or(0)))
    });
    map.add("maxf", Arity::AtLeast(1), |a| {
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_max),
        ))
    });
    map.add("minf", Arity::AtLeast(1), |a| {
        Ok(Value::Float(
            a[1..].iter().map(to_f64).fold(to_f64(&a[0]), go_min),
        ))
    });
    map.add("floor", Arity::Exact(1), |a| {
        Ok(Value::Float(to_f64(&a[0]).floor()))
    });
    map.add("ceil", Arity::Exact(1), |a| {
        Ok(Value::Float(to_f64(&a[0]).ceil()))
    });
    map.add("round", Arity::AtLeast(2), |a| {
        let places = int(&a[1])?;
        let round_on = match a.get(2) {
            Some(Value::Float(f)) => *f,
            Some(other) => return Err(FuncError::wrong_type("float64", other)),
            None => 0.5,
        };
        Ok(Value::Float(round(to_f64(&a[0]), places, round_on)))
    });
    map.add("add1f", Arity::Exact(1), |a| {
        decimal_op(&a[0], &[Value::Int(1)], Op::Add)
    });
    map.add("addf", Arity::AtLeast(0), |a| {
        decimal_op(&Value::Float(0.0), &a, Op::Add)
    });
    map.add("subf", Arity::AtLeast(1), |a| {
        decimal_op(&a[0], &a[1..], Op::Sub)
    });
    map.add("mulf", Arity::AtLeast(1), |a| {
        decimal_op(&a[0], &a[1..], Op::Mul)
    });
    map.add("divf", Arity::AtLeast(1), |a| {
        decimal_op(&a[0], &a[1..], Op::Div)
    });
    map.add("int", Arity::Exact(1), |a| Ok(Value::Int(to_i64(&a[0]))));
    map.add("int64", Arity::Exact(1), |a| {
        Ok(Value::Int64(to_i64(&a[0])))
    });
    map.add("float64", Arity::Exact(1), |a| {
        Ok(Value::Float(to_f64(&a[0])))
    });
    map.add("toDecimal", Arity::Exact(1), |a| {
        let text = crate::fmt::format_value(&a[0]);
        let digits = text.strip_prefix('+').unwrap_or(&text);
        Ok(Value::Int64(i64::from_str_radix(digits, 8).unwrap_or(0)))
    });
    map.add("randInt", Arity::Exact(2), |a| {
        let (low, high) = (int(&a[0])?, int(&a[1])?);
        if high <= low {
            return Err(FuncError::new("invalid argument to Intn"));
        }
        let span = u64::try_from(high - low).unwrap_or(u64::MAX);
        let offset = i64::try_from(super::random::below(span)).unwrap_or(0);
        Ok(Value::Int(low + offset))
    });
}

/// Go's `math.Max`: NaN wins, +0 beats -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    a.max(b)
}

/// Go's `math.Min`: NaN wins, -0 beats +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    a.min(b)
}

/// Sprig's `round`: scale, compare the fraction with `round_on`, then
/// ceil or floor.
fn round(value: f64, places: i64, round_on: f64) -> f64 {
    #[expect(
        clippy::cast_precision_loss,
        reason = "Sprig converts places to float64 too"
    )]
    let pow = 10f64.powf(places as f64);
    let digit = pow * value;
    let fraction = digit.fract();
    let rounded = if fraction >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    rounded / pow
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// An exact decimal `mantissa × 10^-scale`, like shopspring/decimal's for
/// the values templates use.
#[derive(Clone, Copy, Debug)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Digits shopspring/decimal keeps in a quotient.
const DIVISION_PRECISION: u32 = 16;

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_f64(f: f64) -> Option<Self> {
        if !f.is_finite() {
            return None;
        }
        let text = format!("{:e}", f.abs());
        let (mantissa, exponent) = text.split_once('e')?;
        let exponent: i32 = exponent.parse().ok()?;
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let fraction_digits = i32::try_from(digits.len()).ok()? - 1 - exponent;
        let mut value: i128 = digits.parse().ok()?;
        let scale = if fraction_digits < 0 {
            value = value.checked_mul(10i128.checked_pow(fraction_digits.unsigned_abs())?)?;
            0
        } else {
            fraction_digits.unsigned_abs()
        };
        if f.is_sign_negative() {
            value = -value;
        }
        Some(Self {
            mantissa: value,
            scale,
        })
    }

    fn rescale(self, scale: u32) -> Option<i128> {
        self.mantissa
            .checked_mul(10i128.checked_pow(scale - self.scale)?)
    }

    fn apply(self, other: Self, op: Op) -> Option<Self> {
        match op {
            Op::Add | Op::Sub => {
                let scale = self.scale.max(other.scale);
                let (a, b) = (self.rescale(scale)?, other.rescale(scale)?);
                let mantissa = if let Op::Add = op {
                    a.checked_add(b)?
                } else {
                    a.checked_sub(b)?
                };
                Some(Self { mantissa, scale })
            }
            Op::Mul => Some(Self {
                mantissa: self.mantissa.checked_mul(other.mantissa)?,
                scale: self.scale + other.scale,
            }),
            Op::Div => {
                // Quotient rounded half away from zero to 16 places.
                let numerator = self
                    .mantissa
                    .checked_mul(10i128.checked_pow(other.scale + DIVISION_PRECISION)?)?;
                let denominator = other
                    .mantissa
                    .checked_mul(10i128.checked_pow(self.scale)?)?;
                let quotient = numerator / denominator;
                let remainder = numerator % denominator;
                let round_away =
                    remainder.checked_abs()?.checked_mul(2)? >= denominator.checked_abs()?;
                let negative = (numerator < 0) != (denominator < 0);
                let mantissa = match (round_away, negative) {
                    (true, true) => quotient - 1,
                    (true, false) => quotient + 1,
                    _ => quotient,
                };
                Some(Self {
                    mantissa,
                    scale: DIVISION_PRECISION,
                })
            }
        }
    }

    fn to_f64(self) -> f64 {
        let negative = self.mantissa < 0;
        let digits = self.mantissa.unsigned_abs().to_string();
        let text = format!(
            "{}{digits}e-{}",
            if negative { "-" } else { "" },
            self.scale
        );
        text.parse().unwrap_or(f64::NAN)
    }
}

fn float_op(a: f64, b: f64, op: Op) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        Op::Div => a / b,
    }
}

/// Sprig's `execDecimalOp`: fold the operands with exact decimal
/// arithmetic, falling back to float arithmetic only where the exact
/// mantissa would overflow.
fn decimal_op(first: &Value, rest: &[Value], op: Op) -> FuncResult {
    let mut float = to_f64(first);
    let mut exact = Decimal::from_f64(decimal_operand(float)?);
    for operand in rest {
        let next = decimal_operand(to_f64(operand))?;
        if matches!(op, Op::Div) && next == 0.0 {
            return Err(FuncError::new("decimal division by 0"));
        }
        exact = exact
            .zip(Decimal::from_f64(next))
            .and_then(|(a, b)| a.apply(b, op));
        float = exact.map_or_else(|| float_op(float, next, op), Decimal::to_f64);
    }
    Ok(Value::Float(exact.map_or(float, Decimal::to_f64)))
}

/// `decimal.NewFromFloat`'s refusal (a panic Go's template reports) of
/// what no decimal can hold.
fn decimal_operand(f: f64) -> Result<f64, FuncError> {
    if f.is_finite() {
        Ok(f)
    } else {
        Err(FuncError::new(format!(
            "Cannot create a Decimal from {}",
            crate::fmt::format_float(f, 'g', None)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &Value) -> f64 {
        match v {
            Value::Float(f) => *f,
            _ => f64::NAN,
        }
    }

    #[test]
    fn decimal_arithmetic_is_exact() {
        let add = decimal_op(&Value::Float(0.1), &[Value::Float(0.2)], Op::Add).map(|v| f(&v));
        assert_eq!(add, Ok(0.3));
        let div = decimal_op(&Value::Float(10.0), &[Value::Int(3)], Op::Div).map(|v| f(&v));
        assert_eq!(div, Ok(3.333_333_333_333_333_5));
        let mul = decimal_op(&Value::Float(1.1), &[Value::Float(1.1)], Op::Mul).map(|v| f(&v));
        assert_eq!(mul, Ok(1.21));
    }

    #[test]
    fn sprig_round() {
        assert!((round(2.71928, 2, 0.5) - 2.72).abs() < 1e-12);
        assert!((round(2.5, 0, 0.5) - 3.0).abs() < 1e-12);
        assert!((round(2.4, 0, 0.5) - 2.0).abs() < 1e-12);
    }
}
