//! One copy operation of an ArtifactGenerator, with source-watcher's
//! `cp`-like rules: unpacked source directories in, files in a staging
//! directory out. No Kubernetes, no network.
//!
//! - `from: "@alias/path"` without glob characters names a file or a
//!   directory. A directory is copied as a subdirectory of `to` (its base
//!   name kept; `@alias/` copies the root's contents). A file goes to
//!   `to` as that name, or into it when `to` ends with `/` or already is a
//!   directory of the artifact.
//! - With glob characters, each segment matches as Go's `path.Match`
//!   (`**` is `*` there), and every match, file or directory, lands under
//!   `to` at its full path, except that `dir/**` strips `dir/`. No match,
//!   or every match excluded, is an error.
//! - `exclude` patterns (doublestar) match the path from the source root
//!   or from the literal prefix of `from`; a pattern without `/` also
//!   matches the file name at any depth.
//! - `Merge` deep-merges a YAML file into the one already at the
//!   destination (maps merged, everything else replaced: Helm's values
//!   rule; several documents in a file merge into one). `Extract` unpacks
//!   `.tar.gz`/`.tgz` files into `to` (a glob then matches doublestar
//!   style, and skips other files).
//!
//! Every path is checked to stay inside its root, and [`Budget`] bounds
//! what an artifact may grow to, so a generator that copies a large
//! source many times fails with the flag to raise instead of filling the
//! disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use driftless_api::{CopyOperation, CopyStrategy};
use driftless_render::yaml::{Map, Value, emit_document, parse_documents};
use driftless_source::UnpackLimits;

use super::glob::{self, Excludes, GlobError};

/// Why a copy operation failed; the caller adds which one it was.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CopyError {
    #[error("'from' {from:?} must be '@<alias>/<pattern>'")]
    From { from: String },
    #[error("'to' {to:?} must start with '@artifact/'")]
    To { to: String },
    #[error("source alias '{alias}' is not in spec.sources")]
    UnknownAlias { alias: String },
    #[error(transparent)]
    Glob(#[from] GlobError),
    #[error("path '{path}' climbs out of its root")]
    Escapes { path: String },
    #[error("no files match pattern '{pattern}' in source '{alias}'")]
    NoMatch { pattern: String, alias: String },
    #[error("all files matching pattern '{pattern}' in source '{alias}' were excluded")]
    AllExcluded { pattern: String, alias: String },
    #[error("source '{path}' does not exist in '@{alias}'")]
    Missing { path: String, alias: String },
    #[error("the Extract strategy needs a .tar.gz or .tgz file, got '{path}'")]
    NotTarball { path: String },
    #[error("the Extract strategy does not take directories, got '{path}'")]
    ExtractDirectory { path: String },
    #[error("cannot merge '{path}' as YAML: {problem}")]
    Merge { path: String, problem: String },
    #[error("the artifact grows past {limit} {what}; copy less, or raise the controller's {flag}")]
    TooLarge {
        what: &'static str,
        limit: u64,
        flag: &'static str,
    },
    #[error("cannot {action} '{path}'")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot extract '{path}'")]
    Extract {
        path: String,
        #[source]
        source: driftless_source::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CopyError {
    let path = path.to_path_buf();
    move |source| CopyError::Io {
        action,
        path,
        source,
    }
}

/// What the artifact being built may still grow by (the
/// `--artifact-max-*` limits, which bound every unpacked artifact too).
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    bytes: u64,
    files: u64,
    limits: UnpackLimits,
}

impl Budget {
    pub(crate) fn new(limits: &UnpackLimits) -> Budget {
        Budget {
            bytes: limits.max_bytes,
            files: limits.max_entries,
            limits: limits.clone(),
        }
    }

    /// Takes one file of `size` bytes from the budget.
    fn take(&mut self, size: u64) -> Result<(), CopyError> {
        if size > self.limits.max_file_bytes {
            return Err(CopyError::TooLarge {
                what: "bytes in one file",
                limit: self.limits.max_file_bytes,
                flag: "--artifact-max-file-size",
            });
        }
        self.bytes = self.bytes.checked_sub(size).ok_or(CopyError::TooLarge {
            what: "bytes",
            limit: self.limits.max_bytes,
            flag: "--artifact-max-size",
        })?;
        self.files = self.files.checked_sub(1).ok_or(CopyError::TooLarge {
            what: "files",
            limit: self.limits.max_entries,
            flag: "--artifact-max-files",
        })?;
        Ok(())
    }
}

/// Checks what `op` says without reading anything: its `from` and `to`
/// forms, its alias among `aliases`, its globs and excludes, and that no
/// path climbs out. A failure here is the spec's, not the sources'.
pub(crate) fn check(
    op: &CopyOperation,
    aliases: &std::collections::HashSet<&str>,
) -> Result<(), CopyError> {
    let (alias, pattern, _) = parse(op)?;
    if !aliases.contains(alias) {
        return Err(CopyError::UnknownAlias {
            alias: alias.to_owned(),
        });
    }
    Excludes::new(&op.exclude)?;
    clean(pattern)?;
    if op.strategy == Some(CopyStrategy::Extract) {
        glob::path(pattern)?;
    } else {
        for part in pattern.split('/').filter(|p| glob::has_meta(p)) {
            glob::segment(part).map_err(|e| GlobError {
                pattern: pattern.to_owned(),
                ..e
            })?;
        }
    }
    Ok(())
}

/// `(alias, pattern, destination)` of `op`.
fn parse(op: &CopyOperation) -> Result<(&str, &str, String), CopyError> {
    let (alias, pattern) = op
        .from
        .strip_prefix('@')
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| CopyError::From {
            from: op.from.clone(),
        })?;
    let to = op
        .to
        .strip_prefix("@artifact/")
        .ok_or_else(|| CopyError::To { to: op.to.clone() })?;
    Ok((alias, pattern, clean(to)?))
}

