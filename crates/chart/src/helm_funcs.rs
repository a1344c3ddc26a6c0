//! Helm's own template functions, registered over Sprig's: `include` (with
//! Helm's recursion bound), `tpl`, `required`, `fail`, `toYaml`,
//! `mustToYaml`, `toYamlPretty`, `fromYaml`, `fromYamlArray`, `fromJson`,
//! `fromJsonArray`, `toToml`, `fromToml`, `lookup` (backed by the caller's
//! [`Lookup`]) and `getHostByName` (empty, as Helm without
//! `--enable-dns`: rendering never touches the network, so with that flag
//! it fails). Helm's `toJson` and `mustToJson` behave as Sprig's, which
//! stay registered.
//!
//! `required` and `fail` mark their messages so the renderer can print
//! Helm's `execution error at (<file>:<line>:<col>): <message>`.

use std::collections::BTreeMap;
use std::sync::Arc;

use driftless_gotemplate::budget::{Nesting, check_tree, too_deep};
use driftless_gotemplate::{Arity, Context, FuncError, FuncMap, List, ListKind, Value};
use driftless_render::yaml::{EmitOptions, FloatFormat, Value as Yv, emit_document_with};

use crate::convert::{go_yaml_value, json_round_trip, to_engine};
use crate::json_step::cannot_unmarshal;

/// Helm's bound on nested `include`s of one template name.
pub const MAX_INCLUDE_DEPTH: usize = 1000;

/// What `tpl` parses its text as (Helm's root template name).
pub const TPL_NAME: &str = "gotpl";

/// Answers `lookup apiVersion kind namespace name` from a cluster. Helm
/// returns an empty map when rendering offline; so does [`Offline`].
pub trait Lookup: Send + Sync {
    /// The object (or, with an empty name, a list) as a values map; an
    /// empty map when there is none.
    ///
    /// # Errors
    /// A message the template sees as the function's error.
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Yv, String>;
}

/// The offline lookup `helm template` has: everything is absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Lookup for Offline {
    fn lookup(&self, _: &str, _: &str, _: &str, _: &str) -> Result<Yv, String> {
        Ok(Yv::Map(driftless_render::yaml::Map::new()))
    }
}

fn string_arg<'a>(function: &str, args: &'a [Value], index: usize) -> Result<&'a str, FuncError> {
    match args.get(index) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(FuncError::wrong_type("string", other)),
        None => Err(FuncError::new(format!(
            "{function}: missing argument {index}"
        ))),
    }
}

/// The text argument of a parsing function (`fromYaml`…), refused past
/// [`driftless_gotemplate::budget::MAX_PARSED_BYTES`] before it is parsed.
fn parsed_text_arg<'a>(function: &str, args: &'a [Value]) -> Result<&'a str, FuncError> {
    let text = string_arg(function, args, 0)?;
    driftless_gotemplate::budget::check_parse_len(text.len())?;
    Ok(text)
}

/// `toYaml`: JSON round trip, go-yaml emission, trailing newline trimmed.
/// The round trip has already made every float go-yaml would read as an
/// int one, so what floats remain print in Go's `%g` (`1e+20`). Empty when
/// the conversion fails, as Helm's `toYaml` is.
#[must_use]
pub fn to_yaml(v: &Value) -> String {
    try_to_yaml(v).unwrap_or_default()
}

/// [`to_yaml`], failing where `sigs.k8s.io/yaml` does: its JSON text is
/// read back by go-yaml, whose reader refuses characters `encoding/json`
/// leaves unescaped (DEL, C1 controls but NEL, U+FFFE, U+FFFF).
///
/// # Errors
/// go-yaml's message, after `yaml: `.
pub fn try_to_yaml(v: &Value) -> Result<String, String> {
    let value = json_round_trip(v);
    if refused_by_yaml_reader(&value) {
        return Err("yaml: control characters are not allowed".into());
    }
    let options = EmitOptions {
        floats: FloatFormat::GoShortest,
        ..EmitOptions::default()
    };
    Ok(emit_trimmed(value, options))
}

