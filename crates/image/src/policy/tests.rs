//! Table tests drawn from Flux's documented examples and its policy tests.

use super::*;

fn pick(tags: &[&str], filter: Option<&TagFilter>, policy: &Policy) -> Option<String> {
    latest(tags, filter, policy).expect("policy applies")
}

#[test]
fn order_parsing_is_case_insensitive_and_defaults_to_asc() {
    assert_eq!(Order::parse("").expect("empty"), Order::Asc);
    assert_eq!(Order::parse("asc").expect("asc"), Order::Asc);
    assert_eq!(Order::parse("Desc").expect("desc"), Order::Desc);
    let err = Order::parse("invalid").expect_err("invalid order");
    assert_eq!(
        err.to_string(),
        "invalid order argument provided: 'invalid', must be one of: ASC, DESC"
    );
}

#[test]
fn semver_ranges_valid_and_invalid() {
    for range in ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0"] {
        assert!(Policy::semver(range).is_ok(), "{range}");
    }
    for range in ["1.0.0p", "1x", "x1", "-1", "a", ""] {
        let err = Policy::semver(range).expect_err(range);
        assert!(err.to_string().contains(&format!("'{range}'")), "{err}");
    }
}

#[test]
fn semver_latest() {
    let range = |r: &str| Policy::semver(r).expect("range");
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        (
            "1.0.x",
            &["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"],
            Some("1.0.1"),
        ),
        ("1.0.x", &["v1.2.3", "v1.0.0", "v0.1.0"], Some("v1.0.0")),
        ("1.0.x", &["b1.2.3", "b1.0.0", "b0.1.0"], None),
        ("1.0.x", &[], None),
        ("1.0.x", &["1.2.0"], None),
        // Flux parses tags strictly: `1.2` is not a version.
        (">=1.0.0", &["1.2", "1.1.0"], Some("1.1.0")),
        // Pre-releases only where the range names one.
        (">=1.0.0", &["1.0.0", "1.1.0-rc.1"], Some("1.0.0")),
        (">=1.0.0-0", &["1.0.0", "1.1.0-rc.1"], Some("1.1.0-rc.1")),
        // Equal versions: the first in input order.
        ("*", &["1.0.0+b", "1.0.0+a", "0.9.0"], Some("1.0.0+b")),
    ];
    for (r, tags, want) in cases {
        assert_eq!(
            pick(tags, None, &range(r)).as_deref(),
            *want,
            "{r} {tags:?}"
        );
    }
}

#[test]
fn alphabetical_latest() {
    let asc = Policy::Alphabetical { order: Order::Asc };
    let desc = Policy::Alphabetical { order: Order::Desc };
    let calver = ["16.04", "16.04.1", "16.10", "20.04", "20.10"];
    assert_eq!(pick(&calver, None, &asc).as_deref(), Some("20.10"));
    assert_eq!(pick(&calver, None, &desc).as_deref(), Some("16.04"));
    let names = ["xenial", "yakkety", "zesty", "artful", "bionic"];
    assert_eq!(pick(&names, None, &asc).as_deref(), Some("zesty"));
    assert_eq!(pick(&names, None, &desc).as_deref(), Some("artful"));
    let rfc3339 = [
        "2021-01-08T21-18-21Z",
        "2020-05-08T21-18-21Z",
        "2021-01-08T19-20-00Z",
        "1990-01-08T00-20-00Z",
        "2023-05-08T00-20-00Z",
    ];
    assert_eq!(
        pick(&rfc3339, None, &asc).as_deref(),
        Some("2023-05-08T00-20-00Z")
    );
    assert_eq!(
        pick(&rfc3339, None, &desc).as_deref(),
        Some("1990-01-08T00-20-00Z")
    );
    // Byte order: upper case sorts before lower case, `10` before `9`.
    assert_eq!(
        pick(&["a", "B", "9", "10"], None, &asc).as_deref(),
        Some("a")
    );
    assert_eq!(
        pick(&["a", "B", "9", "10"], None, &desc).as_deref(),
        Some("10")
    );
    assert_eq!(pick(&[] as &[&str], None, &asc), None);
}

