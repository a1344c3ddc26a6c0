//! Go's `text/template` language as Helm uses it, with Go's `fmt` printing
//! and the Sprig v3 text functions, so charts render byte for byte as
//! `helm template` renders them.
//!
//! - [`TemplateSet`] holds named templates (files and their `define`s) that
//!   can call each other; [`TemplateSet::parse`] adds a text,
//!   [`TemplateSet::execute`] runs one template with data.
//! - [`Value`] models the Go values templates see: `int`, `int64`,
//!   `float64`, `string`, `[]interface {}`, `map[string]interface {}`, nil,
//!   and [`Object`]s with fields and methods (Helm's `.Files`,
//!   `.Capabilities`, semver versions).
//! - [`FuncMap`] registers functions; [`sprig::functions`] is Sprig's text
//!   function map without `env`/`expandenv`, as Helm exposes it.
//! - A function receives a [`Context`]: with it Helm's `include` executes
//!   a named template of the same set and `tpl` parses and executes text
//!   against the set's definitions.
//!
//! ```
//! use driftless_gotemplate::{Arity, FuncError, FuncMap, MissingKey, Options, TemplateSet, Value};
//!
//! let mut funcs = driftless_gotemplate::sprig::functions();
//! // Helm's `include`: run a named template of the same set, return its text.
//! funcs.add_with_context("include", Arity::Exact(2), |ctx, mut args| {
//!     let data = args.pop().unwrap_or(Value::Nil);
//!     let Value::String(name) = &args[0] else {
//!         return Err(FuncError::wrong_type("string", &args[0]));
//!     };
//!     Ok(ctx.execute_template(name, data)?)
//! });
//! // Helm's `tpl`: parse text against the set's definitions and run it.
//! funcs.add_with_context("tpl", Arity::Exact(2), |ctx, mut args| {
//!     let data = args.pop().unwrap_or(Value::Nil);
//!     let text = args[0].as_str().unwrap_or_default().to_owned();
//!     let name = ctx.template_name().to_owned();
//!     ctx.execute_text(&name, &text, data)
//! });
//!
//! let mut set = TemplateSet::with_funcs(funcs);
//! set.set_options(Options { missing_key: MissingKey::Zero, ..Options::default() });
//! set.parse("_helpers.tpl", r#"{{ define "name" }}{{ .Release.Name | trunc 63 }}{{ end }}"#)?;
//! set.parse("cm.yaml", r#"name: {{ include "name" . | quote }} n: {{ .Values.n }} {{ tpl "{{ .Release.Name }}" . }}"#)?;
//!
//! let data = Value::from(&serde_json::json!({
//!     "Release": { "Name": "demo" },
//!     "Values": { "n": 1000000 },
//! }));
//! assert_eq!(set.execute("cm.yaml", &data)?, r#"name: "demo" n: 1e+06 demo"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Output of a missing value is Go's `<no value>`; Helm replaces it with
//! the empty string after execution, which is the embedder's job.
//!
//! # What a Helm embedder adds
//!
//! This crate is Go's engine plus Sprig; Helm's own layer stays with the
//! embedder: register `include`, `tpl`, `required`, `toYaml`/`fromYaml`
//! (and friends), `toJson`/`fromJson` as Helm overrides them, `lookup`;
//! name the set `gotpl` ([`TemplateSet::set_name`]) and pass `"gotpl"` to
//! [`Context::execute_text`] for `tpl`, as Helm does; run with
//! [`MissingKey::Zero`] (or [`MissingKey::Error`] for `--strict`); count
//! `include` recursion with [`Context::active_executions`] (Helm stops
//! past 1000); replace `<no value>` by the empty string in the output;
//! and build `.Release`, `.Chart`, `.Capabilities`, `.Files` as
//! [`Object`]s (a map type with methods, like `.Files`, returns its map
//! from [`Object::as_collection`]).
//!
//! # Values with methods
//!
//! Go templates call methods on structs (`.Capabilities.APIVersions.Has
//! "apps/v1"`, `.Files.Get "a.txt"`). An [`Object`] answers
//! [`call_method`](Object::call_method) first and [`field`](Object::field)
//! second, as Go's field resolution does:
//!
//! ```
//! use driftless_gotemplate::{Object, TemplateSet, Value};
//!
//! #[derive(Debug)]
//! struct ApiVersions(Vec<String>);
//!
//! impl Object for ApiVersions {
//!     fn type_name(&self) -> String { "common.VersionSet".to_owned() }
//!     fn kind_name(&self) -> &'static str { "slice" }
//!     fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
//!         match (name, args) {
//!             ("Has", [Value::String(v)]) => Some(Ok(Value::Bool(self.0.iter().any(|x| **x == **v)))),
//!             ("Has", _) => Some(Err(format!("wrong number of args for Has: want 1 got {}", args.len()))),
//!             _ => None,
//!         }
//!     }
//!     fn format(&self) -> String { format!("[{}]", self.0.join(" ")) }
//!     fn as_any(&self) -> &dyn std::any::Any { self }
//! }
//!
//! let mut set = TemplateSet::new();
//! set.parse("t", r#"{{ if .APIVersions.Has "apps/v1" }}yes{{ end }} {{ .APIVersions }}"#)?;
//! let mut data = std::collections::BTreeMap::new();
//! data.insert("APIVersions".to_owned(), Value::object(ApiVersions(vec!["apps/v1".to_owned()])));
//! assert_eq!(set.execute("t", &Value::map(data))?, "yes [apps/v1]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Function errors
//!
//! A function fails with a [`FuncError`]: [`FuncError::new`] is reported
//! as Go reports a function's error (`error calling NAME: message`), and
//! [`FuncError::argument`] / [`FuncError::wrong_type`] as Go reports a bad
//! argument before the call (no prefix). The message alone is kept in
//! [`ExecError::At`]'s `function_message`, which is what Helm shows for
//! `fail` and `required`. Errors of a nested execution (`include`, `tpl`)
//! convert with `?` and keep the inner [`ExecError`].
//!
//! # Limits
//!
//! [`Options`] bounds template nesting, steps of work, output size and the
//! bytes an execution builds, so a hostile template fails with a clear
//! error; [`budget`] bounds what one function may build (strings, lists,
//! values written out, texts parsed), and the random-string functions have
//! their own caps. `getHostByName` always fails: rendering touches no
//! network.

pub mod args;
mod ast;
pub mod budget;
mod builtins;
mod error;
mod exec;
pub mod fmt;
mod funcs;
mod lex;
mod parse;
pub mod raw_string;
pub mod runs;
mod set;
pub mod sprig;
pub mod strconv;
mod value;

pub use error::{ExecError, FuncError, ParseError};
pub use funcs::{Arity, Context, FuncMap, FuncResult, Function, IntParams, MapParams};
pub use raw_string::{RawString, go_string};
pub use set::{MissingKey, Options, TemplateSet};
pub use value::{List, ListKind, Map, NamedMap, Object, Value, deep_equal};
