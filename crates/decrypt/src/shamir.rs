//! Shamir secret sharing over GF(2^8), as SOPS combines key-group shares.
//!
//! Each share is the secret's length plus one byte, the last byte being the
//! share's x coordinate; the secret is the polynomial's value at x = 0.
//! The field is AES's (reduction polynomial x^8 + x^4 + x^3 + x + 1), so
//! shares written by `sops` combine here byte for byte.

/// Combines shares into the secret, or says why they do not combine.
pub fn combine(parts: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    if parts.len() < 2 {
        return Err("fewer than two shares cannot be combined".into());
    }
    let len = parts[0].len();
    if len < 2 {
        return Err("shares must be at least two bytes".into());
    }
    if parts.iter().any(|p| p.len() != len) {
        return Err("shares differ in length".into());
    }
    let xs: Vec<u8> = parts.iter().map(|p| p[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err("duplicate share".into());
        }
    }
    Ok((0..len - 1)
        .map(|byte| {
            let ys: Vec<u8> = parts.iter().map(|p| p[byte]).collect();
            interpolate_at_zero(&xs, &ys)
        })
        .collect())
}

/// Lagrange interpolation of the points (xs, ys), evaluated at 0.
fn interpolate_at_zero(xs: &[u8], ys: &[u8]) -> u8 {
    let mut result = 0;
    for (i, (&xi, &yi)) in xs.iter().zip(ys).enumerate() {
        let mut basis = 1;
        for (j, &xj) in xs.iter().enumerate() {
            if i != j {
                // (0 - xj) / (xi - xj); subtraction is XOR in GF(2^8).
                basis = mul(basis, div(xj, xi ^ xj));
            }
        }
        result ^= mul(yi, basis);
    }
    result
}

fn mul(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    for i in (0..8).rev() {
        let carry = if acc & 0x80 != 0 { 0x1b } else { 0 };
        acc = (acc << 1) ^ carry;
        if (b >> i) & 1 == 1 {
            acc ^= a;
        }
    }
    acc
}

fn div(a: u8, b: u8) -> u8 {
    // b is never 0: shares have distinct x coordinates.
    mul(a, inverse(b))
}

/// a^254, the multiplicative inverse in GF(2^8).
fn inverse(a: u8) -> u8 {
    let mut result = 1;
    for _ in 0..254 {
        result = mul(result, a);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `secret` with the polynomial coefficients given, at `xs`.
    fn split(secret: &[u8], coefficients: &[u8], xs: &[u8]) -> Vec<Vec<u8>> {
        xs.iter()
            .map(|&x| {
                let mut share: Vec<u8> = secret
                    .iter()
                    .map(|&s| {
                        // s + c1 x + c2 x^2 …, evaluated by Horner's rule.
                        let mut y = 0;
                        for &c in coefficients.iter().rev() {
                            y = mul(y, x) ^ c;
                        }
                        mul(y, x) ^ s
                    })
                    .collect();
                share.push(x);
                share
            })
            .collect()
    }

    #[test]
    fn field_arithmetic_is_aes_gf256() {
        // The AES specification's worked example: {57} • {83} = {c1}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
        for a in 1..=255u8 {
            assert_eq!(mul(a, inverse(a)), 1, "inverse of {a}");
        }
    }

    #[test]
    fn any_threshold_of_shares_recovers_the_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let shares = split(secret, &[0x1d, 0xa7], &[1, 2, 3, 200]);
        for pick in [[0, 1, 2], [1, 2, 3], [0, 2, 3]] {
            let chosen: Vec<Vec<u8>> = pick.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(combine(&chosen).expect("combine"), secret.to_vec());
        }
        let two: Vec<Vec<u8>> = shares[..2].to_vec();
        assert_ne!(combine(&two).expect("combine"), secret.to_vec());
        assert!(combine(&[shares[0].clone(), shares[0].clone()]).is_err());
    }
}
