//! The function-registration API: [`FuncMap`], [`Function`], [`Arity`] and
//! the [`Context`] a function receives.
//!
//! Go's `FuncMap` holds typed Go functions and checks argument counts and
//! types by reflection. Here a function takes its arguments as [`Value`]s
//! and declares its [`Arity`] so the engine reports `wrong number of args`
//! exactly as Go does; type checks live in each function (see
//! [`args`](crate::args)). What Go decides from a parameter's type before
//! the call, the engine needs declared: which parameters are maps
//! ([`MapParams`]) and which are integers ([`IntParams`]). The [`Context`]
//! is what Helm's own functions need from the engine: `include` executes
//! a named template of the same set, `tpl` parses text into a copy of the
//! set and executes it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ExecError, FuncError};
use crate::exec::Exec;
use crate::value::Value;

/// What a template function returns.
pub type FuncResult = Result<Value, FuncError>;

type Body = dyn Fn(&mut Context<'_, '_>, Vec<Value>) -> FuncResult + Send + Sync;

/// How many arguments a function takes, as Go's signature would say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many (a non-variadic Go function).
    Exact(usize),
    /// At least this many (a variadic Go function with that many fixed
    /// parameters).
    AtLeast(usize),
}

/// Which parameters a Go signature types `map[string]interface{}`. Go's
/// argument check refuses a nil `interface{}` read straight from a field,
/// variable or dot for them (`wrong type for value`), while a nil coming
/// out of a pipeline or parentheses becomes a nil map; the engine needs to
/// know which parameters those are, as the value alone cannot tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapParams {
    /// No map parameters.
    #[default]
    None,
    /// The first parameter (`hasKey`, `get`, `pick`…).
    First,
    /// Every parameter (`keys`, `merge`…).
    All,
    /// Every parameter but the first (`pluck`).
    AllButFirst,
}

impl MapParams {
    /// Whether argument `index` is a map parameter.
    #[must_use]
    pub fn includes(self, index: usize) -> bool {
        match self {
            MapParams::None => false,
            MapParams::First => index == 0,
            MapParams::All => true,
            MapParams::AllButFirst => index > 0,
        }
    }
}

/// Which parameters a Go signature types as an integer (`int`, `uint32`…),
/// by position. Go hands such a parameter a number literal written as an
/// integral float (`2.0`, `1e1`) as that integer, where an `interface{}`
/// parameter gets a float64; the value alone cannot tell the engine which
/// case a call is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntParams(u64);

impl IntParams {
    /// No integer parameters.
    pub const NONE: IntParams = IntParams(0);
    /// Every parameter (a variadic `...int`, as Sprig's `seq`).
    pub const ALL: IntParams = IntParams(u64::MAX);

    /// The parameters at `positions` (each under 64).
    #[must_use]
    pub const fn at(positions: &[usize]) -> IntParams {
        let mut bits = 0;
        let mut i = 0;
        while i < positions.len() {
            bits |= 1 << positions[i];
            i += 1;
        }
        IntParams(bits)
    }

    /// Whether argument `index` is an integer parameter.
    #[must_use]
    pub fn includes(self, index: usize) -> bool {
        self == IntParams::ALL || (index < 64 && self.0 & (1 << index) != 0)
    }
}

