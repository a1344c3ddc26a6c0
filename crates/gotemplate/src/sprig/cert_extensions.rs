//! The extensions of Sprig's certificates, written as Go's `crypto/x509`
//! writes them.
//!
//! rcgen orders its own extensions differently and gives every certificate
//! a subject key identifier; Go writes key usage, extended key usage, basic
//! constraints, then a subject key identifier for a CA only, an authority
//! key identifier when the issuer has one, and the alternative names (DNS
//! names before IP addresses, critical when the subject is empty). So the
//! certificates here carry none of rcgen's and these as custom extensions.

use std::net::IpAddr;

use rcgen::CustomExtension;

use super::keys::der;

const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const EXTENDED_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];
const AUTHORITY_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 35];
const SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
/// `id-kp-serverAuth` and `id-kp-clientAuth`, DER-encoded OIDs.
const SERVER_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const CLIENT_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
/// The subject key identifier extension's OID as it appears in DER.
const SUBJECT_KEY_IDENTIFIER_DER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0e];

/// What a Sprig certificate's extensions depend on.
pub(crate) struct Extensions<'a> {
    pub is_ca: bool,
    /// No subject attributes (an empty common name).
    pub subject_is_empty: bool,
    pub dns_names: &'a [String],
    pub ips: &'a [IpAddr],
    /// The subject public key's bits, which a CA's key identifier hashes.
    pub public_key: &'a [u8],
    /// The issuer's subject key identifier, for a certificate it signs.
    pub authority_key_id: Option<&'a [u8]>,
}

impl Extensions<'_> {
    /// The extensions in Go's order.
    pub(crate) fn in_go_order(&self) -> Vec<CustomExtension> {
        let mut extensions = vec![
            extension(KEY_USAGE, true, self.key_usage()),
            extension(
                EXTENDED_KEY_USAGE,
                false,
                der(0x30, &[SERVER_AUTH, CLIENT_AUTH].concat()),
            ),
            extension(
                BASIC_CONSTRAINTS,
                true,
                der(0x30, if self.is_ca { &[0x01, 0x01, 0xff] } else { &[] }),
            ),
        ];
        if self.is_ca {
            // Go 1.25 and later: the first 160 bits of SHA-256 of the key.
            let digest = ring::digest::digest(&ring::digest::SHA256, self.public_key);
            extensions.push(extension(
                SUBJECT_KEY_IDENTIFIER,
                false,
                der(0x04, &digest.as_ref()[..20]),
            ));
        }
        if let Some(key_id) = self.authority_key_id {
            extensions.push(extension(
                AUTHORITY_KEY_IDENTIFIER,
                false,
                der(0x30, &der(0x80, key_id)),
            ));
        }
        if !self.dns_names.is_empty() || !self.ips.is_empty() {
            let mut names = Vec::new();
            for name in self.dns_names {
                names.extend(der(0x82, name.as_bytes()));
            }
            for ip in self.ips {
                match ip {
                    IpAddr::V4(v4) => names.extend(der(0x87, &v4.octets())),
                    IpAddr::V6(v6) => names.extend(der(0x87, &v6.octets())),
                }
            }
            extensions.push(extension(
                SUBJECT_ALT_NAME,
                self.subject_is_empty,
                der(0x30, &names),
            ));
        }
        extensions
    }

    /// Digital signature and key encipherment, plus certificate signing
    /// for a CA: a BIT STRING as long as its last set bit.
    fn key_usage(&self) -> Vec<u8> {
        if self.is_ca {
            der(0x03, &[0x02, 0b1010_0100])
        } else {
            der(0x03, &[0x05, 0b1010_0000])
        }
    }
}

fn extension(oid: &[u64], critical: bool, content: Vec<u8>) -> CustomExtension {
    let mut extension = CustomExtension::from_oid_content(oid, content);
    extension.set_criticality(critical);
    extension
}

/// The subject key identifier of the certificate `cert` (DER), which Go
/// copies into the certificates it signs as their authority key identifier.
pub(crate) fn subject_key_id(cert: &[u8]) -> Option<Vec<u8>> {
    let at = cert
        .windows(SUBJECT_KEY_IDENTIFIER_DER.len())
        .position(|w| w == SUBJECT_KEY_IDENTIFIER_DER)?;
    let mut rest = &cert[at + SUBJECT_KEY_IDENTIFIER_DER.len()..];
    // An optional `critical` BOOLEAN, then the extension's OCTET STRING
    // holding the identifier's OCTET STRING.
    if rest.first() == Some(&0x01) {
        rest = rest.get(3..)?;
    }
    let outer = tlv(rest, 0x04)?;
    tlv(outer, 0x04).map(<[u8]>::to_vec)
}

/// The content of the short-form TLV with `tag` at the start of `der`.
fn tlv(der: &[u8], tag: u8) -> Option<&[u8]> {
    match der {
        [t, len, rest @ ..] if *t == tag && *len < 0x80 => rest.get(..usize::from(*len)),
        _ => None,
    }
}
