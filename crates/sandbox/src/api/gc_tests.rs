//! Garbage collection through the API verbs, without HTTP: each test
//! builds owners and dependents, deletes, and reads what is left.

use super::*;

fn api() -> Api {
    let api = Api::new(crate::store::Store::in_memory()).expect("an empty store loads");
    for ns in ["default", "a", "b"] {
        api.create(
            &scope("", "namespaces", None),
            json!({"metadata": {"name": ns}}),
            &WriteOptions::default(),
        )
        .expect("namespace created");
    }
    api
}

fn scope(group: &str, resource: &str, namespace: Option<&str>) -> Scope {
    let catalog = Catalog::default();
    let rt = catalog
        .get(&GroupResource::new(group, resource))
        .expect("a built-in resource");
    Scope {
        version: rt.preferred_version().to_string(),
        namespace: namespace.map(str::to_string),
        rt,
    }
}

fn cms(ns: &str) -> Scope {
    scope("", "configmaps", Some(ns))
}

fn reference(owner: &Value, blocking: bool) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"],
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": blocking,
    })
}

/// A ConfigMap in `ns` owned by `owners`, held by `finalizers`.
fn config_map(api: &Api, ns: &str, name: &str, owners: &[Value], finalizers: &[&str]) -> Value {
    api.create(
        &cms(ns),
        json!({"metadata": {"name": name, "ownerReferences": owners, "finalizers": finalizers}}),
        &WriteOptions::default(),
    )
    .expect("created")
}

fn get(api: &Api, scope: &Scope, name: &str) -> Option<Value> {
    api.get(scope, name).ok()
}

fn delete(api: &Api, scope: &Scope, name: &str, policy: Option<Propagation>) -> Value {
    let opts = DeleteOptions {
        propagation: policy,
        ..Default::default()
    };
    api.delete(scope, name, &opts).expect("deleted")
}

/// Clears an object's finalizers, as the controller holding it would.
fn release(api: &Api, scope: &Scope, name: &str) {
    let mut object = api.get(scope, name).expect("exists");
    object["metadata"]["finalizers"] = json!([]);
    api.update(scope, name, object, &WriteOptions::default())
        .expect("updated");
}

fn finalizers(object: &Value) -> Vec<&str> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn background_takes_dependents_along_unless_another_owner_remains() {
    let api = api();
    let one = config_map(&api, "default", "one", &[], &[]);
    let two = config_map(&api, "default", "two", &[], &[]);
    let only = reference(&one, false);
    config_map(
        &api,
        "default",
        "only-one",
        std::slice::from_ref(&only),
        &[],
    );
    config_map(
        &api,
        "default",
        "both",
        &[only, reference(&two, false)],
        &[],
    );

    delete(&api, &cms("default"), "one", None);
    assert!(get(&api, &cms("default"), "only-one").is_none());
    let both = get(&api, &cms("default"), "both").expect("a solid owner remains");
    assert_eq!(
        both["metadata"]["ownerReferences"],
        json!([reference(&two, false)]),
        "the reference to the absent owner is dropped"
    );
    delete(&api, &cms("default"), "two", Some(Propagation::Background));
    assert!(get(&api, &cms("default"), "both").is_none());
}

