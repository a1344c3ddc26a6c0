//! Commit signatures: the armored text that goes into a commit's `gpgsig`
//! header, over the commit object as it is without that header (what
//! `git verify-commit` checks).
//!
//! - OpenPGP (Flux's `signingKey.secretRef`, `git.asc` + `passphrase`): a
//!   binary detached signature, SHA-256, armored, made with `pgp` (rpgp, pure
//!   Rust; already in the build for SOPS). The signature's creation time is
//!   the commit's time, so no clock is read here.
//! - SSH: an `SSHSIG` in namespace `git` (what `git` makes with
//!   `gpg.format=ssh`), SHA-512, made with `ssh-key` (RustCrypto).
//!
//! Keys and passphrases never appear in errors or `Debug` output.

use crate::Error;

/// A private key to sign commits with.
#[derive(Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// An armored OpenPGP private key (`-----BEGIN PGP PRIVATE KEY BLOCK-----`).
    OpenPgp {
        /// The armored key; a signing subkey is preferred over the primary key, as gpg does.
        armored_key: String,
        /// The passphrase, when the key is protected.
        passphrase: Option<String>,
    },
    /// An OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    Ssh {
        /// The key text.
        private_key: String,
        /// The passphrase, when the key is encrypted.
        passphrase: Option<String>,
    },
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::OpenPgp { .. } => f.write_str("OpenPgp(<redacted>)"),
            SigningKey::Ssh { .. } => f.write_str("Ssh(<redacted>)"),
        }
    }
}

impl SigningKey {
    /// The armored signature over `payload`, made at `time` (seconds since the epoch).
    pub(crate) fn sign(&self, payload: &[u8], time: i64) -> Result<String, Error> {
        match self {
            SigningKey::OpenPgp {
                armored_key,
                passphrase,
            } => openpgp(armored_key, passphrase.as_deref(), payload, time),
            SigningKey::Ssh {
                private_key,
                passphrase,
            } => ssh(private_key, passphrase.as_deref(), payload),
        }
    }
}

fn pgp_error(source: impl Into<crate::Cause>) -> Error {
    Error::SigningKey {
        kind: "OpenPGP",
        source: source.into(),
    }
}

fn openpgp(
    armored: &str,
    passphrase: Option<&str>,
    payload: &[u8],
    time: i64,
) -> Result<String, Error> {
    use pgp::composed::{Deserializable, DetachedSignature, SignedSecretKey, SubpacketConfig};
    use pgp::packet::{Subpacket, SubpacketData};
    use pgp::types::{KeyVersion, Password, Timestamp};

    let (key, _) = SignedSecretKey::from_armor_single(std::io::Cursor::new(armored.as_bytes()))
        .map_err(pgp_error)?;
    let password = passphrase.map_or_else(Password::empty, Password::from);
    let created = u32::try_from(time)
        .map_err(|_| pgp_error(format!("commit time {time} is outside OpenPGP's range")))?;
    // gpg signs with the newest subkey that may sign, else the primary key.
    let subkey = key
        .secret_subkeys
        .iter()
        .rev()
        .find(|sub| sub.signatures.iter().any(|sig| sig.key_flags().sign()));
    let signer: &dyn pgp::types::SigningKey = match subkey {
        Some(sub) => &sub.key,
        None => &key.primary_key,
    };
    let hashed = vec![
        Subpacket::regular(SubpacketData::IssuerFingerprint(signer.fingerprint()))
            .map_err(pgp_error)?,
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
            created,
        )))
        .map_err(pgp_error)?,
    ];
    let mut unhashed = Vec::new();
    if signer.version() <= KeyVersion::V4 {
        unhashed.push(
            Subpacket::regular(SubpacketData::IssuerKeyId(signer.legacy_key_id()))
                .map_err(pgp_error)?,
        );
    }
    let signature = DetachedSignature::sign_binary_data_with_subpackets(
        rand08::thread_rng(),
        // pgp implements its signing trait for a boxed trait object.
        &Box::new(signer),
        &password,
        pgp::crypto::hash::HashAlgorithm::Sha256,
        payload,
        SubpacketConfig::UserDefined { hashed, unhashed },
    )
    .map_err(pgp_error)?;
    signature
        .to_armored_string(pgp::composed::ArmorOptions::default())
        .map_err(pgp_error)
}

fn ssh(private_key: &str, passphrase: Option<&str>, payload: &[u8]) -> Result<String, Error> {
    let error = |source: ssh_key::Error| Error::SigningKey {
        kind: "SSH",
        source: Box::new(source),
    };
    let mut key = ssh_key::PrivateKey::from_openssh(private_key).map_err(error)?;
    if key.is_encrypted() {
        let Some(passphrase) = passphrase else {
            return Err(Error::SigningKey {
                kind: "SSH",
                source: "the key is encrypted and no passphrase was given".into(),
            });
        };
        key = key.decrypt(passphrase).map_err(error)?;
    }
    let signature = key
        .sign("git", ssh_key::HashAlg::Sha512, payload)
        .map_err(error)?;
    signature.to_pem(ssh_key::LineEnding::LF).map_err(error)
}
