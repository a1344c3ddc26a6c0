//! Decrypting a SOPS tree in place and checking its MAC.
//!
//! The walk is SOPS's: mappings in document order, each key extending the
//! path, sequence items keeping their parent's path, nulls skipped. Every
//! leaf the metadata marks as encrypted is decrypted with its path
//! (`a:b:`) as additional data; the MAC is SHA-512 over every leaf's
//! cleartext bytes in walk order (only encrypted ones with
//! `mac_only_encrypted`), compared with the stored MAC before the caller
//! sees any of it.

use driftless_render::yaml::Value;
use sha2::{Digest, Sha512};

use crate::cipher::{self, Plain};
use crate::datakey::DataKey;
use crate::error::DecryptError;
use crate::metadata::Metadata;

/// SHA-256 of `sops`: the MAC's starting bytes when it covers only
/// encrypted values, so the two kinds of MAC never collide (as SOPS does).
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// A decryption pass over one file's documents: decrypts leaves and
/// accumulates the MAC.
pub struct Walk<'a> {
    metadata: &'a Metadata,
    key: &'a DataKey,
    hash: Sha512,
}

impl<'a> Walk<'a> {
    /// Starts a pass.
    pub fn new(metadata: &'a Metadata, key: &'a DataKey) -> Walk<'a> {
        let mut hash = Sha512::new();
        if metadata.mac_only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Walk {
            metadata,
            key,
            hash,
        }
    }

    /// Decrypts every encrypted leaf under `value`, at `path`.
    pub fn value(&mut self, value: &mut Value, path: &mut Vec<String>) -> Result<(), DecryptError> {
        match value {
            Value::Null => Ok(()),
            Value::Map(map) => {
                for (key, child) in map.iter_mut() {
                    path.push(key.clone());
                    let result = self.value(child, path);
                    path.pop();
                    result?;
                }
                Ok(())
            }
            Value::Seq(items) => items.iter_mut().try_for_each(|item| self.value(item, path)),
            leaf => self.leaf(leaf, path),
        }
    }

    /// Decrypts one leaf.
    pub fn leaf(&mut self, leaf: &mut Value, path: &[String]) -> Result<(), DecryptError> {
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let encrypted = self.metadata.selector.encrypted(&segments, leaf);
        if encrypted {
            let Value::Str(stored) = leaf else {
                return Err(DecryptError::Value {
                    path: aad(path),
                    reason: format!("expected an encrypted string, found a {}", leaf.type_name()),
                });
            };
            let plain =
                cipher::decrypt(stored, self.key, &aad(path)).map_err(|e| DecryptError::Value {
                    path: aad(path),
                    reason: e.0,
                })?;
            *leaf = match plain {
                Plain::Comment(text) => Value::Str(text),
                other => other.into_value(),
            };
        }
        if !self.metadata.mac_only_encrypted || encrypted {
            self.hash.update(leaf_bytes(leaf));
        }
        Ok(())
    }

    /// Decrypts a comment in place when it is encrypted; a comment that
    /// does not decrypt stays as it is (files from older SOPS versions
    /// kept comments in clear), as SOPS does. Comments are never hashed.
    pub fn comment(&self, comment: &mut String, parent: &[String]) {
        if !cipher::is_encrypted(comment) {
            return;
        }
        if let Ok(Plain::Comment(text) | Plain::Str(text)) =
            cipher::decrypt(comment, self.key, &aad(parent))
        {
            *comment = text;
        }
    }

    /// Finishes the pass: the computed MAC must equal the stored one.
    pub fn verify(self) -> Result<(), DecryptError> {
        let computed = hex::encode_upper(self.hash.finalize());
        let Ok(Plain::Str(stored)) =
            cipher::decrypt(&self.metadata.mac, self.key, &self.metadata.last_modified)
        else {
            return Err(DecryptError::MacMismatch);
        };
        if stored.len() == computed.len()
            && constant_time_eq(stored.as_bytes(), computed.as_bytes())
        {
            Ok(())
        } else {
            Err(DecryptError::MacMismatch)
        }
    }
}

/// The additional data of the value at `path`: the keys joined with `:`
/// and a trailing `:`.
fn aad(path: &[String]) -> String {
    let mut out = path.join(":");
    out.push(':');
    out
}

/// SOPS's `ToBytes`: the bytes a leaf contributes to the MAC.
fn leaf_bytes(leaf: &Value) -> Vec<u8> {
    match leaf {
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::Float(f) => go_float(*f).into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Null | Value::Map(_) | Value::Seq(_) => Vec::new(),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, no exponent.
fn go_float(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    format!("{f}")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_hash_as_sops_writes_them() {
        assert_eq!(leaf_bytes(&Value::Bool(true)), b"True");
        assert_eq!(leaf_bytes(&Value::Int(-42)), b"-42");
        assert_eq!(leaf_bytes(&Value::Float(1.5)), b"1.5");
        assert_eq!(leaf_bytes(&Value::Float(1e21)), b"1000000000000000000000");
        assert_eq!(leaf_bytes(&Value::Float(3.0)), b"3");
        assert_eq!(aad(&["data".into(), "password".into()]), "data:password:");
        assert_eq!(aad(&[]), ":");
    }
}
