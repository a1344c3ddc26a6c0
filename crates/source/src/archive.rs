//! Turning a git tree into a deterministic gzip tarball.
//!
//! Reads objects straight from the (bare) repository: no checkout, no
//! working tree. What goes in:
//!
//! - every blob and symlink of the tree, minus ignored paths. Ignore rules are
//!   gitignore syntax, applied in this order (a later match wins, so `!` can
//!   re-include): Flux's default exclusions, then `.sourceignore` files (each
//!   scoped to its directory, deeper files later), then the source's `ignore`;
//! - with `recurseSubmodules`, the tree of each submodule's commit at its
//!   path, under the same rules (see `submodule`); without, gitlinks are
//!   left out;
//! - the entries of included artifacts, laid over the tree (see `include`);
//! - a directory entry for each directory that holds something.
//!
//! Determinism: entries sorted by path; mtime 0, uid/gid 0, no user names;
//! mode 0644 (0755 for executables and directories, 0777 for links); gzip
//! header with mtime 0 and no file name. The same tree and rules give the
//! same bytes, hence the same `sha256:` digest.
//!
//! Refused (the whole archive fails): names that are empty, `.`, `..`, or
//! contain `/`, `\` or NUL; symlinks whose target leaves the tree (absolute,
//! or climbing above the root, following other links in the tree, which
//! includes links that came from an included artifact); files over
//! the size limit; names that are not UTF-8.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;

use flate2::{Compression, GzBuilder};
use gix::ObjectId;
use gix::objs::tree::EntryKind;
use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::Error;

/// Flux's default exclusions (VCS metadata, binary blobs, CI and tool config).
pub const DEFAULT_IGNORE: &str = "\
# VCS
.git/
.gitignore
.gitmodules
.gitattributes
# common binary and archive files
*.jpg
*.jpeg
*.gif
*.png
*.wmv
*.flv
*.tar.gz
*.zip
# CI configuration
.github/
.circleci/
.travis.yml
.gitlab-ci.yml
appveyor.yml
.drone.yml
cloudbuild.yaml
codeship-services.yml
codeship-steps.yml
# tool configuration
**/.goreleaser.yml
**/.sops.yaml
**/.flux.yaml
";

/// The per-directory ignore file name.
pub const SOURCEIGNORE: &str = ".sourceignore";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File { executable: bool },
    Link,
}

/// Where an entry's bytes (a file's content, a link's target) come from.
#[derive(Debug)]
pub(crate) enum Content {
    /// A blob in one of the walked repositories (an index into
    /// [`Collected::repos`]), read when the entry is written.
    Object { repo: usize, oid: ObjectId },
    /// Already in memory (an included artifact's entry).
    Bytes(Vec<u8>),
}

/// A file or link of the artifact being built.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) path: String,
    pub(crate) kind: Kind,
    pub(crate) content: Content,
}

/// Ignore rules stacked by directory; the last rule that matches wins.
pub(crate) struct Rules {
    stack: Vec<(String, Gitignore)>,
    /// The source's own rules, applied after every `.sourceignore`.
    spec: Option<Gitignore>,
}

impl Rules {
    /// Flux's default exclusions, then `spec_ignore` (applied after every
    /// `.sourceignore` pushed with [`Rules::push_dir`]).
    pub(crate) fn new(spec_ignore: Option<&str>) -> Result<Rules, Error> {
        Ok(Rules {
            stack: vec![(
                String::new(),
                build_rules("", DEFAULT_IGNORE, "the default exclusions")?,
            )],
            spec: match spec_ignore {
                Some(text) => Some(build_rules("", text, "spec.ignore")?),
                None => None,
            },
        })
    }

    /// Adds the rules of the `.sourceignore` at `origin`, scoped to `dir`
    /// (push shallower directories first).
    pub(crate) fn push_dir(&mut self, dir: &str, text: &str, origin: &str) -> Result<(), Error> {
        let rules = build_rules(dir, text, origin)?;
        self.stack.push((dir.to_owned(), rules));
        Ok(())
    }

    pub(crate) fn ignored(&self, path: &str, is_dir: bool) -> bool {
        let abs = PathBuf::from(format!("/{path}"));
        let mut ignored = false;
        let applicable = self
            .stack
            .iter()
            .filter(|(dir, _)| dir.is_empty() || path.starts_with(&format!("{dir}/")))
            .map(|(_, rules)| rules)
            .chain(self.spec.as_ref());
        for rules in applicable {
            match rules.matched(&abs, is_dir) {
                Match::Ignore(_) => ignored = true,
                Match::Whitelist(_) => ignored = false,
                Match::None => {}
            }
        }
        ignored
    }
}

