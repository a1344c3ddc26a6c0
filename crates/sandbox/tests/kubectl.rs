//! Conformance with the real `kubectl` (v1.32): every test starts its own
//! sandbox on a loopback port and drives it with the binary, the way a user
//! would, through `-f -` manifests on stdin. Outputs and exit codes are the
//! ones kubectl prints against a real API server.
//!
//! kubectl's typed generators (`kubectl create job ...`) send protobuf
//! bodies; `every_typed_generator_creates_its_object` drives each of them.

use crate::common::{TestSandbox, eventually};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: default
  labels:
    app: web
data:
  color: blue
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports:
        - containerPort: 80
      - name: sidecar
        image: busybox:1.36
";

const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wg]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Shape
      type: string
      jsonPath: .spec.shape
      priority: 1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
              shape:
                type: string
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
";

fn configmap_with_color(color: &str) -> String {
    CONFIGMAP.replace("color: blue", &format!("color: {color}"))
}

/// `kubectl get <args> -o json`, which must succeed, parsed.
/// `kubectl delete`'s line: kubectl 1.32 prints `<object> deleted`, newer
/// releases add `from <namespace> namespace` for namespaced objects.
fn assert_deleted(stdout: &str, object: &str, namespace: Option<&str>) {
    let line = stdout.trim();
    let short = format!("{object} deleted");
    let long = namespace.map(|ns| format!("{object} deleted from {ns} namespace"));
    assert!(
        line == short || long.as_deref() == Some(line),
        "kubectl delete printed {line:?}"
    );
}

