//! Between a commit's tree and a plain directory: writing the files of a
//! tree out (regular files, executable bits, symlinks; submodules as empty
//! directories), and reading a directory back into tree objects.
//!
//! No index and no filters: bytes go to disk as they are in the blobs and
//! come back the same (no line-ending conversion, as Flux's go-git does).
//! Submodule entries (gitlinks) cannot be edited here; an empty directory
//! stands in for each, and the gitlink is kept as it was when the tree is
//! read back.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use gix::ObjectId;
use gix::objs::tree::{Entry, EntryKind, EntryMode};

use crate::Error;

/// Names that must never be written from a tree: they would escape the
/// directory or overwrite the repository.
fn unsafe_name(name: &[u8]) -> bool {
    name.is_empty()
        || name == b"."
        || name == b".."
        || name.eq_ignore_ascii_case(b".git")
        || name.contains(&b'/')
        || name.contains(&0)
}

/// Write the files of `tree` under `dir` (which exists).
pub(crate) fn materialize(
    repo: &gix::Repository,
    tree: ObjectId,
    dir: &Path,
    commit: &str,
) -> Result<(), Error> {
    materialize_at(repo, tree, dir, "", commit)
}

fn materialize_at(
    repo: &gix::Repository,
    tree: ObjectId,
    dir: &Path,
    prefix: &str,
    commit: &str,
) -> Result<(), Error> {
    let git_dir = repo.git_dir();
    let tree = repo
        .find_tree(tree)
        .map_err(|e| Error::repo("reading a tree", git_dir, e))?;
    let decoded = tree
        .decode()
        .map_err(|e| Error::repo("decoding a tree", git_dir, e))?;
    for entry in &decoded.entries {
        let name = entry.filename.to_vec();
        let display = format!("{prefix}{}", String::from_utf8_lossy(&name));
        if unsafe_name(&name) {
            return Err(Error::UnsafePath {
                path: display,
                commit: commit.to_owned(),
            });
        }
        let name = String::from_utf8(name).map_err(|_| Error::UnsafePath {
            path: display.clone(),
            commit: commit.to_owned(),
        })?;
        let path = dir.join(&name);
        let oid = entry.oid.to_owned();
        match entry.mode.kind() {
            EntryKind::Tree => {
                std::fs::create_dir(&path).map_err(|e| Error::io("creating", &path, e))?;
                materialize_at(repo, oid, &path, &format!("{display}/"), commit)?;
            }
            EntryKind::Commit => {
                std::fs::create_dir(&path).map_err(|e| Error::io("creating", &path, e))?;
            }
            EntryKind::Link => {
                let blob = read_blob(repo, oid)?;
                let target = String::from_utf8(blob).map_err(|_| Error::UnsafePath {
                    path: display.clone(),
                    commit: commit.to_owned(),
                })?;
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| Error::io("creating symlink", &path, e))?;
            }
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let blob = read_blob(repo, oid)?;
                std::fs::write(&path, blob).map_err(|e| Error::io("writing", &path, e))?;
                let mode = if entry.mode.kind() == EntryKind::BlobExecutable {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io("setting permissions of", &path, e))?;
            }
        }
    }
    Ok(())
}

fn read_blob(repo: &gix::Repository, id: ObjectId) -> Result<Vec<u8>, Error> {
    repo.find_blob(id)
        .map(|mut b| b.take_data())
        .map_err(|e| Error::repo("reading a blob", repo.git_dir(), e))
}

