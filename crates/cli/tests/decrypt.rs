//! `build kustomization DIR --decrypt-key-file`: files encrypted by the
//! real `sops` render in cleartext with the key, stay encrypted without
//! it, and a wrong key is one clear error that shows no cleartext.

use std::path::PathBuf;

use crate::common::{TempDir, run};

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../decrypt/tests/fixtures")
        .join(path)
}

fn source() -> TempDir {
    let dir = TempDir::new("decrypt-build");
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources:\n- secret.enc.yaml\nsecretGenerator:\n- name: env\n  envs:\n  - app.enc.env\n",
    )
    .expect("kustomization");
    std::fs::copy(
        fixture("enc/secret-data-only.yaml"),
        dir.path().join("secret.enc.yaml"),
    )
    .expect("secret");
    std::fs::copy(fixture("enc/app.env"), dir.path().join("app.enc.env")).expect("env");
    dir
}

#[tokio::test]
async fn build_decrypts_with_a_key_file_only() {
    let dir = source();
    let bin = env!("CARGO_BIN_EXE_driftless");
    let path = dir.path().to_string_lossy().into_owned();
    let key = fixture("keys/a.agekey").to_string_lossy().into_owned();

    let plain = run(
        bin,
        &["build", "kustomization", &path, "--decrypt-key-file", &key],
        None,
        dir.path(),
    )
    .await
    .ok();
    assert!(
        plain
            .stdout
            .contains("password: s3cr3t with spaces & symbols <>"),
        "{plain:#?}"
    );
    assert!(plain.stdout.contains("DB_USER: YWRtaW4="), "{plain:#?}");
    assert!(!plain.stdout.contains("sops:"), "{plain:#?}");

    let encrypted = run(bin, &["build", "kustomization", &path], None, dir.path())
        .await
        .ok();
    assert!(
        encrypted.stdout.contains("ENC[AES256_GCM"),
        "{encrypted:#?}"
    );

    let other = fixture("keys/other.agekey").to_string_lossy().into_owned();
    let wrong = run(
        bin,
        &[
            "build",
            "kustomization",
            &path,
            "--decrypt-key-file",
            &other,
        ],
        None,
        dir.path(),
    )
    .await
    .code(1);
    assert!(
        wrong.stderr.contains("no decryption key matches"),
        "{wrong:#?}"
    );
    assert!(
        wrong.stderr.contains("app.enc.env") || wrong.stderr.contains("secret.enc.yaml"),
        "{wrong:#?}"
    );
    assert!(!wrong.stderr.contains("admin"), "{wrong:#?}");
}
