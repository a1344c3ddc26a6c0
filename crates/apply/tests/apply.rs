//! The applier against a real API server (the in-process sandbox): staged
//! apply, drift classification, field removal, kubectl takeover, immutable
//! fields, per-object annotations, prune and health.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestSandbox, eventually};
use driftless_api::inventory::{ObjectId, ResourceRef};
use driftless_apply::{Action, Applier, ApplyError, ApplyOptions, ChangeSet};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

const OWNER_NAME: &str = "kustomize.toolkit.fluxcd.io/name";
const OWNER_NAMESPACE: &str = "kustomize.toolkit.fluxcd.io/namespace";

fn options() -> ApplyOptions {
    ApplyOptions {
        owner_labels: BTreeMap::from([
            (OWNER_NAME.to_string(), "apps".to_string()),
            (OWNER_NAMESPACE.to_string(), "flux-system".to_string()),
        ]),
        ..ApplyOptions::default()
    }
}

fn configmap(ns: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": ns}, "data": data})
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn deployment(ns: &str, name: &str, replicas: i64, app: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    })
}

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}
                }}},
            }],
        },
    })
}

fn widget(ns: &str, name: &str, size: i64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": name, "namespace": ns}, "spec": {"size": size}})
}

fn actions(set: &ChangeSet) -> Vec<(String, Action)> {
    set.entries
        .iter()
        .map(|c| (c.id.to_string(), c.action.clone()))
        .collect()
}

fn cm_api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    )
}

fn deploy_api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    )
}

async fn get(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    api.get_opt(name)
        .await
        .expect("the sandbox answers")
        .map(|o| serde_json::to_value(o).expect("serializable"))
}

fn at<'a>(obj: &'a Value, pointer: &str) -> &'a Value {
    obj.pointer(pointer).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn create_then_unchanged_without_writes_then_configured() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let set = || {
        vec![
            configmap("default", "settings", json!({"color": "blue"})),
            deployment("default", "web", 2, "web"),
            // Fields the server rewrites or fills in must not look like drift.
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "token", "namespace": "default"},
                   "stringData": {"token": "s3cret"}}),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": "default"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}),
        ]
    };

    let first = applier.apply(set()).await.expect("first apply");
    assert_eq!(
        actions(&first),
        [
            ("default_token__Secret".to_string(), Action::Created),
            ("default_settings__ConfigMap".to_string(), Action::Created),
            ("default_web__Service".to_string(), Action::Created),
            ("default_web_apps_Deployment".to_string(), Action::Created),
        ]
    );
    assert_eq!(
        first.summary(),
        "Secret/default/token created\nConfigMap/default/settings created\n\
         Service/default/web created\nDeployment/default/web created"
    );
    let cms = cm_api(&client, "default");
    let live = get(&cms, "settings").await.expect("created");
    assert_eq!(at(&live, "/metadata/labels")[OWNER_NAME], "apps");
    assert_eq!(
        at(&live, "/metadata/labels")[OWNER_NAMESPACE],
        "flux-system"
    );
    assert_eq!(
        at(&live, "/metadata/managedFields/0/manager"),
        "kustomize-controller"
    );
    let deploys = deploy_api(&client, "default");
    // Let the simulated rollout write its status: status is not drift.
    eventually("the rollout status", || async {
        get(&deploys, "web")
            .await
            .and_then(|d| d.pointer("/status/availableReplicas").cloned())
    })
    .await;
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let services: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::erase::<k8s_openapi::api::core::v1::Service>(&()),
    );
    let versions = || async {
        let mut versions = Vec::new();
        for (api, name) in [
            (&secrets, "token"),
            (&cms, "settings"),
            (&services, "web"),
            (&deploys, "web"),
        ] {
            let live = get(api, name).await.expect("there");
            versions.push(at(&live, "/metadata/resourceVersion").clone());
        }
        versions
    };
    let before = versions().await;

    let second = applier.apply(set()).await.expect("second apply");
    assert!(
        second.entries.iter().all(|c| c.action == Action::Unchanged),
        "{:?}",
        actions(&second)
    );
    assert!(!second.is_changed());
    assert_eq!(
        before,
        versions().await,
        "a no-op apply wrote to the cluster"
    );

    let mut changed = set();
    changed[0]["data"]["color"] = json!("green");
    let third = applier.apply(changed).await.expect("third apply");
    assert_eq!(
        actions(&third),
        [
            ("default_token__Secret".to_string(), Action::Unchanged),
            (
                "default_settings__ConfigMap".to_string(),
                Action::Configured
            ),
            ("default_web__Service".to_string(), Action::Unchanged),
            ("default_web_apps_Deployment".to_string(), Action::Unchanged),
        ]
    );
    assert_eq!(
        at(&get(&cms, "settings").await.expect("there"), "/data/color"),
        "green"
    );
    let inventory: Vec<(String, String)> = third
        .inventory()
        .entries
        .into_iter()
        .map(|e| (e.id, e.version))
        .collect();
    assert_eq!(
        inventory,
        [
            ("default_settings__ConfigMap".into(), "v1".into()),
            ("default_token__Secret".into(), "v1".into()),
            ("default_web__Service".into(), "v1".into()),
            ("default_web_apps_Deployment".into(), "v1".into()),
        ]
    );
}

