//! The Job controller: Pods from the template, owned by the Job, as many
//! at a time as `parallelism` allows until `completions` of them have
//! succeeded (`Complete`) or more than `backoffLimit` have failed
//! (`Failed`), or it has run longer than `activeDeadlineSeconds` (`Failed`
//! too; the caller is told when to look again); `suspend` removes the
//! running ones until resumed. The status carries the counts and, once
//! the Job is done, the pair of conditions Kubernetes 1.32 writes:
//! `SuccessCriteriaMet` then `Complete`, or `FailureTarget` then `Failed`.
//! A finished Job with `ttlSecondsAfterFinished` is deleted (its Pods in
//! the foreground) once that time has passed, as the TTL controller does.
//!
//! Pods of a Job are not restarted (`Never`/`OnFailure`), so
//! [`crate::rollout`] ends them `Succeeded`, or `Failed` under the rollout
//! annotation `fail`; `hang` leaves them, and the Job, active.
//!
//! `completionMode: Indexed` gives each Pod its index (see
//! [`super::indexed`]).
//!
//! Simplifications: failed Pods are replaced at once (no back-off delay),
//! the counts are those of the Pods still there (no tracking finalizers),
//! `podFailurePolicy`, `successPolicy` and `backoffLimitPerIndex` are not
//! acted on.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::indexed;
use super::{
    Index, create, delete, delete_propagating, int_at, is_pod_ready, is_terminating, jobs,
    keep_condition_times, pods, write_status,
};
use crate::api::{Api, Propagation};

const COMPLETED: (&str, &str) = (
    "CompletionsReached",
    "Reached expected number of succeeded pods",
);
const BACKOFF: (&str, &str) = (
    "BackoffLimitExceeded",
    "Job has reached the specified backoff limit",
);
const DEADLINE: (&str, &str) = (
    "DeadlineExceeded",
    "Job was active longer than specified deadline",
);

/// What a Job's Pods add up to.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    active: i64,
    ready: i64,
    succeeded: i64,
    failed: i64,
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The counts of `job`'s Pods; an Indexed Job's successes are its
/// completed indexes.
fn counts(job: &Value, pods: &[Value]) -> Counts {
    let mut counts = Counts::default();
    for pod in pods {
        match phase(pod) {
            "Succeeded" => counts.succeeded += 1,
            "Failed" => counts.failed += 1,
            _ => {
                counts.active += 1;
                counts.ready += i64::from(is_pod_ready(pod));
            }
        }
    }
    if indexed::is_indexed(job) {
        counts.succeeded = i64::try_from(indexed::completed(job, pods).len()).unwrap_or(0);
    }
    counts
}

/// Whether a condition of this type is `True`.
fn has_condition(job: &Value, kind: &str) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == kind && c["status"] == "True")
        })
}

/// How the Job stands once its Pods are counted.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Needs this many Pods running (more or fewer than now).
    Run(i64),
    Suspended,
    Complete,
    /// Failed, for this reason and message.
    Failed((&'static str, &'static str)),
}

/// What is left, as of `now`, of the seconds at `limit` counted from the
/// time at `since`: `None` without either.
fn remaining(job: &Value, limit: &str, since: Option<&str>, now: &str) -> Option<Duration> {
    let seconds = u64::try_from(int_at(job, limit)?).ok()?;
    let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339).ok();
    let elapsed = Duration::try_from(parse(now)? - parse(since?)?).unwrap_or_default();
    Some(Duration::from_secs(seconds).saturating_sub(elapsed))
}

/// How long the running Job has left before `activeDeadlineSeconds`.
fn time_left(job: &Value, now: &str) -> Option<Duration> {
    let started = job.pointer("/status/startTime").and_then(Value::as_str);
    remaining(job, "/spec/activeDeadlineSeconds", started, now)
}

/// When the Job finished: when its `Complete` or `Failed` condition
/// became true, as the TTL controller reads it (empty if unrecorded);
/// `None` while it runs.
fn finished_at(job: &Value) -> Option<&str> {
    let conditions = job.pointer("/status/conditions")?.as_array()?;
    let finished = conditions.iter().find(|c| {
        matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True"
    })?;
    Some(finished["lastTransitionTime"].as_str().unwrap_or_default())
}

