//! Making the commit: the directory read back into trees, compared with the
//! base commit's tree (equal means nothing to commit), and a commit object
//! with the caller's identities, time and message, signed when asked.

use std::path::Path;

use gix::ObjectId;

use crate::{Error, SigningKey, tree};

/// A person as git records them (Flux's `git.commit.author`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The name, e.g. `fluxcdbot`.
    pub name: String,
    /// The email address.
    pub email: String,
}

impl Identity {
    /// An identity from a name and an email address.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Identity {
            name: name.into(),
            email: email.into(),
        }
    }
}

/// How to write the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSpec {
    /// The author.
    pub author: Identity,
    /// The committer; the author when `None` (as Flux does).
    pub committer: Option<Identity>,
    /// Author and commit time, seconds since the Unix epoch.
    pub time: i64,
    /// The time zone offset recorded with it, in seconds east of UTC.
    pub utc_offset: i32,
    /// The commit message, as rendered from Flux's `messageTemplate`.
    pub message: String,
    /// Sign the commit with this key (a `gpgsig` header).
    pub signing: Option<SigningKey>,
}

impl CommitSpec {
    /// An unsigned commit by `author` at `time` (UTC) with `message`.
    pub fn new(author: Identity, time: i64, message: impl Into<String>) -> Self {
        CommitSpec {
            author,
            committer: None,
            time,
            utc_offset: 0,
            message: message.into(),
            signing: None,
        }
    }
}

pub(crate) fn commit(
    repo: &gix::Repository,
    base: ObjectId,
    dir: &Path,
    spec: &CommitSpec,
) -> Result<Option<String>, Error> {
    let git_dir = repo.git_dir();
    let base_tree = repo
        .find_commit(base)
        .and_then(|c| c.tree_id())
        .map_err(|e| Error::repo("reading the base commit", git_dir, e))?
        .detach();
    let new_tree = match tree::write_dir(repo, dir, Some(base_tree))? {
        Some(id) => id,
        // Everything was deleted: the root may be empty, unlike subtrees.
        None => repo
            .write_object(gix::objs::Tree::empty())
            .map_err(|e| Error::repo("writing a tree", git_dir, e))?
            .detach(),
    };
    if new_tree == base_tree {
        return Ok(None);
    }
    let signature = |who: &Identity| gix::actor::Signature {
        name: who.name.as_str().into(),
        email: who.email.as_str().into(),
        time: gix::date::Time {
            seconds: spec.time,
            offset: spec.utc_offset,
        },
    };
    let mut object = gix::objs::Commit {
        tree: new_tree,
        parents: std::iter::once(base).collect(),
        author: signature(&spec.author),
        committer: signature(spec.committer.as_ref().unwrap_or(&spec.author)),
        encoding: None,
        message: spec.message.as_str().into(),
        extra_headers: Vec::new(),
    };
    if let Some(key) = &spec.signing {
        let mut payload = Vec::new();
        gix::objs::WriteTo::write_to(&object, &mut payload)
            .map_err(|e| Error::repo("encoding the commit", git_dir, e))?;
        let armored = key.sign(&payload, spec.time)?;
        object
            .extra_headers
            .push(("gpgsig".into(), armored.trim_end_matches('\n').into()));
    }
    let id = repo
        .write_object(&object)
        .map_err(|e| Error::repo("writing the commit", git_dir, e))?;
    Ok(Some(id.to_string()))
}
