//! Checksums: `sha1sum`, `sha256sum`, `sha512sum`, `adler32sum`, as
//! lower-case hex (adler32 as a decimal number), digests from `ring`.

use ring::digest::{Algorithm, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA512, digest};

use crate::args::string_bytes;
use crate::funcs::{Arity, FuncMap};
use crate::value::Value;

use super::random::hex_lower;

fn hex_digest(algorithm: &'static Algorithm, input: &[u8]) -> String {
    hex_lower(digest(algorithm, input).as_ref())
}

/// Adler-32 (RFC 1950), what Go's `hash/adler32` computes.
pub(crate) fn adler32(input: &[u8]) -> u32 {
    const MODULUS: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the longest run before the sums can overflow u32.
    for chunk in input.chunks(5552) {
        for byte in chunk {
            a += u32::from(*byte);
            b += a;
        }
        a %= MODULUS;
        b %= MODULUS;
    }
    (b << 16) | a
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("sha1sum", Arity::Exact(1), |a| {
        Ok(Value::string(hex_digest(
            &SHA1_FOR_LEGACY_USE_ONLY,
            string_bytes(&a[0])?,
        )))
    });
    map.add("sha256sum", Arity::Exact(1), |a| {
        Ok(Value::string(hex_digest(&SHA256, string_bytes(&a[0])?)))
    });
    map.add("sha512sum", Arity::Exact(1), |a| {
        Ok(Value::string(hex_digest(&SHA512, string_bytes(&a[0])?)))
    });
    map.add("adler32sum", Arity::Exact(1), |a| {
        Ok(Value::string(adler32(string_bytes(&a[0])?).to_string()))
    });
}
