//! Private keys for the crypto functions: generation (`genPrivateKey`,
//! the RSA keys behind `genCA`...), reading the PEM forms Go reads, and
//! writing them the way Go's `pemBlockForKey` does (RSA as PKCS#1
//! `RSA PRIVATE KEY`, ECDSA as SEC1 `EC PRIVATE KEY`, Ed25519 as PKCS#8
//! `PRIVATE KEY`).
//!
//! `ring` generates ECDSA and Ed25519 keys and signs with all three kinds;
//! it cannot generate RSA keys: `crypto-primes` (the `rsa` crate's own
//! prime search) finds their two primes side by side, drawing from
//! `ring`'s system generator, and `rsa` builds the key from them. DSA,
//! which Sprig can also generate, is not offered: nothing in Kubernetes
//! accepts DSA keys any more.

use crypto_primes::Flavor;
use crypto_primes::hazmat::{SetBits, SmallFactorsSieveFactory};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};

/// A private key of one of the kinds Sprig handles.
pub(crate) enum PrivateKey {
    Rsa(Box<rsa::PrivateKey>),
    /// P-256, kept as its SEC1 `ECPrivateKey` DER.
    Ecdsa {
        sec1: Vec<u8>,
        pkcs8: Vec<u8>,
    },
    /// Kept as Go's PKCS#8 v1 encoding of its seed.
    Ed25519 {
        pkcs8: Vec<u8>,
    },
}

/// `ring`'s system generator behind the `rand_core` traits `rsa` uses.
struct SystemRng(SystemRandom);

impl rsa::rand_core::TryRng for SystemRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        self.0
            .fill(dest)
            .expect("the operating system's random generator is available");
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for SystemRng {}

/// The public exponent Go's `rsa.GenerateKey` uses.
const RSA_EXPONENT: u64 = 65_537;

/// Prime pairs tried before giving up; each try fails with a chance of
/// about 1 in 33,000, so a failure means something else is wrong.
const RSA_ATTEMPTS: usize = 4;

/// A random prime of exactly `bits` bits with its top two bits set, as
/// `rsa`'s own key generation draws them: sieved by small primes, then
/// Miller-Rabin base 2 and a strong Lucas test.
fn random_prime(bits: u32) -> Result<rsa::BoxedUint, String> {
    let sieve = SmallFactorsSieveFactory::new(Flavor::Any, bits, SetBits::TwoMsb)
        .map_err(|e| e.to_string())?;
    crypto_primes::sieve_and_find(
        &mut SystemRng(SystemRandom::new()),
        sieve,
        |_, candidate| crypto_primes::is_prime(Flavor::Any, candidate),
    )
    .map_err(|e| e.to_string())?
    .ok_or_else(|| "the prime search ran out of candidates".to_owned())
}

/// DER tag-length-value.
pub(crate) fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(0));
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The content of the first `tag`/`len` TLV with that exact header in
/// `der`, a crude but sufficient probe of the fixed layouts `ring` emits.
fn find_tlv<'a>(der: &'a [u8], header: &[u8], len: usize) -> Option<&'a [u8]> {
    der.windows(header.len())
        .position(|w| w == header)
        .and_then(|at| der.get(at + header.len()..at + header.len() + len))
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

fn ecdsa_from_pkcs8(pkcs8: Vec<u8>) -> Result<PrivateKey, String> {
    let secret = find_tlv(&pkcs8, &[0x04, 0x20], 32).ok_or("malformed P-256 key")?;
    let public = find_tlv(&pkcs8, &[0x03, 0x42, 0x00], 65).ok_or("malformed P-256 key")?;
    let mut body = der(0x02, &[1]);
    body.extend(der(0x04, secret));
    body.extend(der(0xa0, OID_P256));
    let mut bits = vec![0u8];
    bits.extend_from_slice(public);
    body.extend(der(0xa1, &der(0x03, &bits)));
    Ok(PrivateKey::Ecdsa {
        sec1: der(0x30, &body),
        pkcs8,
    })
}

