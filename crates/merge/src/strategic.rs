//! Strategic merge patch, the patch flavour kubectl's client-side apply sends.
//!
//! Owns the directive handling: merge keys from [`MergeSchema`],
//! `$patch: replace|delete|merge` on maps and list elements, `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`. `null`
//! deletes a field; scalar lists with the merge strategy (finalizers) are
//! unioned; every other list is replaced.
//!
//! Ordering follows the server: map keys keep their place and new ones are
//! appended; `$setElementOrder` puts the elements it names in its order while
//! elements only the server knows keep their slots.

use serde_json::{Map, Value};

use super::error::PatchError;
use super::patch::kind_of;
use super::schema::{MergeSchema, Seg, SmpList};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch to a copy of `obj`.
pub fn strategic_merge_patch(
    obj: &Value,
    patch: &Value,
    schema: &MergeSchema,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::NotAnObject {
            found: kind_of(patch),
        });
    };
    let mut path = Vec::new();
    let merged = Merger { schema }.map(obj.as_object(), patch, &mut path)?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

pub(crate) fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            Seg::Elem => out.push_str("[]"),
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

fn invalid(path: &[Seg], message: impl Into<String>) -> PatchError {
    PatchError::InvalidDirective {
        path: display_path(path),
        message: message.into(),
    }
}

struct Merger<'a> {
    schema: &'a MergeSchema,
}

impl Merger<'_> {
    /// Merges `patch` into `original`; `None` means the map is deleted.
    fn map(
        &self,
        original: Option<&Map<String, Value>>,
        patch: &Map<String, Value>,
        path: &mut Vec<Seg>,
    ) -> Result<Option<Map<String, Value>>, PatchError> {
        let mut result = match patch.get(PATCH) {
            None => original.cloned().unwrap_or_default(),
            Some(Value::String(d)) if d == "merge" => original.cloned().unwrap_or_default(),
            Some(Value::String(d)) if d == "replace" => Map::new(),
            Some(Value::String(d)) if d == "delete" => return Ok(None),
            Some(other) => {
                return Err(invalid(path, format!("unknown $patch directive {other}")));
            }
        };

        for (key, value) in patch {
            let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) else {
                continue;
            };
            let Value::Array(remove) = value else {
                return Err(invalid(path, format!("{key} must be a list")));
            };
            if let Some(Value::Array(list)) = result.get_mut(field) {
                list.retain(|v| !remove.contains(v));
            }
        }

        for (key, value) in patch {
            if key.starts_with('$') {
                continue;
            }
            path.push(Seg::Field(key.clone()));
            let order = patch.get(&format!("{SET_ELEMENT_ORDER}{key}"));
            let merged = match (result.get(key), value) {
                (_, Value::Null) => None,
                (Some(Value::Object(orig)), Value::Object(p)) => {
                    self.map(Some(orig), p, path)?.map(Value::Object)
                }
                (_, Value::Object(p)) => self.map(None, p, path)?.map(Value::Object),
                (Some(Value::Array(orig)), Value::Array(p)) => {
                    Some(Value::Array(self.list(orig, p, order, path)?))
                }
                (_, Value::Array(p)) => Some(Value::Array(self.list(&[], p, order, path)?)),
                (_, scalar) => Some(scalar.clone()),
            };
            path.pop();
            match merged {
                Some(v) => {
                    result.insert(key.clone(), v);
                }
                None => {
                    result.shift_remove(key);
                }
            }
        }

        // An order for a list the patch does not otherwise touch.
        for (key, order) in patch {
            let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) else {
                continue;
            };
            if patch.contains_key(field) {
                continue;
            }
            path.push(Seg::Field(field.to_string()));
            let merge_key = match self.schema.smp_list(path) {
                SmpList::MergeByKey(k) => Some(k),
                _ => None,
            };
            if let Some(Value::Array(list)) = result.get_mut(field) {
                reorder(list, order, merge_key.as_deref(), path)?;
            }
            path.pop();
        }

        if let Some(retain) = patch.get(RETAIN_KEYS) {
            let Value::Array(keys) = retain else {
                return Err(invalid(path, "$retainKeys must be a list of field names"));
            };
            result.retain(|k, _| keys.iter().any(|r| r.as_str() == Some(k)));
        }
        Ok(Some(result))
    }

    /// A fresh value from a patch: nested directives are resolved against
    /// nothing, so they never leak into the stored object.
    fn fresh(&self, value: &Value, path: &mut Vec<Seg>) -> Result<Option<Value>, PatchError> {
        Ok(match value {
            Value::Object(p) => self.map(None, p, path)?.map(Value::Object),
            Value::Array(items) => Some(Value::Array(self.list(&[], items, None, path)?)),
            other => Some(other.clone()),
        })
    }

    fn list(
        &self,
        original: &[Value],
        patch: &[Value],
        order: Option<&Value>,
        path: &mut Vec<Seg>,
    ) -> Result<Vec<Value>, PatchError> {
        let strategy = self.schema.smp_list(path);
        let directive = |v: &Value| v.get(PATCH).and_then(Value::as_str).map(str::to_string);
        let replace_all = patch
            .iter()
            .any(|v| directive(v).as_deref() == Some("replace"));
        let base: &[Value] = if replace_all { &[] } else { original };
        let mut result = base.to_vec();
        path.push(Seg::Elem);
        match &strategy {
            SmpList::Replace if !replace_all => {
                result.clear();
                for item in patch {
                    if let Some(v) = self.fresh(item, path)? {
                        result.push(v);
                    }
                }
            }
            SmpList::Replace | SmpList::MergePrimitives => {
                for item in patch {
                    if item.is_object() && directive(item).is_some() {
                        continue;
                    }
                    if (strategy == SmpList::Replace || !result.contains(item))
                        && let Some(v) = self.fresh(item, path)?
                    {
                        result.push(v);
                    }
                }
            }
            SmpList::MergeByKey(key) => {
                for item in patch {
                    let Value::Object(p) = item else {
                        result.push(item.clone());
                        continue;
                    };
                    let d = directive(item);
                    if d.as_deref() == Some("replace") {
                        continue;
                    }
                    let Some(id) = p.get(key) else {
                        path.pop();
                        return Err(invalid(
                            path,
                            format!("list element has no merge key {key:?}"),
                        ));
                    };
                    let at = result.iter().position(|o| o.get(key) == Some(id));
                    if d.as_deref() == Some("delete") {
                        result.retain(|o| o.get(key) != Some(id));
                        continue;
                    }
                    match at {
                        Some(i) => match self.map(result[i].as_object(), p, path)? {
                            Some(m) => result[i] = Value::Object(m),
                            None => {
                                result.remove(i);
                            }
                        },
                        None => {
                            if let Some(m) = self.map(None, p, path)? {
                                result.push(Value::Object(m));
                            }
                        }
                    }
                }
            }
        }
        path.pop();
        if let Some(order) = order {
            let merge_key = match &strategy {
                SmpList::MergeByKey(k) => Some(k.as_str()),
                _ => None,
            };
            reorder(&mut result, order, merge_key, path)?;
        }
        Ok(result)
    }
}

