//! Other artifacts copied into a source's artifact (Flux's GitRepository
//! `spec.include`).
//!
//! An [`Include`] names a stored artifact (checked against its digest when
//! read), the part of it to copy ([`Include::from_path`], its root by
//! default) and where that lands ([`Include::to_path`]). Paths are
//! [`ArtifactPath`]s: relative, normalized, and unable to climb out of the
//! artifact, so a spec cannot write outside the directory a consumer unpacks
//! into.
//!
//! Layering: the own tree comes first (minus ignored paths), then each
//! include in order. An included file replaces whatever the tree already has
//! at its path (a file, a link, or a whole directory), so the included
//! content at `toPath` is exactly what the other repository has, and a later
//! include wins over an earlier one. Ignore rules apply to the own tree only:
//! the included artifact was already filtered by its own repository's rules.

use std::io::Read;

use crate::Error;
use crate::archive::{Content, Entry, Kind};
use crate::storage::Artifact;

/// A relative path inside an artifact: `/`-separated, without `.` or empty
/// parts, never `..` and never absolute. The empty path is the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactPath(String);

impl ArtifactPath {
    /// The artifact's root.
    pub fn root() -> ArtifactPath {
        ArtifactPath(String::new())
    }

    /// Normalizes `value` (`./a//b/` is `a/b`, `.` and `./` are the root).
    /// `field` names where it came from in the error, e.g.
    /// `spec.include[0].toPath`.
    pub fn parse(field: &str, value: &str) -> Result<ArtifactPath, Error> {
        let invalid = |problem: &'static str| Error::InvalidIncludePath {
            field: field.to_owned(),
            path: value.to_owned(),
            problem,
        };
        if value.starts_with('/') {
            return Err(invalid("is absolute"));
        }
        if value.contains(['\\', '\0']) {
            return Err(invalid("contains a backslash or NUL"));
        }
        let mut parts = Vec::new();
        for part in value.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(invalid("climbs out of the artifact with `..`")),
                name => parts.push(name),
            }
        }
        Ok(ArtifactPath(parts.join("/")))
    }

    /// The path, `/`-separated and relative.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names the artifact's root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// `rest` below this path (`rest` is itself relative and normalized).
    fn join(&self, rest: &str) -> String {
        match (self.0.is_empty(), rest.is_empty()) {
            (true, _) => rest.to_owned(),
            (false, true) => self.0.clone(),
            (false, false) => format!("{}/{rest}", self.0),
        }
    }

    /// The part of `path` below this one: `Some("")` for the path itself,
    /// `None` when `path` is elsewhere.
    fn strip<'p>(&self, path: &'p str) -> Option<&'p str> {
        if self.0.is_empty() {
            return Some(path);
        }
        let rest = path.strip_prefix(self.0.as_str())?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix('/')
        }
    }
}

impl std::fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("./")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// A stored artifact whose content is copied into the one being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// Names the include in errors, e.g. `GitRepository default/shared`.
    pub name: String,
    /// The artifact to copy from, in the same [`Storage`](crate::Storage);
    /// its digest and size are checked before it is read.
    pub artifact: Artifact,
    /// The file or directory of the artifact to copy; the root copies all of it.
    pub from_path: ArtifactPath,
    /// Where the copied content lands in the new artifact.
    pub to_path: ArtifactPath,
}

/// The entries `include` contributes, already moved to `to_path`.
///
/// Read into memory: the writer sorts every entry of the new artifact before
/// writing, and the included tarball is read once here instead of once per
/// entry. Each file is still bounded by `max_file_size`.
pub(crate) fn entries(
    include: &Include,
    tarball: impl Read,
    max_file_size: u64,
) -> Result<Vec<Entry>, Error> {
    let wrap = |source: Error| Error::Include {
        include: include.name.clone(),
        source: Box::new(source),
    };
    let io_err = |e: std::io::Error| {
        wrap(Error::io(
            "reading included artifact",
            &include.artifact.path,
            e,
        ))
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let mut out = Vec::new();
    let mut matched = false;
    for entry in archive.entries().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let raw = entry.path().map_err(io_err)?.to_string_lossy().into_owned();
        let path = ArtifactPath::parse("an entry of the included artifact", &raw)
            .map_err(|_| wrap(Error::UnsafePath { path: raw.clone() }))?;
        let Some(rest) = include.from_path.strip(path.as_str()) else {
            continue;
        };
        matched = true;
        let target = include.to_path.join(rest);
        let header = entry.header();
        let kind = match header.entry_type() {
            // Directories are written again for whatever ends up below them.
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File {
                executable: header.mode().map_err(io_err)? & 0o111 != 0,
            },
            tar::EntryType::Symlink => Kind::Link,
            _ => return Err(wrap(Error::UnsafePath { path: raw })),
        };
        if target.is_empty() {
            // `fromPath` names a file and `toPath` is the root: it has no name to land at.
            return Err(Error::InvalidIncludePath {
                field: format!("toPath of {}", include.name),
                path: include.to_path.to_string(),
                problem: "is the root, but fromPath is a file: name the file's destination",
            });
        }
        let content = match kind {
            Kind::Link => {
                let link = entry
                    .link_name()
                    .map_err(io_err)?
                    .ok_or_else(|| wrap(Error::UnsafePath { path: raw.clone() }))?;
                Content::Bytes(link.to_string_lossy().into_owned().into_bytes())
            }
            Kind::File { .. } => {
                let size = entry.size();
                if size > max_file_size {
                    return Err(wrap(Error::FileTooLarge {
                        path: raw,
                        size,
                        limit: max_file_size,
                    }));
                }
                let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                entry.read_to_end(&mut data).map_err(io_err)?;
                Content::Bytes(data)
            }
        };
        out.push(Entry {
            path: target,
            kind,
            content,
        });
    }
    if !matched {
        return Err(Error::IncludeFromPathNotFound {
            include: include.name.clone(),
            from_path: include.from_path.to_string(),
        });
    }
    Ok(out)
}

