//! Certificates: `genCA`, `genCAWithKey`, `genSelfSignedCert`,
//! `genSelfSignedCertWithKey`, `genSignedCert`, `genSignedCertWithKey`,
//! `buildCustomCert`, and `genPrivateKey`.
//!
//! The certificates carry what Sprig's carry: a random 128-bit serial, the
//! common name as the only subject attribute, validity from now for the
//! given days, key usages (digital signature, key encipherment, plus
//! certificate signing for a CA), server and client auth, basic
//! constraints, IP and DNS alternative names — in Go's order, see
//! [`super::cert_extensions`]. An empty common name leaves the subject
//! empty. Keys are RSA 2048 unless given. The result is Sprig's
//! `certificate` struct, whose `.Cert` and `.Key` are PEM strings.

use std::net::IpAddr;

use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer, SerialNumber};

use crate::args::{int, string};
use crate::error::FuncError;
use crate::funcs::{Arity, Context, FuncMap};
use crate::value::{Object, Value};

use super::cert_extensions::{Extensions, subject_key_id};
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

/// Sprig's `getBaseCertTemplate`: what a certificate says beyond its key
/// and issuer.
struct CertTemplate {
    common_name: String,
    ips: Vec<IpAddr>,
    dns_names: Vec<String>,
    days: i64,
}

fn base_params(cn: &str, ips: &Value, dns: &Value, days: i64) -> Result<CertTemplate, FuncError> {
    let ips = string_items(ips, "error parsing ip")?
        .into_iter()
        .map(|ip| {
            ip.parse()
                .map_err(|_| FuncError::new(format!("error parsing ip: {ip}")))
        })
        .collect::<Result<_, _>>()?;
    let dns_names = string_items(dns, "error processing alternate dns name")?;
    if let Some(name) = dns_names.iter().find(|name| !name.is_ascii()) {
        return Err(FuncError::new(format!(
            "error creating certificate: x509: {} cannot be encoded as an IA5String",
            crate::fmt::quote_go(name)
        )));
    }
    Ok(CertTemplate {
        common_name: cn.to_owned(),
        ips,
        dns_names,
        days,
    })
}

impl CertTemplate {
    /// rcgen's parameters for this template as a CA or not, its key's
    /// public bits and the issuer's key identifier.
    fn params(
        &self,
        is_ca: bool,
        public_key: &[u8],
        authority_key_id: Option<&[u8]>,
    ) -> CertificateParams {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        // Go leaves an empty common name out of the subject.
        // Go's ASN.1 encoder writes a PrintableString when every character
        // is in its set (rcgen checks the same set), else a UTF8String.
        if !self.common_name.is_empty() {
            let value = self.common_name.clone().try_into().map_or_else(
                |_| DnValue::Utf8String(self.common_name.clone()),
                DnValue::PrintableString,
            );
            name.push(DnType::CommonName, value);
        }
        params.distinguished_name = name;
        let mut serial = super::random::bytes(16);
        // Keep the serial positive, as Go's random big.Int below 2^128 is.
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now;
        params.not_after = now.saturating_add(time::Duration::days(self.days));
        params.is_ca = IsCa::NoCa;
        params.custom_extensions = Extensions {
            is_ca,
            subject_is_empty: self.common_name.is_empty(),
            dns_names: &self.dns_names,
            ips: &self.ips,
            public_key,
            authority_key_id,
        }
        .in_go_order();
        params
    }
}

fn failure(message: impl std::fmt::Display) -> FuncError {
    FuncError::new(message.to_string())
}

/// Self-signs `template` with `key`.
fn self_signed(template: &CertTemplate, is_ca: bool, key: &PrivateKey) -> Result<Value, FuncError> {
    let pair = key.key_pair().map_err(failure)?;
    let cert = template
        .params(is_ca, pair.public_key_raw(), None)
        .self_signed(&pair)
        .map_err(|e| failure(format!("error creating certificate: {e}")))?;
    Ok(Value::object(Certificate {
        cert: cert.pem(),
        key: key.to_pem(),
    }))
}

fn generate_ca(cn: &str, days: i64, key: &PrivateKey) -> Result<Value, FuncError> {
    self_signed(&base_params(cn, &Value::Nil, &Value::Nil, days)?, true, key)
}

fn generate_signed(args: &[Value], ca: &Certificate, key: &PrivateKey) -> Result<Value, FuncError> {
    let (cn, days) = (string(&args[0])?, int(&args[3])?);
    let template = base_params(cn, &args[1], &args[2], days)?;
    let Some(ca_block) = pem_decode(&ca.cert) else {
        return Err(failure("unable to decode certificate"));
    };
    let signer_key = PrivateKey::from_pem(&ca.key)
        .map_err(|e| failure(format!("error parsing private key: {e}")))?;
    let signer_pair = signer_key.key_pair().map_err(failure)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, &signer_pair).map_err(|e| {
        failure(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    })?;
    let pair = key.key_pair().map_err(failure)?;
    let authority_key_id = subject_key_id(&ca_block.contents);
    let cert = template
        .params(false, pair.public_key_raw(), authority_key_id.as_deref())
        .signed_by(&pair, &issuer)
        .map_err(|e| failure(format!("error creating certificate: {e}")))?;
    Ok(Value::object(Certificate {
        cert: cert.pem(),
        key: key.to_pem(),
    }))
}

