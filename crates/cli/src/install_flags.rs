//! The flags `helm template` inherits from `helm install` (and Helm's
//! global ones) that change nothing in an offline render, so that a
//! `helm template` command line runs unchanged as `driftless build chart`.
//!
//! Each is parsed and checked as Helm checks it (Go's booleans and
//! durations, `--labels key=value`, the `--wait` and `--dry-run` modes), so
//! a command line Helm refuses is refused here too. The few that would need
//! a cluster, the network or a plugin are refused with the reason instead
//! of being silently ignored. Only `--enable-dns` reaches the render: a
//! chart that then calls `getHostByName` fails instead of differing from
//! Helm's answer.

use anyhow::bail;

/// Flags accepted for `helm template` compatibility.
/// Hidden from `--help`, which names them in a paragraph instead.
#[derive(clap::Args)]
pub struct InstallFlags {
    #[arg(long, hide = true)]
    create_namespace: bool,
    #[arg(long, value_name = "TEXT", hide = true)]
    description: Option<String>,
    #[arg(long, hide = true)]
    devel: bool,
    #[arg(long, hide = true)]
    disable_openapi_validation: bool,
    /// `client` (what a render is), or `server` (refused: needs a cluster).
    #[arg(
        long,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "client",
        value_parser = dry_run_mode,
        hide = true
    )]
    dry_run: Option<String>,
    #[arg(long, conflicts_with = "force_replace", hide = true)]
    force_conflicts: bool,
    #[arg(long, hide = true)]
    force_replace: bool,
    /// Release labels (`key=value,...`): stored with a release, never rendered.
    #[arg(
        short = 'l',
        long,
        value_name = "KEY=VALUE",
        value_delimiter = ',',
        value_parser = label,
        hide = true
    )]
    labels: Vec<String>,
    #[arg(long, hide = true)]
    replace: bool,
    #[arg(long, hide = true)]
    rollback_on_failure: bool,
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = go_bool,
        hide = true
    )]
    server_side: Option<bool>,
    #[arg(long, hide = true)]
    take_ownership: bool,
    #[arg(long, value_name = "DURATION", value_parser = go_duration, hide = true)]
    timeout: Option<String>,
    #[arg(
        long,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "watcher",
        value_parser = ["watcher", "hookOnly", "legacy"],
        hide = true
    )]
    wait: Option<String>,
    #[arg(long, hide = true)]
    wait_for_jobs: bool,
    /// A chart version to pick from a repository; a local chart is the
    /// version it is, as in Helm.
    #[arg(long, value_name = "VERSION", hide = true)]
    version: Option<String>,
    #[arg(long, hide = true)]
    debug: bool,
    #[arg(
        long,
        alias = "colour",
        value_name = "WHEN",
        value_parser = ["never", "auto", "always"],
        hide = true
    )]
    color: Option<String>,
    /// Refused: Helm checks a packaged chart's provenance file, which this
    /// build does not.
    #[arg(long, hide = true)]
    verify: bool,
    /// A chart that calls `getHostByName` then fails: a render touches
    /// no network (without the flag the function returns "", as in Helm).
    #[arg(long, hide = true)]
    pub enable_dns: bool,
    /// Refused: validating against a cluster's API needs the cluster.
    #[arg(long, hide = true)]
    validate: bool,
    /// Refused: post-renderers are Helm plugins, which driftless does not run.
    #[arg(long, value_name = "PLUGIN", hide = true)]
    post_renderer: Option<String>,
    /// Refused: fetching a chart from a repository needs the network
    /// (point CHART at a local directory or .tgz).
    #[arg(long, value_name = "URL", hide = true)]
    repo: Option<String>,
    /// Refused: downloading dependencies needs the network (vendor them
    /// with `helm dependency build` first).
    #[arg(long, hide = true)]
    dependency_update: bool,
    // Repository and cluster connection settings: nothing to connect to.
    #[arg(long, value_name = "NAME", hide = true)]
    username: Option<String>,
    #[arg(long, value_name = "SECRET", hide = true)]
    password: Option<String>,
    #[arg(long, hide = true)]
    pass_credentials: bool,
    #[arg(long, hide = true)]
    plain_http: bool,
    #[arg(long, hide = true)]
    insecure_skip_tls_verify: bool,
    #[arg(long, value_name = "FILE", hide = true)]
    ca_file: Option<String>,
    #[arg(long, value_name = "FILE", hide = true)]
    cert_file: Option<String>,
    #[arg(long, value_name = "FILE", hide = true)]
    key_file: Option<String>,
    #[arg(long, value_name = "FILE", hide = true)]
    keyring: Option<String>,
    #[arg(long, value_name = "DIR", hide = true)]
    content_cache: Option<String>,
    #[arg(long, value_name = "DIR", hide = true)]
    repository_cache: Option<String>,
    #[arg(long, value_name = "FILE", hide = true)]
    repository_config: Option<String>,
    #[arg(long, value_name = "FILE", hide = true)]
    registry_config: Option<String>,
    #[arg(long, value_name = "NAME", hide = true)]
    kube_context: Option<String>,
    #[arg(long, value_name = "URL", hide = true)]
    kube_apiserver: Option<String>,
    #[arg(long, value_name = "USER", hide = true)]
    kube_as_user: Option<String>,
    #[arg(long, value_name = "GROUP", hide = true)]
    kube_as_group: Vec<String>,
    #[arg(long, value_name = "FILE", hide = true)]
    kube_ca_file: Option<String>,
    #[arg(long, value_name = "TOKEN", hide = true)]
    kube_token: Option<String>,
    #[arg(long, value_name = "NAME", hide = true)]
    kube_tls_server_name: Option<String>,
    #[arg(long, hide = true)]
    kube_insecure_skip_tls_verify: bool,
    #[arg(long, value_name = "N", hide = true)]
    qps: Option<f32>,
    #[arg(long, value_name = "N", hide = true)]
    burst_limit: Option<u32>,
}

