//! The sandbox's Node, the simulated DaemonSet controller and the
//! ControllerRevision history of StatefulSets and DaemonSets, as kubectl
//! sees them: `get|describe nodes`, `rollout status|history|undo`,
//! `describe daemonset`, `delete`; node selection, RollingUpdate with
//! `maxUnavailable` or `maxSurge`, OnDelete, and the rollout annotation.

use crate::common::{TestSandbox, eventually, phases};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_has_one_ready_node() {
    let sb = TestSandbox::start("node").await;
    let version = sb
        .kubectl(&["version", "-o", "json"])
        .run()
        .await
        .ok()
        .json()["serverVersion"]["gitVersion"]
        .clone();
    let node = sb.get_json(&["node", "sandbox"]).await;
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], version);
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
    let table = sb.kubectl(&["get", "nodes"]).run().await.ok().stdout;
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row[..3], ["sandbox", "Ready", "control-plane"], "{table}");
    assert_eq!(row.last().copied(), version.as_str(), "{table}");
    let wide = sb
        .kubectl(&["get", "nodes", "-o", "wide"])
        .run()
        .await
        .ok()
        .stdout;
    assert!(wide.contains("127.0.0.1"), "{wide}");
    let described = sb
        .kubectl(&["describe", "node", "sandbox"])
        .run()
        .await
        .ok()
        .stdout;
    for expected in [
        "Ready",
        "KubeletReady",
        "InternalIP:  127.0.0.1",
        "HolderIdentity:  sandbox",
        "Allocatable:",
    ] {
        assert!(described.contains(expected), "{expected}: {described}");
    }
}

const DAEMON_SET: &str = "\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: default
  annotations:
    sandbox.driftless.dev/rollout: OUTCOME
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      nodeSelector:
        kubernetes.io/os: OS
      containers:
      - name: agent
        image: agent:1
";

fn daemon_set(outcome: &str, os: &str) -> String {
    DAEMON_SET.replace("OUTCOME", outcome).replace("OS", os)
}

async fn rollout_status(sb: &TestSandbox, what: &str) {
    sb.kubectl(&["rollout", "status", what, "--timeout=30s"])
        .run()
        .await
        .ok();
}