/// Applies `op`, reading the unpacked sources by alias, into `staging`.
pub(crate) fn apply(
    op: &CopyOperation,
    sources: &HashMap<String, PathBuf>,
    staging: &Path,
    budget: &mut Budget,
) -> Result<(), CopyError> {
    let (alias, pattern, dest) = parse(op)?;
    let root = sources.get(alias).ok_or_else(|| CopyError::UnknownAlias {
        alias: alias.to_owned(),
    })?;
    let copier = Copier {
        src: root,
        staging,
        excludes: Excludes::new(&op.exclude)?,
        strategy: op.strategy.unwrap_or_default(),
        alias,
    };
    if !glob::has_meta(pattern) {
        return copier.single(&clean(pattern)?, &dest, op.to.ends_with('/'), budget);
    }
    let matches = if copier.strategy == CopyStrategy::Extract {
        doublestar_matches(root, pattern)?
    } else {
        go_glob(root, pattern)?
    };
    if matches.is_empty() {
        return Err(CopyError::NoMatch {
            pattern: pattern.to_owned(),
            alias: alias.to_owned(),
        });
    }
    let base = selection_root(pattern)?;
    let kept: Vec<String> = matches
        .into_iter()
        .filter(|m| !m.is_empty() && !copier.excludes.excludes(m, &base))
        .collect();
    if kept.is_empty() {
        return Err(CopyError::AllExcluded {
            pattern: pattern.to_owned(),
            alias: alias.to_owned(),
        });
    }
    for found in kept {
        if copier.strategy == CopyStrategy::Extract {
            if is_tarball(&found) && root.join(&found).is_file() {
                copier.extract(&found, &dest, budget)?;
            }
            continue;
        }
        let target = pattern
            .strip_suffix("/**")
            .and_then(|dir| found.strip_prefix(&format!("{dir}/")))
            .map_or_else(|| join(&dest, &found), |rel| join(&dest, rel));
        copier.entry(&found, &target, &base, budget)?;
    }
    Ok(())
}

struct Copier<'a> {
    src: &'a Path,
    staging: &'a Path,
    excludes: Excludes,
    strategy: CopyStrategy,
    alias: &'a str,
}

