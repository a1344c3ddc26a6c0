//! Certificates: `genCA`, `genCAWithKey`, `genSelfSignedCert`,
//! `genSelfSignedCertWithKey`, `genSignedCert`, `genSignedCertWithKey`,
//! `buildCustomCert`, and `genPrivateKey`.
//!
//! The certificates carry what Sprig's carry: a random 128-bit serial, the
//! common name as the only subject attribute, validity from now for the
//! given days, key usages (digital signature, key encipherment, plus
//! certificate signing for a CA), server and client auth, basic
//! constraints, IP and DNS alternative names. Keys are RSA 2048 unless
//! given. The result is Sprig's `certificate` struct, whose `.Cert` and
//! `.Key` are PEM strings.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyUsagePurpose, SanType, SerialNumber,
};

use crate::args::{int, string};
use crate::error::FuncError;
use crate::funcs::{Arity, FuncMap};
use crate::value::{Object, Value};

use super::keys::{PrivateKey, pem_decode};

/// Sprig's `certificate{Cert, Key string}`.
#[derive(Debug)]
pub(crate) struct Certificate {
    cert: String,
    key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> String {
        "sprig.certificate".to_owned()
    }

    fn kind_name(&self) -> &'static str {
        "struct"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::string(self.cert.as_str())),
            "Key" => Some(Value::string(self.key.as_str())),
            _ => None,
        }
    }

    fn format(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"Cert": self.cert, "Key": self.key})
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn certificate_arg(value: &Value) -> Result<&Certificate, FuncError> {
    match value {
        Value::Object(object) => object
            .as_any()
            .downcast_ref::<Certificate>()
            .ok_or_else(|| FuncError::wrong_type("sprig.certificate", value)),
        other => Err(FuncError::wrong_type("sprig.certificate", other)),
    }
}

/// A Go `[]interface{}` of strings (`ips`, `alternateDNS`); nil is empty.
fn string_items(value: &Value, what: &str) -> Result<Vec<String>, FuncError> {
    let items = crate::args::list(value)?;
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => Ok(s.to_string()),
            other => Err(FuncError::new(format!(
                "{what}: {} is not a string",
                crate::fmt::format_value(other)
            ))),
        })
        .collect()
}

/// Sprig's `getBaseCertTemplate`.
fn base_params(
    cn: &str,
    ips: &Value,
    dns: &Value,
    days: i64,
) -> Result<CertificateParams, FuncError> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    for ip in string_items(ips, "error parsing ip")? {
        let parsed: IpAddr = ip
            .parse()
            .map_err(|_| FuncError::new(format!("error parsing ip: {ip}")))?;
        params.subject_alt_names.push(SanType::IpAddress(parsed));
    }
    for name in string_items(dns, "error processing alternate dns name")? {
        let dns = name.clone().try_into().map_err(|_| {
            FuncError::new(format!(
                "error processing alternate dns name: {name} is not a valid DNS name"
            ))
        })?;
        params.subject_alt_names.push(SanType::DnsName(dns));
    }
    let mut serial = super::random::bytes(16);
    // Keep the serial positive, as Go's random big.Int below 2^128 is.
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now.saturating_add(time::Duration::days(days));
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    Ok(params)
}

fn failure(message: impl std::fmt::Display) -> FuncError {
    FuncError::new(message.to_string())
}

/// Self-signs `params` with `key`.
fn self_signed(params: &CertificateParams, key: &PrivateKey) -> Result<Value, FuncError> {
    let pair = key.key_pair().map_err(failure)?;
    let cert = params
        .self_signed(&pair)
        .map_err(|e| failure(format!("error creating certificate: {e}")))?;
    Ok(Value::object(Certificate {
        cert: cert.pem(),
        key: key.to_pem(),
    }))
}

fn generate_ca(cn: &str, days: i64, key: &PrivateKey) -> Result<Value, FuncError> {
    let mut params = base_params(cn, &Value::Nil, &Value::Nil, days)?;
    params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    self_signed(&params, key)
}

fn generate_signed(args: &[Value], ca: &Certificate, key: &PrivateKey) -> Result<Value, FuncError> {
    let (cn, days) = (string(&args[0])?, int(&args[3])?);
    let params = base_params(cn, &args[1], &args[2], days)?;
    if pem_decode(&ca.cert).is_none() {
        return Err(failure("unable to decode certificate"));
    }
    let signer_key = PrivateKey::from_pem(&ca.key)
        .map_err(|e| failure(format!("error parsing private key: {e}")))?;
    let signer_pair = signer_key.key_pair().map_err(failure)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, &signer_pair).map_err(|e| {
        failure(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    })?;
    let pair = key.key_pair().map_err(failure)?;
    let mut params = params;
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&pair, &issuer)
        .map_err(|e| failure(format!("error creating certificate: {e}")))?;
    Ok(Value::object(Certificate {
        cert: cert.pem(),
        key: key.to_pem(),
    }))
}

fn rsa_2048() -> Result<PrivateKey, FuncError> {
    super::keypool::take_rsa_2048().map_err(failure)
}

