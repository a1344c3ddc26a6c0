//! Which remote refs a push moves, from Flux's `git.push` fields.

use driftless_source::GitReference;

use super::PushSpec;
use crate::Error;

/// A ref to move, and whether it may move backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) reference: String,
    pub(super) force: bool,
}

fn full_branch(name: &str) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else {
        format!("refs/heads/{name}")
    }
}

/// The refs `spec` asks for, as Flux reads `git.push`: the branch (default:
/// the checked-out one) unless only a refspec is given, then the refspec.
pub(super) fn targets(reference: &GitReference, spec: &PushSpec) -> Result<Vec<Target>, Error> {
    let checkout_branch = match reference {
        GitReference::Branch(b) => Some(b.as_str()),
        _ => None,
    };
    let mut out = Vec::new();
    let branch = spec.branch.as_deref().or(checkout_branch);
    if spec.branch.is_some() || spec.refspec.is_none() {
        let branch = branch.ok_or_else(|| {
            Error::InvalidPushSpec(format!(
                "the checkout is {reference}, not a branch: set a push branch or refspec"
            ))
        })?;
        out.push(Target {
            reference: full_branch(branch),
            force: spec.force,
        });
    }
    if let Some(refspec) = &spec.refspec {
        let (forced, rest) = match refspec.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, refspec.as_str()),
        };
        let Some((src, dst)) = rest.split_once(':') else {
            return Err(Error::InvalidPushSpec(format!(
                "refspec {refspec:?} has no `:<destination>`"
            )));
        };
        let ours = |name: &str| {
            name == "HEAD"
                || [checkout_branch, spec.branch.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|b| name == b || name == full_branch(b))
        };
        if !ours(src) {
            return Err(Error::InvalidPushSpec(format!(
                "refspec {refspec:?}: the source must be HEAD, the checkout branch or the push branch"
            )));
        }
        let reference = full_branch(dst);
        // git's own ref-name rules (no `..`, `*`, `@{`, control characters…).
        if gix::validate::reference::name(gix::bstr::BStr::new(&reference)).is_err() {
            return Err(Error::InvalidPushSpec(format!(
                "refspec {refspec:?}: {dst:?} is not a valid destination ref"
            )));
        }
        if !out.iter().any(|t| t.reference == reference) {
            out.push(Target {
                reference,
                force: forced || spec.force,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(branch: Option<&str>, refspec: Option<&str>) -> PushSpec {
        PushSpec {
            branch: branch.map(str::to_owned),
            refspec: refspec.map(str::to_owned),
            ..PushSpec::default()
        }
    }

    fn names(targets: &[Target]) -> Vec<(&str, bool)> {
        targets
            .iter()
            .map(|t| (t.reference.as_str(), t.force))
            .collect()
    }

    #[test]
    fn targets_follow_flux_push_fields() {
        let main = GitReference::Branch("main".into());
        let t = |b, r| targets(&main, &spec(b, r));
        assert_eq!(
            names(&t(None, None).expect("default")),
            [("refs/heads/main", false)]
        );
        assert_eq!(
            names(&t(Some("auto"), None).expect("branch")),
            [("refs/heads/auto", false)]
        );
        assert_eq!(
            names(&t(None, Some("refs/heads/main:refs/heads/auto")).expect("refspec")),
            [("refs/heads/auto", false)]
        );
        assert_eq!(
            names(&t(Some("auto"), Some("+HEAD:refs/for/main")).expect("both")),
            [("refs/heads/auto", false), ("refs/for/main", true)]
        );
        assert!(matches!(
            t(None, Some("other:refs/heads/x")),
            Err(Error::InvalidPushSpec(_))
        ));
        assert!(matches!(
            t(None, Some("main")),
            Err(Error::InvalidPushSpec(_))
        ));
        assert!(matches!(
            t(None, Some("main:refs/heads/a..b")),
            Err(Error::InvalidPushSpec(_))
        ));
        assert!(matches!(
            t(None, Some("main:")),
            Err(Error::InvalidPushSpec(_))
        ));
        assert!(matches!(
            t(None, Some("main:refs/heads/*")),
            Err(Error::InvalidPushSpec(_))
        ));
        let tag = GitReference::Tag("v1".into());
        assert!(matches!(
            targets(&tag, &spec(None, None)),
            Err(Error::InvalidPushSpec(_))
        ));
    }
}
