//! Flux's setter markers: rewriting the image references in YAML files
//! that a comment ties to an `ImagePolicy`, as the image-automation
//! controller's `Setters` update strategy does.
//!
//! **Owns:** finding the files to consider under `update.path`, finding the
//! markers in them, rewriting exactly the marked scalars, and the result
//! Flux's commit template reads ([`UpdateResult`]). **Must not touch:** git
//! (the caller commits), the network, the cluster.
//!
//! Hand-written because Flux's behaviour is kyaml's setter machinery, which
//! no crate reproduces, and because we edit bytes in place rather than
//! re-serialise the file (see below).
//!
//! ## Markers
//! ```yaml
//! image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
//! tag: 1.0.0 # {"$imagepolicy": "flux-system:app:tag"}
//! ```
//! `<namespace>:<policy>` sets the full reference (`name:tag`, or
//! `name:tag@digest` when the policy reports a digest); the `:tag`,
//! `:name` and `:digest` forms set one part (`:digest` writes an empty
//! string when the policy has no digest, as Flux does). The marker is a
//! comment after a scalar value on its line, or a one-line comment before
//! a scalar list item (blank lines between them allowed), exactly where
//! Flux's YAML library attaches a line or head comment to the value.
//!
//! ## Which files (as Flux)
//! Every file under the path, hidden directories included, whose name ends
//! in `.yaml` or `.yml` or is exactly `Kustomization`, and which contains
//! the text `"$imagepolicy"`. Files with several documents, lists of
//! containers, Helm values files and `kustomization.yaml` are all handled
//! the same way: any scalar value with a marker is set; a document with no
//! `apiVersion`, `kind` or `metadata` (a values file) gets an empty
//! [`ObjectIdentifier`] in the result, as in Flux. A file that does
//! not parse as YAML, or has a document that is a list or a scalar, is
//! skipped and listed in [`UpdateResult::skipped`]. A
//! marker naming a policy that was not given is skipped silently (it may
//! belong to another automation); so are comments that are not markers.
//!
//! ## Where we differ from Flux, and why
//! - Flux re-serialises each file it changes through its YAML library,
//!   which can reindent, drop blank lines and turn CRLF into LF. We
//!   replace only the bytes of the marked scalars, so a commit shows just
//!   the changed values.
//! - Flux silently ignores a marker it cannot read (bad JSON, no
//!   namespace). We ignore it too but report it in
//!   [`UpdateResult::ignored_markers`] with its file and line, so the
//!   caller can warn.
//! - Flux clamps an `update.path` that climbs out of the checkout to the
//!   checkout root; we refuse it ([`Error::PathEscapes`]).
//! - Flux reads files through symlinks (even to outside the checkout) and
//!   writes through them; we neither follow nor rewrite symlinks.
//! - Flux unwraps a `kind: List` document into its items; to us it is one
//!   object, so changes inside its items are recorded under the list.
//! - Flux sets a marked value that spans lines or is a block scalar, and
//!   sets an empty (`null`) value; we leave those alone and report them.
//! - Files over the setter file bound (`--setter-max-file-size`) are skipped (a bound on hostile input).

mod result;
mod scan;
mod style;

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

pub use result::{Change, IgnoredMarker, ObjectChanges, ObjectIdentifier, Skipped, UpdateResult};

/// Larger files are skipped: the process's
/// [`driftless_limits::Limits::setter_file_bytes`].
fn max_file_bytes() -> u64 {
    driftless_limits::current().setter_file_bytes
}

/// An `ImagePolicy` by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyRef {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl PolicyRef {
    /// A reference to `namespace/name`.
    #[must_use]
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        PolicyRef {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// What a policy elected: its `status.latestRef`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// The image name, e.g. `ghcr.io/org/app`.
    pub name: String,
    /// The tag, e.g. `1.2.3`.
    pub tag: String,
    /// The digest, e.g. `sha256:…`, when the policy reflects digests.
    pub digest: Option<String>,
}

