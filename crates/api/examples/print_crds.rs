//! Prints the CRDs as a YAML stream, for `kubectl apply -f -` or review.
//!
//! Not for installing in production clusters by itself: the CLI will own
//! installation. `cargo run -p driftless-api --example print_crds`.

fn main() -> Result<(), driftless_api::CrdError> {
    print!("{}", driftless_api::crds_yaml()?);
    Ok(())
}
