//! The keys a decryption may use: age identities and OpenPGP secret keys,
//! as Flux reads them from a decryption Secret (`*.agekey`, `*.asc`).

use std::sync::Arc;

use crate::error::DecryptError;

/// Private keys for unwrapping SOPS data keys. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Keyring {
    pub(crate) age: Vec<Arc<age::x25519::Identity>>,
    pub(crate) pgp: Vec<Arc<pgp::composed::SignedSecretKey>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring {{ age: {} identities, pgp: {} keys, <redacted> }}",
            self.age.len(),
            self.pgp.len()
        )
    }
}

/// The Secret data key suffix of age identities.
pub const AGE_SUFFIX: &str = ".agekey";
/// The Secret data key suffix of armored OpenPGP secret keys.
pub const PGP_SUFFIX: &str = ".asc";

impl Keyring {
    /// Whether the keyring holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.pgp.is_empty()
    }

    /// Adds the entries of a decryption Secret's `data`, by key suffix:
    /// `*.agekey` age identities, `*.asc` OpenPGP secret keys; other
    /// entries (cloud credentials Flux reads) are ignored.
    pub fn add_secret_entry(&mut self, name: &str, bytes: &[u8]) -> Result<(), DecryptError> {
        let text = || {
            std::str::from_utf8(bytes).map_err(|_| DecryptError::Key {
                name: name.to_owned(),
                message: "not UTF-8 text".into(),
            })
        };
        if name.ends_with(AGE_SUFFIX) {
            self.add_age_identities(text()?)
                .map_err(|e| rename(e, name))
        } else if name.ends_with(PGP_SUFFIX) {
            self.add_pgp_keys(bytes).map_err(|e| rename(e, name))
        } else {
            Ok(())
        }
    }

    /// Adds every `AGE-SECRET-KEY-1…` line of an age identity file
    /// (comments and blank lines skipped, as `age -i` reads it).
    pub fn add_age_identities(&mut self, text: &str) -> Result<(), DecryptError> {
        let mut found = false;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let identity: age::x25519::Identity = line.parse().map_err(|_| DecryptError::Key {
                name: "age identities".into(),
                message: format!(
                    "line {} is not an age identity (AGE-SECRET-KEY-1…); age-keygen writes them",
                    number + 1
                ),
            })?;
            self.age.push(Arc::new(identity));
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(DecryptError::Key {
                name: "age identities".into(),
                message: "no AGE-SECRET-KEY-1… line found".into(),
            })
        }
    }

    /// Adds the secret keys of an OpenPGP key export (armored, as
    /// `gpg --export-secret-keys --armor` writes, or binary). Keys must not
    /// be passphrase-protected, as Flux requires.
    pub fn add_pgp_keys(&mut self, bytes: &[u8]) -> Result<(), DecryptError> {
        use pgp::composed::{Deserializable, SignedSecretKey};
        let failed = |message: String| DecryptError::Key {
            name: "OpenPGP keys".into(),
            message,
        };
        let (keys, _) = SignedSecretKey::from_reader_many(bytes)
            .map_err(|e| failed(format!("not an OpenPGP secret key export: {e}")))?;
        let mut found = false;
        for key in keys {
            let key = key.map_err(|e| failed(format!("unreadable secret key: {e}")))?;
            self.pgp.push(Arc::new(key));
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(failed(
                "no secret key found (export it with --export-secret-keys)".into(),
            ))
        }
    }
}

fn rename(error: DecryptError, name: &str) -> DecryptError {
    match error {
        DecryptError::Key { message, .. } => DecryptError::Key {
            name: name.to_owned(),
            message,
        },
        other => other,
    }
}
