//! Files encrypted by the real `sops` (see `fixtures/generate.sh`) decrypt
//! to what `sops --decrypt` printed for them, and every way a file can be
//! wrong fails with its own error.

use std::path::PathBuf;

use driftless_decrypt::{DecryptError, Format, Keyring, decrypt};
use driftless_render::yaml::parse_documents;

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn keys(names: &[&str]) -> Keyring {
    let mut keys = Keyring::default();
    for name in names {
        keys.add_secret_entry(name, &fixture(&format!("keys/{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    keys
}

fn format_of(name: &str) -> Format {
    match name.rsplit('.').next() {
        Some("bin") => Format::Binary,
        _ => Format::for_path(name),
    }
}

/// Decrypts `enc/NAME` and compares it with `plain/NAME`: byte for byte,
/// except YAML, whose data (not layout) must be the same.
fn assert_decrypts(name: &str, key_names: &[&str]) {
    let format = format_of(name);
    let ours = decrypt(&fixture(&format!("enc/{name}")), format, &keys(key_names))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected = fixture(&format!("plain/{name}"));
    if format == Format::Yaml {
        let ours =
            parse_documents(std::str::from_utf8(&ours).expect("utf-8")).expect("ours parses");
        let theirs =
            parse_documents(std::str::from_utf8(&expected).expect("utf-8")).expect("sops's parses");
        assert_eq!(ours, theirs, "{name}");
    } else {
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
    }
}

#[test]
fn every_format_decrypts_as_sops_does() {
    for name in [
        "secret.yaml",
        "multi.yaml",
        "types.json",
        "app.env",
        "config.ini",
        "blob.bin",
    ] {
        assert_decrypts(name, &["a.agekey"]);
    }
}

#[test]
fn every_encryption_option_decrypts_as_sops_does() {
    for name in [
        "secret-data-only.yaml",
        "secret-mac-only.yaml",
        "secret-unencrypted-suffix.yaml",
        "secret-encrypted-suffix.yaml",
        "secret-unencrypted-regex.yaml",
    ] {
        assert_decrypts(name, &["a.agekey"]);
    }
}

#[test]
fn any_recipient_opens_the_file() {
    assert_decrypts("secret-two-recipients.yaml", &["b.agekey"]);
    assert_decrypts("secret-two-recipients.yaml", &["other.agekey", "a.agekey"]);
}

#[test]
fn openpgp_rsa_and_ecc_keys_open_the_file() {
    assert_decrypts("secret-pgp.yaml", &["test.asc"]);
    assert_decrypts("secret-pgp-ecc.yaml", &["ecc.asc"]);
}

#[test]
fn shamir_key_groups_open_with_the_threshold() {
    assert_decrypts("secret-shamir.yaml", &["a.agekey", "b.agekey"]);
    assert_decrypts("secret-shamir.yaml", &["b.agekey", "test.asc"]);
    let one = decrypt(
        &fixture("enc/secret-shamir.yaml"),
        Format::Yaml,
        &keys(&["a.agekey"]),
    )
    .expect_err("one group of two");
    assert!(
        matches!(
            one,
            DecryptError::Threshold {
                opened: 1,
                needed: 2,
                ..
            }
        ),
        "{one}"
    );
}

fn decrypt_text(text: &str, format: Format) -> Result<Vec<u8>, DecryptError> {
    decrypt(text.as_bytes(), format, &keys(&["a.agekey"]))
}

fn secret_text(name: &str) -> String {
    String::from_utf8(fixture(&format!("enc/{name}"))).expect("utf-8")
}

/// The errors never show cleartext.
fn assert_no_cleartext(error: &DecryptError) {
    let text = format!("{error} {error:?}");
    for secret in ["admin", "s3cr3t", "hunter2", "p@ss"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn a_wrong_key_names_the_recipients() {
    let error = decrypt(
        &fixture("enc/secret.yaml"),
        Format::Yaml,
        &keys(&["other.agekey"]),
    )
    .expect_err("wrong key");
    assert!(
        matches!(error, DecryptError::NoMatchingKey { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("age age1"), "{error}");
    let none = decrypt(
        &fixture("enc/secret-pgp.yaml"),
        Format::Yaml,
        &Keyring::default(),
    )
    .expect_err("no key");
    assert!(none.to_string().contains("OpenPGP"), "{none}");
}

#[test]
fn a_changed_ciphertext_fails_authentication() {
    let text = secret_text("secret.yaml");
    let start = text
        .find("password: ENC[AES256_GCM,data:")
        .expect("password")
        + 31;
    let mut bytes = text.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    let error = decrypt_text(std::str::from_utf8(&bytes).expect("utf-8"), Format::Yaml)
        .expect_err("tampered value");
    assert!(
        matches!(&error, DecryptError::Value { path, .. } if path == "stringData:password:"),
        "{error}"
    );
    assert_no_cleartext(&error);
}

#[test]
fn a_changed_clear_value_or_mac_fails_the_mac() {
    let text = secret_text("secret-data-only.yaml");
    let renamed = text.replace("name: db", "name: evil");
    let error = decrypt_text(&renamed, Format::Yaml).expect_err("changed metadata.name");
    assert!(matches!(error, DecryptError::MacMismatch), "{error}");
    assert_no_cleartext(&error);

    // With mac_only_encrypted, clear values may change (Kustomize's
    // transformers do) but encrypted ones still may not go missing.
    let mac_only = secret_text("secret-mac-only.yaml");
    decrypt_text(&mac_only.replace("name: db", "name: other"), Format::Yaml).expect("clear change");
    let dropped: String = mac_only
        .lines()
        .filter(|l| !l.trim_start().starts_with("username:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let error = decrypt_text(&dropped, Format::Yaml).expect_err("removed value");
    assert!(matches!(error, DecryptError::MacMismatch), "{error}");

    let mac_at = text.find("mac: ENC[AES256_GCM,data:").expect("mac") + 26;
    let mut bytes = text.into_bytes();
    bytes[mac_at] = if bytes[mac_at] == b'A' { b'B' } else { b'A' };
    let error = decrypt_text(std::str::from_utf8(&bytes).expect("utf-8"), Format::Yaml)
        .expect_err("tampered mac");
    assert!(matches!(error, DecryptError::MacMismatch), "{error}");
}

#[test]
fn kms_only_files_say_what_is_unsupported() {
    let text = secret_text("secret.yaml");
    let age_start = text.find("    age:").expect("age block");
    let age_end = text.find("    lastmodified:").expect("lastmodified");
    let kms = "    kms:\n        - arn: arn:aws:kms:eu-west-1:111122223333:key/x\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: AQICAH\n          aws_profile: \"\"\n";
    let rewritten = format!("{}{kms}{}", &text[..age_start], &text[age_end..]);
    let error = decrypt_text(&rewritten, Format::Yaml).expect_err("kms only");
    assert!(
        matches!(error, DecryptError::UnsupportedKeyServices(ref s) if s == "kms"),
        "{error}"
    );
}

#[test]
fn hostile_and_plain_files_are_refused_with_bounds() {
    let plain = decrypt_text("a: b\n", Format::Yaml).expect_err("no metadata");
    assert!(matches!(plain, DecryptError::NoMetadata), "{plain}");
    let huge = format!("a: \"{}\"\n", "x".repeat(6 << 20));
    let error = decrypt_text(&huge, Format::Yaml).expect_err("too large");
    assert!(matches!(error, DecryptError::TooLarge { .. }), "{error}");
    let mut bomb = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_owned()
        } else {
            format!("l{}", i - 1)
        };
        bomb.push_str(&format!("l{i}: &l{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    let error = decrypt_text(&bomb, Format::Yaml).expect_err("alias bomb");
    assert!(matches!(error, DecryptError::Parse { .. }), "{error}");
    let groups = format!(
        "a: b\nsops:\n    key_groups:\n{}    lastmodified: \"2024-01-01T00:00:00Z\"\n    mac: \"\"\n",
        "        - age: []\n".repeat(40)
    );
    let error = decrypt_text(&groups, Format::Yaml).expect_err("too many groups");
    assert!(matches!(error, DecryptError::Metadata(_)), "{error}");
}

#[test]
fn keys_are_never_printed() {
    let keyring = keys(&["a.agekey", "test.asc"]);
    let shown = format!("{keyring:?}");
    assert!(!shown.contains("AGE-SECRET-KEY"), "{shown}");
    let bad = Keyring::default()
        .add_age_identities("AGE-SECRET-KEY-1NOTAKEY\n")
        .expect_err("bad key");
    assert!(!bad.to_string().contains("NOTAKEY"), "{bad}");
}
