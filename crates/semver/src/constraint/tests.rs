//! Masterminds v3 behaviour, case by case (expected values from its
//! documented semantics and its own test tables' shapes).

use super::*;

fn m(constraint: &str, version: &str) -> bool {
    let c = Constraint::parse(constraint).unwrap_or_else(|e| panic!("{e}"));
    let v = Version::parse(version).unwrap_or_else(|| panic!("version {version}"));
    c.matches(&v)
}

#[track_caller]
fn table(constraint: &str, yes: &[&str], no: &[&str]) {
    for v in yes {
        assert!(m(constraint, v), "{constraint:?} should admit {v}");
    }
    for v in no {
        assert!(!m(constraint, v), "{constraint:?} should refuse {v}");
    }
}

#[test]
fn exact_and_not_equal() {
    table(
        "1.2.3",
        &["1.2.3", "v1.2.3", "1.2.3+build"],
        &["1.2.4", "1.2.3-rc.1"],
    );
    table("=v1.2.3", &["1.2.3"], &["1.2.2"]);
    table("!=1.2.3", &["1.2.4", "0.1.0"], &["1.2.3"]);
    table("!=1.2", &["1.3.0", "2.2.0"], &["1.2.0", "1.2.9"]);
    table("!=1", &["2.0.0"], &["1.5.0"]);
}

#[test]
fn wildcards() {
    table(
        "1.x",
        &["1.0.0", "1.9.9"],
        &["2.0.0", "0.9.0", "1.5.0-rc.1"],
    );
    table("1.2.x", &["1.2.0", "1.2.99"], &["1.3.0", "1.1.9"]);
    table("1.2.*", &["1.2.5"], &["1.3.0"]);
    table("1", &["1.0.0", "1.99.0"], &["2.0.0"]);
    table(
        "*",
        &["0.0.1", "1.0.0", "99.0.0"],
        &["1.0.0-alpha", "2.0.0-rc.1"],
    );
    table("x", &["3.0.0"], &["3.0.0-rc.1"]);
}

#[test]
fn tilde() {
    table("~1.2", &["1.2.0", "1.2.9"], &["1.3.0", "1.1.9"]);
    table("~1.2.3", &["1.2.3", "1.2.10"], &["1.3.0", "1.2.2"]);
    table("~1", &["1.0.0", "1.9.0"], &["2.0.0", "0.9.0"]);
    table("~>1.2", &["1.2.5"], &["1.3.0"]);
    table("~0.0.0", &["0.0.0", "5.0.0"], &[]);
}

#[test]
fn caret() {
    table("^1.2.3", &["1.2.3", "1.9.0"], &["2.0.0", "1.2.2"]);
    table("^0.2", &["0.2.0", "0.2.9"], &["0.3.0", "0.1.9", "1.0.0"]);
    table("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0", "0.2.2"]);
    table("^0.0.3", &["0.0.3"], &["0.0.4", "0.1.3"]);
    table("^0.0", &["0.0.0", "0.0.9"], &["0.1.0"]);
    table("^0", &["0.0.1", "0.9.0"], &["1.0.0"]);
    table("^1", &["1.0.0", "1.9.0"], &["2.0.0"]);
}

#[test]
fn comparisons_with_wildcards() {
    table(">1.2", &["1.3.0", "2.0.0"], &["1.2.9", "1.2.0"]);
    table(">1", &["2.0.0"], &["1.9.9"]);
    table(">1.2.3", &["1.2.4"], &["1.2.3"]);
    table("<=1.2", &["1.2.9", "0.5.0"], &["1.3.0"]);
    table("<1.2", &["1.1.9"], &["1.2.0"]);
    table(">=1.2", &["1.2.0"], &["1.1.9"]);
    table("=>1.2 =<1.4", &["1.4.9"], &["1.5.0"]);
}

#[test]
fn conjunctions_alternatives_and_hyphen_ranges() {
    table(">=1.0.0 <2.0.0", &["1.0.0", "1.9.9"], &["2.0.0", "0.9.9"]);
    table(">= 1.0.0, < 2.0.0", &["1.5.0"], &["2.0.0"]);
    table(
        "1.2 - 1.4",
        &["1.2.0", "1.3.0", "1.4.9"],
        &["1.1.9", "1.5.0"],
    );
    table("1.2.3 - 1.4.5", &["1.4.5"], &["1.4.6", "1.2.2"]);
    table("<2 || >3", &["1.0.0", "4.0.0"], &["2.5.0", "3.0.0"]);
    table("~1.2 || ^3.0", &["1.2.1", "3.4.0"], &["1.3.0", "4.0.0"]);
}

#[test]
fn prereleases_follow_the_v3_4_group_rule() {
    // A pre-release constraint anywhere in the alternative admits
    // pre-releases on any major.minor.patch.
    table(
        ">=1.0.0-alpha",
        &["1.0.0-alpha", "1.0.0-beta", "1.0.0", "2.5.0-rc.1"],
        &["0.9.0", "1.0.0-0"],
    );
    // 2.0.0-rc.1 precedes 2.0.0, so `<2.0.0` admits it once the group
    // admits pre-releases (a known Masterminds surprise, kept).
    table(
        ">=1.0.0-0 <2.0.0",
        &["1.5.0-rc.1", "1.0.0", "2.0.0-rc.1"],
        &["2.0.0"],
    );
    table(">=1.0.0", &["1.2.0"], &["1.2.0-rc1"]);
    // The group rule is per alternative: the second admits no pre-release.
    table(
        ">=1.0.0-0 <2 || >=3",
        &["1.1.0-rc.1", "3.1.0"],
        &["3.1.0-rc.1"],
    );
    table(
        "~1.2.3-beta",
        &["1.2.3-beta.2", "1.2.9", "1.2.4-alpha"],
        &["1.2.3-alpha", "1.3.0"],
    );
    table("^1.2.3-rc.0", &["1.9.0-beta", "1.2.3"], &["2.0.0-rc.1"]);
    table("1.2.3-rc.1", &["1.2.3-rc.1"], &["1.2.3-rc.2", "1.2.3"]);
}

#[test]
fn v_prefixes_and_spacing() {
    table("v1.2.3", &["1.2.3"], &[]);
    table(">= v1.2, < v2", &["v1.5.0", "1.9.9"], &["2.0.0"]);
    table("  ~ 1.2  ", &["1.2.4"], &["1.3.0"]);
}

#[test]
fn malformed_constraints_are_refused() {
    for bad in [
        "", "  ", "abc", ">>1", "1.2.3.4", "~>>1", "1.2.3-", "1 ||", "==",
    ] {
        let err = Constraint::parse(bad).expect_err(bad);
        assert_eq!(err.to_string(), format!("improper constraint: {bad}"));
    }
}

#[test]
fn display_is_the_text_as_written() {
    let c: Constraint = ">= 1.0, <2".parse().expect("valid");
    assert_eq!(c.to_string(), ">= 1.0, <2");
}
