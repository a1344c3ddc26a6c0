//! `--decrypt-key-file`: private keys for SOPS decryption on the command
//! line, read as a Kustomization's decryption Secret is (`*.agekey` age
//! identities, `*.asc` OpenPGP secret keys; another name is tried as both).

use std::path::PathBuf;

use anyhow::Context as _;
use driftless_decrypt::Keyring;

/// The keyring the files make, or `None` when none is given.
pub fn keyring(files: &[PathBuf]) -> anyhow::Result<Option<Keyring>> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut keys = Keyring::default();
    for file in files {
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read decryption key file {}", file.display()))?;
        let name = file.display().to_string();
        let added = if name.ends_with(".agekey") || name.ends_with(".asc") {
            keys.add_secret_entry(&name, &bytes)
        } else {
            let text = String::from_utf8_lossy(&bytes);
            keys.add_age_identities(&text)
                .or_else(|_| keys.add_pgp_keys(&bytes))
        };
        added.with_context(|| {
            format!(
                "{} holds no age identity (AGE-SECRET-KEY-1…) or OpenPGP secret key",
                file.display()
            )
        })?;
    }
    Ok(Some(keys))
}
