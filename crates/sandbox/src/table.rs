//! Server-side printing: `meta.k8s.io/v1` Table responses, which `kubectl
//! get` asks for, with the columns a real server shows for common kinds and
//! a CRD's `additionalPrinterColumns` for custom resources.

use serde_json::{Value, json};

use crate::catalog::ResourceType;

/// Whether the Accept header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// Whether the Accept header asks for metadata only
/// (`as=PartialObjectMetadata` or `as=PartialObjectMetadataList`, what
/// kube-rs' `get_metadata` and metadata watchers send).
pub fn wants_partial_metadata(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=PartialObjectMetadata"))
}

/// How much of each object rides along in a row (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

struct Column {
    name: String,
    column_type: &'static str,
    format: &'static str,
    priority: i64,
    value: Box<dyn Fn(&Value) -> Value>,
}

fn column(
    name: &str,
    column_type: &'static str,
    value: impl Fn(&Value) -> Value + 'static,
) -> Column {
    Column {
        name: name.to_string(),
        column_type,
        format: if name == "Name" { "name" } else { "" },
        priority: 0,
        value: Box::new(value),
    }
}

fn int_at(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn str_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn count_at(object: &Value, pointer: &str) -> usize {
    match object.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

/// Kubernetes' short human durations: `45s`, `3m12s`, `5h`, `2d3h`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

fn age(object: &Value) -> Value {
    let created = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        });
    match created {
        Some(t) => Value::String(human_age(
            (time::OffsetDateTime::now_utc() - t).whole_seconds(),
        )),
        None => Value::String("<unknown>".into()),
    }
}

fn condition_status(object: &Value, kind: &str) -> Option<String> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
        .and_then(|c| c["status"].as_str().map(str::to_string))
}

/// The External-IP column as kubectl shows it for each Service type.
fn service_external_ip(service: &Value) -> Value {
    let ingress: Vec<String> = service
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|i| i.get("ip").or_else(|| i.get("hostname")))
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let external: Vec<String> = service
        .pointer("/spec/externalIPs")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let shown = match str_at(service, "/spec/type").as_str() {
        "ExternalName" => str_at(service, "/spec/externalName"),
        "LoadBalancer" if ingress.is_empty() && external.is_empty() => "<pending>".into(),
        "LoadBalancer" => [ingress, external].concat().join(","),
        _ if external.is_empty() => "<none>".into(),
        _ => external.join(","),
    };
    json!(shown)
}

/// Seconds since the RFC 3339 time at `pointer`.
fn since(object: &Value, pointer: &str) -> Option<i64> {
    let at = object.pointer(pointer)?.as_str()?;
    let at =
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time::OffsetDateTime::now_utc() - at).whole_seconds())
}

/// A label map as kubectl prints one: sorted `k=v` pairs, or `<none>`.
fn format_labels(labels: Option<&Value>) -> String {
    let mut pairs: Vec<String> = labels
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".into()
    } else {
        pairs.join(",")
    }
}

/// A label selector as kubectl prints one (`app=web,tier in (a,b)`).
fn format_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return "<none>".into();
    };
    let mut parts = Vec::new();
    if let Some(labels) = selector
        .get("matchLabels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
    {
        parts.push(format_labels(Some(labels)));
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

/// A column listing something of each container of a pod template.
fn containers_column(name: &str, template: &'static str, field: &'static str) -> Column {
    let mut col = column(name, "string", move |o| {
        let values: Vec<&str> = o
            .pointer(template)
            .and_then(|spec| spec.get("containers"))
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c[field].as_str()).collect())
            .unwrap_or_default();
        json!(values.join(","))
    });
    col.priority = 1;
    col
}

