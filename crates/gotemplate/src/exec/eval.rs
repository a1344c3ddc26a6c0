//! Expression evaluation for the executor: pipelines, commands, operands,
//! field chains (maps, objects' methods and fields, Go's missing-key and
//! nil rules), function calls with Go's arity errors, and `and`/`or`
//! short-circuiting.

use std::sync::Arc;

use super::{NO_ARGS, Result, STACK_GROWTH, STACK_RED_ZONE, Slot, State};
use crate::ast::{Arg, Chain, Command, Ident, Pipe, variable_parts};
use crate::error::ExecError;
use crate::funcs::{Arity, Context, Function, IntParams, MapParams};
use crate::set::MissingKey;
use crate::value::Value;

impl State<'_, '_> {
    pub(super) fn eval_pipeline(&mut self, dot: &Slot, pipe: &Pipe) -> Result<Slot> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || {
            self.eval_pipeline_inner(dot, pipe)
        })
    }

    fn eval_pipeline_inner(&mut self, dot: &Slot, pipe: &Pipe) -> Result<Slot> {
        let mut value: Option<Slot> = None;
        for cmd in &pipe.cmds {
            let result = self.eval_command(dot, cmd, value)?;
            // A nil interface{} result becomes an invalid value, as Go's
            // `reflect.ValueOf(v.Interface())` does between stages.
            value = Some(match result {
                Some(Value::Nil) => None,
                other => other,
            });
        }
        let value = value.flatten();
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    /// `final_value` is the previous stage's result (`Some(slot)`), or
    /// `None` for the first stage.
    fn eval_command(
        &mut self,
        dot: &Slot,
        cmd: &Command,
        final_value: Option<Slot>,
    ) -> Result<Slot> {
        let first = &cmd.first;
        match first {
            Arg::Field { pos, idents } => {
                self.eval_field_chain(dot, dot.clone(), *pos, first, idents, cmd, final_value)
            }
            Arg::Chain(chain) => {
                let Chain { pos, node, fields } = chain.as_ref();
                if let Arg::Nil { .. } = node {
                    return Err(self.error_at(
                        *pos,
                        first,
                        format!("indirection through explicit nil in {first}"),
                    ));
                }
                let receiver = self.eval_arg(dot, node)?;
                self.eval_field_chain(dot, receiver, *pos, first, fields, cmd, final_value)
            }
            Arg::Identifier { pos, name } => self.eval_function(dot, *pos, name, cmd, final_value),
            Arg::Pipe(pipe) => {
                self.not_a_function(cmd, final_value.as_ref())?;
                self.eval_pipeline(dot, pipe)
            }
            Arg::Variable { pos, path } => {
                let (name, idents) = variable_parts(path);
                let value = self.var_value(name)?;
                if idents.is_empty() {
                    self.not_a_function(cmd, final_value.as_ref())?;
                    return Ok(value);
                }
                self.eval_field_chain(dot, value, *pos, first, idents, cmd, final_value)
            }
            Arg::Nil { pos } => Err(self.error_at(*pos, first, "nil is not a command".to_owned())),
            _ => {
                self.not_a_function(cmd, final_value.as_ref())?;
                self.eval_arg(dot, first)
            }
        }
    }

    fn not_a_function(&self, cmd: &Command, final_value: Option<&Slot>) -> Result<()> {
        if !cmd.rest.is_empty() || final_value.is_some() {
            let first = &cmd.first;
            return Err(self.error_at(
                cmd.pos,
                first,
                format!("can't give argument to non-function {first}"),
            ));
        }
        Ok(())
    }

    /// Evaluates an operand used as an argument.
    fn eval_arg(&mut self, dot: &Slot, arg: &Arg) -> Result<Slot> {
        Ok(match arg {
            Arg::Dot => dot.clone(),
            Arg::Nil { .. } => Some(Value::Nil),
            Arg::Bool(b) => Some(Value::Bool(*b)),
            Arg::String(literal) => Some(Value::String(Arc::clone(&literal.value))),
            Arg::Number(number) => Some(self.ideal_constant(number)?),
            Arg::Field { pos, idents } => {
                self.eval_field_chain(dot, dot.clone(), *pos, arg, idents, &NO_ARGS, None)?
            }
            Arg::Variable { pos, path } => {
                let (name, idents) = variable_parts(path);
                let value = self.var_value(name)?;
                if idents.is_empty() {
                    value
                } else {
                    self.eval_field_chain(dot, value, *pos, arg, idents, &NO_ARGS, None)?
                }
            }
            Arg::Chain(chain) => {
                let Chain { pos, node, fields } = chain.as_ref();
                if let Arg::Nil { .. } = node {
                    return Err(self.error_at(
                        *pos,
                        arg,
                        format!("indirection through explicit nil in {arg}"),
                    ));
                }
                let receiver = self.eval_arg(dot, node)?;
                self.eval_field_chain(dot, receiver, *pos, arg, fields, &NO_ARGS, None)?
            }
            Arg::Identifier { pos, name } => {
                let cmd = Command {
                    pos: *pos,
                    first: Arg::Identifier {
                        pos: *pos,
                        name: Arc::clone(name),
                    },
                    rest: Box::new([]),
                };
                self.eval_function(dot, *pos, name, &cmd, None)?
            }
            Arg::Pipe(pipe) => self.eval_pipeline(dot, pipe)?,
        })
    }

    /// Go's `idealConstant` for an untyped number: `int` unless written
    /// as a float (`1.0`, `1e3`), which gives `float64`.
    fn ideal_constant(&self, number: &crate::ast::Number) -> Result<Value> {
        let text = &number.text;
        let lower = text.to_ascii_lowercase();
        // Go's isHexInt: a hex literal without a binary exponent.
        let is_hex_int =
            lower.trim_start_matches(['+', '-']).starts_with("0x") && !lower.contains('p');
        let looks_float =
            !is_hex_int && !number.is_char && text.contains(['.', 'e', 'E', 'p', 'P']);
        if looks_float && let Some(f) = number.float {
            return Ok(Value::Float(f));
        }
        if let Some(i) = number.int {
            return Ok(Value::Int(i));
        }
        match number.float {
            Some(f) => Ok(Value::Float(f)),
            None => Err(ExecError::Template {
                template: self.name().to_owned(),
                message: format!("{text} overflows int"),
            }),
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors Go's evalFieldChain parameters"
    )]
    fn eval_field_chain(
        &mut self,
        dot: &Slot,
        mut receiver: Slot,
        pos: usize,
        node: &Arg,
        idents: &[Ident],
        cmd: &Command,
        final_value: Option<Slot>,
    ) -> Result<Slot> {
        let Some((last, init)) = idents.split_last() else {
            return Ok(receiver);
        };
        let mut from_interface_map = false;
        for ident in init {
            // A named map type (Helm's `common.Values`) holds interface values too.
            let next_from_map = receiver.as_ref().is_some_and(
                |r| matches!(&*r.collection(), Value::Map(m) if !m.has_string_values()),
            );
            receiver = self.eval_field(
                dot,
                pos,
                node,
                ident,
                &NO_ARGS,
                None,
                receiver,
                from_interface_map,
            )?;
            from_interface_map = next_from_map;
        }
        self.eval_field(
            dot,
            pos,
            node,
            last,
            cmd,
            final_value,
            receiver,
            from_interface_map,
        )
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors Go's evalField parameters"
    )]
    fn eval_field(
        &mut self,
        dot: &Slot,
        pos: usize,
        node: &Arg,
        name: &str,
        cmd: &Command,
        final_value: Option<Slot>,
        receiver: Slot,
        from_interface_map: bool,
    ) -> Result<Slot> {
        // Go names the static type in errors: an element of a
        // map[string]interface{} is an `interface {}`.
        let static_type = |value: &Value| {
            if from_interface_map {
                "interface {}".to_owned()
            } else {
                value.type_name()
            }
        };
        let missing_key = self.exec.options().missing_key;
        let Some(receiver) = receiver else {
            if missing_key == MissingKey::Error {
                return Err(self.error_at(
                    pos,
                    node,
                    format!("nil data; no entry for key {}", crate::fmt::quote_go(name)),
                ));
            }
            return Ok(None);
        };
        let has_args = !cmd.rest.is_empty() || final_value.is_some();
        match &receiver {
            Value::Nil => Err(self.error_at(
                pos,
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            Value::Object(object) => {
                // A plain field step (`.Values.image`) has no arguments;
                // skip building a list for it on this hot path.
                let mut args = if has_args {
                    self.eval_call_args(dot, cmd)?
                } else {
                    Vec::new()
                };
                if let Some(final_value) = &final_value {
                    args.push(final_value.clone().unwrap_or(Value::Nil));
                }
                if let Some(result) = object.call_method(name, &args) {
                    return result.map(Some).map_err(|message| {
                        self.error_at(pos, node, format!("error calling {name}: {message}"))
                    });
                }
                if let Some(map) = object.as_map() {
                    return self.map_field(map, name, pos, node, has_args);
                }
                if let Some(collection) = object.as_collection() {
                    return self.eval_field(
                        dot,
                        pos,
                        node,
                        name,
                        cmd,
                        final_value,
                        Some(collection),
                        from_interface_map,
                    );
                }
                match object.field(name) {
                    Some(_) if has_args => Err(self.error_at(
                        pos,
                        node,
                        format!("{name} has arguments but cannot be invoked as function"),
                    )),
                    Some(value) => Ok(Some(value)),
                    None => Err(self.error_at(
                        pos,
                        node,
                        format!(
                            "can't evaluate field {name} in type {}",
                            static_type(&receiver)
                        ),
                    )),
                }
            }
            Value::Map(map) => self.map_field(map, name, pos, node, has_args),
            other => Err(self.error_at(
                pos,
                node,
                format!("can't evaluate field {name} in type {}", static_type(other)),
            )),
        }
    }

    /// `.name` on a map: its entry, or the missing-key option's answer.
    fn map_field(
        &self,
        map: &crate::value::Map,
        name: &str,
        pos: usize,
        node: &Arg,
        has_args: bool,
    ) -> Result<Slot> {
        if has_args {
            return Err(self.error_at(
                pos,
                node,
                format!("{name} is not a method but has arguments"),
            ));
        }
        match map.get(name) {
            Some(value) => Ok(Some(value)),
            None => match self.exec.options().missing_key {
                MissingKey::Default => Ok(None),
                MissingKey::Zero if map.has_string_values() => Ok(Some(Value::string(""))),
                MissingKey::Zero => Ok(Some(Value::Nil)),
                MissingKey::Error => Err(self.error_at(
                    pos,
                    node,
                    format!("map has no entry for key {}", crate::fmt::quote_go(name)),
                )),
            },
        }
    }

    fn eval_call_args(&mut self, dot: &Slot, cmd: &Command) -> Result<Vec<Value>> {
        self.eval_call_slots(dot, cmd).map(call_values)
    }

    /// The arguments as evaluated, invalid values kept apart from nils
    /// (room left for a piped final argument).
    fn eval_call_slots(&mut self, dot: &Slot, cmd: &Command) -> Result<Vec<Slot>> {
        let mut slots = Vec::with_capacity(cmd.rest.len() + 1);
        for arg in &cmd.rest {
            slots.push(self.eval_arg(dot, arg)?);
        }
        Ok(slots)
    }

    fn eval_function(
        &mut self,
        dot: &Slot,
        pos: usize,
        name: &str,
        cmd: &Command,
        final_value: Option<Slot>,
    ) -> Result<Slot> {
        let user = self.exec.set.funcs.get(name).cloned();
        let (function, is_builtin) = match user {
            Some(function) => (function, false),
            None => match crate::builtins::builtin(name) {
                Some(function) => (function, true),
                None => {
                    return Err(self.error_at(
                        pos,
                        cmd,
                        format!("{} is not a defined function", crate::fmt::quote_go(name)),
                    ));
                }
            },
        };
        let given = cmd.rest.len() + usize::from(final_value.is_some());
        self.check_arity(pos, cmd, name, function.arity(), given)?;
        if is_builtin && (name == "and" || name == "or") {
            return self.eval_and_or(dot, name == "or", cmd, final_value);
        }
        let mut slots = self.eval_call_slots(dot, cmd)?;
        self.check_map_args(cmd, function.map_params(), &slots)?;
        integral_literals_as_ints(cmd, function.int_params(), &mut slots);
        let mut args = call_values(slots);
        if let Some(final_value) = final_value {
            args.push(final_value.unwrap_or(Value::Nil));
        }
        self.call(pos, cmd, name, &function, args)
    }

    /// Go's argument check for `map[string]interface{}` parameters: a nil
    /// `interface{}` from a field, variable or dot is the wrong type (a
    /// nil from a pipeline, parentheses or the `nil` keyword is a nil map;
    /// the piped final argument never reaches this check).
    fn check_map_args(&self, cmd: &Command, params: MapParams, slots: &[Slot]) -> Result<()> {
        if params == MapParams::None {
            return Ok(());
        }
        for (index, (arg, slot)) in cmd.rest.iter().zip(slots).enumerate() {
            let from_interface = matches!(
                arg,
                Arg::Field { .. } | Arg::Variable { .. } | Arg::Chain(_) | Arg::Dot
            );
            if from_interface && matches!(slot, Some(Value::Nil)) && params.includes(index) {
                let pos = match arg {
                    Arg::Field { pos, .. } | Arg::Variable { pos, .. } => *pos,
                    Arg::Chain(chain) => chain.pos,
                    _ => cmd.pos,
                };
                return Err(self.error_at(
                    pos,
                    arg,
                    "wrong type for value; expected map[string]interface {}; got interface {}"
                        .to_owned(),
                ));
            }
        }
        Ok(())
    }

    fn check_arity(
        &self,
        pos: usize,
        cmd: &Command,
        name: &str,
        arity: Arity,
        given: usize,
    ) -> Result<()> {
        let message = match arity {
            Arity::Exact(n) if n != given => {
                format!("wrong number of args for {name}: want {n} got {given}")
            }
            Arity::AtLeast(n) if given < n => {
                format!("wrong number of args for {name}: want at least {n} got {given}")
            }
            _ => return Ok(()),
        };
        Err(self.error_at(pos, cmd, message))
    }

    /// `and`/`or` evaluate arguments only until one decides the result.
    fn eval_and_or(
        &mut self,
        dot: &Slot,
        is_or: bool,
        cmd: &Command,
        final_value: Option<Slot>,
    ) -> Result<Slot> {
        let mut value = None;
        for arg in &cmd.rest {
            let v = self.eval_arg(dot, arg)?.unwrap_or(Value::Nil);
            if v.is_true() == is_or {
                return Ok(Some(v));
            }
            value = Some(v);
        }
        if let Some(final_value) = final_value {
            value = Some(final_value.unwrap_or(Value::Nil));
        }
        Ok(value)
    }

    fn call(
        &mut self,
        pos: usize,
        cmd: &Command,
        name: &str,
        function: &Function,
        args: Vec<Value>,
    ) -> Result<Slot> {
        let tree = Arc::clone(&self.tree);
        let mut context = Context {
            exec: &mut *self.exec,
            template_name: &tree.name,
        };
        let result = function
            .call(&mut context, args)
            .and_then(|value| crate::budget::check_result(&value).map(|()| value));
        match result {
            Ok(value) => {
                self.charge(crate::budget::result_bytes(&value))
                    .map_err(|message| self.error_at(pos, cmd, message))?;
                Ok(Some(value))
            }
            Err(error) => {
                let message = if error.is_argument_error {
                    error.message.clone()
                } else {
                    format!("error calling {name}: {}", error.message)
                };
                Err(ExecError::At {
                    location: self.tree.location(pos),
                    template: self.name().to_owned(),
                    node: cmd.to_string(),
                    message,
                    function_message: Some(error.message),
                })
            }
        }
    }
}

/// Arguments as a function receives them: an invalid value is nil.
fn call_values(slots: Vec<Slot>) -> Vec<Value> {
    slots
        .into_iter()
        .map(|slot| slot.unwrap_or(Value::Nil))
        .collect()
}

/// Go's `evalInteger`: a number literal given to an integer parameter is
/// that integer when it has one, even written as a float (`trunc 2.0`);
/// every other argument keeps the value it evaluated to.
fn integral_literals_as_ints(cmd: &Command, params: IntParams, slots: &mut [Slot]) {
    if params == IntParams::NONE {
        return;
    }
    for (index, (arg, slot)) in cmd.rest.iter().zip(slots).enumerate() {
        if let Arg::Number(number) = arg
            && let Some(int) = number.int
            && params.includes(index)
        {
            *slot = Some(Value::Int(int));
        }
    }
}