fn build_rules(dir: &str, text: &str, origin: &str) -> Result<Gitignore, Error> {
    let root = format!("/{dir}");
    let mut builder = GitignoreBuilder::new(&root);
    for line in text.lines() {
        builder
            .add_line(None, line)
            .map_err(|source| Error::IgnorePattern {
                origin: origin.to_owned(),
                source,
            })?;
    }
    builder.build().map_err(|source| Error::IgnorePattern {
        origin: origin.to_owned(),
        source,
    })
}

/// Fetches a submodule's commit from a URL and returns the repository
/// holding it (the git layer's job; the walk only asks).
pub(crate) type FetchSubmodule<'a> = &'a dyn Fn(&str, ObjectId) -> Result<gix::Repository, Error>;

/// The entries of a tree and the repositories their blobs live in: the
/// source's own first, then one per submodule followed.
pub(crate) struct Collected {
    pub(crate) repos: Vec<gix::Repository>,
    pub(crate) entries: Vec<Entry>,
}

/// A repository in the walk: where its tree sits in the artifact, the URL
/// it came from and its `.gitmodules` (read only when following submodules).
struct Walked {
    repo: gix::Repository,
    url: String,
    root: String,
    modules: Vec<(String, String)>,
}

/// The files and links of `tree`, minus ignored paths. With
/// `submodules`, each gitlink is replaced by the tree of its commit
/// (recursively); without, gitlinks are left out.
pub(crate) fn collect_tree(
    repo: gix::Repository,
    url: &str,
    tree: ObjectId,
    spec_ignore: Option<&str>,
    submodules: Option<FetchSubmodule<'_>>,
) -> Result<Collected, Error> {
    let rules = Rules::new(spec_ignore)?;
    let modules = match submodules {
        Some(_) => gitmodules(&repo, tree, "")?,
        None => Vec::new(),
    };
    let mut walk = Walk {
        rules,
        repos: vec![Walked {
            repo,
            url: url.to_owned(),
            root: String::new(),
            modules,
        }],
        submodules,
        entries: Vec::new(),
    };
    walk.collect(0, tree, "")?;
    Ok(Collected {
        repos: walk.repos.into_iter().map(|w| w.repo).collect(),
        entries: walk.entries,
    })
}

/// The submodules listed in the `.gitmodules` at the root of `tree` (none
/// without one). `root` places it in the artifact, for messages.
fn gitmodules(
    repo: &gix::Repository,
    tree: ObjectId,
    root: &str,
) -> Result<Vec<(String, String)>, Error> {
    let origin = if root.is_empty() {
        ".gitmodules".to_owned()
    } else {
        format!("{root}/.gitmodules")
    };
    let tree_obj = repo.find_tree(tree).map_err(|e| git_err(root, e))?;
    let found = tree_obj
        .decode()
        .map_err(|e| git_err(root, e))?
        .entries
        .iter()
        .find(|e| e.filename == ".gitmodules" && e.mode.is_blob())
        .map(|e| e.oid.to_owned());
    let Some(oid) = found else {
        return Ok(Vec::new());
    };
    let text = repo
        .find_blob(oid)
        .map(|mut b| b.take_data())
        .map_err(|e| git_err(&origin, e))?;
    crate::submodule::parse_gitmodules(&String::from_utf8_lossy(&text), &origin)
}

/// Write a tarball of `entries` (blobs read from `repos`) to `out`.
pub(crate) fn write_entries(
    repos: &[gix::Repository],
    mut entries: Vec<Entry>,
    max_file_size: u64,
    out: &mut dyn Write,
) -> Result<(), Error> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    check_links(repos, &entries)?;

    let gz = GzBuilder::new().mtime(0).write(out, Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut dirs_done = BTreeSet::new();
    let io_err = |path: &str, e: std::io::Error| Error::io("writing archive entry", path, e);
    for entry in &entries {
        // Parent directories first, each once.
        let mut parents = Vec::new();
        let mut rest = entry.path.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if dirs_done.contains(parent) {
                break;
            }
            parents.push(parent.to_owned());
            rest = parent;
        }
        for dir in parents.into_iter().rev() {
            let mut header = header(tar::EntryType::Directory, 0o755, 0);
            tar.append_data(&mut header, format!("{dir}/"), std::io::empty())
                .map_err(|e| io_err(&dir, e))?;
            dirs_done.insert(dir);
        }
        match entry.kind {
            Kind::File { executable } => {
                let size = content_size(repos, entry)?;
                if size > max_file_size {
                    return Err(Error::FileTooLarge {
                        path: entry.path.clone(),
                        size,
                        limit: max_file_size,
                    });
                }
                let blob = read_content(repos, entry)?;
                let mode = if executable { 0o755 } else { 0o644 };
                let mut header = header(tar::EntryType::Regular, mode, blob.len() as u64);
                tar.append_data(&mut header, &entry.path, blob.as_slice())
                    .map_err(|e| io_err(&entry.path, e))?;
            }
            Kind::Link => {
                let target = link_target(repos, entry)?;
                let mut header = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut header, &entry.path, &target)
                    .map_err(|e| io_err(&entry.path, e))?;
            }
        }
    }
    let gz = tar
        .into_inner()
        .map_err(|e| io_err("<end of archive>", e))?;
    gz.finish().map_err(|e| io_err("<gzip trailer>", e))?;
    Ok(())
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn git_err(path: &str, source: gix::Error) -> Error {
    Error::Git {
        url: format!("local object store (path {path:?})"),
        during: "object read",
        source: Box::new(source),
    }
}

