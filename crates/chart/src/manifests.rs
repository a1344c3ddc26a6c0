//! From rendered template files to what `helm template` prints: each file
//! split into YAML documents, each document's head read (`kind`, name,
//! annotations), hooks (`helm.sh/hook`) set apart with their weight and
//! delete policies, documents sorted stably by Helm's install order (kinds
//! it does not know last, in kind-name order), CRDs from `crds/` first with
//! `--include-crds`, hooks after the manifests, `--show-only` applied to the
//! assembled text exactly as Helm does it.
//!
//! This module owns no templating; it takes the rendered files by name.

use std::collections::BTreeMap;
use std::ops::Range;

use driftless_render::yaml::Value;

use crate::error::ChartError;
use crate::head::Head;
use crate::json_step::cannot_unmarshal;

/// Helm's install order by kind.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The hook events Helm knows (`helm.sh/hook` values).
const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One rendered, non-hook document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template it came from (`chart/templates/x.yaml`).
    pub source: String,
    /// The document text as Helm prints it.
    pub content: String,
    /// Its `kind` (empty for comment-only documents).
    pub kind: String,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `metadata.name`.
    pub name: String,
}

/// One rendered hook document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// `metadata.name`.
    pub name: String,
    /// `kind`.
    pub kind: String,
    /// The template it came from.
    pub source: String,
    /// The document text.
    pub content: String,
    /// Its events (`pre-install`, ...; `test-success` reads as `test`).
    pub events: Vec<String>,
    /// `helm.sh/hook-weight` (0 when absent or not a number).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy` entries.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy` entries.
    pub output_log_policies: Vec<String>,
}

/// Splits a rendered file into documents as Helm's `SplitManifests` does:
/// leading whitespace dropped, split at lines starting `---`, blank
/// documents skipped, each document's leading whitespace dropped (its
/// trailing blank lines are kept, as Helm 4 keeps them).
#[must_use]
pub fn split_documents(text: &str) -> Vec<&str> {
    let text = text.trim_start();
    let mut docs = Vec::new();
    let mut start = 0;
    let mut line_start = 0;
    let bytes = text.as_bytes();
    while line_start <= text.len() {
        if text[line_start..].starts_with("---") {
            docs.push(&text[start..line_start]);
            let mut after = line_start + 3;
            while after < bytes.len() && (bytes[after] == b' ' || bytes[after] == b'\t') {
                after += 1;
            }
            start = after;
        }
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    docs.push(&text[start..]);
    docs.into_iter()
        .filter(|d| !d.trim().is_empty())
        .map(str::trim_start)
        .collect()
}

/// A document of a rendered file that is not UTF-8: Helm fails it with
/// go-yaml's reader error (a template printed a binary file's bytes).
#[derive(Debug)]
pub struct NotUtf8 {
    /// Which of the file's documents, counted as [`split_documents`] does.
    pub document: usize,
    /// go-yaml's problem, e.g. `invalid leading UTF-8 octet`.
    pub problem: &'static str,
}

/// The first document of `bytes` that go-yaml's reader refuses, if any.
/// Documents are found as in the text Helm splits: every byte that is not
/// UTF-8 stands in as one placeholder byte, so positions and `---` lines
/// stay where they are.
#[must_use]
pub fn first_not_utf8(bytes: &[u8]) -> Option<NotUtf8> {
    let mut same_shape = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        same_shape.push_str(chunk.valid());
        same_shape.extend(std::iter::repeat_n('\u{1}', chunk.invalid().len()));
    }
    split_documents(&same_shape)
        .into_iter()
        .enumerate()
        .find_map(|(document, doc)| {
            let start = doc.as_ptr() as usize - same_shape.as_ptr() as usize;
            let text = &bytes[start..start + doc.len()];
            std::str::from_utf8(text).err()?;
            crate::yaml_error::reader_problem(text).map(|problem| NotUtf8 { document, problem })
        })
}

/// A rendered file split into documents, each with its head read: the
/// costly half of sorting, done as each template's output arrives (see
/// `render`), while the next template executes.
pub struct ReadFile {
    /// The template's path (`chart/templates/x.yaml`).
    pub path: String,
    content: String,
    /// Each document's byte range in `content` and its head (or the
    /// YAML error reading it).
    documents: Vec<(Range<usize>, Result<Head, String>)>,
}

impl ReadFile {
    /// Splits `content` as Helm's `SplitManifests` does and reads every
    /// document's head (a YAML error anywhere in a document is kept for
    /// [`sort`] to report).
    #[must_use]
    pub fn read(path: String, content: String) -> Self {
        let documents = split_documents(&content)
            .into_iter()
            .map(|doc| {
                let start = doc.as_ptr() as usize - content.as_ptr() as usize;
                (start..start + doc.len(), read_head(doc))
            })
            .collect();
        Self {
            path,
            content,
            documents,
        }
    }
}