impl InstallFlags {
    /// Refuses the flags an offline render cannot honour, saying why.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.dry_run.as_deref() == Some("server") {
            bail!(
                "--dry-run=server renders against a live cluster; driftless build chart renders offline (lookup returns empty, as with --dry-run=client)"
            );
        }
        let refused = [
            (
                self.verify,
                "--verify: provenance files are not checked here",
            ),
            (
                self.validate,
                "--validate: checking the manifests against a cluster's API needs the cluster",
            ),
            (
                self.post_renderer.is_some(),
                "--post-renderer: post-renderers are Helm plugins, which driftless does not run",
            ),
            (
                self.repo.is_some(),
                "--repo: fetching a chart needs the network; pass a local chart directory or .tgz",
            ),
            (
                self.dependency_update,
                "--dependency-update: downloading dependencies needs the network; run `helm dependency build` and vendor them",
            ),
        ];
        match refused.iter().find(|(given, _)| *given) {
            Some((_, why)) => bail!("flag not supported by driftless build chart: {why}"),
            None => Ok(()),
        }
    }
}

/// Helm's `--dry-run` modes: a bare flag and the deprecated `true` mean
/// `client`.
fn dry_run_mode(mode: &str) -> Result<String, String> {
    match mode {
        "client" | "true" => Ok("client".to_owned()),
        "server" => Ok("server".to_owned()),
        "none" | "false" => Err(format!(
            "invalid dry-run value ({mode:?}). Must be \"server\" or \"client\""
        )),
        _ => Err(format!(
            "invalid dry-run value ({mode:?}). Must be \"none\", \"server\", or \"client\""
        )),
    }
}

/// One `key=value` of `--labels`.
fn label(item: &str) -> Result<String, String> {
    if item.contains('=') {
        Ok(item.to_owned())
    } else {
        Err(format!("{item} must be formatted as key=value"))
    }
}

/// Go's `strconv.ParseBool`.
/// Makes an on/off flag take Go's optional `=value` as Helm's flags do
/// (`--include-crds=false`, `--is-upgrade=1`): without a value it is
/// `true`, absent it is `false`.
pub fn go_bool_flag(arg: clap::Arg) -> clap::Arg {
    if !matches!(arg.get_action(), clap::ArgAction::SetTrue) {
        return arg;
    }
    arg.action(clap::ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .value_name("BOOL")
        .value_parser(go_bool)
}

fn go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {text:?}: invalid syntax"
        )),
    }
}

/// A duration in Go's `time.ParseDuration` syntax (`90s`, `1h30m`,
/// `1.5h`, `-2m`, `0`): a sign, then one or more decimal numbers, each
/// with a unit (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`).
fn go_duration(text: &str) -> Result<String, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if unsigned == "0" {
        return Ok(text.to_owned());
    }
    let mut rest = unsigned;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..number_end];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        match &rest[..unit_end] {
            "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h" => {}
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        }
        rest = &rest[unit_end..];
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_go_parses_them() {
        for good in [
            "0", "-0", "300ms", "1h30m", "1.5h", "-2m", "+5s", ".5s", "1.s", "2µs",
        ] {
            assert!(go_duration(good).is_ok(), "{good}");
        }
        for bad in ["", "-", "5", "bogus", "1x", "1..5s", "h", "1h2", "."] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            go_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_owned())
        );
    }

    #[test]
    fn booleans_modes_and_labels_are_checked_as_helm_checks_them() {
        assert_eq!(go_bool("T"), Ok(true));
        assert_eq!(go_bool("False"), Ok(false));
        assert!(go_bool("auto").is_err());
        assert_eq!(dry_run_mode("true").as_deref(), Ok("client"));
        assert_eq!(
            dry_run_mode("none"),
            Err("invalid dry-run value (\"none\"). Must be \"server\" or \"client\"".to_owned())
        );
        assert!(dry_run_mode("bogus").is_err());
        assert_eq!(
            label("a"),
            Err("a must be formatted as key=value".to_owned())
        );
        assert!(label("a=").is_ok());
    }
}