async fn get_json(sb: &TestSandbox, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    sb.kubectl(&all).run().await.ok().json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_apply_creates_then_reports_unchanged_and_configured() {
    let sb = TestSandbox::start("csa").await;
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/web-config created");
    let created = get_json(&sb, &["configmap", "web-config"]).await;

    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/web-config unchanged");
    let after_noop = get_json(&sb, &["configmap", "web-config"]).await;
    assert_eq!(
        after_noop["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"],
        "an unchanged apply writes nothing"
    );

    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(&configmap_with_color("green"))
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/web-config configured");
    let cm = get_json(&sb, &["configmap", "web-config"]).await;
    assert_eq!(cm["data"]["color"], "green");
    assert_eq!(cm["metadata"]["uid"], created["metadata"]["uid"]);
    let last_applied =
        cm["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .expect("client-side apply keeps its last applied configuration");
    assert!(last_applied.contains("green"), "{last_applied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflicts_between_managers_and_force_wins() {
    let sb = TestSandbox::start("ssa").await;
    let out = sb
        .kubectl(&["apply", "--server-side", "--field-manager=alice", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/web-config serverside-applied");

    // Applying the same value again is not a conflict: both share the field.
    let out = sb
        .kubectl(&["apply", "--server-side", "--field-manager=carol", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/web-config serverside-applied");

    let bob = configmap_with_color("red");
    let out = sb
        .kubectl(&["apply", "--server-side", "--field-manager=bob", "-f", "-"])
        .stdin(&bob)
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(
            "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .data.color\nconflicts with \"carol\":\n- .data.color"
        ),
        "{out:#?}"
    );
    assert!(out.stderr.contains("--force-conflicts"), "{out:#?}");
    let cm = get_json(&sb, &["configmap", "web-config"]).await;
    assert_eq!(cm["data"]["color"], "blue", "a conflict changes nothing");

    let out = sb
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=bob",
            "--force-conflicts",
            "-f",
            "-",
        ])
        .stdin(&bob)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "configmap/web-config serverside-applied");
    let cm = get_json(&sb, &["configmap", "web-config", "--show-managed-fields"]).await;
    assert_eq!(cm["data"]["color"], "red");
    let managers = cm["metadata"]["managedFields"]
        .as_array()
        .expect("managed fields");
    let owns_color = |m: &Value| m["fieldsV1"]["f:data"].get("f:color").is_some();
    let owners: Vec<&str> = managers
        .iter()
        .filter(|m| owns_color(m))
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(owners, ["bob"], "force takes the field: {managers:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflict_with_a_single_manager_is_named() {
    let sb = TestSandbox::start("ssa1").await;
    sb.kubectl(&["apply", "--server-side", "--field-manager=alice", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    let out = sb
        .kubectl(&["apply", "--server-side", "--field-manager=bob", "-f", "-"])
        .stdin(&configmap_with_color("red"))
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains(r#"Apply failed with 1 conflict: conflict with "alice": .data.color"#),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_filters_by_label_and_field_selectors() {
    let sb = TestSandbox::start("get").await;
    let manifests = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: default, labels: {app: web, tier: front}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: default, labels: {app: web, tier: back}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: default, labels: {app: db}}
";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(manifests)
        .run()
        .await
        .ok();
    let names = |list: &Value| -> Vec<String> {
        assert_eq!(list["kind"], "List");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["metadata"]["name"].as_str().expect("name").to_string())
            .collect()
    };
    let list = get_json(&sb, &["configmaps", "-l", "app=web"]).await;
    assert_eq!(names(&list), ["a", "b"]);
    let list = get_json(&sb, &["configmaps", "-l", "app=web,tier!=front"]).await;
    assert_eq!(names(&list), ["b"]);
    let list = get_json(&sb, &["configmaps", "-l", "tier in (front,back),app"]).await;
    assert_eq!(names(&list), ["a", "b"]);
    let list = get_json(&sb, &["configmaps", "-l", "!tier,app"]).await;
    assert_eq!(names(&list), ["c"]);
    let list = get_json(&sb, &["configmaps", "--field-selector", "metadata.name=b"]).await;
    assert_eq!(names(&list), ["b"]);
    let list = get_json(
        &sb,
        &[
            "configmaps",
            "-A",
            "--field-selector",
            "metadata.namespace=default,metadata.name!=a",
            "-l",
            "app",
        ],
    )
    .await;
    assert_eq!(names(&list), ["b", "c"]);

    let yaml = sb
        .kubectl(&["get", "configmaps", "-l", "tier=front", "-o", "yaml"])
        .run()
        .await
        .ok();
    let list: Value = serde_saphyr::from_str(&yaml.stdout).expect("kubectl prints YAML");
    assert_eq!(names(&list), ["a"]);
    assert_eq!(list["items"][0]["apiVersion"], "v1");
    assert_eq!(list["items"][0]["kind"], "ConfigMap");

    // The default table output, with a selector matching nothing.
    let out = sb
        .kubectl(&["get", "configmaps", "-l", "app=none"])
        .run()
        .await
        .ok();
    assert_eq!(
        out.stderr.trim(),
        "No resources found in default namespace."
    );
    let out = sb
        .kubectl(&["get", "configmaps", "-l", "app=web"])
        .run()
        .await
        .ok();
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("NAME") && header.contains("DATA"),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_exits_one_with_a_change_and_zero_without() {
    let sb = TestSandbox::start("diff").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    let before = get_json(&sb, &["configmap", "web-config"]).await;

    let out = sb
        .kubectl(&["diff", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await;
    assert_eq!(out.code, 0, "no change, no diff: {out:#?}");
    assert_eq!(out.stdout, "");

    let out = sb
        .kubectl(&["diff", "-f", "-"])
        .stdin(&configmap_with_color("green"))
        .run()
        .await;
    assert_eq!(out.code, 1, "a change is a diff: {out:#?}");
    assert!(out.stdout.contains("-  color: blue"), "{out:#?}");
    assert!(out.stdout.contains("+  color: green"), "{out:#?}");

    let after = get_json(&sb, &["configmap", "web-config"]).await;
    assert_eq!(after, before, "diff is a dry run");

    // A new object diffs against nothing.
    let out = sb
        .kubectl(&["diff", "-f", "-"])
        .stdin(&CONFIGMAP.replace("web-config", "fresh"))
        .run()
        .await;
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stdout.contains("+  name: fresh"), "{out:#?}");
    sb.kubectl(&["get", "configmap", "fresh"])
        .run()
        .await
        .code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_of_each_type() {
    let sb = TestSandbox::start("patch").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    // kubectl replaces at the resourceVersion it reads: let the simulated
    // rollout finish writing status first, or the write races it.
    sb.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .run()
        .await
        .ok();
    // Replacing with the same spec is no spec change, though the stored
    // one has server defaults (port protocols) the manifest leaves out.
    sb.kubectl(&["replace", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    let before = get_json(&sb, &["deployment", "web"]).await;
    assert_eq!(before["metadata"]["generation"], 1);
    let ports = &before["spec"]["template"]["spec"]["containers"][0]["ports"];
    assert_eq!(ports[0]["protocol"], "TCP");
    // Other defaults a real server writes.
    assert_eq!(before["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(
        before["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );
    assert_eq!(before["spec"]["revisionHistoryLimit"], 10);
    let pod = &before["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(pod["containers"][1]["terminationMessagePolicy"], "File");
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/web configured");
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/web unchanged");
    assert_eq!(
        get_json(&sb, &["deployment", "web"]).await["metadata"]["generation"],
        1
    );

    // Strategic merge: containers merge by name, the sidecar stays.
    let out = sb
        .kubectl(&[
            "patch",
            "deployment",
            "web",
            "--type=strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}"#,
        ])
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/web patched");
    let d = get_json(&sb, &["deployment", "web"]).await;
    let containers = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 2, "{containers:#?}");
    assert_eq!(containers[0]["name"], "app");
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(d["metadata"]["generation"], 2);

    // Merge patch: a label, metadata only, so no new generation.
    sb.kubectl(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"merge"}}}"#,
    ])
    .run()
    .await
    .ok();
    let d = get_json(&sb, &["deployment", "web"]).await;
    assert_eq!(d["metadata"]["labels"]["patched"], "merge");
    assert_eq!(d["metadata"]["generation"], 2);

    // JSON patch.
    sb.kubectl(&[
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3},{"op":"remove","path":"/spec/template/spec/containers/1"}]"#,
    ])
    .run()
    .await
    .ok();
    let d = get_json(&sb, &["deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(d["metadata"]["generation"], 3);

    // A patch that changes nothing reports so. kubectl compares the object
    // it read with the one the patch returns, so let the simulated rollout
    // finish writing status first.
    sb.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .run()
        .await
        .ok();
    let out = sb
        .kubectl(&[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3}}"#,
        ])
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/web patched (no change)");

    // A JSON patch whose test fails is rejected and changes nothing.
    let out = sb
        .kubectl(&[
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":9},{"op":"replace","path":"/spec/replicas","value":9}]"#,
        ])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.starts_with("The request is invalid:"),
        "a failed test is 422 Invalid: {out:#?}"
    );
    // (The simulated rollout may write status meanwhile; the spec is ours.)
    let after = get_json(&sb, &["deployment", "web"]).await;
    assert_eq!(after["spec"], d["spec"]);
    assert_eq!(after["metadata"]["generation"], 3);

    // Patching what is not there.
    let out = sb
        .kubectl(&["patch", "configmap", "missing", "--type=merge", "-p", "{}"])
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (NotFound): configmaps "missing" not found"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_objects_and_namespaces_with_their_contents() {
    let sb = TestSandbox::start("delete").await;
    let manifests = "\
apiVersion: v1
kind: Namespace
metadata: {name: doomed}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: doomed}
---
apiVersion: v1
kind: Secret
metadata: {name: two, namespace: doomed}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: keep, namespace: default}
";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(manifests)
        .run()
        .await
        .ok();
    let secret = get_json(&sb, &["secret", "two", "-n", "doomed"]).await;
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==");

    let out = sb
        .kubectl(&["delete", "configmap", "one", "-n", "doomed"])
        .run()
        .await
        .ok();
    assert_deleted(&out.stdout, r#"configmap "one""#, Some("doomed"));
    let out = sb
        .kubectl(&["get", "configmap", "one", "-n", "doomed"])
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (NotFound): configmaps "one" not found"#
    );

    let out = sb
        .kubectl(&["delete", "namespace", "doomed", "--timeout=30s"])
        .run()
        .await
        .ok();
    assert_deleted(&out.stdout, r#"namespace "doomed""#, None);
    let out = sb
        .kubectl(&["get", "namespace", "doomed"])
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (NotFound): namespaces "doomed" not found"#
    );
    let all = get_json(&sb, &["configmaps,secrets", "-A"]).await;
    let left: Vec<&Value> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["metadata"]["namespace"] == "doomed")
        .collect();
    assert!(
        left.is_empty(),
        "objects outlived their namespace: {left:#?}"
    );
    get_json(&sb, &["configmap", "keep"]).await;

    // Creating in a namespace that no longer exists is refused.
    let out = sb
        .kubectl(&["create", "-f", "-"])
        .stdin("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: doomed}\n")
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains(r#"Error from server (NotFound): error when creating "STDIN": namespaces "doomed" not found"#),
        "{out:#?}"
    );

    // Deleting what is not there.
    let out = sb
        .kubectl(&["delete", "configmap", "one", "-n", "default"])
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (NotFound): configmaps "one" not found"#
    );
    sb.kubectl(&["delete", "configmap", "one", "--ignore-not-found"])
        .run()
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_a_deployment_to_become_available() {
    let sb = TestSandbox::start("wait").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    let out = sb
        .kubectl(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=30s",
        ])
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/web condition met");
    let out = sb
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .run()
        .await
        .ok();
    assert!(
        out.stdout
            .contains(r#"deployment "web" successfully rolled out"#),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["get", "deployments", "-o", "wide"])
        .run()
        .await
        .ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{out:#?}"
    );
    assert_eq!(lines[1][..4], ["web", "2/2", "2", "2"], "{out:#?}");
    assert_eq!(
        lines[1][5..],
        ["app,sidecar", "nginx:1.27,busybox:1.36", "app=web"],
        "{out:#?}"
    );
    let d = get_json(&sb, &["deployment", "web"]).await;
    assert_eq!(d["status"]["observedGeneration"], 1);
    assert_eq!(d["status"]["readyReplicas"], 2);
    assert_eq!(d["status"]["availableReplicas"], 2);
    assert_eq!(d["status"]["updatedReplicas"], 2);

    // A new generation rolls out again.
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&DEPLOYMENT.replace("replicas: 2", "replicas: 4"))
        .run()
        .await
        .ok();
    sb.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .run()
        .await
        .ok();
    let d = get_json(&sb, &["deployment", "web"]).await;
    assert_eq!(d["status"]["observedGeneration"], 2);
    assert_eq!(d["status"]["availableReplicas"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollout_never_becomes_available() {
    let sb = TestSandbox::start("fail").await;
    let failing = DEPLOYMENT.replace(
        "  namespace: default\n",
        "  namespace: default\n  annotations:\n    sandbox.driftless.dev/rollout: fail\n",
    );
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&failing)
        .run()
        .await
        .ok();
    // The rollout is observed and fails: Progressing turns False.
    let d = eventually("the failed rollout to be reported", || async {
        let d = get_json(&sb, &["deployment", "web"]).await;
        let progressing = d["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Progressing")?
            .clone();
        (progressing["status"] == "False").then_some(d)
    })
    .await;
    let conditions = d["status"]["conditions"].as_array().expect("conditions");
    let progressing = conditions
        .iter()
        .find(|c| c["type"] == "Progressing")
        .expect("Progressing");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert!(
        !conditions
            .iter()
            .any(|c| c["type"] == "Available" && c["status"] == "True"),
        "{conditions:#?}"
    );
    let out = sb
        .kubectl(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=2s",
        ])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains("timed out waiting for the condition"),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=10s"])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains(r#"error: deployment "web" exceeded its progress deadline"#),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_served_once_their_crd_is_established() {
    let sb = TestSandbox::start("crd").await;
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(CRD)
        .run()
        .await
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    );
    let out = sb
        .kubectl(&[
            "wait",
            "--for=condition=established",
            "crd/widgets.example.com",
            "--timeout=30s",
        ])
        .run()
        .await
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com condition met"
    );

    let widgets = "\
apiVersion: example.com/v1
kind: Widget
metadata: {name: small, namespace: default, labels: {size: s}}
spec: {size: 3}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: large, namespace: default, labels: {size: l}}
spec: {size: 30, shape: round}
";
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(widgets)
        .run()
        .await
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "widget.example.com/small created\nwidget.example.com/large created"
    );

    let w = get_json(&sb, &["widget", "small"]).await;
    assert_eq!(w["spec"]["size"], 3);
    assert_eq!(w["metadata"]["generation"], 1);
    let list = get_json(&sb, &["wg", "-l", "size=l"]).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["items"][0]["metadata"]["name"], "large");

    let out = sb.kubectl(&["get", "widgets"]).run().await.ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    // Only the declared columns (no Age), and priority columns only wide.
    assert_eq!(lines[0], ["NAME", "SIZE"], "{out:#?}");
    assert_eq!(lines[1], ["large", "30"], "{out:#?}");
    assert_eq!(lines[2], ["small", "3"], "{out:#?}");
    let out = sb
        .kubectl(&["get", "widgets", "-o", "wide"])
        .run()
        .await
        .ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "SIZE", "SHAPE"], "{out:#?}");
    assert_eq!(lines[1], ["large", "30", "round"], "{out:#?}");
    assert_eq!(
        lines[2],
        ["small", "3"],
        "a missing value is a null cell: {out:#?}"
    );
    let out = sb
        .kubectl(&["get", "widgets.example.com", "-A"])
        .run()
        .await
        .ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "SIZE"], "{out:#?}");

    // Deleting the CRD removes its objects and its API.
    sb.kubectl(&["delete", "crd", "widgets.example.com"])
        .run()
        .await
        .ok();
    let out = sb.kubectl(&["get", "widgets"]).run().await.code(1);
    assert!(
        out.stderr
            .contains(r#"error: the server doesn't have a resource type "widgets""#),
        "{out:#?}"
    );
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CRD)
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
    let out = sb.kubectl(&["get", "widgets"]).run().await.ok();
    assert_eq!(
        out.stderr.trim(),
        "No resources found in default namespace."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_sees_a_change() {
    let sb = TestSandbox::start("watch").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    let mut watch = sb
        .kubectl(&[
            "get",
            "configmap",
            "web-config",
            "-w",
            "-o",
            r#"jsonpath={.data.color}{"\n"}"#,
        ])
        .spawn();
    let stdout = watch.child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut next_line = async || {
        tokio::time::timeout(crate::common::DEADLINE, lines.next_line())
            .await
            .expect("the watch prints in time")
            .expect("kubectl's stdout is readable")
            .expect("the watch is still running")
    };
    assert_eq!(next_line().await, "blue");
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&configmap_with_color("green"))
        .run()
        .await
        .ok();
    assert_eq!(next_line().await, "green");
    sb.kubectl(&[
        "patch",
        "configmap",
        "web-config",
        "--type=merge",
        "-p",
        r#"{"data":{"color":"violet"}}"#,
    ])
    .run()
    .await
    .ok();
    assert_eq!(next_line().await, "violet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_survive_a_restart_with_the_same_data_dir() {
    let mut sb = TestSandbox::start("restart").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CRD)
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/widgets.example.com",
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&["apply", "-f", "-"])
        .stdin("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: {size: 1}\n")
        .run()
        .await
        .ok();
    let cm = get_json(&sb, &["configmap", "web-config"]).await;
    let w = get_json(&sb, &["widget", "w"]).await;
    // A rollout still pending at shutdown finishes after the restart.
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();

    sb.restart().await;
    sb.kubectl(&[
        "wait",
        "--for=condition=Available",
        "deployment/web",
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
    let cm_after = get_json(&sb, &["configmap", "web-config"]).await;
    assert_eq!(cm_after, cm);
    let w_after = get_json(&sb, &["widget", "w"]).await;
    assert_eq!(w_after, w);
    // Writes after the restart continue the resource versions.
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&configmap_with_color("green"))
        .run()
        .await
        .ok();
    let cm_new = get_json(&sb, &["configmap", "web-config"]).await;
    let rv = |v: &Value| -> u64 {
        v["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("numeric resourceVersion")
    };
    let d = get_json(&sb, &["deployment", "web"]).await;
    assert!(rv(&cm_new) > rv(&d), "{cm_new:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_errors_a_real_server_gives_and_changes_nothing() {
    let sb = TestSandbox::start("bad").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .ok();
    let stored = get_json(&sb, &["configmap", "web-config"]).await;
    let count_before = sb
        .sandbox
        .as_ref()
        .map(driftless_sandbox::Sandbox::object_count);

    // Malformed YAML: kubectl refuses it before sending anything.
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n")
        .run()
        .await
        .code(1);
    assert!(out.stderr.contains("error"), "{out:#?}");

    // Malformed JSON sent as is reaches the server: 400 BadRequest.
    let out = sb
        .kubectl(&[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            "-",
        ])
        .stdin(r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "#)
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.starts_with("Error from server (BadRequest):"),
        "{out:#?}"
    );
    // A body of the wrong kind for the URL: 400 BadRequest.
    let out = sb
        .kubectl(&[
            "create",
            "--raw",
            "/api/v1/namespaces/default/configmaps",
            "-f",
            "-",
        ])
        .stdin(r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wrong"}}"#)
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.starts_with("Error from server (BadRequest):"),
        "{out:#?}"
    );

    // Unknown kind: discovery has no mapping for it.
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin("apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g, namespace: default}\n")
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(
            r#"resource mapping not found for name: "g" namespace: "default" from "STDIN": no matches for kind "Gizmo" in version "example.com/v1""#
        ),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("ensure CRDs are installed first"),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin("apiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n")
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains(r#"no matches for kind "Gizmo" in version "v1""#),
        "{out:#?}"
    );
    let out = sb.kubectl(&["get", "gizmos"]).run().await.code(1);
    assert!(
        out.stderr
            .contains(r#"error: the server doesn't have a resource type "gizmos""#),
        "{out:#?}"
    );

    // A stale resourceVersion: 409 Conflict.
    let stale = CONFIGMAP.replace(
        "  namespace: default\n",
        "  namespace: default\n  resourceVersion: \"1\"\n",
    );
    let out = sb
        .kubectl(&["replace", "-f", "-"])
        .stdin(&stale.replace("color: blue", "color: stale"))
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (Conflict): error when replacing "STDIN": Operation cannot be fulfilled on configmaps "web-config": the object has been modified; please apply your changes to the latest version and try again"#
    );
    // An unparsable resourceVersion is a different error, still a refusal.
    let out = sb
        .kubectl(&["replace", "-f", "-"])
        .stdin(
            &stale
                .replace("\"1\"", "\"abc\"")
                .replace("color: blue", "color: stale"),
        )
        .run()
        .await;
    assert_ne!(out.code, 0, "{out:#?}");

    // An invalid name: 422 Invalid.
    let out = sb
        .kubectl(&["create", "-f", "-"])
        .stdin("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: default}\n")
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
    );
    let out = sb
        .kubectl(&["create", "-f", "-"])
        .stdin("apiVersion: v1\nkind: Namespace\nmetadata: {name: has.dots}\n")
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.starts_with(
            r#"The Namespace "has.dots" is invalid: metadata.name: Invalid value: "has.dots": a lowercase RFC 1123 label must consist of"#
        ),
        "{out:#?}"
    );

    // Creating what exists: 409 AlreadyExists.
    let out = sb
        .kubectl(&["create", "-f", "-"])
        .stdin(CONFIGMAP)
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (AlreadyExists): error when creating "STDIN": configmaps "web-config" already exists"#
    );

    let after = get_json(&sb, &["configmap", "web-config"]).await;
    assert_eq!(after, stored, "rejected writes change nothing");
    assert_eq!(
        sb.sandbox
            .as_ref()
            .map(driftless_sandbox::Sandbox::object_count),
        count_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalizers_hold_a_deleted_object_until_they_are_cleared() {
    let sb = TestSandbox::start("finalizers").await;
    let held = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  namespace: default
  finalizers: [example.com/hold]
";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(held)
        .run()
        .await
        .ok();
    let out = sb
        .kubectl(&["delete", "configmap", "held", "--wait=false"])
        .run()
        .await
        .ok();
    assert_deleted(&out.stdout, r#"configmap "held""#, Some("default"));
    let cm = get_json(&sb, &["configmap", "held"]).await;
    assert!(cm["metadata"]["deletionTimestamp"].is_string(), "{cm:#?}");
    assert_eq!(cm["metadata"]["finalizers"][0], "example.com/hold");

    sb.kubectl(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .run()
    .await
    .ok();
    let out = sb
        .kubectl(&["get", "configmap", "held"])
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"Error from server (NotFound): configmaps "held" not found"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_with_generate_name_and_replace() {
    let sb = TestSandbox::start("generate").await;
    let out = sb
        .kubectl(&["create", "-f", "-"])
        .stdin(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: gen-, namespace: default}\n",
        )
        .run()
        .await
        .ok();
    let created = out.stdout.trim();
    let name = created
        .strip_prefix("configmap/")
        .and_then(|s| s.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert!(
        name.starts_with("gen-") && name.len() == "gen-".len() + 5,
        "{name}"
    );

    let out = sb
        .kubectl(&["replace", "-f", "-"])
        .stdin(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\ndata: {{k: v}}\n"
        ))
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), format!("configmap/{name} replaced"));
    let cm = get_json(&sb, &["configmap", name]).await;
    assert_eq!(cm["data"]["k"], "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_server_defaults_and_print_like_a_cluster() {
    let sb = TestSandbox::start("service").await;
    let service = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP}]
";
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(service)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "service/web created");
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(service)
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "service/web unchanged");
    let svc = get_json(&sb, &["service", "web"]).await;
    let spec = &svc["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    let ip = spec["clusterIP"].as_str().expect("a cluster IP");
    assert!(ip.starts_with("10."), "{ip}");
    assert_eq!(spec["clusterIPs"], serde_json::json!([ip]));
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][1]["targetPort"], 53);

    // A replace that leaves the IP out keeps it.
    sb.kubectl(&["replace", "-f", "-"])
        .stdin(service)
        .run()
        .await
        .ok();
    let again = get_json(&sb, &["service", "web"]).await;
    assert_eq!(again["spec"]["clusterIP"], ip);

    let out = sb.kubectl(&["get", "services"]).run().await.ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{out:#?}"
    );
    assert_eq!(
        lines[1][..5],
        ["web", "ClusterIP", ip, "<none>", "80/TCP,53/UDP"],
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["get", "services", "web", "-o", "wide"])
        .run()
        .await
        .ok();
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header.last(), Some(&"SELECTOR"), "{out:#?}");
    assert!(out.stdout.trim_end().ends_with("app=web"), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_typed_generator_creates_its_object() {
    // kubectl's generators send protobuf bodies; each must be read as the
    // object kubectl's `--dry-run=client -o json` shows.
    let sb = TestSandbox::start("generators").await;
    let steps: &[(&[&str], &str)] = &[
        (&["create", "namespace", "team"], "namespace/team created"),
        (
            &[
                "create",
                "configmap",
                "cfg",
                "-n",
                "team",
                "--from-literal=a=b",
            ],
            "configmap/cfg created",
        ),
        (
            &[
                "create",
                "secret",
                "generic",
                "s",
                "-n",
                "team",
                "--from-literal=p=q",
            ],
            "secret/s created",
        ),
        (
            &["create", "serviceaccount", "bot", "-n", "team"],
            "serviceaccount/bot created",
        ),
        (
            &[
                "create",
                "deployment",
                "web",
                "-n",
                "team",
                "--image=nginx:1.27",
                "--replicas=2",
                "--port=80",
            ],
            "deployment.apps/web created",
        ),
        (
            &[
                "create",
                "job",
                "once",
                "-n",
                "team",
                "--image=busybox",
                "--",
                "date",
            ],
            "job.batch/once created",
        ),
        (
            &[
                "create",
                "cronjob",
                "tick",
                "-n",
                "team",
                "--image=busybox",
                "--schedule=*/5 * * * *",
                "--",
                "date",
            ],
            "cronjob.batch/tick created",
        ),
        (
            &[
                "create",
                "job",
                "manual",
                "-n",
                "team",
                "--from=cronjob/tick",
            ],
            "job.batch/manual created",
        ),
        (
            &[
                "create",
                "role",
                "reader",
                "-n",
                "team",
                "--verb=get,list",
                "--resource=pods,deployments.apps",
                "--resource-name=web",
            ],
            "role.rbac.authorization.k8s.io/reader created",
        ),
        (
            &[
                "create",
                "rolebinding",
                "readers",
                "-n",
                "team",
                "--role=reader",
                "--user=alice",
                "--group=devs",
                "--serviceaccount=team:bot",
            ],
            "rolebinding.rbac.authorization.k8s.io/readers created",
        ),
        (
            &[
                "create",
                "clusterrole",
                "logs",
                "--verb=get",
                "--resource=nodes",
                "--non-resource-url=/logs/*",
            ],
            "clusterrole.rbac.authorization.k8s.io/logs created",
        ),
        (
            &[
                "create",
                "clusterrole",
                "combined",
                "--aggregation-rule=team=web",
            ],
            "clusterrole.rbac.authorization.k8s.io/combined created",
        ),
        (
            &[
                "create",
                "clusterrolebinding",
                "logs",
                "--clusterrole=logs",
                "--user=bob",
            ],
            "clusterrolebinding.rbac.authorization.k8s.io/logs created",
        ),
        (
            &[
                "create",
                "service",
                "clusterip",
                "api",
                "-n",
                "team",
                "--tcp=80:8080",
            ],
            "service/api created",
        ),
        (
            &[
                "create",
                "service",
                "clusterip",
                "headless",
                "-n",
                "team",
                "--clusterip=None",
            ],
            "service/headless created",
        ),
        (
            &[
                "create",
                "service",
                "nodeport",
                "np",
                "-n",
                "team",
                "--tcp=80:8080",
                "--node-port=30080",
            ],
            "service/np created",
        ),
        (
            &[
                "create",
                "service",
                "loadbalancer",
                "lb",
                "-n",
                "team",
                "--tcp=443:https",
            ],
            "service/lb created",
        ),
        (
            &[
                "create",
                "service",
                "externalname",
                "ext",
                "-n",
                "team",
                "--external-name=example.org",
            ],
            "service/ext created",
        ),
        (
            &[
                "create",
                "ingress",
                "web",
                "-n",
                "team",
                "--class=nginx",
                "--rule=foo.com/bar=api:8080,tls=cert",
                "--rule=/path*=lb:https",
            ],
            "ingress.networking.k8s.io/web created",
        ),
        (
            &[
                "create",
                "poddisruptionbudget",
                "half",
                "-n",
                "team",
                "--selector=app=web",
                "--min-available=50%",
            ],
            "poddisruptionbudget.policy/half created",
        ),
        (
            &[
                "create",
                "pdb",
                "one",
                "-n",
                "team",
                "--selector=app=web",
                "--max-unavailable=1",
            ],
            "poddisruptionbudget.policy/one created",
        ),
        (
            &[
                "create",
                "priorityclass",
                "high",
                "--value=1000",
                "--description=urgent",
                "--preemption-policy=Never",
            ],
            "priorityclass.scheduling.k8s.io/high created",
        ),
        (
            &[
                "create",
                "quota",
                "small",
                "-n",
                "team",
                "--hard=cpu=1,memory=1G,pods=2",
                "--scopes=BestEffort",
            ],
            "resourcequota/small created",
        ),
    ];
    for (args, printed) in steps {
        let out = sb.kubectl(args).run().await.ok();
        assert_eq!(out.stdout.trim(), *printed, "{args:?}");
    }

    let get = |args: &'static [&'static str]| get_json(&sb, args);
    let cm = get(&["configmap", "cfg", "-n", "team"]).await;
    assert_eq!(cm["data"]["a"], "b");
    let secret = get(&["secret", "s", "-n", "team"]).await;
    assert_eq!(secret["data"]["p"], "cQ==");
    assert_eq!(secret["type"], "Opaque");
    let ns = get(&["namespace", "team"]).await;
    assert_eq!(ns["status"]["phase"], "Active");
    let deploy = get(&["deployment", "web", "-n", "team"]).await;
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );

    let job = get(&["job", "once", "-n", "team"]).await;
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["containers"][0]["command"], serde_json::json!(["date"]));
    let cron = get(&["cronjob", "tick", "-n", "team"]).await;
    assert_eq!(cron["spec"]["schedule"], "*/5 * * * *");
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    let manual = get(&["job", "manual", "-n", "team"]).await;
    assert_eq!(manual["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(manual["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );

    let role = get(&["role", "reader", "-n", "team"]).await;
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"]},
            {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]},
        ])
    );
    let binding = get(&["rolebinding", "readers", "-n", "team"]).await;
    assert_eq!(binding["subjects"][2]["namespace"], "team");
    assert_eq!(binding["roleRef"]["name"], "reader");
    let logs = get(&["clusterrole", "logs"]).await;
    assert_eq!(logs["rules"][1]["nonResourceURLs"][0], "/logs/*");
    let combined = get(&["clusterrole", "combined"]).await;
    assert_eq!(
        combined["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"]["team"],
        "web"
    );
    let cluster_binding = get(&["clusterrolebinding", "logs"]).await;
    assert_eq!(cluster_binding["subjects"][0]["name"], "bob");

    let api = get(&["service", "api", "-n", "team"]).await;
    assert_eq!(api["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(api["spec"]["selector"]["app"], "api");
    let headless = get(&["service", "headless", "-n", "team"]).await;
    assert_eq!(headless["spec"]["clusterIP"], "None");
    let np = get(&["service", "np", "-n", "team"]).await;
    assert_eq!(np["spec"]["ports"][0]["nodePort"], 30080);
    let lb = get(&["service", "lb", "-n", "team"]).await;
    assert_eq!(lb["spec"]["type"], "LoadBalancer");
    assert_eq!(lb["spec"]["ports"][0]["targetPort"], "https");
    let ext = get(&["service", "ext", "-n", "team"]).await;
    assert_eq!(ext["spec"]["externalName"], "example.org");

    let ingress = get(&["ingress", "web", "-n", "team"]).await;
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "foo.com");
    assert_eq!(
        ingress["spec"]["rules"][1]["http"]["paths"][0]["backend"]["service"]["port"]["name"],
        "https"
    );
    let half = get(&["pdb", "half", "-n", "team"]).await;
    assert_eq!(half["spec"]["minAvailable"], "50%");
    let one = get(&["pdb", "one", "-n", "team"]).await;
    assert_eq!(one["spec"]["maxUnavailable"], 1);
    let high = get(&["priorityclass", "high"]).await;
    assert_eq!(high["value"], 1000);
    assert_eq!(high["preemptionPolicy"], "Never");
    let quota = get(&["quota", "small", "-n", "team"]).await;
    assert_eq!(quota["spec"]["hard"]["memory"], "1G");
    assert_eq!(quota["spec"]["scopes"][0], "BestEffort");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_complete_and_must_not_restart_always() {
    let sb = TestSandbox::start("jobs").await;
    let job = "\
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox:1.36}]
";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(job)
        .run()
        .await
        .ok();
    let out = sb
        .kubectl(&[
            "wait",
            "--for=condition=Complete",
            "job/once",
            "--timeout=30s",
        ])
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "job.batch/once condition met");
    let j = get_json(&sb, &["job", "once"]).await;
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert_eq!(j["spec"]["completions"], 1);
    assert_eq!(j["status"]["succeeded"], 1);

    // Left out, restartPolicy defaults to Always, which a Job may not use.
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(
            &job.replace("      restartPolicy: Never\n", "")
                .replace("once", "again"),
        )
        .run()
        .await
        .code(1);
    assert_eq!(
        out.stderr.trim(),
        r#"The Job "again" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never""#
    );
    sb.kubectl(&["get", "job", "again"]).run().await.code(1);
}

const GADGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [interval]
            properties:
              interval: {type: string, pattern: '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'}
              timeout: {type: string, default: 60s}
              provider: {type: string, enum: [generic, github]}
          status:
            type: object
            default: {observedGeneration: -1}
            properties:
              observedGeneration: {type: integer}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_pruned_defaulted_and_validated_by_their_schema() {
    let sb = TestSandbox::start("crd-schema").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(GADGET_CRD)
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/gadgets.example.com",
    ])
    .run()
    .await
    .ok();

    let bad = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: bad}\nspec: {interval: 5 minutes, provider: gitlab}\n";
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(bad)
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(
            r#"spec.interval: Invalid value: "5 minutes": spec.interval in body should match"#
        ),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains(
            r#"spec.provider: Unsupported value: "gitlab": supported values: "generic", "github""#
        ),
        "{out:#?}"
    );
    sb.kubectl(&["get", "gadget", "bad"]).run().await.code(1);

    let unknown = "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: good}\nspec: {interval: 1m, bogus: true}\n";
    let out = sb
        .kubectl(&["apply", "-f", "-"])
        .stdin(unknown)
        .run()
        .await
        .code(1);
    assert!(
        out.stderr
            .contains(r#"strict decoding error: unknown field "spec.bogus""#),
        "{out:#?}"
    );
    sb.kubectl(&["apply", "--validate=false", "-f", "-"])
        .stdin(unknown)
        .run()
        .await
        .ok();
    let good = get_json(&sb, &["gadget", "good"]).await;
    assert!(good["spec"].get("bogus").is_none(), "{good:#?}");
    assert_eq!(good["spec"]["timeout"], "60s");
    assert_eq!(good["status"]["observedGeneration"], -1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_schemas_of_custom_resources() {
    let sb = TestSandbox::start("explain").await;
    let crds = driftless_api::crds_yaml().expect("our CRDs render as YAML");
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&crds)
        .run()
        .await
        .ok();
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(CRD)
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/kustomizations.kustomize.toolkit.fluxcd.io",
        "crd/widgets.example.com",
    ])
    .run()
    .await
    .ok();
    // The description kubectl must show is the one our CRD carries.
    let kustomization = driftless_api::crds()
        .into_iter()
        .find(|crd| crd.spec.names.kind == "Kustomization")
        .expect("the Kustomization CRD");
    let schema =
        serde_json::to_value(driftless_api::root_schema(&kustomization)).expect("a schema is JSON");
    let interval = schema
        .pointer("/properties/spec/properties/interval/description")
        .and_then(Value::as_str)
        .expect("spec.interval is described");

    let out = sb
        .kubectl(&["explain", "kustomizations.spec.interval"])
        .run()
        .await
        .ok();
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    for expected in [
        "GROUP:      kustomize.toolkit.fluxcd.io",
        "KIND:       Kustomization",
        "VERSION:    v1",
        "FIELD: interval <string>",
        interval,
    ] {
        assert!(lines.contains(&expected), "{expected:?} in {out:#?}");
    }
    let out = sb
        .kubectl(&["explain", "kustomizations.spec"])
        .run()
        .await
        .ok();
    assert!(
        out.stdout.contains("\n  interval\t<string> -required-\n"),
        "{out:#?}"
    );
    let out = sb
        .kubectl(&["explain", "kustomization", "--recursive"])
        .run()
        .await
        .ok();
    for nested in [
        "\n  spec\t<Object> -required-\n",
        "\n    sourceRef\t<Object> -required-\n",
        "\n      kind\t<string> -required-\n",
        "\n    inventory\t<Object>\n",
        "\n      entries\t<[]Object> -required-\n",
    ] {
        assert!(out.stdout.contains(nested), "{nested:?} in {out:#?}");
    }

    // A user's CRD is explained the same way, each version by its own schema.
    let gizmos = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: gizmos, singular: gizmo, kind: Gizmo}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {color: {type: string, description: The paint.}}}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {colour: {type: string}}}
