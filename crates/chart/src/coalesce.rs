//! Helm's `CoalesceValues` and `MergeValues` over tables shared the way Go
//! shares maps.
//!
//! Helm hands each subchart the parent's globals through a shallow copy:
//! `global.a` is a new map, but `global.a.b` and deeper are the parent's
//! own maps. Coalescing the subchart then writes into them: the
//! subchart's defaults for `global.a.b.c`, and any `global` override the
//! user gave the subchart, show up in the parent's values, in later
//! siblings' and in every chart below. Charts render with that (capsule
//! sets `global.jobs.kubectl.restartPolicy` in the chart and its
//! subchart, and a user's `null` there is refilled by the subchart's
//! default). Owned maps cannot alias, so this module runs Helm's steps on
//! reference-counted tables and copies the result out.
//!
//! The rest of the values semantics (sources, `null`, import-values) is in
//! [`values`](crate::values); this module owns only the coalescing walk.

use std::cell::RefCell;
use std::rc::Rc;

use driftless_render::yaml::{Map, Value};
use indexmap::IndexMap;

use crate::chart::Chart;
use crate::error::ChartError;
use crate::values::GLOBAL_KEY;

/// A Go `map[string]interface{}`: shared, mutable through every handle.
type Table = Rc<RefCell<IndexMap<String, Node>>>;

/// A value in the walk: a table, or anything else (held as it is).
#[derive(Clone)]
enum Node {
    Table(Table),
    Leaf(Value),
}

impl Node {
    fn is_null(&self) -> bool {
        matches!(self, Node::Leaf(Value::Null))
    }

    fn table(&self) -> Option<&Table> {
        match self {
            Node::Table(table) => Some(table),
            Node::Leaf(_) => None,
        }
    }
}

/// Coalesces `user` over the chart tree's defaults: `null`s delete.
///
/// # Errors
/// A subchart's values key that holds something other than a mapping.
pub fn coalesce_values(chart: &Chart, user: &Map) -> Result<Map, ChartError> {
    run(chart, user, false)
}

/// Like [`coalesce_values`] but keeping `null`s (import-values).
///
/// # Errors
/// As [`coalesce_values`].
pub fn merge_values(chart: &Chart, user: &Map) -> Result<Map, ChartError> {
    run(chart, user, true)
}

/// One import-values entry: the table at `from` (a dotted path in the
/// chart's merged values, under the dependency's name) merged in at `to`
/// (a dotted path, or `.` for the top).
pub struct Import {
    /// Where the table is, e.g. `sub.exports.data`.
    pub from: String,
    /// Where it goes in the parent, e.g. `.` or `a.b`.
    pub to: String,
}

/// Helm's `processImportValues` in merge mode: the chart's merged values
/// with `imports` merged in under them, in order.
///
/// Helm gathers the imports into one table holding the children's own
/// tables, not copies, so a later import merged into a table an earlier
/// one brought in writes into the child's values, and a `null` the
/// gathered table holds is written into the next child table merged with
/// it. The child's values then show those changes; so do these.
///
/// # Errors
/// As [`merge_values`].
pub fn merge_with_imports(chart: &Chart, imports: &[Import]) -> Result<Map, ChartError> {
    let merged = new_table();
    coalesce(chart, &merged, true)?;
    let imported = new_table();
    for import in imports {
        if let Some(table) = table_at(&merged, &import.from) {
            coalesce_tables(&imported, &path_to_table(&import.to, table), true);
        }
    }
    // Helm copies the merged values only after the imports wrote into them.
    let values = share(&own(&merged).ok_or_else(|| contains_itself(chart))?);
    coalesce_tables(&values, &imported, true);
    own(&values).ok_or_else(|| contains_itself(chart))
}

/// The table at a dotted path (Go's `Values.Table`), shared.
fn table_at(table: &Table, path: &str) -> Option<Table> {
    let mut current = Rc::clone(table);
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let next = get(&current, part)?.table()?.clone();
        current = next;
    }
    Some(current)
}