/// The size without reading the blob, so a huge file fails before it is loaded.
fn content_size(repos: &[gix::Repository], entry: &Entry) -> Result<u64, Error> {
    match &entry.content {
        Content::Object { repo, oid } => repos[*repo]
            .find_header(*oid)
            .map(|h| h.size())
            .map_err(|e| git_err(&entry.path, e)),
        Content::Bytes(bytes) => Ok(bytes.len() as u64),
    }
}

fn read_content(repos: &[gix::Repository], entry: &Entry) -> Result<Vec<u8>, Error> {
    match &entry.content {
        Content::Object { repo, oid } => repos[*repo]
            .find_blob(*oid)
            .map(|mut b| b.take_data())
            .map_err(|e| git_err(&entry.path, e)),
        Content::Bytes(bytes) => Ok(bytes.clone()),
    }
}

fn link_target(repos: &[gix::Repository], entry: &Entry) -> Result<String, Error> {
    let data = read_content(repos, entry)?;
    String::from_utf8(data).map_err(|_| Error::SymlinkEscape {
        path: entry.path.clone(),
        target: "<not UTF-8>".to_owned(),
    })
}

struct Walk<'f> {
    rules: Rules,
    repos: Vec<Walked>,
    submodules: Option<FetchSubmodule<'f>>,
    entries: Vec<Entry>,
}

impl Walk<'_> {
    /// Collects `tree` of `self.repos[index]`, which sits at `dir` in the artifact.
    fn collect(&mut self, index: usize, tree: ObjectId, dir: &str) -> Result<(), Error> {
        let repo = &self.repos[index].repo;
        let tree_obj = repo.find_tree(tree).map_err(|e| git_err(dir, e))?;
        let decoded = tree_obj.decode().map_err(|e| git_err(dir, e))?;
        let mut children = Vec::with_capacity(decoded.entries.len());
        let mut own_rules = None;
        for e in &decoded.entries {
            let name = std::str::from_utf8(e.filename).map_err(|_| Error::UnsafePath {
                path: format!("{dir}/{}", String::from_utf8_lossy(e.filename)),
            })?;
            let path = if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            };
            let unsafe_name =
                name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']);
            if unsafe_name {
                return Err(Error::UnsafePath { path });
            }
            let kind = e.mode.kind();
            if name == SOURCEIGNORE && matches!(kind, EntryKind::Blob | EntryKind::BlobExecutable) {
                let text = repo
                    .find_blob(e.oid.to_owned())
                    .map(|mut b| b.take_data())
                    .map_err(|err| git_err(&path, err))?;
                own_rules = Some(build_rules(dir, &String::from_utf8_lossy(&text), &path)?);
            }
            children.push((path, kind, e.oid.to_owned()));
        }
        drop(decoded);
        drop(tree_obj);
        let pushed = own_rules
            .map(|r| self.rules.stack.push((dir.to_owned(), r)))
            .is_some();
        let result = (|| {
            for (path, kind, oid) in children {
                let is_dir = matches!(kind, EntryKind::Tree | EntryKind::Commit);
                if self.rules.ignored(&path, is_dir) {
                    continue;
                }
                let object = |kind| Entry {
                    path: path.clone(),
                    kind,
                    content: Content::Object { repo: index, oid },
                };
                match kind {
                    EntryKind::Tree => self.collect(index, oid, &path)?,
                    EntryKind::Blob => self.entries.push(object(Kind::File { executable: false })),
                    EntryKind::BlobExecutable => {
                        self.entries.push(object(Kind::File { executable: true }));
                    }
                    EntryKind::Link => self.entries.push(object(Kind::Link)),
                    // A gitlink: the commit lives in another repository.
                    EntryKind::Commit => self.submodule(index, &path, oid)?,
                }
            }
            Ok(())
        })();
        if pushed {
            self.rules.stack.pop();
        }
        result
    }

    /// Follows the gitlink at `path` (in `self.repos[parent]`) to `commit`,
    /// when following submodules at all.
    fn submodule(&mut self, parent: usize, path: &str, commit: ObjectId) -> Result<(), Error> {
        let Some(fetch) = self.submodules else {
            return Ok(());
        };
        let config_err = |problem: String| Error::SubmoduleConfig {
            path: path.to_owned(),
            problem,
        };
        let walked = &self.repos[parent];
        let relative = if walked.root.is_empty() {
            path
        } else {
            &path[walked.root.len() + 1..]
        };
        let written = walked
            .modules
            .iter()
            .find(|(p, _)| p == relative)
            .map(|(_, url)| url.clone())
            .ok_or_else(|| config_err("has no entry with its path in .gitmodules".to_owned()))?;
        let url = crate::submodule::resolve_url(&walked.url, &written)
            .map_err(|problem| config_err(format!("URL {written:?} {problem}")))?;
        let repo = fetch(&url, commit).map_err(|e| Error::Submodule {
            path: path.to_owned(),
            url: url.clone(),
            source: Box::new(e),
        })?;
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree_id())
            .map_err(|e| Error::Submodule {
                path: path.to_owned(),
                url: url.clone(),
                source: Box::new(git_err(path, e)),
            })?
            .detach();
        let modules = gitmodules(&repo, tree, path)?;
        self.repos.push(Walked {
            repo,
            url,
            root: path.to_owned(),
            modules,
        });
        self.collect(self.repos.len() - 1, tree, path)
    }
}

