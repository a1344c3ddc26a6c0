//! Numbers as Kustomize prints them: a YAML float goes through Go's JSON
//! encoding and go-yaml's shortest `%g`-like form.

/// Formats a float the way a Go float64 comes out of Kustomize (JSON, then
/// go-yaml's `%g`-like shortest form).
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
    // Shortest digits and exponent.
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').expect("exponent form has an e");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}
