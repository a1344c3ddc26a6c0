//! The simulated Deployment and ReplicaSet controllers as kubectl sees
//! them: a ReplicaSet per template revision, Pods owned by it, history
//! kept to `revisionHistoryLimit`, `rollout undo` and `scale`, the rollout
//! annotation passed down to the Pods, and garbage collection of the chain
//! when the Deployment goes.

mod common;

use common::{TestSandbox, eventually};
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
