//! Staged server-side apply and its dry-run twin, diff.
//!
//! Per object: read the live object, dry-run the apply, compare the result
//! with the live object, and apply for real only when they differ (taking
//! its fields over from kubectl first if kubectl created it). Within a
//! stage every object is dry-run before any is applied ([`plan`]).

mod plan;

use std::time::{Duration, Instant};

use driftless_api::annotations;
use driftless_api::inventory::{ObjectId, ResourceInventory, ResourceRef};
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use serde_json::{Map, Value, json};

use crate::Applier;
use crate::changeset::{Action, Change, ChangeSet, ObjectDiff, subject};
use crate::error::ApplyError;
use crate::order::{Stage, rank};
use crate::resolve::Resolved;
use plan::Plan;

/// How long CRDs applied in the first stage may take to be Established.
const CRD_ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an object deleted for recreation may take to disappear.
const RECREATE_TIMEOUT: Duration = Duration::from_secs(60);

/// The annotation kubectl's client-side apply keeps the applied object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Whether a managedFields entry is one whose fields we take over: those
/// kubectl writes (client-side apply, edit, patch, and `apply
/// --server-side`), the pre-apply record kubectl's upgrade path leaves, and
/// our own manager's non-apply writes. Their fields become ours, so that a
/// field later dropped from git is removed instead of lingering under a
/// manager nobody runs. kubectl with `--field-manager` set to anything
/// else (Flux documents `flux-client-side-apply`) keeps its fields.
fn is_takeover_entry(entry: &Value, manager: &str) -> bool {
    let name = entry.get("manager").and_then(Value::as_str).unwrap_or("");
    let operation = entry.get("operation").and_then(Value::as_str).unwrap_or("");
    match operation {
        "Update" => name.starts_with("kubectl") || name == "before-first-apply" || name == manager,
        "Apply" => name == "kubectl",
        _ => false,
    }
}

/// The per-object `kustomize.toolkit.fluxcd.io/ssa` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Apply and own every field we set, taking over kubectl's.
    Apply,
    /// Create when absent, never update.
    IfNotPresent,
    /// Apply, but leave fields that other tools such as kubectl own to them.
    Merge,
}

/// A desired object ready to be sent: resolved, validated, labelled.
struct Target {
    id: ObjectId,
    version: String,
    subject: String,
    name: String,
    api: Api<DynamicObject>,
    body: Value,
    mode: Mode,
    /// Whether an immutable-field change may recreate it.
    force: bool,
}

/// One object's part in a stage: `Work<Target>` before the first pass,
/// `Work<(Target, Plan)>` after it.
enum Work<T> {
    /// Left alone (an annotation says so).
    Skip(Change),
    /// Decided without asking the server (a diff of a kind not yet served).
    Known(Change, Box<ObjectDiff>),
    /// To be dry-run and, if it differs, applied.
    Apply(T),
}

/// What one object's apply or dry run found.
struct Outcome {
    action: Action,
    live: Option<Value>,
    merged: Value,
}

/// A desired object as given, with the parts every step needs.
struct Desired {
    index: usize,
    body: Value,
    api_version: String,
    group: String,
    version: String,
    kind: String,
    name: String,
}

impl Desired {
    fn parse(index: usize, body: Value) -> Result<Desired, ApplyError> {
        let text = |pointer: &str| {
            body.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (api_version, kind, name) =
            (text("/apiVersion"), text("/kind"), text("/metadata/name"));
        let problem = if !body.is_object() {
            Some("it is not a mapping")
        } else if api_version.is_empty() {
            Some("apiVersion is missing")
        } else if kind.is_empty() {
            Some("kind is missing")
        } else if name.is_empty() {
            Some("metadata.name is missing")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ApplyError::Malformed {
                index,
                object: format!("{kind}/{name}"),
                problem: problem.into(),
            });
        }
        let (group, version) = match api_version.rsplit_once('/') {
            Some((group, version)) => (group.to_string(), version.to_string()),
            None => (String::new(), api_version.clone()),
        };
        Ok(Desired {
            index,
            body,
            api_version,
            group,
            version,
            kind,
            name,
        })
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.body
            .pointer("/metadata/annotations")?
            .get(key)?
            .as_str()
    }

