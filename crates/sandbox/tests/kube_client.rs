//! Conformance with kube-rs: the client loads the kubeconfig the sandbox
//! writes, exactly as a user's program would, and sees the watch event
//! order, server-side apply conflicts, dry runs, pagination and `Status`
//! errors a real API server gives.

use std::collections::BTreeMap;

use crate::common::{DEADLINE, TestSandbox};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

fn configmap(name: &str, labels: &[(&str, &str)], color: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        },
        "data": {"color": color},
    }))
    .expect("a valid ConfigMap")
}

/// The `Status` inside an API error, or a panic naming what came instead.
#[track_caller]
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn color(cm: &ConfigMap) -> &str {
    cm.data
        .as_ref()
        .and_then(|d| d.get("color"))
        .map(String::as_str)
        .unwrap_or_default()
}

/// What a watcher event says, compactly: ("Apply", name) and so on.
fn describe(event: &watcher::Event<ConfigMap>) -> (&'static str, String) {
    let name = |cm: &ConfigMap| cm.metadata.name.clone().unwrap_or_default();
    match event {
        watcher::Event::Init => ("Init", String::new()),
        watcher::Event::InitApply(cm) => ("InitApply", name(cm)),
        watcher::Event::InitDone => ("InitDone", String::new()),
        watcher::Event::Apply(cm) => ("Apply", format!("{}={}", name(cm), color(cm))),
        watcher::Event::Delete(cm) => ("Delete", name(cm)),
    }
}