/// Sorts rendered files into hooks and manifests (Helm's `SortManifests`),
/// in the order of their paths. The files are consumed: a file of one
/// document (the usual case) hands its text to the manifest instead of
/// being copied.
///
/// # Errors
/// A document that is not YAML, naming its template: the first in path
/// order, as Helm reports it.
///
/// `not_utf8` names the files whose output was not UTF-8 (their text here
/// is Go's rune view of it) and the document that fails.
pub fn sort(
    mut files: Vec<ReadFile>,
    not_utf8: &BTreeMap<String, NotUtf8>,
) -> Result<(Vec<Hook>, Vec<Manifest>), ChartError> {
    files.retain(|file| {
        let base = file.path.rsplit('/').next().unwrap_or(&file.path);
        !base.starts_with('_')
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hooks = Vec::new();
    let mut manifests = Vec::new();
    for mut file in files {
        if let Some(bad) = not_utf8.get(&file.path)
            && let Some((_, head)) = file.documents.get_mut(bad.document)
        {
            *head = Err(format!(
                "error converting YAML to JSON: yaml: {}",
                bad.problem
            ));
        }
        let single = file.documents.len() == 1;
        for (range, head) in std::mem::take(&mut file.documents) {
            let head = head.map_err(|message| ChartError::Manifest {
                file: file.path.clone(),
                message,
            })?;
            let doc = if single {
                let mut text = std::mem::take(&mut file.content);
                text.truncate(range.end);
                text.drain(..range.start);
                // The render's buffer grew by doubling; give the slack back.
                text.shrink_to_fit();
                text
            } else {
                file.content[range].to_string()
            };
            sort_document(file.path.clone(), doc, head, &mut hooks, &mut manifests);
        }
    }
    manifests.sort_by(|a, b| kind_order(&a.kind, &b.kind));
    hooks.sort_by(|a, b| kind_order(&a.kind, &b.kind));
    Ok((hooks, manifests))
}

/// Files one document as a hook (by its `helm.sh/hook` annotation) or a
/// manifest.
fn sort_document(
    path: String,
    doc: String,
    head: Head,
    hooks: &mut Vec<Hook>,
    manifests: &mut Vec<Manifest>,
) {
    let Some(hook_types) = head
        .annotations
        .iter()
        .find(|(k, _)| k == "helm.sh/hook")
        .map(|(_, v)| v)
    else {
        manifests.push(Manifest {
            source: path,
            content: doc,
            kind: head.kind,
            api_version: head.api_version,
            name: head.name,
        });
        return;
    };
    let mut events = Vec::new();
    for event in hook_types.split(',') {
        let event = event.trim().to_lowercase();
        if !HOOK_EVENTS.contains(&event.as_str()) {
            // Helm drops a document whose hook list names an unknown event.
            return;
        }
        events.push(if event == "test-success" {
            "test".into()
        } else {
            event
        });
    }
    let annotation = |key: &str| {
        head.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let list = |key: &str| -> Vec<String> {
        annotation(key)
            .map(|v| v.split(',').map(|p| p.trim().to_lowercase()).collect())
            .unwrap_or_default()
    };
    hooks.push(Hook {
        name: head.name,
        kind: head.kind,
        source: path,
        content: doc,
        events,
        weight: annotation("helm.sh/hook-weight")
            .and_then(|w| w.parse().ok())
            .unwrap_or(0),
        delete_policies: list("helm.sh/hook-delete-policy"),
        output_log_policies: list("helm.sh/hook-output-log-policy"),
    });
}

/// Helm's `lessByKind` as an ordering (both sorts are stable).
fn kind_order(a: &str, b: &str) -> std::cmp::Ordering {
    let rank = |k: &str| INSTALL_ORDER.iter().position(|o| *o == k);
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Reads a document's head as Helm's `SimpleHead` (YAML errors fail the
/// render): the fast scanner when it can vouch for the document, the full
/// parse otherwise.
fn read_head(doc: &str) -> Result<Head, String> {
    match crate::head::scan(doc) {
        Some(head) => Ok(head),
        None => parse_head(doc),
    }
}

/// [`read_head`] through the full YAML parser, with the checks of Go's
/// JSON decoding into `SimpleHead`: scalars become strings, a collection
/// where a string or a mapping belongs fails (the first in the order of
/// the JSON text, whose keys are sorted).
pub(crate) fn parse_head(doc: &str) -> Result<Head, String> {
    let docs = crate::yaml::parse_head_stream(doc)?;
    let value = docs.into_iter().next().unwrap_or(Value::Null);
    let mut head = Head::default();
    let root = match &value {
        Value::Map(m) => m,
        Value::Null => return Ok(head),
        other => return Err(cannot_unmarshal(other, "Go value of type util.SimpleHead")),
    };
    head.api_version = head_string(root.get("apiVersion"), ".apiVersion")?;
    head.kind = head_string(root.get("kind"), ".kind")?;
    match root.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Map(meta)) => {
            match meta.get("annotations") {
                None | Some(Value::Null) => {}
                Some(Value::Map(a)) => {
                    let mut sorted: Vec<&String> = a.keys().collect();
                    sorted.sort();
                    for key in sorted {
                        head_string(a.get(key), &format!(".metadata.annotations.{key}"))?;
                    }
                    head.annotations = a
                        .iter()
                        .map(|(k, v)| (k.clone(), v.scalar_string().unwrap_or_default()))
                        .collect();
                }
                Some(other) => {
                    return Err(type_error(
                        other,
                        ".metadata.annotations",
                        "map[string]string",
                    ));
                }
            }
            head.name = head_string(meta.get("name"), ".metadata.name")?;
        }
        Some(other) => {
            return Err(type_error(
                other,
                ".metadata",
                r#"struct { Name string "json:\"name\""; Annotations map[string]string "json:\"annotations\"" }"#,
            ));
        }
    }
    Ok(head)
}

/// A `SimpleHead` string field: a scalar's text, or the decoding error
/// for a collection.
fn head_string(value: Option<&Value>, field: &str) -> Result<String, String> {
    match value {
        Some(v @ (Value::Map(_) | Value::Seq(_))) => Err(type_error(v, field, "string")),
        Some(v) => Ok(v.scalar_string().unwrap_or_default()),
        None => Ok(String::new()),
    }
}

fn type_error(value: &Value, field: &str, go_type: &str) -> String {
    cannot_unmarshal(value, &format!("Go struct field {field} of type {go_type}"))
}

/// What `helm template` prints: CRDs (when asked), manifests, hooks.
#[must_use]
pub fn assemble(crds: &[(String, String)], manifests: &[Manifest], hooks: &[Hook]) -> String {
    // Sized up front: the output of a big chart runs to megabytes, and
    // growing by doubling would copy it and hold up to twice its size.
    let documents = crds
        .iter()
        .map(|(name, data)| (name.as_str(), data.as_str()))
        .chain(
            manifests
                .iter()
                .map(|m| (m.source.as_str(), m.content.as_str())),
        )
        .chain(
            hooks
                .iter()
                .map(|h| (h.source.as_str(), h.content.as_str())),
        );
    let size = documents
        .map(|(source, content)| DOCUMENT_OVERHEAD + source.len() + content.len())
        .sum::<usize>()
        + 1;
    let mut release_manifest = String::with_capacity(size);
    for (name, data) in crds {
        push_document(&mut release_manifest, name, data);
    }
    for m in manifests {
        push_document(&mut release_manifest, &m.source, &m.content);
    }
    // Trimmed in place: the text is the whole output.
    let end = release_manifest.trim_end().len();
    release_manifest.truncate(end);
    let start = release_manifest.len() - release_manifest.trim_start().len();
    release_manifest.drain(..start);
    let mut out = release_manifest;
    out.push('\n');
    for h in hooks {
        push_document(&mut out, &h.source, &h.content);
    }
    out
}

/// The bytes [`push_document`] adds around a document's source and content.
const DOCUMENT_OVERHEAD: usize = "---\n# Source: \n\n".len();

fn push_document(out: &mut String, source: &str, content: &str) {
    out.push_str("---\n# Source: ");
    out.push_str(source);
    out.push('\n');
    out.push_str(content);
    out.push('\n');
}

/// `--show-only`: the documents of `output` whose `# Source:` path (chart
/// name dropped) matches one of `patterns`, in pattern order.
///
/// # Errors
/// A pattern that matches no document (`could not find template ...`).
pub fn show_only(output: &str, patterns: &[String]) -> Result<String, ChartError> {
    let docs = split_documents(output);
    let mut out = String::new();
    for pattern in patterns {
        let mut found = false;
        for doc in &docs {
            let Some(path) = source_path(doc) else {
                continue;
            };
            if crate::ignore::glob_match(pattern, path).unwrap_or(false) {
                out.push_str("---\n");
                out.push_str(doc);
                out.push('\n');
                found = true;
            }
        }
        if !found {
            return Err(ChartError::Invalid(format!(
                "could not find template {pattern} in chart"
            )));
        }
    }
    Ok(out)
}

/// The first `# Source: <chart>/<path>` of a document, `<path>` returned.
fn source_path(doc: &str) -> Option<&str> {
    let at = doc.find("# Source: ")?;
    let rest = &doc[at + "# Source: ".len()..];
    let slash = rest.find('/')?;
    if slash == 0 || rest[..slash].contains('\n') {
        return None;
    }
    let path = &rest[slash + 1..];
    let end = path.find('\n').unwrap_or(path.len());
    let path = &path[..end];
    if path.is_empty() { None } else { Some(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(files: BTreeMap<String, String>) -> Vec<ReadFile> {
        files
            .into_iter()
            .map(|(path, content)| ReadFile::read(path, content))
            .collect()
    }

    #[test]
    fn splits_like_helm() {
        assert_eq!(
            split_documents("\n\na: 1\n---\n\nb: 2\n\n--- \n  \n---\nc: 3"),
            ["a: 1\n", "b: 2\n\n", "c: 3"]
        );
    }

    #[test]
    fn sorts_by_kind_and_sets_hooks_apart() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/a.yaml".to_string(),
            "kind: Deployment\nmetadata:\n  name: d\n---\nkind: Zeta\n---\nkind: Alpha\n---\nkind: Service\n".to_string(),
        );
        files.insert(
            "c/templates/b.yaml".to_string(),
            "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: before-hook-creation\n---\nkind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: bogus\n".to_string(),
        );
        files.insert(
            "c/templates/_h.tpl".to_string(),
            "kind: Secret\n".to_string(),
        );
        let (hooks, manifests) = sort(read_all(files), &BTreeMap::new()).unwrap();
        let kinds: Vec<&str> = manifests.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["Service", "Deployment", "Alpha", "Zeta"]);
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].weight, -5);
        assert_eq!(hooks[0].events, ["pre-install", "post-upgrade"]);
        assert_eq!(hooks[0].delete_policies, ["before-hook-creation"]);
    }

    #[test]
    fn invalid_yaml_names_the_template() {
        let mut files = BTreeMap::new();
        files.insert("c/templates/x.yaml".to_string(), "a: b: c\n".to_string());
        let e = sort(read_all(files), &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("YAML parse error on c/templates/x.yaml"),
            "{e}"
        );
    }

    #[test]
    fn finds_the_document_go_yaml_refuses() {
        assert!(first_not_utf8(b"a: 1\n---\nb: 2\n").is_none());
        let bad = first_not_utf8(b"a: 1\n---\n\n---\nb: h\xc3\n---\nc: \xff\n").unwrap();
        assert_eq!(bad.document, 1);
        assert_eq!(bad.problem, "invalid trailing UTF-8 octet");
        let bad = first_not_utf8(b"x: \xfe\n").unwrap();
        assert_eq!(
            (bad.document, bad.problem),
            (0, "invalid leading UTF-8 octet")
        );
        let bad = first_not_utf8(b"x: \xe2\x82").unwrap();
        assert_eq!(bad.problem, "incomplete UTF-8 octet sequence");
        let bad = first_not_utf8(b"x: \x01 \xc0\x80").unwrap();
        assert_eq!(bad.problem, "control characters are not allowed");
        let bad = first_not_utf8(b"x: \xc0\x80").unwrap();
        assert_eq!(bad.problem, "invalid length of a UTF-8 sequence");
        let bad = first_not_utf8(b"x: \xed\xa0\x80").unwrap();
        assert_eq!(bad.problem, "invalid Unicode character");
    }

    #[test]
    fn a_document_that_is_not_utf8_fails_its_template() {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/x.yaml".to_string(),
            "kind: A\n---\nkind: B\nx: \u{FFFD}\n".to_string(),
        );
        let mut not_utf8 = BTreeMap::new();
        not_utf8.insert(
            "c/templates/x.yaml".to_string(),
            NotUtf8 {
                document: 1,
                problem: "invalid leading UTF-8 octet",
            },
        );
        let e = sort(read_all(files), &not_utf8).unwrap_err().to_string();
        assert_eq!(
            e,
            "YAML parse error on c/templates/x.yaml: error converting YAML to JSON: yaml: invalid leading UTF-8 octet"
        );
    }

    #[test]
    fn assembles_and_filters() {
        let m = Manifest {
            source: "c/templates/a.yaml".into(),
            content: "kind: A\n".into(),
            kind: "A".into(),
            api_version: String::new(),
            name: String::new(),
        };
        let out = assemble(&[], &[m], &[]);
        assert_eq!(out, "---\n# Source: c/templates/a.yaml\nkind: A\n");
        assert_eq!(
            show_only(&out, &["templates/a.yaml".into()]).unwrap(),
            "---\n# Source: c/templates/a.yaml\nkind: A\n\n"
        );
        assert!(show_only(&out, &["templates/b.yaml".into()]).is_err());
    }
}
