//! Renders one directory and prints the stream, as `kubectl kustomize`
//! does; on failure prints the whole error chain and exits 1. For
//! comparing our renderer with the real Kustomize by hand:
//! `cargo run -p driftless-render --example render -- [--as v5.8.1] DIR`
//! (`--as` picks the Kustomize release followed, v5.5.0 by default).

use driftless_render::KustomizeVersion;
use std::error::Error;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (version, dir) = match args.as_slice() {
        [dir] => (KustomizeVersion::V5_5_0, dir),
        [flag, v, dir] if flag == "--as" && v == "v5.5.0" => (KustomizeVersion::V5_5_0, dir),
        [flag, v, dir] if flag == "--as" && v == "v5.8.1" => (KustomizeVersion::V5_8_1, dir),
        _ => {
            eprintln!("usage: render [--as v5.5.0|v5.8.1] DIR");
            std::process::exit(2);
        }
    };
    match driftless_render::build_as(Path::new(dir), version) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            let mut message = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                message.push_str(": ");
                message.push_str(&c.to_string());
                cause = c.source();
            }
            eprintln!("Error: {message}");
            std::process::exit(1);
        }
    }
}