#[test]
fn numerical_latest() {
    let asc = Policy::Numerical { order: Order::Asc };
    let desc = Policy::Numerical { order: Order::Desc };
    let ints = [
        "-62", "-88", "73", "72", "15", "16", "15", "29", "-33", "-91",
    ];
    assert_eq!(pick(&ints, None, &asc).as_deref(), Some("73"));
    assert_eq!(pick(&ints, None, &desc).as_deref(), Some("-91"));
    let floats = [
        "47.40896403322944",
        "-27.8520927455902",
        "53.47333823144817",
        "3.2008658570411086",
    ];
    assert_eq!(
        pick(&floats, None, &asc).as_deref(),
        Some("53.47333823144817")
    );
    assert_eq!(
        pick(&floats, None, &desc).as_deref(),
        Some("-27.8520927455902")
    );
    let stamps = [
        "1606234201",
        "1606364286",
        "1606334092",
        "1606334284",
        "1606334201",
    ];
    assert_eq!(pick(&stamps, None, &asc).as_deref(), Some("1606364286"));
    assert_eq!(pick(&stamps, None, &desc).as_deref(), Some("1606234201"));
    assert_eq!(pick(&["1"], None, &desc).as_deref(), Some("1"));
    // Equal values: the last one wins, as in Flux's loop.
    assert_eq!(pick(&["1.0", "1", "0.5"], None, &asc).as_deref(), Some("1"));
    // Go float syntax.
    assert_eq!(
        pick(&["1_000", "999", "0x1p4"], None, &asc).as_deref(),
        Some("1_000")
    );
}

#[test]
fn numerical_fails_on_a_tag_that_is_not_a_number() {
    let asc = Policy::Numerical { order: Order::Asc };
    let err = latest(&["0", "1a", "b"], None, &asc).expect_err("1a is not a number");
    assert_eq!(
        err.to_string(),
        "failed to parse invalid numeric value '1a' (from tag '1a')"
    );
    // Out of range is an error in Go too.
    assert!(latest(&["1e400"], None, &asc).is_err());
}

#[test]
fn filter_selects_and_extracts() {
    let f = |p: &str, e: &str| TagFilter::new(p, e).expect("pattern");
    let ver = f("^ver", "");
    assert_eq!(ver.apply("ver1").as_deref(), Some("ver1"));
    assert_eq!(ver.apply("rel1"), None);
    let group = f(r"ver(\d+)", "$1");
    assert_eq!(group.apply("ver12").as_deref(), Some("12"));
    let debug = f(r"^(123-[0-9]+\.[0-9]+\.[a-z0-9]+-debug)", "");
    assert_eq!(
        debug.apply("123-123.123.abcd123-debug").as_deref(),
        Some("123-123.123.abcd123-debug")
    );
    assert_eq!(debug.apply("123-123.123.abcd123"), None);
}

#[test]
fn filter_then_policy_returns_the_original_tag() {
    // Flux's documented example: main-<sha>-<timestamp>, ordered by ts.
    let tags = [
        "main-c3bd4c8-1676403458",
        "main-a1b2c3d-1676403500",
        "feature-x-deadbee-1676409999",
        "main-0f0f0f0-1676400000",
        "latest",
    ];
    let filter = TagFilter::new(r"^main-[a-fA-F0-9]+-(?P<ts>.*)", "$ts").expect("pattern");
    let asc = Policy::Numerical { order: Order::Asc };
    assert_eq!(
        pick(&tags, Some(&filter), &asc).as_deref(),
        Some("main-a1b2c3d-1676403500")
    );
    let semver = TagFilter::new(r"^v(?P<version>.*)-rc$", "${version}").expect("pattern");
    let range = Policy::semver(">=1.0.0").expect("range");
    assert_eq!(
        pick(
            &["v1.0.0-rc", "v1.2.0-rc", "v2.0.0", "1.5.0"],
            Some(&semver),
            &range
        )
        .as_deref(),
        Some("v1.2.0-rc")
    );
    // Two tags with the same value: the later one is kept.
    let same = TagFilter::new(r"^(\d+)-", "$1").expect("pattern");
    assert_eq!(
        pick(&["5-a", "5-b", "4-c"], Some(&same), &asc).as_deref(),
        Some("5-b")
    );
    // Everything filtered out: nothing to choose.
    let none = TagFilter::new("^nothing$", "").expect("pattern");
    assert_eq!(pick(&tags, Some(&none), &asc), None);
}

#[test]
fn invalid_pattern_names_it() {
    let err = TagFilter::new("(unclosed", "").expect_err("bad pattern");
    assert_eq!(
        err.to_string(),
        "invalid regular expression pattern '(unclosed'"
    );
}
