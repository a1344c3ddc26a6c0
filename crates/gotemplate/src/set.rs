//! [`TemplateSet`]: named templates sharing definitions and functions, the
//! equivalent of a Go `*template.Template` with its associated templates,
//! plus the execution [`Options`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Tree, is_empty_tree};
use crate::error::{ExecError, ParseError};
use crate::exec::Exec;
use crate::funcs::FuncMap;
use crate::value::Value;

/// What a missing map key yields (Go's `missingkey=` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Go's default: an invalid value, printed `<no value>`.
    #[default]
    Default,
    /// The zero value of the map's element type (nil for
    /// `map[string]interface{}`, still printed `<no value>`): Helm's normal
    /// mode.
    Zero,
    /// Fail with `map has no entry for key "x"`: Helm's `--strict` mode.
    Error,
}

/// Execution options and safety bounds.
#[derive(Clone, Debug)]
pub struct Options {
    /// What a missing map key yields.
    pub missing_key: MissingKey,
    /// Deepest nesting of template executions (`{{template}}`, `include`,
    /// `tpl`). Execution grows its stack on the heap as needed, so this
    /// bounds memory, not the thread's stack: Go allows 100000; the default
    /// 10000 leaves room for Helm's own `include` limit (1000 nested calls
    /// of one name) to report first.
    pub max_depth: usize,
    /// Largest output of one execution, in bytes; beyond it execution fails
    /// instead of exhausting memory.
    pub max_output_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            missing_key: MissingKey::Default,
            max_depth: 10_000,
            max_output_bytes: 256 * 1024 * 1024,
        }
    }
}

/// A set of named templates that can call each other, with the functions
/// they may use.
#[derive(Clone, Debug, Default)]
pub struct TemplateSet {
    pub(crate) name: String,
    pub(crate) trees: HashMap<String, Arc<Tree>>,
    pub(crate) funcs: Arc<FuncMap>,
    pub(crate) options: Options,
}

impl TemplateSet {
    /// An empty set with Go's builtin functions only.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set whose templates may call `funcs` besides the builtins
    /// (a function in `funcs` overrides a builtin of the same name, as in
    /// Go).
    #[must_use]
    pub fn with_funcs(funcs: FuncMap) -> Self {
        Self {
            funcs: Arc::new(funcs),
            ..Self::default()
        }
    }

    /// Adds or replaces functions; call before parsing templates that use
    /// them (Go checks function names at parse time).
    pub fn add_funcs(&mut self, funcs: FuncMap) {
        Arc::make_mut(&mut self.funcs).extend(funcs);
    }

    /// The functions templates may call, besides the builtins.
    #[must_use]
    pub fn funcs(&self) -> &FuncMap {
        &self.funcs
    }

    /// Names the set, as Go names the template a set hangs off; only
    /// error messages show it (`no template "x" associated with template
    /// "gotpl"` in Helm).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The execution options.
    #[must_use]
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Replaces the execution options.
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// True when `name` is a known function (registered or builtin).
    #[must_use]
    pub fn has_function(&self, name: &str) -> bool {
        self.funcs.contains(name) || crate::builtins::is_builtin(name)
    }

    /// Parses `text` as template `name` (Go's `t.New(name).Parse(text)`)
    /// and adds it with every `define`/`block` it contains. A definition
    /// replaces an earlier one of the same name unless it is empty.
    ///
    /// # Errors
    /// A [`ParseError`] worded like Go's; the set is unchanged then.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        for (tree_name, tree) in self.parse_text(name, text)? {
            let keep_existing = self.trees.contains_key(&tree_name) && is_empty_tree(&tree.root);
            if !keep_existing {
                self.trees.insert(tree_name, tree);
            }
        }
        Ok(())
    }

    /// Parses `text` as template `name` without adding it: the trees it
    /// defines, its own among them.
    pub(crate) fn parse_text(
        &self,
        name: &str,
        text: &str,
    ) -> Result<Vec<(String, Arc<Tree>)>, ParseError> {
        let trees = crate::parse::parse(name, text, &|f| self.has_function(f))?;
        Ok(trees
            .into_iter()
            .map(|(tree_name, tree)| (tree_name, Arc::new(tree)))
            .collect())
    }

    /// True when the set has a template `name`.
    #[must_use]
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Names of all templates in the set, sorted.
    #[must_use]
    pub fn template_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.trees.keys().cloned().collect();
        names.sort();
        names
    }

    /// Executes template `name` with `data` as dot and `$`.
    ///
    /// # Errors
    /// An [`ExecError`] worded like Go's.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        Exec::new(self).execute_nested(name, Some(data.clone()))
    }
}
