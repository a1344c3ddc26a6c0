//! `MergeSchema`: how the lists and maps at each path of a kind merge.
//!
//! Owns the per-kind knowledge that both patch flavours need: which lists are
//! keyed (strategic-merge-patch merge keys, server-side-apply `listType: map`
//! keys), which are sets, which are atomic, and which maps are atomic. It does
//! not merge anything itself; `strategic` and `apply` ask it about a path.
//!
//! Key choice: rules are path *patterns* rather than a full typed schema.
//! Built-in kinds are described by suffix patterns (`containers[].ports`
//! matches a pod's, a Deployment's and a CronJob's containers alike), which
//! keeps the table small; CRDs get exact, anchored patterns derived from their
//! `openAPIV3Schema`. Anything without a rule is an atomic list (what
//! Kubernetes does for unannotated lists) and a granular map.

use serde_json::Value;

/// One step of a path through an object, as the merge code walks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    /// A field of a map.
    Field(String),
    /// Any element of a list.
    Elem,
}

/// How server-side apply treats a list (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq)]
pub enum ListType {
    /// The list is one value, owned and replaced as a whole.
    Atomic,
    /// A list of unique scalars, each element owned on its own.
    Set,
    /// An associative list: elements are identified by these key fields.
    Map(Vec<ListMapKey>),
}

/// One key field of an associative list, with the default Kubernetes uses
/// when an element omits it (container port `protocol` is `TCP`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListMapKey {
    /// The field name.
    pub name: String,
    /// Value assumed when the element does not set the field.
    pub default: Option<Value>,
}

/// How strategic merge patch treats a list (`patchStrategy`/`patchMergeKey`).
#[derive(Debug, Clone, PartialEq)]
pub enum SmpList {
    /// The patch's list replaces the original.
    Replace,
    /// Elements are maps merged by this key field.
    MergeByKey(String),
    /// Elements are scalars; the patch's are added to the original's.
    MergePrimitives,
}

#[derive(Debug, Clone, PartialEq)]
enum PatSeg {
    Field(String),
    AnyField,
    Elem,
}

#[derive(Debug, Clone)]
struct Pattern {
    anchored: bool,
    segs: Vec<PatSeg>,
}

impl Pattern {
    /// Parses `.spec.ports` (anchored at the root) or `containers[].ports`
    /// (matches any path ending like this). `*` matches any field name.
    fn parse(text: &str) -> Pattern {
        let (anchored, rest) = match text.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut segs = Vec::new();
        for part in rest.split('.').filter(|p| !p.is_empty()) {
            let mut name = part;
            let mut elems = 0;
            while let Some(stripped) = name.strip_suffix("[]") {
                name = stripped;
                elems += 1;
            }
            if !name.is_empty() {
                segs.push(if name == "*" {
                    PatSeg::AnyField
                } else {
                    PatSeg::Field(name.to_string())
                });
            }
            segs.extend(std::iter::repeat_n(PatSeg::Elem, elems));
        }
        Pattern { anchored, segs }
    }

    fn matches(&self, path: &[Seg]) -> bool {
        if self.segs.len() > path.len() || (self.anchored && self.segs.len() != path.len()) {
            return false;
        }
        let tail = &path[path.len() - self.segs.len()..];
        self.segs.iter().zip(tail).all(|(p, s)| match (p, s) {
            (PatSeg::Field(a), Seg::Field(b)) => a == b,
            (PatSeg::AnyField, Seg::Field(_)) => true,
            (PatSeg::Elem, Seg::Elem) => true,
            _ => false,
        })
    }

    /// Higher wins: anchored rules beat suffix rules, longer beats shorter.
    fn specificity(&self) -> usize {
        self.segs.len() + if self.anchored { 1000 } else { 0 }
    }
}

#[derive(Debug, Clone)]
enum RuleKind {
    List { ssa: ListType, smp: SmpList },
    AtomicMap,
    GranularMap,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: Pattern,
    kind: RuleKind,
}

/// How lists and maps at each path of a kind merge (SMP merge keys, SSA list
/// types), plus which top-level fields field ownership ignores.
#[derive(Debug, Clone, Default)]
pub struct MergeSchema {
    rules: Vec<Rule>,
    /// Top-level fields neither tracked in managedFields nor owned (`status`
    /// for main-resource writes of kinds with a status subresource).
    ignored_top_fields: Vec<String>,
    /// Recorded in managedFields entries (`status` for status writes).
    subresource: Option<String>,
}

fn key(name: &str) -> ListMapKey {
    ListMapKey {
        name: name.to_string(),
        default: None,
    }
}