";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(gizmos)
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "wait",
        "--for=condition=established",
        "crd/gizmos.example.com",
    ])
    .run()
    .await
    .ok();
    let out = sb
        .kubectl(&["explain", "gizmos.spec.color"])
        .run()
        .await
        .ok();
    assert!(out.stdout.contains("The paint."), "{out:#?}");
    let out = sb
        .kubectl(&[
            "explain",
            "gizmos.spec",
            "--api-version=example.com/v1beta1",
        ])
        .run()
        .await
        .ok();
    assert!(out.stdout.contains("VERSION:    v1beta1"), "{out:#?}");
    assert!(out.stdout.contains("\n  colour\t<string>\n"), "{out:#?}");
    assert!(!out.stdout.contains("color"), "{out:#?}");
    let out = sb.kubectl(&["explain", "widgets.spec"]).run().await.ok();
    assert!(out.stdout.contains("KIND:       Widget"), "{out:#?}");
    assert!(out.stdout.contains("\n  size\t<integer>\n"), "{out:#?}");
    assert!(out.stdout.contains("\n  shape\t<string>\n"), "{out:#?}");
    let out = sb
        .kubectl(&["explain", "widgets.spec.nothing"])
        .run()
        .await
        .code(1);
    assert!(
        out.stderr.contains(r#"field "nothing" does not exist"#),
        "{out:#?}"
    );
}

