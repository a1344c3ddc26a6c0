//! What requests ask besides the object: write options (field manager,
//! dry run, validation), patch types, delete options and propagation, list
//! and watch options.

use super::*;

/// A check of the object a write would store, run before it is stored
/// (RBAC's escalation prevention): an error refuses the write.
pub type Admission = Arc<dyn Fn(&GroupResource, &Value) -> Result<(), ApiError> + Send + Sync>;

/// Options every write takes.
#[derive(Clone, Default)]
pub struct WriteOptions {
    /// Run on the object to store; `None` admits everything.
    pub admission: Option<Admission>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// The fallback manager name, from the User-Agent as Kubernetes does.
    pub user_agent: String,
    pub subresource: Option<String>,
    /// `fieldValidation=Strict`: unknown fields are an error instead of dropped.
    pub strict_fields: bool,
    /// `fieldValidation=Warn`, the API's default: where the unknown fields
    /// a write drops are recorded, for the response's `Warning` headers.
    /// `None` drops them silently (`Ignore`, and the server's own writes).
    pub warnings: Option<Warnings>,
}

/// The warnings a request collects, as kube-apiserver words them.
pub type Warnings = Arc<std::sync::Mutex<Vec<String>>>;

impl WriteOptions {
    pub(super) fn manager(&self) -> String {
        self.field_manager.clone().unwrap_or_else(|| {
            self.user_agent
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string()
        })
    }

    pub(super) fn is_status(&self) -> bool {
        self.subresource.as_deref() == Some("status")
    }
}

/// Whether a write records ownership as an update or was already merged by apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriteKind {
    Update,
    Apply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Clone, Default)]
pub struct DeleteOptions {
    pub dry_run: bool,
    /// `propagationPolicy`; `None` when the request did not say.
    pub propagation: Option<Propagation>,
    /// The deprecated `orphanDependents`; never set with `propagation`.
    pub orphan_dependents: Option<bool>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

impl DeleteOptions {
    /// The options of a DELETE's query string (`dryRun` is read with the
    /// other write options); a body, read next, may override them.
    pub fn from_query(
        dry_run: bool,
        propagation_policy: Option<&str>,
        orphan_dependents: Option<&str>,
    ) -> Result<Self, ApiError> {
        let options = DeleteOptions {
            dry_run,
            propagation: propagation_policy.map(parse_propagation).transpose()?,
            orphan_dependents: orphan_dependents.map(|v| v == "true"),
            ..Default::default()
        };
        options.validate()?;
        Ok(options)
    }

    /// Reads a `DeleteOptions` body; query parameters were applied before.
    pub fn merge_body(&mut self, body: &Value) -> Result<(), ApiError> {
        if let Some(policy) = body.get("propagationPolicy").and_then(Value::as_str) {
            self.propagation = Some(parse_propagation(policy)?);
        }
        if let Some(orphan) = body.get("orphanDependents").and_then(Value::as_bool) {
            self.orphan_dependents = Some(orphan);
        }
        if let Some(dry_run) = body.get("dryRun").and_then(Value::as_array) {
            self.dry_run |= dry_run.iter().any(|v| v == "All");
        }
        if let Some(uid) = body.pointer("/preconditions/uid").and_then(Value::as_str) {
            self.precondition_uid = Some(uid.to_string());
        }
        if let Some(rv) = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            self.precondition_resource_version = Some(rv.to_string());
        }
        self.validate()
    }

    /// Kubernetes refuses the legacy field beside the policy that replaced it.
    fn validate(&self) -> Result<(), ApiError> {
        match (self.orphan_dependents, self.propagation) {
            (Some(_), Some(policy)) => Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                &[(
                    "propagationPolicy".into(),
                    format!(
                        "Invalid value: \"{policy:?}\": orphanDependents and deletionPropagation cannot be both set"
                    ),
                )],
            )),
            _ => Ok(()),
        }
    }

    /// The policy asked for: `orphanDependents: true` is Orphan, `false`
    /// Background (neither orphan nor foreground); `None` when neither was set.
    pub fn policy(&self) -> Option<Propagation> {
        match self.orphan_dependents {
            Some(true) => Some(Propagation::Orphan),
            Some(false) => Some(Propagation::Background),
            None => self.propagation,
        }
    }
}

fn parse_propagation(policy: &str) -> Result<Propagation, ApiError> {
    match policy {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

/// Options of list and watch.
#[derive(Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub send_initial_events: Option<bool>,
}

impl ListOptions {
    /// No label or field selector: every object matches.
    pub fn is_unfiltered(&self) -> bool {
        self.labels == LabelSelector::default() && self.fields == FieldSelector::default()
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

pub struct ListResult {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

/// A started watch: the initial events to send, then the live subscription.
pub struct WatchStart {
    pub initial: Vec<Arc<Value>>,
    pub subscription: Option<Subscription>,
    pub resource_version: u64,
}