#[tokio::test]
async fn drift_made_by_hand_is_detected_and_undone() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let set = || vec![configmap("default", "settings", json!({"color": "blue"}))];
    applier.apply(set()).await.expect("apply");
    let cms = cm_api(&client, "default");
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"color": "red"}})),
    )
    .await
    .expect("an edit by hand");

    let diff = applier.diff(set()).await.expect("diff");
    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].action, Action::Configured);
    assert_eq!(
        at(diff[0].live.as_ref().expect("live"), "/data/color"),
        "red"
    );
    assert_eq!(at(&diff[0].merged, "/data/color"), "blue");
    assert_eq!(
        at(&get(&cms, "settings").await.expect("there"), "/data/color"),
        "red",
        "diff changed the cluster"
    );

    let changes = applier.apply(set()).await.expect("apply");
    assert_eq!(changes.entries[0].action, Action::Configured);
    assert_eq!(
        at(&get(&cms, "settings").await.expect("there"), "/data/color"),
        "blue"
    );
}

#[tokio::test]
async fn stages_let_a_shuffled_set_apply_in_one_go() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let set = vec![
        widget("shop", "big", 3),
        deployment("shop", "web", 1, "web"),
        configmap("shop", "settings", json!({"a": "1"})),
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "fast"}, "provisioner": "example.com/fast"}),
        widget_crd(),
        namespace("shop"),
    ];
    let changes = applier.apply(set).await.expect("staged apply");
    let order: Vec<String> = changes.entries.iter().map(|c| c.id.to_string()).collect();
    assert_eq!(
        order,
        [
            "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
            "_shop__Namespace",
            "_fast_storage.k8s.io_StorageClass",
            "shop_settings__ConfigMap",
            "shop_web_apps_Deployment",
            "shop_big_example.com_Widget",
        ]
    );
    assert!(changes.entries.iter().all(|c| c.action == Action::Created));
    let widgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "shop",
        &ApiResource {
            group: "example.com".into(),
            version: "v1".into(),
            api_version: "example.com/v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
        },
    );
    let live = get(&widgets, "big")
        .await
        .expect("the custom resource exists");
    assert_eq!(at(&live, "/spec/size"), 3);
    assert_eq!(at(&live, "/metadata/labels")[OWNER_NAME], "apps");
}

#[tokio::test]
async fn diff_of_a_new_set_changes_nothing() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let diff = applier
        .diff(vec![
            namespace("shop"),
            widget_crd(),
            widget("shop", "big", 3),
            configmap("shop", "settings", json!({"a": "1"})),
        ])
        .await
        .expect("diff");
    assert_eq!(diff.len(), 4);
    assert!(
        diff.iter()
            .all(|d| d.action == Action::Created && d.live.is_none())
    );
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    assert!(
        namespaces.get_opt("shop").await.expect("answers").is_none(),
        "diff created a namespace"
    );
}