/// `data` nested under the dotted `path` (Helm's `pathToMap`), itself
/// for `.`.
fn path_to_table(path: &str, data: Table) -> Table {
    if path == "." {
        return data;
    }
    let mut current = data;
    for part in path.split('.').rev() {
        let outer = new_table();
        set(&outer, part, Node::Table(current));
        current = outer;
    }
    current
}

fn run(chart: &Chart, user: &Map, merge: bool) -> Result<Map, ChartError> {
    let dest = share(user);
    coalesce(chart, &dest, merge)?;
    own(&dest).ok_or_else(|| contains_itself(chart))
}

/// A deep copy into fresh tables (Go's `copystructure.Copy`).
fn share(map: &Map) -> Table {
    Rc::new(RefCell::new(
        map.iter()
            .map(|(key, value)| (key.clone(), share_value(value)))
            .collect(),
    ))
}

fn share_value(value: &Value) -> Node {
    match value {
        Value::Map(map) => Node::Table(share(map)),
        other => Node::Leaf(other.clone()),
    }
}

/// A deep copy out, each shared table copied where it appears; `None`
/// when a table contains itself, which import-values can make
/// (`child: a` imported at `.` and again at `b.c` puts `a` under
/// `a.b.c`). Helm recurses through such a table until its stack
/// overflows; a render fails instead of aborting the process.
fn own(table: &Table) -> Option<Map> {
    own_below(table, &mut Vec::new())
}

fn own_below(
    table: &Table,
    ancestors: &mut Vec<*const RefCell<IndexMap<String, Node>>>,
) -> Option<Map> {
    let this = Rc::as_ptr(table);
    if ancestors.contains(&this) {
        return None;
    }
    ancestors.push(this);
    let entries = entries(table);
    let mut map = Map::with_capacity(entries.len());
    for (key, node) in entries {
        let value = match node {
            Node::Table(inner) => Value::Map(own_below(&inner, ancestors)?),
            Node::Leaf(value) => value,
        };
        map.insert(key, value);
    }
    ancestors.pop();
    Some(map)
}

/// The error for values in which a table contains itself.
fn contains_itself(chart: &Chart) -> ChartError {
    ChartError::Values {
        source_name: format!("chart {}", chart.name()),
        message: "import-values put a table inside itself (an import's parent path lies under a table the same child was imported to); Helm overflows its stack here: change the import-values".to_owned(),
    }
}

fn new_table() -> Table {
    Rc::new(RefCell::new(IndexMap::new()))
}

fn get(table: &Table, key: &str) -> Option<Node> {
    table.borrow().get(key).cloned()
}

fn set(table: &Table, key: &str, node: Node) {
    table.borrow_mut().insert(key.to_owned(), node);
}

fn remove(table: &Table, key: &str) {
    table.borrow_mut().shift_remove(key);
}

/// The entries as they are now: Go's `range` over a map it then changes.
fn entries(table: &Table) -> Vec<(String, Node)> {
    table
        .borrow()
        .iter()
        .map(|(key, node)| (key.clone(), node.clone()))
        .collect()
}

/// A new table holding the same values (Go's `copyMap`): nested tables
/// stay shared.
fn shallow_copy(table: &Table) -> Table {
    Rc::new(RefCell::new(table.borrow().clone()))
}

fn coalesce(chart: &Chart, dest: &Table, merge: bool) -> Result<(), ChartError> {
    coalesce_chart_defaults(chart, dest, merge);
    for sub in &chart.dependencies {
        let name = sub.name();
        let sub_values = match get(dest, name) {
            None => {
                let fresh = new_table();
                set(dest, name, Node::Table(Rc::clone(&fresh)));
                fresh
            }
            Some(Node::Table(table)) => table,
            Some(Node::Leaf(other)) => {
                return Err(ChartError::Values {
                    source_name: format!("chart {}", chart.name()),
                    message: format!(
                        "type mismatch on {name}: %!t({}) (the values key of subchart {name} must be a mapping)",
                        other.type_name()
                    ),
                });
            }
        };
        coalesce_globals(&sub_values, dest);
        coalesce(sub, &sub_values, merge)?;
    }
    Ok(())
}

