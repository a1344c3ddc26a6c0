//! Field sets: the trees of paths that `metadata.managedFields` records.
//!
//! Owns the path elements (`f:name`, `k:{"name":"x"}`, `v:"value"`, `i:0`),
//! the set operations ownership needs (union, difference, intersection) and
//! the `FieldsV1` encoding, including the `.` marker for a node that is itself
//! owned and also has owned children. Keys of `k:` elements are encoded as
//! compact JSON with the key fields sorted, as kube-apiserver writes them, so
//! sets read back from stored objects compare equal to freshly built ones.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path.
///
/// The derived order (fields, then keys, then values, then indexes) is the
/// order kube-apiserver lists children in and sorts conflicting paths by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Pe {
    /// A field of a map: `f:name`, shown as `.name`.
    Field(String),
    /// An associative-list element: compact JSON of its sorted key fields.
    Key(String),
    /// A set element: its JSON encoding.
    Value(String),
    /// A list element by position (only read back, never produced).
    Index(usize),
}

/// Compact JSON of `fields` with the names sorted.
pub(crate) fn canonical_key(fields: &[(String, Value)]) -> String {
    let mut sorted: Vec<&(String, Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
        .collect();
    format!("{{{}}}", parts.join(","))
}

impl Pe {
    fn encode(&self) -> String {
        match self {
            Pe::Field(f) => format!("f:{f}"),
            Pe::Key(k) => format!("k:{k}"),
            Pe::Value(v) => format!("v:{v}"),
            Pe::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(text: &str) -> Result<Pe, String> {
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| format!("invalid path element {text:?}"))?;
        match kind {
            "f" => Ok(Pe::Field(rest.to_string())),
            "k" => {
                let parsed: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| format!("invalid key {rest:?}: {e}"))?;
                let fields: Vec<(String, Value)> = parsed.into_iter().collect();
                Ok(Pe::Key(canonical_key(&fields)))
            }
            "v" => {
                let parsed: Value = serde_json::from_str(rest)
                    .map_err(|e| format!("invalid value {rest:?}: {e}"))?;
                Ok(Pe::Value(parsed.to_string()))
            }
            "i" => rest
                .parse()
                .map(Pe::Index)
                .map_err(|e| format!("invalid index {rest:?}: {e}")),
            _ => Err(format!("invalid path element {text:?}")),
        }
    }

    /// kube-apiserver's notation: `.name`, `[name="x",protocol="TCP"]`,
    /// `[="value"]`, `[0]`.
    fn display(&self) -> String {
        match self {
            Pe::Field(f) => format!(".{f}"),
            Pe::Key(k) => {
                let parsed: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = parsed
                    .iter()
                    .map(|(name, v)| format!("{name}={v}"))
                    .collect();
                format!("[{}]", parts.join(","))
            }
            Pe::Value(v) => format!("[={v}]"),
            Pe::Index(i) => format!("[{i}]"),
        }
    }
}

/// Renders a path like `.spec.containers[name="web"].image`.
pub(crate) fn display_path(path: &[Pe]) -> String {
    path.iter().map(Pe::display).collect()
}

/// A set of field paths as a tree. `member` says the path ending at this node
/// is in the set; children hold longer paths. Empty children are never kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    pub(crate) member: bool,
    pub(crate) children: BTreeMap<Pe, FieldSet>,
}