fn refused_by_yaml_reader(value: &Yv) -> bool {
    let refused = |text: &str| {
        text.chars().any(
            |c| matches!(c, '\u{7F}'..='\u{84}' | '\u{86}'..='\u{9F}' | '\u{FFFE}' | '\u{FFFF}'),
        )
    };
    match value {
        Yv::Str(text) => refused(text),
        Yv::Seq(items) => items.iter().any(refused_by_yaml_reader),
        Yv::Map(map) => map
            .iter()
            .any(|(key, item)| refused(key) || refused_by_yaml_reader(item)),
        _ => false,
    }
}

/// `toYamlPretty`: the Go value straight into go-yaml v3's encoder at
/// indent 2, trailing newline trimmed. Unlike `toYaml` there is no JSON
/// step (a values float64 `1000000` prints as `1e+06`), sequences are
/// indented under their keys and long lines are never folded.
#[must_use]
pub fn to_yaml_pretty(v: &Value) -> String {
    emit_trimmed(go_yaml_value(v), EmitOptions::go_yaml_v3_indent2())
}

fn emit_trimmed(value: Yv, options: EmitOptions) -> String {
    let text = emit_document_with(&value, options);
    match text.strip_suffix('\n') {
        Some(trimmed) => trimmed.to_string(),
        None => text,
    }
}

fn from_yaml_map(text: &str) -> Value {
    match crate::yaml::parse_stream(text) {
        Ok(docs) => match docs.into_iter().next() {
            None | Some(Yv::Null) => Value::map(BTreeMap::new()),
            Some(v @ Yv::Map(_)) => to_engine(&v),
            Some(other) => error_map(&cannot_unmarshal(
                &other,
                "Go value of type map[string]interface {}",
            )),
        },
        Err(e) => error_map(&e),
    }
}

fn from_yaml_array(text: &str) -> Value {
    match crate::yaml::parse_stream(text) {
        Ok(docs) => match docs.into_iter().next() {
            None | Some(Yv::Null) => Value::list(Vec::new()),
            Some(v @ Yv::Seq(_)) => to_engine(&v),
            Some(other) => Value::list(vec![Value::string(cannot_unmarshal(
                &other,
                "Go value of type []interface {}",
            ))]),
        },
        Err(e) => Value::list(vec![Value::string(e)]),
    }
}

fn error_map(message: &str) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Error".to_string(), Value::string(message));
    Value::map(m)
}

fn from_json_map(text: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(j @ serde_json::Value::Object(_)) => Value::from_json(&j),
        // `json.Unmarshal` of null sets the map to nil.
        Ok(serde_json::Value::Null) => Value::Map(driftless_gotemplate::Map::nil()),
        Ok(other) => error_map(&format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(&other)
        )),
        Err(e) => error_map(&e.to_string()),
    }
}

fn from_json_array(text: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(j @ serde_json::Value::Array(_)) => Value::from_json(&j),
        Ok(serde_json::Value::Null) => Value::List(List::nil(ListKind::Interface)),
        Ok(other) => Value::list(vec![Value::string(format!(
            "json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(&other)
        ))]),
        Err(e) => Value::list(vec![Value::string(e.to_string())]),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Null => "null",
    }
}

/// Marks a message from `required`/`fail` (Helm's `HELM_ERR_START`/`END`)
/// so the renderer can reword the error the way Helm does.
pub const USER_ERROR_START: &str = "HELM_ERR_START";
/// End of a marked message.
pub const USER_ERROR_END: &str = "HELM_ERR_END";

fn user_error(message: &str) -> FuncError {
    FuncError::new(format!("{USER_ERROR_START}{message}{USER_ERROR_END}"))
}

