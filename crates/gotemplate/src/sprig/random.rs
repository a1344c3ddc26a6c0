//! Randomness: `randAlphaNum`, `randAlpha`, `randNumeric`, `randAscii`,
//! `randBytes`, `shuffle`, `uuidv4`, and the draws `randInt` uses.
//!
//! Sprig draws from the operating system's CSPRNG (Go's `crypto/rand`);
//! so does this module, through `ring`. Outputs differ between runs by
//! design, as with Helm.

use ring::rand::{SecureRandom, SystemRandom};

use crate::args::{int, string};
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap};
use crate::value::Value;

/// `n` random bytes from the system CSPRNG.
pub(crate) fn bytes(n: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; n];
    // The system generator only fails when the OS has no entropy source,
    // in which case nothing secure can run at all.
    SystemRandom::new()
        .fill(&mut buffer)
        .expect("the operating system's random generator is available");
    buffer
}

/// A uniform draw from `0..n` (`n` > 0), by rejection sampling.
pub(crate) fn below(n: u64) -> u64 {
    if n <= 1 {
        return 0;
    }
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&bytes(8));
        let draw = u64::from_le_bytes(raw);
        if draw < zone {
            return draw % n;
        }
    }
}

const MAX_RANDOM_LENGTH: i64 = 1 << 20;

fn random_string(count: i64, alphabet: &[u8]) -> Result<String, FuncError> {
    if count < 0 {
        return Err(FuncError::new(format!(
            "Requested random string length {count} is less than 0."
        )));
    }
    if count > MAX_RANDOM_LENGTH {
        return Err(FuncError::new(format!(
            "Requested random string length {count} exceeds {MAX_RANDOM_LENGTH}"
        )));
    }
    let len = u64::try_from(alphabet.len()).unwrap_or(1);
    Ok((0..count)
        .map(|_| char::from(alphabet[usize::try_from(below(len)).unwrap_or(0)]))
        .collect())
}

const DIGITS: &[u8] = b"0123456789";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub(crate) fn register(map: &mut FuncMap) {
    map.add("randAlphaNum", Arity::Exact(1), |a| {
        random_string(int(&a[0])?, ALPHANUMERIC).map(Value::string)
    });
    map.add("randAlpha", Arity::Exact(1), |a| {
        random_string(int(&a[0])?, LETTERS).map(Value::string)
    });
    map.add("randNumeric", Arity::Exact(1), |a| {
        random_string(int(&a[0])?, DIGITS).map(Value::string)
    });
    map.add("randAscii", Arity::Exact(1), |a| {
        let printable: Vec<u8> = (32u8..127).collect();
        random_string(int(&a[0])?, &printable).map(Value::string)
    });
    map.add("randBytes", Arity::Exact(1), |a| {
        let count = int(&a[0])?;
        if !(0..=MAX_RANDOM_LENGTH).contains(&count) {
            return Err(FuncError::new(format!(
                "randBytes: {count} bytes is out of range 0..={MAX_RANDOM_LENGTH}"
            )));
        }
        let count = usize::try_from(count).unwrap_or(0);
        Ok(Value::string(super::encoding::base64_std(&bytes(count))))
    });
    map.add("shuffle", Arity::Exact(1), |a| {
        let mut chars: Vec<char> = string(&a[0])?.chars().collect();
        for i in (1..chars.len()).rev() {
            let j = usize::try_from(below(u64::try_from(i + 1).unwrap_or(1))).unwrap_or(0);
            chars.swap(i, j);
        }
        Ok(Value::string(chars.into_iter().collect::<String>()))
    });
    map.add("uuidv4", Arity::Exact(0), |_| Ok(Value::string(uuid_v4())));
}

/// A random (version 4, RFC 4122 variant) UUID in canonical form.
pub(crate) fn uuid_v4() -> String {
    let mut raw = bytes(16);
    raw[6] = (raw[6] & 0x0f) | 0x40;
    raw[8] = (raw[8] & 0x3f) | 0x80;
    let hex = hex_lower(&raw);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_use_their_alphabet() {
        let text = random_string(200, DIGITS).unwrap_or_default();
        assert_eq!(text.len(), 200);
        assert!(text.bytes().all(|b| b.is_ascii_digit()));
        let uuid = uuid_v4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(below(10) < 10);
    }
}