fn key_default(name: &str, default: &str) -> ListMapKey {
    ListMapKey {
        name: name.to_string(),
        default: Some(Value::String(default.to_string())),
    }
}

impl MergeSchema {
    fn list(&mut self, pattern: &str, ssa: ListType, smp: SmpList) {
        self.rules.push(Rule {
            pattern: Pattern::parse(pattern),
            kind: RuleKind::List { ssa, smp },
        });
    }

    fn keyed(&mut self, pattern: &str, name: &str) {
        self.list(
            pattern,
            ListType::Map(vec![key(name)]),
            SmpList::MergeByKey(name.to_string()),
        );
    }

    fn atomic_list(&mut self, pattern: &str) {
        self.list(pattern, ListType::Atomic, SmpList::Replace);
    }

    fn atomic_map(&mut self, pattern: &str) {
        self.rules.push(Rule {
            pattern: Pattern::parse(pattern),
            kind: RuleKind::AtomicMap,
        });
    }

    fn granular_map(&mut self, pattern: &str) {
        self.rules.push(Rule {
            pattern: Pattern::parse(pattern),
            kind: RuleKind::GranularMap,
        });
    }

    /// Rules every object has: its metadata.
    fn object_metadata(&mut self) {
        self.list(
            ".metadata.finalizers",
            ListType::Set,
            SmpList::MergePrimitives,
        );
        self.keyed(".metadata.ownerReferences", "uid");
        self.atomic_list(".metadata.managedFields");
    }

    /// Built-in kinds (group "" / "apps" / "batch" / "networking.k8s.io" /
    /// "rbac.authorization.k8s.io" / ...). Unknown kinds get the generic
    /// pod-template and metadata rules, which never hurt: a rule only applies
    /// where its path exists.
    pub fn builtin(group: &str, kind: &str) -> MergeSchema {
        let mut s = MergeSchema {
            ignored_top_fields: vec!["status".to_string()],
            ..MergeSchema::default()
        };
        s.object_metadata();
        s.list(
            "metadata.finalizers",
            ListType::Set,
            SmpList::MergePrimitives,
        );
        s.keyed("metadata.ownerReferences", "uid");

        // Pod spec, wherever it is templated.
        for containers in ["containers", "initContainers", "ephemeralContainers"] {
            s.keyed(containers, "name");
            s.list(
                &format!("{containers}[].ports"),
                ListType::Map(vec![key("containerPort"), key_default("protocol", "TCP")]),
                SmpList::MergeByKey("containerPort".to_string()),
            );
        }
        s.keyed("env", "name");
        s.atomic_list("envFrom");
        s.keyed("volumeMounts", "mountPath");
        s.keyed("volumeDevices", "devicePath");
        s.atomic_list("resizePolicy");
        s.keyed("resources.claims", "name");
        s.keyed("volumes", "name");
        s.keyed("imagePullSecrets", "name");
        s.keyed("hostAliases", "ip");
        s.atomic_list("hostAliases[].hostnames");
        s.atomic_list("tolerations");
        s.atomic_list("args");
        s.atomic_list("command");
        s.atomic_list("readinessGates");
        s.keyed("schedulingGates", "name");
        s.keyed("resourceClaims", "name");
        s.list(
            "topologySpreadConstraints",
            ListType::Map(vec![key("topologyKey"), key("whenUnsatisfiable")]),
            SmpList::MergeByKey("topologyKey".to_string()),
        );
        s.atomic_list("volumeClaimTemplates");
        s.keyed("conditions", "type");
        s.granular_map("nodeSelector");
        // LabelSelector is a `structType=atomic` type everywhere it is used.
        for selector in ["podSelector", "namespaceSelector", "labelSelector"] {
            s.atomic_map(selector);
        }
        match (group, kind) {
            ("", "Service") => {
                s.list(
                    ".spec.ports",
                    ListType::Map(vec![key("port"), key_default("protocol", "TCP")]),
                    SmpList::MergeByKey("port".to_string()),
                );
                // A Service selector is a plain, granular string map.
                s.granular_map(".spec.selector");
            }
            ("", "ReplicationController") => s.granular_map(".spec.selector"),
            ("apps" | "batch" | "policy", _) => {
                s.atomic_map("spec.selector");
            }
            ("rbac.authorization.k8s.io", _) => {
                s.atomic_list(".rules");
                s.atomic_list(".subjects");
                s.atomic_map(".roleRef");
            }
            _ => {}
        }
        s
    }