/// Refuse links that leave the tree, following links within it.
fn check_links(repos: &[gix::Repository], entries: &[Entry]) -> Result<(), Error> {
    let mut links = HashMap::new();
    for entry in entries.iter().filter(|e| e.kind == Kind::Link) {
        links.insert(entry.path.as_str(), link_target(repos, entry)?);
    }
    for (path, target) in &links {
        if escapes(path, target, &links) {
            return Err(Error::SymlinkEscape {
                path: (*path).to_owned(),
                target: target.clone(),
            });
        }
    }
    Ok(())
}

fn escapes(path: &str, target: &str, links: &HashMap<&str, String>) -> bool {
    const MAX_HOPS: usize = 40;
    let mut stack: Vec<&str> = path.split('/').collect();
    stack.pop();
    if target.starts_with('/') || target.contains('\\') {
        return true;
    }
    let mut queue: VecDeque<String> = target.split('/').map(str::to_owned).collect();
    let mut owned: Vec<String> = stack.iter().map(|s| (*s).to_owned()).collect();
    let mut hops = 0;
    while let Some(part) = queue.pop_front() {
        match part.as_str() {
            "" | "." => {}
            ".." => {
                if owned.pop().is_none() {
                    return true;
                }
            }
            name => {
                owned.push(name.to_owned());
                let joined = owned.join("/");
                if let Some(next) = links.get(joined.as_str()) {
                    hops += 1;
                    if hops > MAX_HOPS || next.starts_with('/') {
                        return true;
                    }
                    owned.pop();
                    for p in next.split('/').rev() {
                        queue.push_front(p.to_owned());
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn link_resolution() {
        let none = links(&[]);
        assert!(!escapes("a/l", "b", &none));
        assert!(!escapes("a/l", "../b", &none));
        assert!(escapes("a/l", "../../b", &none));
        assert!(escapes("l", "/etc/passwd", &none));
        assert!(escapes("l", "..", &none));
        assert!(!escapes("a/b/l", "./../../x", &none));
        // `d` points into a/b; `d/../..` physically climbs from a/b, not from the root.
        let set = links(&[("d", "a/b"), ("x", "d/../../..")]);
        assert!(escapes("x", "d/../../..", &set));
        assert!(!escapes("x", "d/../..", &set));
        // Loops are refused.
        let looped = links(&[("p", "q"), ("q", "p")]);
        assert!(escapes("p", "q", &looped));
    }

    #[test]
    fn rules_last_match_wins() {
        let rules = Rules {
            stack: vec![
                (
                    String::new(),
                    build_rules("", DEFAULT_IGNORE, "defaults").expect("defaults"),
                ),
                (
                    String::from("sub"),
                    build_rules("sub", "*.yaml\n!keep.yaml\n", "sub").expect("sub"),
                ),
            ],
            spec: Some(build_rules("", "!logo.png\n", "spec").expect("spec")),
        };
        assert!(rules.ignored(".git", true));
        assert!(rules.ignored(".github", true));
        assert!(rules.ignored("x/.sops.yaml", false));
        assert!(rules.ignored("pic.jpg", false));
        assert!(!rules.ignored("logo.png", false));
        assert!(rules.ignored("sub/a.yaml", false));
        assert!(!rules.ignored("sub/keep.yaml", false));
        assert!(!rules.ignored("a.yaml", false));
    }
}
