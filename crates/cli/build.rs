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
//!
//! The functions `driftless build chart` runs are placed together at the
//! start of `.text` (`hot-symbols.txt`, made by `hot-symbols.sh`). The
//! binary's 39 MB of code hold every command; the kernel maps code in
//! 64 KB windows around each page touched, so a render that runs ~2.5 MB
//! of functions scattered over all of it had 7.5 MiB of code resident
//! (traefik's chart; 2.3 MiB with the list).
//! Only lld reads an ordering file: it is the linker Rust uses on
//! x86_64-linux-gnu (since 1.90); elsewhere the order is left to the
//! linker. Symbols the list names that are gone (the code changed) are
//! skipped silently: a stale list costs memory, never a failed build.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    println!("cargo:rerun-if-changed=hot-symbols.txt");
    let target = |key: &str| std::env::var(key).unwrap_or_default();
    if target("CARGO_CFG_TARGET_ARCH") == "x86_64"
        && target("CARGO_CFG_TARGET_OS") == "linux"
        && target("CARGO_CFG_TARGET_ENV") == "gnu"
    {
        let list = std::path::Path::new(&target("CARGO_MANIFEST_DIR")).join("hot-symbols.txt");
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
