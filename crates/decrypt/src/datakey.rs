//! Recovering a file's data key: each key group's share is unwrapped with
//! the first key of the keyring that opens it (age before OpenPGP, as
//! SOPS's default decryption order), and several groups' shares combine
//! by Shamir's scheme.

use std::io::Read;

use zeroize::Zeroizing;

use crate::error::DecryptError;
use crate::keyring::Keyring;
use crate::metadata::{KeyGroup, Metadata};
use crate::shamir;

/// A data key; wiped from memory when dropped.
pub type DataKey = Zeroizing<[u8; 32]>;

/// The largest wrapped share read (a data key is 32 bytes; a share 33).
const MAX_SHARE: u64 = 1024;

/// Unwraps the data key of `metadata` with `keys`.
pub fn recover(metadata: &Metadata, keys: &Keyring) -> Result<DataKey, DecryptError> {
    let mut shares = Vec::new();
    let mut failures = Vec::new();
    for group in &metadata.groups {
        match open_group(group, keys) {
            Ok(share) => shares.push(share),
            Err(e) => failures.push(e),
        }
    }
    let key: Zeroizing<Vec<u8>> = if metadata.groups.len() > 1 {
        if shares.len() < metadata.shamir_threshold {
            if shares.is_empty() && failures.len() == 1 {
                return Err(failures.remove(0));
            }
            return Err(DecryptError::Threshold {
                opened: shares.len(),
                needed: metadata.shamir_threshold,
                details: failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        let parts: Vec<Vec<u8>> = shares.iter().map(|s| s.to_vec()).collect();
        let combined = shamir::combine(&parts).map_err(DecryptError::DataKey);
        for mut part in parts {
            zeroize::Zeroize::zeroize(&mut part);
        }
        Zeroizing::new(combined?)
    } else {
        match shares.pop() {
            Some(share) => share,
            None => {
                return Err(failures
                    .pop()
                    .unwrap_or_else(|| DecryptError::Metadata("no key groups".into())));
            }
        }
    };
    let array: [u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| DecryptError::DataKey(format!("{} bytes instead of 32", key.len())))?;
    Ok(Zeroizing::new(array))
}

fn open_group(group: &KeyGroup, keys: &Keyring) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    if group.age.is_empty() && group.pgp.is_empty() {
        return Err(DecryptError::UnsupportedKeyServices(
            if group.unsupported.is_empty() {
                "no key service".into()
            } else {
                group.unsupported.join(", ")
            },
        ));
    }
    for wrapped in &group.age {
        if let Some(share) = open_age(&wrapped.encrypted, keys) {
            return Ok(share);
        }
    }
    for wrapped in &group.pgp {
        if let Some(share) = open_pgp(&wrapped.encrypted, keys) {
            return Ok(share);
        }
    }
    let mut recipients: Vec<String> = group
        .age
        .iter()
        .map(|k| format!("age {}", k.recipient))
        .collect();
    recipients.extend(
        group
            .pgp
            .iter()
            .map(|k| format!("OpenPGP {}", k.fingerprint)),
    );
    Err(DecryptError::NoMatchingKey {
        recipients: recipients.join(", "),
    })
}

fn open_age(armored: &str, keys: &Keyring) -> Option<Zeroizing<Vec<u8>>> {
    if keys.age.is_empty() {
        return None;
    }
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor = age::Decryptor::new(reader).ok()?;
    let identities = keys.age.iter().map(|i| i.as_ref() as &dyn age::Identity);
    let stream = decryptor.decrypt(identities).ok()?;
    let mut share = Zeroizing::new(Vec::new());
    stream.take(MAX_SHARE).read_to_end(&mut share).ok()?;
    Some(share)
}

fn open_pgp(armored: &str, keys: &Keyring) -> Option<Zeroizing<Vec<u8>>> {
    use pgp::composed::Message;
    use pgp::types::Password;
    if keys.pgp.is_empty() {
        return None;
    }
    for key in &keys.pgp {
        let Ok((message, _)) = Message::from_string(armored) else {
            return None;
        };
        let Ok(mut decrypted) = message.decrypt(&Password::empty(), key) else {
            continue;
        };
        if decrypted.is_compressed() {
            decrypted = decrypted.decompress().ok()?;
        }
        let mut share = Zeroizing::new(Vec::new());
        // Read through the message, bounded: a compressed literal could
        // otherwise expand without limit.
        decrypted.take(MAX_SHARE).read_to_end(&mut share).ok()?;
        return Some(share);
    }
    None
}