#[test]
fn foreground_keeps_the_owner_until_blocking_dependents_are_gone() {
    let api = api();
    let owner = config_map(&api, "default", "owner", &[], &[]);
    config_map(
        &api,
        "default",
        "blocking",
        &[reference(&owner, true)],
        &["example.com/hold"],
    );
    config_map(&api, "default", "free", &[reference(&owner, false)], &[]);

    let marked = delete(
        &api,
        &cms("default"),
        "owner",
        Some(Propagation::Foreground),
    );
    assert_eq!(finalizers(&marked), ["foregroundDeletion"]);
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert!(get(&api, &cms("default"), "free").is_none());
    let held = get(&api, &cms("default"), "blocking").expect("held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let owner = get(&api, &cms("default"), "owner").expect("waits for its dependent");
    assert_eq!(finalizers(&owner), ["foregroundDeletion"]);

    release(&api, &cms("default"), "blocking");
    assert!(get(&api, &cms("default"), "blocking").is_none());
    assert!(get(&api, &cms("default"), "owner").is_none());
}

#[test]
fn foreground_does_not_wait_for_non_blocking_dependents() {
    let api = api();
    let owner = config_map(&api, "default", "owner", &[], &[]);
    config_map(
        &api,
        "default",
        "held",
        &[reference(&owner, false)],
        &["example.com/hold"],
    );
    delete(
        &api,
        &cms("default"),
        "owner",
        Some(Propagation::Foreground),
    );
    assert!(get(&api, &cms("default"), "owner").is_none());
    let held = get(&api, &cms("default"), "held").expect("held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
}

#[test]
fn foreground_waits_for_grandchildren_and_breaks_cycles() {
    let api = api();
    let top = config_map(&api, "default", "top", &[], &[]);
    let middle = config_map(&api, "default", "middle", &[reference(&top, true)], &[]);
    config_map(
        &api,
        "default",
        "bottom",
        &[reference(&middle, true)],
        &["example.com/hold"],
    );
    delete(&api, &cms("default"), "top", Some(Propagation::Foreground));
    let middle = get(&api, &cms("default"), "middle").expect("waits for bottom");
    assert_eq!(
        finalizers(&middle),
        ["foregroundDeletion"],
        "deleted in the foreground"
    );
    assert!(get(&api, &cms("default"), "top").is_some());
    release(&api, &cms("default"), "bottom");
    for name in ["bottom", "middle", "top"] {
        assert!(get(&api, &cms("default"), name).is_none(), "{name} is gone");
    }

    // Two objects owning each other still go.
    let a = config_map(&api, "default", "ring-a", &[], &[]);
    let b = config_map(&api, "default", "ring-b", &[reference(&a, true)], &[]);
    let mut a = api.get(&cms("default"), "ring-a").expect("a");
    a["metadata"]["ownerReferences"] = json!([reference(&b, true)]);
    api.update(&cms("default"), "ring-a", a, &WriteOptions::default())
        .expect("a owned by b");
    delete(
        &api,
        &cms("default"),
        "ring-a",
        Some(Propagation::Foreground),
    );
    assert!(get(&api, &cms("default"), "ring-a").is_none());
    assert!(get(&api, &cms("default"), "ring-b").is_none());
}

#[test]
fn orphan_drops_the_references_and_keeps_the_dependents() {
    let api = api();
    let owner = config_map(&api, "default", "owner", &[], &[]);
    let other = config_map(&api, "default", "other", &[], &[]);
    config_map(
        &api,
        "default",
        "dep",
        &[reference(&owner, true), reference(&other, false)],
        &[],
    );
    delete(&api, &cms("default"), "owner", Some(Propagation::Orphan));
    assert!(get(&api, &cms("default"), "owner").is_none());
    let dep = get(&api, &cms("default"), "dep").expect("orphaned, not deleted");
    assert_eq!(
        dep["metadata"]["ownerReferences"],
        json!([reference(&other, false)])
    );

    // The legacy field says the same; with a policy beside it, it is refused.
    let owner = config_map(&api, "default", "legacy", &[], &[]);
    config_map(
        &api,
        "default",
        "legacy-dep",
        &[reference(&owner, true)],
        &[],
    );
    let mut legacy = DeleteOptions::default();
    legacy
        .merge_body(&json!({"orphanDependents": true}))
        .expect("valid");
    api.delete(&cms("default"), "legacy", &legacy)
        .expect("deleted");
    assert!(get(&api, &cms("default"), "legacy-dep").is_some());
    let both = legacy.merge_body(&json!({"propagationPolicy": "Foreground"}));
    let err = both.expect_err("both set is invalid");
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Foreground\": orphanDependents and deletionPropagation cannot be both set"
    );
}

#[test]
fn an_orphan_finalizer_waits_behind_other_finalizers() {
    let api = api();
    let owner = config_map(&api, "default", "owner", &[], &["example.com/hold"]);
    config_map(&api, "default", "dep", &[reference(&owner, true)], &[]);
    delete(&api, &cms("default"), "owner", Some(Propagation::Orphan));
    let owner = get(&api, &cms("default"), "owner").expect("held");
    assert_eq!(
        finalizers(&owner),
        ["example.com/hold"],
        "the orphan finalizer did its work"
    );
    let dep = get(&api, &cms("default"), "dep").expect("kept");
    assert_eq!(dep["metadata"]["ownerReferences"], json!([]));
}

#[test]
fn jobs_orphan_their_pods_unless_asked_otherwise() {
    let api = api();
    let jobs = scope("batch", "jobs", Some("default"));
    let job = |name: &str| {
        api.create(
            &jobs,
            json!({"metadata": {"name": name}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}),
            &WriteOptions::default(),
        )
        .expect("job created")
    };
    let kept = job("kept");
    let removed = job("removed");
    config_map(&api, "default", "of-kept", &[reference(&kept, true)], &[]);
    config_map(
        &api,
        "default",
        "of-removed",
        &[reference(&removed, true)],
        &[],
    );
    delete(&api, &jobs, "kept", None);
    delete(&api, &jobs, "removed", Some(Propagation::Background));
    let orphan = get(&api, &cms("default"), "of-kept").expect("orphaned");
    assert_eq!(orphan["metadata"]["ownerReferences"], json!([]));
    assert!(get(&api, &cms("default"), "of-removed").is_none());
}

#[test]
fn owners_are_found_by_scope() {
    let api = api();
    // A namespaced owner counts only in its dependent's namespace: a
    // dependent elsewhere is collected at once, as its owner is absent.
    let owner = config_map(&api, "a", "owner", &[], &[]);
    config_map(&api, "b", "elsewhere", &[reference(&owner, true)], &[]);
    assert!(get(&api, &cms("b"), "elsewhere").is_none());
    // A cluster-scoped owner counts everywhere.
    let roles = scope("rbac.authorization.k8s.io", "clusterroles", None);
    let role = api
        .create(
            &roles,
            json!({"metadata": {"name": "owner"}}),
            &WriteOptions::default(),
        )
        .expect("role");
    config_map(&api, "a", "of-role", &[reference(&role, false)], &[]);
    config_map(&api, "b", "of-role", &[reference(&role, false)], &[]);
    // A cluster-scoped dependent of a namespaced kind is never collected.
    let bound = api
        .create(
            &roles,
            json!({"metadata": {"name": "dependent", "ownerReferences": [reference(&owner, true)]}}),
            &WriteOptions::default(),
        )
        .expect("created");
    assert!(bound["metadata"]["uid"].is_string());
    delete(&api, &roles, "owner", None);
    assert!(get(&api, &cms("a"), "of-role").is_none());
    assert!(get(&api, &cms("b"), "of-role").is_none());
    delete(&api, &cms("a"), "owner", None);
    assert!(get(&api, &roles, "dependent").is_some());
}

#[test]
fn a_namespace_goes_once_its_content_is_gone() {
    let api = api();
    config_map(&api, "a", "plain", &[], &[]);
    config_map(&api, "a", "held", &[], &["example.com/hold"]);
    let namespaces = scope("", "namespaces", None);
    delete(&api, &namespaces, "a", None);
    let ns = get(&api, &namespaces, "a").expect("terminating");
    assert_eq!(ns["status"]["phase"], "Terminating");
    let condition = |kind: &str| {
        ns["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        condition("NamespaceContentRemaining")["message"],
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    assert_eq!(
        condition("NamespaceFinalizersRemaining")["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );
    assert!(get(&api, &cms("a"), "plain").is_none());
    let err = api
        .create(
            &cms("a"),
            json!({"metadata": {"name": "late"}}),
            &WriteOptions::default(),
        )
        .expect_err("no new content");
    assert_eq!(err.code, 403);

    release(&api, &cms("a"), "held");
    assert!(get(&api, &namespaces, "a").is_none());
}
