//! Errors of the patch and apply functions.
//!
//! `ApplyError::Conflicts` renders exactly like kube-apiserver's 409 message so
//! the server can put `to_string()` into the `Status` and each
//! [`Conflict::cause_message`] into `details.causes`.

/// A patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The body is not a JSON patch (an array of operations).
    #[error("invalid JSON patch document")]
    InvalidJsonPatch(#[source] serde_json::Error),
    /// An operation failed (missing path, failed `test`, ...).
    #[error("JSON patch could not be applied")]
    JsonPatch(#[source] json_patch::PatchError),
    /// Merge and strategic merge patches must be JSON objects.
    #[error("patch must be a JSON object, got {found}")]
    NotAnObject {
        /// What the patch was instead.
        found: &'static str,
    },
    /// A `$patch` directive, `$setElementOrder` or similar is malformed.
    #[error("{path}: {message}")]
    InvalidDirective {
        /// Where in the patch, like `.spec.containers`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A server-side apply was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Fields the applied configuration changes are owned by other managers.
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration carries `metadata.managedFields`, which
    /// kube-apiserver refuses with 400 Bad Request.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    /// The applied configuration or live object cannot be merged (422).
    #[error("{path}: {message}")]
    Invalid {
        /// Where, like `.spec.template.spec.containers[0]`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// One field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version the other manager wrote with.
    pub api_version: String,
    /// The subresource the other manager wrote through, if any.
    pub subresource: Option<String>,
    /// The field in kube-apiserver's notation, like `.spec.replicas` or
    /// `.spec.containers[name="web"].image`.
    pub field: String,
}

impl Conflict {
    /// The manager as kube-apiserver prints it: quoted, then
    /// `with subresource "status"`, then `using apps/v1` for `Update` managers.
    pub fn manager_display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    /// The `message` of the `FieldManagerConflict` cause.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_display())
    }
}

fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager_display(),
            only.field
        );
    }
    // Grouped by manager, managers sorted, fields in their given order.
    let mut managers: Vec<String> = conflicts.iter().map(Conflict::manager_display).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        for c in conflicts.iter().filter(|c| c.manager_display() == manager) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(manager: &str, operation: &str, field: &str) -> Conflict {
        Conflict {
            manager: manager.into(),
            operation: operation.into(),
            api_version: "apps/v1".into(),
            subresource: None,
            field: field.into(),
        }
    }

    #[test]
    fn single_conflict_with_an_update_manager_names_its_version() {
        let err = ApplyError::Conflicts(vec![conflict(
            "kubectl-client-side-apply",
            "Update",
            ".spec.replicas",
        )]);
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
    }

    #[test]
    fn apply_managers_have_no_version_and_many_conflicts_are_grouped() {
        let err = ApplyError::Conflicts(vec![
            conflict("kubectl", "Apply", ".spec.replicas"),
            conflict("helm", "Update", ".metadata.labels.app"),
            conflict("kubectl", "Apply", ".spec.paused"),
        ]);
        assert_eq!(
            err.to_string(),
            "Apply failed with 3 conflicts: conflicts with \"helm\" using apps/v1:\n- .metadata.labels.app\nconflicts with \"kubectl\":\n- .spec.replicas\n- .spec.paused"
        );
        let mut status = conflict("ctl", "Update", ".status.x");
        status.subresource = Some("status".into());
        assert_eq!(
            status.cause_message(),
            "conflict with \"ctl\" with subresource \"status\" using apps/v1"
        );
    }
}