impl ImageRef {
    /// `name:tag`, or `name:tag@digest` (Flux's `ImageRef.String()`).
    #[must_use]
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(d) if !d.is_empty() => format!("{}:{}@{d}", self.name, self.tag),
            _ => format!("{}:{}", self.name, self.tag),
        }
    }
}

/// What an update could not do. Problems with single files or markers are
/// not errors (see [`UpdateResult`]); these stop the whole update.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `update.path` leaves the checkout (by `..` or a symlink).
    #[error("update path {path:?} leads outside the checkout: give a path inside the repository")]
    PathEscapes {
        /// The path as given.
        path: String,
    },
    /// `update.path` does not exist.
    #[error("update path {path:?} does not exist in the checkout")]
    PathMissing {
        /// The path as given.
        path: String,
    },
    /// Reading or writing a file or directory failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Which part of the elected image a marker sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Image,
    Tag,
    Name,
    Digest,
}

/// The setter names of the given policies, as Flux defines them.
struct Setters<'a> {
    by_name: HashMap<String, (&'a ImageRef, Field)>,
}

impl<'a> Setters<'a> {
    fn new(policies: &'a BTreeMap<PolicyRef, ImageRef>) -> Self {
        let mut by_name = HashMap::new();
        for (policy, image) in policies {
            let base = format!("{}:{}", policy.namespace, policy.name);
            by_name.insert(format!("{base}:tag"), (image, Field::Tag));
            by_name.insert(format!("{base}:name"), (image, Field::Name));
            by_name.insert(format!("{base}:digest"), (image, Field::Digest));
            by_name.insert(base, (image, Field::Image));
        }
        Setters { by_name }
    }

    fn lookup(&self, setter: &str) -> Option<(&'a ImageRef, Field)> {
        self.by_name.get(setter).copied()
    }
}

/// The new text of one file and what changed in it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TextUpdate {
    /// The rewritten text; `None` when nothing changed.
    pub text: Option<String>,
    /// The changes, per object, in document order.
    pub changes: Vec<(ObjectIdentifier, Change)>,
    /// Marker-like comments not acted on: (1-based line, reason).
    pub ignored: Vec<(usize, String)>,
}

/// A text Flux's reader would refuse: not YAML, or a document that is not
/// a mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The parser's message.
    pub message: String,
}

/// Applies the markers of one YAML text. Pure; [`update_with_setters`]
/// calls it for each file.
///
/// # Errors
/// [`YamlError`] when `text` is not YAML or has a document that is a list
/// or a scalar.
pub fn update_text(
    text: &str,
    policies: &BTreeMap<PolicyRef, ImageRef>,
) -> Result<TextUpdate, YamlError> {
    if !text.contains(scan::TOKEN) {
        return Ok(TextUpdate::default());
    }
    let scan = scan::scan(text, &Setters::new(policies))?;
    let rewritten = (!scan.edits.is_empty()).then(|| {
        let mut out = String::with_capacity(text.len() + 64);
        let mut at = 0;
        for edit in &scan.edits {
            out.push_str(&text[at..edit.start]);
            out.push_str(&edit.text);
            at = edit.end;
        }
        out.push_str(&text[at..]);
        out
    });
    Ok(TextUpdate {
        text: rewritten,
        changes: scan.changes,
        ignored: scan.ignored,
    })
}

/// Rewrites the marked values in the files under `update_path` (relative
/// to `checkout`; empty for the whole checkout) to the images `policies`
/// elected, and says what changed. Only files whose content changes are
/// written. Pass only policies that have elected an image (Flux skips a
/// policy without `status.latestRef`); markers of other policies are left
/// alone.
///
/// # Errors
/// When the path leaves the checkout or does not exist, or a file or
/// directory cannot be read or written.
pub fn update_with_setters(
    checkout: &Path,
    update_path: &str,
    policies: &BTreeMap<PolicyRef, ImageRef>,
) -> Result<UpdateResult, Error> {
    let root = resolve(checkout, update_path)?;
    let mut files = Vec::new();
    let base = if root.is_dir() {
        collect(&root, &mut files)?;
        root.clone()
    } else {
        files.push(root.clone());
        root.parent()
            .map_or_else(|| root.clone(), Path::to_path_buf)
    };
    let mut result = UpdateResult::default();
    for path in files {
        let rel = relative(&base, &path);
        update_file(&path, &rel, policies, &mut result)?;
    }
    Ok(result)
}