fn ed25519_from_seed(seed: [u8; 32]) -> PrivateKey {
    let mut body = der(0x02, &[0]);
    body.extend(der(0x30, OID_ED25519));
    body.extend(der(0x04, &der(0x04, &seed)));
    PrivateKey::Ed25519 {
        pkcs8: der(0x30, &body),
    }
}

impl PrivateKey {
    /// An RSA key of `bits` bits (public exponent 65537), its two primes
    /// searched on two threads: the searches are independent and take
    /// nearly all the time (tens of milliseconds at 2048 bits, over a
    /// second at the 4096 of `genPrivateKey "rsa"`).
    pub(crate) fn generate_rsa(bits: usize) -> Result<Self, String> {
        let failed = |e: &dyn std::fmt::Display| format!("error generating rsa key: {e}");
        let bits = u32::try_from(bits).map_err(|e| failed(&e))?;
        if bits < 1024 {
            return Err(failed(&"keys under 1024 bits are refused"));
        }
        // Each prime has its top two bits set, so the modulus has exactly
        // `bits` bits; when 65537 divides λ(n) (about one pair in 33,000)
        // no private exponent exists and the search starts again.
        let mut last_error = String::new();
        for _ in 0..RSA_ATTEMPTS {
            let (p, q) = std::thread::scope(|scope| {
                let p = std::thread::Builder::new()
                    .name("rsa-prime".to_owned())
                    .spawn_scoped(scope, || random_prime(bits / 2));
                let q = random_prime(bits - bits / 2);
                let p = match p {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    // No thread to spare: one after the other.
                    Err(_) => random_prime(bits / 2),
                };
                (p, q)
            });
            let (p, q) = (p.map_err(|e| failed(&e))?, q.map_err(|e| failed(&e))?);
            match rsa::PrivateKey::from_p_q(p, q, rsa::BoxedUint::from(RSA_EXPONENT)) {
                Ok(key) => return Ok(Self::Rsa(Box::new(key))),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(failed(&last_error))
    }

    /// A P-256 ECDSA key.
    pub(crate) fn generate_ecdsa() -> Result<Self, String> {
        let document =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| "failed to generate private key: ecdsa".to_owned())?;
        ecdsa_from_pkcs8(document.as_ref().to_vec())
    }

    /// An Ed25519 key.
    pub(crate) fn generate_ed25519() -> Result<Self, String> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| "failed to generate private key: ed25519".to_owned())?;
        let seed = find_tlv(document.as_ref(), &[0x04, 0x22, 0x04, 0x20], 32)
            .ok_or("malformed Ed25519 key")?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(seed);
        Ok(ed25519_from_seed(bytes))
    }

    /// Go's `parsePrivateKeyPEM`: PKCS#8, PKCS#1 RSA or SEC1 EC.
    pub(crate) fn from_pem(text: &str) -> Result<Self, String> {
        let block = pem_decode(text).ok_or("no PEM data in input")?;
        match block.label.as_str() {
            "PRIVATE KEY" => {
                if let Ok(key) = rsa::PrivateKey::from_pkcs8_der(&block.contents) {
                    return Ok(Self::Rsa(Box::new(key)));
                }
                if find_tlv(&block.contents, OID_ED25519, 0).is_some() {
                    let seed = find_tlv(&block.contents, &[0x04, 0x22, 0x04, 0x20], 32)
                        .ok_or("decoding PEM as PKCS#8: malformed Ed25519 key")?;
                    let mut bytes = [0u8; 32];
                    bytes.copy_from_slice(seed);
                    return Ok(ed25519_from_seed(bytes));
                }
                if find_tlv(&block.contents, OID_EC_PUBLIC_KEY, 0).is_some() {
                    return ecdsa_from_pkcs8(block.contents);
                }
                Err("decoding PEM as PKCS#8: unknown private key type".to_owned())
            }
            "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(&block.contents)
                .map(|key| Self::Rsa(Box::new(key)))
                .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
            "EC PRIVATE KEY" => {
                // Wrap the SEC1 key in PKCS#8 for ring.
                let mut algorithm = OID_EC_PUBLIC_KEY.to_vec();
                algorithm.extend_from_slice(OID_P256);
                let mut body = der(0x02, &[0]);
                body.extend(der(0x30, &algorithm));
                body.extend(der(0x04, &block.contents));
                Ok(Self::Ecdsa {
                    sec1: block.contents,
                    pkcs8: der(0x30, &body),
                })
            }
            other if other.ends_with(" PRIVATE KEY") => {
                Err(format!("invalid private key type {other}"))
            }
            other => Err(format!("no private key data in PEM block of type {other}")),
        }
    }

    /// Go's `pem.EncodeToMemory(pemBlockForKey(key))`.
    pub(crate) fn to_pem(&self) -> String {
        match self {
            Self::Rsa(key) => key
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .map(|pem| pem.to_string())
                .unwrap_or_default(),
            Self::Ecdsa { sec1, .. } => pem_encode("EC PRIVATE KEY", sec1),
            Self::Ed25519 { pkcs8, .. } => pem_encode("PRIVATE KEY", pkcs8),
        }
    }

    /// The key as rcgen signs with it.
    pub(crate) fn key_pair(&self) -> Result<rcgen::KeyPair, String> {
        let pkcs8 = match self {
            Self::Rsa(key) => key
                .to_pkcs8_der()
                .map_err(|e| e.to_string())?
                .as_bytes()
                .to_vec(),
            Self::Ecdsa { pkcs8, .. } | Self::Ed25519 { pkcs8, .. } => pkcs8.clone(),
        };
        rcgen::KeyPair::try_from(pkcs8)
            .map_err(|e| format!("error retrieving public key from signee key: {e}"))
    }
}