/// The extra columns of `kubectl get -o wide`, after Age.
fn wide_columns(rt: &ResourceType) -> Vec<Column> {
    let selector = |pointer: &'static str| {
        let mut col = column("Selector", "string", move |o| {
            json!(format_selector(o.pointer(pointer)))
        });
        col.priority = 1;
        col
    };
    let template = "/spec/template/spec";
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") | ("batch", "Job") => vec![
            containers_column("Containers", template, "name"),
            containers_column("Images", template, "image"),
            selector("/spec/selector"),
        ],
        ("apps", "StatefulSet") => vec![
            containers_column("Containers", template, "name"),
            containers_column("Images", template, "image"),
        ],
        ("batch", "CronJob") => {
            let template = "/spec/jobTemplate/spec/template/spec";
            vec![
                containers_column("Containers", template, "name"),
                containers_column("Images", template, "image"),
                selector("/spec/jobTemplate/spec/selector"),
            ]
        }
        ("", "Node") => {
            // Version sits after Age at priority 0, as kubectl prints it.
            let mut cols = vec![column("Version", "string", |o| {
                json!(str_at(o, "/status/nodeInfo/kubeletVersion"))
            })];
            let address = |kind: &'static str| {
                move |o: &Value| {
                    let found = o
                        .pointer("/status/addresses")
                        .and_then(Value::as_array)
                        .and_then(|a| a.iter().find(|a| a["type"] == kind))
                        .and_then(|a| a["address"].as_str());
                    json!(found.unwrap_or("<none>"))
                }
            };
            let info = |field: &'static str| move |o: &Value| json!(str_at(o, field));
            for mut col in [
                column("Internal-IP", "string", address("InternalIP")),
                column("External-IP", "string", address("ExternalIP")),
                column("OS-Image", "string", info("/status/nodeInfo/osImage")),
                column(
                    "Kernel-Version",
                    "string",
                    info("/status/nodeInfo/kernelVersion"),
                ),
                column(
                    "Container-Runtime",
                    "string",
                    info("/status/nodeInfo/containerRuntimeVersion"),
                ),
            ] {
                col.priority = 1;
                cols.push(col);
            }
            cols
        }
        ("", "Service") => {
            let mut col = column("Selector", "string", |o| {
                json!(format_labels(o.pointer("/spec/selector")))
            });
            col.priority = 1;
            vec![col]
        }
        _ => Vec::new(),
    }
}

