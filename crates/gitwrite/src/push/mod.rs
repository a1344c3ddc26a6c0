//! Push: the client side of git's receive-pack conversation (protocol v0/v1,
//! the only one receive-pack speaks), over gitoxide's transports.
//!
//! gitoxide 0.90 connects and hands us packet lines in both directions but
//! has no send-pack; what is written here is the rest of it:
//!
//! 1. handshake for `git-receive-pack`; the advertisement lists the remote
//!    refs and capabilities (`report-status`, `side-band-64k`,
//!    `push-options`, `quiet`);
//! 2. our checks, before anything is sent: each target ref must be where we
//!    started (the base), or an ancestor of our commit, or the push is
//!    forced; else [`Error::PushRejected`] and the connection is dropped;
//! 3. one command line per ref (`<old> <new> <ref>`, capabilities after a
//!    NUL on the first), a flush, the push options and a flush when there
//!    are any, then the pack (undeltified, see the `pack` module);
//! 4. the report: `unpack ok`, then `ok <ref>` or `ng <ref> <reason>` per
//!    ref, inside side-band channel 1 when it was negotiated; channel 2
//!    carries the server's messages (a hook's output), which we add to a
//!    rejection's reason.
//!
//! The whole conversation runs on a helper thread under the request's
//! timeout, as fetching does.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use driftless_source::{GitAuth, GitSource};
use gix::ObjectId;
use gix::protocol::transport::client::blocking_io::Transport as _;
use gix::protocol::transport::client::{MessageKind, TransportWithoutIO as _, WriteMode};
use gix::protocol::transport::{Protocol, Service};

use crate::{Error, pack, tree};

mod report;
mod targets;

use report::{Report, split_pkt_lines, trim_line};
use targets::{Target, targets};

/// Where to push (Flux's `git.push`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushSpec {
    /// The remote branch; the checked-out branch when both this and `refspec` are unset.
    pub branch: Option<String>,
    /// A refspec `<src>:<dst>`, e.g. `refs/heads/main:refs/heads/auto`; `<src>`
    /// names our commit (`HEAD`, the checked-out branch or `branch`), a
    /// leading `+` forces this one.
    pub refspec: Option<String>,
    /// Push options, sent when the server advertises `push-options`.
    pub options: Vec<String>,
    /// Move the remote refs even when that drops commits (a force push).
    pub force: bool,
}

/// What happened to one remote ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefStatus {
    /// The server moved the ref to our commit.
    Updated,
    /// The ref was at our commit already; nothing was sent for it.
    UpToDate,
}

/// One remote ref after the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The full ref name, e.g. `refs/heads/main`.
    pub reference: String,
    /// Where it was before (hex), `None` when it was created.
    pub old: Option<String>,
    /// Where it is now (hex of our commit).
    pub new: String,
    /// Whether it moved.
    pub status: RefStatus,
}

/// The result of a push: one entry per target ref, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    /// The refs pushed.
    pub updates: Vec<RefUpdate>,
}