/// Registers Helm's functions into `funcs` (over Sprig's).
pub fn register(funcs: &mut FuncMap, lookup: Arc<dyn Lookup>, enable_dns: bool) {
    funcs.remove("env");
    funcs.remove("expandenv");
    funcs.add_with_context("include", Arity::Exact(2), |ctx: &mut Context<'_, '_>, mut args| {
        let data = args.pop().unwrap_or(Value::Nil);
        let name = string_arg("include", &args, 0)?.to_string();
        if ctx.active_executions(&name) > MAX_INCLUDE_DEPTH {
            return Err(FuncError::new(format!(
                "rendering template has a nested reference name: {name}: unable to execute template"
            )));
        }
        ctx.execute_template(&name, data).map_err(FuncError::from)
    });
    funcs.add_with_context(
        "tpl",
        Arity::Exact(2),
        |ctx: &mut Context<'_, '_>, mut args| {
            let data = args.pop().unwrap_or(Value::Nil);
            let text = string_arg("tpl", &args, 0)?.to_string();
            // Go executes the freshly parsed tree even when it is empty, while
            // the set keeps an outer `tpl`'s non-empty "gotpl"; executing by name
            // would run the outer text again (endless recursion). Blank text
            // renders as itself.
            if text.trim().is_empty() {
                return Ok(Value::from(text));
            }
            // Before the wrapping below, which quotes the whole text.
            driftless_gotemplate::budget::check_parse_len(text.len())?;
            let out = ctx.execute_text(TPL_NAME, &text, data).map_err(|e| {
                // Only an execution failure carries the nested error.
                let doing = if e.source_error.is_some() {
                    "error during tpl function execution for"
                } else {
                    "cannot parse template"
                };
                let mut wrapped = FuncError::new(format!("{doing} {text:?}: {}", e.message));
                wrapped.source_error = e.source_error;
                wrapped
            })?;
            let bytes = out.go_bytes().unwrap_or_default();
            if memchr::memmem::find(bytes, b"<no value>").is_none() {
                return Ok(out);
            }
            Ok(driftless_gotemplate::go_string(
                crate::render::blank_no_value_bytes(bytes.to_vec()),
            ))
        },
    );
    funcs.add("required", Arity::Exact(2), |args| {
        let warn = string_arg("required", &args, 0)?;
        match &args[1] {
            Value::Nil => Err(user_error(warn)),
            Value::String(s) if s.is_empty() => Err(user_error(warn)),
            other => Ok(other.clone()),
        }
    });
    funcs.add("fail", Arity::Exact(1), |args| {
        Err(user_error(string_arg("fail", &args, 0)?))
    });
    // The writers build a YAML tree of the value first: a value that
    // repeats or nests big parts is refused before it is expanded.
    // Only a map that contains itself nests too deep: Go's JSON step
    // reports the cycle, which `toYaml` turns into "".
    funcs.add("toYaml", Arity::Exact(1), |args| {
        if check_tree(&args[0])? == Nesting::TooDeep {
            return Ok(Value::from(""));
        }
        Ok(Value::from(to_yaml(&args[0])))
    });
    funcs.add("mustToYaml", Arity::Exact(1), |args| {
        if check_tree(&args[0])? == Nesting::TooDeep {
            return Err(FuncError::new(
                "error marshaling into JSON: json: unsupported value: encountered a cycle via map[string]interface {}",
            ));
        }
        try_to_yaml(&args[0])
            .map(Value::from)
            .map_err(FuncError::new)
    });
    // Helm's go-yaml and TOML writers recurse until the process dies.
    funcs.add("toYamlPretty", Arity::Exact(1), |args| {
        if check_tree(&args[0])? == Nesting::TooDeep {
            return Err(too_deep());
        }
        Ok(Value::from(to_yaml_pretty(&args[0])))
    });
    funcs.add("fromYaml", Arity::Exact(1), |args| {
        Ok(from_yaml_map(parsed_text_arg("fromYaml", &args)?))
    });
    funcs.add("fromYamlArray", Arity::Exact(1), |args| {
        Ok(from_yaml_array(parsed_text_arg("fromYamlArray", &args)?))
    });
    funcs.add("fromJson", Arity::Exact(1), |args| {
        Ok(from_json_map(parsed_text_arg("fromJson", &args)?))
    });
    funcs.add("fromJsonArray", Arity::Exact(1), |args| {
        Ok(from_json_array(parsed_text_arg("fromJsonArray", &args)?))
    });
    funcs.add("toToml", Arity::Exact(1), |args| {
        if check_tree(&args[0])? == Nesting::TooDeep {
            return Err(too_deep());
        }
        crate::toml::to_toml(&args[0])
            .map(Value::from)
            .map_err(FuncError::new)
    });
    funcs.add("fromToml", Arity::Exact(1), |args| {
        Ok(crate::toml::from_toml(parsed_text_arg("fromToml", &args)?))
    });
    funcs.add("lookup", Arity::Exact(4), move |args| {
        let arg = |i| string_arg("lookup", &args, i);
        let found = lookup
            .lookup(arg(0)?, arg(1)?, arg(2)?, arg(3)?)
            .map_err(FuncError::new)?;
        Ok(to_engine(&found))
    });
    funcs.add("getHostByName", Arity::Exact(1), move |args| {
        driftless_gotemplate::args::string(&args[0])?;
        if enable_dns {
            return Err(FuncError::new(
                "--enable-dns asks for a DNS lookup, which a render never makes; without the flag getHostByName returns \"\" as in Helm",
            ));
        }
        Ok(Value::from(""))
    });
    register_semver_fallbacks(funcs);
}

