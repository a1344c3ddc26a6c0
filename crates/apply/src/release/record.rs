//! The release record: the JSON document Helm stores for each revision of a
//! release, as plain data with Helm's field names.
//!
//! Field order and emptiness rules follow Helm's Go structs (Helm 3.17's
//! `pkg/release` and Helm 4's `pkg/release/v1`), so a record we re-encode
//! reads back byte for byte as the JSON Helm wrote. Every struct keeps the
//! fields it does not know in `extra`, so a record written by a newer Helm
//! survives our read-modify-write. Timestamps stay the strings Helm wrote
//! (Helm 3 writes `""` for an unset time, Helm 4 leaves the field out);
//! [`go_time`](super::go_time) makes new ones in the same format.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One revision of a Helm release (Helm's `Release`). Its `Debug` shows
/// only what identifies it: values, manifest and hooks may hold secrets.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The release name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Status, times, description and notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    /// The chart that was released, templates and default values included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
    /// The values the user supplied (not the chart's defaults).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// The rendered manifest, hooks excluded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// The chart's hooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// The revision, from 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u32,
    /// The namespace the release installs into.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Helm 4: how the manifest was applied, [`APPLY_METHOD_SSA`] or
    /// `csa`; empty means client-side apply to Helm 4, whose `upgrade` and
    /// `rollback` pick their method from it. Flux records `ssa`, as we
    /// apply server-side too. Helm 3 ignores (and drops) the field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apply_method: String,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Labels of the storage Secret other than Helm's own (`name`, `owner`,
    /// `status`, `version`, `createdAt`, `modifiedAt`); Helm keeps them out
    /// of the JSON, in the Secret's metadata.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

impl Release {
    /// The status, `unknown` when the record has no info.
    pub fn status(&self) -> Status {
        self.info.as_ref().map_or(Status::Unknown, |i| i.status)
    }

    /// Sets the status and description, as Helm's `SetStatus`.
    pub fn set_status(&mut self, status: Status, description: impl Into<String>) {
        let info = self.info.get_or_insert_with(Info::default);
        info.status = status;
        info.description = description.into();
    }
}

/// [`Release::apply_method`] for objects applied server-side.
pub const APPLY_METHOD_SSA: &str = "ssa";

impl fmt::Debug for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Release")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("version", &self.version)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// When and how a revision was deployed (Helm's `Info`). `Debug` leaves
/// out the notes, which charts sometimes fill with credentials.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// When the release was first deployed (RFC 3339, Go's format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_deployed: Option<String>,
    /// When this revision was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployed: Option<String>,
    /// When the release was uninstalled; Helm 3 always writes the field
    /// (`""` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<String>,
    /// A one-line log entry, shown by `helm history`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where the revision stands.
    #[serde(default)]
    pub status: Status,
    /// Helm 4: the revision a rollback went back to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rollback_revision: u32,
    /// The rendered `templates/NOTES.txt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Info")
            .field("first_deployed", &self.first_deployed)
            .field("last_deployed", &self.last_deployed)
            .field("deleted", &self.deleted)
            .field("description", &self.description)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A release revision's state, as Helm names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Helm's zero value.
    #[default]
    Unknown,
    /// The live revision.
    Deployed,
    /// Uninstalled with its history kept.
    Uninstalled,
    /// A revision a later one replaced.
    Superseded,
    /// The operation failed.
    Failed,
    /// An uninstall is under way.
    Uninstalling,
    /// An install is under way.
    PendingInstall,
    /// An upgrade is under way.
    PendingUpgrade,
    /// A rollback is under way.
    PendingRollback,
}