fn kind_columns(rt: &ResourceType) -> Vec<Column> {
    let ready = |have: &'static str, want: &'static str| {
        move |o: &Value| {
            json!(format!(
                "{}/{}",
                int_at(o, have),
                o.pointer(want).and_then(Value::as_i64).unwrap_or(1)
            ))
        }
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => vec![column("Status", "string", |o| {
            json!(str_at(o, "/status/phase"))
        })],
        ("", "ConfigMap") => vec![column("Data", "integer", |o| {
            json!(count_at(o, "/data") + count_at(o, "/binaryData"))
        })],
        ("", "Secret") => vec![
            column("Type", "string", |o| json!(str_at(o, "/type"))),
            column("Data", "integer", |o| json!(count_at(o, "/data"))),
        ],
        ("", "ServiceAccount") => vec![column("Secrets", "integer", |o| {
            json!(count_at(o, "/secrets"))
        })],
        ("", "Service") => vec![
            column("Type", "string", |o| json!(str_at(o, "/spec/type"))),
            column("Cluster-IP", "string", |o| {
                let ip = str_at(o, "/spec/clusterIP");
                json!(if ip.is_empty() {
                    "<none>".to_string()
                } else {
                    ip
                })
            }),
            column("External-IP", "string", service_external_ip),
            column("Port(s)", "string", |o| {
                let ports: Vec<String> = o
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                let protocol = p["protocol"].as_str().unwrap_or("TCP");
                                let port = p["port"].as_i64().unwrap_or(0);
                                match p["nodePort"].as_i64() {
                                    Some(node) => format!("{port}:{node}/{protocol}"),
                                    None => format!("{port}/{protocol}"),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                })
            }),
        ],
        ("", "Pod") => vec![
            column("Ready", "string", |o| {
                let total = count_at(o, "/spec/containers");
                let ready = if condition_status(o, "Ready").as_deref() == Some("True") {
                    total
                } else {
                    0
                };
                json!(format!("{ready}/{total}"))
            }),
            column("Status", "string", |o| {
                let phase = str_at(o, "/status/phase");
                json!(if phase.is_empty() {
                    "Pending".to_string()
                } else {
                    phase
                })
            }),
        ],
        ("", "Node") => vec![
            column("Status", "string", |o| {
                let mut status = match condition_status(o, "Ready").as_deref() {
                    Some("True") => "Ready",
                    Some(_) => "NotReady",
                    None => "Unknown",
                }
                .to_string();
                if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
                    status.push_str(",SchedulingDisabled");
                }
                json!(status)
            }),
            column("Roles", "string", |o| {
                let roles: Vec<&str> = o
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|labels| {
                        labels
                            .keys()
                            .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                            .collect()
                    })
                    .unwrap_or_default();
                json!(if roles.is_empty() {
                    "<none>".to_string()
                } else {
                    roles.join(",")
                })
            }),
        ],
        ("", "PersistentVolumeClaim") => vec![column("Status", "string", |o| {
            json!(str_at(o, "/status/phase"))
        })],
        ("apps", "Deployment") => vec![
            column(
                "Ready",
                "string",
                ready("/status/readyReplicas", "/spec/replicas"),
            ),
            column("Up-to-date", "integer", |o| {
                json!(int_at(o, "/status/updatedReplicas"))
            }),
            column("Available", "integer", |o| {
                json!(int_at(o, "/status/availableReplicas"))
            }),
        ],
        ("apps", "StatefulSet") => vec![column(
            "Ready",
            "string",
            ready("/status/readyReplicas", "/spec/replicas"),
        )],
        ("apps", "ReplicaSet") => vec![
            column("Desired", "integer", |o| {
                json!(
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )
            }),
            column("Current", "integer", |o| {
                json!(int_at(o, "/status/replicas"))
            }),
            column("Ready", "integer", |o| {
                json!(int_at(o, "/status/readyReplicas"))
            }),
        ],
        ("apps", "DaemonSet") => vec![
            column("Desired", "integer", |o| {
                json!(int_at(o, "/status/desiredNumberScheduled"))
            }),
            column("Current", "integer", |o| {
                json!(int_at(o, "/status/currentNumberScheduled"))
            }),
            column("Ready", "integer", |o| {
                json!(int_at(o, "/status/numberReady"))
            }),
            column("Up-to-date", "integer", |o| {
                json!(int_at(o, "/status/updatedNumberScheduled"))
            }),
            column("Available", "integer", |o| {
                json!(int_at(o, "/status/numberAvailable"))
            }),
            column("Node Selector", "string", |o| {
                json!(format_labels(o.pointer("/spec/template/spec/nodeSelector")))
            }),
        ],
        ("batch", "Job") => vec![
            column("Status", "string", |o| {
                let status = if condition_status(o, "Complete").as_deref() == Some("True") {
                    "Complete"
                } else if condition_status(o, "Failed").as_deref() == Some("True") {
                    "Failed"
                } else {
                    "Running"
                };
                json!(status)
            }),
            column(
                "Completions",
                "string",
                ready("/status/succeeded", "/spec/completions"),
            ),
            column("Duration", "string", |o| {
                let started = since(o, "/status/startTime");
                let finished = since(o, "/status/completionTime");
                match (started, finished) {
                    (Some(start), Some(end)) => json!(human_age(start - end)),
                    (Some(start), None) => json!(human_age(start)),
                    _ => json!(""),
                }
            }),
        ],
        ("batch", "CronJob") => vec![
            column("Schedule", "string", |o| json!(str_at(o, "/spec/schedule"))),
            column("Timezone", "string", |o| {
                let zone = str_at(o, "/spec/timeZone");
                json!(if zone.is_empty() {
                    "<none>".into()
                } else {
                    zone
                })
            }),
            column("Suspend", "boolean", |o| {
                json!(
                    o.pointer("/spec/suspend")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                )
            }),
            column("Active", "integer", |o| {
                json!(count_at(o, "/status/active"))
            }),
            column("Last Schedule", "string", |o| {
                match since(o, "/status/lastScheduleTime") {
                    Some(seconds) => json!(human_age(seconds)),
                    None => json!("<none>"),
                }
            }),
        ],
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            vec![column("Created At", "date", |o| {
                json!(str_at(o, "/metadata/creationTimestamp"))
            })]
        }
        _ => Vec::new(),
    }
}

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `[0]`, and
/// `[?(@.type=="Ready")]` filters.
pub fn json_path(object: &Value, path: &str) -> Option<Value> {
    let mut current = object.clone();
    let mut rest = path.trim().trim_start_matches('{').trim_end_matches('}');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            current = current.get(&r[..end])?.clone();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            if let Some(filter) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, value) = filter.split_once("==")?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                current = current
                    .as_array()?
                    .iter()
                    .find(|item| item.get(field.trim()).and_then(Value::as_str) == Some(value))?
                    .clone();
            } else {
                let index: usize = inner.parse().ok()?;
                current = current.get(index)?.clone();
            }
        } else {
            return None;
        }
    }
    Some(current)
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    let mut cols = vec![column("Name", "string", |o| {
        json!(str_at(o, "/metadata/name"))
    })];
    if rt.builtin {
        cols.extend(kind_columns(rt));
        cols.push(column("Age", "date", age));
        cols.extend(wide_columns(rt));
    } else {
        for pc in &rt.printer_columns {
            let path = pc.json_path.clone();
            let is_date = pc.column_type == "date";
            let col_type: &'static str = match pc.column_type.as_str() {
                "integer" => "integer",
                "number" => "number",
                "boolean" => "boolean",
                "date" => "date",
                _ => "string",
            };
            let mut col = column(&pc.name, col_type, move |o| match json_path(o, &path) {
                Some(Value::String(s)) if is_date => {
                    let when = time::OffsetDateTime::parse(
                        &s,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .ok();
                    match when {
                        Some(t) => json!(human_age(
                            (time::OffsetDateTime::now_utc() - t).whole_seconds()
                        )),
                        None => json!(s),
                    }
                }
                Some(v) => v,
                None => Value::Null,
            });
            col.priority = pc.priority;
            cols.push(col);
        }
        // A CRD without printer columns gets Age; one with them, only those.
        if rt.printer_columns.is_empty() {
            cols.push(column("Age", "date", age));
        }
    }
    cols
}

