//! Branch names from a Go template, made valid git ref names.
//!
//! The template (our `driftless-gotemplate` engine, Sprig functions
//! included, missing keys are errors) sees `.Policy.Namespace`,
//! `.Policy.Name`, `.Image`, `.OldTag` (empty when unknown) and `.NewTag`.
//! The default, [`DEFAULT_BRANCH_TEMPLATE`], names one branch per policy,
//! so a newer tag for the same policy lands on the same branch and updates
//! its request; put `.NewTag` in the template for one request per tag
//! (older ones are then closed by clean-up as superseded).
//!
//! The rendered text is sanitized to what `git check-ref-format --branch`
//! accepts, and more strictly so that names stay plain in URLs: characters
//! other than ASCII letters, digits and `._/+-` become `-`; empty path
//! components, leading dots and dashes, trailing dots, `..` and `.lock`
//! endings are removed; the name is cut to 200 bytes.
//!
//! [`BranchTemplate::prefix`] is the literal text before the template's
//! first action, sanitized the same way; every rendered name must start
//! with it (a name that does not is an error), so it is the prefix to give
//! [`crate::Host::clean_up`].

use std::collections::BTreeMap;

use driftless_gotemplate::{MissingKey, Options, TemplateSet, Value};

use crate::error::Error;
use crate::update::Update;

/// One branch (and so one request) per policy.
pub const DEFAULT_BRANCH_TEMPLATE: &str = "driftless/{{ .Policy.Namespace }}-{{ .Policy.Name }}";

/// The longest branch name we produce, in bytes.
const MAX_BRANCH_LEN: usize = 200;

const TEMPLATE_NAME: &str = "branch";

/// A parsed branch-name template.
#[derive(Debug, Clone)]
pub struct BranchTemplate {
    text: String,
    set: TemplateSet,
    prefix: String,
}

impl BranchTemplate {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut set = TemplateSet::with_funcs(driftless_gotemplate::sprig::functions());
        set.set_options(Options {
            missing_key: MissingKey::Error,
            ..Options::default()
        });
        set.parse(TEMPLATE_NAME, text)
            .map_err(|source| Error::TemplateParse {
                template: text.to_owned(),
                source: Box::new(source),
            })?;
        let literal = match text.find("{{") {
            // `{{-` trims the whitespace before it.
            Some(at) if text[at..].starts_with("{{- ") => text[..at].trim_end(),
            Some(at) => &text[..at],
            None => text,
        };
        Ok(Self {
            text: text.to_owned(),
            set,
            prefix: literal_prefix(literal),
        })
    }

    /// The template text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The sanitized literal start every rendered branch shares (possibly
    /// empty, in which case clean-up cannot be used).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The branch name for `update`.
    pub fn render(&self, update: &Update) -> Result<String, Error> {
        let rendered = self
            .set
            .execute(TEMPLATE_NAME, &template_data(update))
            .map_err(|source| Error::TemplateExec {
                template: self.text.clone(),
                source: Box::new(source),
            })?;
        let unusable = |reason| Error::BranchName {
            template: self.text.clone(),
            rendered: rendered.clone(),
            reason,
        };
        let name = sanitize_branch_name(&rendered)
            .ok_or_else(|| unusable("nothing usable is left after sanitizing"))?;
        if !name.starts_with(&self.prefix) {
            return Err(unusable(
                "the sanitized name lost the template's literal prefix",
            ));
        }
        Ok(name)
    }
}

fn template_data(update: &Update) -> Value {
    let text = |s: &str| Value::string(s.to_owned());
    let mut policy = BTreeMap::new();
    policy.insert("Namespace".to_owned(), text(&update.policy.namespace));
    policy.insert("Name".to_owned(), text(&update.policy.name));
    let mut data = BTreeMap::new();
    data.insert("Policy".to_owned(), Value::map(policy));
    data.insert("Image".to_owned(), text(&update.image));
    data.insert(
        "OldTag".to_owned(),
        text(update.old_tag.as_deref().unwrap_or_default()),
    );
    data.insert("NewTag".to_owned(), text(&update.new_tag));
    Value::map(data)
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '+' | '-')
}