/// One PEM block.
pub(crate) struct PemBlock {
    pub label: String,
    pub contents: Vec<u8>,
}

/// Go's `pem.Decode`: the first block in `text`.
pub(crate) fn pem_decode(text: &str) -> Option<PemBlock> {
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + 11..];
    let label_end = after.find("-----")?;
    let label = after[..label_end].to_owned();
    let body_start = &after[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = body_start.find(&end_marker)?;
    let base64: String = body_start[..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let contents = super::encoding::base64_std_decode(&base64).ok()?;
    Some(PemBlock { label, contents })
}

/// Go's `pem.EncodeToMemory`: 64-column base64 between the markers.
pub(crate) fn pem_encode(label: &str, contents: &[u8]) -> String {
    let base64 = super::encoding::base64_std(contents);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_go_pem_forms() {
        for key in [PrivateKey::generate_ecdsa(), PrivateKey::generate_ed25519()] {
            let key = key.unwrap_or_else(|e| panic!("{e}"));
            let pem = key.to_pem();
            let again = PrivateKey::from_pem(&pem).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(again.to_pem(), pem);
            assert!(again.key_pair().is_ok());
        }
        let ec = PrivateKey::generate_ecdsa()
            .map(|k| k.to_pem())
            .unwrap_or_default();
        assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{ec}");
        let ed = PrivateKey::generate_ed25519()
            .map(|k| k.to_pem())
            .unwrap_or_default();
        assert!(
            ed.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"),
            "{ed}"
        );
        assert!(PrivateKey::from_pem("nothing").is_err());
    }

    #[test]
    fn rsa_keys_have_the_asked_size_go_exponent_and_distinct_primes() {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let Ok(PrivateKey::Rsa(key)) = PrivateKey::generate_rsa(2048) else {
            panic!("no RSA key");
        };
        assert_eq!(key.n().bit_width(), 2048);
        assert_eq!(key.e(), &rsa::BoxedUint::from(RSA_EXPONENT));
        let [p, q] = key.primes() else {
            panic!("not two primes");
        };
        assert_ne!(p, q);
        assert!(key.validate().is_ok());
        let pem = PrivateKey::Rsa(key).to_pem();
        assert!(
            pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
            "{pem}"
        );
        assert!(PrivateKey::generate_rsa(512).is_err());
    }
}