/// An object reduced to its metadata, as `meta.k8s.io/v1` PartialObjectMetadata.
pub fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(Value::Null),
    })
}

/// A Table of `objects`; `headers` false leaves out column definitions, as
/// a real server does for every watch event after the first.
pub fn table(
    rt: &ResourceType,
    objects: &[&Value],
    include: IncludeObject,
    headers: bool,
    list_meta: Value,
) -> Value {
    let cols = columns(rt);
    let definitions: Vec<Value> = if headers {
        cols.iter()
            .map(|c| {
                json!({"name": c.name, "type": c.column_type, "format": c.format, "description": "", "priority": c.priority})
            })
            .collect()
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|c| (c.value)(o)).collect();
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => row["object"] = partial_metadata(o),
                IncludeObject::Object => row["object"] = (*o).clone(),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(200), "3m20s");
        assert_eq!(human_age(3600 * 3 + 60), "3h1m");
        assert_eq!(human_age(86_400 * 3), "3d");
    }

    #[test]
    fn json_path_filters_conditions() {
        let o = json!({"status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(
            json_path(&o, ".status.conditions[0].type"),
            Some(json!("A"))
        );
        assert_eq!(json_path(&o, ".spec.missing"), None);
    }

    #[test]
    fn crd_tables_show_only_declared_columns_with_their_priority() {
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Shape", "type": "string", "jsonPath": ".spec.shape", "priority": 1},
                    ]}],
            },
        });
        let rt = crate::catalog::resource_type_from_crd(&crd).expect("a valid CRD");
        let w = json!({"metadata": {"name": "w"}, "spec": {"size": 3}});
        let t = table(&rt, &[&w], IncludeObject::None, true, json!({}));
        let columns: Vec<(&str, i64)> = t["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default(),
                    c["priority"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(columns, [("Name", 0), ("Size", 0), ("Shape", 1)]);
        assert_eq!(t["rows"][0]["cells"], json!(["w", 3, null]));
    }

    #[test]
    fn selectors_print_like_kubectl() {
        let selector = json!({
            "matchLabels": {"tier": "web", "app": "shop"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        });
        assert_eq!(
            format_selector(Some(&selector)),
            "app=shop,tier=web,env in (a,b),!canary"
        );
        assert_eq!(format_selector(None), "<none>");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
    }

    #[test]
    fn deployment_table_has_ready_column() {
        let rt = Catalog::default()
            .lookup("apps", "v1", "deployments")
            .expect("deployments");
        let d = json!({"metadata": {"name": "web"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
        let t = table(&rt, &[&d], IncludeObject::Metadata, true, json!({}));
        assert_eq!(t["columnDefinitions"][1]["name"], "Ready");
        assert_eq!(t["rows"][0]["cells"][0], "web");
        assert_eq!(t["rows"][0]["cells"][1], "1/2");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
