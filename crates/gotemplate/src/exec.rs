//! Execution: walking a [`Tree`] with data, as Go's `text/template/exec.go`.
//!
//! Values in flight are `Option<Value>`: `None` is Go's *invalid*
//! `reflect.Value` (a missing map key, or nil after a pipeline stage),
//! printed `<no value>`; `Some(Value::Nil)` is a nil `interface{}` still
//! inside a field chain, on which `.x` fails with `nil pointer evaluating
//! interface {}.x`. Keeping the two apart is what makes Helm's missing-value
//! behaviour come out right.

use std::sync::Arc;

use crate::ast::{Arg, Branch, Command, Node, Pipe, Tree};
use crate::error::{ExecError, FuncError};
use crate::funcs::{Arity, Context, Function};
use crate::set::{MissingKey, Options, TemplateSet};
use crate::value::Value;

type Slot = Option<Value>;

/// State shared by one top-level execution and everything it calls.
pub(crate) struct Exec<'s> {
    set: &'s TemplateSet,
    /// Names of the templates executing, outermost first.
    stack: Vec<String>,
}

/// Control flow out of a list: `{{break}}` and `{{continue}}`.
#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// One template execution: Go's `state`.
struct State<'x, 's> {
    exec: &'x mut Exec<'s>,
    tree: Arc<Tree>,
    vars: Vec<(String, Slot)>,
    out: String,
}

type Result<T> = std::result::Result<T, ExecError>;

impl<'s> Exec<'s> {
    pub(crate) fn new(set: &'s TemplateSet) -> Self {
        Self {
            set,
            stack: Vec::new(),
        }
    }

    pub(crate) fn options(&self) -> &Options {
        &self.set.options
    }

    pub(crate) fn active_executions(&self, name: &str) -> usize {
        self.stack.iter().filter(|n| *n == name).count()
    }

    /// Runs template `name` with `dot` into a fresh output buffer.
    pub(crate) fn execute_nested(&mut self, name: &str, dot: Slot) -> Result<String> {
        let tree = self
            .set
            .trees
            .get(name)
            .cloned()
            .ok_or_else(|| ExecError::NoTemplate(name.to_owned()))?;
        self.run_tree(tree, dot)
    }

    pub(crate) fn execute_text(
        &mut self,
        name: &str,
        text: &str,
        dot: Slot,
    ) -> std::result::Result<String, FuncError> {
        let mut copy = self.set.clone();
        let tree = copy.parse_returning_top(name, text)?;
        let mut nested = Exec {
            set: &copy,
            stack: std::mem::take(&mut self.stack),
        };
        let result = nested.run_tree(tree, dot);
        self.stack = nested.stack;
        Ok(result?)
    }

    fn run_tree(&mut self, tree: Arc<Tree>, dot: Slot) -> Result<String> {
        let mut state = State {
            exec: self,
            tree,
            vars: vec![("$".to_owned(), dot.clone())],
            out: String::new(),
        };
        state.run(dot)?;
        Ok(state.out)
    }
}

impl State<'_, '_> {
    fn name(&self) -> &str {
        &self.tree.name
    }

    fn error_at(&self, pos: usize, node: &dyn std::fmt::Display, message: String) -> ExecError {
        ExecError::At {
            location: self.tree.location(pos),
            template: self.name().to_owned(),
            node: node.to_string(),
            message,
            function_message: None,
        }
    }

    fn run(&mut self, dot: Slot) -> Result<()> {
        let limit = self.exec.options().max_depth;
        if self.exec.stack.len() >= limit {
            return Err(ExecError::Template {
                template: self.name().to_owned(),
                message: format!("exceeded maximum template depth ({limit})"),
            });
        }
        self.exec.stack.push(self.tree.name.clone());
        let tree = Arc::clone(&self.tree);
        let result = self.walk_list(&dot, &tree.root);
        self.exec.stack.pop();
        result.map(|_| ())
    }

    fn write(&mut self, text: &str) -> Result<()> {
        let limit = self.exec.options().max_output_bytes;
        if self.out.len() + text.len() > limit {
            return Err(ExecError::Template {
                template: self.name().to_owned(),
                message: format!("output exceeds the limit of {limit} bytes"),
            });
        }
        self.out.push_str(text);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Slot, nodes: &[Node]) -> Result<Flow> {
        for node in nodes {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Slot, node: &Node) -> Result<Flow> {
        // Nesting (templates, control structures, parentheses) recurses;
        // grow the stack on the heap instead of overflowing it. Depth is
        // bounded by `Options::max_depth` and by the template's size.
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.walk_node(dot, node))
    }