#[tokio::test]
async fn removed_fields_disappear_even_after_kubectl_created_the_object() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let cms = cm_api(&client, "default");

    // Our own object: a key dropped from git is dropped from the cluster.
    applier
        .apply(vec![configmap(
            "default",
            "ours",
            json!({"a": "1", "b": "2"}),
        )])
        .await
        .expect("apply");
    applier
        .apply(vec![configmap("default", "ours", json!({"a": "1"}))])
        .await
        .expect("apply");
    assert_eq!(
        at(&get(&cms, "ours").await.expect("there"), "/data"),
        &json!({"a": "1"})
    );

    // A key added by hand with kubectl is rolled back too, as Flux does.
    sb.kubectl(
        &[
            "patch",
            "configmap",
            "ours",
            "--type=merge",
            "-p",
            r#"{"data":{"extra":"x"}}"#,
        ],
        None,
    )
    .await;
    let changes = applier
        .apply(vec![configmap("default", "ours", json!({"a": "1"}))])
        .await
        .expect("apply");
    assert_eq!(changes.entries[0].action, Action::Configured);
    assert_eq!(
        at(&get(&cms, "ours").await.expect("there"), "/data"),
        &json!({"a": "1"})
    );

    // An object kubectl created (client-side apply) with three keys.
    let manifest = serde_json::to_string(&configmap(
        "default",
        "legacy",
        json!({"a": "1", "b": "2", "c": "3"}),
    ))
    .expect("serializable");
    sb.kubectl(&["apply", "-f", "-"], Some(&manifest)).await;
    let live = get(&cms, "legacy").await.expect("kubectl created it");
    assert!(
        at(&live, "/metadata/annotations")
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_some()
    );

    applier
        .apply(vec![configmap(
            "default",
            "legacy",
            json!({"a": "1", "b": "2"}),
        )])
        .await
        .expect("take over");
    let live = get(&cms, "legacy").await.expect("there");
    assert_eq!(
        at(&live, "/data"),
        &json!({"a": "1", "b": "2"}),
        "the key kubectl set and git no longer has stays: {live:#}"
    );
    assert!(
        at(&live, "/metadata/annotations")
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none(),
        "{live:#}"
    );
    let managers: Vec<&str> = at(&live, "/metadata/managedFields")
        .as_array()
        .expect("managed fields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kustomize-controller"], "{live:#}");
    let again = applier
        .apply(vec![configmap(
            "default",
            "legacy",
            json!({"a": "1", "b": "2"}),
        )])
        .await
        .expect("apply");
    assert_eq!(
        again.entries[0].action,
        Action::Unchanged,
        "the takeover repeats"
    );

    applier
        .apply(vec![configmap("default", "legacy", json!({"a": "1"}))])
        .await
        .expect("apply");
    assert_eq!(
        at(&get(&cms, "legacy").await.expect("there"), "/data"),
        &json!({"a": "1"})
    );
}

#[tokio::test]
async fn merge_mode_leaves_kubectl_fields_alone() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let cms = cm_api(&client, "default");
    let manifest =
        serde_json::to_string(&configmap("default", "shared", json!({"a": "1", "b": "2"})))
            .expect("serializable");
    sb.kubectl(&["apply", "-f", "-"], Some(&manifest)).await;

    let mut desired = configmap("default", "shared", json!({"a": "1"}));
    desired["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/ssa": "Merge"});
    applier.apply(vec![desired]).await.expect("apply");
    let live = get(&cms, "shared").await.expect("there");
    assert_eq!(at(&live, "/data"), &json!({"a": "1", "b": "2"}));
    assert!(
        at(&live, "/metadata/annotations")
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_some()
    );
}

