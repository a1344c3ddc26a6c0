//! Drift-ignore rules (Flux's `spec.driftIgnoreRules`): fields of existing
//! objects that another actor owns — replicas an autoscaler sets, a CA
//! bundle a webhook injects — and that apply must leave as they are.
//!
//! For an object that exists, each ignored path of a matching rule takes
//! the live value into the desired object (or leaves the desired object
//! without it when the live object has none), so the dry run shows no
//! drift there and the apply changes nothing there. A new object is
//! created from the desired state as given.

use std::collections::BTreeMap;

use serde_json::Value;

/// Which objects a rule applies to; an unset field matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreTarget {
    /// API group of the objects.
    pub group: Option<String>,
    /// API version of the objects.
    pub version: Option<String>,
    /// The kind, as written.
    pub kind: Option<String>,
    /// Name of the object.
    pub name: Option<String>,
    /// Namespace of the objects.
    pub namespace: Option<String>,
    /// `key=value` pairs, comma-separated, all of which must hold.
    pub label_selector: Option<String>,
    /// `key=value` pairs, comma-separated, all of which must hold.
    pub annotation_selector: Option<String>,
}

/// JSON pointers (`/spec/replicas`) to leave alone on matching objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreRule {
    /// JSON pointers (RFC 6901) of the fields that keep their live value.
    pub paths: Vec<String>,
    /// None: every object.
    pub target: Option<IgnoreTarget>,
}

impl IgnoreRule {
    /// The first path that is not a JSON pointer, as an error text.
    pub fn invalid_path(&self) -> Option<String> {
        self.paths
            .iter()
            .find(|p| !p.starts_with('/'))
            .map(|p| format!("{p:?} is not a JSON pointer; write it like /spec/replicas"))
    }

    fn matches(&self, group: &str, version: &str, kind: &str, desired: &Value) -> bool {
        let Some(target) = &self.target else {
            return true;
        };
        let meta = |field: &str| {
            desired
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        same(&target.group, group)
            && same(&target.version, version)
            && same(&target.kind, kind)
            && same(&target.name, meta("name"))
            && same(&target.namespace, meta("namespace"))
            && selected(
                target.label_selector.as_deref(),
                desired.pointer("/metadata/labels"),
            )
            && selected(
                target.annotation_selector.as_deref(),
                desired.pointer("/metadata/annotations"),
            )
    }
}

fn selected(selector: Option<&str>, map: Option<&Value>) -> bool {
    let Some(selector) = selector.filter(|s| !s.trim().is_empty()) else {
        return true;
    };
    let values: BTreeMap<&str, &str> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    selector.split(',').all(|term| match term.split_once('=') {
        Some((key, value)) => values.get(key.trim()) == Some(&value.trim_start_matches('=').trim()),
        None => values.contains_key(term.trim()),
    })
}

/// `desired` with every ignored path of the matching rules set to its value
/// in `live` (or removed when `live` has none).
pub(crate) fn keep_live_fields(
    rules: &[IgnoreRule],
    group: &str,
    version: &str,
    kind: &str,
    desired: &Value,
    live: &Value,
) -> Option<Value> {
    let paths: Vec<&str> = rules
        .iter()
        .filter(|r| r.matches(group, version, kind, desired))
        .flat_map(|r| r.paths.iter().map(String::as_str))
        .collect();
    if paths.is_empty() {
        return None;
    }
    let mut out = desired.clone();
    for path in paths {
        match live.pointer(path) {
            Some(value) => set_pointer(&mut out, path, value.clone()),
            None => remove_pointer(&mut out, path),
        }
    }
    Some(out)
}

fn tokens(path: &str) -> Vec<String> {
    path.split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn set_pointer(root: &mut Value, path: &str, value: Value) {
    let tokens = tokens(path);
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut node = root;
    for token in parents {
        node = match node {
            Value::Object(map) => map
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Default::default())),
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            {
                Some(item) => item,
                None => return,
            },
            _ => return,
        };
    }
    match node {
        Value::Object(map) => {
            map.insert(last.clone(), value);
        }
        Value::Array(items) => {
            if let Some(slot) = last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

fn remove_pointer(root: &mut Value, path: &str) {
    let tokens = tokens(path);
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut node = root;
    for token in parents {
        node = match node {
            Value::Object(map) => match map.get_mut(token) {
                Some(next) => next,
                None => return,
            },
            Value::Array(items) => match token.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            {
                Some(next) => next,
                None => return,
            },
            _ => return,
        };
    }
    if let Value::Object(map) = node {
        map.remove(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replicas_rule() -> IgnoreRule {
        IgnoreRule {
            paths: vec!["/spec/replicas".into()],
            target: Some(IgnoreTarget {
                kind: Some("Deployment".into()),
                label_selector: Some("app=web".into()),
                ..IgnoreTarget::default()
            }),
        }
    }

    #[test]
    fn ignored_paths_take_the_live_value() {
        let desired = json!({"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 2, "paused": false}});
        let live = json!({"metadata": {"name": "web"}, "spec": {"replicas": 5, "paused": true}});
        let kept = keep_live_fields(
            &[replicas_rule()],
            "apps",
            "v1",
            "Deployment",
            &desired,
            &live,
        )
        .expect("matches");
        assert_eq!(kept["spec"], json!({"replicas": 5, "paused": false}));
    }

    #[test]
    fn a_path_absent_live_is_left_out_and_non_matching_objects_are_untouched() {
        let desired =
            json!({"metadata": {"name": "web", "labels": {"app": "web"}}, "spec": {"replicas": 2}});
        let kept = keep_live_fields(
            &[replicas_rule()],
            "apps",
            "v1",
            "Deployment",
            &desired,
            &json!({}),
        )
        .expect("matches");
        assert_eq!(kept["spec"], json!({}));
        let other =
            json!({"metadata": {"name": "db", "labels": {"app": "db"}}, "spec": {"replicas": 2}});
        assert_eq!(
            keep_live_fields(
                &[replicas_rule()],
                "apps",
                "v1",
                "Deployment",
                &other,
                &json!({})
            ),
            None
        );
        assert_eq!(
            keep_live_fields(
                &[replicas_rule()],
                "apps",
                "v1",
                "StatefulSet",
                &desired,
                &json!({})
            ),
            None
        );
    }

    #[test]
    fn pointers_escape_slashes_and_must_start_with_one() {
        let rule = IgnoreRule {
            paths: vec!["/metadata/annotations/example.com~1owner".into()],
            target: None,
        };
        let desired = json!({"metadata": {"annotations": {"example.com/owner": "git"}}});
        let live = json!({"metadata": {"annotations": {"example.com/owner": "team-a"}}});
        let kept =
            keep_live_fields(&[rule], "", "v1", "ConfigMap", &desired, &live).expect("matches all");
        assert_eq!(
            kept["metadata"]["annotations"]["example.com/owner"],
            "team-a"
        );
        let bad = IgnoreRule {
            paths: vec!["spec.replicas".into()],
            target: None,
        };
        assert!(bad.invalid_path().is_some());
    }
}