    fn namespace(&self) -> &str {
        self.body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Why the object is to be left alone, if it is.
    fn skip_reason(&self) -> Option<String> {
        if reconcile_disabled(&self.body) {
            return Some(format!(
                "{}: {}",
                annotations::RECONCILE,
                annotations::DISABLED
            ));
        }
        if self
            .annotation(annotations::SSA)
            .is_some_and(|v| v.eq_ignore_ascii_case("ignore"))
        {
            return Some(format!("{}: Ignore", annotations::SSA));
        }
        None
    }

    fn mode(&self) -> Mode {
        match self.annotation(annotations::SSA) {
            Some(v) if v.eq_ignore_ascii_case("ifnotpresent") => Mode::IfNotPresent,
            Some(v) if v.eq_ignore_ascii_case("merge") => Mode::Merge,
            _ => Mode::Apply,
        }
    }

    fn loose_id(&self) -> ObjectId {
        ObjectId::new(self.namespace(), &self.name, &self.group, &self.kind)
    }
}

impl Applier {
    /// Applies the whole set with server-side apply, stage by stage (see
    /// [`Stage`]): CRDs, Namespaces and ClusterRoles first (waiting until
    /// the CRDs are Established), then `*Class` kinds, then everything else
    /// in the usual dependency order, with at most `concurrency` calls in
    /// flight within a stage.
    ///
    /// Each object is dry-run first and compared with the live object; only
    /// objects that would be created or changed are applied. Conflicts with
    /// other field managers are forced, as Flux does.
    pub async fn apply(&self, objects: Vec<Value>) -> Result<ChangeSet, ApplyError> {
        self.apply_recording(objects, |_| std::future::ready(Ok(())))
            .await
    }

    /// Applies like [`apply`](Self::apply), telling `record` which objects
    /// each stage is about to write: after the stage's dry runs passed (so
    /// only objects the cluster would take), before its first write. A
    /// reconciler puts them on record (its inventory) there, so that what
    /// an apply cut short created is still known, and pruned, later. An
    /// error from `record` stops the apply before the stage writes.
    pub async fn apply_recording<F, Fut>(
        &self,
        objects: Vec<Value>,
        record: F,
    ) -> Result<ChangeSet, ApplyError>
    where
        F: FnMut(ResourceInventory) -> Fut + Send,
        Fut: Future<Output = Result<(), String>> + Send,
    {
        self.run(objects, Some(record))
            .await
            .map(|(changes, _)| changes)
    }

    /// Classifies every object as [`apply`](Self::apply) would, with
    /// server-side dry runs only: nothing in the cluster changes. Custom
    /// resources whose CRD is in the set but not yet in the cluster are
    /// reported as Created with the desired object as the merged one.
    pub async fn diff(&self, objects: Vec<Value>) -> Result<Vec<ObjectDiff>, ApplyError> {
        self.run(objects, None::<fn(_) -> std::future::Ready<_>>)
            .await
            .map(|(_, diffs)| diffs)
    }

