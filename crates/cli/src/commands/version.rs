//! `driftless version`: the client's version and, when the cluster answers,
//! the server's.

use serde_json::json;

use crate::cluster::{GlobalArgs, connect};
use crate::output::{Format, render, write_stdout};

#[derive(clap::Args)]
pub struct Args {
    /// Print the client version only; do not contact the cluster.
    #[arg(long)]
    client: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let client = env!("CARGO_PKG_VERSION");
    let server = if args.client {
        None
    } else {
        // An unreachable cluster is not an error here: the client version
        // is still useful, and kubectl behaves the same way.
        match connect(global).await {
            Ok(cluster) => Some(cluster.server_version),
            Err(err) => {
                eprintln!("warning: no server version: {err:#}");
                None
            }
        }
    };
    let text = match args.output {
        Format::Table => {
            let mut text = format!("driftless: v{client}\n");
            if let Some(server) = &server {
                text.push_str(&format!("server: {server}\n"));
            }
            text
        }
        format => {
            let mut value = json!({"client": format!("v{client}")});
            if let Some(server) = server {
                value["server"] = server.into();
            }
            render(&value, format)?
        }
    };
    write_stdout(&text)
}