/// What an RSA key costs against `--template-max-steps`, charged before
/// it is made. A step of template work takes about 100 ns; a 2048-bit
/// key's prime search about 50 ms and a 4096-bit one's about 0.5 s. The
/// default limit (50 million) thus allows about a hundred certificates,
/// or a dozen `genPrivateKey "rsa"`, per template: far above what charts
/// ask for, and a bound on a template that would search primes for hours.
const RSA_2048_STEPS: u64 = 500_000;
const RSA_4096_STEPS: u64 = 4_000_000;

fn rsa_2048(context: &mut Context<'_, '_>) -> Result<PrivateKey, FuncError> {
    context.charge_steps(RSA_2048_STEPS)?;
    super::keypool::take_rsa_2048().map_err(failure)
}

fn key_from_pem(value: &Value) -> Result<PrivateKey, FuncError> {
    PrivateKey::from_pem(string(value)?).map_err(|e| failure(format!("parsing private key: {e}")))
}

pub(crate) fn register(map: &mut FuncMap) {
    map.add_with_context("genPrivateKey", Arity::Exact(1), |context, a| {
        let generated = match string(&a[0])? {
            "" | "rsa" => {
                context.charge_steps(RSA_4096_STEPS)?;
                PrivateKey::generate_rsa(4096)
            }
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
    map.add_with_context("genCA", Arity::Exact(2), |context, a| {
        generate_ca(string(&a[0])?, int(&a[1])?, &rsa_2048(context)?)
    });
    map.add("genCAWithKey", Arity::Exact(3), |a| {
        generate_ca(string(&a[0])?, int(&a[1])?, &key_from_pem(&a[2])?)
    });
    map.add_with_context("genSelfSignedCert", Arity::Exact(4), |context, a| {
        let template = base_params(string(&a[0])?, &a[1], &a[2], int(&a[3])?)?;
        self_signed(&template, false, &rsa_2048(context)?)
    });
    map.add("genSelfSignedCertWithKey", Arity::Exact(5), |a| {
        let template = base_params(string(&a[0])?, &a[1], &a[2], int(&a[3])?)?;
        self_signed(&template, false, &key_from_pem(&a[4])?)
    });
    map.add_with_context("genSignedCert", Arity::Exact(5), |context, a| {
        let ca = certificate_arg(&a[4])?;
        generate_signed(&a, ca, &rsa_2048(context)?)
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

        // Go's extensions and order: a CA has a key identifier, which the
        // leaf carries as its authority key identifier; DNS names come
        // before IP addresses.
        let oids = |der: &[u8]| -> Vec<String> {
            let (_, cert) =
                x509_parser::parse_x509_certificate(der).unwrap_or_else(|e| panic!("{e}"));
            cert.extensions()
                .iter()
                .map(|e| e.oid.to_id_string())
                .collect()
        };
        let ca_der = pem_decode(&ca_cert).map(|b| b.contents).unwrap_or_default();
        assert_eq!(
            oids(&ca_der),
            ["2.5.29.15", "2.5.29.37", "2.5.29.19", "2.5.29.14"]
        );
        assert_eq!(
            oids(&der),
            [
                "2.5.29.15",
                "2.5.29.37",
                "2.5.29.19",
                "2.5.29.35",
                "2.5.29.17"
            ]
        );
        let ca_key_id = subject_key_id(&ca_der).unwrap_or_default();
        assert_eq!(ca_key_id.len(), 20);
        let aki = parsed
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "2.5.29.35")
            .map(|e| e.value.to_vec())
            .unwrap_or_default();
        assert_eq!(aki[4..], ca_key_id[..]);
        let names = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| format!("{:?}", san.value.general_names))
            .unwrap_or_default();
        assert!(
            names.find("DNSName").unwrap_or(usize::MAX) < names.find("IPAddress").unwrap_or(0),
            "{names}"
        );
    }

    #[test]
    fn common_names_take_go_asn1_string_types() {
        let key = PrivateKey::generate_ecdsa().unwrap_or_else(|e| panic!("{e}"));
        // Universal tags: 0x13 PrintableString, 0x0c UTF8String.
        for (name, tag) in [("My CA", 0x13), ("CENTRAL_DB", 0x0c), ("a*b", 0x0c)] {
            let ca = generate_ca(name, 1, &key).unwrap_or_else(|e| panic!("{e}"));
            let der = pem_decode(&fields(&ca).0)
                .map(|b| b.contents)
                .unwrap_or_default();
            let (_, cert) =
                x509_parser::parse_x509_certificate(&der).unwrap_or_else(|e| panic!("{e}"));
            let attribute = cert
                .subject()
                .iter_common_name()
                .next()
                .unwrap_or_else(|| panic!("{name}: no common name"));
            assert_eq!(attribute.attr_value().header.tag().0, tag, "{name}");
        }
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
