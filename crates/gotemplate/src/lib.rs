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
//!     Ok(Value::string(ctx.execute_template(name, data)?))
//! });
//! // Helm's `tpl`: parse text against the set's definitions and run it.
//! funcs.add_with_context("tpl", Arity::Exact(2), |ctx, mut args| {
//!     let data = args.pop().unwrap_or(Value::Nil);
//!     let text = args[0].as_str().unwrap_or_default().to_owned();
//!     let name = ctx.template_name().to_owned();
//!     Ok(Value::string(ctx.execute_text(&name, &text, data)?))
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

pub mod args;
mod ast;
mod builtins;
mod error;
mod exec;
pub mod fmt;
mod funcs;
mod lex;
mod parse;
mod set;
pub mod sprig;
mod value;

pub use error::{ExecError, FuncError, ParseError};
pub use funcs::{Arity, Context, FuncMap, FuncResult, Function};
pub use set::{MissingKey, Options, TemplateSet};
pub use value::{List, ListKind, Map, Object, Value, deep_equal};