/// Deletes a finished Job whose `ttlSecondsAfterFinished` has run out, or
/// says how long it has left.
fn expire(api: &Api, job: &Value, finished: &str, now: &str) -> Option<Duration> {
    let since = Some(finished).filter(|t| !t.is_empty());
    match remaining(job, "/spec/ttlSecondsAfterFinished", since, now)? {
        Duration::ZERO => {
            delete_propagating(api, &jobs(), job, Some(Propagation::Foreground));
            None
        }
        left => Some(left),
    }
}

fn verdict(job: &Value, counts: &Counts, now: &str) -> Verdict {
    let backoff_limit = int_at(job, "/spec/backoffLimit").unwrap_or(6);
    let parallelism = int_at(job, "/spec/parallelism").unwrap_or(1).max(0);
    let completions = int_at(job, "/spec/completions");
    if counts.failed > backoff_limit {
        return Verdict::Failed(BACKOFF);
    }
    let done = match completions {
        Some(wanted) => counts.succeeded >= wanted,
        // Without completions, one success ends the Job once the others stop.
        None => counts.succeeded > 0 && counts.active == 0,
    };
    if done {
        return Verdict::Complete;
    }
    if job.pointer("/spec/suspend") == Some(&json!(true)) {
        return Verdict::Suspended;
    }
    if time_left(job, now) == Some(Duration::ZERO) {
        return Verdict::Failed(DEADLINE);
    }
    Verdict::Run(match completions {
        Some(wanted) => parallelism.min(wanted - counts.succeeded),
        None if counts.succeeded > 0 => 0,
        None => parallelism,
    })
}

/// Brings one Job's Pods to what it needs and writes its status, or
/// deletes it once finished past its TTL. Returns when its deadline or TTL
/// falls, if it has one still to come: no event marks that moment, so the
/// caller syncs it again then.
pub(super) fn sync_job(
    api: &Api,
    owned_pods: &mut Index,
    namespace: &str,
    name: &str,
) -> Option<Duration> {
    let job = api.store.txn(|t| t.get(&jobs(), namespace, name))?;
    if is_terminating(&job) {
        return None;
    }
    let now = (api.now)();
    // A finished Job's Pods and status stay as they are.
    if let Some(finished) = finished_at(&job) {
        return expire(api, &job, finished, &now);
    }
    let mut live: Vec<Value> = owned_pods
        .owned_by(api, &job)
        .iter()
        .map(|p| p.as_ref().clone())
        .collect();
    let verdict = verdict(&job, &counts(&job, &live), &now);
    let running = |p: &Value| !matches!(phase(p), "Succeeded" | "Failed");
    let want = match verdict {
        Verdict::Run(n) => n,
        _ => 0,
    };
    let mut active: Vec<Value> = live.iter().filter(|p| running(p)).cloned().collect();
    if usize::try_from(want).is_ok_and(|want| active.len() > want) {
        // Not-ready Pods go first, as the real controller picks them.
        active.sort_by_key(is_pod_ready);
        let extra = active.len() - usize::try_from(want).unwrap_or(0);
        for pod in active.drain(..extra) {
            delete(api, &pods(), &pod);
            live.retain(|p| p["metadata"]["uid"] != pod["metadata"]["uid"]);
        }
    }
    let missing = usize::try_from(want)
        .unwrap_or(0)
        .saturating_sub(active.len());
    let indexes: Vec<Option<i64>> = if indexed::is_indexed(&job) {
        let next = indexed::next_indexes(&job, &live, missing);
        next.into_iter().map(Some).collect()
    } else {
        vec![None; missing]
    };
    for index in indexes {
        let mut pod = super::pod_from_template(&job, "batch/v1", "Job");
        if let Some(index) = index {
            indexed::assign(&mut pod, &job, index);
        }
        live.extend(create(api, &pods(), namespace, pod));
    }
    let mut status = job_status(&job, &live, &verdict, &now);
    if let Some(Value::Array(conditions)) = status.get_mut("conditions") {
        keep_condition_times(job.get("status"), conditions);
    }
    write_status(api, &jobs(), &job, status.clone());
    match verdict {
        Verdict::Run(_) => {
            // A first sync has just set the start time the deadline counts from.
            let mut started = job.as_ref().clone();
            started["status"] = status;
            time_left(&started, &now)
        }
        _ => None,
    }
}

