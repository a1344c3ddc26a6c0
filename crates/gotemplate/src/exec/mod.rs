//! Execution: walking a [`Tree`] with data, as Go's `text/template/exec.go`.
//!
//! Values in flight are `Option<Value>`: `None` is Go's *invalid*
//! `reflect.Value` (a missing map key, or nil after a pipeline stage),
//! printed `<no value>`; `Some(Value::Nil)` is a nil `interface{}` still
//! inside a field chain, on which `.x` fails with `nil pointer evaluating
//! interface {}.x`. Keeping the two apart is what makes Helm's missing-value
//! behaviour come out right.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

mod eval;

use crate::ast::{Arg, Branch, Command, Ident, Node, Pipe, Tree, is_empty_tree};
use crate::error::{ExecError, FuncError};
use crate::set::{Options, ParsedText, TemplateSet};
use crate::value::Value;

type Slot = Option<Value>;

/// The dot of an execution handed `data` (Go's `reflect.ValueOf(data)`):
/// nil data is the invalid value, whose fields are `<no value>`, not a nil
/// `interface{}`, whose fields fail (`include "x" nil` renders `.a.b`).
pub(crate) fn data_dot(data: Value) -> Slot {
    match data {
        Value::Nil => None,
        other => Some(other),
    }
}

/// State shared by one top-level execution and everything it calls.
pub(crate) struct Exec<'s> {
    set: &'s TemplateSet,
    /// The templates executing, outermost first.
    stack: Vec<Arc<Tree>>,
    /// Templates parsed by active `execute_text` calls (Helm's `tpl`),
    /// innermost last: each sees the set plus the layers below it, as Go's
    /// clone of the set would, without copying the set per call.
    layers: Vec<HashMap<String, Arc<Tree>>>,
    /// Parses of `execute_text` texts by (name, text): charts call `tpl`
    /// on the same value in loops.
    parsed: HashMap<(String, String), Arc<ParsedText>>,
    /// Bytes of the texts in `parsed`, against [`PARSED_TEXTS_BYTES`].
    parsed_bytes: usize,
    /// Nodes walked and lists entered so far, against
    /// [`Options::max_steps`]: loops that print nothing are bounded by
    /// neither the output nor the depth limit.
    steps: u64,
    /// Bytes built so far, against [`Options::max_built_bytes`] (see
    /// [`budget`](crate::budget)).
    built: u64,
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
    vars: Vec<(Ident, Slot)>,
    /// What the template writes: bytes, as Go's writer takes them (a
    /// string it prints may not be UTF-8).
    out: Vec<u8>,
}

type Result<T> = std::result::Result<T, ExecError>;

impl<'s> Exec<'s> {
    pub(crate) fn new(set: &'s TemplateSet) -> Self {
        Self {
            set,
            stack: Vec::new(),
            layers: Vec::new(),
            parsed: HashMap::new(),
            parsed_bytes: 0,
            steps: 0,
            built: 0,
        }
    }