impl Copier<'_> {
    /// A `from` without glob characters: a file or a directory.
    fn single(
        &self,
        path: &str,
        dest: &str,
        into_dir: bool,
        budget: &mut Budget,
    ) -> Result<(), CopyError> {
        let full = self.src.join(path);
        let meta = match std::fs::metadata(&full) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CopyError::Missing {
                    path: if path.is_empty() { "." } else { path }.to_owned(),
                    alias: self.alias.to_owned(),
                });
            }
            Err(e) => return Err(io("read", &full)(e)),
        };
        if meta.is_dir() {
            if self.strategy == CopyStrategy::Extract {
                return Err(CopyError::ExtractDirectory {
                    path: path.to_owned(),
                });
            }
            let target = join(dest, base_name(path));
            return self.dir(path, &target, path, budget);
        }
        if self.excludes.excludes(path, "") {
            return Ok(());
        }
        if self.strategy == CopyStrategy::Extract {
            if !is_tarball(path) {
                return Err(CopyError::NotTarball {
                    path: path.to_owned(),
                });
            }
            return self.extract(path, dest, budget);
        }
        let target = if into_dir || self.staging.join(dest).is_dir() {
            join(dest, base_name(path))
        } else {
            dest.to_owned()
        };
        self.entry(path, &target, "", budget)
    }

    /// A file or a whole directory at `path` in the source to `target`.
    fn entry(
        &self,
        path: &str,
        target: &str,
        base: &str,
        budget: &mut Budget,
    ) -> Result<(), CopyError> {
        let full = self.src.join(path);
        let meta = std::fs::symlink_metadata(&full).map_err(io("read", &full))?;
        if meta.is_dir() {
            self.dir(path, target, base, budget)
        } else if !meta.is_file() {
            // Unpacked artifacts hold only files and directories.
            Ok(())
        } else if self.strategy == CopyStrategy::Merge && self.staging.join(target).is_file() {
            self.merge(path, target, budget)
        } else {
            self.file(path, target, budget)
        }
    }

    /// The directory `path` and everything below it not excluded, into `target`.
    fn dir(
        &self,
        path: &str,
        target: &str,
        base: &str,
        budget: &mut Budget,
    ) -> Result<(), CopyError> {
        let into = self.staging.join(target);
        std::fs::create_dir_all(&into).map_err(io("create directory", &into))?;
        let full = self.src.join(path);
        let mut children: Vec<(String, bool)> = Vec::new();
        for entry in std::fs::read_dir(&full).map_err(io("list", &full))? {
            let entry = entry.map_err(io("list", &full))?;
            let kind = entry.file_type().map_err(io("read", &entry.path()))?;
            if let Ok(name) = entry.file_name().into_string()
                && (kind.is_dir() || kind.is_file())
            {
                children.push((name, kind.is_dir()));
            }
        }
        children.sort();
        for (name, is_dir) in children {
            let child = join(path, &name);
            if self.excludes.excludes(&child, base) {
                continue;
            }
            let child_target = join(target, &name);
            if is_dir {
                self.dir(&child, &child_target, base, budget)?;
            } else {
                self.file(&child, &child_target, budget)?;
            }
        }
        Ok(())
    }

    fn file(&self, path: &str, target: &str, budget: &mut Budget) -> Result<(), CopyError> {
        let from = self.src.join(path);
        let size = std::fs::metadata(&from).map_err(io("read", &from))?.len();
        budget.take(size)?;
        let to = self.staging.join(target);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io("create directory", parent))?;
        }
        std::fs::copy(&from, &to).map_err(io("write", &to))?;
        Ok(())
    }

    /// Merges the YAML at `path` into the file already at `target`.
    fn merge(&self, path: &str, target: &str, budget: &mut Budget) -> Result<(), CopyError> {
        let from = self.src.join(path);
        let to = self.staging.join(target);
        let overlay = load_yaml(&from, path, budget)?;
        let base = load_yaml(&to, target, budget)?;
        let merged = emit_document(&Value::Map(merge_maps(base, overlay)));
        budget.take(merged.len() as u64)?;
        std::fs::write(&to, merged).map_err(io("write", &to))
    }

    /// Unpacks the tarball at `path` into `dest`.
    fn extract(&self, path: &str, dest: &str, budget: &mut Budget) -> Result<(), CopyError> {
        use sha2::Digest as _;
        let from = self.src.join(path);
        let size = std::fs::metadata(&from).map_err(io("read", &from))?.len();
        if size > budget.limits.max_file_bytes {
            return Err(CopyError::TooLarge {
                what: "bytes in one file",
                limit: budget.limits.max_file_bytes,
                flag: "--artifact-max-file-size",
            });
        }
        let bytes = std::fs::read(&from).map_err(io("read", &from))?;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
        let limits = UnpackLimits {
            max_bytes: budget.bytes,
            max_entries: budget.files,
            max_file_bytes: budget.limits.max_file_bytes,
        };
        let into = self.staging.join(dest);
        let before = if into.is_dir() {
            tree_size(&into).map_err(io("read", &into))?
        } else {
            (0, 0)
        };
        driftless_source::unpack_verified(&bytes, &digest, path, &into, &limits).map_err(
            |source| CopyError::Extract {
                path: path.to_owned(),
                source,
            },
        )?;
        // What it added comes off the budget.
        let (files, total) = tree_size(&into).map_err(io("read", &into))?;
        budget.bytes = budget.bytes.saturating_sub(total.saturating_sub(before.1));
        budget.files = budget.files.saturating_sub(files.saturating_sub(before.0));
        Ok(())
    }
}