/// The prefix as it survives sanitizing of a longer name: characters
/// mapped, leading separators dropped, `//` and `..` collapsed; a trailing
/// `/` is kept (it is followed by rendered text).
fn literal_prefix(literal: &str) -> String {
    let mapped: String = literal
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    let mut prefix = mapped.trim_start_matches(['/', '.', '-']).to_owned();
    while prefix.contains("//") || prefix.contains("..") {
        prefix = prefix.replace("//", "/").replace("..", ".");
    }
    prefix
}

/// `raw` made a valid, URL-plain branch name (see the module doc), or
/// `None` when nothing is left.
pub fn sanitize_branch_name(raw: &str) -> Option<String> {
    let mapped: String = raw
        .trim()
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(MAX_BRANCH_LEN)
        .collect();
    let mut components = Vec::new();
    for component in mapped.split('/') {
        let mut part = component.to_owned();
        while part.contains("..") {
            part = part.replace("..", ".");
        }
        let mut part = part
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_owned();
        while let Some(stem) = part.strip_suffix(".lock") {
            part = format!("{}-lock", stem.trim_end_matches('.'));
        }
        if !part.is_empty() {
            components.push(part);
        }
    }
    let name = components.join("/");
    let name = name.trim_start_matches('-');
    (!name.is_empty() && name != "HEAD").then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::PolicyRef;

    fn update(tag: &str) -> Update {
        Update {
            policy: PolicyRef {
                namespace: "apps".into(),
                name: "web".into(),
            },
            image: "ghcr.io/org/web".into(),
            old_tag: Some("1.0.0".into()),
            new_tag: tag.into(),
            files: vec![],
        }
    }

    #[test]
    fn default_template_is_one_branch_per_policy() {
        let template = BranchTemplate::parse(DEFAULT_BRANCH_TEMPLATE).expect("parses");
        assert_eq!(
            template.render(&update("1.1.0")).expect("renders"),
            "driftless/apps-web"
        );
        assert_eq!(
            template.render(&update("1.2.0")).expect("renders"),
            "driftless/apps-web"
        );
        assert_eq!(template.prefix(), "driftless/");
    }

    #[test]
    fn per_tag_template_sanitizes_image_and_tag() {
        let template =
            BranchTemplate::parse("bot/{{ .Image }}:{{ .OldTag }}..{{ .NewTag }}").expect("parses");
        assert_eq!(
            template.render(&update("1.2.0+build.7")).expect("renders"),
            "bot/ghcr.io/org/web-1.0.0.1.2.0+build.7"
        );
        assert_eq!(template.prefix(), "bot/");
    }

    #[test]
    fn template_errors_name_the_template() {
        let err = BranchTemplate::parse("x/{{ .Policy.Name ").expect_err("unclosed");
        assert!(err.to_string().contains("x/{{ .Policy.Name"), "{err}");
        let template = BranchTemplate::parse("x/{{ .Nope }}").expect("parses");
        let err = template.render(&update("1")).expect_err("missing key");
        assert!(matches!(err, Error::TemplateExec { .. }), "{err}");
        let template = BranchTemplate::parse("{{ \"...\" }}").expect("parses");
        assert!(matches!(
            template.render(&update("1")),
            Err(Error::BranchName { .. })
        ));
    }

    #[test]
    fn sanitizing_follows_ref_rules() {
        for (raw, want) in [
            ("feature/x", "feature/x"),
            ("/a//b/", "a/b"),
            ("a..b", "a.b"),
            (".hidden/x.", "hidden/x"),
            ("refs.lock/b.lock", "refs-lock/b-lock"),
            ("a b~c^d:e?f*g[h\\i", "a-b-c-d-e-f-g-h-i"),
            ("x@{y}", "x--y-"),
            ("-lead", "lead"),
            ("ünïcode", "-n-code"),
        ] {
            let got = sanitize_branch_name(raw);
            let want = want.trim_start_matches('-');
            assert_eq!(got.as_deref(), Some(want), "{raw}");
        }
        assert_eq!(sanitize_branch_name("@"), None);
        assert_eq!(sanitize_branch_name("HEAD"), None);
        assert_eq!(sanitize_branch_name("/./"), None);
        assert_eq!(
            sanitize_branch_name(&"a".repeat(300)).map(|n| n.len()),
            Some(200)
        );
    }
}
