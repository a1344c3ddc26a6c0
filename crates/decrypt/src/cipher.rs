//! SOPS's value cipher: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
//!
//! AES-256-GCM with the nonce size of the stored IV (32 bytes as `sops`
//! writes them), the value's tree path as additional data, and the
//! plaintext's type recorded beside it.

use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use driftless_render::yaml::Value;

/// A decrypted value, typed as SOPS recorded it.
pub enum Plain {
    /// `type:str` (and `bytes`, which only YAML-less stores write).
    Str(String),
    /// `type:int`.
    Int(i128),
    /// `type:float`.
    Float(f64),
    /// `type:bool`.
    Bool(bool),
    /// `type:comment`: a comment's text.
    Comment(String),
}

impl Plain {
    /// As a tree value.
    pub fn into_value(self) -> Value {
        match self {
            Plain::Str(s) => Value::Str(s),
            Plain::Int(i) => Value::Int(i),
            Plain::Float(f) => Value::Float(f),
            Plain::Bool(b) => Value::Bool(b),
            Plain::Comment(c) => Value::Str(c),
        }
    }
}

/// Whether `s` is in SOPS's encrypted-value syntax.
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,") && s.ends_with(']')
}

/// Why a value could not be decrypted; never carries the value.
pub struct ValueError(pub String);

struct Parts {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: String,
}

fn parse(value: &str) -> Result<Parts, ValueError> {
    let inner = value
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| ValueError("not in sops' ENC[AES256_GCM,…] format".into()))?;
    let mut data = None;
    let mut iv = None;
    let mut tag = None;
    let mut kind = None;
    for field in inner.split(',') {
        let (name, content) = field
            .split_once(':')
            .ok_or_else(|| ValueError("malformed ENC[] field".into()))?;
        let decode = |what: &str| {
            STANDARD
                .decode(content)
                .map_err(|_| ValueError(format!("{what} is not base64")))
        };
        match name {
            "data" => data = Some(decode("data")?),
            "iv" => iv = Some(decode("iv")?),
            "tag" => tag = Some(decode("tag")?),
            "type" => kind = Some(content.to_owned()),
            _ => return Err(ValueError(format!("unknown ENC[] field {name:?}"))),
        }
    }
    match (data, iv, tag, kind) {
        (Some(data), Some(iv), Some(tag), Some(kind)) => Ok(Parts {
            data,
            iv,
            tag,
            kind,
        }),
        _ => Err(ValueError("ENC[] value lacks data, iv, tag or type".into())),
    }
}

fn open(key: &[u8; 32], parts: &Parts, aad: &[u8]) -> Result<Vec<u8>, ValueError> {
    if parts.tag.len() != 16 {
        return Err(ValueError("the GCM tag is not 16 bytes".into()));
    }
    let mut sealed = Vec::with_capacity(parts.data.len() + 16);
    sealed.extend_from_slice(&parts.data);
    sealed.extend_from_slice(&parts.tag);
    let payload = Payload { msg: &sealed, aad };
    let key = GenericArray::from_slice(key);
    let failed = |_| ValueError("authentication failed".into());
    match parts.iv.len() {
        32 => AesGcm::<Aes256, U32, U16>::new(key)
            .decrypt(GenericArray::from_slice(&parts.iv), payload)
            .map_err(failed),
        12 => AesGcm::<Aes256, U12, U16>::new(key)
            .decrypt(GenericArray::from_slice(&parts.iv), payload)
            .map_err(failed),
        n => Err(ValueError(format!("unsupported IV size {n}"))),
    }
}

/// Decrypts one `ENC[…]` value with the data key, `aad` being its tree
/// path (`a:b:`) or, for the MAC, the `lastmodified` timestamp. An empty
/// string is SOPS's encryption of an empty value.
pub fn decrypt(value: &str, key: &[u8; 32], aad: &str) -> Result<Plain, ValueError> {
    if value.is_empty() {
        return Ok(Plain::Str(String::new()));
    }
    let parts = parse(value)?;
    let bytes = open(key, &parts, aad.as_bytes())?;
    let text = || String::from_utf8(bytes.clone()).map_err(|_| ValueError("not UTF-8".into()));
    let typed = |what: &str| ValueError(format!("decrypted {what} does not parse"));
    Ok(match parts.kind.as_str() {
        "str" | "bytes" => Plain::Str(text()?),
        "int" => Plain::Int(text()?.parse().map_err(|_| typed("int"))?),
        "float" => Plain::Float(text()?.parse().map_err(|_| typed("float"))?),
        "bool" => Plain::Bool(parse_go_bool(&text()?).ok_or_else(|| typed("bool"))?),
        "comment" => Plain::Comment(text()?),
        other => return Err(ValueError(format!("unknown value type {other:?}"))),
    })
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
