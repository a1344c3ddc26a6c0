//! One image update as the reconciler hands it over, and the text of its
//! change request: the title and a Markdown body with the old and new tags,
//! the changed files and a link.

use crate::branch::BranchTemplate;
use crate::error::Error;
use crate::host::ChangeRequest;

/// An ImagePolicy's namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyRef {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

/// A policy's image moving from one tag to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The ImagePolicy that selected the tag.
    pub policy: PolicyRef,
    /// The image name, without tag (`ghcr.io/org/app`).
    pub image: String,
    /// The tag in git before the update; `None` when unknown.
    pub old_tag: Option<String>,
    /// The tag the policy selects now.
    pub new_tag: String,
    /// Files the update changed, relative to the repository root.
    pub files: Vec<String>,
}

impl Update {
    /// `Update IMAGE to NEW_TAG`.
    pub fn title(&self) -> String {
        format!("Update {} to {}", self.image, self.new_tag)
    }

    /// The Markdown body: policy, old and new tag, changed files, and
    /// `link` (e.g. the automation's commit or the image's page) if given.
    pub fn body(&self, link: Option<&str>) -> String {
        let mut body = format!(
            "Image `{}` selected by ImagePolicy `{}/{}`.\n\n| | Tag |\n|---|---|\n| old | {} |\n| new | `{}` |\n",
            self.image,
            self.policy.namespace,
            self.policy.name,
            self.old_tag
                .as_deref()
                .map_or_else(|| "(unknown)".to_owned(), |t| format!("`{t}`")),
            self.new_tag,
        );
        if !self.files.is_empty() {
            body.push_str("\nChanged files:\n");
            for file in &self.files {
                body.push_str(&format!("- `{file}`\n"));
            }
        }
        if let Some(link) = link.filter(|l| !l.trim().is_empty()) {
            body.push_str(&format!("\n{}\n", link.trim()));
        }
        body.push_str("\nOpened by driftless. A newer tag for this policy updates this request.\n");
        body
    }

    /// The request for this update: branch from `template`, into `target_branch`.
    pub fn change_request(
        &self,
        template: &BranchTemplate,
        target_branch: &str,
        link: Option<&str>,
    ) -> Result<ChangeRequest, Error> {
        Ok(ChangeRequest {
            source_branch: template.render(self)?,
            target_branch: target_branch.to_owned(),
            title: self.title(),
            body: self.body(link),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_names_tags_files_and_link() {
        let update = Update {
            policy: PolicyRef {
                namespace: "apps".into(),
                name: "web".into(),
            },
            image: "ghcr.io/org/web".into(),
            old_tag: Some("1.0.0".into()),
            new_tag: "1.1.0".into(),
            files: vec!["deploy/web.yaml".into()],
        };
        let body = update.body(Some("https://git.example.com/org/env/commit/abc"));
        assert!(body.contains("| old | `1.0.0` |"), "{body}");
        assert!(body.contains("| new | `1.1.0` |"), "{body}");
        assert!(body.contains("- `deploy/web.yaml`"), "{body}");
        assert!(
            body.contains("https://git.example.com/org/env/commit/abc"),
            "{body}"
        );
        assert!(body.contains("ImagePolicy `apps/web`"), "{body}");
        assert_eq!(update.title(), "Update ghcr.io/org/web to 1.1.0");
        let unknown = Update {
            old_tag: None,
            ..update
        };
        assert!(unknown.body(None).contains("| old | (unknown) |"));
    }
}
