//! The simulated Deployment and ReplicaSet controllers as kubectl sees
//! them: a ReplicaSet per template revision, Pods owned by it, history
//! kept to `revisionHistoryLimit`, `rollout undo` and `scale`, the rollout
//! annotation passed down to the Pods, and garbage collection of the chain
//! when the Deployment goes, with each `--cascade` kubectl offers, and of a
//! namespace's contents before the namespace goes.

use crate::common::{TestSandbox, eventually};
use serde_json::Value;

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 2
  revisionHistoryLimit: 1
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
";

async fn items(sb: &TestSandbox, resource: &str) -> Vec<Value> {
    let out = sb
        .kubectl(&["get", resource, "-l", "app=web", "-o", "json"])
        .run()
        .await
        .ok()
        .json();
    out["items"].as_array().cloned().unwrap_or_default()
}

fn revision(object: &Value) -> &str {
    object["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap_or_default()
}

/// (revision, spec.replicas, image) of each ReplicaSet, by revision.
async fn replica_sets(sb: &TestSandbox) -> Vec<(String, i64, String)> {
    let mut sets: Vec<(String, i64, String)> = items(sb, "replicasets")
        .await
        .iter()
        .map(|rs| {
            (
                revision(rs).to_string(),
                rs["spec"]["replicas"].as_i64().unwrap_or(-1),
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    sets.sort();
    sets
}

/// Waits until `count` Running Pods of the `image` exist, and no others.
async fn running_pods(sb: &TestSandbox, count: usize, image: &str) {
    eventually(&format!("{count} running pods of {image}"), || async {
        let pods = items(sb, "pods").await;
        (pods.len() == count
            && pods.iter().all(|p| {
                p["status"]["phase"] == "Running" && p["spec"]["containers"][0]["image"] == image
            }))
        .then_some(())
    })
    .await;
}

async fn rollout(sb: &TestSandbox) {
    sb.kubectl(&["rollout", "status", "deployment/web", "--timeout=30s"])
        .run()
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_template_gets_a_replica_set_and_history_is_bounded() {
    let sb = TestSandbox::start("revisions").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    rollout(&sb).await;
    running_pods(&sb, 2, "nginx:1.27").await;
    let sets = items(&sb, "replicasets").await;
    let deployment = sb
        .kubectl(&["get", "deployment", "web", "-o", "json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(sets.len(), 1, "{sets:#?}");
    let rs = &sets[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .expect("hash label");
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    assert_eq!(
        rs["metadata"]["ownerReferences"][0]["uid"],
        deployment["metadata"]["uid"]
    );
    assert_eq!(revision(rs), "1");
    assert_eq!(revision(&deployment), "1");
    for pod in items(&sb, "pods").await {
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
        assert_eq!(
            pod["metadata"]["ownerReferences"][0]["uid"],
            rs["metadata"]["uid"]
        );
    }

    // Each new template: a new ReplicaSet holds the Pods, the old one
    // is scaled to zero, and one old revision is kept.
    for (n, image) in ["nginx:1.28", "nginx:1.29"].iter().enumerate() {
        sb.kubectl(&["set", "image", "deployment/web", &format!("app={image}")])
            .run()
            .await
            .ok();
        rollout(&sb).await;
        running_pods(&sb, 2, image).await;
        let old = if n == 0 { "nginx:1.27" } else { "nginx:1.28" };
        let expected = vec![
            ((n + 1).to_string(), 0, old.to_string()),
            ((n + 2).to_string(), 2, (*image).to_string()),
        ];
        let sets = eventually("the old revisions to be pruned", || async {
            let sets = replica_sets(&sb).await;
            (sets == expected).then_some(sets)
        })
        .await;
        assert_eq!(sets, expected);
    }

    // Undo returns to revision 2's template, which becomes revision 4.
    sb.kubectl(&["rollout", "undo", "deployment/web"])
        .run()
        .await
        .ok();
    rollout(&sb).await;
    running_pods(&sb, 2, "nginx:1.28").await;
    assert_eq!(
        replica_sets(&sb).await,
        [
            ("3".to_string(), 0, "nginx:1.29".to_string()),
            ("4".to_string(), 2, "nginx:1.28".to_string()),
        ]
    );
    let history = sb
        .kubectl(&["rollout", "history", "deployment/web"])
        .run()
        .await
        .ok();
    let revisions: Vec<&str> = history
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["3", "4"], "{history:#?}");

    sb.kubectl(&["scale", "deployment/web", "--replicas=3"])
        .run()
        .await
        .ok();
    rollout(&sb).await;
    running_pods(&sb, 3, "nginx:1.28").await;

    // Background deletion takes the ReplicaSets and Pods along.
    sb.kubectl(&["delete", "deployment", "web"])
        .run()
        .await
        .ok();
    eventually("the owned objects to be collected", || async {
        (items(&sb, "replicasets").await.is_empty() && items(&sb, "pods").await.is_empty())
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_deployment_has_pending_pods() {
    let sb = TestSandbox::start("hang").await;
    let hanging = DEPLOYMENT.replace(
        "  namespace: default\n",
        "  namespace: default\n  annotations:\n    sandbox.driftless.dev/rollout: hang\n",
    );
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&hanging)
        .run()
        .await
        .ok();
    let pods = eventually("two pending pods", || async {
        let pods = items(&sb, "pods").await;
        (pods.len() == 2 && pods.iter().all(|p| p["status"]["phase"] == "Pending")).then_some(pods)
    })
    .await;
    assert!(
        pods.iter()
            .all(|p| { p["metadata"]["annotations"]["sandbox.driftless.dev/rollout"] == "hang" }),
        "{pods:#?}"
    );
    let d = sb
        .kubectl(&["get", "deployment", "web", "-o", "json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(d["status"]["observedGeneration"], 1);
    assert_eq!(d["status"]["updatedReplicas"], 2);
    assert!(d["status"].get("readyReplicas").is_none(), "{d:#}");
    let out = sb
        .kubectl(&["rollout", "status", "deployment/web", "--timeout=1s"])
        .run()
        .await
        .code(1);
    assert!(out.stderr.contains("timed out"), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_deployment_is_accepted_in_protobuf() {
    let sb = TestSandbox::start("create-deployment").await;
    let out = sb
        .kubectl(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--port=80",
            "--replicas=2",
        ])
        .run()
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "deployment.apps/web created");
    rollout(&sb).await;
    running_pods(&sb, 2, "nginx:1.27").await;
    let d = sb
        .kubectl(&["get", "deployment", "web", "-o", "json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(d["metadata"]["labels"]["app"], "web");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(container["ports"][0]["protocol"], "TCP");

    // Zero is a replica count, not an unset field.
    sb.kubectl(&[
        "create",
        "deployment",
        "idle",
        "--image=nginx",
        "--replicas=0",
    ])
    .run()
    .await
    .ok();
    let d = sb
        .kubectl(&["get", "deployment", "idle", "-o", "json"])
        .run()
        .await
        .ok()
        .json();
    assert_eq!(d["spec"]["replicas"], 0, "{d:#}");
}

fn owner_kinds(object: &Value) -> Vec<String> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .map(|r| r["kind"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_cascade_orphan_and_foreground() {
    let sb = TestSandbox::start("cascade").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    rollout(&sb).await;
    running_pods(&sb, 2, "nginx:1.27").await;

    // Orphan: the Deployment goes, its ReplicaSet stays without an owner
    // and keeps its Pods.
    sb.kubectl(&["delete", "deployment", "web", "--cascade=orphan"])
        .run()
        .await
        .ok();
    let sets = items(&sb, "replicasets").await;
    assert_eq!(sets.len(), 1, "{sets:#?}");
    assert!(owner_kinds(&sets[0]).is_empty(), "{sets:#?}");
    running_pods(&sb, 2, "nginx:1.27").await;
    for pod in items(&sb, "pods").await {
        assert_eq!(owner_kinds(&pod), ["ReplicaSet"]);
    }
    // Foreground on the orphaned ReplicaSet takes its Pods first.
    sb.kubectl(&[
        "delete",
        "replicasets",
        "-l",
        "app=web",
        "--cascade=foreground",
    ])
    .run()
    .await
    .ok();
    assert!(items(&sb, "replicasets").await.is_empty());
    assert!(items(&sb, "pods").await.is_empty());

    // Foreground with a Pod held by a finalizer: the Deployment and its
    // ReplicaSet wait, marked, until the Pod is released.
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(DEPLOYMENT)
        .run()
        .await
        .ok();
    rollout(&sb).await;
    running_pods(&sb, 2, "nginx:1.27").await;
    let pods = items(&sb, "pods").await;
    let held = pods[0]["metadata"]["name"].as_str().expect("a pod name");
    sb.kubectl(&[
        "patch",
        "pod",
        held,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&[
        "delete",
        "deployment",
        "web",
        "--cascade=foreground",
        "--wait=false",
    ])
    .run()
    .await
    .ok();
    let deployment = sb.get_json(&["deployment", "web"]).await;
    assert_eq!(
        deployment["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"]),
        "{deployment:#}"
    );
    assert!(deployment["metadata"]["deletionTimestamp"].is_string());
    let sets = items(&sb, "replicasets").await;
    assert_eq!(sets.len(), 1);
    assert_eq!(
        sets[0]["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    let left = items(&sb, "pods").await;
    assert_eq!(left.len(), 1, "only the held Pod is left: {left:#?}");
    assert!(left[0]["metadata"]["deletionTimestamp"].is_string());

    sb.kubectl(&[
        "patch",
        "pod",
        held,
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .run()
    .await
    .ok();
    let out = sb
        .kubectl(&["get", "deployment", "web"])
        .run()
        .await
        .code(1);
    assert!(out.stderr.contains("NotFound"), "{out:#?}");
    assert!(items(&sb, "replicasets").await.is_empty());
    assert!(items(&sb, "pods").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_empties_before_it_goes() {
    let sb = TestSandbox::start("namespace-gc").await;
    sb.kubectl(&["create", "namespace", "doomed"])
        .run()
        .await
        .ok();
    let in_doomed = DEPLOYMENT.replace("namespace: default", "namespace: doomed");
    let held = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: doomed, finalizers: [example.com/hold]}\n";
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(&format!("{in_doomed}---\n{held}"))
        .run()
        .await
        .ok();
    sb.kubectl(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        "doomed",
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&["delete", "namespace", "doomed", "--wait=false"])
        .run()
        .await
        .ok();
    let ns = sb.get_json(&["namespace", "doomed"]).await;
    assert_eq!(ns["status"]["phase"], "Terminating", "{ns:#}");
    let remaining = ns["status"]["conditions"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "NamespaceFinalizersRemaining")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        remaining["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
        "{ns:#}"
    );
    let everything = sb.get_json(&["all,configmaps", "-n", "doomed"]).await;
    let names: Vec<&str> = everything["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, ["held"], "only the held object is left");

    sb.kubectl(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "doomed",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .run()
    .await
    .ok();
    let out = sb
        .kubectl(&["get", "namespace", "doomed"])
        .run()
        .await
        .code(1);
    assert!(out.stderr.contains("NotFound"), "{out:#?}");
}

const STATEFUL_SET: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: default
spec:
  replicas: 3
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:16
";

/// (name, revision label, phase) of the set's Pods, by name.
async fn stateful_pods(sb: &TestSandbox) -> Vec<(String, String, String)> {
    let pods = sb.get_json(&["pods", "-l", "app=db"]).await;
    let mut pods: Vec<(String, String, String)> = pods["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                text(&p["metadata"]["name"]),
                text(&p["metadata"]["labels"]["controller-revision-hash"]),
                text(&p["status"]["phase"]),
            )
        })
        .collect();
    pods.sort();
    pods
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_set_owns_ordered_pods_and_rolls_them() {
    let sb = TestSandbox::start("statefulset").await;
    sb.kubectl(&["apply", "-f", "-"])
        .stdin(STATEFUL_SET)
        .run()
        .await
        .ok();
    sb.kubectl(&["rollout", "status", "statefulset/db", "--timeout=30s"])
        .run()
        .await
        .ok();
    let set = sb.get_json(&["statefulset", "db"]).await;
    let first = set["status"]["updateRevision"]
        .as_str()
        .expect("an update revision")
        .to_string();
    assert!(first.starts_with("db-"), "{set:#}");
    assert_eq!(set["status"]["currentRevision"], first.as_str());
    assert_eq!(set["status"]["readyReplicas"], 3, "{set:#}");
    assert_eq!(set["status"]["currentReplicas"], 3, "{set:#}");
    let running = |revision: &str| {
        ["db-0", "db-1", "db-2"]
            .map(|n| (n.to_string(), revision.to_string(), "Running".to_string()))
            .to_vec()
    };
    assert_eq!(stateful_pods(&sb).await, running(&first));
    let pod = sb.get_json(&["pod", "db-1"]).await;
    assert_eq!(owner_kinds(&pod), ["StatefulSet"]);
    assert_eq!(pod["spec"]["hostname"], "db-1");
    assert_eq!(pod["spec"]["subdomain"], "db");
    assert_eq!(
        pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "db-1"
    );

    // A new template replaces every Pod; the current revision follows.
    sb.kubectl(&["set", "image", "statefulset/db", "db=postgres:17"])
        .run()
        .await
        .ok();
    sb.kubectl(&["rollout", "status", "statefulset/db", "--timeout=30s"])
        .run()
        .await
        .ok();
    let set = eventually("every Pod at the new revision", || async {
        let set = sb.get_json(&["statefulset", "db"]).await;
        let revision = set["status"]["updateRevision"].as_str()?.to_string();
        (revision != first
            && set["status"]["currentRevision"] == revision.as_str()
            && stateful_pods(&sb).await == running(&revision))
        .then_some(set)
    })
    .await;
    assert_eq!(set["status"]["updatedReplicas"], 3, "{set:#}");

    // Scaling down removes the highest ordinals.
    sb.kubectl(&["scale", "statefulset/db", "--replicas=1"])
        .run()
        .await
        .ok();
    eventually("one Pod left", || async {
        let pods = stateful_pods(&sb).await;
        (pods.len() == 1 && pods[0].0 == "db-0").then_some(())
    })
    .await;
    sb.kubectl(&["delete", "statefulset", "db"])
        .run()
        .await
        .ok();
    assert!(stateful_pods(&sb).await.is_empty());
}