impl Status {
    /// Helm's spelling, as in the Secret's `status` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    /// An operation holds the release (Helm's `IsPending`): Helm refuses
    /// another until this revision leaves the state.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The chart as released (Helm's `chart.Chart`): Go writes an unset slice,
/// map or pointer as `null`, so these are `Option`s that serialize `None`
/// as `null`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// `Chart.yaml`.
    #[serde(default)]
    pub metadata: Option<ChartMetadata>,
    /// `Chart.lock`, kept as written.
    #[serde(default)]
    pub lock: Option<Value>,
    /// The files under `templates/`, `data` base64-encoded.
    #[serde(default)]
    pub templates: Option<Vec<ChartFile>>,
    /// `values.yaml`, parsed.
    #[serde(default)]
    pub values: Option<Map<String, Value>>,
    /// `values.schema.json`, base64-encoded.
    #[serde(default)]
    pub schema: Option<String>,
    /// Helm 4: the schema file's modification time (Go's zero time when
    /// there is none); Helm 3 leaves the field out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemamodtime: Option<String>,
    /// The chart's other files (README, LICENSE, ...).
    #[serde(default)]
    pub files: Option<Vec<ChartFile>>,
    /// Helm 4: the chart's modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modtime: Option<String>,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One file of a chart; `data` is the base64 of its bytes, as Go writes a
/// byte slice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartFile {
    /// The path within the chart.
    #[serde(default)]
    pub name: String,
    /// The content, base64-encoded.
    #[serde(default)]
    pub data: Option<String>,
    /// Helm 4: the file's modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modtime: Option<String>,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Chart.yaml` as Helm stores it (Helm's `chart.Metadata`), in Helm's
/// field order; the lists of maintainers and dependencies stay JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    /// The chart's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The project's home page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// Source URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// The chart's SemVer version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// One sentence about the chart.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Search keywords.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Maintainers (`name`, `email`, `url`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Value>,
    /// An icon URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// `v1` or `v2`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Enables the chart as a dependency.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// Tags, as a dependency.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    /// The packaged application's version, shown by `helm list`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    /// Whether the chart is deprecated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The Kubernetes versions the chart supports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// Dependencies, as written in `Chart.yaml`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Value>,
    /// `application` or `library`.
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "type")]
    pub chart_type: String,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A hook of the release (Helm's `Hook`). `Debug` leaves out the
/// manifest, which may be a Secret.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// The hook object's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The hook object's kind.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The template it came from, chart-relative.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The rendered object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest: String,
    /// When it runs (`pre-install`, `post-upgrade`, `test`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Its last run; Helm always writes the field.
    #[serde(default)]
    pub last_run: HookExecution,
    /// Order among hooks of one event.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub weight: i64,
    /// When to delete the hook object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_policies: Vec<String>,
    /// Helm 4: when to copy the hook's logs out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_log_policies: Vec<String>,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("path", &self.path)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// A hook's last run (Helm's `HookExecution`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HookExecution {
    /// When it started (Helm 3 writes `""` when it never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// `Unknown`, `Running`, `Succeeded`, `Failed`, or empty if never run.
    #[serde(default)]
    pub phase: String,
    /// Fields this version does not know, kept as read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_round_trip_at_every_level() {
        let doc = json!({
            "name": "web",
            "info": {"status": "deployed", "future_info": 1},
            "chart": {"metadata": {"name": "web", "future_meta": true}, "lock": null,
                      "templates": [{"name": "t.yaml", "data": "eA==", "future_file": "x"}],
                      "values": null, "schema": null, "files": null, "future_chart": "y"},
            "hooks": [{"name": "h", "last_run": {"phase": "", "future_run": 2}, "future_hook": 3}],
            "version": 2,
            "future_top": {"a": 1},
        });
        let release: Release = serde_json::from_value(doc.clone()).expect("decodes");
        assert_eq!(release.status(), Status::Deployed);
        assert_eq!(release.extra["future_top"], json!({"a": 1}));
        assert_eq!(serde_json::to_value(&release).expect("encodes"), doc);
    }

    #[test]
    fn status_spellings_match_helm() {
        for status in [
            Status::Unknown,
            Status::Deployed,
            Status::Uninstalled,
            Status::Superseded,
            Status::Failed,
            Status::Uninstalling,
            Status::PendingInstall,
            Status::PendingUpgrade,
            Status::PendingRollback,
        ] {
            assert_eq!(
                serde_json::to_value(status).expect("encodes"),
                json!(status.as_str())
            );
        }
        assert!(Status::PendingRollback.is_pending());
        assert!(!Status::Failed.is_pending());
    }

    #[test]
    fn debug_leaves_values_and_manifest_out() {
        let release = Release {
            name: "web".into(),
            config: Map::from_iter([("password".to_owned(), json!("hunter2"))]),
            manifest: "kind: Secret\nstringData: {token: hunter2}\n".into(),
            ..Release::default()
        };
        let shown = format!("{release:?}");
        assert!(
            shown.contains("web") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn set_status_creates_info_when_missing() {
        let mut release = Release::default();
        release.set_status(Status::Failed, "boom");
        assert_eq!(release.status(), Status::Failed);
        assert_eq!(release.info.expect("set").description, "boom");
    }
}