impl FieldSet {
    /// A set holding only the path that ends here.
    pub(crate) fn leaf() -> FieldSet {
        FieldSet {
            member: true,
            children: BTreeMap::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Adds `child` under `pe` unless it is empty.
    pub(crate) fn put(&mut self, pe: Pe, child: FieldSet) {
        if !child.is_empty() {
            let slot = self.children.entry(pe).or_default();
            *slot = slot.union(&child);
        }
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, path: &[Pe]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether the path ending at `path` is a member.
    pub(crate) fn has(&self, path: &[Pe]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// `self` with every field on the way to a member made a member too.
    ///
    /// `fieldsV1` leaves out a map field whose children are owned (no `.`
    /// marker), yet whoever owns `.data.k` keeps `.data` alive. Pruning must
    /// compare against this view, or a manager dropping its `.` marker of
    /// `.data` would delete a map that it or another manager still fills.
    /// Only fields count, as with structured-merge-diff's
    /// `EnsureNamedFieldsAreMembers`: an associative-list element needs its
    /// own member to survive, or it would be left without its key fields.
    pub(crate) fn with_field_ancestors(&self) -> FieldSet {
        let mut out = FieldSet {
            member: self.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let mut child = child.with_field_ancestors();
            if matches!(pe, Pe::Field(_)) && !child.is_empty() {
                child.member = true;
            }
            out.put(pe.clone(), child);
        }
        out
    }

    /// Drops `path` and everything below it.
    pub(crate) fn remove_subtree(&mut self, path: &[Pe]) {
        match path {
            [] => *self = FieldSet::default(),
            [last] => {
                self.children.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(child) = self.children.get_mut(first) {
                    child.remove_subtree(rest);
                    if child.is_empty() {
                        self.children.remove(first);
                    }
                }
            }
        }
    }

    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// Paths in `self` that are not in `other`.
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            let rest = match other.children.get(pe) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            out.put(pe.clone(), rest);
        }
        out
    }

    /// Paths in both sets.
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                out.put(pe.clone(), child.intersection(theirs));
            }
        }
        out
    }

    /// Member paths in kube-apiserver's order: the members at one level
    /// (sorted), then the paths below each child (sorted).
    pub(crate) fn paths(&self) -> Vec<Vec<Pe>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<Pe>, out: &mut Vec<Vec<Pe>>) {
        for (pe, child) in &self.children {
            if child.member {
                let mut path = prefix.clone();
                path.push(pe.clone());
                out.push(path);
            }
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON.
    pub(crate) fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (pe, child) in &self.children {
            map.insert(pe.encode(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads `fieldsV1` JSON.
    pub(crate) fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let mut out = FieldSet::default();
        out.read(value)?;
        // The root itself is never a member.
        out.member = false;
        Ok(out)
    }

    fn read(&mut self, value: &Value) -> Result<(), String> {
        let Value::Object(map) = value else {
            return Err(format!("expected an object, got {value}"));
        };
        if map.is_empty() {
            self.member = true;
        }
        for (key, child) in map {
            if key == "." {
                self.member = true;
                continue;
            }
            let mut node = FieldSet::default();
            node.read(child)?;
            self.put(Pe::decode(key)?, node);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> Pe {
        Pe::Field(name.to_string())
    }

    #[test]
    fn fields_v1_round_trips_with_dot_markers() {
        let v1 = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}},
                       "f:finalizers": {"v:\"a\"": {}}}
        });
        let set = FieldSet::from_fields_v1(&v1).expect("valid fieldsV1");
        assert_eq!(set.to_fields_v1(), v1);
        assert!(set.children[&f("metadata")].children[&f("labels")].member);
        assert!(!set.children[&f("spec")].member);
    }

    #[test]
    fn keys_are_canonical_whatever_order_they_are_read_in() {
        let a = Pe::decode(r#"k:{"protocol":"TCP","containerPort":80}"#).expect("valid");
        assert_eq!(a.encode(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(a.display(), r#"[containerPort=80,protocol="TCP"]"#);
        assert_eq!(Pe::Value("\"x\"".into()).display(), r#"[="x"]"#);
        assert!(Pe::decode("z:x").is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
    }

    #[test]
    fn set_operations() {
        let mut a = FieldSet::default();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::default();
        b.insert(&[f("spec"), f("replicas")]);
        b.insert(&[f("metadata"), f("labels"), f("x")]);
        let both = a.intersection(&b);
        assert_eq!(both.paths(), vec![vec![f("spec"), f("replicas")]]);
        let only_a = a.difference(&b);
        assert_eq!(only_a.paths(), vec![vec![f("spec"), f("paused")]]);
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(a.difference(&a).is_empty());
        let mut c = a.clone();
        c.remove_subtree(&[f("spec")]);
        assert!(c.is_empty());
    }

    #[test]
    fn field_ancestors_become_members_list_elements_do_not() {
        let key = Pe::Key(r#"{"name":"c"}"#.into());
        let mut s = FieldSet::default();
        s.insert(&[f("data"), f("k")]);
        s.insert(&[f("spec"), f("containers"), key.clone(), f("image")]);
        let ensured = s.with_field_ancestors();
        assert!(!ensured.member, "the root stays outside");
        assert!(ensured.has(&[f("data")]));
        assert!(ensured.has(&[f("data"), f("k")]));
        assert!(ensured.has(&[f("spec"), f("containers")]));
        assert!(!ensured.has(&[f("spec"), f("containers"), key.clone()]));
        assert!(ensured.has(&[f("spec"), f("containers"), key, f("image")]));
        assert!(!s.has(&[f("data")]));
        assert!(!s.has(&[f("nothing")]));
    }

    #[test]
    fn paths_list_shallow_members_first() {
        let mut s = FieldSet::default();
        s.insert(&[f("spec"), f("template"), f("x")]);
        s.insert(&[f("spec"), f("a")]);
        s.insert(&[f("spec"), f("z")]);
        let shown: Vec<String> = s.paths().iter().map(|p| display_path(p)).collect();
        assert_eq!(shown, [".spec.a", ".spec.z", ".spec.template.x"]);
    }
}