#[tokio::test]
async fn immutable_changes_fail_unless_forced() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let deploys = deploy_api(&client, "default");
    applier
        .apply(vec![deployment("default", "web", 1, "web")])
        .await
        .expect("apply");
    let old_uid = at(&get(&deploys, "web").await.expect("there"), "/metadata/uid").clone();

    let err = applier
        .apply(vec![deployment("default", "web", 1, "web-v2")])
        .await
        .expect_err("the selector is immutable");
    match &err {
        ApplyError::Immutable { object, fields } => {
            assert_eq!(object, "Deployment/default/web");
            assert_eq!(fields, &["spec.selector"]);
        }
        other => panic!("expected Immutable, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("spec.selector"), "{message}");
    assert!(message.contains("spec.force: true"), "{message}");
    assert!(
        message.contains("kustomize.toolkit.fluxcd.io/force: enabled"),
        "{message}"
    );

    let forced = Applier::new(
        client.clone(),
        ApplyOptions {
            force: true,
            ..options()
        },
    );
    // A diff says the same, and a forced diff shows the recreation.
    let err = applier
        .diff(vec![deployment("default", "web", 1, "web-v2")])
        .await
        .expect_err("immutable in a diff too");
    assert!(matches!(err, ApplyError::Immutable { .. }), "{err:?}");
    let diff = forced
        .diff(vec![deployment("default", "web", 1, "web-v2")])
        .await
        .expect("forced diff");
    assert_eq!(diff[0].action, Action::Configured);
    assert_eq!(
        at(&diff[0].merged, "/spec/selector/matchLabels/app"),
        "web-v2"
    );
    assert_eq!(
        at(&get(&deploys, "web").await.expect("there"), "/metadata/uid"),
        &old_uid,
        "a diff recreated the object"
    );
    let changes = forced
        .apply(vec![deployment("default", "web", 1, "web-v2")])
        .await
        .expect("forced apply recreates");
    assert_eq!(changes.entries[0].action, Action::Created);
    let live = get(&deploys, "web").await.expect("recreated");
    assert_ne!(at(&live, "/metadata/uid"), &old_uid);
    assert_eq!(at(&live, "/spec/selector/matchLabels/app"), "web-v2");

    // The per-object annotation forces too.
    let mut annotated = deployment("default", "web", 1, "web-v3");
    annotated["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/force": "enabled"});
    let changes = applier
        .apply(vec![annotated])
        .await
        .expect("annotated force");
    assert_eq!(changes.entries[0].action, Action::Created);
    assert_eq!(
        at(
            &get(&deploys, "web").await.expect("there"),
            "/spec/selector/matchLabels/app"
        ),
        "web-v3"
    );
}

#[tokio::test]
async fn a_refused_object_stops_its_stage_before_any_sibling_changes() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let configmaps = cm_api(&client, "default");
    applier
        .apply(vec![
            deployment("default", "web", 1, "web"),
            configmap("default", "settings", json!({"level": "1"})),
        ])
        .await
        .expect("first revision");

    // The new revision changes an immutable selector (refused without
    // force), a sibling ConfigMap, and adds one: the refusal is found by
    // the stage's dry runs, before either ConfigMap is written.
    let err = applier
        .apply(vec![
            configmap("default", "settings", json!({"level": "2"})),
            configmap("default", "extra", json!({"added": "yes"})),
            deployment("default", "web", 1, "web-v2"),
        ])
        .await
        .expect_err("the selector is immutable");
    assert!(matches!(err, ApplyError::Immutable { .. }), "{err:?}");
    let settings = get(&configmaps, "settings").await.expect("still there");
    assert_eq!(at(&settings, "/data/level"), "1", "a sibling was applied");
    assert!(
        get(&configmaps, "extra").await.is_none(),
        "a new sibling was created"
    );

    // An earlier stage is not held back by a later one: the namespace is
    // created even though the Deployment's stage is refused.
    let err = applier
        .apply(vec![
            namespace("staged"),
            deployment("default", "web", 1, "web-v2"),
        ])
        .await
        .expect_err("still immutable");
    assert!(matches!(err, ApplyError::Immutable { .. }), "{err:?}");
    let namespaces = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&()),
    );
    assert!(get(&namespaces, "staged").await.is_some());
}

