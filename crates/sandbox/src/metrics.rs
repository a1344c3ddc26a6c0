//! `/metrics`: the API server's request counter and latency histogram in
//! the Prometheus text format, labelled as kube-apiserver labels them, so
//! tests and benchmarks can count what a client asked of the sandbox.
//!
//! Owns the counting only; `server` says what each request was and how it
//! ended. The series kept are kube-apiserver's stable ones:
//! `apiserver_request_total{verb, dry_run, group, version, resource,
//! subresource, scope, component, code}` and
//! `apiserver_request_duration_seconds` (same labels but `code`, with the
//! real server's buckets).
//!
//! Labels follow the real server's instrumentation: the verb is the HTTP
//! method in capitals, except that a GET of a collection is `LIST`, a
//! watch (`?watch=true` or a `/watch/` path) is `WATCH` and a
//! server-side apply patch is `APPLY`; the scope is `resource` when the
//! URL names the object (or the request creates one), else `namespace` or
//! `cluster`. As on the real server, only requests that passed
//! authentication and authorization to a served resource are counted
//! (those filters answer before the instrumented handler), plus the
//! health checks (`subresource` is their path, `component` empty).
//! Differences: a watch is counted when its stream starts, not when it
//! ends, and its duration is the time to its first byte.
//!
//! Why our own: the text format is a few lines per series, and a metrics
//! crate would bring a registry and global state for two families.
//! Each series is a set of atomic counters behind a sharded map, so a
//! request costs one short read lock and a few relaxed atomic adds.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// kube-apiserver's buckets for `apiserver_request_duration_seconds`.
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// Shards of the series map: enough that concurrent requests rarely meet
/// on one lock.
const SHARDS: usize = 16;

/// The labels of one series (all but `code`, which the series counts per value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Labels {
    pub verb: &'static str,
    pub dry_run: bool,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: String,
    pub scope: &'static str,
    pub component: &'static str,
}

impl Labels {
    /// A resource request's labels, as the real server's instrumentation
    /// derives them from the method, the URL and the patch's media type.
    pub fn for_resource(
        request: &RequestLine<'_>,
        target: &crate::auth::ResourceAttributes,
        names_object: bool,
    ) -> Labels {
        let scope = if names_object || request.method == hyper::Method::POST {
            "resource"
        } else if !target.namespace.is_empty() {
            "namespace"
        } else {
            "cluster"
        };
        let verb = match request.method.as_str() {
            "GET" | "HEAD" if request.watch => "WATCH",
            "GET" | "HEAD" if scope == "resource" => "GET",
            "GET" | "HEAD" => "LIST",
            "PATCH" if request.content_type == "application/apply-patch+yaml" => "APPLY",
            "PATCH" => "PATCH",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            _ => "other",
        };
        Labels {
            verb,
            dry_run: request.dry_run,
            group: target.group.clone(),
            version: request.version.to_string(),
            resource: target.resource.clone(),
            subresource: target.subresource.clone(),
            scope,
            component: "apiserver",
        }
    }

    /// A health check's labels (`/healthz`, `/livez`, `/readyz`).
    pub fn for_health(path: &str) -> Labels {
        Labels {
            verb: "GET",
            subresource: path.to_string(),
            ..Labels::default()
        }
    }
}

/// What the metrics need of a request beyond its RBAC attributes.
pub struct RequestLine<'a> {
    pub method: &'a hyper::Method,
    pub version: &'a str,
    pub watch: bool,
    pub dry_run: bool,
    /// The media type alone, without parameters.
    pub content_type: &'a str,
}

/// One series: a request count per response code and a latency histogram.
struct Series {
    labels: Labels,
    /// Non-cumulative: `buckets[i]` counts durations in `(BUCKETS[i-1], BUCKETS[i]]`;
    /// the last slot counts those above every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
    /// Few codes per series (200, 201, 404…): a short list beats a map.
    codes: Mutex<Vec<(u16, u64)>>,
}

impl Series {
    fn new(labels: Labels) -> Series {
        Series {
            labels,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
            codes: Mutex::new(Vec::new()),
        }
    }

    fn observe(&self, code: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let mut codes = self
            .codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match codes.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => codes.push((code, 1)),
        }
    }
}

/// The request metrics of one sandbox.
pub struct Metrics {
    hasher: std::collections::hash_map::RandomState,
    shards: Vec<RwLock<HashMap<Labels, Arc<Series>>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            hasher: std::collections::hash_map::RandomState::new(),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

impl Metrics {
    /// Counts one finished request.
    pub fn record(&self, labels: Labels, code: u16, elapsed: Duration) {
        let hash = self.hasher.hash_one(&labels);
        let shard = &self.shards[usize::try_from(hash % SHARDS as u64).unwrap_or(0)];
        let existing = shard
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&labels)
            .cloned();
        let series = existing.unwrap_or_else(|| {
            shard
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(labels.clone())
                .or_insert_with(|| Arc::new(Series::new(labels)))
                .clone()
        });
        series.observe(code, elapsed);
    }