    /// For custom resources: from a CRD version's `openAPIV3Schema`, honouring
    /// `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and
    /// `x-kubernetes-map-type`. Lists without a list type are atomic.
    pub fn from_openapi_v3(schema: &Value) -> MergeSchema {
        let mut s = MergeSchema::default();
        s.object_metadata();
        let mut path = Vec::new();
        s.walk_openapi(schema, &mut path);
        s
    }

    fn walk_openapi(&mut self, schema: &Value, path: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        let here = || format!(".{}", path.join("."));
        if let Some(list_type) = obj.get("x-kubernetes-list-type").and_then(Value::as_str) {
            let items = obj.get("items");
            match list_type {
                "set" => self.list(&here(), ListType::Set, SmpList::MergePrimitives),
                "map" => {
                    let names: Vec<&str> = obj
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let keys: Vec<ListMapKey> = names
                        .iter()
                        .map(|name| ListMapKey {
                            name: name.to_string(),
                            default: items
                                .and_then(|i| i.get("properties"))
                                .and_then(|p| p.get(*name))
                                .and_then(|p| p.get("default"))
                                .cloned(),
                        })
                        .collect();
                    let smp = match names.as_slice() {
                        [single] => SmpList::MergeByKey(single.to_string()),
                        _ => SmpList::Replace,
                    };
                    self.list(&here(), ListType::Map(keys), smp);
                }
                _ => self.atomic_list(&here()),
            }
        }
        match obj.get("x-kubernetes-map-type").and_then(Value::as_str) {
            Some("atomic") => self.atomic_map(&here()),
            Some("granular") => self.granular_map(&here()),
            _ => {}
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (name, sub) in props {
                // `metadata` of the root is ObjectMeta, described by our own rules.
                if path.is_empty() && name == "metadata" {
                    continue;
                }
                path.push(name.clone());
                self.walk_openapi(sub, path);
                path.pop();
            }
        }
        if let Some(extra) = obj.get("additionalProperties")
            && extra.is_object()
        {
            path.push("*".to_string());
            self.walk_openapi(extra, path);
            path.pop();
        }
        if let Some(items) = obj.get("items") {
            match path.last_mut() {
                Some(last) => last.push_str("[]"),
                None => path.push("[]".to_string()),
            }
            self.walk_openapi(items, path);
            if let Some(last) = path.last_mut() {
                last.truncate(last.len() - 2);
                if last.is_empty() {
                    path.pop();
                }
            }
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            if let Some(branches) = obj.get(combinator).and_then(Value::as_array) {
                for branch in branches {
                    self.walk_openapi(branch, path);
                }
            }
        }
    }

    /// Ownership ignores `status` (main-resource writes of a kind with a
    /// status subresource; `builtin` already does this).
    pub fn with_status_subresource(mut self) -> MergeSchema {
        if !self.ignored_top_fields.iter().any(|f| f == "status") {
            self.ignored_top_fields.push("status".to_string());
        }
        self
    }

    /// The same schema for writes to the `status` subresource: only `status`
    /// (and metadata) is tracked, and entries carry `subresource: status`.
    pub fn for_status_subresource(&self) -> MergeSchema {
        let mut s = self.clone();
        s.ignored_top_fields = vec!["spec".to_string()];
        s.subresource = Some("status".to_string());
        s
    }

    pub(crate) fn ignored_top_fields(&self) -> &[String] {
        &self.ignored_top_fields
    }

    pub(crate) fn subresource(&self) -> Option<&str> {
        self.subresource.as_deref()
    }

    fn best(&self, path: &[Seg], want: impl Fn(&RuleKind) -> bool) -> Option<&RuleKind> {
        self.rules
            .iter()
            .filter(|r| want(&r.kind) && r.pattern.matches(path))
            .max_by_key(|r| r.pattern.specificity())
            .map(|r| &r.kind)
    }

    /// The server-side-apply list type at `path` (atomic when unknown).
    pub(crate) fn list_type(&self, path: &[Seg]) -> ListType {
        match self.best(path, |k| matches!(k, RuleKind::List { .. })) {
            Some(RuleKind::List { ssa, .. }) => ssa.clone(),
            _ => ListType::Atomic,
        }
    }

    /// The strategic-merge-patch strategy for the list at `path`.
    pub(crate) fn smp_list(&self, path: &[Seg]) -> SmpList {
        match self.best(path, |k| matches!(k, RuleKind::List { .. })) {
            Some(RuleKind::List { smp, .. }) => smp.clone(),
            _ => SmpList::Replace,
        }
    }

