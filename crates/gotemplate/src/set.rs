//! [`TemplateSet`]: named templates sharing definitions and functions, the
//! equivalent of a Go `*template.Template` with its associated templates,
//! plus the execution [`Options`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Tree, is_empty_tree};
use crate::error::{ExecError, ParseError};
use crate::exec::Exec;
use crate::funcs::FuncMap;
use crate::parse::Names;
use crate::value::Value;

/// The trees one text defines, its own among them, by name.
pub(crate) type ParsedText = Vec<(String, Arc<Tree>)>;

/// Below this much template text, [`TemplateSet::parse_all`] parses on
/// one thread.
const PARALLEL_PARSE_MIN_BYTES: usize = 128 * 1024;
/// Most threads [`TemplateSet::parse_all`] parses on.
const MAX_PARSE_THREADS: usize = 4;

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
    /// Most steps (nodes executed and loop iterations) of one execution,
    /// `include` and `tpl` included; beyond it execution fails. Loops that
    /// print nothing (`range` inside `range`) escape the output bound, and
    /// Go has no bound of its own. The default (the process's
    /// [`driftless_limits::Limits::template_steps`]) is far above what
    /// large charts take and a few seconds of work.
    pub max_steps: u64,
    /// Most bytes one execution may build, `include` and `tpl` included:
    /// every string and list a function returns and every byte written,
    /// counted as made (see [`budget`](crate::budget)). Beyond it execution
    /// fails. The default is the process's
    /// [`driftless_limits::Limits::template_bytes`].
    pub max_built_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        let limits = driftless_limits::current();
        Self {
            missing_key: MissingKey::Default,
            max_depth: 10_000,
            max_output_bytes: 256 * 1024 * 1024,
            max_steps: limits.template_steps,
            max_built_bytes: limits.template_bytes,
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
        let trees = self.parse_text(name, text)?;
        self.add_trees(trees);
        Ok(())
    }

    /// Parses every `(name, text)` and adds them in order, exactly as
    /// calling [`parse`](Self::parse) on each in turn would (a later
    /// definition replaces an earlier one), but parses on scoped threads
    /// when there is much text: parsing is independent per text, only the
    /// adding is ordered. The parsed templates keep `text` itself (shared,
    /// not copied), so a caller that drops its handle holds each text once.
    ///
    /// # Errors
    /// The first failing text's index and [`ParseError`]; the texts before
    /// it have been added.
    pub fn parse_all(&mut self, texts: &[(&str, Arc<str>)]) -> Result<(), (usize, ParseError)> {
        let this = &*self;
        let parse_run = |run: &[(&str, Arc<str>)]| -> Vec<Result<ParsedText, ParseError>> {
            let mut names = Names::default();
            run.iter()
                .map(|(name, text)| this.parse_shared(name, text, &mut names))
                .collect()
        };
        let parsed = crate::runs::map_in_runs(
            texts,
            |text| text.1.len(),
            PARALLEL_PARSE_MIN_BYTES,
            MAX_PARSE_THREADS,
            parse_run,
        );
        for (index, trees) in parsed.into_iter().enumerate() {
            self.add_trees(trees.map_err(|e| (index, e))?);
        }
        Ok(())
    }

    /// Adds parsed trees; an empty definition never replaces a template.
    fn add_trees(&mut self, trees: ParsedText) {
        for (tree_name, tree) in trees {
            let keep_existing = self.trees.contains_key(&tree_name) && is_empty_tree(&tree);
            if !keep_existing {
                self.trees.insert(tree_name, tree);
            }
        }
    }

    /// Parses `text` as template `name` without adding it: the trees it
    /// defines, its own among them.
    pub(crate) fn parse_text(&self, name: &str, text: &str) -> Result<ParsedText, ParseError> {
        self.parse_shared(name, &Arc::from(text), &mut Names::default())
    }

    /// As [`parse_text`](Self::parse_text), the trees sharing `text`.
    /// Names read are shared through `names` (one set per parsing thread).
    fn parse_shared(
        &self,
        name: &str,
        text: &Arc<str>,
        names: &mut Names,
    ) -> Result<ParsedText, ParseError> {
        let trees = crate::parse::parse(name, text, &|f| self.has_function(f), names)?;
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

    /// Executes template `name` with `data` as dot and `$`, returning its
    /// output as text (bytes that are not UTF-8, which a template writes
    /// only when it prints such a Go string, read as Go's rune view).
    ///
    /// # Errors
    /// An [`ExecError`] worded like Go's.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        self.execute_bytes(name, data).map(|bytes| {
            String::from_utf8(bytes)
                .unwrap_or_else(|not_utf8| crate::raw_string::rune_view(not_utf8.as_bytes()))
        })
    }

    /// Executes template `name` with `data` as dot and `$`, returning the
    /// bytes it wrote, as Go's writer receives them.
    ///
    /// # Errors
    /// An [`ExecError`] worded like Go's.
    pub fn execute_bytes(&self, name: &str, data: &Value) -> Result<Vec<u8>, ExecError> {
        Exec::new(self).execute_nested(name, crate::exec::data_dot(data.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Enough texts to take the threaded path, each redefining "shared".
    fn texts() -> Vec<(String, String)> {
        let padding = " ".repeat(2048);
        (0..200)
            .map(|i| {
                (
                    format!("t{i:03}"),
                    format!(r#"{padding}{{{{ define "shared" }}}}{i}{{{{ end }}}}{{{{ template "shared" }}}}"#),
                )
            })
            .collect()
    }

    #[test]
    fn parse_all_adds_in_order_like_parse() {
        let owned = texts();
        let borrowed: Vec<(&str, Arc<str>)> = owned
            .iter()
            .map(|(n, t)| (n.as_str(), Arc::from(t.as_str())))
            .collect();
        let mut all = TemplateSet::new();
        all.parse_all(&borrowed).expect("parses");
        let mut one_by_one = TemplateSet::new();
        for (name, text) in &borrowed {
            one_by_one.parse(name, text).expect("parses");
        }
        let data = Value::Nil;
        assert_eq!(all.execute("t000", &data).unwrap().trim(), "199");
        assert_eq!(all.template_names(), one_by_one.template_names());
    }

    #[test]
    fn parse_all_reports_the_first_failing_text() {
        let mut owned = texts();
        owned[150].1.push_str("{{ if }}");
        owned[170].1.push_str("{{ nosuchfunc }}");
        let borrowed: Vec<(&str, Arc<str>)> = owned
            .iter()
            .map(|(n, t)| (n.as_str(), Arc::from(t.as_str())))
            .collect();
        let mut set = TemplateSet::new();
        let (index, _) = set.parse_all(&borrowed).expect_err("text 150 is broken");
        assert_eq!(index, 150);
        assert!(set.has_template("t149") && !set.has_template("t150"));
    }
}
