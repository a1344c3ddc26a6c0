//! Hostile templates that would exhaust memory (or, for RSA keys, hours
//! of CPU) fail with an error naming the bound. Each case would build gigabytes (most from a few bytes of
//! template) without its bound, so removing one makes its test abort or
//! hang instead of passing; honest sizes just under a bound still render.

mod common;

use common::{check_table, run_with};
use driftless_gotemplate::Options;

const STRING_BOUND: &str = "ERR:the result would be a string of more than 67108864 bytes";
const LIST_BOUND: &str = "ERR:the result would be a list of more than 1000000 elements";
const EXPANSION_BOUND: &str = "ERR:the value written out would take more than 67108864 bytes";

/// A list of ten shared copies of a list of eight shared copies of a
/// 1 MB string: 1 MB in memory, 80 MB written out.
const NESTED: &str = "{{ $s := repeat 1000000 \"a\" }}{{ $l := list $s $s $s $s $s $s $s $s }}{{ $l = list $l $l $l $l $l $l $l $l $l $l }}";

/// A list nesting 16 shared copies of a list seven levels deep: a few
/// kilobytes in memory, 16⁷ elements copied.
const WIDE: &str = "{{ $l := list 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 }}{{ range until 6 }}{{ $l = list $l $l $l $l $l $l $l $l $l $l $l $l $l $l $l $l }}{{ end }}";

#[test]
fn growing_one_string_is_refused_before_building_it() {
    check_table(&[
        ("{{ indent 2000000000 \"x\" | len }}", STRING_BOUND),
        ("{{ nindent 1000000000 \"a\\nb\" | len }}", STRING_BOUND),
        ("{{ repeat 2000000000 \"ab\" | len }}", STRING_BOUND),
        (
            "{{ replace \"a\" (repeat 100000 \"b\") (repeat 100000 \"a\") | len }}",
            STRING_BOUND,
        ),
        (
            "{{ replace \"\" (repeat 100000 \"b\") (repeat 100000 \"a\") | len }}",
            STRING_BOUND,
        ),
        (
            "{{ regexReplaceAll \"a\" (repeat 100000 \"a\") (repeat 100000 \"b\") | len }}",
            STRING_BOUND,
        ),
        (
            "{{ regexReplaceAllLiteral \"a\" (repeat 100000 \"a\") (repeat 100000 \"b\") | len }}",
            STRING_BOUND,
        ),
        (
            "{{ mustRegexReplaceAll \"(a)\" (repeat 100000 \"a\") (repeat 10000 \"$1\") | len }}",
            STRING_BOUND,
        ),
        (
            "{{ wrapWith 1 (repeat 100000 \"x\") (repeat 100000 \"a\") | len }}",
            STRING_BOUND,
        ),
        // Honest sizes render.
        (
            "{{ replace \"a\" \"bb\" (repeat 1000 \"a\") | len }}",
            "2000",
        ),
        ("{{ regexReplaceAll \"(a)\" \"xax\" \"[$1]\" }}", "x[a]x"),
        ("{{ indent 4 \"a\\nb\" }}", "    a\n    b"),
    ]);
}

#[test]
fn joining_many_copies_of_a_big_string_is_refused() {
    let big = "{{ $s := repeat 40000000 \"a\" }}";
    let cases: Vec<(String, &str)> = vec![
        (format!("{big}{{{{ cat $s $s | len }}}}"), STRING_BOUND),
        (format!("{big}{{{{ print $s $s | len }}}}"), STRING_BOUND),
        (
            format!("{big}{{{{ printf \"%s%s\" $s $s | len }}}}"),
            STRING_BOUND,
        ),
        (format!("{big}{{{{ quote $s $s | len }}}}"), STRING_BOUND),
        (format!("{big}{{{{ squote $s $s | len }}}}"), STRING_BOUND),
        (
            format!("{big}{{{{ list $s $s | toString | len }}}}"),
            STRING_BOUND,
        ),
        (
            format!("{big}{{{{ list $s $s | join \",\" | len }}}}"),
            EXPANSION_BOUND,
        ),
        (
            format!("{big}{{{{ b64enc $s | b64enc | len }}}}"),
            STRING_BOUND,
        ),
        (format!("{big}{{{{ cat $s | len }}}}"), "40000000"),
    ];
    let cases: Vec<(&str, &str)> = cases.iter().map(|(t, e)| (t.as_str(), *e)).collect();
    check_table(&cases);
}

#[test]
fn writing_out_shared_nested_lists_is_refused() {
    let cases: Vec<(String, &str)> = [
        "toJson",
        "mustToJson",
        "toPrettyJson",
        "toRawJson",
        "toStrings",
        "sortAlpha",
    ]
    .iter()
    .map(|f| (format!("{NESTED}{{{{ {f} $l | len }}}}"), EXPANSION_BOUND))
    .chain(
        ["print", "toString", "urlquery", "js", "html"]
            .iter()
            .map(|f| (format!("{NESTED}{{{{ {f} $l | len }}}}"), STRING_BOUND)),
    )
    .chain([
        (
            format!("{NESTED}{{{{ printf \"%#v\" $l | len }}}}"),
            STRING_BOUND,
        ),
        (
            format!("{WIDE}{{{{ deepCopy $l | len }}}}"),
            "ERR:the copy would take more than 67108864 bytes",
        ),
        (
            "{{ $m := list (list 1 2) (list 3) }}{{ deepCopy $m | len }}".to_owned(),
            "2",
        ),
    ])
    .collect();
    let cases: Vec<(&str, &str)> = cases.iter().map(|(t, e)| (t.as_str(), *e)).collect();
    check_table(&cases);
}