#[tokio::test]
async fn immutable_configmaps_are_recreated_when_forced() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let frozen = |value: &str| {
        let mut cm = configmap("default", "frozen", json!({"key": value}));
        cm["immutable"] = json!(true);
        cm
    };
    applier.apply(vec![frozen("one")]).await.expect("apply");
    let err = applier
        .apply(vec![frozen("two")])
        .await
        .expect_err("immutable data");
    match &err {
        ApplyError::Immutable { object, fields } => {
            assert_eq!(object, "ConfigMap/default/frozen");
            assert_eq!(fields, &["data"]);
        }
        other => panic!("expected Immutable, got {other:?}"),
    }
    let mut forced = frozen("two");
    forced["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/force": "Enabled"});
    let changes = applier.apply(vec![forced]).await.expect("forced");
    assert_eq!(changes.entries[0].action, Action::Created);
    assert_eq!(
        at(
            &get(&cm_api(&client, "default"), "frozen")
                .await
                .expect("there"),
            "/data/key"
        ),
        "two"
    );
}

#[tokio::test]
async fn ssa_and_reconcile_annotations() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let cms = cm_api(&client, "default");
    let with = |name: &str, key: &str, value: &str, color: &str| {
        let mut cm = configmap("default", name, json!({"color": color}));
        cm["metadata"]["annotations"] = json!({key: value});
        cm
    };
    const SSA: &str = "kustomize.toolkit.fluxcd.io/ssa";
    const RECONCILE: &str = "kustomize.toolkit.fluxcd.io/reconcile";

    let first = applier
        .apply(vec![
            with("once", SSA, "IfNotPresent", "blue"),
            with("ignored", SSA, "Ignore", "blue"),
            with("paused", RECONCILE, "disabled", "blue"),
        ])
        .await
        .expect("apply");
    assert_eq!(
        actions(&first),
        [
            (
                "default_ignored__ConfigMap".to_string(),
                Action::Skipped("kustomize.toolkit.fluxcd.io/ssa: Ignore".into())
            ),
            ("default_once__ConfigMap".to_string(), Action::Created),
            (
                "default_paused__ConfigMap".to_string(),
                Action::Skipped("kustomize.toolkit.fluxcd.io/reconcile: disabled".into())
            ),
        ]
    );
    assert!(get(&cms, "ignored").await.is_none());
    assert!(get(&cms, "paused").await.is_none());

    let second = applier
        .apply(vec![with("once", SSA, "IfNotPresent", "green")])
        .await
        .expect("apply");
    assert!(matches!(second.entries[0].action, Action::Skipped(_)));
    assert_eq!(
        at(&get(&cms, "once").await.expect("there"), "/data/color"),
        "blue"
    );
}

#[tokio::test]
async fn reconcile_disabled_on_the_live_object_pauses_apply_and_prune() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let cms = cm_api(&client, "default");
    applier
        .apply(vec![configmap("default", "hot", json!({"color": "blue"}))])
        .await
        .expect("apply");
    cms.patch(
        "hot",
        &PatchParams::default(),
        &Patch::Merge(json!({
            "metadata": {"labels": {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}},
            "data": {"color": "red"},
        })),
    )
    .await
    .expect("a hotfix by hand");

    let changes = applier
        .apply(vec![configmap("default", "hot", json!({"color": "blue"}))])
        .await
        .expect("apply");
    assert_eq!(
        changes.entries[0].action,
        Action::Skipped(
            "kustomize.toolkit.fluxcd.io/reconcile: disabled on the live object".into()
        )
    );
    assert_eq!(
        at(&get(&cms, "hot").await.expect("there"), "/data/color"),
        "red"
    );
    let pruned = applier
        .prune(&changes.inventory().entries)
        .await
        .expect("prune");
    assert_eq!(
        pruned.entries[0].action,
        Action::Skipped("kustomize.toolkit.fluxcd.io/reconcile: disabled".into())
    );
    assert!(get(&cms, "hot").await.is_some());
}

