//! Encodings: `b64enc`, `b64dec`, `b32enc`, `b32dec`.
//!
//! Sprig decodes with Go's standard (padded) alphabets and returns the
//! decoder's error text as the *result string* instead of failing, which
//! charts have come to rely on; that is reproduced here. All four take a
//! Go `string`: a `[]byte` (`.Files.GetBytes`) or a number is an error.
//! Encoding reads the string's bytes and decoding returns bytes, UTF-8 or
//! not, as Go's do.

use crate::args::{string, string_bytes};
use crate::funcs::{Arity, FuncMap};
use crate::raw_string::go_string;
use crate::value::Value;

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(crate) fn register(map: &mut FuncMap) {
    map.add("b64enc", Arity::Exact(1), |args| {
        Ok(Value::string(base64_std(string_bytes(&args[0])?)))
    });
    map.add("b64dec", Arity::Exact(1), |args| {
        Ok(match base64_std_decode(string(&args[0])?) {
            Ok(bytes) => go_string(bytes),
            Err(message) => Value::string(message),
        })
    });
    map.add("b32enc", Arity::Exact(1), |args| {
        Ok(Value::string(base32_std(string_bytes(&args[0])?)))
    });
    map.add("b32dec", Arity::Exact(1), |args| {
        Ok(match base32_std_decode(string(&args[0])?) {
            Ok(bytes) => go_string(bytes),
            Err(message) => Value::string(message),
        })
    });
}

/// Go's `base64.StdEncoding.EncodeToString`.
#[must_use]
pub fn base64_std(input: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// Go's `base64.StdEncoding.DecodeString`, with its error text: the
/// offset reported is the offending byte, or the start of an incomplete
/// final quantum; CR and LF are skipped anywhere.
///
/// # Errors
/// Go's `illegal base64 data at input byte N`.
pub fn base64_std_decode(input: &str) -> Result<Vec<u8>, String> {
    let src = input.as_bytes();
    let corrupt = |at: usize| format!("illegal base64 data at input byte {at}");
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        let mut quantum = [0u8; 4];
        let mut filled = 0;
        let mut padded = false;
        while filled < 4 {
            if si == src.len() {
                if filled == 0 {
                    return Ok(out);
                }
                return Err(corrupt(si - filled));
            }
            let byte = src[si];
            si += 1;
            if byte == b'\n' || byte == b'\r' {
                continue;
            }
            if let Some(value) = STD.iter().position(|c| *c == byte) {
                quantum[filled] = u8::try_from(value).unwrap_or(0);
                filled += 1;
                continue;
            }
            if byte != b'=' {
                return Err(corrupt(si - 1));
            }
            // Padding: "=" after two or three data characters.
            match filled {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                si += 1;
            }
            if si < src.len() {
                return Err(corrupt(si));
            }
            padded = true;
            break;
        }
        let n = quantum
            .iter()
            .fold(0u32, |acc, v| (acc << 6) | u32::from(*v));
        let bytes = n.to_be_bytes();
        let keep = if padded { filled - 1 } else { 3 };
        out.extend_from_slice(&bytes[1..=keep]);
    }
    Ok(out)
}

/// Go's `base32.StdEncoding.EncodeToString`.
pub(crate) fn base32_std(input: &[u8]) -> String {
    let mut out = String::new();
    for chunk in input.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(char::from(BASE32[((n >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString`, with its error text.
pub(crate) fn base32_std_decode(input: &str) -> Result<Vec<u8>, String> {
    let clean: Vec<(usize, u8)> = input
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b != b'\n' && *b != b'\r')
        .collect();
    let mut out = Vec::new();
    for group in clean.chunks(8) {
        if group.len() < 8 {
            return Err(format!(
                "illegal base32 data at input byte {}",
                group[0].0 + group.len()
            ));
        }
        let mut n: u64 = 0;
        let mut data_chars = 0;
        for (at, byte) in group {
            if *byte == b'=' {
                n <<= 5;
                continue;
            }
            if data_chars < 8 && group.iter().take(data_chars).any(|(_, b)| *b == b'=') {
                return Err(format!("illegal base32 data at input byte {at}"));
            }
            let Some(v) = BASE32.iter().position(|c| c == byte) else {
                return Err(format!("illegal base32 data at input byte {at}"));
            };
            n = (n << 5) | u64::try_from(v).unwrap_or(0);
            data_chars += 1;
        }
        let bytes_out = data_chars * 5 / 8;
        let be = n.to_be_bytes();
        out.extend_from_slice(&be[3..3 + bytes_out]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_reports_go_errors() {
        assert_eq!(base64_std(b"hello"), "aGVsbG8=");
        assert_eq!(base64_std(b""), "");
        assert_eq!(base64_std_decode("aGVsbG8=").as_deref(), Ok(&b"hello"[..]));
        assert_eq!(
            base64_std_decode("a!==").unwrap_err(),
            "illegal base64 data at input byte 1"
        );
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32_std(b"hello"), "NBSWY3DP");
        assert_eq!(base32_std(b"hi"), "NBUQ====");
        assert_eq!(base32_std_decode("NBUQ====").as_deref(), Ok(&b"hi"[..]));
    }
}