fn key_from_pem(value: &Value) -> Result<PrivateKey, FuncError> {
    PrivateKey::from_pem(string(value)?).map_err(|e| failure(format!("parsing private key: {e}")))
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add("genPrivateKey", Arity::Exact(1), |a| {
        let generated = match string(&a[0])? {
            "" | "rsa" => PrivateKey::generate_rsa(4096),
            "ecdsa" => PrivateKey::generate_ecdsa(),
            "ed25519" => PrivateKey::generate_ed25519(),
            "dsa" => Err("failed to generate dsa params: DSA keys are not supported".to_owned()),
            other => return Ok(Value::string(format!("Unknown type {other}"))),
        };
        Ok(Value::string(match generated {
            Ok(key) => key.to_pem(),
            Err(message) => message,
        }))
    });
    map.add("genCA", Arity::Exact(2), |a| {
        generate_ca(string(&a[0])?, int(&a[1])?, &rsa_2048()?)
    });
    map.add("genCAWithKey", Arity::Exact(3), |a| {
        generate_ca(string(&a[0])?, int(&a[1])?, &key_from_pem(&a[2])?)
    });
    map.add("genSelfSignedCert", Arity::Exact(4), |a| {
        let params = base_params(string(&a[0])?, &a[1], &a[2], int(&a[3])?)?;
        self_signed(&params, &rsa_2048()?)
    });
    map.add("genSelfSignedCertWithKey", Arity::Exact(5), |a| {
        let params = base_params(string(&a[0])?, &a[1], &a[2], int(&a[3])?)?;
        self_signed(&params, &key_from_pem(&a[4])?)
    });
    map.add("genSignedCert", Arity::Exact(5), |a| {
        let ca = certificate_arg(&a[4])?;
        generate_signed(&a, ca, &rsa_2048()?)
    });
    map.add("genSignedCertWithKey", Arity::Exact(6), |a| {
        let ca = certificate_arg(&a[4])?;
        generate_signed(&a, ca, &key_from_pem(&a[5])?)
    });
    map.add("buildCustomCert", Arity::Exact(2), |a| {
        let cert = super::encoding::base64_std_decode(string(&a[0])?)
            .map_err(|_| failure("unable to decode base64 certificate"))?;
        let key = super::encoding::base64_std_decode(string(&a[1])?)
            .map_err(|_| failure("unable to decode base64 private key"))?;
        let (cert, key) = (
            String::from_utf8_lossy(&cert).into_owned(),
            String::from_utf8_lossy(&key).into_owned(),
        );
        let block = pem_decode(&cert).ok_or_else(|| failure("unable to decode certificate"))?;
        if block.label != "CERTIFICATE" || block.contents.first() != Some(&0x30) {
            return Err(failure(
                "error parsing certificate: decodedCert.Bytes: x509: malformed certificate",
            ));
        }
        PrivateKey::from_pem(&key)
            .map_err(|e| failure(format!("error parsing private key: {e}")))?;
        Ok(Value::object(Certificate { cert, key }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: &Value) -> (String, String) {
        let Value::Object(object) = value else {
            unreachable!("certificates are objects")
        };
        let get = |name| {
            object
                .field(name)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        (get("Cert"), get("Key"))
    }

    #[test]
    fn ca_signs_a_leaf_that_names_it_as_issuer() {
        let key = PrivateKey::generate_ecdsa().unwrap_or_else(|e| panic!("{e}"));
        let ca = generate_ca("my-ca", 365, &key).unwrap_or_else(|e| panic!("{e}"));
        let (ca_cert, ca_key) = fields(&ca);
        assert!(ca_cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(ca_key.starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
        let Value::Object(object) = &ca else {
            unreachable!("certificates are objects")
        };
        let ca_object = object
            .as_any()
            .downcast_ref::<Certificate>()
            .unwrap_or_else(|| unreachable!("a certificate"));
        let args = [
            Value::from("leaf"),
            Value::list(vec![Value::from("10.0.0.1")]),
            Value::list(vec![Value::from("svc.ns.svc")]),
            Value::Int(30),
        ];
        let leaf_key = PrivateKey::generate_ed25519().unwrap_or_else(|e| panic!("{e}"));
        let leaf = generate_signed(&args, ca_object, &leaf_key).unwrap_or_else(|e| panic!("{e}"));
        let (leaf_cert, _) = fields(&leaf);
        let der = pem_decode(&leaf_cert)
            .map(|b| b.contents)
            .unwrap_or_default();
        let (_, parsed) =
            x509_parser::parse_x509_certificate(&der).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.issuer().to_string(), "CN=my-ca");
        assert_eq!(parsed.subject().to_string(), "CN=leaf");
    }

    #[test]
    fn bad_inputs_are_reported_like_sprig() {
        let error = base_params("x", &Value::list(vec![Value::from("nope")]), &Value::Nil, 1).err();
        assert_eq!(
            error.map(|e| e.message).as_deref(),
            Some("error parsing ip: nope")
        );
    }
}