/// Files and bytes under `dir`.
fn tree_size(dir: &Path) -> std::io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let (f, b) = tree_size(&entry.path())?;
            files += f;
            bytes += b;
        } else if kind.is_file() {
            files += 1;
            bytes += entry.metadata()?.len();
        }
    }
    Ok((files, bytes))
}

/// A YAML file's documents merged into one map (an empty file: none).
fn load_yaml(file: &Path, name: &str, budget: &Budget) -> Result<Map, CopyError> {
    let size = std::fs::metadata(file).map_err(io("read", file))?.len();
    if size > budget.limits.max_file_bytes {
        return Err(CopyError::TooLarge {
            what: "bytes in one file",
            limit: budget.limits.max_file_bytes,
            flag: "--artifact-max-file-size",
        });
    }
    let text = std::fs::read_to_string(file).map_err(io("read", file))?;
    let problem = |problem: String| CopyError::Merge {
        path: name.to_owned(),
        problem,
    };
    let mut out = Map::new();
    for doc in parse_documents(&text).map_err(problem)? {
        match doc {
            Value::Map(map) => out = merge_maps(out, map),
            Value::Null => {}
            other => {
                return Err(problem(format!(
                    "a document is a {}, not a map",
                    other.type_name()
                )));
            }
        }
    }
    Ok(out)
}

/// `overlay` deep-merged over `base`: maps merge key by key, any other
/// value (lists included) replaces the base's.
fn merge_maps(mut base: Map, overlay: Map) -> Map {
    for (key, value) in overlay {
        let merged = match (base.shift_remove(&key), value) {
            (Some(Value::Map(old)), Value::Map(new)) => Value::Map(merge_maps(old, new)),
            (_, new) => new,
        };
        base.insert(key, merged);
    }
    base
}

/// Matches of a Go `fs.Glob` pattern under `root`, in its order (sorted
/// within each directory).
fn go_glob(root: &Path, pattern: &str) -> Result<Vec<String>, CopyError> {
    let mut segments = Vec::new();
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(CopyError::Escapes {
                path: pattern.to_owned(),
            });
        }
        let matcher = if glob::has_meta(part) {
            Some(glob::segment(part).map_err(|e| GlobError {
                pattern: pattern.to_owned(),
                ..e
            })?)
        } else {
            None
        };
        segments.push((part, matcher));
    }
    let mut current = vec![String::new()];
    for (part, matcher) in segments {
        let mut next = Vec::new();
        for dir in &current {
            match &matcher {
                None => {
                    let path = join(dir, part);
                    if std::fs::symlink_metadata(root.join(&path)).is_ok() {
                        next.push(path);
                    }
                }
                Some(re) => {
                    let full = root.join(dir);
                    if !full.is_dir() {
                        continue;
                    }
                    let mut names: Vec<String> = std::fs::read_dir(&full)
                        .map_err(io("list", &full))?
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter(|name| re.is_match(name))
                        .collect();
                    names.sort();
                    next.extend(names.iter().map(|name| join(dir, name)));
                }
            }
        }
        current = next;
    }
    Ok(current)
}

/// Every path under `root` a doublestar pattern matches, sorted.
fn doublestar_matches(root: &Path, pattern: &str) -> Result<Vec<String>, CopyError> {
    let re = glob::path(pattern.trim_start_matches("./"))?;
    let mut found = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(dir) = stack.pop() {
        let full = root.join(&dir);
        for entry in std::fs::read_dir(&full).map_err(io("list", &full))? {
            let entry = entry.map_err(io("list", &full))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let path = join(&dir, &name);
            if re.is_match(&path) {
                found.push(path.clone());
            }
            if entry
                .file_type()
                .map_err(io("read", &entry.path()))?
                .is_dir()
            {
                stack.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The literal directories of `pattern` before its first glob segment.
fn selection_root(pattern: &str) -> Result<String, CopyError> {
    let cleaned = clean(pattern)?;
    let literal: Vec<&str> = cleaned
        .split('/')
        .take_while(|part| !glob::has_meta(part))
        .collect();
    Ok(literal.join("/"))
}

/// `path` without `.`, empty segments and `..` (refused when it would
/// climb out); the root is `""`.
fn clean(path: &str) -> Result<String, CopyError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(CopyError::Escapes {
                        path: path.to_owned(),
                    });
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{name}"),
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_tarball(path: &str) -> bool {
    path.ends_with(".tar.gz") || path.ends_with(".tgz")
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