/// Sprig's `semverCompare` and `semver`, from this crate's Masterminds
/// reading, registered only while the engine's Sprig lacks them.
fn register_semver_fallbacks(funcs: &mut FuncMap) {
    if !funcs.contains("semverCompare") {
        funcs.add("semverCompare", Arity::Exact(2), |args| {
            let constraint = string_arg("semverCompare", &args, 0)?;
            let version = string_arg("semverCompare", &args, 1)?;
            crate::semver::compare(constraint, version)
                .map(Value::Bool)
                .map_err(FuncError::new)
        });
    }
    if !funcs.contains("semver") {
        funcs.add("semver", Arity::Exact(1), |args| {
            let text = string_arg("semver", &args, 0)?;
            crate::semver::Version::parse(text)
                .map(|v| Value::object(SemverObject(v)))
                .ok_or_else(|| FuncError::new("Invalid Semantic Version"))
        });
    }
}

/// A `*semver.Version` as templates see it.
#[derive(Debug)]
struct SemverObject(crate::semver::Version);

impl driftless_gotemplate::Object for SemverObject {
    fn type_name(&self) -> String {
        "*semver.Version".into()
    }
    fn call_method(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        let (major, minor, patch) = self.0.numbers();
        let number = |n: u64| Value::Int64(i64::try_from(n).unwrap_or(i64::MAX));
        Some(Ok(match name {
            "Major" => number(major),
            "Minor" => number(minor),
            "Patch" => number(patch),
            "Prerelease" => Value::string(self.0.prerelease()),
            "String" => Value::string(self.format()),
            _ => return None,
        }))
    }
    fn format(&self) -> String {
        let (major, minor, patch) = self.0.numbers();
        let pre = self.0.prerelease();
        if pre.is_empty() {
            format!("{major}.{minor}.{patch}")
        } else {
            format!("{major}.{minor}.{patch}-{pre}")
        }
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_yaml_of_a_multiline_string_indents_its_block() {
        assert_eq!(
            to_yaml(&Value::from("line1\nline2\n")),
            "|\n  line1\n  line2"
        );
        assert_eq!(
            to_yaml(&Value::from("line1\nline2")),
            "|-\n  line1\n  line2"
        );
        assert_eq!(to_yaml(&Value::from("  lead\nx")), "|2-\n    lead\n  x");
    }

    #[test]
    fn to_yaml_like_helm() {
        let v = from_yaml_map("b: 1000000\na:\n- x\n- 1.5\nc: {}\n");
        assert_eq!(to_yaml(&v), "a:\n- x\n- 1.5\nb: 1000000\nc: {}");
        assert_eq!(to_yaml(&Value::Nil), "null");
    }

    #[test]
    fn from_yaml_errors_land_in_the_map() {
        let Value::Map(m) = from_yaml_map("- a\n") else {
            panic!("a map")
        };
        assert!(m.get("Error").is_some());
        let Value::List(l) = from_yaml_array("a: 1\n") else {
            panic!("a list")
        };
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn from_json_numbers_are_floats() {
        let Value::Map(m) = from_json_map(r#"{"a": 1}"#) else {
            panic!("a map")
        };
        assert!(matches!(m.get("a"), Some(Value::Float(f)) if f == 1.0));
    }
}
