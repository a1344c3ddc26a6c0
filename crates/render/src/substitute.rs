//! Flux's post-build variable substitution, a separate step after
//! [`crate::build`]: `${var}`, `${var:=default}`, `${var:-default}` in every
//! object, except objects annotated
//! `kustomize.toolkit.fluxcd.io/substitute: disabled`. `$${var}` escapes.

use crate::error::{SubstituteError, YamlError};
use crate::yaml::{self, Value};
use std::collections::BTreeMap;

/// The annotation that opts an object out of substitution.
pub const DISABLE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Substitutes variables in a YAML stream (as [`crate::build`] returns it).
///
/// With `strict`, a variable that is unset and has no default is an error;
/// otherwise it becomes the empty string.
///
/// ```
/// use std::collections::BTreeMap;
/// let vars = BTreeMap::from([("env".to_string(), "prod".to_string())]);
/// let out = driftless_render::substitute("a: ${env}\nb: ${x:=1}\n", &vars, true).unwrap();
/// assert_eq!(out, "a: prod\nb: 1\n");
/// ```
pub fn substitute(
    stream: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
) -> Result<String, SubstituteError> {
    let docs = yaml::parse_documents(stream).map_err(|e| SubstituteError::Yaml(YamlError(e)))?;
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let disabled = doc
            .path(&["metadata", "annotations", DISABLE_ANNOTATION])
            .and_then(Value::as_str)
            == Some("disabled");
        let emitted = yaml::emit_document(doc);
        if disabled {
            out.push_str(&emitted);
            continue;
        }
        let object = format!(
            "{}/{}",
            doc.str_at(&["kind"]).unwrap_or(""),
            doc.str_at(&["metadata", "name"]).unwrap_or("")
        );
        // Like Flux: substitute in the serialized text, then parse again.
        let text = expand(&emitted, vars, strict, &object)?;
        let reparsed =
            yaml::parse_documents(&text).map_err(|e| SubstituteError::Yaml(YamlError(e)))?;
        for d in reparsed {
            out.push_str(&yaml::emit_document(&d));
        }
    }
    Ok(out)
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !n.starts_with(|c: char| c.is_ascii_digit())
}

/// Expands `${...}` in text.
pub fn expand(
    text: &str,
    vars: &BTreeMap<String, String>,
    strict: bool,
    object: &str,
) -> Result<String, SubstituteError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if after.starts_with("$${") {
            out.push('$');
            rest = &after[2..];
            out.push('{');
            rest = &rest[1..];
            continue;
        }
        if !after.starts_with("${") {
            out.push('$');
            rest = &after[1..];
            continue;
        }
        let Some(end) = after.find('}') else {
            return Err(SubstituteError::Malformed {
                object: object.into(),
                expr: after.into(),
            });
        };
        let expr = &after[2..end];
        let (name, default) = if let Some((n, d)) = expr.split_once(":=") {
            (n, Some(d))
        } else if let Some((n, d)) = expr.split_once(":-") {
            (n, Some(d))
        } else {
            (expr, None)
        };
        if !valid_name(name) {
            return Err(SubstituteError::Malformed {
                object: object.into(),
                expr: after[..=end].into(),
            });
        }
        match (vars.get(name), default) {
            (Some(v), _) if !v.is_empty() || default.is_none() => out.push_str(v),
            (_, Some(d)) => out.push_str(d),
            (None, None) if strict => {
                return Err(SubstituteError::Undefined {
                    object: object.into(),
                    var: name.into(),
                });
            }
            _ => {}
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_and_defaults() {
        let v = vars(&[("a", "x")]);
        assert_eq!(
            expand("${a}-${b:=d1}-${c:-d2}", &v, true, "o").unwrap(),
            "x-d1-d2"
        );
    }

    #[test]
    fn strict_mode_errors_on_undefined() {
        let err = expand("${missing}", &vars(&[]), true, "ConfigMap/x").unwrap_err();
        assert!(err.to_string().contains("'missing' is not defined"));
        assert_eq!(
            expand("[${missing}]", &vars(&[]), false, "o").unwrap(),
            "[]"
        );
    }

    #[test]
    fn escaped_dollar_is_kept() {
        assert_eq!(
            expand("$${a} $5", &vars(&[("a", "x")]), true, "o").unwrap(),
            "${a} $5"
        );
    }

    #[test]
    fn disabled_annotation_opts_out() {
        let s = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\n  name: x\ndata:\n  a: ${v}\n";
        let out = substitute(s, &vars(&[("v", "1")]), true).unwrap();
        assert!(out.contains("a: ${v}"));
        let s2 = s.replace("disabled", "enabled");
        let out2 = substitute(&s2, &vars(&[("v", "1")]), true).unwrap();
        assert!(out2.contains("a: \"1\"") || out2.contains("a: 1"));
    }

    #[test]
    fn malformed_expression() {
        assert!(expand("${a", &vars(&[]), false, "o").is_err());
        assert!(expand("${a b}", &vars(&[]), false, "o").is_err());
    }
}