    /// Applies (`record` given) or dry-runs (`record` absent) the set.
    async fn run<F, Fut>(
        &self,
        objects: Vec<Value>,
        mut record: Option<F>,
    ) -> Result<(ChangeSet, Vec<ObjectDiff>), ApplyError>
    where
        F: FnMut(ResourceInventory) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let dry_only = record.is_none();
        let mut desired = objects
            .into_iter()
            .enumerate()
            .map(|(i, body)| Desired::parse(i, body))
            .collect::<Result<Vec<_>, _>>()?;
        // Kinds defined by CRDs of this set: in a diff they cannot be
        // resolved yet, and that is no error.
        let defined: Vec<(String, String)> = desired
            .iter()
            .filter(|d| d.kind == "CustomResourceDefinition")
            .map(|d| {
                let at = |p: &str| {
                    d.body
                        .pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                (at("/spec/group"), at("/spec/names/kind"))
            })
            .collect();
        desired.sort_by_cached_key(|d| {
            (
                Stage::of(&d.group, &d.kind),
                rank(&d.kind),
                d.group.clone(),
                d.kind.clone(),
                d.namespace().to_string(),
                d.name.clone(),
                d.index,
            )
        });

        let mut changes = ChangeSet::default();
        let mut diffs = Vec::new();
        for stage in [Stage::Cluster, Stage::Class, Stage::Rest] {
            let (in_stage, rest): (Vec<Desired>, Vec<Desired>) = desired
                .into_iter()
                .partition(|d| Stage::of(&d.group, &d.kind) == stage);
            desired = rest;
            // Skipped objects keep their place among the applied ones.
            let mut work: Vec<Work<Target>> = Vec::new();
            for d in in_stage {
                if let Some(reason) = d.skip_reason() {
                    work.push(Work::Skip(Change {
                        id: d.loose_id(),
                        version: d.version.clone(),
                        action: Action::Skipped(reason),
                    }));
                    continue;
                }
                let in_set = defined.iter().any(|(g, k)| *g == d.group && *k == d.kind);
                match self.target(d).await {
                    Ok(target) => work.push(Work::Apply(target)),
                    Err((d, ApplyError::UnknownKind { .. })) if dry_only && in_set => {
                        let id = d.loose_id();
                        let version = d.version.clone();
                        work.push(Work::Known(
                            Change {
                                id: id.clone(),
                                version,
                                action: Action::Created,
                            },
                            Box::new(ObjectDiff {
                                id,
                                action: Action::Created,
                                live: None,
                                merged: self.labelled(d.body),
                            }),
                        ));
                    }
                    Err((_, err)) => return Err(err),
                }
            }
            // First pass: every object read and dry-run; a refusal stops
            // the stage before anything in it changes.
            let checked: Vec<Result<Work<(Target, Plan)>, ApplyError>> =
                futures::stream::iter(work.into_iter().map(|item| async move {
                    match item {
                        Work::Skip(change) => Ok(Work::Skip(change)),
                        Work::Known(change, diff) => Ok(Work::Known(change, diff)),
                        Work::Apply(t) => {
                            let plan = self.first_pass(&t, dry_only).await?;
                            Ok(Work::Apply((t, plan)))
                        }
                    }
                }))
                .buffered(self.concurrency())
                .collect()
                .await;
            let checked = checked.into_iter().collect::<Result<Vec<_>, _>>()?;
            if let Some(record) = record.as_mut() {
                let entries: Vec<ResourceRef> = checked
                    .iter()
                    .filter_map(|work| match work {
                        Work::Apply((t, _)) => Some(ResourceRef::new(&t.id, t.version.clone())),
                        Work::Skip(_) | Work::Known(..) => None,
                    })
                    .collect();
                if !entries.is_empty() {
                    record(ResourceInventory { entries })
                        .await
                        .map_err(|message| ApplyError::Recording { message })?;
                }
            }
            let results: Vec<Result<(Change, Option<ObjectDiff>), ApplyError>> =
                futures::stream::iter(checked.into_iter().map(|item| async move {
                    match item {
                        Work::Skip(change) => Ok((change, None)),
                        Work::Known(change, diff) => Ok((change, Some(*diff))),
                        Work::Apply((t, plan)) => {
                            let outcome = self.second_pass(&t, plan).await?;
                            let change = Change {
                                id: t.id.clone(),
                                version: t.version,
                                action: outcome.action.clone(),
                            };
                            let diff = ObjectDiff {
                                id: t.id,
                                action: outcome.action,
                                live: outcome.live,
                                merged: outcome.merged,
                            };
                            Ok((change, Some(diff)))
                        }
                    }
                }))
                .buffered(self.concurrency())
                .collect()
                .await;
            let mut crds = Vec::new();
            for result in results {
                let (change, diff) = result?;
                if change.id.kind == "CustomResourceDefinition"
                    && !matches!(change.action, Action::Skipped(_))
                {
                    crds.push(change.id.name.clone());
                }
                changes.entries.push(change);
                diffs.extend(diff);
            }
            if !dry_only && !crds.is_empty() {
                self.wait_established(crds).await?;
            }
        }
        Ok((changes, diffs))
    }

