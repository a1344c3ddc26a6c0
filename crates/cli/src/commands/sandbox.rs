//! `driftless sandbox`: run the embedded API server until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

#[derive(clap::Args)]
pub struct Args {
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Keep objects, certificates and the token here, across restarts; without it everything is in memory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where to write the kubeconfig [default: <data-dir>/kubeconfig, or ./driftless-sandbox.kubeconfig]
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// How long simulated rollouts take, e.g. 500ms, 2s.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    rollout_delay: Duration,
    /// Users besides the administrator: a kube-apiserver static token file,
    /// one `token,user,uid,"group1,group2"` a line.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Append one audit.k8s.io/v1 event per request to this file (JSON lines, level Metadata).
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// How requests are authorized, as kube-apiserver's flag of the same
    /// name: RBAC (a real cluster's default) or AlwaysAllow (no checks: for
    /// comparisons and benchmarks only).
    #[arg(long, default_value = "RBAC", value_parser = parse_authorization_mode)]
    authorization_mode: driftless_sandbox::Authorization,
}

fn parse_authorization_mode(text: &str) -> Result<driftless_sandbox::Authorization, String> {
    match text {
        "RBAC" => Ok(driftless_sandbox::Authorization::Rbac),
        "AlwaysAllow" => Ok(driftless_sandbox::Authorization::AlwaysAllow),
        _ => Err(format!(
            "`{text}` is not an authorization mode the sandbox has; use RBAC or AlwaysAllow"
        )),
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |i| text.split_at(i));
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write it like 500ms, 2s or 1m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(value)),
        "s" => Ok(Duration::from_secs(value)),
        "m" => Ok(Duration::from_secs(value * 60)),
        _ => Err(format!("`{text}` has an unknown unit; use ms, s or m")),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let kubeconfig_out = args.kubeconfig_out.or_else(|| {
        args.data_dir
            .is_none()
            .then(|| PathBuf::from("driftless-sandbox.kubeconfig"))
    });
    let sandbox = driftless_sandbox::Sandbox::start(driftless_sandbox::SandboxConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        kubeconfig_out,
        rollout_delay: args.rollout_delay,
        token_file: args.token_file,
        audit_log: args.audit_log,
        authorization: args.authorization_mode,
        ..Default::default()
    })
    .await
    .context("cannot start the sandbox")?;
    let kubeconfig = sandbox
        .kubeconfig_path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    eprintln!("sandbox API server listening on {}", sandbox.server_url());
    if args.authorization_mode == driftless_sandbox::Authorization::AlwaysAllow {
        eprintln!(
            "warning: --authorization-mode AlwaysAllow: every authenticated user may do anything"
        );
    }
    eprintln!("kubeconfig written to {kubeconfig}");
    eprintln!("try: kubectl --kubeconfig {kubeconfig} get namespaces");
    crate::shutdown::requested().await;
    eprintln!("shutting down");
    sandbox.shutdown().await;
    Ok(())
}
