//! What a scan keeps of a registry's tag list, as Flux's
//! image-reflector-controller does: the tags no `exclusionList` pattern
//! matches (`driftless_image::exclusion`), in descending order; their
//! revision (`sha256:` of the tags one per line, the hash Flux's tag
//! storage reports); the first 10 as `latestTags`. Pure: tags in, result out.

use driftless_api::conditions::reasons;
use driftless_image::exclusion::ExclusionList;
use sha2::{Digest as _, Sha256};

use crate::reconciler::ReconcileError;

/// How many tags `status.lastScanResult.latestTags` shows.
pub(crate) const LATEST_TAGS: usize = 10;

/// `spec.exclusionList` compiled (Flux's default when empty); a pattern
/// that is not a regular expression stalls the repository, naming it.
pub(crate) fn exclusions(list: &[String]) -> Result<ExclusionList, ReconcileError> {
    ExclusionList::compile(list).map_err(|e| {
        ReconcileError::stalled(
            reasons::READ_OPERATION_FAILED,
            format!("spec.{}; fix or remove it", crate::error_chain(&e)),
        )
    })
}

/// The tags the list does not exclude, sorted in descending (byte) order.
pub(crate) fn kept(tags: Vec<String>, exclusions: &ExclusionList) -> Vec<String> {
    let mut tags = exclusions.retain(tags);
    tags.sort_unstable_by(|a, b| b.cmp(a));
    tags.dedup();
    tags
}

/// The revision of a scan: `sha256:` of the sorted tags, one per line.
/// The same tags give the same revision, whatever order the registry sent.
pub(crate) fn revision(sorted: &[String]) -> String {
    let mut hasher = Sha256::new();
    for tag in sorted {
        hasher.update(tag.as_bytes());
        hasher.update(b"\n");
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The first [`LATEST_TAGS`] of the sorted tags.
pub(crate) fn latest(sorted: &[String]) -> Vec<String> {
    sorted.iter().take(LATEST_TAGS).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn excluded_tags_go_and_the_rest_sort_descending() {
        let patterns = exclusions(&tags(&["^dev-", "sig$"])).expect("valid");
        let got = kept(
            tags(&[
                "1.0.0",
                "sha256-abc.sig",
                "dev-1",
                "2.0.0",
                "1.10.0",
                "latest",
            ]),
            &patterns,
        );
        assert_eq!(got, ["latest", "2.0.0", "1.10.0", "1.0.0"]);
    }

    #[test]
    fn the_revision_depends_on_the_tags_not_their_order() {
        let default = exclusions(&[]).expect("valid");
        let a = kept(tags(&["a", "b", "c"]), &default);
        let b = kept(tags(&["c", "a", "b"]), &default);
        assert_eq!(revision(&a), revision(&b));
        let c = kept(tags(&["a", "b"]), &default);
        assert_ne!(revision(&a), revision(&c));
        // sha256("c\nb\na\n"): the tags one per line, descending.
        assert_eq!(
            revision(&a),
            format!("sha256:{}", hex::encode(Sha256::digest(b"c\nb\na\n")))
        );
    }

    #[test]
    fn latest_tags_are_the_first_ten() {
        let default = exclusions(&[]).expect("valid");
        let sorted = kept((0..25).map(|i| format!("{i:02}")).collect(), &default);
        assert_eq!(
            latest(&sorted),
            tags(&["24", "23", "22", "21", "20", "19", "18", "17", "16", "15"])
        );
        assert!(latest(&[]).is_empty());
    }

    #[test]
    fn a_bad_pattern_stalls_naming_it() {
        let err = exclusions(&tags(&["^ok$", "(unclosed"])).expect_err("invalid");
        assert!(err.is_stalled());
        assert!(
            err.message
                .starts_with("spec.exclusionList[1]: failed to compile regex (unclosed"),
            "{err}"
        );
        assert!(err.message.contains("(unclosed"), "{err}");
    }
}