    fn walk_node(&mut self, dot: &Slot, node: &Node) -> Result<Flow> {
        match node {
            Node::Text(text) => self.write(text)?,
            Node::Action(pipe) => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let text = match &value {
                        None => "<no value>".to_owned(),
                        Some(value) => crate::fmt::format_value(value),
                    };
                    self.write(&text)?;
                }
            }
            Node::If(branch) => return self.walk_if_or_with(dot, branch, false),
            Node::With(branch) => return self.walk_if_or_with(dot, branch, true),
            Node::Range(branch) => return self.walk_range(dot, branch),
            Node::Template { pos, name, pipe } => {
                self.walk_template(dot, *pos, name, pipe.as_ref())?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, dot: &Slot, branch: &Branch, is_with: bool) -> Result<Flow> {
        let mark = self.vars.len();
        let result = (|| {
            let value = self.eval_pipeline(dot, &branch.pipe)?;
            let truth = value.as_ref().is_some_and(Value::is_true);
            if truth {
                let body_dot = if is_with { value } else { dot.clone() };
                self.walk_list(&body_dot, &branch.list)
            } else if let Some(else_list) = &branch.else_list {
                self.walk_list(dot, else_list)
            } else {
                Ok(Flow::Normal)
            }
        })();
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Slot, branch: &Branch) -> Result<Flow> {
        let mark = self.vars.len();
        let result = self.walk_range_body(dot, branch);
        self.vars.truncate(mark);
        // A break or continue ends at its range.
        result.map(|_| Flow::Normal)
    }