    /// The Prometheus text exposition (format 0.0.4) of every series, in a stable order.
    pub fn render(&self) -> String {
        let mut all: Vec<Arc<Series>> = self
            .shards
            .iter()
            .flat_map(|shard| {
                shard
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by_cached_key(|series| label_text(&series.labels));
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        for series in &all {
            let labels = label_text(&series.labels);
            let mut codes = series
                .codes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            codes.sort_unstable();
            for (code, n) in codes {
                let _ = writeln!(
                    out,
                    "apiserver_request_total{{code=\"{code}\",{labels}}} {n}"
                );
            }
        }
        out.push_str("# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for series in &all {
            let labels = label_text(&series.labels);
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&series.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = series.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let sum = series.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        out
    }
}

/// Labels in the exposition's syntax, names sorted as Prometheus prints them.
fn label_text(l: &Labels) -> String {
    format!(
        "component=\"{}\",dry_run=\"{}\",group=\"{}\",resource=\"{}\",scope=\"{}\",subresource=\"{}\",verb=\"{}\",version=\"{}\"",
        l.component,
        if l.dry_run { "All" } else { "" },
        escape(&l.group),
        escape(&l.resource),
        l.scope,
        escape(&l.subresource),
        l.verb,
        escape(&l.version),
    )
}

/// Label values come from URLs: escape what the format reserves.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Attributes, ResourceAttributes};
    use hyper::Method;

    fn labels(method: &Method, path: &str, watch: bool, content_type: &str) -> Labels {
        let target = Attributes::from_request(method, path, watch, None)
            .resource
            .expect("a resource path");
        let names_object = !target.name.is_empty();
        Labels::for_resource(
            &RequestLine {
                method,
                version: "v1",
                watch: watch || path.contains("/watch/"),
                dry_run: false,
                content_type,
            },
            &target,
            names_object,
        )
    }

    #[test]
    fn verbs_and_scopes_are_the_real_servers() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/a/pods",
                false,
                "",
                "LIST",
                "namespace",
            ),
            (Method::GET, "/api/v1/pods", false, "", "LIST", "cluster"),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods/p",
                false,
                "",
                "GET",
                "resource",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods",
                true,
                "",
                "WATCH",
                "namespace",
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/a/pods",
                false,
                "",
                "WATCH",
                "namespace",
            ),
            (
                Method::POST,
                "/api/v1/namespaces/a/pods",
                false,
                "",
                "POST",
                "resource",
            ),
            (
                Method::PATCH,
                "/api/v1/namespaces/a/pods/p",
                false,
                "application/apply-patch+yaml",
                "APPLY",
                "resource",
            ),
            (
                Method::PATCH,
                "/api/v1/namespaces/a/pods/p",
                false,
                "application/merge-patch+json",
                "PATCH",
                "resource",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a/pods",
                false,
                "",
                "DELETE",
                "namespace",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a",
                false,
                "",
                "GET",
                "resource",
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                false,
                "",
                "LIST",
                "cluster",
            ),
        ];
        for (method, path, watch, content_type, verb, scope) in cases {
            let l = labels(&method, path, watch, content_type);
            assert_eq!((l.verb, l.scope), (verb, scope), "{method} {path}");
        }
    }

    #[test]
    fn counts_per_code_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        let l = labels(&Method::GET, "/api/v1/namespaces/a/configmaps", false, "");
        metrics.record(l.clone(), 200, Duration::from_millis(3));
        metrics.record(l.clone(), 200, Duration::from_millis(30));
        metrics.record(l, 403, Duration::from_secs(100));
        let text = metrics.render();
        let series = r#"component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="LIST",version="v1""#;
        for line in [
            format!("apiserver_request_total{{code=\"200\",{series}}} 2"),
            format!("apiserver_request_total{{code=\"403\",{series}}} 1"),
            format!("apiserver_request_duration_seconds_bucket{{{series},le=\"0.005\"}} 1"),
            format!("apiserver_request_duration_seconds_bucket{{{series},le=\"0.025\"}} 1"),
            format!("apiserver_request_duration_seconds_bucket{{{series},le=\"0.05\"}} 2"),
            format!("apiserver_request_duration_seconds_bucket{{{series},le=\"60\"}} 2"),
            format!("apiserver_request_duration_seconds_bucket{{{series},le=\"+Inf\"}} 3"),
            format!("apiserver_request_duration_seconds_count{{{series}}} 3"),
            format!("apiserver_request_duration_seconds_sum{{{series}}} 100.033"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }

    #[test]
    fn label_values_from_urls_are_escaped() {
        let target = ResourceAttributes {
            resource: "we\"ird".into(),
            ..Default::default()
        };
        let l = Labels::for_resource(
            &RequestLine {
                method: &Method::GET,
                version: "v1",
                watch: false,
                dry_run: false,
                content_type: "",
            },
            &target,
            false,
        );
        assert!(label_text(&l).contains(r#"resource="we\"ird""#));
    }

    /// The per-request cost, printed for the report; fails only if it is
    /// absurd (a lock convoy or an allocation storm would show here).
    #[test]
    fn recording_is_cheap() {
        let metrics = Metrics::default();
        let l = labels(&Method::GET, "/api/v1/namespaces/a/configmaps", false, "");
        let rounds = 200_000u32;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            metrics.record(l.clone(), 200, Duration::from_micros(500));
        }
        let per = started.elapsed() / rounds;
        println!("metrics: {per:?} per recorded request (labels cloned each time)");
        assert!(per < Duration::from_micros(20), "{per:?} per request");
    }
}
