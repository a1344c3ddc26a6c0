//! The committed built-in OpenAPI schemas (`openapi/builtin.json.gz`) are
//! what k8s-openapi derives today. Needs `--features openapi-gen`.

use std::io::Read;
use std::path::Path;

use driftless_sandbox::openapi_gen::{DATA_PATH, generate};

#[test]
fn committed_builtin_schemas_are_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DATA_PATH);
    let bytes = std::fs::read(&path).expect("the committed schema file");
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_string(&mut text)
        .expect("gzipped UTF-8");
    let committed: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        committed == generate(),
        "{} is stale: run `cargo run -p driftless-sandbox --features openapi-gen --example openapi_gen` and commit it",
        path.display()
    );
}
