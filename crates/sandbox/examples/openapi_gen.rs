//! Writes `crates/sandbox/openapi/builtin.json.gz`, the built-in kinds'
//! OpenAPI v3 schemas the sandbox serves (see `openapi_gen` in the library).
//!
//! ```sh
//! cargo run -p driftless-sandbox --features openapi-gen --example openapi_gen
//! ```

use std::path::Path;

use driftless_sandbox::openapi_gen::{DATA_PATH, encode, generate};

fn main() -> std::io::Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA_PATH);
    let started = std::time::Instant::now();
    let data = generate();
    let generated = started.elapsed();
    let bytes = encode(&data);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, &bytes)?;
    println!(
        "{}: {} definitions, {} bytes of JSON, {} gzipped; generated in {generated:?}",
        path.display(),
        data["definitions"]
            .as_object()
            .map_or(0, serde_json::Map::len),
        data.to_string().len(),
        bytes.len(),
    );
    Ok(())
}