    /// Whether the map at `path` is owned and replaced as a whole.
    pub(crate) fn is_atomic_map(&self, path: &[Seg]) -> bool {
        matches!(
            self.best(path, |k| matches!(
                k,
                RuleKind::AtomicMap | RuleKind::GranularMap
            )),
            Some(RuleKind::AtomicMap)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(text: &str) -> Vec<Seg> {
        let pattern = Pattern::parse(text);
        pattern
            .segs
            .into_iter()
            .map(|s| match s {
                PatSeg::Field(f) => Seg::Field(f),
                PatSeg::Elem => Seg::Elem,
                PatSeg::AnyField => Seg::Field("*".to_string()),
            })
            .collect()
    }

    #[test]
    fn container_rules_apply_at_every_depth() {
        let s = MergeSchema::builtin("apps", "Deployment");
        for path in [
            "spec.containers",
            "spec.template.spec.containers",
            "spec.jobTemplate.spec.template.spec.initContainers",
        ] {
            assert_eq!(s.smp_list(&p(path)), SmpList::MergeByKey("name".into()));
            assert_eq!(s.list_type(&p(path)), ListType::Map(vec![key("name")]));
        }
        let ports = p("spec.template.spec.containers[].ports");
        assert_eq!(
            s.smp_list(&ports),
            SmpList::MergeByKey("containerPort".into())
        );
        assert_eq!(
            s.list_type(&ports),
            ListType::Map(vec![key("containerPort"), key_default("protocol", "TCP")])
        );
    }

    #[test]
    fn service_ports_differ_from_container_ports() {
        let s = MergeSchema::builtin("", "Service");
        assert_eq!(
            s.smp_list(&p("spec.ports")),
            SmpList::MergeByKey("port".into())
        );
        assert!(!s.is_atomic_map(&p("spec.selector")));
        let d = MergeSchema::builtin("apps", "Deployment");
        assert!(d.is_atomic_map(&p("spec.selector")));
        assert_eq!(d.smp_list(&p("spec.ports")), SmpList::Replace);
    }

    #[test]
    fn unknown_lists_are_atomic_and_finalizers_a_set() {
        let s = MergeSchema::builtin("", "ConfigMap");
        assert_eq!(s.list_type(&p("spec.whatever")), ListType::Atomic);
        assert_eq!(
            s.smp_list(&p("spec.template.spec.tolerations")),
            SmpList::Replace
        );
        assert_eq!(s.list_type(&p("metadata.finalizers")), ListType::Set);
        assert_eq!(
            s.smp_list(&p("metadata.finalizers")),
            SmpList::MergePrimitives
        );
        assert_eq!(
            s.list_type(&p("metadata.ownerReferences")),
            ListType::Map(vec![key("uid")])
        );
        let r = MergeSchema::builtin("rbac.authorization.k8s.io", "ClusterRole");
        assert_eq!(r.list_type(&p("rules")), ListType::Atomic);
    }

    #[test]
    fn openapi_extensions_are_honoured() {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "items": {
                            "type": "array",
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name", "proto"],
                            "items": {"type": "object", "properties": {
                                "name": {"type": "string"},
                                "proto": {"type": "string", "default": "TCP"},
                                "tags": {"type": "array", "x-kubernetes-list-type": "set",
                                         "items": {"type": "string"}}
                            }}
                        },
                        "plain": {"type": "array", "items": {"type": "string"}},
                        "sel": {"type": "object", "x-kubernetes-map-type": "atomic"},
                        "byName": {"type": "object", "additionalProperties": {
                            "type": "object", "properties": {
                                "hosts": {"type": "array", "x-kubernetes-list-type": "set",
                                          "items": {"type": "string"}}
                            }
                        }}
                    }
                }
            }
        });
        let s = MergeSchema::from_openapi_v3(&schema);
        assert_eq!(
            s.list_type(&p("spec.items")),
            ListType::Map(vec![
                key("name"),
                ListMapKey {
                    name: "proto".into(),
                    default: Some(json!("TCP"))
                }
            ])
        );
        assert_eq!(s.list_type(&p("spec.items[].tags")), ListType::Set);
        assert_eq!(s.list_type(&p("spec.plain")), ListType::Atomic);
        assert!(s.is_atomic_map(&p("spec.sel")));
        assert_eq!(s.list_type(&p("spec.byName.web.hosts")), ListType::Set);
        // Anchored: the same name elsewhere is not affected.
        assert_eq!(s.list_type(&p("other.items")), ListType::Atomic);
        assert_eq!(s.list_type(&p("metadata.finalizers")), ListType::Set);
        assert!(s.ignored_top_fields().is_empty());
        assert_eq!(
            s.clone().with_status_subresource().ignored_top_fields(),
            ["status"]
        );
    }
}
