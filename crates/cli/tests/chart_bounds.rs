//! `build chart` on templates built to exhaust memory or the stack, run
//! under a 3 GiB address-space cap: each fails with exit code 1 and an
//! error naming the template and the bound it met. Without the bounds
//! every one of them asks for far more than the cap (tens of gigabytes, or
//! exponentially many bytes) or recurses without end, so the process would
//! die instead.

use crate::common::{Output, TempDir, run};

/// Address space the render may take, in KiB (`ulimit -v`).
const ADDRESS_SPACE_KIB: u64 = 3 * 1024 * 1024;

fn chart(template: &str) -> TempDir {
    let dir = TempDir::new("chart-bounds");
    std::fs::create_dir(dir.path().join("templates")).expect("templates/");
    std::fs::write(
        dir.path().join("Chart.yaml"),
        "apiVersion: v2\nname: greedy\nversion: 1.0.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(dir.path().join("templates/greedy.yaml"), template).expect("template");
    dir
}

async fn build_capped(dir: &TempDir) -> Output {
    let path = dir.path().to_string_lossy().into_owned();
    let script = format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\"");
    run(
        "sh",
        &[
            "-c",
            &script,
            env!("CARGO_BIN_EXE_driftless"),
            "build",
            "chart",
            "rel",
            &path,
        ],
        None,
        dir.path(),
    )
    .await
}

#[tokio::test]
async fn greedy_templates_fail_naming_their_bound_within_the_cap() {
    let nested = "{{ $s := repeat 1000000 \"a\" }}{{ $l := list $s $s $s $s $s $s $s $s }}{{ range until 4 }}{{ $l = list $l $l $l $l $l $l $l $l }}{{ end }}";
    for (template, bound) in [
        (
            format!("{nested}{{{{ toYaml $l }}}}"),
            "error calling toYaml: the value written out would take more than 67108864 bytes",
        ),
        (
            format!("{nested}{{{{ $l | toJson | fromJson }}}}"),
            "error calling toJson: the value written out would take more than 67108864 bytes",
        ),
        (
            format!("{nested}{{{{ print $l }}}}"),
            "error calling print: the result would be a string of more than 67108864 bytes",
        ),
        (
            "{{ replace \"a\" (repeat 100000 \"b\") (repeat 1000000 \"a\") }}".to_owned(),
            "error calling replace: the result would be a string of more than 67108864 bytes",
        ),
        (
            "{{ $a := list }}{{ range until 1000 }}{{ $a = append $a (repeat 60000000 \"b\") }}{{ end }}".to_owned(),
            "execution builds more than the limit of 268435456 bytes (raise --template-max-bytes)",
        ),
        (
            "{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ toYamlPretty $d }}".to_owned(),
            "error calling toYamlPretty: the value nests more than 512 levels deep",
        ),
        // Helm v4.3.1's words.
        (
            "{{ $d := dict }}{{ $_ := set $d \"self\" $d }}{{ mustToYaml $d }}".to_owned(),
            "error calling mustToYaml: error marshaling into JSON: json: unsupported value: encountered a cycle via map[string]interface {}",
        ),
        (
            "{{ $d := dict }}{{ range until 100000 }}{{ $d = dict \"a\" $d }}{{ end }}{{ toToml $d }}".to_owned(),
            "error calling toToml: the value nests more than 512 levels deep",
        ),
        (
            "{{ tpl (repeat 3000000 \"{{ . }}\") . }}".to_owned(),
            "error calling tpl: the text to parse is 21000000 bytes, more than the 8388608 a function may parse",
        ),
    ] {
        let dir = chart(&template);
        let out = build_capped(&dir).await;
        assert_eq!(out.code, 1, "{template}: {out:#?}");
        assert!(
            out.stderr.contains("greedy/templates/greedy.yaml") && out.stderr.contains(bound),
            "{template}: expected {bound:?} in {}",
            out.stderr
        );
        assert!(out.stderr.len() < 2000, "a short error: {}", out.stderr);
    }
}

/// The bound on bytes built is the `--template-max-bytes` flag.
#[tokio::test]
async fn the_flag_sets_the_bound_on_bytes_built() {
    let dir = chart(
        "{{ $s := repeat 3000000 \"a\" }}{{ $t := repeat 3000000 \"b\" }}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: built\n",
    );
    let path = dir.path().to_string_lossy().into_owned();
    let bin = env!("CARGO_BIN_EXE_driftless");
    let args = |limit: &'static str| {
        vec![
            "build",
            "chart",
            "rel",
            path.as_str(),
            "--template-max-bytes",
            limit,
        ]
    };
    let refused = run(bin, &args("5000000"), None, dir.path()).await;
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(
        refused
            .stderr
            .contains("execution builds more than the limit of 5000000 bytes"),
        "{}",
        refused.stderr
    );
    let built = run(bin, &args("7000000"), None, dir.path()).await.ok();
    assert!(built.stdout.contains("name: built"), "{}", built.stdout);
}