#[tokio::test]
async fn errors_name_the_object_and_the_way_out() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());

    let err = applier
        .apply(vec![widget("default", "w", 1)])
        .await
        .expect_err("no such kind");
    assert!(matches!(err, ApplyError::UnknownKind { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Widget/default/w: the cluster has no API resource for apiVersion \"example.com/v1\" kind \"Widget\"; is its CRD installed or in this set?"
    );

    let mut homeless = configmap("", "cfg", json!({}));
    homeless["metadata"]
        .as_object_mut()
        .expect("map")
        .remove("namespace");
    let err = applier
        .apply(vec![homeless])
        .await
        .expect_err("no namespace");
    assert_eq!(
        err.to_string(),
        "ConfigMap/cfg: ConfigMap is namespaced but the object has no namespace; set metadata.namespace or the Kustomization's targetNamespace"
    );

    let invalid = configmap("default", "Bad_Name", json!({}));
    let err = applier.apply(vec![invalid]).await.expect_err("invalid");
    assert!(matches!(err, ApplyError::Invalid { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("ConfigMap/default/Bad_Name is invalid: ")
            && message.contains("metadata.name"),
        "{message}"
    );

    let err = applier
        .apply(vec![configmap("nowhere", "cfg", json!({}))])
        .await
        .expect_err("no such namespace");
    assert!(matches!(err, ApplyError::NotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("ConfigMap/nowhere/cfg: ")
            && message.ends_with("create its namespace or add the Namespace to this set"),
        "{message}"
    );

    // A cluster-scoped object's namespace is dropped, as kubectl does.
    let mut ns = namespace("extra");
    ns["metadata"]["namespace"] = json!("default");
    let changes = applier.apply(vec![ns]).await.expect("apply");
    assert_eq!(
        changes.entries[0].id,
        ObjectId::new("", "extra", "", "Namespace")
    );
}

#[tokio::test]
async fn prune_deletes_in_reverse_order_and_spares_what_is_not_ours() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let mut kept = configmap("shop", "kept", json!({}));
    // Flux documents the value capitalised; any case works.
    kept["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/prune": "Disabled"});
    let applied = applier
        .apply(vec![
            namespace("shop"),
            widget_crd(),
            widget("shop", "big", 1),
            configmap("shop", "old", json!({})),
            kept,
            configmap("shop", "adopted", json!({})),
        ])
        .await
        .expect("apply");
    // Someone else took this one over: it lost our labels.
    let cms = cm_api(&client, "shop");
    cms.patch(
        "adopted",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {OWNER_NAME: null}}})),
    )
    .await
    .expect("relabel");
    let mut stale = applied.inventory().entries;
    stale.push(ResourceRef::new(
        &ObjectId::new("shop", "never-existed", "", "ConfigMap"),
        "v1",
    ));

    let pruned = applier.prune(&stale).await.expect("prune");
    let got = actions(&pruned);
    let position = |id: &str| {
        got.iter()
            .position(|(i, _)| i == id)
            .unwrap_or_else(|| panic!("{id} not in {got:?}"))
    };
    let crd = "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition";
    assert!(
        position("shop_big_example.com_Widget") < position(crd),
        "{got:?}"
    );
    assert_eq!(
        got.last().expect("entries").0,
        "_shop__Namespace",
        "{got:?}"
    );
    let action = |id: &str| got[position(id)].1.clone();
    assert_eq!(
        action("shop_kept__ConfigMap"),
        Action::Skipped("kustomize.toolkit.fluxcd.io/prune: disabled".into())
    );
    assert!(
        matches!(action("shop_adopted__ConfigMap"), Action::Skipped(ref why) if why.contains(OWNER_NAME)),
        "{got:?}"
    );
    for id in [
        "shop_old__ConfigMap",
        "shop_never-existed__ConfigMap",
        "shop_big_example.com_Widget",
        crd,
        "_shop__Namespace",
    ] {
        assert_eq!(action(id), Action::Deleted, "{id}");
    }
    assert!(get(&cms, "old").await.is_none());
    assert!(
        pruned.summary().contains("ConfigMap/shop/old deleted"),
        "{}",
        pruned.summary()
    );
}