/// One template function.
#[derive(Clone)]
pub struct Function {
    arity: Arity,
    map_params: MapParams,
    int_params: IntParams,
    body: Arc<Body>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("arity", &self.arity)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// A function that needs the execution context (like `include`).
    pub fn with_context(
        arity: Arity,
        body: impl Fn(&mut Context<'_, '_>, Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) -> Self {
        Self {
            arity,
            map_params: MapParams::None,
            int_params: IntParams::NONE,
            body: Arc::new(body),
        }
    }

    /// This function, with `params` typed as Go maps.
    #[must_use]
    pub fn with_map_params(mut self, params: MapParams) -> Self {
        self.map_params = params;
        self
    }

    /// The parameters typed as Go maps.
    #[must_use]
    pub fn map_params(&self) -> MapParams {
        self.map_params
    }

    /// This function, with `params` typed as Go integers.
    #[must_use]
    pub fn with_int_params(mut self, params: IntParams) -> Self {
        self.int_params = params;
        self
    }

    /// The parameters typed as Go integers.
    #[must_use]
    pub fn int_params(&self) -> IntParams {
        self.int_params
    }

    /// A function of its arguments alone.
    pub fn new(
        arity: Arity,
        body: impl Fn(Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) -> Self {
        Self::with_context(arity, move |_, args| body(args))
    }

    /// The declared arity.
    #[must_use]
    pub fn arity(&self) -> Arity {
        self.arity
    }

    pub(crate) fn call(&self, context: &mut Context<'_, '_>, args: Vec<Value>) -> FuncResult {
        (self.body)(context, args)
    }
}

/// Functions by name, as Go's `template.FuncMap`.
#[derive(Clone, Debug, Default)]
pub struct FuncMap {
    functions: HashMap<String, Function>,
}

impl FuncMap {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) `name`.
    pub fn insert(&mut self, name: impl Into<String>, function: Function) {
        self.functions.insert(name.into(), function);
    }

    /// Registers a context-free function.
    pub fn add(
        &mut self,
        name: &str,
        arity: Arity,
        body: impl Fn(Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) {
        self.insert(name, Function::new(arity, body));
    }

    /// Registers a context-free function whose `params` are Go maps.
    pub fn add_with_map_params(
        &mut self,
        name: &str,
        params: MapParams,
        arity: Arity,
        body: impl Fn(Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) {
        self.insert(name, Function::new(arity, body).with_map_params(params));
    }

    /// Registers a function that uses the execution [`Context`].
    pub fn add_with_context(
        &mut self,
        name: &str,
        arity: Arity,
        body: impl Fn(&mut Context<'_, '_>, Vec<Value>) -> FuncResult + Send + Sync + 'static,
    ) {
        self.insert(name, Function::with_context(arity, body));
    }

    /// Declares the integer parameters of the registered `name` (nothing
    /// when `name` is not registered).
    pub fn set_int_params(&mut self, name: &str, params: IntParams) {
        if let Some(function) = self.functions.remove(name) {
            self.insert(name, function.with_int_params(params));
        }
    }

    /// Adds every function of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: FuncMap) {
        self.functions.extend(other.functions);
    }

    /// The function called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// True when `name` is registered.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Removes `name` (Helm drops Sprig's `env` and `expandenv`).
    pub fn remove(&mut self, name: &str) -> Option<Function> {
        self.functions.remove(name)
    }

    /// Registered names, unordered.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }
}

/// What a function sees of the execution that calls it.
pub struct Context<'e, 's> {
    pub(crate) exec: &'e mut Exec<'s>,
    pub(crate) template_name: &'e str,
}

impl Context<'_, '_> {
    /// The name of the template executing the call (Go's `Template.Name()`
    /// of the executing template; Helm's `.Template.Name` is data instead).
    #[must_use]
    pub fn template_name(&self) -> &str {
        self.template_name
    }

    /// Executes the template `name` of the current set with `data` as dot
    /// and returns its output as a Go string: Helm's `include`.
    ///
    /// # Errors
    /// The nested execution's error, or [`ExecError::NoTemplate`].
    pub fn execute_template(&mut self, name: &str, data: Value) -> Result<Value, ExecError> {
        self.exec
            .execute_nested(name, crate::exec::data_dot(data))
            .map(crate::raw_string::go_string)
    }

    /// Parses `text` as a new template called `name` into a copy of the
    /// current set (so it sees, and may add, definitions) and executes it
    /// with `data`: Helm's `tpl`. Definitions made by `text` are visible
    /// to functions it calls (an `include` inside it) but not afterwards.
    ///
    /// # Errors
    /// The parse error or the execution error, as a [`FuncError`].
    pub fn execute_text(
        &mut self,
        name: &str,
        text: &str,
        data: Value,
    ) -> Result<Value, FuncError> {
        self.exec
            .execute_text(name, text, crate::exec::data_dot(data))
            .map(crate::raw_string::go_string)
    }

    /// How many executions of template `name` are active on the call stack
    /// (through `{{template}}` or [`execute_template`](Self::execute_template)):
    /// what Helm's `include` recursion limit counts.
    #[must_use]
    pub fn active_executions(&self, name: &str) -> usize {
        self.exec.active_executions(name)
    }

    /// Counts `steps` against the execution's step limit, for a function
    /// whose one call does the work of many steps (generating an RSA key).
    ///
    /// # Errors
    /// The step limit's error, before the work is done.
    pub fn charge_steps(&mut self, steps: u64) -> Result<(), FuncError> {
        self.exec.charge_steps(steps).map_err(FuncError::new)
    }

    /// The maximum output one execution may produce, for functions that
    /// build large strings (`repeat`, `indent`) to refuse beyond it.
    #[must_use]
    pub fn max_output_bytes(&self) -> usize {
        self.exec.options().max_output_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::IntParams;

    #[test]
    fn int_params_name_their_positions_or_all() {
        let params = IntParams::at(&[0, 3]);
        assert!(params.includes(0) && params.includes(3));
        assert!(!params.includes(1) && !params.includes(64));
        assert!(IntParams::ALL.includes(100));
        assert!(!IntParams::NONE.includes(0));
    }
}