    fn walk_range_body(&mut self, dot: &Slot, branch: &Branch) -> Result<Flow> {
        let pipe = &branch.pipe;
        let value = self.eval_pipeline(dot, pipe)?;
        let mut iterations: Vec<(Slot, Slot)> = Vec::new();
        match &value {
            None | Some(Value::Nil) => {}
            Some(Value::List(list)) => {
                for (i, item) in list.items().iter().enumerate() {
                    iterations.push((Some(Value::Int(index_i64(i))), Some(item.clone())));
                }
            }
            Some(Value::Bytes(bytes)) => {
                for (i, byte) in bytes.iter().enumerate() {
                    iterations.push((
                        Some(Value::Int(index_i64(i))),
                        Some(Value::Int(i64::from(*byte))),
                    ));
                }
            }
            Some(Value::Map(map)) => {
                for (key, item) in map.snapshot() {
                    iterations.push((Some(Value::string(key)), Some(item)));
                }
            }
            Some(Value::Int(n) | Value::Int64(n)) => {
                if pipe.decl.len() > 1 {
                    let n = *n;
                    return Err(self.error_at(
                        pipe.pos,
                        &RangeNode(pipe),
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                for i in 0..*n {
                    let item = match value {
                        Some(Value::Int64(_)) => Value::Int64(i),
                        _ => Value::Int(i),
                    };
                    iterations.push((None, Some(item)));
                }
            }
            Some(other) => {
                let shown = crate::fmt::format_value(other);
                return Err(self.error_at(
                    pipe.pos,
                    &RangeNode(pipe),
                    format!("range can't iterate over {shown}"),
                ));
            }
        }
        if iterations.is_empty() {
            if let Some(else_list) = &branch.else_list {
                return self.walk_list(dot, else_list);
            }
            return Ok(Flow::Normal);
        }
        let body_mark = self.vars.len();
        for (index, item) in iterations {
            self.bind_range_vars(pipe, index, item.clone())?;
            let flow = self.walk_list(&item, &branch.list);
            self.vars.truncate(body_mark);
            if flow? == Flow::Break {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn bind_range_vars(&mut self, pipe: &Pipe, index: Slot, item: Slot) -> Result<()> {
        match pipe.decl.as_slice() {
            [] => {}
            [only] => self.assign_or_set_top(pipe.is_assign, only, 1, item)?,
            [first, second, ..] => {
                self.assign_or_set_top(pipe.is_assign, second, 1, item)?;
                self.assign_or_set_top(pipe.is_assign, first, 2, index)?;
            }
        }
        Ok(())
    }

    fn assign_or_set_top(
        &mut self,
        is_assign: bool,
        name: &str,
        from_top: usize,
        value: Slot,
    ) -> Result<()> {
        if is_assign {
            return self.set_var(name, value);
        }
        let at = self.vars.len() - from_top;
        self.vars[at].1 = value;
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Slot,
        pos: usize,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> Result<()> {
        let node = TemplateNode { name, pipe };
        let Some(tree) = self.exec.set.trees.get(name).cloned() else {
            let message = format!("template {} not defined", crate::fmt::quote_go(name));
            return Err(self.error_at(pos, &node, message));
        };
        let new_dot = match pipe {
            Some(pipe) => self.eval_pipeline(dot, pipe)?,
            None => None,
        };
        let mut nested = State {
            exec: &mut *self.exec,
            tree,
            vars: vec![("$".to_owned(), new_dot.clone())],
            out: std::mem::take(&mut self.out),
        };
        let result = nested.run(new_dot);
        self.out = std::mem::take(&mut nested.out);
        result
    }

    fn set_var(&mut self, name: &str, value: Slot) -> Result<()> {
        if let Some(var) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            var.1 = value;
            return Ok(());
        }
        Err(ExecError::Template {
            template: self.name().to_owned(),
            message: format!("undefined variable: {name}"),
        })
    }

    fn var_value(&self, name: &str) -> Result<Slot> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ExecError::Template {
                template: self.name().to_owned(),
                message: format!("undefined variable: {name}"),
            })
    }

    fn eval_pipeline(&mut self, dot: &Slot, pipe: &Pipe) -> Result<Slot> {
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
        let first = &cmd.args[0];
        match first {
            Arg::Field { pos, idents } => {
                self.eval_field_chain(dot, dot.clone(), *pos, first, idents, cmd, final_value)
            }
            Arg::Chain { pos, node, fields } => {
                if let Arg::Nil { .. } = node.as_ref() {
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
            Arg::Variable { pos, name, idents } => {
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
        if cmd.args.len() > 1 || final_value.is_some() {
            let first = &cmd.args[0];
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
            Arg::String { value, .. } => Some(Value::string(value.as_str())),
            Arg::Number(number) => Some(self.ideal_constant(number)?),
            Arg::Field { pos, idents } => {
                self.eval_field_chain(dot, dot.clone(), *pos, arg, idents, &NO_ARGS, None)?
            }
            Arg::Variable { pos, name, idents } => {
                let value = self.var_value(name)?;
                if idents.is_empty() {
                    value
                } else {
                    self.eval_field_chain(dot, value, *pos, arg, idents, &NO_ARGS, None)?
                }
            }
            Arg::Chain { pos, node, fields } => {
                if let Arg::Nil { .. } = node.as_ref() {
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
                    args: vec![Arg::Identifier {
                        pos: *pos,
                        name: name.clone(),
                    }],
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
        idents: &[String],
        cmd: &Command,
        final_value: Option<Slot>,
    ) -> Result<Slot> {
        let Some((last, init)) = idents.split_last() else {
            return Ok(receiver);
        };
        for ident in init {
            receiver = self.eval_field(dot, pos, node, ident, &NO_ARGS, None, receiver)?;
        }
        self.eval_field(dot, pos, node, last, cmd, final_value, receiver)
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
    ) -> Result<Slot> {
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
        let has_args = cmd.args.len() > 1 || final_value.is_some();
        match &receiver {
            Value::Nil => Err(self.error_at(
                pos,
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            Value::Object(object) => {
                let object = Arc::clone(object);
                let mut args = self.eval_call_args(dot, cmd)?;
                if let Some(final_value) = &final_value {
                    args.push(final_value.clone().unwrap_or(Value::Nil));
                }
                if let Some(result) = object.call_method(name, &args) {
                    return result.map(Some).map_err(|message| {
                        self.error_at(pos, node, format!("error calling {name}: {message}"))
                    });
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
                        format!("can't evaluate field {name} in type {}", object.type_name()),
                    )),
                }
            }
            Value::Map(map) => {
                if has_args {
                    return Err(self.error_at(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                match map.get(name) {
                    Some(value) => Ok(Some(value)),
                    None => match missing_key {
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
            other => Err(self.error_at(
                pos,
                node,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn eval_call_args(&mut self, dot: &Slot, cmd: &Command) -> Result<Vec<Value>> {
        let mut args = Vec::with_capacity(cmd.args.len());
        for arg in cmd.args.iter().skip(1) {
            args.push(self.eval_arg(dot, arg)?.unwrap_or(Value::Nil));
        }
        Ok(args)
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
        let given = cmd.args.len() - 1 + usize::from(final_value.is_some());
        self.check_arity(pos, cmd, name, function.arity(), given)?;
        if is_builtin && (name == "and" || name == "or") {
            return self.eval_and_or(dot, name == "or", cmd, final_value);
        }
        let mut args = self.eval_call_args(dot, cmd)?;
        if let Some(final_value) = final_value {
            args.push(final_value.unwrap_or(Value::Nil));
        }
        self.call(pos, cmd, name, &function, args)
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
        for arg in cmd.args.iter().skip(1) {
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
        let template_name = self.tree.name.clone();
        let mut context = Context {
            exec: &mut *self.exec,
            template_name: &template_name,
        };
        match function.call(&mut context, args) {
            Ok(value) => Ok(Some(value)),
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

/// Stack left before growing, and the size of each new segment.
pub(crate) const STACK_RED_ZONE: usize = 64 * 1024;
pub(crate) const STACK_GROWTH: usize = 1024 * 1024;

static NO_ARGS: Command = Command {
    pos: 0,
    args: Vec::new(),
};

fn index_i64(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

/// `{{range PIPE}}` for error context.
struct RangeNode<'a>(&'a Pipe);

impl std::fmt::Display for RangeNode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{{range {}}}}}", self.0)
    }
}

/// `{{template "name" PIPE}}` for error context.
struct TemplateNode<'a> {
    name: &'a str,
    pipe: Option<&'a Pipe>,
}

impl std::fmt::Display for TemplateNode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = crate::fmt::quote_go(self.name);
        match self.pipe {
            Some(pipe) => write!(f, "{{{{template {name} {pipe}}}}}"),
            None => write!(f, "{{{{template {name}}}}}"),
        }
    }
}