/// Puts the elements named by a `$setElementOrder` list in that order; the
/// others (known only to the server) keep their positions.
fn reorder(
    list: &mut [Value],
    order: &Value,
    merge_key: Option<&str>,
    path: &[Seg],
) -> Result<(), PatchError> {
    let Value::Array(order) = order else {
        return Err(invalid(path, "$setElementOrder must be a list"));
    };
    let id = |v: &Value| match merge_key {
        Some(k) => v.get(k).cloned(),
        None => Some(v.clone()),
    };
    let order_ids: Vec<Value> = order.iter().filter_map(id).collect();
    let rank = |v: &Value| id(v).and_then(|i| order_ids.iter().position(|o| *o == i));
    let mut named: Vec<(usize, Value)> = list
        .iter()
        .filter_map(|v| rank(v).map(|r| (r, v.clone())))
        .collect();
    named.sort_by_key(|(r, _)| *r);
    let mut named = named.into_iter().map(|(_, v)| v);
    for slot in list.iter_mut() {
        if rank(slot).is_some()
            && let Some(next) = named.next()
        {
            *slot = next;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(obj: Value, patch: Value) -> Value {
        strategic_merge_patch(&obj, &patch, &MergeSchema::builtin("apps", "Deployment"))
            .expect("patch applies")
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1",
                 "ports": [{"containerPort": 80}, {"containerPort": 443}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "args": ["--a", "--b"]},
                {"name": "sidecar", "image": "envoy"}
            ]}}}
        })
    }

    fn containers(v: &Value) -> &Value {
        &v["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn containers_merge_by_name() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:2"},
                {"name": "new", "image": "busybox"}
            ]}}}}),
        );
        let c = containers(&out);
        assert_eq!(c.as_array().map(Vec::len), Some(3));
        assert_eq!(c[0]["image"], "nginx:2");
        assert_eq!(c[0]["env"][1]["value"], "2", "untouched fields survive");
        assert_eq!(c[1]["name"], "sidecar");
        assert_eq!(c[2]["name"], "new");
    }

    #[test]
    fn nested_lists_merge_by_their_own_keys_and_atomic_lists_replace() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web",
                 "ports": [{"containerPort": 8080}],
                 "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                 "args": ["--c"]}
            ]}}}}),
        );
        let web = &containers(&out)[0];
        assert_eq!(
            web["ports"],
            json!([{"containerPort": 80}, {"containerPort": 443}, {"containerPort": 8080}])
        );
        assert_eq!(
            web["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                   {"name": "C", "value": "3"}])
        );
        assert_eq!(web["args"], json!(["--c"]));
    }

    #[test]
    fn null_deletes_and_maps_merge() {
        let out = smp(
            deployment(),
            json!({"metadata": {"labels": {"app": null, "tier": "fe"}}, "spec": {"replicas": null}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
        assert!(out["spec"].get("replicas").is_none());
        assert_eq!(out["metadata"]["name"], "web");
    }

    #[test]
    fn patch_delete_removes_list_elements_and_maps() {
        let out = smp(
            deployment(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "sidecar", "$patch": "delete"},
                {"name": "web", "env": [{"name": "A", "$patch": "delete"}]}
            ]}}}, "metadata": {"labels": {"$patch": "delete"}}}),
        );
        let c = containers(&out);
        assert_eq!(c.as_array().map(Vec::len), Some(1));
        assert_eq!(c[0]["env"], json!([{"name": "B", "value": "2"}]));
        assert!(out["metadata"].get("labels").is_none());
    }

    #[test]
    fn patch_replace_on_maps_and_lists() {
        let out = smp(
            deployment(),
            json!({"metadata": {"labels": {"$patch": "replace", "only": "this"}},
                   "spec": {"template": {"spec": {"containers": [
                       {"$patch": "replace"}, {"name": "solo", "image": "x"}]}}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"only": "this"}));
        assert_eq!(containers(&out), &json!([{"name": "solo", "image": "x"}]));
    }

    #[test]
    fn unknown_directive_is_an_error() {
        let err = strategic_merge_patch(
            &deployment(),
            &json!({"spec": {"$patch": "explode"}}),
            &MergeSchema::builtin("apps", "Deployment"),
        );
        match err {
            Err(PatchError::InvalidDirective { path, .. }) => assert_eq!(path, ".spec"),
            other => panic!("expected a directive error, got {other:?}"),
        }
        assert!(matches!(
            strategic_merge_patch(&deployment(), &json!("x"), &MergeSchema::default()),
            Err(PatchError::NotAnObject { .. })
        ));
    }

    #[test]
    fn finalizers_union_and_delete_from_primitive_list() {
        let out = smp(
            deployment(),
            json!({"metadata": {"finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "c"]));
    }

    #[test]
    fn retain_keys_clears_other_fields() {
        let obj = json!({"spec": {"strategy": {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxSurge": 1}}}});
        let out = smp(
            obj,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                         "rollingUpdate": null}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    /// What `kubectl apply` (client-side) sends when the local file drops the
    /// sidecar and adds an init container: `$setElementOrder` plus deletes.
    #[test]
    fn kubectl_client_side_apply_patch_with_set_element_order() {
        let patch = json!({
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "front"}, {"name": "web"}],
                "containers": [
                    {"name": "front", "image": "haproxy"},
                    {"$patch": "delete", "name": "sidecar"},
                    {"name": "web", "image": "nginx:3",
                     "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                     "env": [{"name": "B", "value": "22"}]}
                ]
            }}}
        });
        let out = smp(deployment(), patch);
        let c = containers(&out);
        assert_eq!(c[0]["name"], "front");
        assert_eq!(c[1]["name"], "web");
        assert_eq!(c.as_array().map(Vec::len), Some(2));
        assert_eq!(
            c[1]["env"],
            json!([{"name": "B", "value": "22"}, {"name": "A", "value": "1"}])
        );
        assert!(
            c[1].get("$setElementOrder/env").is_none(),
            "directives never leak"
        );
        assert_eq!(
            out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
            "{}"
        );
    }

    #[test]
    fn set_element_order_alone_reorders_and_keeps_server_only_slots() {
        let obj = json!({"spec": {"containers": [
            {"name": "a"}, {"name": "server"}, {"name": "b"}]}});
        let out = strategic_merge_patch(
            &obj,
            &json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
            &MergeSchema::builtin("", "Pod"),
        )
        .expect("patch applies");
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "b"}, {"name": "server"}, {"name": "a"}])
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let obj = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}],
                                  "selector": {"app": "a"}}});
        let out = strategic_merge_patch(
            &obj,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}],
                             "selector": {"tier": "b"}}}),
            &MergeSchema::builtin("", "Service"),
        )
        .expect("patch applies");
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );
        assert_eq!(out["spec"]["selector"], json!({"app": "a", "tier": "b"}));
    }

    #[test]
    fn new_fields_are_appended_and_order_kept() {
        let out = smp(json!({"b": 1, "a": 2}), json!({"c": 3, "b": 4}));
        assert_eq!(
            serde_json::to_string(&out).expect("serializes"),
            r#"{"b":4,"a":2,"c":3}"#
        );
    }

    #[test]
    fn missing_merge_key_is_an_error() {
        let err = strategic_merge_patch(
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            &MergeSchema::builtin("apps", "Deployment"),
        );
        assert!(matches!(err, Err(PatchError::InvalidDirective { .. })));
    }
}
