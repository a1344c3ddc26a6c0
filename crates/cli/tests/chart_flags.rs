//! `build chart` with the flags `helm template` inherits from `helm
//! install`: accepted and checked as Helm checks them (the same output as
//! without them, Helm's words for a malformed value), and a clear refusal
//! for the few an offline render cannot honour; `-` as a values file or
//! `--set-file` path reads standard input, and a URL there is refused. The
//! expected words and outputs are those Helm v4.3.1 printed for the same
//! command lines.

use crate::common::{Output, TempDir, run};

/// A chart that asks DNS for a host only when `dns` is set.
fn chart() -> TempDir {
    let dir = TempDir::new("chart-flags");
    std::fs::create_dir(dir.path().join("templates")).expect("templates/");
    std::fs::write(
        dir.path().join("Chart.yaml"),
        "apiVersion: v2\nname: flags\nversion: 1.0.0\n",
    )
    .expect("Chart.yaml");
    std::fs::write(
        dir.path().join("templates/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  host: {{ if .Values.dns }}{{ getHostByName \"localhost\" | quote }}{{ else }}none{{ end }}\n",
    )
    .expect("template");
    dir
}

async fn build(dir: &TempDir, flags: &[&str]) -> Output {
    let path = dir.path().to_string_lossy().into_owned();
    let mut args = vec!["build", "chart", "rel", path.as_str()];
    args.extend_from_slice(flags);
    run(env!("CARGO_BIN_EXE_driftless"), &args, None, dir.path()).await
}

#[tokio::test]
async fn install_only_flags_leave_the_output_as_it_is() {
    let dir = chart();
    let plain = build(&dir, &[]).await.ok().stdout;
    assert!(plain.contains("  host: none\n"), "{plain}");
    let flagged = build(
        &dir,
        &[
            "--create-namespace",
            "--description",
            "first",
            "--dry-run",
            "--wait=legacy",
            "--wait-for-jobs",
            "--timeout",
            "1h30m",
            "-l",
            "team=a,tier=web",
            "--server-side=false",
            "--take-ownership",
            "--force-conflicts",
            "--debug",
            "--version",
            "9.9.9",
            "--kube-context",
            "elsewhere",
            "--enable-dns",
        ],
    )
    .await
    .ok()
    .stdout;
    assert_eq!(flagged, plain);
}

/// Helm's flags parse as Go's `pflag` does: an on/off flag takes an
/// optional `=value` in Go's spellings, and a flag given twice keeps its
/// last value (a repeatable one keeps them all).
#[tokio::test]
async fn on_off_flags_take_go_values_and_a_repeated_flag_keeps_its_last() {
    let dir = chart();
    std::fs::write(
        dir.path().join("templates/release.yaml"),
        "# upgrade={{ .Release.IsUpgrade }} ns={{ .Release.Namespace }} kube={{ .Capabilities.KubeVersion }} a={{ .Values.a }} b={{ .Values.b }}\n",
    )
    .expect("template");
    for (flags, line) in [
        (&[][..], "upgrade=false ns=default kube=v1.37.0"),
        (&["--is-upgrade=true"], "upgrade=true"),
        (&["--is-upgrade=T"], "upgrade=true"),
        (&["--is-upgrade=false"], "upgrade=false"),
        (&["--is-upgrade", "--is-upgrade=0"], "upgrade=false"),
        (&["--is-upgrade=f", "--is-upgrade"], "upgrade=true"),
        (&["-n", "first", "--namespace", "second"], "ns=second"),
        (
            &["--kube-version", "1.20.0", "--kube-version", "1.30.0"],
            "kube=v1.30.0",
        ),
        (&["--set", "a=1", "--set", "b=2"], "a=1 b=2"),
    ] {
        let out = build(&dir, flags).await.ok().stdout;
        assert!(out.contains(line), "{flags:?}: {out}");
    }
    let out = build(&dir, &["--include-crds=yes"]).await.code(2);
    assert!(
        out.stderr
            .contains("strconv.ParseBool: parsing \"yes\": invalid syntax"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn malformed_install_flags_are_refused_in_helms_words() {
    let dir = chart();
    for (flags, words) in [
        (
            &["--timeout", "1d"][..],
            "time: unknown unit \"d\" in duration \"1d\"",
        ),
        (
            &["--dry-run=none"],
            "invalid dry-run value (\"none\"). Must be \"server\" or \"client\"",
        ),
        (&["--labels", "team"], "team must be formatted as key=value"),
        (
            &["--server-side=auto"],
            "strconv.ParseBool: parsing \"auto\": invalid syntax",
        ),
        (&["--wait=always"], "invalid value 'always' for '--wait"),
        (
            &["--force-conflicts", "--force-replace"],
            "cannot be used with",
        ),
    ] {
        let out = build(&dir, flags).await.code(2);
        assert!(out.stderr.contains(words), "{flags:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{flags:?}: {out:#?}");
    }
}

#[tokio::test]
async fn flags_an_offline_render_cannot_honour_fail_saying_why() {
    let dir = chart();
    for (flags, words) in [
        (&["--dry-run=server"][..], "renders against a live cluster"),
        (
            &["--repo", "http://127.0.0.1:9/charts"],
            "--repo: fetching a chart needs the network",
        ),
        (&["--dependency-update"], "run `helm dependency build`"),
        (
            &["--post-renderer", "kustomize"],
            "post-renderers are Helm plugins",
        ),
        (&["--verify"], "provenance files are not checked"),
        (&["--validate"], "needs the cluster"),
    ] {
        let out = build(&dir, flags).await.code(1);
        assert!(out.stderr.contains(words), "{flags:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{flags:?}: {out:#?}");
    }
}

#[tokio::test]
async fn get_host_by_name_is_empty_offline_and_fails_under_enable_dns() {
    let dir = chart();
    let offline = build(&dir, &["--set", "dns=true"]).await.ok().stdout;
    assert!(offline.contains("  host: \"\"\n"), "{offline}");
    let out = build(&dir, &["--set", "dns=true", "--enable-dns"])
        .await
        .code(1);
    assert!(out.stderr.contains("templates/config.yaml"), "{out:#?}");
    assert!(
        out.stderr.contains("--enable-dns asks for a DNS lookup"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn a_dash_reads_values_from_standard_input_once_and_urls_are_refused() {
    let dir = chart();
    let path = dir.path().to_string_lossy().into_owned();
    let bin = env!("CARGO_BIN_EXE_driftless");
    let with_stdin = |extra: &[&'static str]| {
        let mut args = vec!["build", "chart", "rel", path.as_str()];
        args.extend_from_slice(extra);
        args
    };
    let out = run(
        bin,
        &with_stdin(&["-f", "-"]),
        Some("dns: true\n"),
        dir.path(),
    )
    .await
    .ok();
    assert!(out.stdout.contains("  host: \"\"\n"), "{out:#?}");
    // The first `-` takes standard input; a later one finds it empty, so
    // `dns` becomes "" (false) again, as in Helm.
    let out = run(
        bin,
        &with_stdin(&["-f", "-", "--set-file", "dns=-"]),
        Some("dns: true\n"),
        dir.path(),
    )
    .await
    .ok();
    assert!(out.stdout.contains("  host: none\n"), "{out:#?}");
    for (flag, value) in [
        ("-f", "https://127.0.0.1:9/values.yaml"),
        ("--set-file", "dns=oci://127.0.0.1:9/v"),
    ] {
        let out = build(&dir, &[flag, value]).await.code(1);
        assert!(
            out.stderr.contains("does not fetch over the network"),
            "{flag} {value}: {out:#?}"
        );
    }
}

#[tokio::test]
async fn a_remote_chart_is_refused_with_what_to_do() {
    let home = TempDir::new("remote-chart");
    let bin = env!("CARGO_BIN_EXE_driftless");
    for (chart, words) in [
        ("oci://127.0.0.1:9/charts/app", "is remote"),
        ("https://127.0.0.1:9/app-1.0.0.tgz", "is remote"),
        ("stable/app", "names a chart in a Helm repository"),
    ] {
        let out = run(bin, &["build", "chart", "rel", chart], None, home.path())
            .await
            .code(1);
        assert!(out.stderr.contains(words), "{chart}: {out:#?}");
        assert!(out.stderr.contains("helm pull"), "{chart}: {out:#?}");
    }
}
