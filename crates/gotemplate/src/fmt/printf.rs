//! Go's `fmt.Sprintf` format-string interpreter: flags, width and
//! precision (literal, `*` or from an argument), explicit argument indexes
//! `%[n]d`, and the error forms `%!d(MISSING)`, `%!(EXTRA ...)`,
//! `%!(NOVERB)`, `%!d(BADINDEX)`, `%!(BADWIDTH)` and `%!(BADPREC)`.

use super::{Flags, GoText, print_value};
use crate::value::Value;

const TOO_LARGE: usize = 1_000_000;

/// Go's `fmt.Sprintf(format, args...)`.
#[must_use]
pub fn sprintf(format: &str, args: &[Value]) -> GoText {
    Formatter {
        format: format.as_bytes(),
        args,
        out: GoText::with_capacity(format.len() + 16),
        arg_num: 0,
        reordered: false,
        good_arg_num: true,
    }
    .run()
}

struct Formatter<'a> {
    format: &'a [u8],
    args: &'a [Value],
    out: GoText,
    arg_num: usize,
    reordered: bool,
    good_arg_num: bool,
}

impl Formatter<'_> {
    fn run(mut self) -> GoText {
        let end = self.format.len();
        let mut i = 0;
        while i < end {
            self.good_arg_num = true;
            let literal_start = i;
            while i < end && self.format[i] != b'%' {
                i += 1;
            }
            if i > literal_start {
                self.push_bytes(literal_start, i);
            }
            if i >= end {
                break;
            }
            i += 1;
            i = self.one_verb(i);
        }
        if !self.reordered && self.arg_num < self.args.len() {
            self.out.push_str("%!(EXTRA ");
            for (n, arg) in self.args[self.arg_num..].iter().enumerate() {
                if n > 0 {
                    self.out.push_str(", ");
                }
                if let Value::Nil = arg {
                    self.out.push_str("<nil>");
                } else {
                    self.out.push_str(&arg.type_name());
                    self.out.push('=');
                    print_value(&mut self.out, arg, 'v', &Flags::default(), 0);
                }
            }
            self.out.push(')');
        }
        self.out
    }

    fn push_bytes(&mut self, from: usize, to: usize) {
        self.out.push_bytes(&self.format[from..to]);
    }

    /// Handles one `%...verb` starting after the `%`; returns the index
    /// after it.
    fn one_verb(&mut self, mut i: usize) -> usize {
        let end = self.format.len();
        let mut flags = Flags::default();
        while i < end {
            match self.format[i] {
                b'#' => flags.sharp = true,
                b'0' => flags.zero = !flags.minus,
                b'+' => flags.plus = true,
                b'-' => {
                    flags.minus = true;
                    flags.zero = false;
                }
                b' ' => flags.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut after_index;
        (i, after_index) = self.arg_number(i);
        if i < end && self.format[i] == b'*' {
            i += 1;
            match self.int_from_arg() {
                Some(width) => {
                    if width < 0 {
                        flags.minus = true;
                        flags.zero = false;
                    }
                    flags.width = Some(usize::try_from(width.unsigned_abs()).unwrap_or(0));
                }
                None => self.out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (width, next) = parse_num(self.format, i);
            flags.width = width;
            i = next;
            if after_index && flags.width.is_some() {
                self.good_arg_num = false;
            }
        }
        if i + 1 < end && self.format[i] == b'.' {
            i += 1;
            if after_index {
                self.good_arg_num = false;
            }
            (i, after_index) = self.arg_number(i);
            if i < end && self.format[i] == b'*' {
                i += 1;
                match self.int_from_arg() {
                    Some(precision) if precision >= 0 => {
                        flags.precision =
                            Some(usize::try_from(precision.unsigned_abs()).unwrap_or(0));
                    }
                    Some(_) => {}
                    None => self.out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (precision, next) = parse_num(self.format, i);
                flags.precision = Some(precision.unwrap_or(0));
                i = next;
            }
        }
        if !after_index {
            (i, _) = self.arg_number(i);
        }
        if i >= end {
            self.out.push_str("%!(NOVERB)");
            return i;
        }
        let rest = String::from_utf8_lossy(&self.format[i..]);
        let verb = rest.chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            self.out.push('%');
        } else if !self.good_arg_num {
            self.out.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if self.arg_num >= self.args.len() {
            self.out.push_str(&format!("%!{verb}(MISSING)"));
        } else {
            if verb == 'v' {
                // %+v and %#v are struct/Go-syntax forms, not sign flags.
                flags.sharp_v = flags.sharp;
                flags.plus = false;
                flags.sharp = false;
            }
            let arg = &self.args[self.arg_num];
            print_value(&mut self.out, arg, verb, &flags, 0);
            self.arg_num += 1;
        }
        i
    }

    /// Reads `[n]` at `i`; returns the next index and whether one was read.
    fn arg_number(&mut self, i: usize) -> (usize, bool) {
        if i >= self.format.len() || self.format[i] != b'[' {
            return (i, false);
        }
        self.reordered = true;
        let rest = &self.format[i + 1..];
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            self.good_arg_num = false;
            return (i + 1, false);
        };
        let digits = std::str::from_utf8(&rest[..close]).unwrap_or("");
        let width = close + 2;
        match digits.parse::<usize>() {
            Ok(n) if n >= 1 && n - 1 < self.args.len() => {
                self.arg_num = n - 1;
                (i + width, true)
            }
            Ok(_) => {
                self.good_arg_num = false;
                (i + width, true)
            }
            Err(_) => {
                self.good_arg_num = false;
                (i + width, false)
            }
        }
    }

    /// A `*` width or precision: an integer argument, consumed.
    fn int_from_arg(&mut self) -> Option<i64> {
        let arg = self.args.get(self.arg_num)?;
        self.arg_num += 1;
        match arg {
            Value::Int(n) | Value::Int64(n)
                if n.unsigned_abs() <= u64::try_from(TOO_LARGE).unwrap_or(u64::MAX) =>
            {
                Some(*n)
            }
            _ => None,
        }
    }
}

fn parse_num(format: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < format.len() && format[i].is_ascii_digit() {
        n = n * 10 + usize::from(format[i] - b'0');
        if n > TOO_LARGE {
            return (None, format.len());
        }
        i += 1;
    }
    ((i > start).then_some(n), i)
}

#[cfg(test)]
mod tests {
    use super::sprintf;
    use crate::value::Value;

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn verbs_and_flags() {
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%s-%d", vec![s("a"), Value::Int(3)], "a-3"),
            (
                "%5d|%-5d|%05d",
                vec![Value::Int(42), Value::Int(42), Value::Int(-42)],
                "   42|42   |-0042",
            ),
            (
                "%x %X %o %b %#x",
                vec![
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                    Value::Int(255),
                ],
                "ff FF 10 101 0xff",
            ),
            ("%q", vec![s("a\"b")], "\"a\\\"b\""),
            (
                "%v %v",
                vec![Value::Float(1e6), Value::Float(2.5)],
                "1e+06 2.5",
            ),
            (
                "%.2f %e %g",
                vec![
                    Value::Float(2.71928),
                    Value::Float(1234.5678),
                    Value::Float(0.5),
                ],
                "2.72 1.234568e+03 0.5",
            ),
            (
                "%t %c %U",
                vec![Value::Bool(true), Value::Int(65), Value::Int(65)],
                "true A U+0041",
            ),
            (
                "%6.2f|%-8s|%8s",
                vec![Value::Float(2.71928), s("ab"), s("ab")],
                "  2.72|ab      |      ab",
            ),
            ("%*d", vec![Value::Int(4), Value::Int(7)], "   7"),
            ("%[2]s %[1]s", vec![s("a"), s("b")], "b a"),
            ("%.3s", vec![s("abcdef")], "abc"),
            ("%+d %+v", vec![Value::Int(5), Value::Int(5)], "+5 5"),
            ("%x", vec![s("hi")], "6869"),
            ("100%%", vec![], "100%"),
        ];
        for (format, args, expected) in cases {
            assert_eq!(sprintf(format, &args), expected, "{format}");
        }
    }

    #[test]
    fn error_forms() {
        assert_eq!(sprintf("%d", &[s("abc")]), "%!d(string=abc)");
        assert_eq!(sprintf("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(sprintf("%s", &[]), "%!s(MISSING)");
        assert_eq!(
            sprintf("a", &[s("x"), Value::Int(1)]),
            "a%!(EXTRA string=x, int=1)"
        );
        assert_eq!(sprintf("%", &[]), "%!(NOVERB)");
        assert_eq!(sprintf("%s", &[Value::Float(1.0)]), "%!s(float64=1)");
        assert_eq!(
            sprintf("%d", &[Value::list(vec![Value::Int(1), s("a")])]),
            "[1 %!d(string=a)]"
        );
        assert_eq!(sprintf("%[3]s", &[s("a")]), "%!s(BADINDEX)");
    }
}
