//! The oracle check: a fresh set of fixtures made now by the installed
//! `sops` (with new age and OpenPGP keys) decrypts to what `sops --decrypt`
//! prints. Without `sops`, `age-keygen` and `gpg` it says SKIPPED, unless
//! `DRIFTLESS_REQUIRE_SHARED=1` (CI) makes that a failure.

use std::path::PathBuf;
use std::process::Command;

use driftless_decrypt::{Format, Keyring, decrypt};
use driftless_render::yaml::parse_documents;

fn missing_tools() -> Vec<&'static str> {
    ["sops", "age-keygen", "gpg"]
        .into_iter()
        .filter(|tool| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect()
}

#[test]
fn fixtures_made_now_by_sops_decrypt_as_sops_does() {
    let missing = missing_tools();
    if !missing.is_empty() {
        assert!(
            std::env::var("DRIFTLESS_REQUIRE_SHARED").as_deref() != Ok("1"),
            "the live sops check needs {missing:?} (../shared/tools/install-oracles.sh, apt-get install age gnupg)"
        );
        println!("SKIPPED: the live sops check needs {missing:?} on PATH");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generate.sh");
    let made = Command::new("bash")
        .arg(&script)
        .arg(dir.path())
        .output()
        .expect("generate.sh");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let mut keys = Keyring::default();
    for name in ["a.agekey", "b.agekey", "test.asc", "ecc.asc"] {
        keys.add_secret_entry(name, &read(&format!("keys/{name}")))
            .expect(name);
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path().join("enc")).expect("enc") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let format = if name.ends_with(".bin") {
            Format::Binary
        } else {
            Format::for_path(&name)
        };
        let ours = decrypt(&read(&format!("enc/{name}")), format, &keys)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = read(&format!("plain/{name}"));
        if format == Format::Yaml {
            let parse =
                |b: &[u8]| parse_documents(std::str::from_utf8(b).expect("utf-8")).expect("yaml");
            assert_eq!(parse(&ours), parse(&theirs), "{name}");
        } else {
            assert_eq!(ours, theirs, "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} files were made");
}