pub(crate) fn push(
    source: &GitSource,
    git_dir: &Path,
    base: ObjectId,
    commit: &str,
    spec: &PushSpec,
) -> Result<PushOutcome, Error> {
    let new = ObjectId::from_hex(commit.as_bytes())
        .map_err(|_| Error::UnknownCommit(commit.to_owned()))?;
    if !crate::open(git_dir)?.has_object(new) {
        return Err(Error::UnknownCommit(commit.to_owned()));
    }
    let job = Job {
        source: source.clone(),
        git_dir: git_dir.to_owned(),
        base,
        new,
        targets: targets(&source.reference, spec)?,
        options: spec.options.clone(),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("driftless-git-push".to_owned())
        .spawn(move || {
            let _ = tx.send(job.run());
        })
        .map_err(|e| Error::io("spawning the push thread for", git_dir, e))?;
    rx.recv_timeout(source.timeout).unwrap_or_else(|_| {
        Err(Error::Remote(driftless_source::Error::Timeout {
            url: source.url.clone(),
            timeout: source.timeout,
            during: "pushing",
        }))
    })
}

/// Everything the push thread needs, owned.
struct Job {
    source: GitSource,
    git_dir: PathBuf,
    base: ObjectId,
    new: ObjectId,
    targets: Vec<Target>,
    options: Vec<String>,
}

impl Job {
    fn remote_error(
        &self,
        during: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Remote(driftless_source::transport::classify(
            &self.source.url,
            &self.source.reference,
            during,
            gix::Error::from_error(e),
        ))
    }

    fn protocol(&self, reason: impl Into<String>) -> Error {
        Error::Protocol {
            url: self.source.url.clone(),
            reason: reason.into(),
        }
    }

    fn run(self) -> Result<PushOutcome, Error> {
        let mut repo = crate::open(&self.git_dir)?;
        let url = self.source.url.as_str();
        let ssh_files = match &self.source.auth {
            Some(GitAuth::Ssh {
                identity,
                known_hosts,
            }) => Some(driftless_source::transport::ssh::configure(
                &mut repo,
                url,
                &self.git_dir,
                identity,
                known_hosts,
                self.source.timeout,
            )?),
            _ => None,
        };
        match (self.converse(&repo), ssh_files) {
            (Err(Error::Remote(e)), Some(files)) => Err(Error::Remote(files.explain(url, e))),
            (result, _) => result,
        }
    }

    fn converse(&self, repo: &gix::Repository) -> Result<PushOutcome, Error> {
        let url_text = self.source.url.as_str();
        let url = gix::url::parse(gix::bstr::BStr::new(url_text)).map_err(|e| {
            Error::Remote(driftless_source::Error::InvalidUrl {
                url: url_text.to_owned(),
                source: Some(Box::new(e)),
            })
        })?;
        let is_http = matches!(url.scheme, gix::url::Scheme::Http | gix::url::Scheme::Https);
        let ssh = if url.scheme == gix::url::Scheme::Ssh {
            repo.ssh_connect_options()
                .map_err(|e| Error::repo("reading the ssh configuration", repo.git_dir(), e))?
        } else {
            Default::default()
        };
        let options = gix::protocol::transport::client::blocking_io::connect::Options {
            version: Protocol::V1,
            ssh,
            trace: false,
        };
        let mut transport = gix::protocol::transport::client::blocking_io::connect::connect(
            url, options,
        )
        .map_err(|e| {
            Error::Remote(driftless_source::transport::classify(
                url_text,
                &self.source.reference,
                "connect",
                e,
            ))
        })?;
        if is_http {
            let http = driftless_source::transport::http_options(&self.source);
            transport.configure(&http).map_err(|e| {
                Error::Remote(driftless_source::transport::classify(
                    url_text,
                    &self.source.reference,
                    "configuring http",
                    e,
                ))
            })?;
        }
        let advertised = self.advertisement(&mut transport)?;
        let plan = self.plan(repo, &advertised)?;
        if plan.commands.is_empty() {
            if !is_http {
                // Tell receive-pack there is nothing to do, as git does.
                transport
                    .request(WriteMode::Binary, MessageKind::Flush, false)
                    .and_then(|w| w.into_read().map_err(Into::into))
                    .map_err(|e| self.remote_error("push", e))?;
            }
            return Ok(PushOutcome {
                updates: plan.updates,
            });
        }
        let pack = pack::write(repo, &self.objects(repo)?)?;
        let report = self.send(&mut transport, &advertised, &plan, &pack)?;
        self.judge(&report, plan)
    }

    /// The remote refs and capabilities from the receive-pack advertisement.
    fn advertisement(
        &self,
        transport: &mut Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
    ) -> Result<Advertised, Error> {
        let response = transport
            .handshake(Service::ReceivePack, &[])
            .map_err(|e| self.remote_error("handshake", e))?;
        let capabilities = response.capabilities;
        let mut lines = response
            .refs
            .ok_or_else(|| self.protocol("the server sent no ref advertisement"))?;
        let (refs, _shallow) =
            gix::protocol::handshake::refs::from_v1_refs_received_as_part_of_handshake_and_capabilities(
                &mut *lines,
                capabilities.iter(),
            )
            .map_err(|e| {
                Error::Remote(driftless_source::transport::classify(
                    &self.source.url,
                    &self.source.reference,
                    "reading the ref advertisement",
                    e,
                ))
            })?;
        drop(lines);
        let refs = refs
            .iter()
            .filter_map(|r| match r {
                gix::protocol::handshake::Ref::Direct {
                    full_ref_name,
                    object,
                }
                | gix::protocol::handshake::Ref::Peeled {
                    full_ref_name,
                    object,
                    ..
                }
                | gix::protocol::handshake::Ref::Symbolic {
                    full_ref_name,
                    object,
                    ..
                } => Some((full_ref_name.to_string(), *object)),
                gix::protocol::handshake::Ref::Unborn { .. } => None,
            })
            .collect();
        let has = |name: &str| capabilities.contains(name);
        Ok(Advertised {
            refs,
            report_status: has("report-status"),
            side_band: has("side-band-64k"),
            push_options: has("push-options"),
            quiet: has("quiet"),
        })
    }

    /// Which refs to move, after the fast-forward checks.
    fn plan(&self, repo: &gix::Repository, advertised: &Advertised) -> Result<Plan, Error> {
        let mut plan = Plan::default();
        for target in &self.targets {
            let old = advertised
                .refs
                .iter()
                .find(|(name, _)| *name == target.reference)
                .map(|(_, id)| *id)
                .filter(|id| !id.is_null());
            let update = |status| RefUpdate {
                reference: target.reference.clone(),
                old: old.map(|id| id.to_string()),
                new: self.new.to_string(),
                status,
            };
            if old == Some(self.new) {
                plan.updates.push(update(RefStatus::UpToDate));
                continue;
            }
            if let Some(old) = old
                && !target.force
                && old != self.base
                && !is_ancestor(repo, old, self.new)
            {
                return Err(Error::PushRejected {
                    url: self.source.url.clone(),
                    reference: target.reference.clone(),
                    reason: format!(
                        "non-fast-forward: the remote is at {old}, which is not where this checkout started ({}) nor an ancestor of {}",
                        self.base, self.new
                    ),
                });
            }
            plan.commands.push((old, target.reference.clone()));
            plan.updates.push(update(RefStatus::Updated));
        }
        if !advertised.push_options && !self.options.is_empty() && !plan.commands.is_empty() {
            return Err(self.protocol(
                "push options are set but the server does not accept them (receive.advertisePushOptions)",
            ));
        }
        Ok(plan)
    }

    /// Our commit, and the trees and blobs it does not share with its parent.
    fn objects(&self, repo: &gix::Repository) -> Result<Vec<ObjectId>, Error> {
        let git_dir = repo.git_dir();
        let mut objects = tree::Objects::default();
        if self.new == self.base {
            return Ok(objects.order);
        }
        let commit = repo
            .find_commit(self.new)
            .map_err(|e| Error::repo("reading the commit to push", git_dir, e))?;
        let tree_of = |c: &gix::Commit<'_>| {
            c.tree_id()
                .map(gix::Id::detach)
                .map_err(|e| Error::repo("reading the commit to push", git_dir, e))
        };
        let new_tree = tree_of(&commit)?;
        let parent_tree = match commit.parent_ids().next() {
            Some(parent) => {
                let parent = repo
                    .find_commit(parent)
                    .map_err(|e| Error::repo("reading the base commit", git_dir, e))?;
                Some(tree_of(&parent)?)
            }
            None => None,
        };
        objects.add(self.new);
        tree::new_objects(repo, new_tree, parent_tree, &mut objects)?;
        Ok(objects.order)
    }

    /// Send the commands, options and pack; return the server's report lines
    /// and messages.
    fn send(
        &self,
        transport: &mut Box<dyn gix::protocol::transport::client::blocking_io::Transport + Send>,
        advertised: &Advertised,
        plan: &Plan,
        pack: &[u8],
    ) -> Result<Report, Error> {
        let mut capabilities = Vec::new();
        if advertised.report_status {
            capabilities.push("report-status");
        }
        if advertised.side_band {
            capabilities.push("side-band-64k");
        }
        if advertised.quiet {
            capabilities.push("quiet");
        }
        if !self.options.is_empty() {
            capabilities.push("push-options");
        }
        let agent = format!("agent=driftless/{}", env!("CARGO_PKG_VERSION"));
        capabilities.push(&agent);
        let io = |e: std::io::Error| self.remote_error("push", e);
        let mut writer = transport
            .request(WriteMode::Binary, MessageKind::Flush, false)
            .map_err(|e| self.remote_error("push", e))?;
        for (i, (old, reference)) in plan.commands.iter().enumerate() {
            let old = old.unwrap_or_else(|| ObjectId::null(gix::hash::Kind::Sha1));
            let mut line = format!("{old} {} {reference}", self.new).into_bytes();
            if i == 0 {
                line.push(0);
                line.extend_from_slice(capabilities.join(" ").as_bytes());
            }
            line.push(b'\n');
            writer.write_all(&line).map_err(io)?;
        }
        writer.write_message(MessageKind::Flush).map_err(io)?;
        if !self.options.is_empty() {
            for option in &self.options {
                writer
                    .write_all(format!("{option}\n").as_bytes())
                    .map_err(io)?;
            }
            writer.write_message(MessageKind::Flush).map_err(io)?;
        }
        let (mut raw, mut reader) = writer.into_parts();
        raw.write_all(pack).and_then(|()| raw.flush()).map_err(io)?;
        // Closing our side ends an HTTP request body; the report follows.
        drop(raw);
        let mut report = Report::default();
        let mut band1 = Vec::new();
        // Bounds on a server's report: one status line per ref we sent, so
        // a report beyond these is not a report.
        let limits = driftless_limits::current();
        while let Some(line) = reader.readline() {
            let line = line
                .map_err(io)?
                .map_err(|e| self.remote_error("reading the push report", e))?;
            let Some(data) = line.as_slice() else {
                break;
            };
            if !advertised.side_band {
                report.lines.push(trim_line(data));
                if report.lines.len() > limits.push_report_lines {
                    return Err(self.protocol(format!(
                        "the server's report is over {} lines (the {} bound)",
                        limits.push_report_lines,
                        driftless_limits::Limit::PushReportLines.flag()
                    )));
                }
                continue;
            }
            match data.split_first() {
                Some((1, rest)) => {
                    band1.extend_from_slice(rest);
                    if band1.len() > limits.push_report_bytes {
                        return Err(self.protocol(format!(
                            "the server's report is over {} bytes (the {} bound)",
                            limits.push_report_bytes,
                            driftless_limits::Limit::PushReportBytes.flag()
                        )));
                    }
                }
                Some((2, rest)) => report.add_message(rest),
                Some((3, rest)) => {
                    return Err(self.protocol(format!(
                        "the server failed: {}",
                        String::from_utf8_lossy(rest).trim()
                    )));
                }
                _ => return Err(self.protocol("malformed side-band packet in the report")),
            }
        }
        if advertised.side_band {
            report.lines = split_pkt_lines(&band1)
                .ok_or_else(|| self.protocol("malformed report-status packet lines"))?;
        }
        if advertised.report_status && report.lines.is_empty() {
            return Err(self.protocol(format!(
                "the server closed the connection without a report{}",
                report.suffix()
            )));
        }
        Ok(report)
    }

    /// Turn the report into the outcome, or the first rejection.
    fn judge(&self, report: &Report, plan: Plan) -> Result<PushOutcome, Error> {
        let mut lines = report.lines.iter();
        if let Some(unpack) = lines.next()
            && unpack != "unpack ok"
        {
            return Err(self.protocol(format!(
                "the server could not unpack our pack: {}{}",
                unpack.trim_start_matches("unpack "),
                report.suffix()
            )));
        }
        for line in lines {
            if let Some(rest) = line.strip_prefix("ng ") {
                let (reference, reason) = rest.split_once(' ').unwrap_or((rest, "rejected"));
                return Err(Error::PushRejected {
                    url: self.source.url.clone(),
                    reference: reference.to_owned(),
                    reason: format!("{reason}{}", report.suffix()),
                });
            }
        }
        Ok(PushOutcome {
            updates: plan.updates,
        })
    }
}

/// What the server advertised.
struct Advertised {
    refs: Vec<(String, ObjectId)>,
    report_status: bool,
    side_band: bool,
    push_options: bool,
    quiet: bool,
}

/// The commands to send (old value, ref) and the outcome they mean.
#[derive(Default)]
struct Plan {
    commands: Vec<(Option<ObjectId>, String)>,
    updates: Vec<RefUpdate>,
}

/// Whether `old` is reachable from `new` in the local history. The checkout
/// is shallow, so an ancestor below the base is not seen: such a push is
/// treated as non-fast-forward (check out that branch to push on top of it).
fn is_ancestor(repo: &gix::Repository, old: ObjectId, new: ObjectId) -> bool {
    const MAX_WALK: usize = 10_000;
    if !repo.has_object(old) {
        return false;
    }
    let Ok(walk) = repo.rev_walk([new]).all() else {
        return false;
    };
    walk.take(MAX_WALK)
        .map_while(Result::ok)
        .any(|info| info.id == old)
}
