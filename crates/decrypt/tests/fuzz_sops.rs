//! Property fuzzing of SOPS document parsing and decryption (issue 17,
//! item 4): files encrypted by the real `sops`, damaged at random, decrypt
//! with the right key or fail; never a panic, and no error shows cleartext.
//!
//! The default case count keeps `cargo test` short; `DRIFTLESS_FUZZ_CASES`
//! raises it (`.ci/fuzz` sets it).

use std::path::PathBuf;

use driftless_decrypt::{Format, Keyring, decrypt};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("DRIFTLESS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The files the `a` age key opens, one per format.
const FILES: [(&str, Format); 5] = [
    ("secret.yaml", Format::Yaml),
    ("types.json", Format::Json),
    ("app.env", Format::Dotenv),
    ("config.ini", Format::Ini),
    ("blob.bin", Format::Binary),
];

/// Cleartext values in the fixtures (see `fixtures.rs`).
const SECRETS: [&str; 4] = ["admin", "s3cr3t", "hunter2", "p@ss"];

/// One change to a file: overwrite a byte with one that matters to the
/// formats, cut a range out, or repeat a range.
#[derive(Debug, Clone)]
enum Damage {
    Set(prop::sample::Index, u8),
    Cut(prop::sample::Index, usize),
    Repeat(prop::sample::Index, usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    let byte = prop::sample::select(b",:]=[A0 \n\"{}|-#ENC".to_vec());
    prop_oneof![
        (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Damage::Set(i, b)),
        (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Damage::Cut(i, n)),
        (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Damage::Repeat(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, damage: &Damage) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    match damage {
        Damage::Set(at, b) => {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        Damage::Cut(at, n) => {
            let i = at.index(bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Damage::Repeat(at, n) => {
            let i = at.index(bytes.len());
            let end = (i + n).min(bytes.len());
            let copy = bytes[i..end].to_vec();
            bytes.splice(i..i, copy);
        }
    }
    bytes
}

fn key() -> Keyring {
    let mut keys = Keyring::default();
    keys.add_secret_entry("a.agekey", &fixture("keys/a.agekey"))
        .expect("the fixture key loads");
    keys
}

proptest! {
    #![proptest_config(config())]

    /// A damaged file decrypts or fails with an error that shows no
    /// cleartext; it never panics.
    #[test]
    fn damaged_files_never_panic_or_leak(
        which in 0..FILES.len(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let (name, format) = FILES[which];
        let bytes = damages.iter().fold(fixture(&format!("enc/{name}")), apply);
        if let Err(error) = decrypt(&bytes, format, &key()) {
            let text = format!("{error} {error:?}");
            for secret in SECRETS {
                prop_assert!(!text.contains(secret), "{} leaks {}: {}", name, secret, text);
            }
        }
    }

    /// Hand-made SOPS-looking documents never panic the parser.
    #[test]
    fn sops_like_documents_never_panic(text in sops_like()) {
        let keys = key();
        for format in [Format::Yaml, Format::Json, Format::Dotenv, Format::Ini, Format::Binary] {
            let _ = decrypt(text.as_bytes(), format, &keys);
        }
    }
}

/// Pieces of SOPS metadata and values in the shapes the stores read.
fn sops_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "sops:\n",
        "    age:\n",
        "        - recipient: age1x\n",
        "          enc: |\n",
        "    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n",
        "    version: 3.9.0\n",
        "    lastmodified: \"2024-01-01T00:00:00Z\"\n",
        "    shamir_threshold: 9\n",
        "    key_groups:\n",
        "    - age: []\n",
        "a: ENC[AES256_GCM,data:,iv:,tag:,type:int]\n",
        "b: ENC[AES256_GCM,data:@@,iv:zz,tag:==,type:bytes]\n",
        "c: ENC[\n",
        "{\"sops\": {\"mac\": 1}}",
        "sops_mac=ENC[AES256_GCM,data:AA==]\n",
        "[sops]\nmac = x\n",
        "{\"data\": \"x\"}",
        "---\n",
        "    unencrypted_regex: \"(\"\n",
        "    encrypted_suffix: _x\n",
        "d: *a\n",
    ]);
    prop::collection::vec(piece, 0..10).prop_map(|p| p.concat())
}