    /// The desired object with the owner labels merged into its labels.
    fn labelled(&self, mut body: Value) -> Value {
        if self.options.owner_labels.is_empty() {
            return body;
        }
        let metadata = object_at(&mut body, "metadata");
        let labels = object_at(metadata, "labels");
        for (key, value) in &self.options.owner_labels {
            labels[key] = Value::String(value.clone());
        }
        body
    }

    /// Resolves the object's kind and scope and prepares what is sent.
    /// On failure the object is handed back with the error.
    async fn target(&self, mut d: Desired) -> Result<Target, (Desired, ApplyError)> {
        let object = subject(&d.loose_id());
        let resolved = match self
            .kinds
            .resolve(&self.client, &d.api_version, &d.kind)
            .await
        {
            Ok(Some(resolved)) => resolved,
            Ok(None) => {
                let err = ApplyError::UnknownKind {
                    object,
                    api_version: d.api_version.clone(),
                    kind: d.kind.clone(),
                };
                return Err((d, err));
            }
            Err(source) => {
                let err = ApplyError::Api {
                    object,
                    action: "discovery",
                    source,
                };
                return Err((d, err));
            }
        };
        let Resolved {
            resource,
            namespaced,
        } = resolved;
        let mut namespace = d.namespace().to_string();
        if namespaced
            && namespace.is_empty()
            && let Some(default) = &self.options.default_namespace
        {
            namespace.clone_from(default);
            if let Some(metadata) = d.body.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.insert("namespace".into(), Value::String(default.clone()));
            }
        }
        if namespaced && namespace.is_empty() {
            let err = ApplyError::MissingNamespace {
                object,
                kind: d.kind.clone(),
            };
            return Err((d, err));
        }
        let mode = d.mode();
        let force = self.options.force
            || d.annotation(annotations::FORCE)
                .is_some_and(|v| v.eq_ignore_ascii_case(annotations::ENABLED));
        let mut body = self.labelled(d.body);
        let (api, namespace) = if namespaced {
            (
                Api::namespaced_with(self.client.clone(), &namespace, &resource),
                namespace,
            )
        } else {
            // As kubectl does: a namespace on a cluster-scoped object means nothing.
            if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("namespace");
            }
            (Api::all_with(self.client.clone(), &resource), String::new())
        };
        let id = ObjectId::new(namespace, &d.name, &d.group, &d.kind);
        Ok(Target {
            subject: subject(&id),
            id,
            version: d.version,
            name: d.name,
            api,
            body,
            mode,
            force,
        })
    }

    /// Waits until the named CRDs report Established=True.
    async fn wait_established(&self, mut pending: Vec<String>) -> Result<(), ApplyError> {
        let api: Api<DynamicObject> = Api::all_with(
            self.client.clone(),
            &kube::core::ApiResource {
                group: "apiextensions.k8s.io".into(),
                version: "v1".into(),
                api_version: "apiextensions.k8s.io/v1".into(),
                kind: "CustomResourceDefinition".into(),
                plural: "customresourcedefinitions".into(),
            },
        );
        let start = Instant::now();
        let mut delay = Duration::from_millis(10);
        loop {
            let mut still = Vec::new();
            for name in pending {
                let object = format!("CustomResourceDefinition/{name}");
                let crd = api
                    .get_opt(&name)
                    .await
                    .map_err(|source| ApplyError::Api {
                        object,
                        action: "read",
                        source,
                    })?
                    .map(to_value);
                let established = crd.is_some_and(|crd| {
                    crd.pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .is_some_and(|conds| {
                            conds.iter().any(|c| {
                                c.get("type") == Some(&json!("Established"))
                                    && c.get("status") == Some(&json!("True"))
                            })
                        })
                });
                if !established {
                    still.push(name);
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if start.elapsed() > CRD_ESTABLISH_TIMEOUT {
                return Err(ApplyError::CrdNotEstablished {
                    crds: still,
                    timeout: CRD_ESTABLISH_TIMEOUT,
                });
            }
            pending = still;
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }
}

/// Whether an object carries `kustomize.toolkit.fluxcd.io/reconcile:
/// disabled`, as an annotation or a label (Flux honours both, in any case).
pub(crate) fn reconcile_disabled(object: &Value) -> bool {
    ["annotations", "labels"].iter().any(|map| {
        object
            .pointer(&format!("/metadata/{map}"))
            .and_then(|m| m.get(annotations::RECONCILE))
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case(annotations::DISABLED))
    })
}

pub(crate) fn to_value(obj: DynamicObject) -> Value {
    serde_json::to_value(obj).expect("an object read from the API serializes back")
}

/// The object or map at `key`, made one if it is missing or not a map.
fn object_at<'a>(value: &'a mut Value, key: &str) -> &'a mut Value {
    if !value.get(key).is_some_and(Value::is_object) {
        value[key] = Value::Object(Map::new());
    }
    &mut value[key]
}

