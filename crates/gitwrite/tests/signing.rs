//! Signed commits, pushed and then checked by the real `git verify-commit`:
//! OpenPGP keys made by `gpg` (with and without a passphrase) and SSH keys
//! made by `ssh-keygen` (plain and encrypted).

mod common;

use std::path::Path;
use std::process::Command;

use common::{available, bump, checkout_main, served, spec};
use driftless_gitwrite::{Error, PushSpec, SigningKey};
use driftless_testkit::GitDaemon;

/// Run `program` with `envs`; panic with its stderr when it fails.
fn run(program: &str, args: &[&str], envs: &[(&str, &Path)]) -> String {
    let out = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Commit a change signed with `key`, push it, clone the result and return
/// (clone directory, commit).
fn signed_push(served: &common::Served, key: SigningKey) -> (std::path::PathBuf, String) {
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let mut spec = spec("web to 1.1.0");
    // gpg refuses a signature older than its key, and the key is new.
    spec.time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        .try_into()
        .expect("fits i64");
    spec.signing = Some(key);
    let commit = tree.commit(&spec).expect("signed commit").expect("change");
    tree.push(&commit, &PushSpec::default()).expect("push");
    let clone = served.dir("clone");
    run(
        "git",
        &[
            "clone",
            "-q",
            served.fixture.bare.to_str().expect("utf8"),
            clone.to_str().expect("utf8"),
        ],
        &[],
    );
    (clone, commit)
}

/// A gpg home with a fresh ed25519 key for the bot, protected by
/// `passphrase` (empty: none), with a signing subkey when `subkey` (gpg then
/// signs with the subkey, and so must we); returns its armored secret key.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new(passphrase: &str, subkey: bool) -> (Self, String) {
        let home = tempfile::tempdir().expect("gnupg home");
        let gpg = Gpg { home };
        let env = [("GNUPGHOME", gpg.home.path())];
        run(
            "gpg",
            &[
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
                "--quick-gen-key",
                "fluxbot <bot@example.com>",
                "ed25519",
                "sign",
                "never",
            ],
            &env,
        );
        if subkey {
            let listing = run(
                "gpg",
                &["--batch", "--with-colons", "--list-keys", "bot@example.com"],
                &env,
            );
            let fingerprint = listing
                .lines()
                .find_map(|l| l.strip_prefix("fpr:"))
                .and_then(|l| l.split(':').find(|f| !f.is_empty()))
                .expect("fingerprint")
                .to_owned();
            run(
                "gpg",
                &[
                    "--batch",
                    "--pinentry-mode",
                    "loopback",
                    "--passphrase",
                    passphrase,
                    "--quick-add-key",
                    &fingerprint,
                    "ed25519",
                    "sign",
                    "never",
                ],
                &env,
            );
        }
        let armored = run(
            "gpg",
            &[
                "--batch",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                passphrase,
                "--armor",
                "--export-secret-keys",
                "bot@example.com",
            ],
            &env,
        );
        (gpg, armored)
    }

    fn verify(&self, clone: &Path, commit: &str) -> String {
        let out = Command::new("git")
            .args(["verify-commit", "--raw", commit])
            .current_dir(clone)
            .env("GNUPGHOME", self.home.path())
            .output()
            .expect("git verify-commit");
        assert!(
            out.status.success(),
            "verify-commit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        // gpg started an agent for this home; stop it.
        let _ = Command::new("gpgconf")
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .output();
    }
}

#[test]
fn openpgp_signed_commits_verify_with_git() {
    if !available("git", "openpgp_signed") || !available("gpg", "openpgp_signed") {
        return;
    }
    for (passphrase, subkey) in [("", false), ("correct horse", false), ("", true)] {
        let served = served();
        let (gpg, armored) = Gpg::new(passphrase, subkey);
        let key = SigningKey::OpenPgp {
            armored_key: armored,
            passphrase: (!passphrase.is_empty()).then(|| passphrase.to_owned()),
        };
        let (clone, commit) = signed_push(&served, key);
        let status = gpg.verify(&clone, &commit);
        assert!(status.contains("GOODSIG"), "{status}");
        // VALIDSIG <signing key> … <primary key>: the subkey signs when there is one.
        let valid: Vec<&str> = status
            .lines()
            .find_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
            .expect("VALIDSIG")
            .split(' ')
            .collect();
        let by_primary = valid.first() == valid.last();
        assert_eq!(by_primary, !subkey, "{status}");
        let object = run(
            "git",
            &[
                "-C",
                clone.to_str().expect("utf8"),
                "cat-file",
                "commit",
                &commit,
            ],
            &[],
        );
        assert!(
            object.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
            "{object}"
        );
    }
}

#[test]
fn openpgp_wrong_passphrase_fails_without_a_commit() {
    if !available("gpg", "openpgp_wrong_passphrase")
        || !available("git", "openpgp_wrong_passphrase")
    {
        return;
    }
    let served = served();
    let (_gpg, armored) = Gpg::new("right one", false);
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let mut spec = spec("web to 1.1.0");
    spec.signing = Some(SigningKey::OpenPgp {
        armored_key: armored,
        passphrase: Some("wrong one".into()),
    });
    let err = tree.commit(&spec).expect_err("wrong passphrase");
    assert!(
        matches!(
            err,
            Error::SigningKey {
                kind: "OpenPGP",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("wrong one"));
}

#[test]
fn ssh_signed_commits_verify_with_git() {
    if !available("git", "ssh_signed") || !available("ssh-keygen", "ssh_signed") {
        return;
    }
    for passphrase in ["", "correct horse"] {
        let served = served();
        let key_path = served.dir("signing_key");
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                passphrase,
                "-C",
                "bot",
                "-f",
                key_path.to_str().expect("utf8"),
            ],
            &[],
        );
        let private = std::fs::read_to_string(&key_path).expect("private key");
        let public = std::fs::read_to_string(key_path.with_extension("pub")).expect("public key");
        let key = SigningKey::Ssh {
            private_key: private,
            passphrase: (!passphrase.is_empty()).then(|| passphrase.to_owned()),
        };
        let (clone, commit) = signed_push(&served, key);
        let signers = served.dir("allowed_signers");
        std::fs::write(&signers, format!("bot@example.com {public}")).expect("allowed signers");
        let out = Command::new("git")
            .args([
                "-c",
                "gpg.format=ssh",
                "-c",
                &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
                "verify-commit",
                &commit,
            ])
            .current_dir(&clone)
            .output()
            .expect("git verify-commit");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "verify-commit: {stderr}");
        assert!(
            stderr.contains("Good \"git\" signature for bot@example.com"),
            "{stderr}"
        );
    }
}

#[test]
fn encrypted_ssh_key_without_passphrase_is_an_error() {
    if !available("ssh-keygen", "encrypted_ssh_key") || !available("git", "encrypted_ssh_key") {
        return;
    }
    let served = served();
    let key_path = served.dir("signing_key");
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "secret",
            "-f",
            key_path.to_str().expect("utf8"),
        ],
        &[],
    );
    let daemon = GitDaemon::start(&served.root);
    let tree = checkout_main(&daemon.url("repo"), &served.dir("checkout"), None);
    bump(&tree, "1.1.0");
    let mut spec = spec("web to 1.1.0");
    spec.signing = Some(SigningKey::Ssh {
        private_key: std::fs::read_to_string(&key_path).expect("key"),
        passphrase: None,
    });
    let err = tree.commit(&spec).expect_err("no passphrase");
    assert!(
        matches!(err, Error::SigningKey { kind: "SSH", .. }),
        "{err:?}"
    );
}
