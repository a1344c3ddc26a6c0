//! Renders one directory and prints the stream, as `kubectl kustomize`
//! does; on failure prints the whole error chain and exits 1. For
//! comparing our renderer with the real Kustomize by hand:
//! `cargo run -p driftless-render --example render -- DIR`.

use std::error::Error;
use std::path::Path;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: render DIR");
        std::process::exit(2);
    };
    match driftless_render::build(Path::new(&dir)) {
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
