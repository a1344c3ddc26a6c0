//! The content hash Kustomize appends to generated ConfigMap and Secret
//! names: SHA-256 of a small JSON encoding, first 10 hex digits, with some
//! digits swapped for letters so the suffix never reads as a number.

use crate::yaml::{Value, go_json_string};

/// The `-xxxxxxxxxx` suffix for a ConfigMap or Secret.
pub fn name_hash(obj: &Value) -> String {
    let kind = obj.str_at(&["kind"]).unwrap_or("");
    // Kustomize v5 leaves the name out of the encoding (it hashes "").
    let name = "";
    let mut fields: Vec<(&str, String)> = Vec::new();
    let string_map = |key: &str| -> String {
        if obj
            .get(key)
            .and_then(Value::as_map)
            .is_none_or(|m| m.is_empty())
        {
            return "\"\"".to_string();
        }
        let mut s = String::from("{");
        if let Some(m) = obj.get(key).and_then(Value::as_map) {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                go_json_string(k, &mut s);
                s.push(':');
                let v = m[k.as_str()].scalar_string().unwrap_or_default();
                go_json_string(&v, &mut s);
            }
        }
        s.push('}');
        s
    };
    if kind == "Secret" {
        fields.push(("data", string_map("data")));
        fields.push(("kind", json_str(kind)));
        fields.push(("name", json_str(name)));
        fields.push(("type", json_str(obj.str_at(&["type"]).unwrap_or(""))));
    } else {
        if obj
            .get("binaryData")
            .and_then(Value::as_map)
            .is_some_and(|m| !m.is_empty())
        {
            fields.push(("binaryData", string_map("binaryData")));
        }
        fields.push(("data", string_map("data")));
        fields.push(("kind", json_str(kind)));
        fields.push(("name", json_str(name)));
    }
    if let Some(Value::Bool(b)) = obj.get("immutable") {
        fields.push(("immutable", b.to_string()));
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut enc = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            enc.push(',');
        }
        go_json_string(k, &mut enc);
        enc.push(':');
        enc.push_str(v);
    }
    enc.push('}');
    let digest = sha256(enc.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

fn json_str(s: &str) -> String {
    let mut o = String::new();
    go_json_string(s, &mut o);
    o
}

/// SHA-256 (FIPS 180-4); small enough not to warrant a dependency.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc() {
        let d = sha256(b"abc");
        assert_eq!(d[0], 0xba);
        assert_eq!(d[31], 0xad);
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b"apple"), "YXBwbGU=");
        assert_eq!(base64(b"everest"), "ZXZlcmVzdA==");
    }
}