fn condition(kind: &str, status: bool, (reason, message): (&str, &str), now: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

/// The status the Job controller writes for these counts: zero counts are
/// left out but `ready` and `terminating`, which 1.32 always reports.
fn job_status(job: &Value, pods: &[Value], verdict: &Verdict, now: &str) -> Value {
    let counts = &counts(job, pods);
    let old = job.get("status");
    let mut conditions: Vec<Value> = old
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut set = |c: Value| match conditions.iter_mut().find(|o| o["type"] == c["type"]) {
        Some(slot) => *slot = c,
        None => conditions.push(c),
    };
    let suspended = *verdict == Verdict::Suspended;
    if suspended {
        set(condition(
            "Suspended",
            true,
            ("JobSuspended", "Job suspended"),
            now,
        ));
    } else if has_condition(job, "Suspended") {
        set(condition(
            "Suspended",
            false,
            ("JobResumed", "Job resumed"),
            now,
        ));
    }
    match verdict {
        Verdict::Complete => {
            set(condition("SuccessCriteriaMet", true, COMPLETED, now));
            set(condition("Complete", true, COMPLETED, now));
        }
        Verdict::Failed(why) => {
            set(condition("FailureTarget", true, *why, now));
            set(condition("Failed", true, *why, now));
        }
        Verdict::Run(_) | Verdict::Suspended => {}
    }
    let mut status = json!({
        "ready": counts.ready,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    });
    // A suspended Job has no start time; resuming starts the clock anew.
    let resumed = has_condition(job, "Suspended");
    if !suspended {
        let started = old
            .and_then(|s| s.get("startTime"))
            .filter(|t| t.is_string() && !resumed);
        status["startTime"] = started.cloned().unwrap_or_else(|| json!(now));
    }
    if *verdict == Verdict::Complete {
        status["completionTime"] = json!(now);
    }
    for (field, value) in [
        ("active", counts.active),
        ("succeeded", counts.succeeded),
        ("failed", counts.failed),
    ] {
        if value > 0 {
            status[field] = json!(value);
        }
    }
    if !conditions.is_empty() {
        status["conditions"] = Value::Array(conditions);
    }
    if indexed::is_indexed(job) {
        let done = indexed::intervals(&indexed::completed(job, pods));
        if !done.is_empty() {
            status["completedIndexes"] = json!(done);
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn pod(phase: &str) -> Value {
        json!({"status": {"phase": phase}})
    }

    fn job(spec: Value) -> Value {
        json!({"metadata": {"name": "j"}, "spec": spec})
    }

    #[test]
    fn pods_run_in_parallel_up_to_the_completions_left() {
        let job = job(json!({"completions": 5, "parallelism": 2, "backoffLimit": 6}));
        let four_done = counts(&job, &vec![pod("Succeeded"); 4]);
        assert_eq!(verdict(&job, &counts(&job, &[]), NOW), Verdict::Run(2));
        assert_eq!(verdict(&job, &four_done, NOW), Verdict::Run(1));
        assert_eq!(
            verdict(&job, &counts(&job, &vec![pod("Succeeded"); 5]), NOW),
            Verdict::Complete
        );
    }

    #[test]
    fn failures_beyond_the_backoff_limit_fail_the_job() {
        let job = job(json!({"completions": 1, "parallelism": 1, "backoffLimit": 1}));
        assert_eq!(
            verdict(&job, &counts(&job, &[pod("Failed")]), NOW),
            Verdict::Run(1)
        );
        let failures = [pod("Failed"), pod("Failed")];
        let twice = counts(&job, &failures);
        assert_eq!(verdict(&job, &twice, NOW), Verdict::Failed(BACKOFF));
        let status = job_status(&job, &failures, &Verdict::Failed(BACKOFF), NOW);
        assert_eq!(status["failed"], 2);
        assert_eq!(status["conditions"][0]["type"], "FailureTarget");
        assert_eq!(status["conditions"][1]["type"], "Failed");
        assert_eq!(status["conditions"][1]["reason"], "BackoffLimitExceeded");
        assert!(status.get("completionTime").is_none());
    }

    #[test]
    fn without_completions_one_success_ends_the_job_once_others_stop() {
        let job = job(json!({"parallelism": 2}));
        let one_done = counts(&job, &[pod("Succeeded"), pod("Running")]);
        assert_eq!(verdict(&job, &one_done, NOW), Verdict::Run(0));
        assert_eq!(
            verdict(&job, &counts(&job, &[pod("Succeeded")]), NOW),
            Verdict::Complete
        );
    }

    #[test]
    fn a_job_past_its_deadline_fails() {
        let mut job = job(json!({"completions": 1, "activeDeadlineSeconds": 60}));
        assert_eq!(time_left(&job, NOW), None, "not started");
        job["status"] = json!({"startTime": NOW});
        let later = "2026-01-01T00:00:45Z";
        assert_eq!(time_left(&job, later), Some(Duration::from_secs(15)));
        assert_eq!(
            verdict(&job, &counts(&job, &[pod("Running")]), later),
            Verdict::Run(1)
        );
        let past = "2026-01-01T00:01:00Z";
        assert_eq!(
            verdict(&job, &counts(&job, &[pod("Running")]), past),
            Verdict::Failed(DEADLINE)
        );
    }

    #[test]
    fn a_job_is_finished_when_complete_or_failed() {
        let mut job = job(json!({}));
        assert_eq!(finished_at(&job), None);
        job["status"] = json!({"conditions": [
            {"type": "FailureTarget", "status": "True", "lastTransitionTime": "t0"},
            {"type": "Failed", "status": "True", "lastTransitionTime": "t1"},
        ]});
        assert_eq!(finished_at(&job), Some("t1"));
        job["status"] = json!({"completionTime": "t2", "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": "t3"},
        ]});
        assert_eq!(finished_at(&job), Some("t3"));
        let left = remaining(
            &json!({"spec": {"ttlSecondsAfterFinished": 30}}),
            "/spec/ttlSecondsAfterFinished",
            Some(NOW),
            "2026-01-01T00:00:10Z",
        );
        assert_eq!(left, Some(Duration::from_secs(20)));
    }

    #[test]
    fn an_indexed_job_counts_and_lists_its_completed_indexes() {
        let job = job(json!({"completionMode": "Indexed", "completions": 3}));
        let indexed = |i: i64, phase: &str| {
            json!({"metadata": {"annotations": {"batch.kubernetes.io/job-completion-index": i.to_string()}},
                   "status": {"phase": phase}})
        };
        // Two successes of index 0 count once.
        let pods = [
            indexed(0, "Succeeded"),
            indexed(0, "Succeeded"),
            indexed(2, "Succeeded"),
        ];
        assert_eq!(counts(&job, &pods).succeeded, 2);
        assert_eq!(verdict(&job, &counts(&job, &pods), NOW), Verdict::Run(1));
        let status = job_status(&job, &pods, &Verdict::Run(1), NOW);
        assert_eq!(status["completedIndexes"], "0,2");
    }

    #[test]
    fn a_complete_job_reports_both_conditions_and_its_times() {
        let job = job(json!({"completions": 1}));
        let status = job_status(&job, &[pod("Succeeded")], &Verdict::Complete, NOW);
        assert_eq!(
            status,
            json!({
                "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
                "startTime": NOW, "completionTime": NOW, "succeeded": 1,
                "conditions": [
                    condition("SuccessCriteriaMet", true, COMPLETED, NOW),
                    condition("Complete", true, COMPLETED, NOW),
                ],
            })
        );
    }

    #[test]
    fn suspending_stops_the_clock_and_resuming_restarts_it() {
        let mut job = job(json!({"completions": 1, "suspend": true}));
        job["status"] = json!({"startTime": "earlier", "active": 1});
        assert_eq!(verdict(&job, &counts(&job, &[]), NOW), Verdict::Suspended);
        let status = job_status(&job, &[], &Verdict::Suspended, NOW);
        assert!(status.get("startTime").is_none());
        assert_eq!(status["conditions"][0]["reason"], "JobSuspended");
        job["status"] = status;
        job["spec"]["suspend"] = json!(false);
        let later = "2026-01-01T00:01:00Z";
        let status = job_status(&job, &[], &Verdict::Run(1), later);
        assert_eq!(status["startTime"], later);
        assert_eq!(status["conditions"][0]["status"], "False");
        assert_eq!(status["conditions"][0]["reason"], "JobResumed");
    }
}