async fn check_watcher_event_order(config: watcher::Config) {
    let sb = TestSandbox::start("watcher").await;
    let client = sb.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    for name in ["a", "b"] {
        cms.create(&pp, &configmap(name, &[("app", "w")], "blue"))
            .await
            .expect("create");
    }
    cms.create(&pp, &configmap("other", &[("app", "x")], "blue"))
        .await
        .expect("create");

    let mut events = watcher(cms.clone(), config.labels("app=w")).boxed();
    let mut next = async || {
        let event = tokio::time::timeout(DEADLINE, events.try_next())
            .await
            .expect("a watch event in time")
            .expect("the watch has no errors")
            .expect("the watch goes on");
        let (kind, name) = describe(&event);
        (kind, name)
    };
    let expected_init = [
        ("Init", ""),
        ("InitApply", "a"),
        ("InitApply", "b"),
        ("InitDone", ""),
    ];
    for (kind, name) in expected_init {
        assert_eq!(next().await, (kind, name.to_string()));
    }

    cms.create(&pp, &configmap("c", &[("app", "w")], "blue"))
        .await
        .expect("create");
    assert_eq!(next().await, ("Apply", "c=blue".to_string()));
    cms.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"color": "green"}})),
    )
    .await
    .expect("patch");
    assert_eq!(next().await, ("Apply", "b=green".to_string()));
    // Changes outside the selection are not seen...
    cms.patch(
        "other",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"color": "green"}})),
    )
    .await
    .expect("patch");
    cms.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(next().await, ("Delete", "a".to_string()));
    // ...and an object leaving the selection is a deletion.
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "gone"}}})),
    )
    .await
    .expect("patch");
    assert_eq!(next().await, ("Delete", "c".to_string()));
    // An object entering it appears.
    cms.patch(
        "other",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "w"}}})),
    )
    .await
    .expect("patch");
    assert_eq!(next().await, ("Apply", "other=green".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_events_come_in_order_with_list_then_watch() {
    check_watcher_event_order(watcher::Config::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_events_come_in_order_with_streaming_lists() {
    check_watcher_event_order(watcher::Config::default().streaming_lists()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_pages_its_initial_list() {
    let sb = TestSandbox::start("watcher-pages").await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    for i in 0..5 {
        cms.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i}"), &[("app", "p")], "blue"),
        )
        .await
        .expect("create");
    }
    let events: Vec<(&str, String)> = watcher(cms, watcher::Config::default().page_size(2))
        .take(7)
        .map(|e| describe(&e.expect("no watch errors")))
        .collect()
        .await;
    let mut expected = vec![("Init", String::new())];
    expected.extend((0..5).map(|i| ("InitApply", format!("cm-{i}"))));
    expected.push(("InitDone", String::new()));
    assert_eq!(events, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_with_another_manager_and_force_wins() {
    let sb = TestSandbox::start("kube-ssa").await;
    let deployments: Api<Deployment> = Api::namespaced(sb.client().await, "default");
    let manifest = |replicas: i32, image: &str| {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                },
            },
        })
    };
    let with_label = |mut m: serde_json::Value| {
        m["metadata"]["labels"] = json!({"owner": "a"});
        m
    };
    let a = deployments
        .patch(
            "web",
            &PatchParams::apply("a"),
            &Patch::Apply(with_label(manifest(2, "nginx:1"))),
        )
        .await
        .expect("the first apply creates");
    assert_eq!(a.metadata.generation, Some(1));

    let err = api_error(
        deployments
            .patch(
                "web",
                &PatchParams::apply("b"),
                &Patch::Apply(manifest(3, "nginx:1")),
            )
            .await,
    );
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert_eq!(
        err.message,
        r#"Apply failed with 1 conflict: conflict with "a": .spec.replicas"#
    );
    let causes = err
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes.len(), 1, "{err:?}");
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".spec.replicas");
    let live = deployments.get("web").await.expect("get");
    assert_eq!(live.spec.and_then(|s| s.replicas), Some(2));

    let forced = deployments
        .patch(
            "web",
            &PatchParams::apply("b").force(),
            &Patch::Apply(manifest(3, "nginx:1")),
        )
        .await
        .expect("force wins");
    assert_eq!(forced.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(forced.metadata.generation, Some(2));
    let managers: Vec<(String, bool)> = forced
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let owns_replicas = m
                .fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer("/f:spec/f:replicas").is_some());
            (m.manager.unwrap_or_default(), owns_replicas)
        })
        .collect();
    assert!(managers.contains(&("b".into(), true)), "{managers:?}");
    assert!(managers.contains(&("a".into(), false)), "{managers:?}");

    // `a` stops applying the image: it keeps no fields it no longer sets,
    // and fields only it owned are removed.
    let mut without_image = with_label(manifest(3, "unused"));
    without_image["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("template");
    without_image["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("replicas");
    let after = deployments
        .patch(
            "web",
            &PatchParams::apply("a"),
            &Patch::Apply(without_image),
        )
        .await
        .expect("a applies less");
    let spec = after.spec.expect("spec");
    assert_eq!(spec.replicas, Some(3), "b still owns replicas");
    assert_eq!(
        after
            .metadata
            .labels
            .unwrap_or_default()
            .get("owner")
            .map(String::as_str),
        Some("a"),
        "a still applies the label"
    );
    // Now `a` drops the label it alone owns: it is removed.
    let mut bare = manifest(3, "unused");
    bare["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("labels");
    bare.as_object_mut().expect("object").remove("spec");
    let after = deployments
        .patch("web", &PatchParams::apply("a"), &Patch::Apply(bare))
        .await
        .expect("a applies less again");
    assert_eq!(after.metadata.labels.unwrap_or_default().get("owner"), None);
    assert_eq!(after.spec.and_then(|s| s.replicas), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing() {
    let sb = TestSandbox::start("dry-run").await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let created = cms
        .create(&dry, &configmap("dry", &[], "blue"))
        .await
        .expect("a dry-run create succeeds");
    assert_eq!(created.metadata.name.as_deref(), Some("dry"));
    assert!(created.metadata.creation_timestamp.is_some());
    let err = api_error(cms.get("dry").await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));

    let applied = cms
        .patch(
            "dry",
            &PatchParams::apply("a").dry_run(),
            &Patch::Apply(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "dry"},
                "data": {"color": "red"},
            })),
        )
        .await
        .expect("a dry-run apply succeeds");
    assert_eq!(color(&applied), "red");
    assert_eq!(api_error(cms.get("dry").await).code, 404);

    let live = cms
        .create(&PostParams::default(), &configmap("live", &[], "blue"))
        .await
        .expect("create");
    let patched = cms
        .patch(
            "live",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"data": {"color": "green"}})),
        )
        .await
        .expect("a dry-run patch succeeds");
    assert_eq!(color(&patched), "green");
    let mut replacement = live.clone();
    replacement.data = Some([("color".to_string(), "violet".to_string())].into());
    cms.replace("live", &dry, &replacement)
        .await
        .expect("a dry-run replace succeeds");
    cms.delete(
        "live",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .expect("a dry-run delete succeeds");
    let after = cms.get("live").await.expect("still there");
    assert_eq!(after, live, "no dry run changed the object");

    let namespaces: Api<Namespace> = Api::all(cms.clone().into_client());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "dry-ns"}})).expect("a namespace");
    namespaces
        .create(&dry, &ns)
        .await
        .expect("dry-run namespace");
    assert_eq!(api_error(namespaces.get("dry-ns").await).code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_labels_and_pages_with_continue() {
    let sb = TestSandbox::start("list").await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    for i in 0..7 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        cms.create(
            &PostParams::default(),
            &configmap(
                &format!("cm-{i}"),
                &[("app", "pages"), ("tier", tier)],
                "blue",
            ),
        )
        .await
        .expect("create");
    }
    let names = |list: &kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .iter()
            .map(|cm| cm.metadata.name.clone().unwrap_or_default())
            .collect()
    };
    let odd = cms
        .list(&ListParams::default().labels("app=pages,tier=odd"))
        .await
        .expect("list");
    assert_eq!(names(&odd), ["cm-1", "cm-3", "cm-5"]);
    let set = cms
        .list(&ListParams::default().labels("tier in (odd),app notin (x)"))
        .await
        .expect("list");
    assert_eq!(names(&set), ["cm-1", "cm-3", "cm-5"]);
    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=cm-4"))
        .await
        .expect("list");
    assert_eq!(names(&by_name), ["cm-4"]);

    let mut seen = Vec::new();
    let mut params = ListParams::default().labels("app=pages").limit(3);
    let mut pages = 0;
    let first = cms.list(&params).await.expect("first page");
    let first_rv = first.metadata.resource_version.clone();
    // A real server leaves the count out when a selector would make it inexact.
    assert_eq!(first.metadata.remaining_item_count, None);
    let unfiltered = cms
        .list(&ListParams::default().limit(3))
        .await
        .expect("unfiltered page");
    assert!(
        unfiltered
            .metadata
            .remaining_item_count
            .is_some_and(|n| n > 0)
    );
    let mut page = first;
    loop {
        pages += 1;
        seen.extend(names(&page));
        match page.metadata.continue_.clone().filter(|c| !c.is_empty()) {
            Some(token) => {
                // Pages after the first stay on the first page's snapshot.
                cms.create(
                    &PostParams::default(),
                    &configmap(&format!("late-{pages}"), &[("app", "pages")], "blue"),
                )
                .await
                .expect("create");
                params = params.continue_token(&token);
                page = cms.list(&params).await.expect("next page");
                assert_eq!(page.metadata.resource_version, first_rv);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>());

    let err = api_error(
        cms.list(&ListParams::default().continue_token("not-a-token"))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let err = api_error(cms.list(&ListParams::default().labels("a in (")).await);
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
}

/// A raw request with the client's credentials.
async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Result<String, kube::Error> {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.as_bytes().to_vec())
        .expect("a valid request");
    client.request_text(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_status_objects_with_the_right_code_and_reason() {
    let sb = TestSandbox::start("errors").await;
    let client = sb.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let live = cms
        .create(&pp, &configmap("there", &[], "blue"))
        .await
        .expect("create");

    let err = api_error(cms.get("missing").await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, r#"configmaps "missing" not found"#);
    let details = err.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("missing", "configmaps")
    );

    let err = api_error(cms.create(&pp, &configmap("there", &[], "red")).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(err.message, r#"configmaps "there" already exists"#);

    let mut stale = live.clone();
    stale.metadata.resource_version = Some("1".into());
    stale.data = Some([("color".to_string(), "stale".to_string())].into());
    let err = api_error(cms.replace("there", &pp, &stale).await);
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        r#"Operation cannot be fulfilled on configmaps "there": the object has been modified; please apply your changes to the latest version and try again"#
    );

    let err = api_error(cms.create(&pp, &configmap("Not_Valid", &[], "red")).await);
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message
            .starts_with(r#"ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain"#),
        "{err:?}"
    );
    let causes = err.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldValueInvalid");
    assert_eq!(causes[0].field, "metadata.name");

    let err = api_error(
        cms.create(&pp, &configmap("labelled", &[("app", "nginx:1")], "red"))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.starts_with(
            r#"ConfigMap "labelled" is invalid: metadata.labels: Invalid value: "nginx:1": a valid label must be"#
        ),
        "{err:?}"
    );

    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    let err = api_error(elsewhere.create(&pp, &configmap("x", &[], "red")).await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, r#"namespaces "nowhere" not found"#);

    let path = "/api/v1/namespaces/default/configmaps";
    let err = api_error(raw(&client, "POST", path, "application/json", r#"{"kind": "#).await);
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let err = api_error(
        raw(
            &client,
            "POST",
            path,
            "application/yaml",
            "metadata: {name: [unclosed\n",
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let err = api_error(
        raw(
            &client,
            "PATCH",
            &format!("{path}/there?fieldManager=a"),
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\ndata: {color: [\n",
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let err = api_error(
        raw(
            &client,
            "PATCH",
            &format!("{path}/there"),
            "application/merge-patch+json",
            "{not json",
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let err = api_error(
        raw(
            &client,
            "POST",
            path,
            "application/json",
            r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}"#,
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    let err = api_error(raw(&client, "GET", "/apis/example.com/v1/gizmos", "", "").await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    let err = api_error(raw(&client, "GET", "/api/v1/gizmos", "", "").await);
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));

    let after = cms.get("there").await.expect("get");
    assert_eq!(after, live, "rejected writes change nothing");
    let all = cms.list(&ListParams::default()).await.expect("list");
    assert_eq!(all.items.len(), 1);

    // Without the bearer token: 401 Unauthorized.
    let mut kubeconfig =
        kube::config::Kubeconfig::read_from(sb.kubeconfig_path()).expect("the kubeconfig reads");
    for user in &mut kubeconfig.auth_infos {
        if let Some(auth) = user.auth_info.as_mut() {
            auth.token = None;
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let anonymous: Api<ConfigMap> =
        Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    let err = api_error(anonymous.get("there").await);
    assert_eq!((err.code, err.reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_resource_version_sees_later_events_only() {
    let sb = TestSandbox::start("watch-rv").await;
    let client = sb.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let pp = PostParams::default();
    let first = cms
        .create(&pp, &configmap("first", &[], "blue"))
        .await
        .expect("create");
    let rv = first.metadata.resource_version.clone().expect("a version");
    cms.create(&pp, &configmap("second", &[], "blue"))
        .await
        .expect("create");
    let mut stream = cms
        .watch(&kube::api::WatchParams::default().timeout(10), &rv)
        .await
        .expect("watch")
        .boxed();
    let event = tokio::time::timeout(DEADLINE, stream.try_next())
        .await
        .expect("an event in time")
        .expect("no error")
        .expect("an event");
    match event {
        kube::api::WatchEvent::Added(cm) => {
            assert_eq!(cm.metadata.name.as_deref(), Some("second"));
        }
        other => panic!("expected ADDED second, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_have_a_status_subresource_and_spec_generations() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

    let sb = TestSandbox::start("kube-crd").await;
    let client = sb.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
            }],
        },
    }))
    .expect("a CRD");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create the CRD");
    let established = crate::common::eventually("the CRD to be established", || async {
        let crd = crds.get("gadgets.example.com").await.ok()?;
        let conditions = crd.status?.conditions?;
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
            .then_some(())
    })
    .await;
    let () = established;

    let gvk = GroupVersionKind::gvk("example.com", "v1alpha1", "Gadget");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "gadgets");
    let gadgets: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut gadget = DynamicObject::new("g1", &resource);
    gadget.data = json!({"spec": {"size": 1}, "status": {"ready": true}});
    let created = gadgets
        .create(&PostParams::default(), &gadget)
        .await
        .expect("create a gadget");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(
        created.data.get("status").is_none(),
        "status is not set through the main resource: {created:?}"
    );

    let with_status = gadgets
        .patch_status(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 99}})),
        )
        .await
        .expect("status patch");
    assert_eq!(with_status.data["status"]["ready"], true);
    assert_eq!(
        with_status.data["spec"]["size"], 1,
        "status writes leave the spec"
    );
    assert_eq!(with_status.metadata.generation, Some(1));

    let relabelled = gadgets
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("label patch");
    assert_eq!(
        relabelled.metadata.generation,
        Some(1),
        "metadata is not spec"
    );
    let resized = gadgets
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 2}, "status": {"ready": false}})),
        )
        .await
        .expect("spec patch");
    assert_eq!(resized.metadata.generation, Some(2));
    assert_eq!(
        resized.data["status"]["ready"], true,
        "main writes leave the status"
    );

    // Deleting the CRD takes its objects and its API with it.
    crds.delete("gadgets.example.com", &DeleteParams::default())
        .await
        .expect("delete the CRD");
    crate::common::eventually("the gadgets API to go away", || async {
        match gadgets.list(&ListParams::default()).await {
            Err(kube::Error::Api(status)) if status.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_namespace_deletes_its_objects_and_watchers_see_it() {
    let sb = TestSandbox::start("kube-ns").await;
    let client = sb.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("a namespace");
    let created = namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create");
    assert_eq!(
        created.status.and_then(|s| s.phase).as_deref(),
        Some("Active")
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    for name in ["a", "b"] {
        cms.create(&PostParams::default(), &configmap(name, &[], "blue"))
            .await
            .expect("create");
    }
    let all: Api<ConfigMap> = Api::all(client.clone());
    let mut events = watcher(
        all,
        watcher::Config::default().fields("metadata.namespace=team"),
    )
    .boxed();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let event = tokio::time::timeout(DEADLINE, events.try_next())
            .await
            .expect("an event in time")
            .expect("no watch error")
            .expect("the watch goes on");
        seen.push(describe(&event).0);
        if matches!(event, watcher::Event::InitDone) {
            namespaces
                .delete("team", &DeleteParams::default())
                .await
                .expect("delete the namespace");
        }
    }
    assert_eq!(seen, ["Init", "InitApply", "InitApply", "InitDone"]);
    let mut deleted = Vec::new();
    while deleted.len() < 2 {
        let event = tokio::time::timeout(DEADLINE, events.try_next())
            .await
            .expect("an event in time")
            .expect("no watch error")
            .expect("the watch goes on");
        let (kind, name) = describe(&event);
        assert_eq!(kind, "Delete");
        deleted.push(name);
    }
    deleted.sort();
    assert_eq!(deleted, ["a", "b"]);
    crate::common::eventually("the namespace to be gone", || async {
        match namespaces.get("team").await {
            Err(kube::Error::Api(status)) if status.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
    let err = api_error(
        cms.create(&PostParams::default(), &configmap("late", &[], "blue"))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_only_reads_and_delete_collection() {
    let sb = TestSandbox::start("kube-meta").await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        cms.create(
            &PostParams::default(),
            &configmap(name, &[("app", app)], "blue"),
        )
        .await
        .expect("create");
    }
    let meta = cms.get_metadata("a").await.expect("metadata of one");
    assert_eq!(meta.metadata.name.as_deref(), Some("a"));
    assert_eq!(
        meta.types.as_ref().map(|t| t.kind.as_str()),
        Some("PartialObjectMetadata")
    );
    let list = cms
        .list_metadata(&ListParams::default().labels("app=web"))
        .await
        .expect("metadata of many");
    let names: Vec<_> = list
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list.types.kind, "PartialObjectMetadataList");
    assert_eq!(list.types.api_version, "meta.k8s.io/v1");

    let deleted = cms
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("app=web"),
        )
        .await
        .expect("delete collection");
    let deleted_names: Vec<_> = deleted
        .left()
        .expect("a list of what was deleted")
        .items
        .iter()
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    assert_eq!(deleted_names, ["a", "b"]);
    let left = cms.list(&ListParams::default()).await.expect("list");
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].metadata.name.as_deref(), Some("c"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_applied_through_the_status_subresource() {
    let sb = TestSandbox::start("kube-status").await;
    let deployments: Api<Deployment> = Api::namespaced(sb.client().await, "default");
    let manifest = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            // The simulated rollout leaves this one alone.
            "annotations": {"sandbox.driftless.dev/rollout": "hang"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
            },
        },
    });
    deployments
        .patch("web", &PatchParams::apply("owner"), &Patch::Apply(manifest))
        .await
        .expect("apply");
    let status = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "status": {"conditions": [{"type": "Custom", "status": "True", "reason": "Test", "message": ""}]},
    });
    let patched = deployments
        .patch_status(
            "web",
            &PatchParams::apply("status-writer"),
            &Patch::Apply(status),
        )
        .await
        .expect("status apply");
    let conditions = patched
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(
        conditions.iter().any(|c| c.type_ == "Custom"),
        "{conditions:?}"
    );
    assert_eq!(patched.metadata.generation, Some(1));
    let entry = patched
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.manager.as_deref() == Some("status-writer"))
        .expect("the status writer is a manager");
    assert_eq!(entry.subresource.as_deref(), Some("status"));
    assert_eq!(entry.operation.as_deref(), Some("Apply"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_merge_by_key_in_strategic_patches_and_apply() {
    let sb = TestSandbox::start("kube-lists").await;
    let deployments: Api<Deployment> = Api::namespaced(sb.client().await, "default");
    let manifest = |containers: serde_json::Value| {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"sandbox.driftless.dev/rollout": "hang"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": containers},
                },
            },
        })
    };
    let containers = |d: &Deployment| -> Vec<(String, String, Vec<String>)> {
        d.spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map(|p| {
                p.containers
                    .iter()
                    .map(|c| {
                        let env = c
                            .env
                            .iter()
                            .flatten()
                            .map(|e| format!("{}={}", e.name, e.value.clone().unwrap_or_default()))
                            .collect();
                        (c.name.clone(), c.image.clone().unwrap_or_default(), env)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Two appliers each own one container of the same list.
    deployments
        .patch(
            "web",
            &PatchParams::apply("app-team"),
            &Patch::Apply(manifest(
                json!([{"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}]),
            )),
        )
        .await
        .expect("first apply");
    let both = deployments
        .patch(
            "web",
            &PatchParams::apply("mesh"),
            &Patch::Apply(manifest(json!([{"name": "proxy", "image": "proxy:1"}]))),
        )
        .await
        .expect("second apply adds a container");
    assert_eq!(
        containers(&both),
        [
            ("app".into(), "app:1".into(), vec!["A=1".to_string()]),
            ("proxy".into(), "proxy:1".into(), vec![])
        ]
    );

    // Strategic merge: env merges by name, `$patch: delete` removes one item.
    let patched = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "env": [{"name": "B", "value": "2"}]},
                {"name": "proxy", "$patch": "delete"},
            ]}}}})),
        )
        .await
        .expect("strategic patch");
    assert_eq!(
        containers(&patched),
        [(
            "app".into(),
            "app:1".into(),
            vec!["A=1".to_string(), "B=2".to_string()]
        )]
    );

    // The mesh re-applies its container; then stops applying it: removed.
    deployments
        .patch(
            "web",
            &PatchParams::apply("mesh"),
            &Patch::Apply(manifest(json!([{"name": "proxy", "image": "proxy:2"}]))),
        )
        .await
        .expect("re-apply");
    let without = deployments
        .patch(
            "web",
            &PatchParams::apply("mesh"),
            &Patch::Apply(json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web"},
            })),
        )
        .await
        .expect("apply nothing");
    let names: Vec<String> = containers(&without).into_iter().map(|c| c.0).collect();
    assert_eq!(names, ["app"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_from_before_a_restart_are_gone() {
    let mut sb = TestSandbox::start("kube-gone").await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    let mut first_rv = String::new();
    for i in 0..3 {
        let cm = cms
            .create(
                &PostParams::default(),
                &configmap(&format!("cm-{i}"), &[], "blue"),
            )
            .await
            .expect("create");
        if i == 0 {
            first_rv = cm.metadata.resource_version.expect("a version");
        }
    }
    let page = cms
        .list(&ListParams::default().limit(1))
        .await
        .expect("first page");
    let token = page.metadata.continue_.expect("more pages");
    // A write after the first page: the page's snapshot is now history.
    cms.create(&PostParams::default(), &configmap("late", &[], "blue"))
        .await
        .expect("create");

    // The event history starts afresh at a restart: older versions are
    // gone for watches and paginated lists alike (410 Expired).
    sb.restart().await;
    let cms: Api<ConfigMap> = Api::namespaced(sb.client().await, "default");
    let mut stream = cms
        .watch(&kube::api::WatchParams::default().timeout(10), &first_rv)
        .await
        .expect("the watch starts")
        .boxed();
    let event = tokio::time::timeout(DEADLINE, stream.try_next())
        .await
        .expect("an event in time")
        .expect("a decodable event")
        .expect("an event");
    match event {
        kube::api::WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    let err = api_error(
        cms.list(&ListParams::default().limit(1).continue_token(&token))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (410, "Expired"));
    // kube's watcher recovers by listing again.
    let events: Vec<(&str, String)> = watcher(cms, watcher::Config::default())
        .take(6)
        .map(|e| describe(&e.expect("no watch errors")))
        .collect()
        .await;
    assert_eq!(events[5], ("InitDone", String::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_options_may_come_in_protobuf() {
    let sb = TestSandbox::start("kube-delete-proto").await;
    let client = sb.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    for name in ["kept", "gone"] {
        cms.create(&pp, &configmap(name, &[], "blue"))
            .await
            .expect("create");
    }
    let protobuf = "application/vnd.kubernetes.protobuf";
    // Preconditions {uid: "wrong"}: the delete must be refused, so the
    // options were read rather than skipped.
    let wrong_uid = "k8s\0\n\x13\n\x02v1\x12\rDeleteOptions\x12\x09\x12\x07\n\x05wrong";
    let path = "/api/v1/namespaces/default/configmaps";
    let err = raw(
        &client,
        "DELETE",
        &format!("{path}/kept"),
        protobuf,
        wrong_uid,
    )
    .await
    .expect_err("the precondition fails");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 409),
        "{err:?}"
    );
    // What `helm uninstall` sends: an empty v1 DeleteOptions.
    let empty = "k8s\0\n\x13\n\x02v1\x12\rDeleteOptions\x12\0\x1a\0\"\0";
    raw(&client, "DELETE", &format!("{path}/gone"), protobuf, empty)
        .await
        .expect("deleted");
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["kept"]);
}
