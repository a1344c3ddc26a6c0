//! Why decryption failed. Messages name the field or tree path and the way
//! out; they never carry a decrypted value or key material.

/// A failure to decrypt one SOPS document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The file is not valid in the format it was read as.
    #[error("cannot read the encrypted {format} data: {message}")]
    Parse {
        /// The format it was read as.
        format: &'static str,
        /// What the parser refused.
        message: String,
    },
    /// The document has no `sops` metadata.
    #[error("no sops metadata found; encrypt the file with sops, or remove it from decryption")]
    NoMetadata,
    /// A metadata field is malformed.
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    /// The data key is wrapped only for key services driftless does not
    /// support.
    #[error(
        "the data key is encrypted only for {0}, which driftless does not support yet; add an age or OpenPGP recipient with `sops updatekeys`"
    )]
    UnsupportedKeyServices(String),
    /// None of the keyring's keys unwraps a key group's data key.
    #[error(
        "no decryption key matches {recipients}; put the matching age identity (*.agekey) or OpenPGP secret key (*.asc) in the decryption Secret"
    )]
    NoMatchingKey {
        /// The recipients (public keys, fingerprints) the file names.
        recipients: String,
    },
    /// Fewer key groups could be opened than the Shamir threshold needs.
    #[error(
        "only {opened} of the {needed} key groups needed (shamir_threshold) could be opened: {details}"
    )]
    Threshold {
        /// Groups opened.
        opened: usize,
        /// The threshold.
        needed: usize,
        /// Why the others failed.
        details: String,
    },
    /// The unwrapped data key is not a 32-byte AES key, or the Shamir
    /// parts do not combine.
    #[error("the recovered data key is invalid: {0}")]
    DataKey(String),
    /// A value failed authenticated decryption: it was changed, moved to
    /// another key, or encrypted with another data key.
    #[error(
        "the value at {path} cannot be decrypted ({reason}); the file was modified after encryption — restore it or re-encrypt it with sops"
    )]
    Value {
        /// The value's tree path, `a:b:` as SOPS writes it.
        path: String,
        /// What failed, without the value.
        reason: String,
    },
    /// The file's MAC does not match its content.
    #[error(
        "failed to verify sops data integrity: the MAC does not match the content; the file was modified after encryption — restore it or re-encrypt it with sops"
    )]
    MacMismatch,
    /// A key could not be imported.
    #[error("cannot import {name}: {message}")]
    Key {
        /// The key's name (a Secret data key or a file).
        name: String,
        /// Why.
        message: String,
    },
    /// The file is larger than decryption accepts.
    #[error("encrypted data of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The cleartext cannot be written in the output format.
    #[error("cannot write the decrypted data as {format}: {message}")]
    Emit {
        /// The output format.
        format: &'static str,
        /// Why.
        message: String,
    },
}
