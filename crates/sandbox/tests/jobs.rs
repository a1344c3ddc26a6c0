//! The simulated Job controller as kubectl sees it: `create job` (also
//! `--from=cronjob`), `wait --for=condition=complete|failed`, `describe`,
//! `delete` taking the Pods along; completions, parallelism, Indexed
//! completion, suspension, the backoff limit, `activeDeadlineSeconds` and
//! `ttlSecondsAfterFinished`.

use crate::common::{TestSandbox, eventually, phases};
use serde_json::Value;

fn condition_types(object: &Value) -> Vec<&str> {
    object["status"]["conditions"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["type"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_job_runs_its_pod_to_completion_and_takes_it_along() {
    let sb = TestSandbox::start("job-create").await;
    sb.kubectl(&["create", "job", "once", "--image=busybox:1.37"])
        .run()
        .await
        .ok();
    wait_complete(&sb, "once").await;
    let job = sb.get_json(&["job", "once"]).await;
    let uid = job["metadata"]["uid"].as_str().expect("a uid");
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let status = &job["status"];
    assert_eq!(status["succeeded"], 1, "{status:#}");
    assert_eq!(status["ready"], 0, "{status:#}");
    assert!(status["startTime"].is_string() && status["completionTime"].is_string());
    assert_eq!(condition_types(&job), ["SuccessCriteriaMet", "Complete"]);
    let pods = sb.items("pods", "batch.kubernetes.io/job-name=once").await;
    assert_eq!(phases(&pods), ["Succeeded"]);
    let owner = &pods[0]["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "Job");
    assert_eq!(owner["uid"], uid);
    assert_eq!(owner["controller"], true);
    assert_eq!(pods[0]["metadata"]["labels"]["controller-uid"], uid);

    let table = sb.kubectl(&["get", "job", "once"]).run().await.ok().stdout;
    assert!(
        table.contains("Complete") && table.contains("1/1"),
        "{table}"
    );
    let described = sb
        .kubectl(&["describe", "job", "once"])
        .run()
        .await
        .ok()
        .stdout;
    assert!(
        described.contains("0 Active (0 Ready) / 1 Succeeded / 0 Failed"),
        "{described}"
    );
    // A Job made from a CronJob's template (and owned by it) runs alike.
    sb.kubectl(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox:1.37",
        "--schedule=0 3 * * *",
    ])
    .run()
    .await
    .ok();
    sb.kubectl(&["create", "job", "manual", "--from=cronjob/nightly"])
        .run()
        .await
        .ok();
    wait_complete(&sb, "manual").await;

    sb.kubectl(&["delete", "job", "once"]).run().await.ok();
    eventually("the Job's Pod to go", || async {
        sb.items("pods", "job-name=once")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
}

const JOB: &str = "\
apiVersion: batch/v1
kind: Job
metadata:
  name: batch
  namespace: default
spec:
  completions: 3
  parallelism: 2
  backoffLimit: 1
  suspend: SUSPEND
  template:
    metadata:
      annotations:
        sandbox.driftless.dev/rollout: OUTCOME
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox:1.37
";

fn job(suspend: bool, outcome: &str) -> String {
    JOB.replace("SUSPEND", &suspend.to_string())
        .replace("OUTCOME", outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_job_waits_then_completes_its_completions() {
    let sb = TestSandbox::start("job-suspend").await;
    sb.apply(&job(true, "succeed")).await;
    let job_json = eventually("the Job to be suspended", || async {
        let job = sb.get_json(&["job", "batch"]).await;
        (condition_types(&job) == ["Suspended"]).then_some(job)
    })
    .await;
    assert!(
        job_json["status"].get("startTime").is_none(),
        "{job_json:#}"
    );
    assert!(sb.items("pods", "job-name=batch").await.is_empty());

    sb.apply(&job(false, "succeed")).await;
    wait_complete(&sb, "batch").await;
    let done = sb.get_json(&["job", "batch"]).await;
    assert_eq!(done["status"]["succeeded"], 3, "{done:#}");
    assert_eq!(
        condition_types(&done),
        ["Suspended", "SuccessCriteriaMet", "Complete"]
    );
    assert_eq!(done["status"]["conditions"][0]["status"], "False");
    let pods = sb.items("pods", "job-name=batch").await;
    assert_eq!(phases(&pods), ["Succeeded"; 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_runs_each_index_once() {
    let sb = TestSandbox::start("job-indexed").await;
    let manifest = job(false, "succeed").replace(
        "  completions: 3\n",
        "  completions: 3\n  completionMode: Indexed\n",
    );
    sb.apply(&manifest).await;
    wait_complete(&sb, "batch").await;
    let done = sb.get_json(&["job", "batch"]).await;
    assert_eq!(done["status"]["completedIndexes"], "0-2", "{done:#}");
    assert_eq!(done["status"]["succeeded"], 3, "{done:#}");
    let mut indexes: Vec<(String, String)> = sb
        .items("pods", "job-name=batch")
        .await
        .iter()
        .map(|p| {
            let index = &p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"];
            let hostname = &p["spec"]["hostname"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (text(index), text(hostname))
        })
        .collect();
    indexes.sort();
    let expected: Vec<(String, String)> = (0..3)
        .map(|i| (i.to_string(), format!("batch-{i}")))
        .collect();
    assert_eq!(indexes, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_fails_past_its_backoff_limit() {
    let sb = TestSandbox::start("job-fail").await;
    sb.apply(&job(false, "fail")).await;
    sb.kubectl(&[
        "wait",
        "--for=condition=failed",
        "job/batch",
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
    let failed = sb.get_json(&["job", "batch"]).await;
    // backoffLimit 1: the second failure fails the Job; with two Pods at
    // a time, both may have failed by then.
    let count = failed["status"]["failed"].as_i64().unwrap_or(0);
    assert!((2..=3).contains(&count), "{failed:#}");
    assert_eq!(condition_types(&failed), ["FailureTarget", "Failed"]);
    assert_eq!(
        failed["status"]["conditions"][1]["reason"],
        "BackoffLimitExceeded"
    );
    assert!(failed["status"].get("active").is_none(), "{failed:#}");
    let pods = sb.items("pods", "job-name=batch").await;
    assert!(phases(&pods).iter().all(|p| *p == "Failed"), "{pods:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_job_fails_at_its_deadline() {
    let sb = TestSandbox::start("job-deadline").await;
    let manifest = job(false, "hang").replace(
        "  backoffLimit: 1\n",
        "  backoffLimit: 1\n  activeDeadlineSeconds: 2\n",
    );
    sb.apply(&manifest).await;
    let pods = eventually("two pending Pods", || async {
        let pods = sb.items("pods", "job-name=batch").await;
        (phases(&pods) == ["Pending", "Pending"]).then_some(pods)
    })
    .await;
    assert_eq!(pods.len(), 2);
    sb.kubectl(&[
        "wait",
        "--for=condition=failed",
        "job/batch",
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
    let failed = sb.get_json(&["job", "batch"]).await;
    assert_eq!(condition_types(&failed), ["FailureTarget", "Failed"]);
    assert_eq!(
        failed["status"]["conditions"][1]["reason"],
        "DeadlineExceeded"
    );
    // Its running Pods are stopped.
    assert!(sb.items("pods", "job-name=batch").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_goes_after_its_ttl() {
    let sb = TestSandbox::start("job-ttl").await;
    let manifest = job(false, "succeed").replace(
        "  backoffLimit: 1\n",
        "  backoffLimit: 1\n  ttlSecondsAfterFinished: 1\n",
    );
    sb.apply(&manifest).await;
    wait_complete(&sb, "batch").await;
    eventually("the Job and its Pods to go", || async {
        let gone = sb.kubectl(&["get", "job", "batch"]).run().await.code == 1
            && sb.items("pods", "job-name=batch").await.is_empty();
        gone.then_some(())
    })
    .await;
}

/// `kubectl wait --for=condition=complete job/NAME` (the assertions that
/// follow say what went wrong if it times out).
async fn wait_complete(sb: &TestSandbox, name: &str) {
    sb.kubectl(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{name}"),
        "--timeout=30s",
    ])
    .run()
    .await
    .ok();
}