/// An applier acting as `user`, who may read everything and delete only
/// Namespaces (the sandbox enforces RBAC for impersonated users).
async fn applier_that_may_only_delete_namespaces(sb: &TestSandbox, user: &str) -> Applier {
    let rbac = format!(
        "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {user}}}
rules:
- {{apiGroups: ['*'], resources: ['*'], verbs: [get, list]}}
- {{apiGroups: [''], resources: [namespaces], verbs: [delete]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {user}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {user}}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {user}}}
"
    );
    sb.kubectl(&["apply", "-f", "-"], Some(&rbac)).await;
    let kubeconfig = kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).expect("kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    config.auth_info.impersonate = Some(user.to_string());
    Applier::new(kube::Client::try_from(config).expect("client"), options())
}

#[tokio::test]
async fn prune_every_tries_each_delete_and_reports_all_failures() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applied = Applier::new(client.clone(), options())
        .apply(vec![
            namespace("first"),
            namespace("second"),
            configmap("first", "one", json!({})),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "two", "namespace": "second"}}),
        ])
        .await
        .expect("apply");
    let stale = applied.inventory().entries;
    let limited = applier_that_may_only_delete_namespaces(&sb, "pruner").await;

    // Flux's prune: the forbidden ConfigMap and Secret stop the later
    // batch, so both Namespaces stay.
    let error = limited.prune(&stale).await.expect_err("forbidden deletes");
    assert!(matches!(error, ApplyError::Forbidden { .. }), "{error}");
    let namespaces: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk("", "v1", "Namespace")),
    );
    let deleting = |live: Option<Value>| {
        live.is_none_or(|ns| !at(&ns, "/metadata/deletionTimestamp").is_null())
    };
    assert!(
        !deleting(get(&namespaces, "second").await),
        "Flux's prune went on"
    );

    // Helm's: every delete is tried; both failures are reported together.
    let error = limited
        .prune_every(&stale)
        .await
        .expect_err("forbidden deletes");
    let message = error.to_string();
    assert!(
        matches!(error, ApplyError::Deletes(ref all) if all.len() == 2),
        "{message}"
    );
    assert!(
        message.contains("ConfigMap/first/one: delete forbidden"),
        "{message}"
    );
    assert!(
        message.contains(" && Secret/second/two: delete forbidden"),
        "{message}"
    );
    for name in ["first", "second"] {
        assert!(
            deleting(get(&namespaces, name).await),
            "Namespace {name} was not deleted"
        );
    }
}

#[tokio::test]
async fn prune_keeps_the_others_when_nothing_is_prunable() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    applier
        .apply(vec![configmap("default", "old", json!({}))])
        .await
        .expect("apply");
    let stranger = Applier::new(
        client.clone(),
        ApplyOptions {
            owner_labels: BTreeMap::from([(OWNER_NAME.to_string(), "other".to_string())]),
            ..ApplyOptions::default()
        },
    );
    let refs = [ResourceRef::new(
        &ObjectId::new("default", "old", "", "ConfigMap"),
        "v1",
    )];
    let pruned = stranger.prune(&refs).await.expect("prune");
    assert!(matches!(pruned.entries[0].action, Action::Skipped(_)));
    assert!(get(&cm_api(&client, "default"), "old").await.is_some());
    let pruned = applier.prune(&refs).await.expect("prune");
    assert_eq!(pruned.entries[0].action, Action::Deleted);
    assert!(get(&cm_api(&client, "default"), "old").await.is_none());
}