/// The images of the DaemonSet's Pods, once it has exactly one.
async fn agent_image(sb: &TestSandbox) -> String {
    eventually("one agent Pod", || async {
        let pods = sb.items("pods", "app=agent").await;
        (pods.len() == 1 && pods[0]["status"]["phase"] == "Running").then(|| {
            pods[0]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    })
    .await
}

/// `kubectl rollout history` rows: the revision numbers it lists.
async fn history(sb: &TestSandbox, what: &str) -> Vec<String> {
    let out = sb
        .kubectl(&["rollout", "history", what])
        .run()
        .await
        .ok()
        .stdout;
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_set_runs_on_the_node_rolls_and_undoes() {
    let sb = TestSandbox::start("daemonset").await;
    sb.apply(&daemon_set("succeed", "linux")).await;
    rollout_status(&sb, "daemonset/agent").await;
    assert_eq!(agent_image(&sb).await, "agent:1");
    let set = sb.get_json(&["daemonset", "agent"]).await;
    let status = &set["status"];
    for field in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "numberAvailable",
        "updatedNumberScheduled",
    ] {
        assert_eq!(status[field], 1, "{field}: {status:#}");
    }
    let pod = &sb.items("pods", "app=agent").await[0];
    assert_eq!(pod["spec"]["nodeName"], "sandbox");
    assert_eq!(pod["metadata"]["labels"]["pod-template-generation"], "1");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    let hash = pod["metadata"]["labels"]["controller-revision-hash"]
        .as_str()
        .expect("a revision hash")
        .to_string();
    let revisions = sb.items("controllerrevisions", "app=agent").await;
    assert_eq!(revisions.len(), 1, "{revisions:#?}");
    assert_eq!(revisions[0]["metadata"]["name"], format!("agent-{hash}"));
    assert_eq!(
        revisions[0]["metadata"]["labels"]["controller.kubernetes.io/hash"],
        hash
    );
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(
        revisions[0]["data"]["spec"]["template"]["$patch"],
        "replace"
    );
    let tolerations = pod["spec"]["tolerations"].as_array().map(Vec::len);
    assert_eq!(tolerations, Some(6), "{pod:#}");
    let described = sb
        .kubectl(&["describe", "daemonset", "agent"])
        .run()
        .await
        .ok()
        .stdout;
    for expected in [
        "Desired Number of Nodes Scheduled: 1",
        "Number of Nodes Scheduled with Up-to-date Pods: 1",
        "Pods Status:  1 Running / 0 Waiting / 0 Succeeded / 0 Failed",
    ] {
        assert!(described.contains(expected), "{expected}: {described}");
    }

    sb.kubectl(&["set", "image", "daemonset/agent", "agent=agent:2"])
        .run()
        .await
        .ok();
    rollout_status(&sb, "daemonset/agent").await;
    assert_eq!(agent_image(&sb).await, "agent:2");
    assert_eq!(history(&sb, "daemonset/agent").await, ["1", "2"]);

    sb.kubectl(&["rollout", "undo", "daemonset/agent"])
        .run()
        .await
        .ok();
    rollout_status(&sb, "daemonset/agent").await;
    assert_eq!(agent_image(&sb).await, "agent:1");
    // The first template's revision comes back as the newest.
    assert_eq!(history(&sb, "daemonset/agent").await, ["2", "3"]);

    sb.kubectl(&["delete", "daemonset", "agent"])
        .run()
        .await
        .ok();
    eventually("the Pod and the revisions to go", || async {
        let left = sb.items("pods", "app=agent").await.len()
            + sb.items("controllerrevisions", "app=agent").await.len();
        (left == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_set_skips_unselected_nodes_and_hangs_as_annotated() {
    let sb = TestSandbox::start("daemonset-select").await;
    sb.apply(&daemon_set("succeed", "windows")).await;
    rollout_status(&sb, "daemonset/agent").await;
    let set = sb.get_json(&["daemonset", "agent"]).await;
    assert_eq!(set["status"]["desiredNumberScheduled"], 0, "{set:#}");
    assert!(sb.items("pods", "app=agent").await.is_empty());

    sb.apply(&daemon_set("hang", "linux")).await;
    let out = sb
        .kubectl(&["rollout", "status", "daemonset/agent", "--timeout=2s"])
        .run()
        .await;
    assert_ne!(out.code, 0, "{out:#?}");
    let pods = sb.items("pods", "app=agent").await;
    assert_eq!(phases(&pods), ["Pending"]);
}

const STATEFUL_SET: &str = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: default
spec:
  replicas: 1
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_set_keeps_its_history_and_undoes() {
    let sb = TestSandbox::start("sts-history").await;
    sb.apply(STATEFUL_SET).await;
    rollout_status(&sb, "statefulset/db").await;
    for image in ["postgres:17", "postgres:18"] {
        sb.kubectl(&["set", "image", "statefulset/db", &format!("db={image}")])
            .run()
            .await
            .ok();
        rollout_status(&sb, "statefulset/db").await;
    }
    assert_eq!(history(&sb, "statefulset/db").await, ["1", "2", "3"]);
    let revision = sb
        .kubectl(&["rollout", "history", "statefulset/db", "--revision=1"])
        .run()
        .await
        .ok()
        .stdout;
    assert!(revision.contains("postgres:16"), "{revision}");

    sb.kubectl(&["rollout", "undo", "statefulset/db", "--to-revision=1"])
        .run()
        .await
        .ok();
    rollout_status(&sb, "statefulset/db").await;
    let set = sb.get_json(&["statefulset", "db"]).await;
    assert_eq!(
        set["spec"]["template"]["spec"]["containers"][0]["image"],
        "postgres:16"
    );
    assert_eq!(history(&sb, "statefulset/db").await, ["2", "3", "4"]);
    let revisions = sb.items("controllerrevisions", "app=db").await;
    let update = set["status"]["updateRevision"]
        .as_str()
        .expect("a revision");
    let newest = revisions
        .iter()
        .find(|r| r["revision"] == 4)
        .expect("revision 4");
    assert_eq!(newest["metadata"]["name"], update);

    // A shorter history drops the oldest revisions no Pod runs.
    sb.kubectl(&[
        "patch",
        "statefulset/db",
        "-p",
        r#"{"spec":{"revisionHistoryLimit":1}}"#,
    ])
    .run()
    .await
    .ok();
    eventually("the history to shrink", || async {
        (history(&sb, "statefulset/db").await == ["3", "4"]).then_some(())
    })
    .await;
}

/// The (image, phase) of each agent Pod, sorted.
async fn agent_pods(sb: &TestSandbox) -> Vec<(String, String)> {
    let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut pods: Vec<(String, String)> = sb
        .items("pods", "app=agent")
        .await
        .iter()
        .map(|p| {
            (
                field(&p["spec"]["containers"][0]["image"]),
                field(&p["status"]["phase"]),
            )
        })
        .collect();
    pods.sort();
    pods
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surging_daemon_set_keeps_the_old_pod_until_the_new_is_ready() {
    let sb = TestSandbox::start("daemonset-surge").await;
    let surge = "spec:\n  updateStrategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n  selector:";
    let manifest = daemon_set("succeed", "linux").replace("spec:\n  selector:", surge);
    sb.apply(&manifest).await;
    rollout_status(&sb, "daemonset/agent").await;
    sb.kubectl(&["set", "image", "daemonset/agent", "agent=agent:2"])
        .run()
        .await
        .ok();
    rollout_status(&sb, "daemonset/agent").await;
    assert_eq!(agent_image(&sb).await, "agent:2");

    // A new Pod that never gets ready leaves the old one serving.
    let hanging = manifest
        .replace("rollout: succeed", "rollout: hang")
        .replace("agent:1", "agent:3");
    sb.apply(&hanging).await;
    let running_and_pending = [
        ("agent:2".to_string(), "Running".to_string()),
        ("agent:3".to_string(), "Pending".to_string()),
    ];
    eventually("the old Pod beside the pending new one", || async {
        (agent_pods(&sb).await == running_and_pending).then_some(())
    })
    .await;
    let set = sb.get_json(&["daemonset", "agent"]).await;
    assert_eq!(set["status"]["numberReady"], 1, "{set:#}");
    assert_eq!(set["status"]["updatedNumberScheduled"], 0, "{set:#}");
    let out = sb
        .kubectl(&["rollout", "status", "daemonset/agent", "--timeout=2s"])
        .run()
        .await;
    assert_ne!(out.code, 0, "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_delete_daemon_set_waits_for_its_pod_to_go() {
    let sb = TestSandbox::start("daemonset-ondelete").await;
    let manifest = daemon_set("succeed", "linux").replace(
        "spec:\n  selector:",
        "spec:\n  updateStrategy:\n    type: OnDelete\n  selector:",
    );
    sb.apply(&manifest).await;
    assert_eq!(agent_image(&sb).await, "agent:1");
    let first = sb.items("pods", "app=agent").await[0]["metadata"]["name"].clone();
    sb.kubectl(&["set", "image", "daemonset/agent", "agent=agent:2"])
        .run()
        .await
        .ok();
    let set = eventually("generation 2 observed", || async {
        let set = sb.get_json(&["daemonset", "agent"]).await;
        (set["status"]["observedGeneration"] == 2).then_some(set)
    })
    .await;
    assert_eq!(set["status"]["updatedNumberScheduled"], 0, "{set:#}");
    assert_eq!(agent_image(&sb).await, "agent:1");

    let first = first.as_str().expect("a name");
    sb.kubectl(&["delete", "pod", first]).run().await.ok();
    eventually("the new template's Pod", || async {
        let pods = sb.items("pods", "app=agent").await;
        (pods.len() == 1
            && pods[0]["metadata"]["name"] != first
            && pods[0]["spec"]["containers"][0]["image"] == "agent:2")
            .then_some(())
    })
    .await;
}