/// Read `dir` back into tree objects in `repo`; `base` is the tree it was
/// checked out from (for gitlinks). Returns `None` for a directory with
/// nothing git can hold (git has no empty trees below the root).
pub(crate) fn write_dir(
    repo: &gix::Repository,
    dir: &Path,
    base: Option<ObjectId>,
) -> Result<Option<ObjectId>, Error> {
    let git_dir = repo.git_dir();
    let base_entries: Vec<Entry> = match base {
        Some(id) => repo
            .find_tree(id)
            .map_err(|e| Error::repo("reading a tree", git_dir, e))?
            .decode()
            .map_err(|e| Error::repo("decoding a tree", git_dir, e))?
            .entries
            .iter()
            .map(|e| Entry::from(*e))
            .collect(),
        None => Vec::new(),
    };
    let listing = std::fs::read_dir(dir).map_err(|e| Error::io("listing", dir, e))?;
    let mut entries = Vec::new();
    for dirent in listing {
        let dirent = dirent.map_err(|e| Error::io("listing", dir, e))?;
        let name = dirent.file_name();
        let Some(name_str) = name.to_str() else {
            return Err(Error::UnsafePath {
                path: dirent.path().display().to_string(),
                commit: "(work tree)".to_owned(),
            });
        };
        if name_str.eq_ignore_ascii_case(".git") {
            continue;
        }
        let path = dirent.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
        let before = base_entries
            .iter()
            .find(|e| e.filename == name_str.as_bytes());
        let (mode, oid) = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io("reading", &path, e))?;
            let target = target.to_str().ok_or_else(|| Error::UnsafePath {
                path: path.display().to_string(),
                commit: "(work tree)".to_owned(),
            })?;
            (EntryKind::Link, write_blob(repo, target.as_bytes())?)
        } else if meta.is_dir() {
            let base_tree = before.filter(|e| e.mode.is_tree()).map(|e| e.oid);
            match write_dir(repo, &path, base_tree)? {
                Some(id) => (EntryKind::Tree, id),
                None => match before.filter(|e| e.mode.is_commit()) {
                    Some(gitlink) => (EntryKind::Commit, gitlink.oid),
                    None => continue,
                },
            }
        } else if meta.is_file() {
            let data = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
            let kind = if meta.permissions().mode() & 0o111 != 0 {
                EntryKind::BlobExecutable
            } else {
                EntryKind::Blob
            };
            (kind, write_blob(repo, &data)?)
        } else {
            // Sockets, fifos, devices: nothing git can hold.
            continue;
        };
        entries.push(Entry {
            mode: EntryMode::from(mode),
            filename: name_str.into(),
            oid,
        });
    }
    if entries.is_empty() {
        return Ok(None);
    }
    entries.sort();
    let tree = gix::objs::Tree { entries };
    repo.write_object(&tree)
        .map(gix::Id::detach)
        .map(Some)
        .map_err(|e| Error::repo("writing a tree", git_dir, e))
}

fn write_blob(repo: &gix::Repository, data: &[u8]) -> Result<ObjectId, Error> {
    repo.write_blob(data)
        .map(gix::Id::detach)
        .map_err(|e| Error::repo("writing a blob", repo.git_dir(), e))
}

/// The objects the remote lacks for `new` when it has everything of `old`:
/// trees and blobs that differ, found by walking both trees side by side
/// and skipping equal subtrees.
pub(crate) fn new_objects(
    repo: &gix::Repository,
    new: ObjectId,
    old: Option<ObjectId>,
    out: &mut Objects,
) -> Result<(), Error> {
    if Some(new) == old || !out.add(new) {
        return Ok(());
    }
    let git_dir = repo.git_dir();
    let entries = |id: ObjectId| -> Result<Vec<Entry>, Error> {
        Ok(repo
            .find_tree(id)
            .map_err(|e| Error::repo("reading a tree", git_dir, e))?
            .decode()
            .map_err(|e| Error::repo("decoding a tree", git_dir, e))?
            .entries
            .iter()
            .map(|e| Entry::from(*e))
            .collect())
    };
    let old_entries = match old {
        Some(id) => entries(id)?,
        None => Vec::new(),
    };
    for entry in entries(new)? {
        let before = old_entries.iter().find(|e| e.filename == entry.filename);
        if before.is_some_and(|b| b.oid == entry.oid) || entry.mode.is_commit() {
            continue;
        }
        if entry.mode.is_tree() {
            let old_sub = before.filter(|b| b.mode.is_tree()).map(|b| b.oid);
            new_objects(repo, entry.oid, old_sub, out)?;
        } else {
            out.add(entry.oid);
        }
    }
    Ok(())
}

/// Object ids in the order first seen, each once.
#[derive(Default)]
pub(crate) struct Objects {
    pub(crate) order: Vec<ObjectId>,
    seen: std::collections::HashSet<ObjectId>,
}

impl Objects {
    /// Adds `id`; false when it was there already.
    pub(crate) fn add(&mut self, id: ObjectId) -> bool {
        let new = self.seen.insert(id);
        if new {
            self.order.push(id);
        }
        new
    }
}
