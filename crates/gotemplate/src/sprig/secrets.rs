//! Password and secret functions: `bcrypt`, `htpasswd`, `derivePassword`,
//! `encryptAES`, `decryptAES`.
//!
//! - `bcrypt` is Go's `x/crypto/bcrypt` at its default cost 10 (`$2a$`,
//!   the key's trailing NUL, 23 of 24 hash bytes, bcrypt's own base64).
//! - `derivePassword` is the Master Password algorithm Sprig implements:
//!   scrypt (N=32768, r=8, p=2) keyed by the user, HMAC-SHA256 over the
//!   site and counter, then a character template. scrypt is small enough
//!   to write out here over `ring`'s PBKDF2, so no second crypto stack is
//!   needed; its output is deterministic and checked against Helm.
//! - `encryptAES` is AES-256-CBC with PKCS#7 padding and a random IV
//!   prepended, the password zero-padded or cut to 32 bytes.

use std::num::NonZeroU32;

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use ring::{hmac, pbkdf2};

use crate::args::string;
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap};
use crate::value::Value;

const BCRYPT_ALPHABET: &[u8; 64] =
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BCRYPT_COST: u32 = 10;

/// bcrypt's base64: its own alphabet, no padding.
fn bcrypt_base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(
                BCRYPT_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize],
            ));
        }
    }
    out
}

/// Go's `bcrypt.GenerateFromPassword(password, cost)` with `salt`.
fn bcrypt_hash(password: &[u8], cost: u32, salt: &[u8; 16]) -> Result<String, String> {
    if password.len() > 72 {
        return Err("bcrypt: password length exceeds 72 bytes".to_owned());
    }
    let mut key = password.to_vec();
    key.push(0);
    let mut state = <blowfish::Blowfish>::bc_init_state();
    state.salted_expand_key(salt, &key);
    for _ in 0..1u64 << cost {
        state.bc_expand_key(&key);
        state.bc_expand_key(salt);
    }
    let magic = b"OrpheanBeholderScryDoubt";
    let mut words = [0u32; 6];
    for (word, bytes) in words.iter_mut().zip(magic.chunks(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for pair in words.chunks_mut(2) {
        for _ in 0..64 {
            let [l, r] = state.bc_encrypt([pair[0], pair[1]]);
            pair[0] = l;
            pair[1] = r;
        }
    }
    let hash: Vec<u8> = words
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .take(23)
        .collect();
    Ok(format!(
        "$2a${cost:02}${}{}",
        &bcrypt_base64(salt)[..22],
        bcrypt_base64(&hash)
    ))
}

fn bcrypt(password: &str) -> String {
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&super::random::bytes(16));
    bcrypt_hash(password.as_bytes(), BCRYPT_COST, &salt)
        .unwrap_or_else(|e| format!("failed to encrypt string with bcrypt: {e}"))
}

fn salsa20_8(block: &mut [u32; 16]) {
    let input = *block;
    let x = block;
    let r = |a: u32, b: u32, n: u32| a.wrapping_add(b).rotate_left(n);
    for _ in 0..4 {
        x[4] ^= r(x[0], x[12], 7);
        x[8] ^= r(x[4], x[0], 9);
        x[12] ^= r(x[8], x[4], 13);
        x[0] ^= r(x[12], x[8], 18);
        x[9] ^= r(x[5], x[1], 7);
        x[13] ^= r(x[9], x[5], 9);
        x[1] ^= r(x[13], x[9], 13);
        x[5] ^= r(x[1], x[13], 18);
        x[14] ^= r(x[10], x[6], 7);
        x[2] ^= r(x[14], x[10], 9);
        x[6] ^= r(x[2], x[14], 13);
        x[10] ^= r(x[6], x[2], 18);
        x[3] ^= r(x[15], x[11], 7);
        x[7] ^= r(x[3], x[15], 9);
        x[11] ^= r(x[7], x[3], 13);
        x[15] ^= r(x[11], x[7], 18);
        x[1] ^= r(x[0], x[3], 7);
        x[2] ^= r(x[1], x[0], 9);
        x[3] ^= r(x[2], x[1], 13);
        x[0] ^= r(x[3], x[2], 18);
        x[6] ^= r(x[5], x[4], 7);
        x[7] ^= r(x[6], x[5], 9);
        x[4] ^= r(x[7], x[6], 13);
        x[5] ^= r(x[4], x[7], 18);
        x[11] ^= r(x[10], x[9], 7);
        x[8] ^= r(x[11], x[10], 9);
        x[9] ^= r(x[8], x[11], 13);
        x[10] ^= r(x[9], x[8], 18);
        x[12] ^= r(x[15], x[14], 7);
        x[13] ^= r(x[12], x[15], 9);
        x[14] ^= r(x[13], x[12], 13);
        x[15] ^= r(x[14], x[13], 18);
    }
    for (word, original) in x.iter_mut().zip(input) {
        *word = word.wrapping_add(original);
    }
}

/// scrypt's BlockMix over `2r` 16-word blocks.
fn block_mix(input: &[u32], output: &mut [u32], r: usize) {
    let mut x = [0u32; 16];
    x.copy_from_slice(&input[(2 * r - 1) * 16..]);
    for i in 0..2 * r {
        for (word, other) in x.iter_mut().zip(&input[i * 16..(i + 1) * 16]) {
            *word ^= other;
        }
        salsa20_8(&mut x);
        let at = (i / 2 + (i % 2) * r) * 16;
        output[at..at + 16].copy_from_slice(&x);
    }
}

/// scrypt's ROMix on one `128r`-byte block, in place.
fn ro_mix(block: &mut [u8], n: usize, r: usize) {
    let words = 32 * r;
    let mut x: Vec<u32> = block
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut v = vec![0u32; n * words];
    let mut scratch = vec![0u32; words];
    for i in 0..n {
        v[i * words..(i + 1) * words].copy_from_slice(&x);
        block_mix(&x, &mut scratch, r);
        std::mem::swap(&mut x, &mut scratch);
    }
    for _ in 0..n {
        let j = usize::try_from(x[(2 * r - 1) * 16]).unwrap_or(0) & (n - 1);
        for (word, other) in x.iter_mut().zip(&v[j * words..(j + 1) * words]) {
            *word ^= other;
        }
        block_mix(&x, &mut scratch, r);
        std::mem::swap(&mut x, &mut scratch);
    }
    for (bytes, word) in block.chunks_mut(4).zip(x) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
}

/// scrypt (RFC 7914) with PBKDF2-HMAC-SHA256 from `ring`.
fn scrypt(password: &[u8], salt: &[u8], n: usize, r: usize, p: usize, length: usize) -> Vec<u8> {
    let one = NonZeroU32::new(1).expect("1 is not zero");
    let mut blocks = vec![0u8; p * 128 * r];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, one, salt, password, &mut blocks);
    for block in blocks.chunks_mut(128 * r) {
        ro_mix(block, n, r);
    }
    let mut out = vec![0u8; length];
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, one, &blocks, password, &mut out);
    out
}

const SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

fn length_prefixed(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Sprig's `derivePassword` (Master Password).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    length_prefixed(&mut salt, user);
    let key = scrypt(password.as_bytes(), &salt, 32768, 8, 2, 64);
    let mut message = SEED.as_bytes().to_vec();
    length_prefixed(&mut message, site);
    message.extend_from_slice(&counter.to_be_bytes());
    let seed = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &message);
    let seed = seed.as_ref();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, class)| {
            let chars = template_characters(class);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

fn aes_key(password: &str) -> aes::Aes256 {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let len = bytes.len().min(32);
    key[..len].copy_from_slice(&bytes[..len]);
    aes::Aes256::new(GenericArray::from_slice(&key))
}

fn encrypt_aes(password: &str, plaintext: &str) -> String {
    if plaintext.is_empty() {
        return String::new();
    }
    let cipher = aes_key(password);
    let mut content = plaintext.as_bytes().to_vec();
    let padding = 16 - content.len() % 16;
    content.extend(std::iter::repeat_n(
        u8::try_from(padding).unwrap_or(16),
        padding,
    ));
    let mut out = super::random::bytes(16);
    let mut previous: aes::Block = GenericArray::clone_from_slice(&out);
    for chunk in content.chunks(16) {
        let mut block = GenericArray::clone_from_slice(chunk);
        for (byte, prior) in block.iter_mut().zip(previous.iter()) {
            *byte ^= prior;
        }
        cipher.encrypt_block(&mut block);
        out.extend_from_slice(&block);
        previous = block;
    }
    super::encoding::base64_std(&out)
}

fn decrypt_aes(password: &str, encoded: &str) -> Result<String, String> {
    if encoded.is_empty() {
        return Ok(String::new());
    }
    let crypt = super::encoding::base64_std_decode(encoded)?;
    if crypt.len() < 16 {
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt.len()
        ));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".to_owned());
    }
    if body.is_empty() {
        return Err("runtime error: index out of range [-1]".to_owned());
    }
    let cipher = aes_key(password);
    let mut previous: aes::Block = GenericArray::clone_from_slice(iv);
    let mut plain = Vec::with_capacity(body.len());
    for chunk in body.chunks(16) {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.decrypt_block(&mut block);
        for (byte, prior) in block.iter_mut().zip(previous.iter()) {
            *byte ^= prior;
        }
        plain.extend_from_slice(&block);
        previous = GenericArray::clone_from_slice(chunk);
    }
    let padding = usize::from(*plain.last().unwrap_or(&0));
    let Some(end) = plain.len().checked_sub(padding) else {
        return Err(format!(
            "runtime error: slice bounds out of range [:-{}]",
            padding - plain.len()
        ));
    };
    Ok(String::from_utf8_lossy(&plain[..end]).into_owned())
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("bcrypt", Arity::Exact(1), |a| {
        Ok(Value::string(bcrypt(string(&a[0])?)))
    });
    map.add("htpasswd", Arity::Exact(2), |a| {
        let (user, password) = (string(&a[0])?, string(&a[1])?);
        Ok(Value::string(if user.contains(':') {
            format!("invalid username: {user}")
        } else {
            format!("{user}:{}", bcrypt(password))
        }))
    });
    map.add("derivePassword", Arity::Exact(5), |a| {
        let counter = match &a[0] {
            Value::Int(n) => u32::try_from(*n)
                .map_err(|_| FuncError::argument(format!("{n} overflows uint32")))?,
            other => return Err(FuncError::wrong_type("uint32", other)),
        };
        let (kind, password, user, site) = (
            string(&a[1])?,
            string(&a[2])?,
            string(&a[3])?,
            string(&a[4])?,
        );
        Ok(Value::string(derive_password(
            counter, kind, password, user, site,
        )))
    });
    map.add("encryptAES", Arity::Exact(2), |a| {
        Ok(Value::string(encrypt_aes(string(&a[0])?, string(&a[1])?)))
    });
    map.add("decryptAES", Arity::Exact(2), |a| {
        decrypt_aes(string(&a[0])?, string(&a[1])?)
            .map(Value::string)
            .map_err(FuncError::new)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_matches_the_openbsd_vectors() {
        // From the OpenBSD/Go test vectors: "U*U" with cost 5.
        let salt = [
            0x10, 0x41, 0x04, 0x10, 0x41, 0x04, 0x10, 0x41, 0x04, 0x10, 0x41, 0x04, 0x10, 0x41,
            0x04, 0x10,
        ];
        let hash = bcrypt_hash(b"U*U", 5, &salt).unwrap_or_default();
        assert_eq!(
            hash,
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        );
        assert!(bcrypt_hash(&[b'a'; 73], 4, &salt).is_err());
    }

    #[test]
    fn scrypt_matches_rfc_7914() {
        let key = scrypt(b"password", b"NaCl", 1024, 8, 16, 64);
        assert_eq!(
            &super::super::random::hex_lower(&key)[..32],
            "fdbabe1c9d3472007856e7190d01e9fe"
        );
    }

    #[test]
    fn derive_password_matches_helm() {
        assert_eq!(
            derive_password(1, "long", "password", "user", "example.com"),
            "ZedaFaxcZaso9*"
        );
        assert_eq!(
            derive_password(1, "nope", "p", "u", "s"),
            "cannot find password template nope"
        );
    }

    #[test]
    fn aes_round_trips() {
        let encrypted = encrypt_aes("secretkey", "plaintext");
        assert_eq!(
            decrypt_aes("secretkey", &encrypted).as_deref(),
            Ok("plaintext")
        );
        assert_eq!(encrypt_aes("k", ""), "");
        assert!(decrypt_aes("k", "YQ==").is_err());
    }
}