#[tokio::test]
async fn wait_healthy_follows_the_rollout() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let template = |app: &str, restart: &str| {
        json!({"metadata": {"labels": {"app": app}},
               "spec": {"restartPolicy": restart,
                        "containers": [{"name": "main", "image": "busybox:1.36"}]}})
    };
    let changes = applier
        .apply(vec![
            deployment("default", "web", 2, "web"),
            configmap("default", "settings", json!({})),
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"name": "db", "namespace": "default"},
                   "spec": {"replicas": 2, "serviceName": "db",
                            "selector": {"matchLabels": {"app": "db"}},
                            "template": template("db", "Always")}}),
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                   "metadata": {"name": "agent", "namespace": "default"},
                   "spec": {"selector": {"matchLabels": {"app": "agent"}},
                            "template": template("agent", "Always")}}),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": "migrate", "namespace": "default"},
                   "spec": {"template": template("migrate", "Never")}}),
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "data", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}}),
        ])
        .await
        .expect("apply");
    assert_eq!(changes.entries.len(), 6);
    applier
        .wait_healthy(&changes.inventory().entries, Duration::from_secs(20))
        .await
        .expect("the rollout completes");
    let live = get(&deploy_api(&client, "default"), "web")
        .await
        .expect("there");
    assert_eq!(at(&live, "/status/availableReplicas"), 2);
}

#[tokio::test]
async fn wait_healthy_names_failed_and_stuck_rollouts() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let applier = Applier::new(client.clone(), options());
    let rollout = |name: &str, outcome: &str| {
        let mut d = deployment("default", name, 2, name);
        d["metadata"]["annotations"] = json!({"sandbox.driftless.dev/rollout": outcome});
        d
    };
    let changes = applier
        .apply(vec![rollout("broken", "fail")])
        .await
        .expect("apply");
    let err = applier
        .wait_healthy(&changes.inventory().entries, Duration::from_secs(20))
        .await
        .expect_err("the rollout fails");
    // The sandbox names the ReplicaSet `<deployment>-<pod-template-hash>`.
    let [(id, message)] = &err.unhealthy[..] else {
        panic!("one unhealthy object: {:?}", err.unhealthy);
    };
    assert_eq!(
        id,
        &ObjectId::new("default", "broken", "apps", "Deployment")
    );
    assert!(
        message.starts_with("rollout failed: ReplicaSet \"broken-")
            && message.ends_with("\" has timed out progressing."),
        "{message}"
    );
    assert!(
        err.to_string()
            .contains("Deployment/default/broken: rollout failed"),
        "{err}"
    );

    let changes = applier
        .apply(vec![rollout("stuck", "hang")])
        .await
        .expect("apply");
    let err = applier
        .wait_healthy(&changes.inventory().entries, Duration::from_millis(800))
        .await
        .expect_err("the rollout never finishes");
    assert_eq!(err.timeout, Duration::from_millis(800));
    let (id, why) = &err.unhealthy[0];
    assert_eq!(id.name, "stuck");
    assert_eq!(why, "0 of 2 replicas available");
}

#[tokio::test]
async fn objects_created_outside_are_adopted_with_one_write() {
    let sb = TestSandbox::start().await;
    let client = sb.client().await;
    let cms = cm_api(&client, "default");
    let existing: DynamicObject =
        serde_json::from_value(configmap("default", "pre", json!({"a": "1"}))).expect("object");
    cms.create(&PostParams::default(), &existing)
        .await
        .expect("create by hand");
    let applier = Applier::new(client.clone(), options());
    let changes = applier
        .apply(vec![configmap("default", "pre", json!({"a": "1"}))])
        .await
        .expect("apply");
    // Our labels are new on it.
    assert_eq!(changes.entries[0].action, Action::Configured);
    let changes = applier
        .apply(vec![configmap("default", "pre", json!({"a": "1"}))])
        .await
        .expect("apply");
    assert_eq!(changes.entries[0].action, Action::Unchanged);
}