#[test]
fn splitting_into_too_many_parts_is_refused() {
    check_table(&[
        (
            "{{ repeat 2000000 \"a\" | splitList \"\" | len }}",
            LIST_BOUND,
        ),
        ("{{ repeat 2000000 \",\" | split \",\" | len }}", LIST_BOUND),
        (
            "{{ repeat 2000000 \",\" | splitn \",\" 3000000 | len }}",
            LIST_BOUND,
        ),
        (
            "{{ regexFindAll \"a\" (repeat 2000000 \"a\") -1 | len }}",
            LIST_BOUND,
        ),
        (
            "{{ regexSplit \",\" (repeat 2000000 \",\") -1 | len }}",
            LIST_BOUND,
        ),
        (
            "{{ concat (until 600000) (until 600000) | len }}",
            LIST_BOUND,
        ),
        ("{{ repeat 999 \",\" | splitList \",\" | len }}", "1000"),
        // A count keeps the parts few, however many separators follow.
        ("{{ repeat 2000000 \",\" | splitn \",\" 3 | len }}", "3"),
        (
            "{{ regexFindAll \"a\" (repeat 2000000 \"a\") 2 | len }}",
            "2",
        ),
        ("{{ regexSplit \",\" (repeat 2000000 \",\") 3 | len }}", "3"),
    ]);
}

/// `uniq` over a million items takes a hash per item, not a comparison
/// with every item kept (hours), and keeps Go's `DeepEqual` semantics.
#[test]
fn uniq_is_not_quadratic() {
    check_table(&[
        ("{{ until 1000000 | uniq | len }}", "1000000"),
        (
            "{{ uniq (list 1 1.0 \"1\" 1 (list 1) (list 1) (list 1.0) 2.5 2.5 nil nil) }}",
            "[1 1 1 [1] [1] 2.5 <nil>]",
        ),
    ]);
}

/// Lists and maps nested 100,000 deep are freed without recursion (a
/// recursive drop overflows the stack and aborts the whole process).
#[test]
fn deeply_nested_values_are_freed_without_overflowing_the_stack() {
    check_table(&[(
        "{{ $l := list }}{{ range until 100000 }}{{ $l = list $l }}{{ end }}{{ $d := dict }}{{ range until 100000 }}{{ $d = dict \"a\" $d }}{{ end }}{{ kindOf $l }} {{ kindOf $d }}",
        "slice map",
    )]);
}

/// A text nesting 100,000 blocks is refused at parse time (its tree would
/// be freed recursively and overflow the stack); 5,000 still parse.
#[test]
fn block_nesting_is_bounded() {
    let nest = |n: usize| format!("{}x{}", "{{ if true }}".repeat(n), "{{ end }}".repeat(n));
    let deep = nest(100_000);
    let fine = nest(5_000);
    check_table(&[
        (
            deep.as_str(),
            "ERR:max block depth exceeded (10000 nested if/range/with)",
        ),
        (fine.as_str(), "x"),
    ]);
}

#[test]
fn parsing_a_huge_text_is_refused() {
    check_table(&[(
        "{{ repeat 5000000 \"[1,2]\" | fromJson }}",
        "ERR:the text to parse is 25000000 bytes, more than the 8388608 a function may parse",
    )]);
}

/// A loop that makes a fresh 40 MB string each time stops at the
/// execution's bound, named with its flag; the same loop under a higher
/// bound runs to its end.
#[test]
fn an_execution_stops_at_its_bound_on_bytes_built() {
    let text = "{{ range until 10 }}{{ $s := repeat 40000000 \"a\" }}{{ end }}done";
    let run = |max_built_bytes: u64| {
        let options = Options {
            max_built_bytes,
            ..Options::default()
        };
        run_with(options, text)
    };
    let error = run(256 * 1024 * 1024).expect_err("past the bound");
    assert!(
        error.contains(
            "execution builds more than the limit of 268435456 bytes (raise --template-max-bytes)"
        ),
        "{error}"
    );
    assert_eq!(run(1_000_000_000).expect("under the bound"), "done");
}

/// An RSA key's prime search costs steps, charged before the search: a
/// loop asking for keys stops at the step bound instead of searching for
/// hours (a 4096-bit key takes about half a second), while a certificate
/// within the bound is made.
#[test]
fn rsa_keys_count_against_the_step_bound() {
    let run = |text: &str| {
        let options = Options {
            max_steps: 3_000_000,
            ..Options::default()
        };
        run_with(options, text)
    };
    let started = std::time::Instant::now();
    let error = run("{{ range until 1000 }}{{ $k := genPrivateKey \"rsa\" }}{{ end }}")
        .expect_err("past the bound");
    assert!(
        error.contains("error calling genPrivateKey: execution exceeds the limit of 3000000 steps (raise --template-max-steps)"),
        "{error}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "refused before the search"
    );
    let error = run("{{ range until 10 }}{{ $ca := genCA \"ca\" 1 }}{{ end }}")
        .expect_err("the sixth certificate is past the bound");
    assert!(
        error.contains("error calling genCA: execution exceeds the limit"),
        "{error}"
    );
    let made =
        run("{{ $ca := genCA \"ca\" 1 }}{{ $ca.Cert | substr 0 27 }}").expect("one certificate");
    assert_eq!(made, "-----BEGIN CERTIFICATE-----");
}
