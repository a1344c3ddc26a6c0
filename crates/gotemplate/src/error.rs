//! Errors, worded like Go's so a Helm user recognises them.
//!
//! [`ParseError`] prints `template: NAME:LINE: message`; [`ExecError`]
//! prints `template: NAME:LINE:COL: executing "NAME" at <node>: message`.
//! Both keep their parts as fields so an embedder can reword them the way
//! Helm does (`parse error at (...)`, `execution error at (...)`).

/// A template text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The name the text was parsed under.
    pub name: String,
    /// 1-based line of the offending token.
    pub line: usize,
    /// What is wrong, in Go's words.
    pub message: String,
}

/// A failure while executing a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// A failure at a node of a template: `location` is `NAME:LINE:COL`
    /// of the node, `template` the template being executed.
    #[error("template: {location}: executing {template:?} at <{node}>: {message}")]
    At {
        /// `parse-name:line:col` of the failing node.
        location: String,
        /// Name of the template executing when it failed.
        template: String,
        /// The failing node printed back as template source.
        node: String,
        /// The cause; for a function, `error calling NAME: ...`.
        message: String,
        /// The function's own message when a function failed, without the
        /// `error calling NAME:` prefix (what Helm's `fail` shows).
        function_message: Option<String>,
    },
    /// A failure with no node to point at (unknown template, limits).
    #[error("template: {template}: {message}")]
    Template {
        /// The template involved.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// The set has no template of that name: Go's `ExecuteTemplate`
    /// error, naming the set (Helm's is called `gotpl`).
    #[error("template: no template {} associated with template {}", crate::fmt::quote_go(.name), crate::fmt::quote_go(.set))]
    NoTemplate {
        /// The template asked for.
        name: String,
        /// The set's name ([`TemplateSet::set_name`](crate::TemplateSet::set_name)).
        set: String,
    },
}

/// An error returned by a template function; execution wraps it as
/// `error calling NAME: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FuncError {
    /// The message, in Go's words where a Go function would fail.
    pub message: String,
    /// When the function failed because a nested execution failed (an
    /// `include` or `tpl`), that execution's error.
    pub source_error: Option<Box<ExecError>>,
    /// An argument of the wrong Go type: Go reports these before calling,
    /// without the `error calling NAME:` prefix.
    pub is_argument_error: bool,
}

impl FuncError {
    /// A function failure with `message`.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source_error: None,
            is_argument_error: false,
        }
    }

    /// Go's `wrong type for value; expected EXPECTED; got GOT`, for a
    /// function whose Go parameter has a concrete type.
    #[must_use]
    pub fn wrong_type(expected: &str, got: &crate::Value) -> Self {
        let got = match got {
            // A nil map entry reaches Go's check as an empty interface.
            crate::Value::Nil => "interface {}".to_owned(),
            other => other.type_name(),
        };
        Self::argument(format!(
            "wrong type for value; expected {expected}; got {got}"
        ))
    }

    /// An argument error with Go's own wording, reported without the
    /// `error calling NAME:` prefix.
    #[must_use]
    pub fn argument(message: impl Into<String>) -> Self {
        Self {
            is_argument_error: true,
            ..Self::new(message)
        }
    }
}

impl From<ExecError> for FuncError {
    fn from(error: ExecError) -> Self {
        Self {
            message: error.to_string(),
            source_error: Some(Box::new(error)),
            is_argument_error: false,
        }
    }
}

impl From<ParseError> for FuncError {
    fn from(error: ParseError) -> Self {
        Self::new(error.to_string())
    }
}