    /// Template `name` as the innermost `execute_text` layer sees it.
    pub(crate) fn tree(&self, name: &str) -> Option<Arc<Tree>> {
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.get(name))
            .or_else(|| self.set.trees.get(name))
            .cloned()
    }

    pub(crate) fn options(&self) -> &Options {
        &self.set.options
    }

    pub(crate) fn active_executions(&self, name: &str) -> usize {
        self.stack.iter().filter(|t| t.name == name).count()
    }

    /// Counts `steps` of work a function does in one call (an RSA key's
    /// prime search), failing past [`Options::max_steps`] before the work.
    pub(crate) fn charge_steps(&mut self, steps: u64) -> std::result::Result<(), String> {
        self.steps = self.steps.saturating_add(steps);
        let limit = self.options().max_steps;
        if self.steps > limit {
            return Err(format!(
                "execution exceeds the limit of {limit} steps (raise {})",
                driftless_limits::Limit::TemplateSteps.flag()
            ));
        }
        Ok(())
    }

    /// Runs template `name` with `dot` into a fresh output buffer.
    pub(crate) fn execute_nested(&mut self, name: &str, dot: Slot) -> Result<Vec<u8>> {
        let tree = self.tree(name).ok_or_else(|| ExecError::NoTemplate {
            name: name.to_owned(),
            set: self.set.name.clone(),
        })?;
        self.run_tree(tree, dot)
    }

    pub(crate) fn execute_text(
        &mut self,
        name: &str,
        text: &str,
        dot: Slot,
    ) -> std::result::Result<Vec<u8>, FuncError> {
        crate::budget::check_parse_len(text.len())?;
        let key = (name.to_owned(), text.to_owned());
        let trees = match self.parsed.get(&key) {
            Some(trees) => Arc::clone(trees),
            None => {
                let trees = Arc::new(self.set.parse_text(name, text)?);
                if self.parsed.len() >= PARSED_TEXTS_LIMIT
                    || self.parsed_bytes + text.len() > PARSED_TEXTS_BYTES
                {
                    self.parsed.clear();
                    self.parsed_bytes = 0;
                }
                self.parsed_bytes += text.len();
                self.parsed.insert(key, Arc::clone(&trees));
                trees
            }
        };
        // Go's `t.New(name).Parse(text)` on a clone of the set: the new
        // definitions replace visible ones unless empty, and the text's
        // own tree runs even when the set keeps an earlier one by its name.
        let mut layer = HashMap::new();
        let mut top = None;
        for (tree_name, tree) in trees.iter() {
            if *tree_name == name {
                top = Some(Arc::clone(tree));
            }
            let keep_existing = self.tree(tree_name).is_some() && is_empty_tree(tree);
            if !keep_existing {
                layer.insert(tree_name.clone(), Arc::clone(tree));
            }
        }
        let tree = top.expect("the parser always returns the tree it was asked to parse");
        self.layers.push(layer);
        let result = self.run_tree(tree, dot);
        self.layers.pop();
        Ok(result?)
    }

    fn run_tree(&mut self, tree: Arc<Tree>, dot: Slot) -> Result<Vec<u8>> {
        let mut state = State {
            exec: self,
            tree,
            vars: vec![(Arc::clone(&DOLLAR), dot.clone())],
            out: Vec::new(),
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
        let tree = Arc::clone(&self.tree);
        self.exec.stack.push(Arc::clone(&tree));
        let result = self.walk_list(&dot, &tree.root);
        self.exec.stack.pop();
        result.map(|_| ())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.charge(bytes.len())
            .map_err(|message| ExecError::Template {
                template: self.name().to_owned(),
                message,
            })?;
        let limit = self.exec.options().max_output_bytes;
        if self.out.len() + bytes.len() > limit {
            return Err(ExecError::Template {
                template: self.name().to_owned(),
                message: format!("output exceeds the limit of {limit} bytes"),
            });
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Counts `bytes` built; past [`Options::max_built_bytes`], the
    /// message to fail with.
    fn charge(&mut self, bytes: usize) -> std::result::Result<(), String> {
        self.exec.built = self
            .exec
            .built
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        let limit = self.exec.options().max_built_bytes;
        if self.exec.built > limit {
            return Err(format!(
                "execution builds more than the limit of {limit} bytes (raise {})",
                driftless_limits::Limit::TemplateBytes.flag()
            ));
        }
        Ok(())
    }

    /// Counts one step of work, failing past [`Options::max_steps`].
    fn step(&mut self) -> Result<()> {
        self.exec
            .charge_steps(1)
            .map_err(|message| ExecError::Template {
                template: self.name().to_owned(),
                message,
            })
    }

    fn walk_list(&mut self, dot: &Slot, nodes: &[Node]) -> Result<Flow> {
        // Entered once per range iteration, so an empty loop body counts.
        self.step()?;
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
        self.step()?;
        match node {
            Node::Text(range) => {
                let tree = Arc::clone(&self.tree);
                self.write(tree.text_of(range).as_bytes())?;
            }
            Node::Action(pipe) => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    match &value {
                        None => self.write(b"<no value>")?,
                        Some(Value::String(s)) => self.write(s.as_bytes())?,
                        Some(Value::Object(object)) => {
                            self.write(object.format_action().as_bytes())?;
                        }
                        Some(value) => {
                            let mut text = crate::fmt::GoText::default();
                            crate::fmt::print_value_into(&mut text, value);
                            self.write(text.as_bytes())?;
                        }
                    }
                }
            }
            Node::If(branch) => return self.walk_if_or_with(dot, branch, false),
            Node::With(branch) => return self.walk_if_or_with(dot, branch, true),
            Node::Range(branch) => return self.walk_range(dot, branch),
            Node::Template { pos, name, pipe } => {
                self.walk_template(dot, *pos, name, pipe.as_deref())?;
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
        let evaluated = self.eval_pipeline(dot, pipe)?;
        let keyed = match &evaluated {
            Some(Value::Object(object)) => object.range_entries(),
            _ => None,
        };
        let value = evaluated.map(|v| v.collection().into_owned());
        let mut iterations: Vec<(Slot, Slot)> = Vec::new();
        match &value {
            _ if keyed.is_some() => {
                for (key, item) in keyed.into_iter().flatten() {
                    iterations.push((Some(key), Some(item)));
                }
            }
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
                        pipe.pos as usize,
                        &RangeNode(pipe),
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                // Counted loops are not materialised: `range 1000000000`
                // must not allocate a billion entries.
                let (count, is_int64) = (*n, matches!(value, Some(Value::Int64(_))));
                return self.range_count(dot, branch, count, is_int64);
            }
            Some(other) => {
                let shown = crate::fmt::format_value(other);
                return Err(self.error_at(
                    pipe.pos as usize,
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

    fn range_count(
        &mut self,
        dot: &Slot,
        branch: &Branch,
        count: i64,
        is_int64: bool,
    ) -> Result<Flow> {
        if count <= 0 {
            if let Some(else_list) = &branch.else_list {
                return self.walk_list(dot, else_list);
            }
            return Ok(Flow::Normal);
        }
        let body_mark = self.vars.len();
        for i in 0..count {
            let item = Some(if is_int64 {
                Value::Int64(i)
            } else {
                Value::Int(i)
            });
            self.bind_range_vars(&branch.pipe, None, item.clone())?;
            let flow = self.walk_list(&item, &branch.list);
            self.vars.truncate(body_mark);
            if flow? == Flow::Break {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn bind_range_vars(&mut self, pipe: &Pipe, index: Slot, item: Slot) -> Result<()> {
        match &*pipe.decl {
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
        let Some(tree) = self.exec.tree(name) else {
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
            vars: vec![(Arc::clone(&DOLLAR), new_dot.clone())],
            out: std::mem::take(&mut self.out),
        };
        let result = nested.run(new_dot);
        self.out = std::mem::take(&mut nested.out);
        result
    }

    fn set_var(&mut self, name: &str, value: Slot) -> Result<()> {
        if let Some(var) = self.vars.iter_mut().rev().find(|(n, _)| **n == *name) {
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
            .find(|(n, _)| **n == *name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ExecError::Template {
                template: self.name().to_owned(),
                message: format!("undefined variable: {name}"),
            })
    }
}

/// Most distinct `execute_text` texts kept parsed per execution; past it
/// the cache starts over (a hostile chart cannot grow it without bound).
const PARSED_TEXTS_LIMIT: usize = 4096;

/// Bytes of text whose parses [`Exec::execute_text`] keeps: a tree takes
/// tens of times its text, so a loop over distinct big texts must not
/// keep them all.
const PARSED_TEXTS_BYTES: usize = 4 * 1024 * 1024;

/// Stack left before growing, and the size of each new segment.
pub(crate) const STACK_RED_ZONE: usize = 64 * 1024;
pub(crate) const STACK_GROWTH: usize = 1024 * 1024;

/// The arguments of a field read as an operand: none (a field chain reads
/// only a command's `rest`).
static NO_ARGS: LazyLock<Command> = LazyLock::new(|| Command {
    pos: 0,
    first: Arg::Dot,
    rest: Box::new([]),
});

/// The name of a template's root variable, shared by every call.
static DOLLAR: LazyLock<Ident> = LazyLock::new(|| Arc::from("$"));

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