/// The object without what the server keeps for itself, so that a dry run
/// that changes nothing compares equal to the live object.
fn comparable(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            metadata.remove(field);
        }
    }
    object
}

pub(crate) fn api_error(object: &str, action: &'static str, source: kube::Error) -> ApplyError {
    match source {
        kube::Error::Api(status) if status.code == 422 => ApplyError::Invalid {
            object: object.to_string(),
            message: status.message,
        },
        kube::Error::Api(status) if status.code == 403 => ApplyError::Forbidden {
            object: object.to_string(),
            action,
            message: status.message,
        },
        source => ApplyError::Api {
            object: object.to_string(),
            action,
            source,
        },
    }
}

/// The fields named in an "immutable field changed" error, if it is one.
fn immutable_fields(err: &kube::Error) -> Option<Vec<String>> {
    let kube::Error::Api(status) = err else {
        return None;
    };
    const MARKERS: &[&str] = &[
        "field is immutable",
        "cannot change roleRef",
        "updates to statefulset spec for fields other than",
        "may not change once set",
    ];
    if status.code != 422 || !MARKERS.iter().any(|m| status.message.contains(m)) {
        return None;
    }
    let from_causes: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .filter(|c| !c.field.is_empty() && MARKERS.iter().any(|m| c.message.contains(m)))
        .map(|c| c.field.clone())
        .collect();
    Some(if from_causes.is_empty() {
        vec![status.message.clone()]
    } else {
        from_causes
    })
}

/// The merge patch that hands kubectl's fields to `manager`, if the live
/// object has any: kubectl's managedFields entries are merged into our
/// Apply entry (so fields later dropped from git are removed), and the
/// last-applied annotation goes. A merge patch replaces the managedFields
/// list as a whole, which is what is wanted here.
fn takeover_patch(live: &Value, manager: &str) -> Option<Value> {
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_last_applied = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .is_some();
    let (kubectl, mut kept): (Vec<Value>, Vec<Value>) = entries
        .into_iter()
        .partition(|e| is_takeover_entry(e, manager));
    if kubectl.is_empty() && !has_last_applied {
        return None;
    }
    let mut metadata = Map::new();
    if !kubectl.is_empty() {
        let ours = kept.iter_mut().find(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager)
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
        });
        let mut fields = ours
            .as_ref()
            .and_then(|e| e.get("fieldsV1"))
            .cloned()
            .unwrap_or_else(|| json!({}));
        for entry in &kubectl {
            if let Some(theirs) = entry.get("fieldsV1") {
                merge_fields(&mut fields, theirs);
            }
        }
        forget_last_applied(&mut fields);
        match ours {
            Some(entry) => entry["fieldsV1"] = fields,
            None => {
                let first = &kubectl[0];
                kept.push(json!({
                    "manager": manager,
                    "operation": "Apply",
                    "apiVersion": first.get("apiVersion").cloned().unwrap_or(Value::Null),
                    "time": first.get("time").cloned().unwrap_or(Value::Null),
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                }));
            }
        }
        metadata.insert("managedFields".into(), Value::Array(kept));
    }
    if has_last_applied {
        metadata.insert("annotations".into(), json!({LAST_APPLIED: null}));
    }
    Some(json!({"metadata": metadata}))
}

