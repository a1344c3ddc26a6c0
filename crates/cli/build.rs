//! Link flags for the `driftless` binary alone (the library crates and
//! their tests are linked as cargo does by default).
//!
//! Relative relocations are packed (`DT_RELR`): the position-independent
//! binary keeps address-space randomisation, but the loader reads ≈20 KB
//! of relocations at every start instead of ≈1.7 MB, which cut the peak
//! memory of a short command such as `driftless build chart` by ≈3.5 MiB
//! (measured: `--version` 10.2 → 8.0 MiB). Needs glibc 2.36 or newer at
//! run time (Debian 12, the image's base, has it) and a linker that knows
//! `-z pack-relative-relocs` (lld, or GNU ld 2.38 and newer).
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
