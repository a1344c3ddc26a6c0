//! Go strings whose bytes are not UTF-8.
//!
//! A Go `string` is any sequence of bytes. Charts meet ones that are not
//! UTF-8 when they read a binary file (`.Files.Get "keystore.jks" | b64enc`),
//! decode one (`b64dec`) or cut through a character (`trunc 63` of a name
//! with an accent). Helm keeps those bytes: `b64enc` and the checksums encode
//! them, `len` counts them, and a manifest that prints them fails to parse.
//! Rust strings are UTF-8, so the engine holds such a string as
//! [`RawString`]: its bytes for the functions that work on bytes, and Go's
//! rune view (what `for range` over the string yields: each byte of a bad
//! sequence as U+FFFD) for the functions that work on text.

use std::sync::Arc;

/// A Go `string` whose bytes are not valid UTF-8. One pointer wide, so
/// [`Value`](crate::Value) stays as small as its other variants make it.
#[derive(Clone, Debug)]
pub struct RawString(Arc<Contents>);

#[derive(Debug)]
struct Contents {
    bytes: Box<[u8]>,
    runes: Box<str>,
}

impl RawString {
    /// The string's bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The text Go's string functions see: each byte of a bad sequence
    /// decoded as U+FFFD, as `utf8.DecodeRuneInString` does.
    #[must_use]
    pub fn runes(&self) -> &str {
        &self.0.runes
    }
}

/// `bytes` as a Go string value: a [`Value::String`](crate::Value::String)
/// when they are UTF-8, else a [`Value::Raw`](crate::Value::Raw).
#[must_use]
pub fn go_string(bytes: Vec<u8>) -> crate::Value {
    match String::from_utf8(bytes) {
        Ok(text) => crate::Value::string(text),
        Err(not_utf8) => {
            let bytes = not_utf8.into_bytes().into_boxed_slice();
            let runes = rune_view(&bytes).into_boxed_str();
            crate::Value::Raw(RawString(Arc::new(Contents { bytes, runes })))
        }
    }
}

/// Go's view of `bytes` as runes: valid sequences as they are, one U+FFFD
/// per byte that does not start a valid sequence (Go advances one byte on
/// a decoding error, so a cut three-byte character gives two).
#[must_use]
pub fn rune_view(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for _ in chunk.invalid() {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    text
}

/// How many runes Go counts in `bytes` (`utf8.RuneCount`): every byte of a
/// bad sequence counts as one.
#[must_use]
pub fn rune_count(bytes: &[u8]) -> usize {
    bytes
        .utf8_chunks()
        .map(|chunk| chunk.valid().chars().count() + chunk.invalid().len())
        .sum()
}

/// The first `n` runes of `bytes`, counted as [`rune_count`] does.
#[must_use]
pub fn first_runes(bytes: &[u8], n: usize) -> &[u8] {
    let mut left = n;
    let mut end = 0;
    for chunk in bytes.utf8_chunks() {
        for (i, _) in chunk.valid().char_indices() {
            if left == 0 {
                return &bytes[..end + i];
            }
            left -= 1;
        }
        end += chunk.valid().len();
        for _ in chunk.invalid() {
            if left == 0 {
                return &bytes[..end];
            }
            left -= 1;
            end += 1;
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn values_stay_three_words() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn valid_text_stays_a_string() {
        assert!(matches!(go_string(b"caf\xc3\xa9".to_vec()), Value::String(s) if &*s == "café"));
    }

    #[test]
    fn bad_bytes_read_as_go_reads_them() {
        let Value::Raw(raw) = go_string(b"a\xe2\x82b\xff".to_vec()) else {
            panic!("not UTF-8");
        };
        assert_eq!(raw.bytes(), b"a\xe2\x82b\xff");
        assert_eq!(raw.runes(), "a\u{FFFD}\u{FFFD}b\u{FFFD}");
        assert_eq!(rune_count(raw.bytes()), 5);
        assert_eq!(first_runes(raw.bytes(), 2), b"a\xe2");
        assert_eq!(first_runes("héllo".as_bytes(), 2), "hé".as_bytes());
        assert_eq!(first_runes(b"ab", 5), b"ab");
    }
}
