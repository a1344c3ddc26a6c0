//! A local directory packed as the content layer of a Flux artifact (what
//! `flux push artifact` uploads), for [`push_flux_artifact`] and a later
//! `driftless push artifact`.
//!
//! The same tarball as every artifact of this crate (sorted entries, zeroed
//! owners and times), so packing the same files twice gives the same layer
//! digest and the same manifest digest. Like Flux's build, only files and
//! directories go in (symbolic links are left out). Ignore rules are those
//! of a git source: Flux's default exclusions, `.sourceignore` files, then
//! `ignore` (Flux's CLI applies its `--ignore-paths`, whose default is a
//! subset of these exclusions).
//!
//! [`push_flux_artifact`]: crate::oci::push_flux_artifact

use std::path::Path;

use crate::Error;
use crate::archive::{Content, Entry, Kind, Rules, SOURCEIGNORE};

/// Packs the files under `dir` into a gzip tarball; a file over
/// `max_file_bytes` fails the whole pack.
pub fn pack_directory(
    dir: &Path,
    ignore: Option<&str>,
    max_file_bytes: u64,
) -> Result<Vec<u8>, Error> {
    let mut walk = Walk {
        root: dir,
        rules: Rules::new(ignore)?,
        max_file_bytes,
        entries: Vec::new(),
    };
    walk.dir("")?;
    let mut out = Vec::new();
    crate::archive::write_entries(&[], walk.entries, max_file_bytes, &mut out)?;
    Ok(out)
}

struct Walk<'a> {
    root: &'a Path,
    rules: Rules,
    max_file_bytes: u64,
    entries: Vec<Entry>,
}

impl Walk<'_> {
    /// Collects the directory at `rel` (`/`-separated, relative to the root).
    fn dir(&mut self, rel: &str) -> Result<(), Error> {
        let path = self.root.join(rel);
        let ignore_file = path.join(SOURCEIGNORE);
        if ignore_file.is_file() {
            let text = std::fs::read_to_string(&ignore_file)
                .map_err(|e| Error::io("reading", &ignore_file, e))?;
            let origin = join(rel, SOURCEIGNORE);
            self.rules.push_dir(rel, &text, &origin)?;
        }
        let mut children = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(|e| Error::io("listing", &path, e))? {
            let entry = entry.map_err(|e| Error::io("listing", &path, e))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|name| Error::UnsafePath {
                    path: join(rel, &name.to_string_lossy()),
                })?;
            let kind = entry
                .file_type()
                .map_err(|e| Error::io("reading the type of", entry.path(), e))?;
            children.push((name, kind));
        }
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in children {
            let child = join(rel, &name);
            if kind.is_dir() {
                if !self.rules.ignored(&child, true) {
                    self.dir(&child)?;
                }
            } else if kind.is_file() && !self.rules.ignored(&child, false) {
                self.file(child)?;
            }
        }
        Ok(())
    }

    fn file(&mut self, rel: String) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.root.join(&rel);
        let meta = std::fs::metadata(&path).map_err(|e| Error::io("reading", &path, e))?;
        if meta.len() > self.max_file_bytes {
            return Err(Error::FileTooLarge {
                path: rel,
                size: meta.len(),
                limit: self.max_file_bytes,
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
        self.entries.push(Entry {
            path: rel,
            kind: Kind::File {
                executable: meta.permissions().mode() & 0o111 != 0,
            },
            content: Content::Bytes(bytes),
        });
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_files_deterministically_minus_ignored_and_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let write = |p: &str, c: &str| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, c).expect("write");
        };
        write("deploy/app.yaml", "kind: A\n");
        write("deploy/.sourceignore", "*.md\n");
        write("deploy/notes.md", "ignored\n");
        write(".git/config", "ignored by default\n");
        write("tmp/x.yaml", "ignored by the caller\n");
        std::os::unix::fs::symlink("deploy/app.yaml", root.join("link.yaml")).expect("link");

        let first = pack_directory(root, Some("tmp/\n"), 1 << 20).expect("pack");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(first.as_slice()));
        let paths: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            paths,
            ["deploy/", "deploy/.sourceignore", "deploy/app.yaml"]
        );
        let again = pack_directory(root, Some("tmp/\n"), 1 << 20).expect("pack");
        assert_eq!(first, again, "same files, same bytes");

        let err = pack_directory(root, None, 4).expect_err("too large");
        assert!(matches!(err, Error::FileTooLarge { limit: 4, .. }), "{err}");
    }
}
