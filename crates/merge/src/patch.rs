//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386).
//!
//! Thin wrappers over the `json-patch` crate: they work on a copy, so a failed
//! patch leaves the caller's object untouched, and they turn the crate's
//! errors into [`PatchError`].

use serde_json::Value;

use super::error::PatchError;

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Applies an RFC 6902 JSON patch (an array of operations) to a copy of `obj`.
///
/// As the Kubernetes API server (evanphx/json-patch) does, a `test` of a
/// missing path against `null` passes: kube-rs's finalizer helper relies on
/// it ("test /metadata/finalizers is null, then add").
pub fn json_patch(obj: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(PatchError::InvalidJsonPatch)?;
    let mut out = obj.clone();
    let ops: Vec<_> = ops
        .0
        .into_iter()
        .filter(|op| match op {
            json_patch::PatchOperation::Test(test) => {
                !(test.value.is_null() && out.pointer(test.path.as_str()).is_none())
            }
            _ => true,
        })
        .collect();
    json_patch::patch(&mut out, &ops).map_err(PatchError::JsonPatch)?;
    Ok(out)
}

/// Applies an RFC 7386 merge patch: maps merge, `null` deletes, anything else
/// (lists included) replaces. Kubernetes only accepts object patches.
pub fn merge_patch(obj: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::NotAnObject {
            found: kind_of(patch),
        });
    }
    let mut out = obj.clone();
    json_patch::merge(&mut out, patch);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_operations() {
        let obj = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
        let patched = json_patch(
            &obj,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
                {"op": "remove", "path": "/metadata/labels/a"}
            ]),
        )
        .expect("valid patch");
        assert_eq!(
            patched,
            json!({"metadata": {"labels": {"b/c": "2"}}, "spec": {"replicas": 3}})
        );
    }

    #[test]
    fn a_test_of_a_missing_path_against_null_passes() {
        let obj = json!({"metadata": {"name": "a"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}
        ]);
        let out = json_patch(&obj, &patch).expect("applies");
        assert_eq!(out["metadata"]["finalizers"], json!(["x"]));
        let present = json!({"metadata": {"finalizers": ["y"]}});
        assert!(
            json_patch(&present, &patch).is_err(),
            "a present value is not null"
        );
    }

    #[test]
    fn json_patch_failures_leave_the_object_alone() {
        let obj = json!({"spec": {"replicas": 1}});
        let err = json_patch(
            &obj,
            &json!([
                {"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "test", "path": "/spec/replicas", "value": 1}
            ]),
        );
        assert!(matches!(err, Err(PatchError::JsonPatch(_))));
        assert!(matches!(
            json_patch(&obj, &json!({"op": "add"})),
            Err(PatchError::InvalidJsonPatch(_))
        ));
        assert!(matches!(
            json_patch(&obj, &json!([{"op": "remove", "path": "/nope"}])),
            Err(PatchError::JsonPatch(_))
        ));
    }

    #[test]
    fn merge_patch_merges_maps_deletes_nulls_replaces_lists() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
                         "spec": {"list": [1, 2], "keep": true}});
        let patched = merge_patch(
            &obj,
            &json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"list": [3]}}),
        )
        .expect("object patch");
        assert_eq!(
            patched,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}},
                   "spec": {"list": [3], "keep": true}})
        );
        assert!(matches!(
            merge_patch(&obj, &json!([1])),
            Err(PatchError::NotAnObject { found: "an array" })
        ));
    }
}