/// Copies the parent's globals into a subchart's values (`coalesceGlobals`):
/// the parent's win, tables are merged, and each table one level below
/// `global` is a shallow copy, so the levels under it stay the parent's.
fn coalesce_globals(dest: &Table, parent: &Table) {
    let dest_globals = match get(dest, GLOBAL_KEY) {
        None => new_table(),
        Some(Node::Table(table)) => table,
        Some(Node::Leaf(_)) => return,
    };
    let parent_globals = match get(parent, GLOBAL_KEY) {
        None => new_table(),
        Some(Node::Table(table)) => table,
        Some(Node::Leaf(_)) => return,
    };
    for (key, node) in entries(&parent_globals) {
        match (&node, get(&dest_globals, &key)) {
            (Node::Table(parent_table), None) => {
                set(&dest_globals, &key, Node::Table(shallow_copy(parent_table)));
            }
            (Node::Table(parent_table), Some(Node::Table(child_table))) => {
                let copy = shallow_copy(parent_table);
                coalesce_tables(&copy, &child_table, true);
                set(&dest_globals, &key, Node::Table(copy));
            }
            (Node::Table(_), Some(Node::Leaf(_))) | (Node::Leaf(_), Some(Node::Table(_))) => {}
            (Node::Leaf(_), _) => set(&dest_globals, &key, node.clone()),
        }
    }
    set(dest, GLOBAL_KEY, Node::Table(dest_globals));
}

/// Applies one chart's own `values.yaml` under `dest` (`coalesceValues`).
fn coalesce_chart_defaults(chart: &Chart, dest: &Table, merge: bool) {
    for (key, default) in &chart.values {
        match get(dest, key) {
            Some(node) if node.is_null() && !merge => remove(dest, key),
            Some(Node::Table(user_table)) => {
                if let Value::Map(default_table) = default {
                    let default_table = share(default_table);
                    let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    if !merge {
                        clean_nulls(&default_table);
                    }
                    coalesce_tables(&user_table, &default_table, merge);
                }
            }
            Some(Node::Leaf(_)) => {}
            None => {
                if !merge && default.is_null() {
                    continue;
                }
                let default = share_value(default);
                if !merge && let Node::Table(table) = &default {
                    clean_nulls(table);
                }
                set(dest, key, default);
            }
        }
    }
}

/// `src` under `dst` (`coalesceTablesFullKey`): `dst` wins, tables merge,
/// a `null` in `dst` deletes what `src` set unless `merge`. Like Helm's,
/// it writes `dst`'s `null`s into `src` and moves `src`'s tables into
/// `dst` rather than copying them.
fn coalesce_tables(dst: &Table, src: &Table, merge: bool) {
    if Rc::ptr_eq(dst, src) {
        return;
    }
    let originally_set: Vec<String> = src
        .borrow()
        .iter()
        .filter(|(_, node)| !node.is_null())
        .map(|(key, _)| key.clone())
        .collect();
    for (key, node) in entries(dst) {
        if node.is_null() {
            set(src, &key, Node::Leaf(Value::Null));
        }
    }
    for (key, node) in entries(src) {
        match get(dst, &key) {
            Some(existing) if existing.is_null() && !merge && originally_set.contains(&key) => {
                remove(dst, &key);
            }
            None => set(dst, &key, node),
            Some(Node::Table(dst_table)) => {
                if let Some(src_table) = node.table() {
                    coalesce_tables(&dst_table, src_table, merge);
                }
            }
            Some(Node::Leaf(_)) => {}
        }
    }
}

fn clean_nulls(table: &Table) {
    table.borrow_mut().retain(|_, node| !node.is_null());
    for (_, node) in entries(table) {
        if let Node::Table(inner) = node {
            clean_nulls(&inner);
        }
    }
}
