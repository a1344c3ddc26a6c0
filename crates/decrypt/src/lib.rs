//! Decryption: SOPS-encrypted data in, cleartext out, in memory only.
//!
//! This crate is the pipeline's decrypt stage (source → render →
//! **decrypt** → apply). It reads the files `sops` writes — YAML, JSON,
//! dotenv, INI and binary, with `ENC[AES256_GCM,…]` values, key groups and
//! Shamir thresholds — unwraps the data key with age identities or OpenPGP
//! secret keys from a [`Keyring`], decrypts every value and verifies the
//! file's MAC before any cleartext is returned.
//!
//! On top of that, [`flux`] is what Flux's kustomize-controller decrypts for
//! a Kustomization with `spec.decryption`: rendered objects carrying SOPS
//! metadata, Secret `data` values that are SOPS documents themselves, and
//! the `files`/`envs` sources of `secretGenerator`s and patch files, which
//! are decrypted before the build (held in memory, handed to the renderer).
//!
//! # Why our own SOPS
//! No maintained Rust crate reads every SOPS format (the `rops` crate has
//! no dotenv, INI, binary or OpenPGP support). The primitives are
//! well-kept crates: `aes-gcm` (SOPS uses 32-byte GCM nonces, which `ring`
//! does not take), `age`, `pgp` (rPGP), `sha2`.
//!
//! # What it must not do
//! Write cleartext anywhere: no files, no logs. Errors name the file (or
//! object) and the tree path of a value, never a value, and the types that
//! hold cleartext or keys print as `<redacted>` in `Debug`. No network: a
//! file encrypted only for a cloud KMS or Vault is an error saying so.
//!
//! ```no_run
//! use driftless_decrypt::{Format, Keyring};
//! let mut keys = Keyring::default();
//! keys.add_age_identities(&std::fs::read_to_string("age.agekey")?)?;
//! let cleartext = driftless_decrypt::decrypt(&std::fs::read("secret.enc.yaml")?, Format::Yaml, &keys)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cipher;
mod datakey;
mod error;
pub mod flux;
mod keyring;
mod limits;
mod metadata;
mod shamir;
mod store;
mod tree;

pub use error::DecryptError;
pub use flux::{DecryptedSources, Decryptor};
pub use keyring::Keyring;
pub use limits::MAX_ENCRYPTED_FILE_SIZE;
pub use store::Format;

/// Decrypts a whole SOPS file in `format` and returns its cleartext in the
/// same format, as `sops --decrypt` prints it (see the README for the
/// known differences in YAML layout).
pub fn decrypt(data: &[u8], format: Format, keys: &Keyring) -> Result<Vec<u8>, DecryptError> {
    let mut decryptor = Decryptor::new(keys.clone());
    decryptor.decrypt_file(data, format, format)
}