/// Unions two managed-fields trees.
fn merge_fields(into: &mut Value, from: &Value) {
    let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for (key, value) in from {
        match into.get_mut(key) {
            Some(existing) => merge_fields(existing, value),
            None => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Drops the last-applied annotation from a managed-fields tree: it is
/// removed from the object in the same patch.
fn forget_last_applied(fields: &mut Value) {
    let Some(annotations) = fields
        .pointer_mut("/f:metadata/f:annotations")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    annotations.remove(&format!("f:{LAST_APPLIED}"));
    if annotations.is_empty()
        && let Some(metadata) = fields
            .pointer_mut("/f:metadata")
            .and_then(Value::as_object_mut)
    {
        metadata.remove("f:annotations");
        if metadata.is_empty()
            && let Some(root) = fields.as_object_mut()
        {
            root.remove("f:metadata");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takeover_merges_kubectl_fields_into_ours() {
        let live = json!({
            "metadata": {
                "name": "cfg",
                "annotations": {LAST_APPLIED: "{}", "keep": "me"},
                "managedFields": [
                    {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
                     "time": "t", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}},
                                  "f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}}},
                    {"manager": "other", "operation": "Update", "apiVersion": "v1",
                     "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}}
                ]
            }
        });
        let patch = takeover_patch(&live, "kustomize-controller").expect("kubectl owns fields");
        assert_eq!(
            patch,
            json!({"metadata": {
                "managedFields": [
                    {"manager": "other", "operation": "Update", "apiVersion": "v1",
                     "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}},
                    {"manager": "kustomize-controller", "operation": "Apply", "apiVersion": "v1",
                     "time": "t", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}}
                ],
                "annotations": {LAST_APPLIED: null}
            }})
        );
    }

    #[test]
    fn no_takeover_without_kubectl() {
        let live = json!({"metadata": {"name": "cfg", "managedFields": [
            {"manager": "kustomize-controller", "operation": "Apply", "fieldsV1": {}},
            {"manager": "flux-client-side-apply", "operation": "Update", "fieldsV1": {}},
            {"manager": "kube-controller-manager", "operation": "Update", "fieldsV1": {}}
        ]}});
        assert_eq!(takeover_patch(&live, "kustomize-controller"), None);
    }

    #[test]
    fn which_managers_are_taken_over() {
        let entry =
            |manager: &str, operation: &str| json!({"manager": manager, "operation": operation});
        let ours = "kustomize-controller";
        for (manager, operation) in [
            ("kubectl-client-side-apply", "Update"),
            ("kubectl-edit", "Update"),
            ("kubectl", "Update"),
            ("kubectl", "Apply"),
            ("before-first-apply", "Update"),
            (ours, "Update"),
        ] {
            assert!(
                is_takeover_entry(&entry(manager, operation), ours),
                "{manager} {operation}"
            );
        }
        for (manager, operation) in [
            (ours, "Apply"),
            ("flux-client-side-apply", "Update"),
            ("helm", "Update"),
            ("kubectl-edit", "Apply"),
        ] {
            assert!(
                !is_takeover_entry(&entry(manager, operation), ours),
                "{manager} {operation}"
            );
        }
    }

    #[test]
    fn comparison_ignores_server_bookkeeping() {
        let live = json!({"metadata": {"name": "a", "uid": "1", "resourceVersion": "5",
                                       "managedFields": [], "creationTimestamp": "t", "generation": 2},
                          "spec": {"x": 1}, "status": {"ready": true}});
        let merged = json!({"metadata": {"name": "a", "uid": "1", "resourceVersion": "6",
                                         "generation": 3},
                            "spec": {"x": 1}});
        assert_eq!(comparable(&live), comparable(&merged));
    }

    #[test]
    fn malformed_objects_are_named() {
        let err = Desired::parse(
            3,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )
        .err()
        .expect("no name");
        assert_eq!(
            err.to_string(),
            "object #3 (ConfigMap/) is malformed: metadata.name is missing; fix the manifest"
        );
    }
}
