//! Numbers as go-yaml prints them: a float that went through Go's JSON
//! encoding first (Kustomize, Helm's `toYaml`) or a Go float64 handed to
//! go-yaml directly (Helm's `toYamlPretty`).

/// Formats a float the way a Go float64 comes out of Kustomize (JSON, then
/// go-yaml's `%g`-like shortest form): integral values below 1e21 print as
/// integers.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+.inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f == f.trunc() && f.abs() < 1e21 {
        return format!("{}", f as i128);
    }
    shortest_g(f)
}

/// Formats a float as go-yaml v3 prints a Go float64:
/// `strconv.FormatFloat(f, 'g', -1, 64)`, with `.inf`, `-.inf` and `.nan`
/// for the values YAML spells its own way. `1000000` is `1e+06`.
pub fn format_float_go(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    shortest_g(f)
}

/// Go's `%g` with the shortest digits that read back as `f`: exponent
/// form below 1e-4 and from 1e6 (Go decides with precision 6 when asked
/// for the shortest), with at least two exponent digits.
fn shortest_g(f: f64) -> String {
    // Rust's `{:e}` is the shortest round-trip digits, as Go's -1 is.
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').expect("exponent form has an e");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each expectation is what Helm v4.3.1's `toYamlPretty` printed for
    /// the same float64 (go-yaml v3) and what its `toYaml` printed (JSON
    /// round trip first).
    #[test]
    fn floats_as_go_yaml_prints_them() {
        for (f, go, json) in [
            (1e6, "1e+06", "1000000"),
            (123_456.0, "123456", "123456"),
            (1_234_567.0, "1.234567e+06", "1234567"),
            (123_456_789.0, "1.23456789e+08", "123456789"),
            (1.5, "1.5", "1.5"),
            (-0.5, "-0.5", "-0.5"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "1e-05", "1e-05"),
            (2.5e-7, "2.5e-07", "2.5e-07"),
            (1e21, "1e+21", "1e+21"),
            (
                1.797_693_134_862_315_7e308,
                "1.7976931348623157e+308",
                "1.7976931348623157e+308",
            ),
            (5e-324, "5e-324", "5e-324"),
            (-1e6, "-1e+06", "-1000000"),
            (-0.0, "-0", "0"),
        ] {
            assert_eq!(format_float_go(f), go, "go-yaml of {f:e}");
            assert_eq!(format_float(f), json, "json round trip of {f:e}");
        }
        assert_eq!(format_float_go(f64::INFINITY), ".inf");
        assert_eq!(format_float_go(f64::NEG_INFINITY), "-.inf");
        assert_eq!(format_float_go(f64::NAN), ".nan");
    }
}