/// The minor version of the kubectl these suites drive.
async fn kubectl_minor(sb: &TestSandbox) -> u32 {
    let out = sb
        .kubectl(&["version", "--client", "-o", "json"])
        .run()
        .await
        .ok();
    out.json()["clientVersion"]["minor"]
        .as_str()
        .and_then(|m| m.trim_end_matches('+').parse().ok())
        .expect("kubectl prints its minor version")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscale_creates_a_horizontal_pod_autoscaler() {
    let sb = TestSandbox::start("autoscale").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    // kubectl 1.32 writes autoscaling/v1 (`--cpu-percent`), later ones
    // autoscaling/v2 (`--cpu`): both are stored as v2.
    let cpu = if kubectl_minor(&sb).await <= 32 {
        "--cpu-percent=50"
    } else {
        "--cpu=50%"
    };
    let out = sb
        .kubectl(&["autoscale", "deployment", "web", "--min=2", "--max=5", cpu])
        .run()
        .await
        .ok();
    assert_eq!(
        out.stdout.trim(),
        "horizontalpodautoscaler.autoscaling/web autoscaled"
    );
    let hpa = get_json(&sb, &["hpa", "web"]).await;
    assert_eq!(
        hpa["spec"],
        serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}],
        })
    );
    // Read and written back through v1, the v2 object keeps its fields.
    let v1 = get_json(&sb, &["horizontalpodautoscalers.v1.autoscaling", "web"]).await;
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
    sb.kubectl(&[
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"targetCPUUtilizationPercentage":70}}"#,
    ])
    .run()
    .await
    .ok();
    let hpa = get_json(&sb, &["hpa", "web"]).await;
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    let explained = sb
        .kubectl(&[
            "explain",
            "hpa.spec.targetCPUUtilizationPercentage",
            "--api-version=autoscaling/v1",
        ])
        .run()
        .await
        .ok();
    assert!(
        explained.stdout.contains("VERSION:    v1")
            && explained.stdout.contains("targetCPUUtilizationPercentage"),
        "{}",
        explained.stdout
    );
}