fn update_file(
    path: &Path,
    rel: &str,
    policies: &BTreeMap<PolicyRef, ImageRef>,
    result: &mut UpdateResult,
) -> Result<(), Error> {
    let io = |op| {
        move |source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    let meta = std::fs::symlink_metadata(path).map_err(io("reading"))?;
    if meta.len() > max_file_bytes() {
        if mentions_token(path)? {
            result.skipped.push(Skipped {
                file: rel.to_owned(),
                reason: format!(
                    "larger than {} bytes (raise {})",
                    max_file_bytes(),
                    driftless_limits::Limit::SetterFileBytes.flag()
                ),
            });
        }
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(io("reading"))?;
    if !bytes
        .windows(scan::TOKEN.len())
        .any(|w| w == scan::TOKEN.as_bytes())
    {
        return Ok(());
    }
    let Ok(text) = String::from_utf8(bytes) else {
        result.skipped.push(Skipped {
            file: rel.to_owned(),
            reason: "not UTF-8".to_owned(),
        });
        return Ok(());
    };
    let update = match update_text(&text, policies) {
        Ok(update) => update,
        Err(e) => {
            result.skipped.push(Skipped {
                file: rel.to_owned(),
                reason: format!("not readable as Kubernetes YAML: {e}"),
            });
            return Ok(());
        }
    };
    result.ignored_markers.extend(
        update
            .ignored
            .into_iter()
            .map(|(line, reason)| IgnoredMarker {
                file: rel.to_owned(),
                line,
                reason,
            }),
    );
    if let Some(new_text) = update.text {
        std::fs::write(path, new_text).map_err(io("writing"))?;
        for (object, change) in update.changes {
            result.add(rel, object, change);
        }
    }
    Ok(())
}

/// Whether a file too large to edit mentions the token (worth reporting).
fn mentions_token(path: &Path) -> Result<bool, Error> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        op: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = Vec::new();
    // The first bound's worth is enough to decide whether to mention it.
    let _ = file.take(max_file_bytes()).read_to_end(&mut head);
    Ok(head
        .windows(scan::TOKEN.len())
        .any(|w| w == scan::TOKEN.as_bytes()))
}

/// `checkout/update_path`, refusing any way out of `checkout`.
fn resolve(checkout: &Path, update_path: &str) -> Result<PathBuf, Error> {
    let escapes = || Error::PathEscapes {
        path: update_path.to_owned(),
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in Path::new(update_path).components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::ParentDir => {
                parts.pop().ok_or_else(escapes)?;
            }
            // A leading `/` means the checkout root, as in Flux.
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let joined: PathBuf = parts
        .iter()
        .fold(checkout.to_path_buf(), |p, part| p.join(part));
    let canonical_root = checkout.canonicalize().map_err(|source| Error::Io {
        op: "resolving",
        path: checkout.to_path_buf(),
        source,
    })?;
    let canonical = match joined.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::PathMissing {
                path: update_path.to_owned(),
            });
        }
        Err(source) => {
            return Err(Error::Io {
                op: "resolving",
                path: joined,
                source,
            });
        }
    };
    if !canonical.starts_with(&canonical_root) {
        return Err(escapes());
    }
    Ok(canonical)
}

/// The candidate files under `dir`, in lexical order, not following
/// symlinks.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io = |source| Error::Io {
        op: "listing",
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.and_then(|e| Ok((e.path(), e.file_type()?))))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        if kind.is_dir() {
            collect(&path, files)?;
        } else if kind.is_file() && is_candidate(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// Flux's file name rule.
fn is_candidate(path: &Path) -> bool {
    // Go's `filepath.Ext` is the suffix from the last dot, so `.yaml`
    // alone counts too.
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name == "Kustomization" || name.ends_with(".yaml") || name.ends_with(".yml")
}

fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests;