/// Lays `included` over `tree` (see the module docs). Both hold files and
/// links only; directories are implied by the paths.
pub(crate) fn overlay(tree: Vec<Entry>, includes: Vec<(ArtifactPath, Vec<Entry>)>) -> Vec<Entry> {
    let mut by_path: std::collections::BTreeMap<String, Entry> =
        tree.into_iter().map(|e| (e.path.clone(), e)).collect();
    let remove_below = |map: &mut std::collections::BTreeMap<String, Entry>, dir: &str| {
        let prefix = format!("{dir}/");
        let below: Vec<String> = map
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for path in below {
            map.remove(&path);
        }
    };
    for (to_path, entries) in includes {
        if !to_path.is_root() {
            // What the own tree (or an earlier include) had at toPath gives way.
            by_path.remove(to_path.as_str());
            remove_below(&mut by_path, to_path.as_str());
        }
        for entry in entries {
            // A file where the entry needs a directory gives way too, and so
            // does a directory where the entry is a file.
            let mut parent = entry.path.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                by_path.remove(up);
                parent = up;
            }
            remove_below(&mut by_path, &entry.path);
            by_path.insert(entry.path.clone(), entry);
        }
    }
    by_path.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(value: &str) -> Result<String, Error> {
        ArtifactPath::parse("toPath", value).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn paths_are_normalized_and_cannot_climb_out() {
        assert_eq!(path("base/app").expect("plain"), "base/app");
        assert_eq!(path("./base//app/").expect("messy"), "base/app");
        assert_eq!(path("./").expect("root"), "");
        assert_eq!(path("").expect("empty"), "");
        for bad in ["../x", "a/../../x", "a/..", "/etc", "a\\b"] {
            let err = path(bad).expect_err(bad);
            assert!(
                matches!(&err, Error::InvalidIncludePath { field, .. } if field == "toPath"),
                "{bad}: {err}"
            );
        }
        assert!(
            path("a/../b")
                .expect_err("any ..")
                .to_string()
                .contains("`..`")
        );
    }

    #[test]
    fn strip_and_join() {
        let deploy = ArtifactPath::parse("f", "deploy").expect("path");
        assert_eq!(deploy.strip("deploy/a.yaml"), Some("a.yaml"));
        assert_eq!(deploy.strip("deploy"), Some(""));
        assert_eq!(deploy.strip("deployment/a.yaml"), None);
        assert_eq!(ArtifactPath::root().strip("x/y"), Some("x/y"));
        assert_eq!(deploy.join("a.yaml"), "deploy/a.yaml");
        assert_eq!(deploy.join(""), "deploy");
        assert_eq!(ArtifactPath::root().join("a"), "a");
    }

    fn file(path: &str, text: &str) -> Entry {
        Entry {
            path: path.to_owned(),
            kind: Kind::File { executable: false },
            content: Content::Bytes(text.as_bytes().to_vec()),
        }
    }

    fn listing(entries: &[Entry]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| match &e.content {
                Content::Bytes(b) => (e.path.clone(), String::from_utf8_lossy(b).into_owned()),
                Content::Object { .. } => (e.path.clone(), "<object>".to_owned()),
            })
            .collect()
    }

    #[test]
    fn included_content_replaces_what_is_at_its_path() {
        let tree = vec![
            file("app.yaml", "own"),
            file("base/old.yaml", "own"),
            file("lib", "own file where a directory comes"),
            file("x/keep.yaml", "own"),
        ];
        let at = |p: &str| ArtifactPath::parse("toPath", p).expect("path");
        let merged = overlay(
            tree,
            vec![
                (at("base"), vec![file("base/new.yaml", "first")]),
                (
                    at(""),
                    vec![file("lib/a.yaml", "root"), file("app.yaml", "root")],
                ),
                (at("base"), vec![file("base/new.yaml", "second")]),
            ],
        );
        assert_eq!(
            listing(&merged),
            [
                ("app.yaml", "root"),
                ("base/new.yaml", "second"),
                ("lib/a.yaml", "root"),
                ("x/keep.yaml", "own"),
            ]
            .map(|(p, t)| (p.to_owned(), t.to_owned()))
        );
    }
}
