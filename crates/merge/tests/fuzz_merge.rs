//! Property fuzzing of the merge functions (issue 17, item 4): random JSON
//! objects and patches, with properties that must hold for every input.
//!
//! The default case count keeps `cargo test` short; `DRIFTLESS_FUZZ_CASES`
//! raises it (`.ci/fuzz` sets it).

use driftless_merge::{MergeSchema, merge_patch, server_side_apply, strategic_merge_patch};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn config() -> ProptestConfig {
    let cases = std::env::var("DRIFTLESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Keys an object of a Deployment has, so the schema's list rules and
/// directives meet their paths, plus neutral ones.
fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "spec",
        "template",
        "containers",
        "name",
        "image",
        "env",
        "value",
        "ports",
        "containerPort",
        "a",
        "b",
        "metadata",
        "labels",
    ])
    .prop_map(str::to_owned)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z0-9]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object with no nulls anywhere: what a stored object looks like
/// (merge patches read a null as "delete").
fn stored_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), json_value()), 0..6).prop_map(|kv| {
        let mut obj = Value::Object(kv.into_iter().collect());
        strip_nulls(&mut obj);
        obj
    })
}

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn deployment() -> MergeSchema {
    MergeSchema::builtin("apps", "Deployment")
}

proptest! {
    #![proptest_config(config())]

    /// An empty merge patch leaves a stored object as it is.
    #[test]
    fn empty_merge_patch_is_identity(obj in stored_object()) {
        prop_assert_eq!(merge_patch(&obj, &json!({})).expect("an object patch applies"), obj);
    }

    /// An empty strategic merge patch leaves a stored object as it is.
    #[test]
    fn empty_strategic_patch_is_identity(obj in stored_object()) {
        let merged = strategic_merge_patch(&obj, &json!({}), &deployment());
        prop_assert_eq!(merged.expect("an empty patch applies"), obj);
    }

    /// A strategic patch of plain keys (no `$` directives) either applies
    /// or fails with an error, and top-level keys it does not name are
    /// kept untouched.
    #[test]
    fn strategic_patch_keeps_untouched_keys(obj in stored_object(), patch in stored_object()) {
        let Ok(merged) = strategic_merge_patch(&obj, &patch, &deployment()) else {
            return Ok(());
        };
        let (obj, patch) = (obj.as_object().expect("object"), patch.as_object().expect("object"));
        for (k, v) in obj {
            if !patch.contains_key(k) {
                prop_assert_eq!(merged.get(k), Some(v), "key {} changed", k);
            }
        }
    }

    /// Arbitrary patches, nulls and all, never panic.
    #[test]
    fn strategic_patch_never_panics(obj in json_value(), patch in json_value()) {
        let _ = strategic_merge_patch(&obj, &patch, &deployment());
        let _ = merge_patch(&obj, &patch);
    }

    /// Applying the same configuration twice as the same manager changes
    /// nothing the second time. A first apply that owns nothing (only empty
    /// associative lists, e.g. `containers: []`) stores no `managedFields`,
    /// so the second one meets the object as written before any apply and
    /// hands its fields to `before-first-apply`, as kube-apiserver does
    /// with an object that has no managed fields; those are left out here.
    #[test]
    fn server_side_apply_is_idempotent(cfg in stored_object()) {
        let mut cfg = cfg;
        let m = cfg.as_object_mut().expect("object");
        m.remove("metadata");
        m.insert("apiVersion".into(), json!("apps/v1"));
        m.insert("kind".into(), json!("Deployment"));
        m.insert("metadata".into(), json!({"name": "web"}));
        let schema = deployment();
        let Ok(live) = server_side_apply(None, &cfg, "fuzz", false, &schema, "2026-01-01T00:00:00Z")
        else {
            return Ok(());
        };
        if live["metadata"].get("managedFields").is_none() {
            return Ok(());
        }
        let again = server_side_apply(Some(&live), &cfg, "fuzz", false, &schema, "2026-01-01T00:00:01Z")
            .expect("re-applying what was just applied succeeds");
        prop_assert_eq!(again, live);
    }
}
